"""The server schema (issue 18) keeps every promise of the SQLite one, on a real server.

The same tables and columns; a raw SQL change audited "outside the app"; no deletes; the
version must move; the audit log append-only; the same limits; the app's role unable to drop
a trigger, delete or alter the audit log; and audit JSON byte-identical to SQLite's.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
import pytest

from clinic_app.storage import schema
from clinic_app.storage.database import Record, open_database
from clinic_app.storage.engines import ConstraintError, Engine, pg_schema
from clinic_app.storage.engines.postgres import PostgresEngine, describe_environment_error
from clinic_app.storage.errors import ReadOnlyError, StorageError

from .pg_helpers import as_user, audit_rows, database_name, engine_on, write

_PATIENT = (
    "INSERT INTO patients (mrn, family_name, given_name, date_of_birth, sex, created_at, "
    "created_by) VALUES (?, ?, 'Zoë', '1951-03-14', 'F', '2026-01-02T03:04:05.678Z', ?)"
)


@pytest.fixture
def pg(pg_database: str) -> Iterator[PostgresEngine]:
    with engine_on(pg_database, install=True) as engine:
        yield engine


@pytest.fixture
def sqlite_record(tmp_path: Path) -> Iterator[Record]:
    with open_database(tmp_path / "mirror.sqlite3") as record:
        yield record


# -- the same schema ----------------------------------------------------------------------------


def test_every_sqlite_migration_is_known_to_the_server_side() -> None:
    # A later SQLite migration needs its PostgreSQL step in pg_schema.STEPS.
    unknown = [
        n
        for n in schema.MIGRATION_NAMES
        if n not in pg_schema.BASELINE and n not in pg_schema.STEPS
    ]
    assert unknown == []


def test_tables_and_columns_are_sqlites_in_the_same_order(
    pg: PostgresEngine, sqlite_record: Record
) -> None:
    lite = sqlite_record.sql
    tables = lite.table_names() - {"_sqlite_migrations", "audit_actor"}
    assert pg.table_names() - {"clinic_app_migrations", "checkin_sessions"} == tables
    for table in sorted(tables):
        assert pg.columns(table) == lite.columns(table), table


def test_unique_keys_are_sqlites(pg: PostgresEngine) -> None:
    rows = pg.rows(
        "SELECT c.relname AS tab, i.indisunique AS uniq, i.indpred IS NOT NULL AS partial, "
        "array_to_string(ARRAY(SELECT a.attname FROM unnest(i.indkey) WITH ORDINALITY k(n, o) "
        "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.n ORDER BY k.o), ',') AS cols "
        "FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid "
        "WHERE c.relnamespace = current_schema()::regnamespace AND i.indisunique "
        "AND NOT i.indisprimary AND c.relname <> 'clinic_app_migrations'"
    )
    found = {(r["tab"], tuple(r["cols"].split(",")), r["partial"]) for r in rows}
    expected = {
        (table, columns, live_only)
        for table, keys in schema.UNIQUE_KEYS.items()
        for columns, live_only in keys
    }
    assert found == expected


def test_migrate_is_idempotent_and_the_record_is_clean(pg: PostgresEngine) -> None:
    pg.begin_write()
    pg_schema.migrate(pg)
    pg.commit()
    assert pg.applied_migrations() == sorted(schema.MIGRATION_NAMES)
    assert pg.schema_version() == schema.SCHEMA_VERSION
    assert pg.record_birth() is not None and pg.record_birth()[0] == "0001_initial_schema"  # type: ignore[index]
    assert pg_schema.schema_problems(pg) == []
    assert {t.name for t in pg_schema.triggers()} <= pg.trigger_names()


def test_a_database_holding_other_tables_is_not_taken_over(pg_database: str) -> None:
    with engine_on(pg_database) as engine:
        engine.execute("CREATE TABLE patients (id BIGINT)")
        engine.begin_write()
        with pytest.raises(StorageError, match="not a clinic-app record"):
            pg_schema.migrate(engine)
        engine.rollback()


# -- the audit promises -------------------------------------------------------------------------


def test_raw_sql_is_audited_as_outside_the_app(pg: PostgresEngine) -> None:
    pg.execute(
        "INSERT INTO patients (mrn, family_name, given_name, date_of_birth, sex) "
        "VALUES ('R1', 'Raw', 'Sql', '1950-01-01', 'M')"
    )
    pg.execute("UPDATE patients SET family_name = 'Raw2', version = version + 1")
    rows = audit_rows(pg)
    assert [(r["via"], r["action"], r["app_user"], r["os_user"]) for r in rows] == [
        ("outside the app", "insert", None, None),
        ("outside the app", "update", None, None),
    ]
    # created_by may only name someone when the app is the one writing.
    with pytest.raises(ConstraintError, match=r"^created_by is written by clinic-app only$"):
        write(pg, _PATIENT, ["R2", "x", "anna"], actor=None)
    write(pg, _PATIENT, ["R2", "x", "anna"])
    assert audit_rows(pg)[-1]["via"] == "clinic-app"


def test_deletes_truncates_silent_edits_and_revivals_are_refused(pg: PostgresEngine) -> None:
    write(pg, _PATIENT, ["G1", "Guard", "anna"])
    refused = {
        "DELETE FROM patients": "clinical rows are never deleted: void them with a reason",
        "TRUNCATE patients CASCADE": "clinical rows are never deleted: void them with a reason",
        "UPDATE patients SET family_name = 'x'": (
            "every update must set version = version + 1 and keep id"
        ),
        "UPDATE patients SET id = 5, version = version + 1": (
            "every update must set version = version + 1 and keep id"
        ),
    }
    for sql, message in refused.items():
        with pytest.raises(ConstraintError) as caught:
            write(pg, sql, actor=None)
        assert str(caught.value) == message, sql
    write(pg, "UPDATE patients SET voided_at = 'now', void_reason = 'dup', version = version + 1")
    with pytest.raises(ConstraintError, match=r"^a voided row cannot be changed$"):
        write(pg, "UPDATE patients SET voided_at = NULL, void_reason = NULL, version = version + 1")


def test_the_audit_log_is_append_only(pg: PostgresEngine) -> None:
    write(pg, _PATIENT, ["A1", "Log", "anna"])
    for sql in (
        "UPDATE audit_log SET reason = 'rewritten'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ):
        with pytest.raises(ConstraintError, match=r"^the audit log cannot be changed$"):
            write(pg, sql, actor=None)
    assert len(audit_rows(pg)) == 1


def test_limits_days_and_json_are_checked_by_the_server(pg: PostgresEngine) -> None:
    write(pg, _PATIENT, ["L1", "Limits", "anna"])
    lab = (
        "INSERT INTO labs (patient_id, test, value, unit, value_si, collected_at) "
        "VALUES (1, ?, ?, ?, ?, '2026-01-05T08:00:00Z')"
    )
    cases = {
        "labs.test is not a test of the lab catalogue": ["unobtainium", "1", "g/L", "1"],
        "labs.unit is not a unit of this test": ["anc", "1", "furlongs", "1"],
        "labs.value is not a possible value of this test": ["anc", "1000000", "10^9/L", "1e6"],
    }
    for message, params in cases.items():
        with pytest.raises(ConstraintError) as caught:
            write(pg, lab, params, actor=None)
        assert str(caught.value) == message
    write(pg, lab, ["anc", "1.5", "10^9/L", "1.5"])
    with pytest.raises(ConstraintError, match=r"^celsius is outside 25-45$"):
        write(
            pg,
            "INSERT INTO temperatures (patient_id, measured_at, celsius) VALUES (1, 'x', '99')",
        )
    # An older row outside the limits can still be voided: only a changed value is checked.
    pg.execute("ALTER TABLE body_measurements DISABLE TRIGGER body_measurements_limits_insert")
    write(
        pg,
        "INSERT INTO body_measurements (patient_id, measured_on, weight_kg) "
        "VALUES (1, '2026-01-01', '700')",
    )
    pg.execute("ALTER TABLE body_measurements ENABLE TRIGGER body_measurements_limits_insert")
    write(
        pg,
        "UPDATE body_measurements SET voided_at = 'x', void_reason = 'typo', version = version + 1",
    )
    with pytest.raises(ConstraintError, match=r"^weight_kg is outside 25-300 kg$"):
        write(
            pg,
            "INSERT INTO body_measurements (patient_id, measured_on, weight_kg) "
            "VALUES (1, '2026-01-01', '700')",
        )
    for day, accepted in (("2024-02-29", True), ("2026-02-29", False), ("2026-1-5", False)):
        sql = "INSERT INTO gcsf_doses (patient_id, given_on) VALUES (1, ?)"
        if accepted:
            write(pg, sql, [day])
        else:
            with pytest.raises(ConstraintError, match=r"^CHECK constraint failed: gcsf_doses_"):
                write(pg, sql, [day])
    with pytest.raises(ConstraintError, match=r"^CHECK constraint failed: settings_value_check$"):
        write(pg, "INSERT INTO settings (key, value) VALUES ('k', '{not json')")


# -- byte-identical audit JSON ------------------------------------------------------------------

# One row's life in both engines, through raw SQL with the app's actor named.
_CHANGES: list[tuple[str, list[Any], bool]] = [
    (_PATIENT, ["M-1", 'Nováková "Ō\'ta"\n\t\\ 😀', "anna"], True),
    (
        "INSERT INTO users (username, full_name, role, password_hash, password_changed_at, "
        "created_at, created_by) VALUES ('anna', 'Anna N', 'nurse', '$argon2id$secret', "
        "'2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', 'anna')",
        [],
        True,
    ),
    (
        "UPDATE patients SET family_name = ?, allergies = ?, version = version + 1 WHERE id = 1",
        ["Novak", '["penicillin"]'],
        True,
    ),
    (
        "UPDATE users SET password_hash = '$argon2id$other', failed_attempts = 2, "
        "version = version + 1 WHERE id = 1",
        [],
        True,
    ),
    (
        "INSERT INTO labs (patient_id, test, value, unit, value_si, collected_at, created_at, "
        "created_by) VALUES (1, 'anc', '1.50', '10^9/L', '1.5', '2026-01-05T08:00:00Z', "
        "'2026-01-05T08:00:00.000Z', 'anna')",
        [],
        True,
    ),
    (
        "UPDATE labs SET symptomatic = 1, lln = NULL, uln = '7.5', version = version + 1 "
        "WHERE id = 1",
        [],
        False,  # plain SQL: outside the app
    ),
    (
        "UPDATE patients SET voided_at = '2026-02-01T00:00:00.000Z', void_reason = 'duplicate', "
        "version = version + 1 WHERE id = 1",
        [],
        True,
    ),
]


def _replay(engine: Engine) -> list[tuple[Any, ...]]:
    for sql, params, as_app in _CHANGES:
        engine.begin_write()
        if as_app:
            engine.name_actor("anna", "nurse-pc", "why: «quoted»")
        engine.execute(sql, params)
        engine.forget_actor()
        engine.commit()
    columns = "via, app_user, os_user, reason, table_name, row_id, action, old_json, new_json"
    return [tuple(r) for r in engine.execute(f"SELECT {columns} FROM audit_log ORDER BY id")]


def test_the_audit_json_is_byte_identical_to_sqlites(
    pg: PostgresEngine, sqlite_record: Record
) -> None:
    on_sqlite = _replay(sqlite_record.sql)
    on_server = _replay(pg)
    assert len(on_server) == len(_CHANGES)
    for lite, server in zip(on_sqlite, on_server, strict=True):
        assert server == lite
    assert "secret" not in repr(on_server) and "other" not in repr(on_server)
    assert on_server[-1][6] == "void" and on_server[5][0] == "outside the app"


# -- roles --------------------------------------------------------------------------------------

_ROLE_COUNT = itertools.count(1)


@pytest.fixture
def roles(pg_database: str) -> tuple[str, str]:
    """An owner role that installed the record and the app's role, as the admin guide says."""
    n = next(_ROLE_COUNT)
    owner, app = (
        f"owner_{n}_{database_name(pg_database)[:20]}",
        f"app_{n}_{database_name(pg_database)[:20]}",
    )
    cluster, in_database = pg_schema.role_statements(owner, app, database_name(pg_database))
    with psycopg.connect(pg_database, autocommit=True) as admin:
        for statement in cluster[:2]:  # the test database exists already
            admin.execute(statement.encode())
        admin.execute(f'ALTER DATABASE "{database_name(pg_database)}" OWNER TO "{owner}"'.encode())
        for statement in in_database:
            admin.execute(statement.encode())
    with engine_on(as_user(pg_database, owner), install=True):
        pass
    return owner, app


def test_the_app_role_writes_rows_but_cannot_touch_the_guards(
    pg_database: str, roles: tuple[str, str]
) -> None:
    _owner, app = roles
    with engine_on(as_user(pg_database, app)) as engine:
        write(engine, _PATIENT, ["P1", "Least", "anna"])
        write(engine, "UPDATE patients SET family_name = 'Priv', version = version + 1")
        assert [r["via"] for r in audit_rows(engine)] == ["clinic-app", "clinic-app"]
        for sql in (
            "DELETE FROM patients",
            "TRUNCATE patients CASCADE",
            "DROP TRIGGER patients_no_delete ON patients",
            "ALTER TABLE patients DISABLE TRIGGER patients_audit_update",
            "ALTER TABLE audit_log ADD COLUMN x TEXT",
            "DROP TABLE audit_log",
            "INSERT INTO audit_log (via, table_name, row_id, action) "
            "VALUES ('clinic-app', 'patients', 1, 'insert')",
            "UPDATE audit_log SET reason = 'x'",
            "DELETE FROM audit_log",
            "CREATE OR REPLACE FUNCTION clinic_app_no_delete() RETURNS trigger "
            "LANGUAGE plpgsql AS $$ BEGIN RETURN OLD; END $$",
            "CREATE TABLE mine (a TEXT)",
            "INSERT INTO clinic_app_migrations VALUES ('9999_x', 'now')",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                write(engine, sql)
        with pytest.raises(psycopg.errors.InsufficientPrivilege) as caught:
            write(engine, "DELETE FROM patients")
        problem = describe_environment_error(caught.value, "postgresql://db/record")
        assert isinstance(problem, ReadOnlyError) and "nothing was saved" in str(problem)
        assert pg_schema.schema_problems(engine) == []
        for function in pg_schema.trigger_functions():
            (allowed,) = engine.execute(
                "SELECT has_function_privilege(current_user, ?, 'EXECUTE')", [f"{function}()"]
            ).fetchone()
            assert allowed is False, function


def test_roles_sql_is_one_script_for_the_admin() -> None:
    text = pg_schema.roles_sql("clinic_owner", "clinic_app", "clinic")
    assert 'CREATE ROLE "clinic_app" LOGIN' in text and "\\connect clinic" in text
    assert "DELETE" not in text.split("GRANT SELECT, INSERT, UPDATE")[1].splitlines()[0]


# -- the checks ---------------------------------------------------------------------------------


def test_schema_problems_name_edited_dropped_disabled_and_added_triggers(
    pg: PostgresEngine,
) -> None:
    pg.execute(
        "CREATE OR REPLACE FUNCTION clinic_app_guard_update() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$"
    )
    pg.execute("DROP TRIGGER labs_audit_update ON labs")
    pg.execute("ALTER TABLE patients DISABLE TRIGGER patients_no_delete")
    pg.execute(
        "CREATE TRIGGER sneaky BEFORE UPDATE ON patients FOR EACH ROW "
        "EXECUTE FUNCTION clinic_app_guard_insert()"
    )
    problems = pg_schema.schema_problems(pg)
    assert any("function clinic_app_guard_update is not the one" in p for p in problems)
    assert any("trigger labs_audit_update is missing" in p for p in problems)
    assert any("trigger patients_no_delete on patients is switched off" in p for p in problems)
    assert any("trigger sneaky on patients is not one clinic-app installs" in p for p in problems)
    assert len(problems) == 4


def test_two_workstations_creating_the_record_at_once_install_it_once(pg_database: str) -> None:
    import threading

    with engine_on(pg_database) as first, engine_on(pg_database) as second:
        first.begin_write()
        pg_schema.migrate(first)  # holds the migration lock until COMMIT
        failures: list[BaseException] = []

        def other_desk() -> None:
            try:
                second.begin_write()
                pg_schema.migrate(second)  # waits, then finds the record made
                second.commit()
            except BaseException as exc:  # reported below, in the test's thread
                failures.append(exc)

        desk = threading.Thread(target=other_desk)
        desk.start()
        desk.join(timeout=1)
        assert desk.is_alive()  # still waiting for the first desk's transaction
        first.commit()
        desk.join(timeout=30)
        assert not desk.is_alive() and failures == []
        assert second.applied_migrations() == sorted(schema.MIGRATION_NAMES)
        assert pg_schema.schema_problems(second) == []


def test_the_everyday_role_cannot_create_the_record_but_works_in_it_once_the_owner_has(
    pg_database: str,
) -> None:
    from clinic_app.storage.database import ServerAddress, open_database
    from clinic_app.storage.errors import ReadOnlyError

    n = next(_ROLE_COUNT)
    name = database_name(pg_database)
    owner, app = f"owner_{n}_{name[:20]}", f"app_{n}_{name[:20]}"
    cluster, in_database = pg_schema.role_statements(owner, app, name)
    with psycopg.connect(pg_database, autocommit=True) as admin:
        for statement in cluster[:2]:
            admin.execute(statement.encode())
        admin.execute(f'ALTER DATABASE "{name}" OWNER TO "{owner}"'.encode())
        for statement in in_database:
            admin.execute(statement.encode())
    as_app = ServerAddress(as_user(pg_database, app))
    with pytest.raises(ReadOnlyError, match="only the role that owns it") as refused:
        open_database(as_app)
    assert "needs creating" in str(refused.value) and "nothing was saved" in str(refused.value)

    open_database(ServerAddress(as_user(pg_database, owner))).close()  # the first start
    with open_database(as_app) as record, record.transaction(reason="first patient"):
        from clinic_app.core.records import Patient, Sex

        pid = record.repos.patients.add(Patient("R-1", "Role", "Ann", date(1950, 1, 1), Sex.FEMALE))
    with open_database(as_app) as record:
        assert record.repos.patients.get(pid).value.mrn == "R-1"
        assert [e.via for e in record.repos.patients.history(pid)] == ["clinic-app"]
