"""Migration 0015: a DLT review stores "the rules could not decide" as itself (NULL).

Before it, ``proposed`` was NOT NULL and an undecided proposal was stored as 0, which printed
as "the rules did not propose a DLT". A file made before keeps every review as stored (ids,
versions, audit trail, triggers); a new review may store NULL; 0 and 1 are still the only
other values the table takes.
"""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import pytest
from sqlite_utils import Database

from clinic_app.core.decisions import DltReview
from clinic_app.core.records import Enrolment
from clinic_app.storage import integrity, schema
from clinic_app.storage.database import Record, open_database

from .conftest import make_patient

_FROM_0015 = {name for name in schema.MIGRATION_NAMES if name >= "0015_open_dlt_proposal"}


def _items(conn: sqlite3.Connection) -> dict[str, str]:
    rows = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE tbl_name = 'dlt_reviews' "
        "AND type IN ('index', 'trigger')"
    ).fetchall()
    return {str(name): str(sql) for name, sql in rows}


def _before_0015(path: Path) -> None:
    db = Database(sqlite3.connect(str(path)))
    db.conn.execute("PRAGMA foreign_keys = ON")
    schema.prepare_connection(db.conn)
    schema.migrations.apply(db, stop_before=_FROM_0015)
    for sql in (
        "INSERT INTO patients (mrn, family_name, given_name, date_of_birth, sex) "
        "VALUES ('M-1', 'Okafor', 'Ife', '1950-01-01', 'F')",
        "INSERT INTO enrolments (patient_id, protocol, enrolled_on, consent_on, gates, status) "
        "VALUES (1, 'bpd', '2026-01-05', '2026-01-05', '{}', 'active')",
        "INSERT INTO cycles (id, enrolment_id, number, phase, planned_start, status) "
        "VALUES (7, 1, 1, 'treatment', '2026-01-05', 'started')",
        "INSERT INTO dlt_reviews (id, enrolment_id, cycle_id, proposed, confirmed, evaluable, "
        "reviewer, reviewed_on, reason) VALUES (3, 1, 7, 0, 0, 1, 'Dr Ray', '2026-02-04', 'ok')",
        "UPDATE dlt_reviews SET reason = 'no DLT criterion met', version = version + 1 "
        "WHERE id = 3",
    ):
        db.execute(sql)
    with pytest.raises(sqlite3.IntegrityError, match="NOT NULL"):  # the old rule
        db.execute("INSERT INTO dlt_reviews (enrolment_id, proposed) VALUES (1, NULL)")
    db.conn.commit()
    db.close()


def test_upgrade_keeps_the_reviews_and_then_stores_an_undecided_proposal(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    _before_0015(path)
    conn = sqlite3.connect(str(path))
    rows = conn.execute("SELECT * FROM dlt_reviews ORDER BY id").fetchall()
    items = _items(conn)
    audit = conn.execute("SELECT * FROM audit_log ORDER BY id").fetchall()
    conn.close()
    assert "dlt_reviews_audit_insert" in items

    with open_database(path) as rec:
        conn = rec.db.conn
        assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
        assert conn.execute("SELECT * FROM dlt_reviews ORDER BY id").fetchall() == rows
        assert _items(conn) == items
        assert conn.execute("SELECT * FROM audit_log ORDER BY id").fetchall() == audit
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert integrity.verify(conn) == []
        old = rec.repos.dlt_reviews.get(3)
        assert (old.version, old.value.proposed) == (2, False)  # as stored: 0 stays "no"

        with rec.transaction(reason="test"):
            new = rec.repos.dlt_reviews.add(
                DltReview(1, None, False, True, "Dr Ray", date(2026, 2, 5), "judged", 7)
            )
        assert rec.repos.dlt_reviews.get(new).value.proposed is None
        entry = conn.execute(
            "SELECT new_json FROM audit_log WHERE table_name = 'dlt_reviews' AND row_id = ?",
            [new],
        ).fetchone()[0]
        assert '"proposed":null' in entry.replace(" ", "")
    raw = sqlite3.connect(str(path))
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        raw.execute("INSERT INTO dlt_reviews (enrolment_id, proposed) VALUES (1, 2)")
    raw.close()


def test_a_new_record_stores_all_three_proposals(record: Record) -> None:
    # On both engines (the server's step drops the NOT NULL too).
    with record.transaction(reason="test"):
        pid = record.repos.patients.add(make_patient())
        eid = record.repos.enrolments.add(
            Enrolment(pid, "bpd", date(2026, 1, 5), date(2026, 1, 5), {})
        )
        ids = {p: record.repos.dlt_reviews.add(DltReview(eid, p)) for p in (True, False, None)}
    stored = {p: record.repos.dlt_reviews.get(i).value.proposed for p, i in ids.items()}
    assert stored == {True: True, False: False, None: None}
