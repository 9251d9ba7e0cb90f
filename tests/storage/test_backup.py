"""Online backups, the daily rotation, verified restore and the check."""

from __future__ import annotations

import sqlite3
from datetime import date, timedelta
from pathlib import Path

import pytest

from clinic_app.storage.backup import (
    backup_to,
    check,
    daily_backup_if_due,
    restore_from,
    verify_backup,
)
from clinic_app.storage.database import Record, open_database
from clinic_app.storage.errors import StorageError

from .conftest import make_patient


def mrns(path: Path) -> list[str]:
    with open_database(path, daily_backup=False) as rec:
        return sorted(p.mrn for p in rec.repos.patients.all())


def test_backup_is_a_consistent_database_with_the_data(record: Record, tmp_path: Path) -> None:
    record.repos.patients.add(make_patient("A-1"))
    target = backup_to(record, tmp_path / "out" / "b.sqlite3")
    assert verify_backup(target) == []
    assert mrns(target) == ["A-1"]
    assert not list(target.parent.glob("*.partial"))


def test_daily_backup_once_per_day_keeping_the_newest(record: Record) -> None:
    record.repos.settings.set("backup.keep", 3, reason="test rotation")
    start = date(2026, 3, 1)
    made = [daily_backup_if_due(record, start + timedelta(days=n)) for n in range(5)]
    assert all(made)
    assert daily_backup_if_due(record, start + timedelta(days=4)) is None  # already done today
    folder = record.path.parent / "backups"
    assert sorted(p.name for p in folder.iterdir()) == [
        "record-daily-2026-03-03.sqlite3",
        "record-daily-2026-03-04.sqlite3",
        "record-daily-2026-03-05.sqlite3",
    ]


def test_first_open_of_the_day_backs_up(db_path: Path) -> None:
    open_database(db_path).close()
    open_database(db_path).close()
    today = date.today().isoformat()
    assert [p.name for p in (db_path.parent / "backups").iterdir()] == [
        f"record-daily-{today}.sqlite3"
    ]


def test_restore_checks_first_keeps_the_replaced_file_and_restores(
    db_path: Path, tmp_path: Path
) -> None:
    with open_database(db_path, daily_backup=False) as rec:
        rec.repos.patients.add(make_patient("A-1"))
        good = backup_to(rec, tmp_path / "good.sqlite3")
        rec.repos.patients.add(make_patient("A-2"))  # made after the backup
    kept = restore_from(db_path, good)
    assert kept is not None and ".replaced-" in kept.name
    assert mrns(db_path) == ["A-1"]
    assert mrns(kept) == ["A-1", "A-2"]  # nothing is thrown away


def test_damaged_backup_is_refused_before_anything_changes(db_path: Path, tmp_path: Path) -> None:
    with open_database(db_path, daily_backup=False) as rec:
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
    open_database(db_path, daily_backup=False).close()
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
    with open_database(db_path, daily_backup=False) as rec:
        rec.repos.patients.add(make_patient("A-1"))
        good = backup_to(rec, tmp_path / "good.sqlite3")
    for side in ("-wal", "-shm"):
        db_path.with_name(db_path.name + side).unlink(missing_ok=True)
    db_path.write_bytes(b"garbage" * 1000)
    kept = restore_from(db_path, good)
    assert kept is not None and kept.read_bytes() == b"garbage" * 1000
    assert mrns(db_path) == ["A-1"]


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
