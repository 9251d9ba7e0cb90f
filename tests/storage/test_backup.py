"""Online backups, the daily rotation, verified restore and the check."""

from __future__ import annotations

import json
import sqlite3
from datetime import date, timedelta
from pathlib import Path

import pytest

from clinic_app.storage.backup import (
    backup_to,
    check,
    daily_backup_if_due,
    good_backups,
    restore_from,
    verify_backup,
)
from clinic_app.storage.database import Record, open_database
from clinic_app.storage.errors import StorageError

from .conftest import make_patient


def mrns(path: Path) -> list[str]:
    with open_database(path) as rec:
        return sorted(p.mrn for p in rec.repos.patients.all())


@pytest.mark.sqlite_only
def test_backup_is_a_consistent_database_with_the_data(record: Record, tmp_path: Path) -> None:
    record.repos.patients.add(make_patient("A-1"))
    target = backup_to(record, tmp_path / "out" / "b.sqlite3")
    assert verify_backup(target) == []
    assert mrns(target) == ["A-1"]
    assert not list(target.parent.glob("*.partial"))


@pytest.mark.sqlite_only
def test_daily_backup_once_per_day_keeping_the_newest(record: Record) -> None:
    record.repos.settings.set("backup.keep", 3, reason="test rotation")
    start = date(2026, 3, 1)
    made = [daily_backup_if_due(record, start + timedelta(days=n)) for n in range(5)]
    assert all(made)
    assert daily_backup_if_due(record, start + timedelta(days=4)) is None  # already done today
    folder = record.path.parent / "backups"
    assert sorted(p.name for p in folder.glob("*.sqlite3")) == [
        "record-daily-2026-03-03.sqlite3",
        "record-daily-2026-03-04.sqlite3",
        "record-daily-2026-03-05.sqlite3",
    ]


def test_opening_a_record_backs_nothing_up(db_path: Path) -> None:
    # The app and the commands start the daily backup (issue 17), opening has no side effect.
    open_database(db_path).close()
    open_database(db_path).close()
    assert not (db_path.parent / "backups").exists()


def test_the_first_backup_of_the_day_is_the_only_one(db_path: Path) -> None:
    with open_database(db_path) as record:
        assert daily_backup_if_due(record) is not None
        assert daily_backup_if_due(record) is None
    today = date.today().isoformat()
    assert [p.name for p in (db_path.parent / "backups").glob("*.sqlite3")] == [
        f"record-daily-{today}.sqlite3"
    ]


def test_restore_checks_first_keeps_the_replaced_file_and_restores(
    db_path: Path, tmp_path: Path
) -> None:
    with open_database(db_path) as rec:
        rec.repos.patients.add(make_patient("A-1"))
        good = backup_to(rec, tmp_path / "good.sqlite3")
        rec.repos.patients.add(make_patient("A-2"))  # made after the backup
    kept = restore_from(db_path, good)
    assert kept is not None and ".replaced-" in kept.name
    assert mrns(db_path) == ["A-1"]
    assert mrns(kept) == ["A-1", "A-2"]  # nothing is thrown away


def test_damaged_backup_is_refused_before_anything_changes(db_path: Path, tmp_path: Path) -> None:
    with open_database(db_path) as rec:
        rec.repos.patients.add(make_patient("A-1"))
        bad = backup_to(rec, tmp_path / "bad.sqlite3")
    data = bytearray(bad.read_bytes())
    data[4096 : 4096 * 3] = b"\xff" * (4096 * 2)  # overwrite pages 2-3
    bad.write_bytes(bytes(data))
    with pytest.raises(StorageError, match="nothing was changed"):
        restore_from(db_path, bad)
    assert mrns(db_path) == ["A-1"]
    assert not list(tmp_path.glob("*.replaced-*"))


def test_a_file_that_is_not_ours_is_refused(db_path: Path, tmp_path: Path) -> None:
    open_database(db_path).close()
    other = tmp_path / "other.sqlite3"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    assert verify_backup(other) == [f"{other}: not a clinic-app database (no schema history)"]
    with pytest.raises(StorageError, match="not a clinic-app database"):
        restore_from(db_path, other)


def test_restore_over_a_file_that_is_not_a_database_moves_it_aside(
    db_path: Path, tmp_path: Path
) -> None:
    with open_database(db_path) as rec:
        rec.repos.patients.add(make_patient("A-1"))
        good = backup_to(rec, tmp_path / "good.sqlite3")
    for side in ("-wal", "-shm"):
        db_path.with_name(db_path.name + side).unlink(missing_ok=True)
    db_path.write_bytes(b"garbage" * 1000)
    kept = restore_from(db_path, good)
    assert kept is not None and kept.read_bytes() == b"garbage" * 1000
    assert mrns(db_path) == ["A-1"]


@pytest.mark.sqlite_only
def test_check_reports_one_line_per_problem(record: Record) -> None:
    assert check(record) == []
    pid = record.repos.patients.add(make_patient())
    conn = record.db.conn
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute(
        "INSERT INTO body_measurements (patient_id, measured_on, weight_kg) "
        "VALUES (?, '2026-01-01', '70')",
        [pid + 41],
    )
    conn.execute("DROP TRIGGER labs_no_delete")
    conn.commit()
    assert check(record) == [
        "foreign key: body_measurements row 1 points to a missing patients row",
        "audit: trigger labs_no_delete is missing, so changes to labs are no longer fully "
        "audited and guarded",
    ]


# -- issue 15, item 2: verified copies, pruning by when taken, partials, the folder --------------
def _damaged_record(db_path: Path) -> Record:
    """A record whose last pages (patient and audit rows) were overwritten on disk."""
    with open_database(db_path) as rec:
        for n in range(60):
            rec.repos.patients.add(make_patient(f"A-{n}"))
        rec.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = db_path.stat().st_size
    with db_path.open("r+b") as file:
        for page in range(size // 4096 - 4, size // 4096):
            file.seek(4096 * page)
            file.write(b"\xa5" * 4096)
    return open_database(db_path)


def test_a_copy_that_fails_its_integrity_check_is_not_kept(db_path: Path, tmp_path: Path) -> None:
    target = tmp_path / "out" / "b.sqlite3"
    with _damaged_record(db_path) as record, pytest.raises(StorageError, match="damaged"):
        backup_to(record, target)
    assert not target.exists()
    assert list(target.parent.iterdir()) == []  # no partial, no manifest


def test_daily_backup_of_a_damaged_record_is_reported_and_never_counted(db_path: Path) -> None:
    with _damaged_record(db_path) as record:
        assert daily_backup_if_due(record, date(2026, 3, 2)) is None
        assert record.backup_problem and "damaged" in record.backup_problem
    assert good_backups(db_path) == []
    assert not list((db_path.parent / "backups").iterdir())


@pytest.mark.sqlite_only
def test_a_clock_set_back_does_not_delete_the_copy_just_taken(record: Record) -> None:
    record.repos.settings.set("backup.keep", 3, reason="test rotation")
    for day in range(1, 6):
        daily_backup_if_due(record, date(2026, 3, day))
    # The computer's clock goes back a year: today's copy has the "oldest" file name.
    made = daily_backup_if_due(record, date(2025, 3, 1))
    assert made is not None and made.exists()
    names = sorted(p.name for p in good_backups(record.path))
    assert names == [
        "record-daily-2025-03-01.sqlite3",
        "record-daily-2026-03-04.sqlite3",
        "record-daily-2026-03-05.sqlite3",
    ]


@pytest.mark.sqlite_only
def test_pruning_never_removes_good_copies_in_favour_of_bad_ones(record: Record) -> None:
    record.repos.settings.set("backup.keep", 2, reason="test rotation")
    made = [daily_backup_if_due(record, date(2026, 3, day)) for day in (1, 2)]
    # Two newer copies go bad on disk (truncated by a failing drive).
    folder = record.path.parent / "backups"
    for day in (3, 4):
        daily_backup_if_due(record, date(2026, 3, day))
        bad = folder / f"record-daily-2026-03-0{day}.sqlite3"
        bad.write_bytes(bad.read_bytes()[:8192])
    daily_backup_if_due(record, date(2026, 3, 5))
    good = good_backups(record.path)
    assert [p.name for p in good] == [
        "record-daily-2026-03-05.sqlite3",
        "record-daily-2026-03-02.sqlite3",  # kept: the bad ones in between do not count
    ]
    assert made[1] is not None and made[1].exists()


@pytest.mark.sqlite_only
def test_stale_partials_of_a_killed_backup_are_removed(record: Record, tmp_path: Path) -> None:
    folder = record.path.parent / "backups"
    folder.mkdir()
    dead = folder / "record-daily-2026-03-01.sqlite3.999999999.partial"
    dead.write_bytes(b"half a copy")
    (folder / (dead.name + "-journal")).write_bytes(b"x")
    assert daily_backup_if_due(record, date(2026, 3, 1)) is not None
    assert not list(folder.glob("*.partial*"))


def test_a_backup_killed_half_way_leaves_no_partial_behind(db_path: Path, tmp_path: Path) -> None:
    """SIGKILL a process in the middle of ``backup_to`` (it pauses inside the copy), then the
    next backup: no ``.partial`` file remains and the good copies are intact."""
    import os
    import signal
    import subprocess
    import sys
    import time

    with open_database(db_path) as rec:
        for n in range(40):
            rec.repos.patients.add(make_patient(f"A-{n}"))
    folder = tmp_path / "kills"
    script = (
        "import sys, sqlite3\n"
        "from pathlib import Path\n"
        "from clinic_app.storage import backup\n"
        "from clinic_app.storage.database import open_database\n"
        "import time\n"
        "class Slow(sqlite3.Connection):\n"
        "    def backup(self, target, **kw):\n"
        "        super().backup(target, pages=1, progress=lambda *a: time.sleep(0.01))\n"
        "connect = sqlite3.connect\n"
        "sqlite3.connect = lambda *a, **k: connect(*a, factory=Slow, **k)\n"
        "rec = open_database(sys.argv[1])\n"
        "print('ready', flush=True)\n"
        "backup.backup_to(rec, Path(sys.argv[2]))\n"
    )
    target = folder / "record-killed.sqlite3"
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(db_path), str(target)], stdout=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
    for _ in range(200):  # until the partial exists (no timing is asserted)
        if list(folder.glob("*.partial")):
            break
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    assert list(folder.glob("*.partial"))  # the kill really happened mid-copy
    assert not target.exists()
    with open_database(db_path) as rec:
        backup_to(rec, folder / "record-next.sqlite3")
    assert not list(folder.glob("*.partial*"))
    assert verify_backup(folder / "record-next.sqlite3") == []


def test_the_backup_folder_comes_only_from_this_computers_settings(
    db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chosen_by_a_file = tmp_path / "somewhere-a-file-chose"
    with open_database(db_path) as rec:
        # As an imported file or a restored backup would leave it in the record.
        rec.repos.settings.set("backup.folder", str(chosen_by_a_file), reason="imported")
        made = daily_backup_if_due(rec, date(2026, 3, 1))
    assert made is not None and made.parent == db_path.parent / "backups"
    assert not chosen_by_a_file.exists()
    # and the person is told where the copies went instead (a folder an older version kept)
    assert rec.backup_problem is not None and str(chosen_by_a_file) in rec.backup_problem
    config = tmp_path / "config" / "settings.json"
    config.parent.mkdir()
    mine = tmp_path / "my-backups"
    config.write_text(json.dumps({"backup.folder": str(mine)}), encoding="utf-8")
    monkeypatch.setenv("CLINIC_APP_CONFIG", str(config))
    with open_database(db_path) as rec:
        made = daily_backup_if_due(rec, date(2026, 3, 2))
    assert made is not None and made.parent == mine


def test_backups_and_the_record_are_private_whatever_the_umask(
    tmp_path: Path,
) -> None:
    import os
    import stat

    old = os.umask(0o000)  # the most permissive umask
    try:
        db = tmp_path / "data" / "record.sqlite3"
        from clinic_app.storage.location import resolve_db_path

        path = resolve_db_path(db)
        with open_database(path) as rec:
            daily_backup_if_due(rec)  # as the app does when it opens the record
            rec.repos.patients.add(make_patient("A-1"))
            manual = backup_to(rec, tmp_path / "manual" / "b.sqlite3")
            sides = [path.with_name(path.name + s) for s in ("-wal", "-shm")]
            files = [path, *sides, manual, *good_backups(path)]
            folders = [path.parent, manual.parent, path.parent / "backups"]
            modes = {str(f): stat.S_IMODE(f.stat().st_mode) for f in files}
            folder_modes = {str(f): stat.S_IMODE(f.stat().st_mode) for f in folders}
    finally:
        os.umask(old)
    assert set(modes.values()) == {0o600}, modes
    assert set(folder_modes.values()) == {0o700}, folder_modes
