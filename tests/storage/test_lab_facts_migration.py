"""Migration 0009: the CTCAE clinical facts kept with a lab result (issue 13)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from clinic_app.core.records import LabResult
from clinic_app.storage.database import open_database
from clinic_app.storage.schema import LAB_FACT_COLUMNS, SCHEMA_VERSION
from tests.services import helpers

AT = datetime(2025, 3, 10, 8, 30, tzinfo=UTC)


def _calcium(**facts: bool) -> LabResult:
    return LabResult(
        "calcium_corrected",
        Decimal("2.7"),
        "mmol/L",
        AT,
        Decimal("2.7"),
        Decimal("2.1"),
        Decimal("2.6"),
        facts=tuple(facts.items()),
    )


def test_facts_round_trip_and_null_means_not_asked(tmp_path: Path) -> None:
    record = open_database(tmp_path / "r.sqlite3")
    try:
        assert record.sql.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        pid = helpers.patient(record, "MRN-1", "Novak", "Jana")
        with record.transaction(reason="test"):
            asked = record.repos.labs.add(
                pid, _calcium(hospitalisation_indicated=True, symptomatic=False)
            )
            plain = record.repos.labs.add(pid, _calcium())
        stored = record.repos.labs.get(asked).value
        assert stored.fact_map == {"hospitalisation_indicated": True, "symptomatic": False}
        assert record.repos.labs.get(plain).value.facts == ()
        row = record.sql.execute(
            "SELECT symptomatic, intervention_indicated, hospitalisation_indicated, "
            "life_threatening FROM labs WHERE id = ?",
            [asked],
        ).fetchone()
        assert tuple(row) == (0, None, 1, None)
        # The audit trail names the facts (triggers rebuilt by 0009).
        new_json = record.sql.execute(
            "SELECT new_json FROM audit_log WHERE table_name = 'labs' AND row_id = ?", [asked]
        ).fetchone()[0]
        assert '"hospitalisation_indicated":1' in new_json.replace(" ", "")
    finally:
        record.close()


@pytest.mark.parametrize("column", LAB_FACT_COLUMNS)
def test_a_fact_other_than_yes_no_or_null_is_refused(tmp_path: Path, column: str) -> None:
    record = open_database(tmp_path / "r.sqlite3")
    try:
        pid = helpers.patient(record, "MRN-1", "Novak", "Jana")
        with record.transaction(reason="test"):
            lab = record.repos.labs.add(pid, _calcium())
        with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
            record.db.conn.execute(
                f"UPDATE labs SET {column} = 2, version = version + 1 WHERE id = ?", [lab]
            )
    finally:
        record.close()
