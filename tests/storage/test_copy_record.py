"""Copying a whole record between engines, audit trail included (storage/copy.py, issue 18).

The source is a demo record with accounts, so it holds every kind of row: patients and their
clinical rows, settings, users, signatures, a failed sign-in, a draft, voided rows. A copy
must hold the same rows with the same ids and the same audit log entry for entry, pass
``check``, and leave the target's triggers exactly as the app installs them.
"""

from __future__ import annotations

import io
import sqlite3
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from clinic_app.services.demo import generate_demo
from clinic_app.services.settings import CLINIC_NAME, CLINIC_PHONE
from clinic_app.storage import schema
from clinic_app.storage.backup import check
from clinic_app.storage.copy import CopyRefused, copied_tables, copy_record
from clinic_app.storage.database import Record, ServerAddress, open_database
from clinic_app.storage.engines import ConstraintError
from clinic_app.storage.engines.sqlite import SqliteEngine
from clinic_app.storage.permissions import Role
from clinic_app.storage.users import SignInRefused

PASSWORD = "a long enough password"
ADMIN = "ada"


def _fill(record: Record) -> None:
    """Every kind of row the app writes."""
    users = record.repos.users
    users.create_first_administrator(ADMIN, "Ada Admin", PASSWORD)
    record.set_user(ADMIN)
    users.add("ivan", "Ivan Investigator", Role.INVESTIGATOR, PASSWORD)
    with pytest.raises(SignInRefused):
        users.authenticate("ivan", "not the password at all")  # a sign_in_failures row
    for key, value in ((CLINIC_NAME, "Test clinic"), (CLINIC_PHONE, "555-0199")):
        record.repos.settings.set(key, value, reason="set up")  # settings are an admin's
    # An investigator may write (and sign) everything the demo writes.
    record.set_user(users.authenticate("ivan", PASSWORD).username)
    generate_demo(record, patients=12, seed=1, today=date(2026, 11, 21))
    patient_id = int(record.sql.execute("SELECT min(id) FROM patients").fetchone()[0])
    record.repos.drafts.keep(users.get("ivan"), "lab_entry", patient_id, {"test": "anc"})
    with record.transaction(reason="rows the demo does not write") as sql:
        sql.execute(
            "INSERT INTO temperatures (patient_id, measured_at, celsius, created_by) "
            "VALUES (?, '2026-11-20T22:00:00Z', '38.4', ?)",
            [patient_id, record.actor],
        )
        sql.execute(
            "INSERT INTO gcsf_doses (patient_id, given_on, created_by) VALUES (?, ?, ?)",
            [patient_id, "2026-11-20", record.actor],
        )
        sql.execute(
            "INSERT INTO endpoint_events (patient_id, kind, event_on, created_by) "
            "VALUES (?, 'next_therapy', '2026-11-21', ?)",
            [patient_id, record.actor],
        )
        sql.execute(  # the trial board's kind, recorded unsigned
            "INSERT INTO decisions (enrolment_id, kind, payload, decided_by, decided_on, "
            "created_by) VALUES ((SELECT min(id) FROM enrolments), 'escalation', "
            "'{\"level\": 2}', 'ivan', '2026-11-21', ?)",
            [record.actor],
        )
    with record.transaction(reason="entered in error") as sql:
        sql.execute(
            "UPDATE labs SET voided_at = '2026-11-21T09:00:00.000Z', void_reason = 'wrong "
            "patient', version = version + 1 WHERE id = (SELECT max(id) FROM labs)"
        )


def _dump(record: Record) -> dict[str, list[dict[str, Any]]]:
    """Every copied table's rows, by id; the audit log included."""
    return {
        table: record.sql.rows(f"SELECT * FROM {table} ORDER BY id")
        for table in copied_tables(record.sql)
    }


def _trigger_sql(record: Record) -> dict[str, str]:
    rows = record.sql.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
    return {str(name): " ".join(str(sql).split()) for name, sql in rows.fetchall()}


@pytest.fixture
def source(tmp_path: Path) -> Iterator[Record]:
    with open_database(tmp_path / "source.sqlite3") as record:
        _fill(record)
        yield record


def test_a_filled_record_holds_every_kind_of_row(source: Record) -> None:
    # The round trips below prove something only if every table has rows to carry.
    empty = [table for table, rows in _dump(source).items() if not rows]
    # Check-outs (issue 19) are carried like any table; tests/storage/test_checkout.py fills them.
    assert [t for t in empty if t not in schema.LENDING_TABLES] == []
    assert set(copied_tables(source.sql)) == (
        source.sql.table_names() - {"_sqlite_migrations", "audit_actor"}
    )


def test_sqlite_to_sqlite_copies_every_row_and_the_audit_trail(
    source: Record, tmp_path: Path
) -> None:
    before = _dump(source)
    with open_database(tmp_path / "copy.sqlite3") as target:
        report = copy_record(source, target)
        after = _dump(target)
        assert after == before  # ids, values, and every audit entry's at/via/who/reason/JSON
        assert check(target) == []
        assert _trigger_sql(target) == _trigger_sql(source)
        assert report.audit_entries == len(before["audit_log"])
        assert report.rows == {t: len(r) for t, r in before.items() if t != "audit_log"}
        assert report.lines()[0].startswith(f"Copied {report.total_rows} rows")
    assert _dump(source) == before  # the source is read only


def test_the_copy_is_guarded_and_audited_as_the_app_installs_it(
    source: Record, tmp_path: Path
) -> None:
    with open_database(tmp_path / "copy.sqlite3") as target:
        copy_record(source, target)
        last = int(target.sql.execute("SELECT max(id) FROM audit_log").fetchone()[0])
        with target.transaction(reason="after the copy") as sql:
            sql.execute("UPDATE settings SET value = '\"x\"', version = version + 1 WHERE id = 1")
            new_id = sql.insert(
                "INSERT INTO gcsf_doses (patient_id, given_on) VALUES (1, ?)", ["2026-11-22"]
            )
        entries = target.sql.rows("SELECT * FROM audit_log WHERE id > ? ORDER BY id", [last])
        assert [(e["id"], e["table_name"], e["action"]) for e in entries] == [
            (last + 1, "settings", "update"),
            (last + 2, "gcsf_doses", "insert"),
        ]
        assert new_id == max(r["id"] for r in _dump(source)["gcsf_doses"]) + 1
        with pytest.raises(ConstraintError, match="never deleted"), target.transaction():
            target.sql.execute("DELETE FROM patients WHERE id = 1")
        with pytest.raises(ConstraintError, match="weight_kg is outside"), target.transaction():
            target.sql.execute(
                "INSERT INTO body_measurements (patient_id, measured_on, weight_kg) "
                "VALUES (1, '2026-11-22', '700')"
            )
        assert check(target) == []


def test_a_target_that_is_not_empty_is_refused_and_unchanged(
    source: Record, tmp_path: Path
) -> None:
    with open_database(tmp_path / "busy.sqlite3") as target:
        target.repos.settings.set("clinic.name", "Another clinic", reason="set up")
        before, triggers = _dump(target), _trigger_sql(target)
        with pytest.raises(CopyRefused, match=r"is not empty \(its settings table holds rows\)"):
            copy_record(source, target)
        assert _dump(target) == before
        assert _trigger_sql(target) == triggers
        assert check(target) == []


def test_a_copy_onto_itself_is_refused(source: Record) -> None:
    with open_database(source.path) as again, pytest.raises(CopyRefused, match="onto itself"):
        copy_record(source, again)


def test_a_source_at_another_schema_version_is_refused(tmp_path: Path) -> None:
    old_file = tmp_path / "old.sqlite3"
    with open_database(old_file) as record:
        record.db.conn.execute("PRAGMA user_version = 3")  # as a file of an older app says
    conn = sqlite3.connect(old_file)
    conn.create_collation(schema.WRITER_COLLATION, lambda a, b: 0)
    old = Record(old_file, SqliteEngine(conn), read_only=True, app_user=None)
    with old, open_database(tmp_path / "copy.sqlite3") as target:
        with pytest.raises(CopyRefused, match="is at schema version 3 and this clinic-app"):
            copy_record(old, target)
        assert all(not rows for rows in _dump(target).values())


def test_a_failed_copy_leaves_the_target_empty_with_its_triggers(
    source: Record, tmp_path: Path
) -> None:
    # A row the target refuses half way (a column the target's CHECK does not accept):
    # the one transaction is undone, triggers included.
    with open_database(tmp_path / "copy.sqlite3") as target:
        triggers = _trigger_sql(target)
        source.sql.execute("PRAGMA ignore_check_constraints = ON")
        with source.transaction(reason="an impossible value by hand"):
            source.sql.execute("UPDATE patients SET sex = 'X', version = version + 1 WHERE id = 1")
        source.sql.execute("PRAGMA ignore_check_constraints = OFF")
        with pytest.raises(ConstraintError, match="CHECK constraint failed"):
            copy_record(source, target)
        assert all(not rows for rows in _dump(target).values())
        assert _trigger_sql(target) == triggers
        assert check(target) == []


# -- through a PostgreSQL server (the pg_database fixture skips where there is none) ----------
def test_sqlite_to_postgresql_to_sqlite_comes_back_identical(
    source: Record, pg_database: str, tmp_path: Path
) -> None:
    before = _dump(source)
    with open_database(ServerAddress(pg_database)) as server:
        report = copy_record(source, server)
        assert report.audit_entries == len(before["audit_log"])
        assert _dump(server) == before
        assert check(server) == []
        with open_database(tmp_path / "back.sqlite3") as back:
            copy_record(server, back)
            assert _dump(back) == before
            assert check(back) == []
            assert _trigger_sql(back) == _trigger_sql(source)


def test_a_server_record_that_is_not_empty_is_refused_and_unchanged(
    source: Record, pg_database: str
) -> None:
    with open_database(ServerAddress(pg_database)) as server:
        server.repos.settings.set("clinic.name", "Another clinic", reason="set up")
        before = _dump(server)
        triggers = server.sql.trigger_names()
        with pytest.raises(CopyRefused, match="is not empty"):
            copy_record(source, server)
        assert _dump(server) == before
        assert server.sql.trigger_names() == triggers
        assert check(server) == []
        # its triggers are on again: a change is audited
        with server.transaction(reason="after the refusal") as sql:
            sql.execute("UPDATE settings SET value = '\"x\"', version = version + 1")
        assert len(_dump(server)["audit_log"]) == len(before["audit_log"]) + 1


# -- the commands -------------------------------------------------------------------------------
def test_move_to_server_needs_an_administrator_and_prints_the_counts(
    source: Record,
    pg_database: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from clinic_app.cli import main

    before = _dump(source)
    file = str(source.path)
    source.close()  # the command opens the file itself
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert main(["move-to-server", "--db", file, pg_database, "--user", "ivan"]) == 1
    assert "signed in as ivan (investigator)" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert main(["move-to-server", "--db", file, pg_database, "--user", ADMIN]) == 0
    out = capsys.readouterr().out
    with open_database(ServerAddress(pg_database)) as server:
        copied = _dump(server)
    # The administrator's sign-in on the file (and the refused one before it) are copied too.
    assert len(copied["audit_log"]) >= len(before["audit_log"])
    assert copied["patients"] == before["patients"]
    assert f"Copied {sum(len(r) for t, r in copied.items() if t != 'audit_log')} rows and " in out
    assert f"{len(copied['audit_log'])} audit entries" in out
    with open_database(file) as again:
        assert _dump(again) == copied  # the file is only read
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert main(["move-to-server", "--db", file, pg_database, "--user", ADMIN]) == 2
    assert "is not empty" in capsys.readouterr().err


def test_backup_of_a_server_record_is_a_checked_sqlite_copy(
    source: Record,
    pg_database: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from clinic_app.cli import main

    with open_database(ServerAddress(pg_database)) as server:
        copy_record(source, server)
        before = _dump(server)
    out = tmp_path / "server-copy.sqlite3"
    assert main(["backup", "--db", pg_database, "-o", str(out)]) == 0
    assert f"to {out} (" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir() if "partial" in p.name) == []
    with open_database(out) as copy:
        assert _dump(copy) == before
        assert check(copy) == []
    assert main(["backup", "--db", pg_database, "-o", str(out)]) == 2
    assert "There is already a file at" in capsys.readouterr().err
    assert main(["restore", "--db", pg_database, str(out)]) == 2
    assert "restored with the server's own tools" in capsys.readouterr().err
