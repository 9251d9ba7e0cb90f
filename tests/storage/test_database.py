"""Opening the record: settings, migrations, the newer-version guard and every fault."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest
from sqlite_utils import Database

from clinic_app.storage import schema
from clinic_app.storage.database import Record, open_database
from clinic_app.storage.errors import (
    DatabaseLockedError,
    DiskFullError,
    NewerDatabaseError,
    NotADatabaseError,
    ReadOnlyError,
)

from .conftest import make_patient


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def count(record: Record, table: str) -> int:
    return int(record.sql.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_first_open_creates_file_with_safe_settings(db_path: Path) -> None:
    assert not db_path.exists()
    with open_database(db_path) as rec:
        conn = rec.db.conn
        assert db_path.is_file()
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # 2 = FULL
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
        assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
        applied = [r[0] for r in conn.execute("SELECT name FROM _sqlite_migrations")]
        assert applied == list(schema.MIGRATION_NAMES)


def test_reopening_applies_nothing_twice(db_path: Path) -> None:
    open_database(db_path).close()
    with open_database(db_path) as rec:
        assert count(rec, "_sqlite_migrations") == len(schema.MIGRATION_NAMES)


@pytest.mark.sqlite_only
def test_transaction_rolls_back_everything_on_error(record: Record) -> None:
    with pytest.raises(RuntimeError), record.transaction(reason="test"):
        record.repos.patients.add(make_patient())
        raise RuntimeError("half way")
    assert count(record, "patients") == 0
    assert count(record, "audit_log") == 0
    assert count(record, "audit_actor") == 0


@pytest.mark.parametrize("how", ["user_version", "unknown_migration"])
def test_newer_database_is_refused_and_not_modified(db_path: Path, how: str) -> None:
    with open_database(db_path) as rec:
        if how == "user_version":
            rec.sql.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION + 1}")
        else:
            rec.sql.execute(
                "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
                "VALUES ('clinic_app', '0099_from_the_future', '2030-01-01')"
            )
        rec.sql.execute("PRAGMA journal_mode = DELETE")  # fold the WAL in, so bytes are final
    before = digest(db_path)
    with pytest.raises(NewerDatabaseError, match="newer version of clinic-app") as info:
        open_database(db_path)
    assert "has not been changed" in str(info.value)
    assert digest(db_path) == before
    assert not db_path.with_name(db_path.name + "-wal").exists()  # WAL was not switched on


def test_not_a_database_is_refused_and_left_as_is(db_path: Path) -> None:
    db_path.write_bytes(b"Patient list exported from a spreadsheet\n" * 200)
    before = digest(db_path)
    with pytest.raises(NotADatabaseError, match="is not a clinic-app database"):
        open_database(db_path)
    assert digest(db_path) == before


@pytest.mark.sqlite_only
def test_disk_full_keeps_the_record_unchanged(record: Record) -> None:
    record.repos.patients.add(make_patient("A-1"))
    # Simulate SQLITE_FULL: forbid the file from growing past its current size.
    pages = record.sql.execute("PRAGMA page_count").fetchone()[0]
    record.sql.execute(f"PRAGMA max_page_count = {pages}")
    # Texts are bounded (issue 15, item 3), so many rows in one transaction fill the pages.
    with pytest.raises(DiskFullError) as info, record.transaction(reason="many"):
        for n in range(2, 400):  # needs dozens of new pages
            record.repos.patients.add(make_patient(f"A-{n}"))
    assert "nothing was saved and the record is unchanged" in str(info.value)
    assert [p.mrn for p in record.repos.patients.all()] == ["A-1"]
    assert count(record, "audit_log") == 1
    record.sql.execute("PRAGMA max_page_count = 1073741823")
    record.repos.patients.add(make_patient("A-2"))  # and the connection still works
    assert count(record, "patients") == 2


def test_read_only_file_refuses_writes_with_a_clear_message(db_path: Path) -> None:
    with open_database(db_path) as rec:
        rec.repos.patients.add(make_patient("A-1"))
    # Tests may run as root, where chmod does not stop writes; a read-only URI does.
    with open_database(db_path, read_only=True) as ro:
        with pytest.raises(ReadOnlyError) as info:
            ro.repos.patients.add(make_patient("A-2"))
        assert "read-only" in str(info.value)
        assert "nothing was saved" in str(info.value)
        assert [p.mrn for p in ro.repos.patients.all()] == ["A-1"]


def test_read_only_database_that_needs_upgrading_is_not_touched(db_path: Path) -> None:
    db = Database(sqlite3.connect(str(db_path)))
    schema.migrations.apply(db, stop_before=schema.MIGRATION_NAMES[1])
    db.close()
    before = digest(db_path)
    with pytest.raises(ReadOnlyError, match="needs upgrading"):
        open_database(db_path, read_only=True)
    assert digest(db_path) == before


def test_write_blocked_past_busy_timeout_says_locked_and_loses_nothing(db_path: Path) -> None:
    with open_database(db_path) as rec:
        rec.repos.patients.add(make_patient("A-1"))
    holder = sqlite3.connect(str(db_path), isolation_level=None)
    with open_database(db_path, busy_timeout_ms=100) as rec:
        holder.execute("BEGIN EXCLUSIVE")
        holder.execute(
            "INSERT INTO patients (mrn, family_name, given_name, date_of_birth, sex, version) "
            "VALUES ('OUT-1', 'X', 'Y', '1960-01-01', 'M', 1)"
        )
        try:
            with pytest.raises(DatabaseLockedError) as info:
                rec.repos.patients.add(make_patient("A-2"))
            assert "nothing was saved" in str(info.value)
        finally:
            holder.execute("COMMIT")
        holder.close()
        assert sorted(p.mrn for p in rec.repos.patients.all()) == ["A-1", "OUT-1"]
        rec.repos.patients.add(make_patient("A-2"))  # once the lock is gone, writes work
        assert count(rec, "patients") == 3
