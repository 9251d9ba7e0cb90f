"""Schema upgrade from version 1, and the audit trail the triggers keep."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest
from sqlite_utils import Database

from clinic_app.storage import schema
from clinic_app.storage.database import Record, open_database

from .conftest import make_patient


def audit_rows(record: Record) -> list[dict[str, object]]:
    cursor = record.sql.execute("SELECT * FROM audit_log ORDER BY id")
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def test_upgrade_from_first_schema_keeps_data_and_adds_indexes(db_path: Path) -> None:
    db = Database(sqlite3.connect(str(db_path)))
    schema.migrations.apply(db, stop_before="0002_lookup_indexes")
    assert db.execute("PRAGMA user_version").fetchone()[0] == 1
    db.execute(
        "INSERT INTO patients (mrn, family_name, given_name, date_of_birth, sex) "
        "VALUES ('V1-1', 'Ōta', 'Hiro', '1949-12-31', 'M')"
    )
    db.execute(
        "INSERT INTO labs (patient_id, test, value, unit, value_si, collected_at) "
        "VALUES (1, 'creatinine', '1.30', 'mg/dL', '114.9', '2026-01-05T08:00:00+00:00')"
    )
    db.close()

    with open_database(db_path) as rec:
        assert rec.sql.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
        indexes = {i.name for i in rec.db["labs"].indexes}
        assert "labs_patient_test" in indexes
        assert "audit_log_row" in {i.name for i in rec.db["audit_log"].indexes}
        patient = rec.repos.patients.by_mrn("V1-1")
        assert patient is not None and patient.value.family_name == "Ōta"
        (lab,) = rec.repos.labs.for_patient(patient.id)
        assert str(lab.value) == "1.30"  # exact text survives the upgrade
        assert [r["via"] for r in audit_rows(rec)] == ["outside the app"] * 2


def test_insert_through_app_is_audited_with_who_and_reason(record: Record) -> None:
    pid = record.repos.patients.add(make_patient(), reason="new referral")
    (row,) = audit_rows(record)
    assert row["via"] == "clinic-app"
    assert row["os_user"] == record.os_user
    assert row["reason"] == "new referral"
    assert (row["table_name"], row["row_id"], row["action"]) == ("patients", pid, "insert")
    assert row["old_json"] is None
    new = json.loads(str(row["new_json"]))
    assert new["mrn"] == "MRN-0001" and new["family_name"] == "Nováková"
    assert str(row["at"]).endswith("Z")
    if "audit_actor" in record.sql.table_names():  # SQLite's; a server keeps it per transaction
        assert record.sql.execute("SELECT count(*) FROM audit_actor").fetchone()[0] == 0


def test_correction_and_void_are_audited_with_old_and_new(record: Record) -> None:
    repo = record.repos.patients
    pid = repo.add(make_patient())
    stored = repo.get(pid)
    fixed = repo.update(
        pid,
        make_patient(family="Novak"),
        expected_version=stored.version,
        reason="spelling on ID card",
    )
    assert fixed.version == 2
    repo.void(pid, expected_version=2, reason="duplicate registration")
    _insert, update, void = audit_rows(record)
    assert update["action"] == "update" and update["reason"] == "spelling on ID card"
    assert json.loads(str(update["old_json"]))["family_name"] == "Nováková"
    assert json.loads(str(update["new_json"]))["family_name"] == "Novak"
    assert void["action"] == "void"
    assert json.loads(str(void["new_json"]))["void_reason"] == "duplicate registration"
    assert repo.all() == []  # voided rows are kept but not listed
    assert repo.get(pid).voided


@pytest.mark.sqlite_only
def test_plain_sql_behind_the_apps_back_is_audited_as_outside(record: Record) -> None:
    pid = record.repos.patients.add(make_patient())
    other = sqlite3.connect(str(record.path))
    other.execute(
        "UPDATE patients SET given_name = 'Zoe', version = version + 1 WHERE id = ?", [pid]
    )
    other.commit()
    other.close()
    last = audit_rows(record)[-1]
    assert last["via"] == "outside the app" and last["os_user"] is None
    assert json.loads(str(last["new_json"]))["given_name"] == "Zoe"


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("DELETE FROM patients", "never deleted"),
        ("UPDATE patients SET given_name = 'x'", "version = version \\+ 1"),
        ("UPDATE audit_log SET reason = 'x'", "audit log cannot be changed"),
        ("DELETE FROM audit_log", "audit log cannot be changed"),
    ],
)
@pytest.mark.sqlite_only
def test_triggers_refuse_deletes_silent_edits_and_audit_changes(
    record: Record, sql: str, message: str
) -> None:
    record.repos.patients.add(make_patient())
    with pytest.raises(sqlite3.IntegrityError, match=message):
        record.db.conn.execute(sql)
    record.db.conn.rollback()
    assert record.db.conn.execute("SELECT count(*) FROM audit_log").fetchone()[0] == 1


@pytest.mark.sqlite_only
def test_voided_row_cannot_be_revived_by_sql(record: Record) -> None:
    pid = record.repos.patients.add(make_patient())
    record.repos.patients.void(pid, expected_version=1, reason="test patient")
    with pytest.raises(sqlite3.IntegrityError, match="voided row cannot be changed"):
        record.db.conn.execute(
            "UPDATE patients SET voided_at = NULL, void_reason = NULL, version = version + 1"
        )
    record.db.conn.rollback()


@pytest.mark.sqlite_only
def test_every_column_of_every_clinical_table_is_in_its_audit_json(record: Record) -> None:
    # A migration that adds a column without re-installing triggers would fail this.
    for table in schema.CLINICAL_TABLES:
        sql = record.sql.execute(
            "SELECT sql FROM sqlite_master WHERE name = ?", [f"{table}_audit_update"]
        ).fetchone()[0]
        for column in record.db[table].columns_dict:
            assert f"'{column}', NEW.{column}" in sql, (table, column)  # a void: whole row
            assert f"OLD.{column} IS NOT NEW.{column}" in sql, (table, column)  # an update


def test_upgrading_a_version_3_file_adds_the_imwg_facts_and_audits_them(db_path: Path) -> None:
    db = Database(sqlite3.connect(str(db_path)))
    schema.migrations.apply(db, stop_before="0004_imwg_facts")
    assert db.execute("PRAGMA user_version").fetchone()[0] == 3
    db.execute(
        "INSERT INTO patients (mrn, family_name, given_name, date_of_birth, sex) "
        "VALUES ('V3-1', 'Okafor', 'Ife', '1950-01-01', 'F')"
    )
    db.execute(
        "INSERT INTO enrolments (patient_id, protocol, enrolled_on, consent_on, status) "
        "VALUES (1, 'BPD', '2026-01-05', '2026-01-02', 'active')"
    )
    db.execute(
        "INSERT INTO response_assessments (patient_id, assessed_on, serum_m_protein_g_dl, "
        "soft_tissue_plasmacytoma) VALUES (1, '2026-01-04', '3.10', 1)"
    )
    db.close()

    with open_database(db_path) as rec:
        assert rec.sql.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
        # Rows written before the upgrade read as "not known" / "not assessed", not as no.
        (enrolment,) = rec.repos.enrolments.for_patient(1)
        assert enrolment.light_chain is None and enrolment.protocol == "BPD"
        (baseline,) = rec.repos.responses.for_patient(1)
        assert baseline.plasmacytoma_shrunk_50pct is None
        assert str(baseline.serum_m_protein_g_dl) == "3.10"
        assert baseline.soft_tissue_plasmacytoma is True

        # The rebuilt triggers put the new columns into the audit JSON.
        stored = rec.repos.enrolments.get(enrolment.id or 0)
        rec.repos.enrolments.update(
            stored.id,
            replace(stored.value, light_chain="lambda"),
            expected_version=stored.version,
            reason="light chain from the referral letter",
        )
        last = audit_rows(rec)[-1]
        assert last["table_name"] == "enrolments" and last["action"] == "update"
        assert json.loads(str(last["old_json"]))["light_chain"] is None
        assert json.loads(str(last["new_json"]))["light_chain"] == "lambda"

        with pytest.raises(sqlite3.IntegrityError):
            rec.db.conn.execute(
                "UPDATE enrolments SET light_chain = 'gamma', version = 2 WHERE id = 1"
            )
        with pytest.raises(sqlite3.IntegrityError):
            rec.db.conn.execute(
                "UPDATE response_assessments SET plasmacytoma_shrunk_50pct = 2, version = 2 "
                "WHERE id = 1"
            )
