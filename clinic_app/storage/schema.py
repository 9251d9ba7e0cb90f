"""The record's schema, as numbered migrations, and the audit triggers on every clinical table.

Conventions (see docs/storage.md):
- every table is ``STRICT``, so a value of the wrong type is refused instead of coerced;
- Decimals are TEXT exactly as the Decimal prints (``"1.30"`` stays ``"1.30"``), days are ISO
  ``YYYY-MM-DD`` text, instants are UTC ISO text ending in ``Z`` (or ``+00:00``);
- every clinical row has ``version``, ``created_at``, ``created_by``, ``voided_at``,
  ``void_reason``; rows are voided with a reason, never deleted (a trigger refuses DELETE).

Migrations are append-only: never edit one that has shipped, add the next one instead.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlite_utils import Database

MIGRATION_SET = "clinic_app"

_Step = Callable[["Database"], None]


class _Migrations:
    """The migrations, registered in order; sqlite-utils applies them, imported only when a
    record needs upgrading (its import is ~60 ms of every start otherwise, issue 16)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.steps: list[tuple[str, _Step]] = []

    def __call__(self, *, name: str) -> Callable[[_Step], _Step]:
        def register(step: _Step) -> _Step:
            self.steps.append((name, step))
            return step

        return register

    def apply(self, db: Database, *, stop_before: str | Iterable[str] | None = None) -> Any:
        from clinic_app.storage import import_sqlite_utils_alone

        import_sqlite_utils_alone()
        from sqlite_utils.migrations import Migrations

        real = Migrations(self.name)
        for name, step in self.steps:
            real(name=name)(step)
        return real.apply(db, stop_before=stop_before)


migrations = _Migrations(MIGRATION_SET)

OUTSIDE_THE_APP = "outside the app"
"""The ``via`` (and ``created_by``) recorded for a change made by plain SQL on the file."""

_NOW = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"

# Bookkeeping columns shared by every clinical table.
_STANDARD = f"""
    version INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at TEXT NOT NULL DEFAULT ({_NOW}),
    created_by TEXT NOT NULL DEFAULT '{OUTSIDE_THE_APP}',
    voided_at TEXT,
    void_reason TEXT,
    CHECK ((voided_at IS NULL) = (void_reason IS NULL))"""


def _iso_day(column: str, nullable: bool = False) -> str:
    check = f"{column} = date({column})"
    return f"CHECK ({column} IS NULL OR {check})" if nullable else f"CHECK ({check})"


def _json(column: str) -> str:
    return f"CHECK ({column} IS NULL OR json_valid({column}))"


def _flag(column: str) -> str:
    return f"CHECK ({column} IS NULL OR {column} IN (0, 1))"


_V1_TABLES: dict[str, str] = {
    "patients": f"""
        id INTEGER PRIMARY KEY,
        mrn TEXT NOT NULL CHECK (length(trim(mrn)) > 0),
        family_name TEXT NOT NULL,
        given_name TEXT NOT NULL,
        date_of_birth TEXT NOT NULL {_iso_day("date_of_birth")},
        sex TEXT NOT NULL CHECK (sex IN ('F', 'M')),
        allergies TEXT NOT NULL DEFAULT '[]' {_json("allergies")},
        alerts TEXT NOT NULL DEFAULT '[]' {_json("alerts")},""",
    "body_measurements": f"""
        id INTEGER PRIMARY KEY,
        patient_id INTEGER NOT NULL REFERENCES patients(id),
        measured_on TEXT NOT NULL {_iso_day("measured_on")},
        weight_kg TEXT NOT NULL,
        height_cm TEXT,""",
    "enrolments": f"""
        id INTEGER PRIMARY KEY,
        patient_id INTEGER NOT NULL REFERENCES patients(id),
        protocol TEXT NOT NULL,
        enrolled_on TEXT NOT NULL {_iso_day("enrolled_on")},
        consent_on TEXT NOT NULL {_iso_day("consent_on")},
        gates TEXT NOT NULL DEFAULT '{{}}' {_json("gates")},
        dose_level INTEGER,
        cohort TEXT,
        status TEXT NOT NULL
            CHECK (status IN ('screening', 'active', 'maintenance', 'off_study')),
        off_study_on TEXT {_iso_day("off_study_on", nullable=True)},
        off_study_reason TEXT CHECK (off_study_reason IS NULL OR off_study_reason IN
            ('progression', 'toxicity', 'withdrawal', 'transplant', 'death', 'other')),""",
    "labs": """
        id INTEGER PRIMARY KEY,
        patient_id INTEGER NOT NULL REFERENCES patients(id),
        test TEXT NOT NULL,
        value TEXT NOT NULL,
        unit TEXT NOT NULL,
        value_si TEXT NOT NULL,
        lln TEXT,
        uln TEXT,
        collected_at TEXT NOT NULL,""",
    "cycles": f"""
        id INTEGER PRIMARY KEY,
        enrolment_id INTEGER NOT NULL REFERENCES enrolments(id),
        number INTEGER NOT NULL CHECK (number >= 1),
        phase TEXT NOT NULL CHECK (phase IN ('induction', 'treatment', 'maintenance')),
        planned_start TEXT NOT NULL {_iso_day("planned_start")},
        start_date TEXT {_iso_day("start_date", nullable=True)},
        delay_days INTEGER NOT NULL DEFAULT 0 CHECK (delay_days >= 0),
        delay_reason TEXT,
        dose_level INTEGER,
        bsa_m2 TEXT,
        bsa_formula TEXT,
        measurement_id INTEGER REFERENCES body_measurements(id),
        crcl_ml_min TEXT,
        crcl_lab_id INTEGER REFERENCES labs(id),
        elected_options TEXT NOT NULL DEFAULT '{{}}' {_json("elected_options")},
        status TEXT NOT NULL
            CHECK (status IN ('planned', 'started', 'completed', 'cancelled')),""",
    "dose_events": f"""
        id INTEGER PRIMARY KEY,
        cycle_id INTEGER NOT NULL REFERENCES cycles(id),
        day INTEGER NOT NULL CHECK (day >= 1),
        drug TEXT NOT NULL,
        dose_mg TEXT NOT NULL,
        route TEXT,
        units TEXT {_json("units")},
        status TEXT NOT NULL CHECK (status IN ('planned', 'given', 'held', 'missed')),
        given_at TEXT,
        reason TEXT,""",
    "adverse_events": f"""
        id INTEGER PRIMARY KEY,
        patient_id INTEGER NOT NULL REFERENCES patients(id),
        term TEXT NOT NULL,
        grade INTEGER NOT NULL CHECK (grade BETWEEN 1 AND 5),
        onset TEXT NOT NULL {_iso_day("onset")},
        resolved TEXT {_iso_day("resolved", nullable=True)},
        serious INTEGER NOT NULL DEFAULT 0 {_flag("serious")},
        attribution TEXT NOT NULL DEFAULT '{{}}' {_json("attribution")},
        attributed_to_progression INTEGER NOT NULL DEFAULT 0
            {_flag("attributed_to_progression")},
        despite_maximal_therapy INTEGER {_flag("despite_maximal_therapy")},
        with_bleeding INTEGER {_flag("with_bleeding")},
        with_pain INTEGER {_flag("with_pain")},
        steroids_given INTEGER {_flag("steroids_given")},
        required_dose_reduction INTEGER NOT NULL DEFAULT 0 {_flag("required_dose_reduction")},
        grade_history TEXT NOT NULL DEFAULT '[]' {_json("grade_history")},
        notes TEXT NOT NULL DEFAULT '',""",
    "response_assessments": f"""
        id INTEGER PRIMARY KEY,
        patient_id INTEGER NOT NULL REFERENCES patients(id),
        assessed_on TEXT NOT NULL {_iso_day("assessed_on")},
        serum_m_protein_g_dl TEXT,
        urine_m_protein_mg_24h TEXT,
        serum_ife TEXT CHECK (serum_ife IS NULL OR serum_ife IN ('positive', 'negative')),
        urine_ife TEXT CHECK (urine_ife IS NULL OR urine_ife IN ('positive', 'negative')),
        involved_flc_mg_l TEXT,
        uninvolved_flc_mg_l TEXT,
        marrow_plasma_cells_pct TEXT,
        clonal_marrow_cells INTEGER {_flag("clonal_marrow_cells")},
        soft_tissue_plasmacytoma INTEGER {_flag("soft_tissue_plasmacytoma")},
        new_lesions INTEGER NOT NULL DEFAULT 0 {_flag("new_lesions")},
        end_of_cycle INTEGER,""",
    "dose_modifications": f"""
        id INTEGER PRIMARY KEY,
        enrolment_id INTEGER NOT NULL REFERENCES enrolments(id),
        drug TEXT NOT NULL,
        old_dose TEXT NOT NULL,
        new_dose TEXT NOT NULL,
        reason TEXT NOT NULL,
        effective_cycle INTEGER NOT NULL CHECK (effective_cycle >= 1),
        effective_day INTEGER NOT NULL DEFAULT 1 CHECK (effective_day >= 1),
        decided_by TEXT NOT NULL,
        decided_on TEXT NOT NULL {_iso_day("decided_on")},""",
    "decisions": f"""
        id INTEGER PRIMARY KEY,
        enrolment_id INTEGER NOT NULL REFERENCES enrolments(id),
        kind TEXT NOT NULL,
        payload TEXT NOT NULL DEFAULT '{{}}' {_json("payload")},
        decided_by TEXT NOT NULL,
        decided_on TEXT NOT NULL {_iso_day("decided_on")},
        reason TEXT NOT NULL DEFAULT '',""",
    "dlt_reviews": f"""
        id INTEGER PRIMARY KEY,
        enrolment_id INTEGER NOT NULL REFERENCES enrolments(id),
        cycle_id INTEGER REFERENCES cycles(id),
        adverse_event_id INTEGER REFERENCES adverse_events(id),
        proposed INTEGER NOT NULL {_flag("proposed")},
        confirmed INTEGER {_flag("confirmed")},
        evaluable INTEGER {_flag("evaluable")},
        reviewer TEXT,
        reviewed_on TEXT {_iso_day("reviewed_on", nullable=True)},
        reason TEXT NOT NULL DEFAULT '',""",
    "temperatures": """
        id INTEGER PRIMARY KEY,
        patient_id INTEGER NOT NULL REFERENCES patients(id),
        measured_at TEXT NOT NULL,
        celsius TEXT NOT NULL,
        sustained_minutes INTEGER NOT NULL DEFAULT 0 CHECK (sustained_minutes >= 0),""",
    "gcsf_doses": f"""
        id INTEGER PRIMARY KEY,
        patient_id INTEGER NOT NULL REFERENCES patients(id),
        given_on TEXT NOT NULL {_iso_day("given_on")},""",
    "endpoint_events": f"""
        id INTEGER PRIMARY KEY,
        patient_id INTEGER NOT NULL REFERENCES patients(id),
        kind TEXT NOT NULL CHECK (kind IN ('next_therapy', 'death')),
        event_on TEXT NOT NULL {_iso_day("event_on")},
        details TEXT NOT NULL DEFAULT '',""",
    "settings": """
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL,
        value TEXT NOT NULL CHECK (json_valid(value)),""",
}

CLINICAL_TABLES: tuple[str, ...] = tuple(_V1_TABLES)
"""Every audited table: insert/update audited, delete refused, updates must bump ``version``."""

_V1_INDEXES = (
    # One live row per MRN; a voided (entered-in-error) patient does not block the right one.
    "CREATE UNIQUE INDEX patients_mrn ON patients(mrn) WHERE voided_at IS NULL",
    "CREATE UNIQUE INDEX cycles_number ON cycles(enrolment_id, number) WHERE voided_at IS NULL",
    "CREATE UNIQUE INDEX settings_key ON settings(key) WHERE voided_at IS NULL",
    "CREATE INDEX body_measurements_patient ON body_measurements(patient_id, measured_on)",
    "CREATE INDEX enrolments_patient ON enrolments(patient_id)",
    "CREATE INDEX dose_events_cycle ON dose_events(cycle_id, day)",
)

_AUDIT_SQL = (
    f"""CREATE TABLE audit_log (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL DEFAULT ({_NOW}),
        via TEXT NOT NULL,
        app_user TEXT,
        os_user TEXT,
        reason TEXT,
        table_name TEXT NOT NULL,
        row_id INTEGER NOT NULL,
        action TEXT NOT NULL CHECK (action IN ('insert', 'update', 'void')),
        old_json TEXT,
        new_json TEXT
    ) STRICT""",
    # The app writes who is acting at the start of each write transaction and clears it before
    # COMMIT, so no other connection ever sees a row here: plain SQL is "outside the app".
    """CREATE TABLE audit_actor (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        app_user TEXT,
        os_user TEXT NOT NULL,
        reason TEXT
    ) STRICT""",
    """CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN
        SELECT RAISE(ABORT, 'the audit log cannot be changed');
    END""",
    """CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN
        SELECT RAISE(ABORT, 'the audit log cannot be changed');
    END""",
)


def _columns(db: Database, table: str) -> list[str]:
    return [str(row[1]) for row in db.execute(f"PRAGMA table_info({table})").fetchall()]


WRITER_COLLATION = "clinic_app_writer"
"""A collation only clinic-app's own connections define (``prepare_connection``).

SQL cannot create a collation, so a plain SQL session (the sqlite3 shell, a database browser)
never has it: the triggers name a change "clinic-app" only when the writing connection has it
AND has named who acts in ``audit_actor``. See docs/storage.md, "Who the audit trail names".
"""

_IS_APP = f"EXISTS (SELECT 1 FROM pragma_collation_list WHERE name = '{WRITER_COLLATION}')"


def _never_compared(left: str, right: str) -> int:
    return (left > right) - (left < right)


def prepare_connection(conn: sqlite3.Connection) -> None:
    """Mark ``conn`` as clinic-app's own (call once per connection, before any write)."""
    conn.create_collation(WRITER_COLLATION, _never_compared)
    # The triggers read pragma_collation_list, which SQLite allows in triggers only when the
    # schema is trusted (the default). A session that turns it off cannot write at all.
    conn.execute("PRAGMA trusted_schema = ON")


UNIQUE_KEYS: dict[str, tuple[tuple[tuple[str, ...], bool], ...]] = {
    "patients": ((("mrn",), True),),
    "cycles": ((("enrolment_id", "number"), True),),
    "settings": ((("key",), True),),
    "users": ((("username",), False),),
}
"""Every UNIQUE index of an audited table: (columns, only among live rows?).

``INSERT OR REPLACE`` / ``UPDATE OR REPLACE`` resolve a clash on these by deleting the other
row, without the no-delete trigger (SQLite fires delete triggers for REPLACE only with
``recursive_triggers`` on, which is per connection). The guard triggers refuse the clash
first. A test checks that every unique index of the schema is listed here."""


def audit_trigger_names(table: str) -> tuple[str, ...]:
    return (
        f"{table}_audit_insert",
        f"{table}_audit_update",
        f"{table}_guard_update",
        f"{table}_no_delete",
        f"{table}_guard_insert",
    )


def _clash(table: str, alias: str) -> str:
    """SQL conditions true when the NEW row would clash with another row on a unique key."""
    checks = []
    for columns, live_only in UNIQUE_KEYS.get(table, ()):
        same = " AND ".join(f"x.{c} = NEW.{c}" for c in columns)
        live = " AND x.voided_at IS NULL AND NEW.voided_at IS NULL" if live_only else ""
        name = ", ".join(f"{table}.{c}" for c in columns)
        checks.append(
            f"SELECT RAISE(ABORT, 'UNIQUE constraint failed: {name} (clinical rows are never "
            f"replaced)') WHERE EXISTS (SELECT 1 FROM {table} x WHERE {same}{live}"
            f" AND x.id IS NOT {alias});"
        )
    return "\n        ".join(checks)


def audit_trigger_sql(table: str, columns: list[str]) -> dict[str, str]:
    """The exact CREATE TRIGGER statements for ``table`` with audited ``columns``.

    ``check`` compares the file's triggers with these (storage/integrity.py), so any change
    here needs a migration that re-installs them (like 0006).

    The audit JSON: an insert stores the whole new row; an update stores, in old and new, only
    the columns it changed (``version`` always changes); a void stores the changed columns'
    old values and the whole voided row. Every earlier value is therefore still in the log
    (storage/audit.py rebuilds each state from them), at a fraction of the size.
    """

    def whole(alias: str) -> str:
        return "json_object(" + ", ".join(f"'{c}', {alias}.{c}" for c in columns) + ")"

    def changed(alias: str) -> str:
        parts = " || ".join(
            f"CASE WHEN OLD.{c} IS NOT NEW.{c} THEN ',\"{c}\":' || json_quote({alias}.{c}) "
            "ELSE '' END"
            for c in columns
        )
        return f"'{{' || substr({parts}, 2) || '}}'"

    # The actor row counts only on a connection with the app's collation (see _IS_APP).
    insert_into = (
        "INSERT INTO audit_log "
        "(via, app_user, os_user, reason, table_name, row_id, action, old_json, new_json) "
        "SELECT CASE WHEN a.id IS NULL THEN '" + OUTSIDE_THE_APP + "' ELSE 'clinic-app' END, "
        "a.app_user, a.os_user, a.reason, "
    )
    actor = f"FROM (SELECT 1) LEFT JOIN audit_actor a ON {_IS_APP}"
    voiding = "OLD.voided_at IS NULL AND NEW.voided_at IS NOT NULL"
    ins, upd, guard, nodel, guard_ins = audit_trigger_names(table)
    return {
        ins: f"""CREATE TRIGGER {ins} AFTER INSERT ON {table} BEGIN
        {insert_into}'{table}', NEW.id, 'insert', NULL, {whole("NEW")} {actor};
    END""",
        upd: f"""CREATE TRIGGER {upd} AFTER UPDATE ON {table} BEGIN
        {insert_into}'{table}', NEW.id,
            CASE WHEN {voiding} THEN 'void' ELSE 'update' END,
            {changed("OLD")},
            CASE WHEN {voiding} THEN {whole("NEW")} ELSE {changed("NEW")} END {actor};
    END""",
        # Versions make stale edits detectable, also for changes made outside the app.
        guard: f"""CREATE TRIGGER {guard} BEFORE UPDATE ON {table} BEGIN
        SELECT RAISE(ABORT, 'a voided row cannot be changed')
            WHERE OLD.voided_at IS NOT NULL;
        SELECT RAISE(ABORT, 'every update must set version = version + 1 and keep id')
            WHERE NEW.version IS NOT OLD.version + 1 OR NEW.id IS NOT OLD.id;
        {_clash(table, "NEW.id")}
    END""",
        nodel: f"""CREATE TRIGGER {nodel} BEFORE DELETE ON {table} BEGIN
        SELECT RAISE(ABORT, 'clinical rows are never deleted: void them with a reason');
    END""",
        # INSERT OR REPLACE would delete the row it replaces (no delete trigger, version back
        # to 1, a voided row revived): an insert may never meet an existing id or key.
        guard_ins: f"""CREATE TRIGGER {guard_ins} BEFORE INSERT ON {table} BEGIN
        SELECT RAISE(ABORT, 'clinical rows are never replaced: {table} already has this id')
            WHERE EXISTS (SELECT 1 FROM {table} x WHERE x.id = NEW.id);
        {_clash(table, "NEW.id")}
        SELECT RAISE(ABORT, 'created_by is written by clinic-app only')
            WHERE NEW.created_by IS NOT '{OUTSIDE_THE_APP}' AND NOT {_IS_APP};
    END""",
    }


def _between(column: str, low: object, high: object) -> str:
    value = f"CAST(NEW.{column} AS REAL)"
    return f"({value} < {low} OR {value} > {high})"


def limit_trigger_sql() -> dict[str, tuple[str, str]]:
    """Trigger name -> (table, SQL): the plausible ranges data entry uses, enforced by the
    file itself so that plain SQL cannot store 700 kg or an ANC of 10^6 either (issue 15,
    item 3). The limits are read from the same resources as core (input_limits.toml,
    ctcae/lab_tests.toml); an update is checked only when it changes the value, so an older
    row outside them can still be voided."""
    from clinic_app.core.dosing import input_limits
    from clinic_app.core.labs import lab_tests

    body = input_limits()
    weight, height, celsius = body["weight_kg"], body["height_cm"], body["celsius"]
    tests = lab_tests()
    known = ", ".join(f"'{t.key}'" for t in tests)
    units = " OR ".join(
        f"(NEW.test = '{t.key}' AND NEW.unit IN ({', '.join(repr(u) for u in t.units)}))"
        for t in tests
    )
    # The value as entered (times its unit's factor) and the SI value must both be possible.
    beyond = " OR ".join(
        f"(NEW.test = '{t.key}' AND {_between('value_si', t.refuse_below, t.refuse_above)})"
        for t in tests
    ) + "".join(
        f" OR (NEW.test = '{t.key}' AND NEW.unit = '{unit}' AND "
        f"(CAST(NEW.value AS REAL) * {factor} < {t.refuse_below} OR "
        f"CAST(NEW.value AS REAL) * {factor} > {t.refuse_above}))"
        for t in tests
        for unit, factor in t.units.items()
    )
    checks = {
        "body_measurements": (
            ("weight_kg", "height_cm"),
            f"""SELECT RAISE(ABORT, 'weight_kg is outside {weight.low}-{weight.high} kg')
            WHERE {_between("weight_kg", weight.low, weight.high)};
        SELECT RAISE(ABORT, 'height_cm is outside {height.low}-{height.high} cm')
            WHERE NEW.height_cm IS NOT NULL
            AND {_between("height_cm", height.low, height.high)};""",
        ),
        "labs": (
            ("test", "unit", "value", "value_si"),
            f"""SELECT RAISE(ABORT, 'labs.test is not a test of the lab catalogue')
            WHERE NEW.test NOT IN ({known});
        SELECT RAISE(ABORT, 'labs.unit is not a unit of this test') WHERE NOT ({units});
        SELECT RAISE(ABORT, 'labs.value is not a possible value of this test')
            WHERE CAST(NEW.value AS REAL) < 0 OR {beyond};""",
        ),
        "temperatures": (
            ("celsius",),
            f"""SELECT RAISE(ABORT, 'celsius is outside {celsius.low}-{celsius.high}')
            WHERE {_between("celsius", celsius.low, celsius.high)};""",
        ),
    }
    out: dict[str, tuple[str, str]] = {}
    for table, (columns, body_sql) in checks.items():
        changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in columns)
        out[f"{table}_limits_insert"] = (
            table,
            f"""CREATE TRIGGER {table}_limits_insert BEFORE INSERT ON {table} BEGIN
        {body_sql}
    END""",
        )
        out[f"{table}_limits_update"] = (
            table,
            f"""CREATE TRIGGER {table}_limits_update BEFORE UPDATE ON {table}
    WHEN {changed} BEGIN
        {body_sql}
    END""",
        )
    return out


def install_limit_triggers(db: Database) -> None:
    for name, (_table, sql) in limit_trigger_sql().items():
        db.execute(f"DROP TRIGGER IF EXISTS {name}")
        db.execute(sql)


def audited_columns(db: Database, table: str) -> list[str]:
    hidden = _HIDDEN_COLUMNS.get(table, ())
    return [c for c in _columns(db, table) if c not in hidden]


def install_audit_triggers(db: Database, table: str, *, hidden: tuple[str, ...] = ()) -> None:
    """(Re)create the audit and guard triggers of ``table`` from its current columns.

    A migration that adds a column must call this again so the audit JSON includes it.
    ``hidden`` columns are left out of the audit JSON (a password hash has no place there);
    they must also be listed in ``_HIDDEN_COLUMNS`` so ``check`` expects the same triggers.
    """
    for name in audit_trigger_names(table):
        db.execute(f"DROP TRIGGER IF EXISTS {name}")
    hidden = hidden or _HIDDEN_COLUMNS.get(table, ())
    cols = [c for c in _columns(db, table) if c not in hidden]
    for statement in audit_trigger_sql(table, cols).values():
        db.execute(statement)


AUDIT_LOG_TRIGGERS: dict[str, str] = {
    "audit_log_no_update": """CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN
        SELECT RAISE(ABORT, 'the audit log cannot be changed');
    END""",
    "audit_log_no_delete": """CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN
        SELECT RAISE(ABORT, 'the audit log cannot be changed');
    END""",
    # INSERT OR REPLACE deletes the entry it replaces without the delete trigger.
    "audit_log_no_replace": """CREATE TRIGGER audit_log_no_replace BEFORE INSERT ON audit_log
    BEGIN
        SELECT RAISE(ABORT, 'the audit log cannot be changed')
            WHERE EXISTS (SELECT 1 FROM audit_log x WHERE x.id = NEW.id);
    END""",
    # Only the app names who acts: plain SQL that fills the table is refused outright.
    "audit_actor_app_only": f"""CREATE TRIGGER audit_actor_app_only BEFORE INSERT ON audit_actor
    BEGIN
        SELECT RAISE(ABORT, 'only clinic-app names who is acting') WHERE NOT {_IS_APP};
    END""",
    "audit_actor_app_only_update": f"""CREATE TRIGGER audit_actor_app_only_update
    BEFORE UPDATE ON audit_actor BEGIN
        SELECT RAISE(ABORT, 'only clinic-app names who is acting') WHERE NOT {_IS_APP};
    END""",
}
"""The triggers that keep the audit log append-only and the actor table the app's (0006)."""


def _set_user_version(db: Database, number: int) -> None:
    # user_version lives in the file header and is transactional, like the schema itself.
    db.execute(f"PRAGMA user_version = {int(number)}")


@migrations(name="0001_initial_schema")
def _m0001_initial_schema(db: Database) -> None:
    for statement in _AUDIT_SQL:
        db.execute(statement)
    for table, body in _V1_TABLES.items():
        db.execute(f"CREATE TABLE {table} ({body}{_STANDARD}\n) STRICT")
        install_audit_triggers(db, table)
    for statement in _V1_INDEXES:
        db.execute(statement)
    _set_user_version(db, 1)


@migrations(name="0002_lookup_indexes")
def _m0002_lookup_indexes(db: Database) -> None:
    # The stale-edit message reads a row's audit history; charts read labs/AEs by patient.
    db.execute("CREATE INDEX audit_log_row ON audit_log(table_name, row_id, id)")
    db.execute("CREATE INDEX labs_patient_test ON labs(patient_id, test, collected_at)")
    db.execute("CREATE INDEX adverse_events_patient ON adverse_events(patient_id, onset)")
    db.execute("CREATE INDEX cycles_enrolment ON cycles(enrolment_id, number)")
    _set_user_version(db, 2)


_V3_TABLES: dict[str, str] = {
    # Accounts are never deleted (audit rows name them); ``active = 0`` switches one off.
    "users": f"""
        id INTEGER PRIMARY KEY,
        username TEXT NOT NULL COLLATE NOCASE CHECK (length(trim(username)) > 0),
        full_name TEXT NOT NULL CHECK (length(trim(full_name)) > 0),
        role TEXT NOT NULL CHECK (role IN ('nurse', 'investigator', 'administrator')),
        active INTEGER NOT NULL DEFAULT 1 {_flag("active")},
        password_hash TEXT NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
        password_changed_at TEXT NOT NULL DEFAULT ({_NOW}),
        failed_attempts INTEGER NOT NULL DEFAULT 0 CHECK (failed_attempts >= 0),
        locked_until TEXT,""",
    # A signature: who (account and printed name), when (UTC), what it means, on which row.
    "signatures": """
        id INTEGER PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id),
        printed_name TEXT NOT NULL,
        signed_at TEXT NOT NULL,
        meaning TEXT NOT NULL CHECK (length(trim(meaning)) > 0),
        table_name TEXT NOT NULL,
        row_id INTEGER NOT NULL,""",
    # One failed sign-in (also for names that are no account), audited like everything else.
    "sign_in_failures": """
        id INTEGER PRIMARY KEY,
        username TEXT NOT NULL,
        at TEXT NOT NULL,
        os_user TEXT NOT NULL,""",
    # Unsaved entries of a dialog closed by a lock, kept for their author (voided once used).
    "drafts": f"""
        id INTEGER PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id),
        dialog_kind TEXT NOT NULL,
        patient_id INTEGER REFERENCES patients(id),
        fields TEXT NOT NULL {_json("fields")},""",
}

ACCOUNT_TABLES: tuple[str, ...] = tuple(_V3_TABLES)
"""Audited tables about people rather than patients (not part of clinical export/import)."""

_HIDDEN_COLUMNS: dict[str, tuple[str, ...]] = {"users": ("password_hash",)}


@migrations(name="0003_users")
def _m0003_users(db: Database) -> None:
    for table, body in _V3_TABLES.items():
        db.execute(f"CREATE TABLE {table} ({body}{_STANDARD}\n) STRICT")
        install_audit_triggers(db, table, hidden=_HIDDEN_COLUMNS.get(table, ()))
    db.execute("CREATE UNIQUE INDEX users_username ON users(username)")
    db.execute("CREATE INDEX signatures_row ON signatures(table_name, row_id)")
    db.execute("CREATE INDEX drafts_owner ON drafts(user_id, dialog_kind, patient_id)")
    # The audit viewer filters by user and by day.
    db.execute("CREATE INDEX audit_log_user ON audit_log(app_user, at)")
    db.execute("CREATE INDEX audit_log_at ON audit_log(at)")
    _set_user_version(db, 3)


@migrations(name="0004_imwg_facts")
def _m0004_imwg_facts(db: Database) -> None:
    # IMWG facts the record lacked: the involved light chain (which way up the FLC ratio is
    # read for sCR) and whether a baseline plasmacytoma shrank by >= 50 % (PR, rules §4).
    # NULL = not known / not assessed, so existing rows keep their meaning.
    db.execute(
        "ALTER TABLE enrolments ADD COLUMN light_chain TEXT "
        "CHECK (light_chain IS NULL OR light_chain IN ('kappa', 'lambda'))"
    )
    db.execute(
        "ALTER TABLE response_assessments ADD COLUMN plasmacytoma_shrunk_50pct INTEGER "
        + _flag("plasmacytoma_shrunk_50pct")
    )
    # The audit JSON lists columns by name, so the triggers are rebuilt to include the new ones.
    install_audit_triggers(db, "enrolments")
    install_audit_triggers(db, "response_assessments")
    _set_user_version(db, 4)


def _set_own_version(db: Database, name: str) -> None:
    # By position, not a literal: migrations 0005-0009 are written in parallel, and the file's
    # user_version must end equal to SCHEMA_VERSION whichever of them exist.
    _set_user_version(db, max(MIGRATION_NAMES.index(name) + 1, _user_version(db)))


def _user_version(db: Database) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


MIGRATION_NAMES: tuple[str, ...] = (
    "0001_initial_schema",
    "0002_lookup_indexes",
    "0003_users",
    "0004_imwg_facts",
    "0005_plasmacytoma_shrinkage",
    "0006_audit_guards",
    "0007_audit_compaction",
    "0009_lab_clinical_facts",
    "0010_phase_keys",
    "0011_checkouts",
    "0013_reduction_cause",
    "0014_checkin_sessions",
    "0015_open_dlt_proposal",
)
"""Every migration this app knows, in order; a file with any other name applied is newer."""

SCHEMA_VERSION = len(MIGRATION_NAMES)

COLUMNS_ADDED_LATER: dict[tuple[str, str], int] = {
    ("enrolments", "light_chain"): 4,
    ("response_assessments", "plasmacytoma_shrunk_50pct"): 4,
    ("response_assessments", "plasmacytoma_shrinkage_pct"): MIGRATION_NAMES.index(
        "0005_plasmacytoma_shrinkage"
    )
    + 1,
    **{
        ("labs", column): MIGRATION_NAMES.index("0009_lab_clinical_facts") + 1
        for column in (
            "symptomatic",
            "intervention_indicated",
            "hospitalisation_indicated",
            "life_threatening",
        )
    },
    ("dose_modifications", "cause"): MIGRATION_NAMES.index("0013_reduction_cause") + 1,
}
"""(table, column) -> the schema version that added it: an export of an older file lacks it."""
"""The ``PRAGMA user_version`` this app writes; a file with a higher one is refused."""


# A number stored as text (str(Decimal): "49.5", "-20", "1E+1"), at most 100: a plasmacytoma
# cannot be more than 100 % smaller; negative = larger than at baseline. NULL = not assessed.
_SHRINKAGE_CHECK = (
    "CHECK (plasmacytoma_shrinkage_pct IS NULL OR ("
    "typeof(plasmacytoma_shrinkage_pct) = 'text' "
    "AND plasmacytoma_shrinkage_pct GLOB '*[0-9]*' "
    "AND plasmacytoma_shrinkage_pct NOT GLOB '*[^0-9.eE+-]*' "
    "AND CAST(plasmacytoma_shrinkage_pct AS REAL) <= 100))"
)


@migrations(name="0005_plasmacytoma_shrinkage")
def _m0005_plasmacytoma_shrinkage(db: Database) -> None:
    # IMWG 2016 (Kumar): MR needs a baseline plasmacytoma 25-49 % smaller and PR >= 50 %, so
    # the shrinkage is recorded as a measurement. plasmacytoma_shrunk_50pct stays as it was:
    # a "yes" cannot be turned into a percentage, and the rules still read it where it decides
    # (core.response says when it cannot decide MR).
    db.execute(
        "ALTER TABLE response_assessments ADD COLUMN plasmacytoma_shrinkage_pct TEXT "
        + _SHRINKAGE_CHECK
    )
    # The audit JSON lists columns by name, so the triggers are rebuilt to include the new one.
    install_audit_triggers(db, "response_assessments")
    _set_own_version(db, "0005_plasmacytoma_shrinkage")


@migrations(name="0006_audit_guards")
def _m0006_audit_guards(db: Database) -> None:
    # Issue 15 item 7 and issue 16: the app's writes cannot be impersonated by plain SQL, no
    # REPLACE can delete or revive a row, and updates store only the columns they change.
    db.execute("DELETE FROM audit_actor")  # a row left behind by older versions or plain SQL
    for statement_name, statement in AUDIT_LOG_TRIGGERS.items():
        db.execute(f"DROP TRIGGER IF EXISTS {statement_name}")
        db.execute(statement)
    for table in (*CLINICAL_TABLES, *ACCOUNT_TABLES):
        install_audit_triggers(db, table)
    install_limit_triggers(db)  # and plain SQL cannot store an impossible value (item 3)
    _set_own_version(db, "0006_audit_guards")


def _compacted(
    old: dict[str, object], new: dict[str, object], action: str
) -> tuple[dict[str, object], dict[str, object]]:
    keys = [k for k in dict.fromkeys([*new, *old]) if k not in old or k not in new]
    keys += [k for k in new if k in old and old[k] != new[k]]
    return {k: old[k] for k in keys if k in old}, (
        new if action == "void" else {k: new[k] for k in keys if k in new}
    )


@migrations(name="0007_audit_compaction")
def _m0007_audit_compaction(db: Database) -> None:
    """Shrink updates logged before 0006 (both whole rows) to the columns they changed.

    Only where the entry's old row equals the row as the entries before it left it, so every
    earlier value stays recoverable and a chain that does not add up (tampering) is kept as
    it is for ``check`` to report. The freed pages are reused; VACUUM returns them to disk.
    """
    conn = db.conn
    # Rewriting the log needs its guard off for this one transaction; put back below.
    db.execute("DROP TRIGGER audit_log_no_update")
    state: dict[str, object] | None = None
    current: tuple[str, int] | None = None
    changes: list[tuple[str, str, int]] = []
    # Ordered by the audit_log_row index, which the UPDATEs below do not touch, so updating
    # while the scan runs neither skips nor revisits an entry.
    rows = conn.execute(
        "SELECT id, table_name, row_id, action, old_json, new_json FROM audit_log "
        "ORDER BY table_name, row_id, id"
    )
    for entry_id, table, row_id, action, old_text, new_text in rows:
        if current != (table, row_id):
            current, state = (table, row_id), None
        new = json.loads(new_text) if new_text else None
        old = json.loads(old_text) if old_text else None
        if not isinstance(new, dict):
            state = None
        elif action == "insert":
            state = dict(new)
        elif isinstance(old, dict) and state is not None:
            # A column added by a later migration reads NULL in the rows before it.
            consistent = all(state.get(k) == v for k, v in old.items())
            if consistent and set(old) == set(new):
                small_old, small_new = _compacted(old, new, action)
                changes.append((_dump(small_old), _dump(small_new), entry_id))
            state = {**state, **new} if consistent else None
        else:
            state = None
        if len(changes) >= 5000:
            _rewrite(conn, changes)
    _rewrite(conn, changes)
    db.execute(AUDIT_LOG_TRIGGERS["audit_log_no_update"])
    _set_own_version(db, "0007_audit_compaction")


def _rewrite(conn: sqlite3.Connection, changes: list[tuple[str, str, int]]) -> None:
    conn.executemany("UPDATE audit_log SET old_json = ?, new_json = ? WHERE id = ?", changes)
    changes.clear()


def _dump(value: dict[str, object]) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


LAB_FACT_COLUMNS: tuple[str, ...] = (
    "symptomatic",
    "intervention_indicated",
    "hospitalisation_indicated",
    "life_threatening",
)
"""The labs columns of migration 0009, named like the ``core.ctcae.LAB_FACTS`` keys."""


@migrations(name="0009_lab_clinical_facts")
def _m0009_lab_clinical_facts(db: Database) -> None:
    # CTCAE v5.0 grades the electrolytes also by clinical facts (hypercalcaemia with
    # hospitalisation indicated is grade 3): the lab form asks them and they are kept with the
    # result. NULL = not asked / not known, so existing rows keep their meaning.
    for column in LAB_FACT_COLUMNS:
        db.execute(f"ALTER TABLE labs ADD COLUMN {column} INTEGER {_flag(column)}")
    # The audit JSON lists columns by name, so the triggers are rebuilt to include the new ones.
    install_audit_triggers(db, "labs")
    _set_own_version(db, "0009_lab_clinical_facts")


_CLOSED_PHASES = "CHECK (phase IN ('induction', 'treatment', 'maintenance'))"
_ANY_PHASE = "CHECK (length(trim(phase)) > 0)"


@migrations(name="0010_phase_keys")
def _m0010_phase_keys(db: Database) -> None:
    """A cycle's phase is any phase key of its protocol (issue 17), still never empty.

    SQLite cannot drop a CHECK, so ``cycles`` is rebuilt (see ``_rebuild``).
    """
    _rebuild(db, "cycles", _CLOSED_PHASES, _ANY_PHASE)
    _set_own_version(db, "0010_phase_keys")


def _rebuild(db: Database, table: str, old: str, new: str) -> None:
    """Rebuild ``table`` with ``old`` replaced by ``new`` in its CREATE statement (nothing to
    do when it does not hold ``old``).

    SQLite cannot drop a CHECK or a NOT NULL (sqlite.org/lang_altertable.html, "other kinds of
    table schema changes"): the rows are copied with their ids and versions and no audit entry
    (nothing clinical changes; the audit trail still names each row by id), then the same
    indexes and triggers are put back. Foreign keys stay on: deferred for this transaction,
    the rows that point at this table are orphaned only between the DROP and the copy back,
    and COMMIT checks that none is left.
    """
    conn = db.conn
    row = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", [table])
    table_sql = str(row.fetchone()[0])
    if old not in table_sql:
        return
    kept = [
        str(sql)
        for (sql,) in conn.execute(
            "SELECT sql FROM sqlite_master WHERE tbl_name = ? "
            "AND type IN ('index', 'trigger') AND sql IS NOT NULL ORDER BY type, name",
            [table],
        ).fetchall()
    ]
    columns = ", ".join(_columns(db, table))
    copy = f"_{table}_rebuilt"
    conn.execute("PRAGMA defer_foreign_keys = ON")  # reset by SQLite at COMMIT or ROLLBACK
    conn.execute(f"CREATE TABLE {copy} AS SELECT {columns} FROM {table}")
    conn.execute(f"DROP TABLE {table}")  # its triggers and indexes go with it
    conn.execute(table_sql.replace(old, new))
    conn.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {copy}")
    conn.execute(f"DROP TABLE {copy}")
    for sql in kept:  # indexes first, then the triggers exactly as they were
        conn.execute(sql)


# Issue 19: patients taken out on a laptop and brought back. One table serves both sides: a
# clinic row says "lent to this laptop" (status out, then returned or cancelled); a laptop row
# says "came from this clinic" (status out, then returned once checked in). audit_mark is the
# newest audit entry of THIS record when the patient went out: the road's changes come after it.
_V11_TABLES: dict[str, tuple[str, str]] = {
    "checkouts": (
        """
        id INTEGER PRIMARY KEY,
        patient_id INTEGER NOT NULL REFERENCES patients(id),
        side TEXT NOT NULL CHECK (side IN ('clinic', 'laptop')),
        laptop_label TEXT NOT NULL CHECK (length(trim(laptop_label)) > 0),
        laptop_identity TEXT NOT NULL,
        clinic_identity TEXT NOT NULL,
        clinic_location TEXT NOT NULL,
        clinic_checkout_id INTEGER,
        audit_mark INTEGER NOT NULL CHECK (audit_mark >= 0),
        checked_out_at TEXT NOT NULL,
        checked_out_by TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('out', 'returned', 'cancelled')),
        returned_at TEXT,
        returned_by TEXT,
        cancelled_at TEXT,
        cancelled_by TEXT,
        cancel_reason TEXT,""",
        """,
        CHECK ((status = 'returned') = (returned_at IS NOT NULL)),
        CHECK ((status = 'cancelled') = (cancel_reason IS NOT NULL))""",
    ),
    # A cancelled check-out's laptop changes, kept whole for someone to review (nothing applied).
    "checkin_reviews": (
        f"""
        id INTEGER PRIMARY KEY,
        checkout_id INTEGER REFERENCES checkouts(id),
        laptop_label TEXT NOT NULL,
        laptop_identity TEXT NOT NULL,
        received_at TEXT NOT NULL,
        received_by TEXT NOT NULL,
        entries INTEGER NOT NULL CHECK (entries >= 0),
        changes TEXT NOT NULL {_json("changes")},
        status TEXT NOT NULL CHECK (status IN ('pending', 'settled')),
        settled_at TEXT,
        settled_by TEXT,
        settled_note TEXT,""",
        "",
    ),
}

LENDING_TABLES: tuple[str, ...] = tuple(_V11_TABLES)
"""Audited tables of check-out and check-in (migration 0011): not clinical rows themselves."""

AUDITED_TABLES: tuple[str, ...] = (*CLINICAL_TABLES, *ACCOUNT_TABLES, *LENDING_TABLES)
"""Every table with audit and guard triggers, parents before the rows pointing at them."""

LENDING_INDEXES: tuple[str, ...] = (
    "CREATE INDEX checkouts_patient ON checkouts(patient_id, status)",
    "CREATE INDEX checkouts_laptop ON checkouts(laptop_identity)",
    "CREATE INDEX checkin_reviews_laptop ON checkin_reviews(laptop_identity)",
)


@migrations(name="0011_checkouts")
def _m0011_checkouts(db: Database) -> None:
    for table, (body, checks) in _V11_TABLES.items():
        db.execute(f"CREATE TABLE {table} ({body}{_STANDARD}{checks}\n) STRICT")
        install_audit_triggers(db, table)
    for statement in LENDING_INDEXES:
        db.execute(statement)
    _set_own_version(db, "0011_checkouts")


REDUCTION_CAUSES = ("haematological", "non-haematological", "not-toxicity")
"""core.records.ReductionCause's values (a test keeps them equal; core is not imported here)."""

REDUCTION_CAUSE_CHECK = "CHECK (cause IS NULL OR cause IN ({}))".format(
    ", ".join(f"'{cause}'" for cause in REDUCTION_CAUSES)
)
"""Both engines: what a dose reduction was for; NULL = not recorded (older rows)."""


@migrations(name="0013_reduction_cause")
def _m0013_reduction_cause(db: Database) -> None:
    # The BPD cycle-1 DLT rules count a reduction for haematological and for other toxicity
    # under different items (clinical rules §5), so the modification says which it was for.
    db.execute(f"ALTER TABLE dose_modifications ADD COLUMN cause TEXT {REDUCTION_CAUSE_CHECK}")
    # The audit JSON lists columns by name, so the triggers are rebuilt to include the new one.
    install_audit_triggers(db, "dose_modifications")
    _set_own_version(db, "0013_reduction_cause")


@migrations(name="0014_checkin_sessions")
def _m0014_checkin_sessions(db: Database) -> None:
    # The server's step (engines/pg_checkin): a SQLite check-in suspends its triggers instead.
    _set_own_version(db, "0014_checkin_sessions")


_PROPOSAL_REQUIRED = f"proposed INTEGER NOT NULL {_flag('proposed')}"
_PROPOSAL_MAY_BE_OPEN = f"proposed INTEGER {_flag('proposed')}"


@migrations(name="0015_open_dlt_proposal")
def _m0015_open_dlt_proposal(db: Database) -> None:
    # A DLT review keeps what the rules proposed when it was recorded: DLT, no DLT, or could
    # not decide (NULL). Reviews recorded before stay as stored: 0 then meant either of the
    # last two, which no stored value can tell apart.
    _rebuild(db, "dlt_reviews", _PROPOSAL_REQUIRED, _PROPOSAL_MAY_BE_OPEN)
    _set_own_version(db, "0015_open_dlt_proposal")
