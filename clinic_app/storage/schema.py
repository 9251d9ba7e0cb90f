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

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

MIGRATION_SET = "clinic_app"
migrations = Migrations(MIGRATION_SET)

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


def audit_trigger_names(table: str) -> tuple[str, ...]:
    return (
        f"{table}_audit_insert",
        f"{table}_audit_update",
        f"{table}_guard_update",
        f"{table}_no_delete",
    )


def install_audit_triggers(db: Database, table: str, *, hidden: tuple[str, ...] = ()) -> None:
    """(Re)create the audit and guard triggers of ``table`` from its current columns.

    A migration that adds a column must call this again so the audit JSON includes it.
    ``hidden`` columns are left out of the audit JSON (a password hash has no place there).
    """
    for name in audit_trigger_names(table):
        db.execute(f"DROP TRIGGER IF EXISTS {name}")
    cols = [c for c in _columns(db, table) if c not in hidden]

    def snapshot(alias: str) -> str:
        return "json_object(" + ", ".join(f"'{c}', {alias}.{c}" for c in cols) + ")"

    who = (
        f"CASE WHEN EXISTS (SELECT 1 FROM audit_actor) THEN 'clinic-app' "
        f"ELSE '{OUTSIDE_THE_APP}' END, "
        "(SELECT app_user FROM audit_actor), (SELECT os_user FROM audit_actor), "
        "(SELECT reason FROM audit_actor)"
    )
    insert_into = (
        "INSERT INTO audit_log "
        "(via, app_user, os_user, reason, table_name, row_id, action, old_json, new_json)"
    )
    insert_new, update_old, update_new = snapshot("NEW"), snapshot("OLD"), snapshot("NEW")
    ins, upd, guard, nodel = audit_trigger_names(table)
    db.execute(
        f"""CREATE TRIGGER {ins} AFTER INSERT ON {table} BEGIN
        {insert_into} VALUES ({who}, '{table}', NEW.id, 'insert', NULL, {insert_new});
    END"""
    )
    db.execute(
        f"""CREATE TRIGGER {upd} AFTER UPDATE ON {table} BEGIN
        {insert_into} VALUES ({who}, '{table}', NEW.id,
            CASE WHEN OLD.voided_at IS NULL AND NEW.voided_at IS NOT NULL
                 THEN 'void' ELSE 'update' END,
            {update_old}, {update_new});
    END"""
    )
    # Versions make stale edits detectable, also for changes made outside the app.
    db.execute(
        f"""CREATE TRIGGER {guard} BEFORE UPDATE ON {table} BEGIN
        SELECT RAISE(ABORT, 'a voided row cannot be changed')
            WHERE OLD.voided_at IS NOT NULL;
        SELECT RAISE(ABORT, 'every update must set version = version + 1 and keep id')
            WHERE NEW.version IS NOT OLD.version + 1 OR NEW.id IS NOT OLD.id;
    END"""
    )
    db.execute(
        f"""CREATE TRIGGER {nodel} BEFORE DELETE ON {table} BEGIN
        SELECT RAISE(ABORT, 'clinical rows are never deleted: void them with a reason');
    END"""
    )


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


MIGRATION_NAMES: tuple[str, ...] = (
    "0001_initial_schema",
    "0002_lookup_indexes",
    "0003_users",
    "0004_imwg_facts",
)
"""Every migration this app knows, in order; a file with any other name applied is newer."""

SCHEMA_VERSION = len(MIGRATION_NAMES)

COLUMNS_ADDED_LATER: dict[tuple[str, str], int] = {
    ("enrolments", "light_chain"): 4,
    ("response_assessments", "plasmacytoma_shrunk_50pct"): 4,
}
"""(table, column) -> the schema version that added it: an export of an older file lacks it."""
"""The ``PRAGMA user_version`` this app writes; a file with a higher one is refused."""
