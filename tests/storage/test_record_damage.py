"""A damaged record (pages overwritten on disk) is said in one sentence by every command;
``check`` reports it and exits non-zero; ``restore`` replaces it, keeping the damaged file
(issue 15, item 1). The file is damaged for real: pages of a real SQLite file are overwritten."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from clinic_app.cli import main
from clinic_app.storage.backup import backup_to, newest_good_backup
from clinic_app.storage.database import open_database
from clinic_app.storage.errors import DamagedRecordError, DiskFullError, RecordIOError, translate

from .conftest import make_patient

PAGE = 4096


def damage(path: Path, pages: tuple[int, ...] = (1, 2, 3)) -> None:
    """Fold the WAL into the file, then overwrite whole pages (page 0 holds the header)."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    with path.open("r+b") as file:
        for page in pages:
            file.seek(PAGE * page)
            file.write(b"\xa5" * PAGE)


@pytest.fixture
def damaged(db_path: Path, tmp_path: Path) -> tuple[Path, Path]:
    with open_database(db_path) as rec:
        for n in range(30):
            rec.repos.patients.add(make_patient(f"A-{n}"))
        good = backup_to(rec, tmp_path / "backups" / "record-good.sqlite3")
    damage(db_path)
    return db_path, good


@pytest.mark.parametrize(
    "command",
    [
        ["check"],
        ["backup"],
        ["patient", "A-1"],
        ["export", "--output", "out.json"],
        ["users", "list"],
        ["settings", "list"],
        ["cards", "--date", "2026-01-05", "--output", "cards"],
    ],
)
def test_every_command_says_one_sentence_not_a_traceback(
    damaged: tuple[Path, Path], command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    db_path, _ = damaged
    status = main([*command, "--db", str(db_path)])
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert status != 0
    assert "Traceback" not in text
    assert "is damaged" in text and "nothing more was written" in text
    assert "clinic-app restore" in text


def test_check_reports_corruption_and_exits_non_zero(
    damaged: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    db_path, _ = damaged
    assert main(["check", "--db", str(db_path)]) == 1
    assert "is damaged" in capsys.readouterr().out


def test_restore_replaces_a_record_that_cannot_be_opened_keeping_it_beside(
    damaged: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    db_path, good = damaged
    damaged_bytes = db_path.read_bytes()
    assert main(["restore", str(good), "--db", str(db_path)]) == 0
    (kept,) = db_path.parent.glob("record.replaced-*.sqlite3")
    assert kept.read_bytes() == damaged_bytes  # the damaged file, byte for byte
    assert main(["check", "--db", str(db_path)]) == 0
    with open_database(db_path) as rec:
        assert len(rec.repos.patients.all()) == 30


def test_a_damaged_record_on_an_account_record_is_restored_without_its_accounts(
    db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with open_database(db_path) as rec:
        rec.repos.users.create_first_administrator("admin", "Ada Admin", "admin password 1")
        good = backup_to(rec, tmp_path / "good.sqlite3")
    damage(db_path, pages=tuple(range(1, 40)))
    assert main(["restore", str(good), "--db", str(db_path)]) == 0


def test_the_newest_good_backup_is_found_without_opening_the_record(
    damaged: tuple[Path, Path],
) -> None:
    db_path, good = damaged
    assert newest_good_backup(db_path) == good


def test_translate_names_damage_io_and_the_shared_memory_error() -> None:
    path = Path("/x/record.sqlite3")

    def error(code: int, text: str) -> sqlite3.Error:
        exc = sqlite3.DatabaseError(text)
        exc.sqlite_errorcode = code  # type: ignore[attr-defined]
        return exc

    assert isinstance(
        translate(error(11, "database disk image is malformed"), path), DamagedRecordError
    )
    shm = translate(error(4874, "disk I/O error"), path)  # SQLITE_IOERR_SHMSIZE
    assert isinstance(shm, DiskFullError) and "disk is probably full" in str(shm)
    io = translate(error(10, "disk I/O error"), path)
    assert isinstance(io, RecordIOError) and "nothing more was written" in str(io)


def test_check_reports_damage_that_opening_does_not_notice(
    db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with open_database(db_path) as rec:
        for n in range(60):
            rec.repos.patients.add(make_patient(f"A-{n}"))
    pages = db_path.stat().st_size // PAGE
    damage(db_path, pages=tuple(range(pages - 4, pages)))  # data pages; the schema is intact
    with open_database(db_path):
        pass  # opens: the damage is only found by reading the rows
    assert main(["check", "--db", str(db_path)]) == 1
    out = capsys.readouterr().out
    assert "is damaged" in out and "nothing more was written" in out
