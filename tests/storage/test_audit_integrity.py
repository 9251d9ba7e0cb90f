"""Holes in the audit trail (issue 15, item 7): impersonation, REPLACE, tampering, leftovers.

"Plain SQL" here is the real ``sqlite3`` shell where it is installed, and Python's sqlite3
module without the app's connection set-up otherwise: both are sessions that can run any SQL
on the file but cannot define the collation clinic-app's own connections carry.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from clinic_app.core.records import LabResult
from clinic_app.storage import integrity, schema
from clinic_app.storage.backup import backup_to, check, restore_from
from clinic_app.storage.database import Record, open_database
from clinic_app.storage.errors import StorageError

from .conftest import make_patient

SHELL = shutil.which("sqlite3")


def plain_sql(path: Path, sql: str) -> str:
    """Run ``sql`` as a plain SQL session; returns the error text ('' when it worked)."""
    if SHELL:
        done = subprocess.run(
            [SHELL, "-bail", str(path)], input=sql, capture_output=True, text=True, check=False
        )
        return done.stderr
    conn = sqlite3.connect(str(path), isolation_level=None)
    try:
        conn.executescript(sql)
    except sqlite3.Error as exc:
        return str(exc)
    finally:
        conn.close()
    return ""


def audit(record: Record) -> list[dict[str, object]]:
    cursor = record.sql.execute("SELECT * FROM audit_log ORDER BY id")
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def add_lab(record: Record, pid: int, value: str = "1.5") -> int:
    lab = LabResult(
        "anc", Decimal(value), "10^9/L", datetime(2026, 1, 5, 8, tzinfo=UTC), Decimal(value)
    )
    return record.repos.labs.add(pid, lab)


# --- who is acting ------------------------------------------------------------------------


@pytest.mark.sqlite_only
def test_plain_sql_that_fills_the_actor_table_is_not_recorded_as_the_app(record: Record) -> None:
    pid = record.repos.patients.add(make_patient())
    error = plain_sql(
        record.path,
        "BEGIN;"
        "INSERT INTO audit_actor (id, app_user, os_user, reason) VALUES (1, 'dr_who', 'x', 'y');"
        f"UPDATE patients SET given_name = 'Forged', version = version + 1 WHERE id = {pid};"
        "COMMIT;",
    )
    assert "only clinic-app names who is acting" in error
    # Without the actor row the same change goes through, and says where it came from.
    assert (
        plain_sql(
            record.path,
            f"UPDATE patients SET given_name = 'Zoe', version = version + 1 WHERE id = {pid};",
        )
        == ""
    )
    last = audit(record)[-1]
    assert last["via"] == schema.OUTSIDE_THE_APP
    assert last["app_user"] is None and last["os_user"] is None and last["reason"] is None
    assert not [e for e in audit(record) if e["app_user"] == "dr_who"]


@pytest.mark.sqlite_only
def test_a_session_with_its_own_actor_table_is_still_outside_the_app(record: Record) -> None:
    pid = record.repos.patients.add(make_patient())
    # A TEMP table of the same name is the session's own; the triggers never read it.
    assert (
        plain_sql(
            record.path,
            "CREATE TEMP TABLE audit_actor (id INTEGER, app_user TEXT, os_user TEXT, reason TEXT);"
            "INSERT INTO temp.audit_actor VALUES (1, 'dr_who', 'x', 'y');"
            f"UPDATE patients SET given_name = 'Zoe', version = version + 1 WHERE id = {pid};",
        )
        == ""
    )
    last = audit(record)[-1]
    assert (last["via"], last["app_user"]) == (schema.OUTSIDE_THE_APP, None)


@pytest.mark.sqlite_only
def test_plain_sql_cannot_write_a_created_by_name(record: Record) -> None:
    error = plain_sql(
        record.path,
        "INSERT INTO patients (mrn, family_name, given_name, date_of_birth, sex, created_by) "
        "VALUES ('X-1', 'A', 'B', '1950-01-01', 'F', 'dr_who (nurse)');",
    )
    assert "created_by is written by clinic-app only" in error
    assert record.sql.execute("SELECT count(*) FROM patients").fetchone()[0] == 0


def test_the_apps_own_writes_still_name_the_user(db_path: Path) -> None:
    with open_database(db_path, app_user="alice") as record:
        record.repos.patients.add(make_patient(), reason="referral")
        (row,) = audit(record)
        assert (row["via"], row["app_user"], row["reason"]) == ("clinic-app", "alice", "referral")


def test_a_left_behind_actor_row_does_not_block_later_writes(db_path: Path) -> None:
    # The only way to leave a committed row now: a program that sets up the app's collation.
    open_database(db_path).close()
    conn = sqlite3.connect(str(db_path))
    schema.prepare_connection(conn)
    conn.execute("INSERT INTO audit_actor (id, app_user, os_user) VALUES (1, 'ghost', 'x')")
    conn.commit()
    conn.close()
    with open_database(db_path, app_user="alice") as record:
        record.repos.patients.add(make_patient())
        (row,) = audit(record)
        assert row["app_user"] == "alice"  # not the ghost
        assert record.sql.execute("SELECT count(*) FROM audit_actor").fetchone()[0] == 0


def test_upgrade_clears_an_actor_row_left_by_an_older_version(db_path: Path) -> None:
    from sqlite_utils import Database

    db = Database(sqlite3.connect(str(db_path)))
    schema.migrations.apply(db, stop_before="0006_audit_guards")
    db.execute("INSERT INTO audit_actor (id, app_user, os_user) VALUES (1, 'ghost', 'x')")
    db.conn.commit()
    db.close()
    with open_database(db_path, app_user="alice") as record:
        record.repos.patients.add(make_patient())
        assert audit(record)[-1]["app_user"] == "alice"
        assert record.sql.execute("SELECT count(*) FROM audit_actor").fetchone()[0] == 0


# --- REPLACE ------------------------------------------------------------------------------


@pytest.mark.sqlite_only
def test_insert_or_replace_cannot_delete_reset_or_revive_a_lab(record: Record) -> None:
    pid = record.repos.patients.add(make_patient())
    lab_id = add_lab(record, pid)
    record.repos.labs.update(
        lab_id,
        record.repos.labs.get(lab_id).value,
        expected_version=1,
        reason="checked",
    )
    record.repos.labs.void(lab_id, expected_version=2, reason="wrong patient")
    before = record.sql.execute("SELECT * FROM labs WHERE id = ?", [lab_id]).fetchone()
    entries = len(audit(record))
    for conn_sql in (
        # SQLite's REPLACE deletes the old row without firing delete triggers (recursive
        # triggers are off by default, and per connection): the insert guard refuses it.
        f"INSERT OR REPLACE INTO labs (id, patient_id, test, value, unit, value_si, "
        f"collected_at) VALUES ({lab_id}, {pid}, 'anc', '9', '10^9/L', '9', "
        "'2026-01-05T08:00:00+00:00');",
        f"REPLACE INTO labs (id, patient_id, test, value, unit, value_si, collected_at) "
        f"VALUES ({lab_id}, {pid}, 'anc', '9', '10^9/L', '9', '2026-01-05T08:00:00+00:00');",
        "PRAGMA recursive_triggers = ON; "
        f"INSERT OR REPLACE INTO labs (id, patient_id, test, value, unit, value_si, "
        f"collected_at) VALUES ({lab_id}, {pid}, 'anc', '9', '10^9/L', '9', "
        "'2026-01-05T08:00:00+00:00');",
    ):
        assert "never replaced" in plain_sql(record.path, conn_sql)
    after = record.sql.execute("SELECT * FROM labs WHERE id = ?", [lab_id]).fetchone()
    assert after == before  # still voided, still version 3
    assert len(audit(record)) == entries


@pytest.mark.sqlite_only
def test_replace_on_a_unique_key_cannot_delete_the_other_patient(record: Record) -> None:
    first = record.repos.patients.add(make_patient("MRN-1"))
    second = record.repos.patients.add(make_patient("MRN-2"))
    error = plain_sql(
        record.path,
        "INSERT OR REPLACE INTO patients (mrn, family_name, given_name, date_of_birth, sex) "
        "VALUES ('MRN-1', 'Other', 'Person', '1960-01-01', 'M');",
    )
    assert "UNIQUE constraint failed: patients.mrn" in error
    error = plain_sql(
        record.path,
        f"UPDATE OR REPLACE patients SET mrn = 'MRN-1', version = version + 1 WHERE id = {second};",
    )
    assert "UNIQUE constraint failed: patients.mrn" in error
    ids = [r[0] for r in record.sql.execute("SELECT id FROM patients ORDER BY id")]
    assert ids == [first, second]


@pytest.mark.sqlite_only
def test_replace_cannot_rewrite_an_audit_entry(record: Record) -> None:
    record.repos.patients.add(make_patient())
    error = plain_sql(
        record.path,
        "INSERT OR REPLACE INTO audit_log (id, via, table_name, row_id, action) "
        "VALUES (1, 'clinic-app', 'patients', 1, 'insert');",
    )
    assert "audit log cannot be changed" in error
    assert audit(record)[0]["new_json"] is not None


@pytest.mark.sqlite_only
def test_every_unique_index_of_an_audited_table_is_guarded(record: Record) -> None:
    # REPLACE on a unique index the guards do not know would delete the other row.
    for table in (*schema.CLINICAL_TABLES, *schema.ACCOUNT_TABLES):
        found = set()
        for _seq, name, unique, origin, _partial in record.sql.execute(
            f"PRAGMA index_list({table})"
        ).fetchall():
            if unique and origin == "c":
                cols = tuple(r[2] for r in record.sql.execute(f"PRAGMA index_info({name})"))
                found.add(cols)
        assert found == {cols for cols, _live in schema.UNIQUE_KEYS.get(table, ())}, table


# --- check: triggers and the log against the rows -----------------------------------------


@pytest.mark.sqlite_only
def test_a_whole_record_checks_clean(record: Record) -> None:
    pid = record.repos.patients.add(make_patient())
    lab_id = add_lab(record, pid)
    record.repos.labs.void(lab_id, expected_version=1, reason="duplicate")
    assert integrity.verify(record.db.conn) == []
    assert check(record) == []


@pytest.mark.sqlite_only
def test_check_reports_a_replaced_trigger(record: Record) -> None:
    assert (
        plain_sql(
            record.path,
            "DROP TRIGGER labs_audit_update;"
            "CREATE TRIGGER labs_audit_update AFTER UPDATE ON labs BEGIN SELECT 1; END;",
        )
        == ""
    )
    assert any(
        "labs_audit_update on labs is not the one clinic-app installs" in p for p in check(record)
    )


@pytest.mark.sqlite_only
def test_check_reports_a_dropped_trigger_and_an_added_one(record: Record) -> None:
    assert (
        plain_sql(
            record.path,
            "DROP TRIGGER patients_guard_insert;"
            "CREATE TRIGGER sneaky AFTER INSERT ON labs BEGIN SELECT 1; END;",
        )
        == ""
    )
    problems = check(record)
    assert any("patients_guard_insert is missing" in p for p in problems)
    assert any("sneaky on labs is not one clinic-app installs" in p for p in problems)


@pytest.mark.sqlite_only
def test_check_reports_a_change_made_with_the_triggers_off(record: Record) -> None:
    pid = record.repos.patients.add(make_patient())
    lab_id = add_lab(record, pid, "1.5")
    audit_update = record.sql.execute(
        "SELECT sql FROM sqlite_master WHERE name = 'labs_audit_update'"
    ).fetchone()[0]
    assert (
        plain_sql(
            record.path,
            "DROP TRIGGER labs_audit_update;"
            f"UPDATE labs SET value = '15', value_si = '15', version = 2 WHERE id = {lab_id};"
            f"{audit_update};",
        )
        == ""
    )
    problems = check(record)
    assert f"labs row {lab_id}: value is '15' but its audit trail ends with '1.5'" in (
        "\n".join(problems)
    )


@pytest.mark.sqlite_only
def test_check_reports_a_rewritten_and_a_shortened_audit_log(record: Record) -> None:
    pid = record.repos.patients.add(make_patient())
    add_lab(record, pid, "1.5")
    add_lab(record, pid, "2.5")
    guards = {
        name: record.sql.execute("SELECT sql FROM sqlite_master WHERE name = ?", [name]).fetchone()[
            0
        ]
        for name in ("audit_log_no_update", "audit_log_no_delete")
    }
    assert (
        plain_sql(
            record.path,
            "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;"
            "UPDATE audit_log SET new_json = json_set(new_json, '$.value', '0.1') "
            "WHERE table_name = 'labs' AND row_id = 1;"
            "DELETE FROM audit_log WHERE table_name = 'labs' AND row_id = 2;"
            "DELETE FROM audit_log WHERE table_name = 'patients';"
            + ";".join(guards.values())
            + ";",
        )
        == ""
    )
    problems = check(record)
    assert any(
        "labs row 1: value is '1.5' but its audit trail ends with '0.1'" in p for p in problems
    )
    assert any("labs row 2: has no audit entry" in p for p in problems)
    assert any("patients row 1: has no audit entry" in p for p in problems)
    # Entry 1 (the patient's) is gone; the last one (lab 2's) leaves no gap in the numbers.
    assert any("1 entries of the audit log are missing" in p for p in problems)


@pytest.mark.sqlite_only
def test_check_reports_an_entry_for_a_deleted_row(record: Record) -> None:
    pid = record.repos.patients.add(make_patient())
    lab_id = add_lab(record, pid)
    assert (
        plain_sql(
            record.path,
            f"DROP TRIGGER labs_no_delete; DELETE FROM labs WHERE id = {lab_id};",
        )
        == ""
    )
    record.sql.execute(
        schema.audit_trigger_sql("labs", schema.audited_columns(record.db, "labs"))[
            "labs_no_delete"
        ]
    )
    record.db.conn.commit()
    problems = check(record)
    assert any(f"labs row {lab_id}: in the audit log but not in the record" in p for p in problems)


@pytest.mark.sqlite_only
def test_restore_refuses_a_backup_without_triggers_or_audit_log(
    record: Record, tmp_path: Path
) -> None:
    pid = record.repos.patients.add(make_patient())
    add_lab(record, pid)
    bad = tmp_path / "bad.sqlite3"
    backup_to(record, bad)
    statements = ";".join(
        f"DROP TRIGGER {r[0]}"
        for r in record.sql.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
    )
    assert plain_sql(bad, statements + "; DELETE FROM audit_log;") == ""
    before = record.sql.execute("SELECT count(*) FROM labs").fetchone()[0]
    record.close()
    with pytest.raises(StorageError, match="failed its check") as refused:
        restore_from(record.path, bad)
    assert "labs_no_delete is missing" in str(refused.value)
    assert "has no audit entry" in str(refused.value)
    with open_database(record.path) as again:
        assert again.db.execute("SELECT count(*) FROM labs").fetchone()[0] == before


# --- what an update stores (issue 16) -----------------------------------------------------


def test_an_update_stores_only_what_it_changed_and_every_state_is_recoverable(
    record: Record,
) -> None:
    from clinic_app.storage.audit import row_states

    repo = record.repos.patients
    pid = repo.add(make_patient())
    repo.update(pid, make_patient(family="Novak"), expected_version=1, reason="spelling")
    repo.void(pid, expected_version=2, reason="duplicate")
    _insert, update, void = audit(record)
    assert set(json.loads(str(update["old_json"]))) == {"family_name", "version"}
    assert json.loads(str(update["new_json"])) == {"family_name": "Novak", "version": 2}
    voided = json.loads(str(void["new_json"]))
    assert voided["mrn"] == "MRN-0001" and voided["void_reason"] == "duplicate"  # whole row
    states = row_states(repo.history(pid))
    assert states[1][0]["family_name"] == "Nováková" and states[1][1]["family_name"] == "Novak"
    assert states[1][1]["mrn"] == "MRN-0001"  # unchanged columns recovered from the insert
    assert states[2][1]["voided_at"] is not None


def test_upgrade_compacts_old_whole_row_updates_and_keeps_every_value(db_path: Path) -> None:
    from sqlite_utils import Database

    from clinic_app.storage.audit import history, row_states

    db = Database(sqlite3.connect(str(db_path)))
    schema.migrations.apply(db, stop_before="0006_audit_guards")
    # The update trigger as schema 4 shipped it: both whole rows on every update.
    cols = schema.audited_columns(db, "patients")

    def whole(alias: str) -> str:
        return "json_object(" + ", ".join(f"'{c}', {alias}.{c}" for c in cols) + ")"

    db.execute("DROP TRIGGER patients_audit_update")
    db.execute(
        "CREATE TRIGGER patients_audit_update AFTER UPDATE ON patients BEGIN "
        "INSERT INTO audit_log (via, table_name, row_id, action, old_json, new_json) VALUES "
        f"('outside the app', 'patients', NEW.id, 'update', {whole('OLD')}, {whole('NEW')}); END"
    )
    db.execute(
        "INSERT INTO patients (mrn, family_name, given_name, date_of_birth, sex) "
        "VALUES ('OLD-1', 'Ōta', 'Hiro', '1949-12-31', 'M')"
    )
    db.execute("UPDATE patients SET family_name = 'Ota', version = 2 WHERE id = 1")
    db.execute("UPDATE patients SET given_name = 'Hiroshi', version = 3 WHERE id = 1")
    db.conn.commit()
    old_update = json.loads(db.execute("SELECT old_json FROM audit_log WHERE id = 2").fetchone()[0])
    assert "mrn" in old_update  # before 0006 an update stored both whole rows
    db.close()
    with open_database(db_path) as record:
        _insert, first, second = audit(record)
        assert json.loads(str(first["old_json"])) == {"family_name": "Ōta", "version": 1}
        assert json.loads(str(first["new_json"])) == {"family_name": "Ota", "version": 2}
        assert json.loads(str(second["new_json"])) == {"given_name": "Hiroshi", "version": 3}
        states = row_states(history(record, "patients", 1))
        assert states[1][0]["family_name"] == "Ōta" and states[1][1]["given_name"] == "Hiro"
        assert states[2][1] == {
            **states[2][0],
            "given_name": "Hiroshi",
            "version": 3,
        }
        assert check(record) == []


def test_compaction_keeps_a_chain_that_does_not_add_up_for_check_to_report(
    db_path: Path,
) -> None:
    from sqlite_utils import Database

    db = Database(sqlite3.connect(str(db_path)))
    schema.migrations.apply(db, stop_before="0006_audit_guards")
    cols = schema.audited_columns(db, "patients")

    def whole(alias: str) -> str:
        return "json_object(" + ", ".join(f"'{c}', {alias}.{c}" for c in cols) + ")"

    db.execute("DROP TRIGGER patients_audit_update")  # schema 4's: both whole rows
    db.execute(
        "CREATE TRIGGER patients_audit_update AFTER UPDATE ON patients BEGIN "
        "INSERT INTO audit_log (via, table_name, row_id, action, old_json, new_json) VALUES "
        f"('outside the app', 'patients', NEW.id, 'update', {whole('OLD')}, {whole('NEW')}); END"
    )
    db.execute(
        "INSERT INTO patients (mrn, family_name, given_name, date_of_birth, sex) "
        "VALUES ('OLD-1', 'Ōta', 'Hiro', '1949-12-31', 'M')"
    )
    db.execute("UPDATE patients SET family_name = 'Ota', version = 2 WHERE id = 1")
    # Someone rewrote the insert entry with the guards off: the chain no longer adds up.
    db.execute("DROP TRIGGER audit_log_no_update")
    db.execute(
        "UPDATE audit_log SET new_json = json_set(new_json, '$.family_name', 'X') WHERE id = 1"
    )
    db.conn.commit()
    kept = db.execute("SELECT old_json FROM audit_log WHERE id = 2").fetchone()[0]
    db.close()
    with open_database(db_path) as record:
        assert audit(record)[1]["old_json"] == kept  # left whole, as evidence
        problems = check(record)
        assert any(
            "patients row 1: audit entry 2 says family_name was 'Ōta'" in p for p in problems
        )


def test_the_audit_readers_show_an_update_in_full(record: Record) -> None:
    from clinic_app.storage.audit import state_before
    from clinic_app.storage.audit_queries import AuditFilter, audit_entries, field_changes

    pid = record.repos.patients.add(make_patient())
    other = record.repos.patients.add(make_patient("MRN-2"))
    lab_id = add_lab(record, pid, "1.5")
    add_lab(record, other, "2.5")
    record.repos.labs.update(
        lab_id, record.repos.labs.get(lab_id).value, expected_version=1, reason="checked"
    )
    # The update logs only version; the patient filter still finds it (read from the row).
    mine = audit_entries(record, AuditFilter(patient_id=pid))
    assert [(e.table, e.action) for e in mine] == [
        ("labs", "update"),
        ("labs", "insert"),
        ("patients", "insert"),
    ]
    update = mine[0]
    rows = field_changes(update, state_before(record, update))
    assert rows[0] == ("version", 1, 2)  # what changed first
    assert ("value", "1.5", "1.5") in rows and ("patient_id", pid, pid) in rows  # then the rest
