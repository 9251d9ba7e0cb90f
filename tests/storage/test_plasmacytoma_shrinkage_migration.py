"""Migration 0005: the baseline plasmacytoma's shrinkage as a measurement (IMWG 2016, rules §4).

A version-4 file keeps its yes/no answers ("shrunk by >= 50 %") as they were: a "yes" cannot
become a percentage, so the new column is NULL (not assessed) and the rules read the old fact
where it decides (PR) and say so where it cannot (MR).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from sqlite_utils import Database

from clinic_app.core.response import ResponseCategory, classify_series
from clinic_app.storage import schema
from clinic_app.storage.database import open_database

_AFTER_0004 = {name for name in schema.MIGRATION_NAMES if name > "0004_imwg_facts"}


def _version_4_file(db_path: Path) -> None:
    db = Database(sqlite3.connect(str(db_path)))
    schema.migrations.apply(db, stop_before=_AFTER_0004)
    assert db.execute("PRAGMA user_version").fetchone()[0] == 4
    db.execute(
        "INSERT INTO patients (mrn, family_name, given_name, date_of_birth, sex) "
        "VALUES ('V4-1', 'Okafor', 'Ife', '1950-01-01', 'F')"
    )
    # baseline 10 g/dL with a plasmacytoma; two later assessments answered yes / no
    for day, serum, shrunk in (
        ("2026-01-04", "10", None),
        ("2026-02-01", "5", 1),
        ("2026-03-01", "7", 0),
    ):
        db.execute(
            "INSERT INTO response_assessments (patient_id, assessed_on, serum_m_protein_g_dl, "
            "soft_tissue_plasmacytoma, plasmacytoma_shrunk_50pct) VALUES (1, ?, ?, 1, ?)",
            [day, serum, shrunk],
        )
    db.close()


def test_upgrade_keeps_the_yes_no_answers_and_the_rules_use_them(db_path: Path) -> None:
    _version_4_file(db_path)
    with open_database(db_path) as rec:
        assert rec.sql.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
        baseline, yes, no = rec.repos.responses.for_patient(1)
        assert [a.plasmacytoma_shrunk_50pct for a in (yes, no)] == [True, False]
        # nothing was invented: the measurement is "not assessed" on every old row
        assert {a.plasmacytoma_shrinkage_pct for a in (baseline, yes, no)} == {None}
        # each against the baseline alone (5 -> 7 g/dL in one series would be PD from the nadir)
        [first] = classify_series(baseline, [yes])
        [second] = classify_series(baseline, [no])
    # (10 - 5) / 10 = 50 % serum and "shrunk >= 50 %: yes" -> PR (IMWG 2016: both >= 50 %)
    assert first.category is ResponseCategory.PR
    # (10 - 7) / 10 = 30 %: MR's serum range, but MR needs the plasmacytoma 25-49 % smaller and
    # "no" (< 50 %) does not say whether it reached 25 %: SD, and the reason names the gap.
    assert second.category is ResponseCategory.SD
    assert any(
        s.startswith("MR not assessable: ") and "recorded only as 'shrunk by less than 50 %'" in s
        for s in second.limited_by
    )


def test_the_measurement_is_audited_and_impossible_values_are_refused(db_path: Path) -> None:
    _version_4_file(db_path)
    with open_database(db_path) as rec:
        stored = rec.repos.responses.get(3)
        rec.repos.responses.update(
            stored.id,
            replace(stored.value, plasmacytoma_shrunk_50pct=None, plasmacytoma_shrinkage_pct=D30),
            expected_version=stored.version,
            reason="shrinkage measured on the CT report",
        )
        (entry,) = rec.sql.execute(
            "SELECT old_json, new_json FROM audit_log WHERE table_name = 'response_assessments' "
            "AND action = 'update' ORDER BY id DESC LIMIT 1"
        ).fetchall()
        old, new = (json.loads(text) for text in entry)
        assert old["plasmacytoma_shrinkage_pct"] is None and old["plasmacytoma_shrunk_50pct"] == 0
        assert new["plasmacytoma_shrinkage_pct"] == "30"
        # (10 - 7) / 10 = 30 % serum, plasmacytoma 30 % smaller (25-49 %) -> MR
        baseline, _yes, measured = rec.repos.responses.for_patient(1)
        assert classify_series(baseline, [measured])[0].category is ResponseCategory.MR

        version = rec.repos.responses.get(3).version
        for bad in ("100.5", "abc", "", "1e3"):
            with pytest.raises(sqlite3.IntegrityError):
                rec.db.conn.execute(
                    "UPDATE response_assessments SET plasmacytoma_shrinkage_pct = ?, "
                    "version = ? WHERE id = 3",
                    [bad, version + 1],
                )
        # at most 100 % smaller (gone); any growth is a real measurement
        for good in ("100", "-35.5"):
            rec.sql.execute(
                "UPDATE response_assessments SET plasmacytoma_shrinkage_pct = ?, version = ? "
                "WHERE id = 3",
                [good, version + 1],
            )
            version += 1


D30 = Decimal(30)
