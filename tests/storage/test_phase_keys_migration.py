"""Migration 0010: a cycle's phase is any phase key of its protocol, never empty (issue 17).

A file made before it keeps every cycle (ids, versions, the doses and DLT reviews that point at
them), its indexes, its triggers exactly as installed and its audit trail untouched.
"""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import pytest
from sqlite_utils import Database

from clinic_app.core.cycles import CycleRow
from clinic_app.core.errors import DomainError
from clinic_app.storage import integrity, schema
from clinic_app.storage.database import open_database
from clinic_app.storage.engines import ConstraintError

_FROM_0010 = {name for name in schema.MIGRATION_NAMES if name >= "0010_phase_keys"}


def _schema_items(conn: sqlite3.Connection, table: str) -> dict[str, str]:
    rows = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE tbl_name = ? AND type IN ('index', 'trigger')",
        [table],
    ).fetchall()
    return {str(name): str(sql) for name, sql in rows}


def _before_0010(path: Path) -> None:
    db = Database(sqlite3.connect(str(path)))
    db.conn.execute("PRAGMA foreign_keys = ON")
    schema.prepare_connection(db.conn)
    schema.migrations.apply(db, stop_before=_FROM_0010)
    for sql in (
        "INSERT INTO patients (mrn, family_name, given_name, date_of_birth, sex) "
        "VALUES ('M-1', 'Okafor', 'Ife', '1950-01-01', 'F')",
        "INSERT INTO enrolments (patient_id, protocol, enrolled_on, consent_on, gates, status) "
        "VALUES (1, 'dextr', '2026-01-05', '2026-01-05', '{}', 'active')",
        "INSERT INTO cycles (id, enrolment_id, number, phase, planned_start, status) "
        "VALUES (7, 1, 1, 'induction', '2026-01-05', 'started')",
        "UPDATE cycles SET start_date = '2026-01-05', version = version + 1 WHERE id = 7",
        "INSERT INTO cycles (id, enrolment_id, number, phase, planned_start, status) "
        "VALUES (9, 1, 2, 'maintenance', '2026-02-02', 'planned')",
        "INSERT INTO dose_events (cycle_id, day, drug, dose_mg, status) "
        "VALUES (7, 1, 'dexamethasone', '40', 'planned')",
    ):
        db.execute(sql)
    # the closed list is still in force before 0010
    with pytest.raises(sqlite3.IntegrityError):
        db.execute(
            "INSERT INTO cycles (enrolment_id, number, phase, planned_start, status) "
            "VALUES (1, 3, 'consolidation', '2026-03-02', 'planned')"
        )
    db.conn.commit()
    db.close()


def test_upgrade_keeps_rows_triggers_and_audit_and_accepts_any_phase_key(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    _before_0010(path)
    conn = sqlite3.connect(str(path))
    before_rows = conn.execute("SELECT * FROM cycles ORDER BY id").fetchall()
    before_items = _schema_items(conn, "cycles")
    before_audit = conn.execute("SELECT * FROM audit_log ORDER BY id").fetchall()
    conn.close()
    assert {"cycles_number", "cycles_enrolment", "cycles_audit_insert"} <= set(before_items)

    with open_database(path) as rec:
        conn = rec.db.conn
        assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
        assert conn.execute("SELECT * FROM cycles ORDER BY id").fetchall() == before_rows
        assert _schema_items(conn, "cycles") == before_items
        assert conn.execute("SELECT * FROM audit_log ORDER BY id").fetchall() == before_audit
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert integrity.verify(conn) == []
        # the rows read back with their versions, and the dose still points at cycle 7
        assert rec.repos.cycles.get(7).version == 2
        assert [d.cycle_id for d in rec.repos.doses.for_cycle(7)] == [7]

        # a phase key the old list did not know is stored, audited and read back as it is
        with rec.transaction(reason="test"):
            cid = rec.repos.cycles.add(CycleRow(1, 3, "consolidation", date(2026, 3, 2)))
        assert rec.repos.cycles.get(cid).value.phase == "consolidation"
        entry = conn.execute(
            "SELECT new_json FROM audit_log WHERE table_name = 'cycles' AND row_id = ?", [cid]
        ).fetchone()[0]
        assert '"phase":"consolidation"' in entry.replace(" ", "")
        # the unique (enrolment, number) index came back with the table
        with pytest.raises(ConstraintError, match="UNIQUE"), rec.transaction(reason="test"):
            rec.repos.cycles.add(CycleRow(1, 3, "maintenance", date(2026, 3, 2)))

        # storage still refuses an empty phase: the repository, and the table itself
        with pytest.raises(DomainError) as err, rec.transaction(reason="test"):
            rec.repos.cycles.add(CycleRow(1, 4, " ", date(2026, 3, 30)))
        assert err.value.field == "phase"
    raw = sqlite3.connect(str(path))
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        raw.execute(
            "INSERT INTO cycles (enrolment_id, number, phase, planned_start, status) "
            "VALUES (1, 5, '  ', '2026-04-27', 'planned')"
        )
    raw.close()


def test_a_new_file_has_no_closed_phase_list(tmp_path: Path) -> None:
    with open_database(tmp_path / "new.sqlite3") as rec:
        sql = rec.sql.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'cycles'"
        ).fetchone()[0]
        assert "'induction'" not in sql
        assert "length(trim(phase)) > 0" in sql
        assert integrity.verify(rec.db.conn) == []
