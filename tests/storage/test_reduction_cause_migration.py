"""Migration 0013: what a dose reduction was for (the BPD cycle-1 DLT items, rules §5).

A file from before it keeps its modifications with the cause NULL ("not recorded"), which the
DLT proposal reports instead of guessing; storage refuses any other word on both engines.
"""

from __future__ import annotations

import sqlite3
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlite_utils import Database

from clinic_app.core.records import DoseModification, ReductionCause
from clinic_app.storage import schema
from clinic_app.storage.database import Record, open_database
from clinic_app.storage.engines import ConstraintError
from tests.services import helpers

_FROM_0013 = {name for name in schema.MIGRATION_NAMES if name >= "0013_reduction_cause"}


def _modification(cause: ReductionCause | None) -> DoseModification:
    return DoseModification(
        "lenalidomide", Decimal(25), Decimal(20), "grade 4 neutropenia", 2, "Dr Ray",
        date(2025, 3, 17), cause=cause,
    )  # fmt: skip


def _enrolment(record: Record) -> int:
    pid = helpers.patient(record, "RC-1", "Novak", "Jana")
    return helpers.enrol(record, pid, "dextr", date(2025, 3, 1))


def test_the_causes_stored_are_the_ones_the_app_knows() -> None:
    assert tuple(c.value for c in ReductionCause) == schema.REDUCTION_CAUSES


def test_cause_round_trips_is_audited_and_only_known_words_are_stored(record: Record) -> None:
    eid = _enrolment(record)
    with record.transaction(reason="test"):
        said = record.repos.modifications.add(eid, _modification(ReductionCause.NOT_TOXICITY))
    assert record.repos.modifications.get(said).value.cause is ReductionCause.NOT_TOXICITY
    new_json = record.sql.execute(
        "SELECT new_json FROM audit_log WHERE table_name = 'dose_modifications' AND row_id = ?",
        [said],
    ).fetchone()[0]
    assert '"cause":"not-toxicity"' in new_json.replace(" ", "")
    with pytest.raises(ConstraintError), record.transaction(reason="test"):
        record.sql.execute(
            "UPDATE dose_modifications SET cause = 'probably blood', version = version + 1 "
            "WHERE id = ?",
            [said],
        )
    assert record.repos.modifications.get(said).value.cause is ReductionCause.NOT_TOXICITY


def test_upgrading_an_older_file_leaves_old_modifications_not_recorded(db_path: Path) -> None:
    db = Database(sqlite3.connect(str(db_path)))
    schema.migrations.apply(db, stop_before=_FROM_0013)
    assert "cause" not in {c.name for c in db["dose_modifications"].columns}
    db.execute(
        "INSERT INTO patients (mrn, family_name, given_name, date_of_birth, sex) "
        "VALUES ('V11-1', 'Okafor', 'Ife', '1950-01-01', 'F')"
    )
    db.execute(
        "INSERT INTO enrolments (patient_id, protocol, enrolled_on, consent_on, status) "
        "VALUES (1, 'dextr', '2025-03-01', '2025-03-01', 'active')"
    )
    db.execute(
        "INSERT INTO dose_modifications (enrolment_id, drug, old_dose, new_dose, reason, "
        "effective_cycle, decided_by, decided_on) VALUES (1, 'lenalidomide', '25', '20', "
        "'grade 4 neutropenia', 2, 'Dr Ray', '2025-03-17')"
    )
    db.conn.commit()
    db.close()
    with open_database(db_path) as rec:
        assert rec.sql.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
        (old,) = rec.repos.modifications.for_enrolment(1)
        assert (old.new_dose, old.cause) == (Decimal(20), None)  # nothing invented
        with rec.transaction(reason="test"):
            said = rec.repos.modifications.add(1, _modification(ReductionCause.HAEMATOLOGICAL))
        assert rec.repos.modifications.get(said).value.cause is ReductionCause.HAEMATOLOGICAL
