"""Set-based read queries for the patient list, the Today view and the storage benchmark.

Each function runs one SQL statement over the whole record and returns plain rows (dicts keyed
by column name), so a list of 10,000 patients costs a handful of queries, not 10,000 round
trips. Only live (not voided) rows are read. The services layer turns the rows into the
computed state a nurse sees (``clinic_app.services.patient_state``).

"Current enrolment" is a patient's latest live enrolment (by enrolment date, then id);
"current cycle" is the highest-numbered live cycle of it that has actually started.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from clinic_app.storage.database import Record
from clinic_app.storage.engines import ConstraintError
from clinic_app.storage.permissions import require_write

Row = dict[str, Any]


def _current(patient_id: int | None) -> str:
    """The current enrolment and cycle CTEs, narrowed to one patient up front when asked.

    Narrowing inside the CTEs (not only in the final WHERE) lets SQLite use the patient
    indexes, so one patient's row costs milliseconds instead of a pass over the record.
    """
    only_enr = "" if patient_id is None else "AND e.patient_id = :pid"
    only_cyc = (
        ""
        if patient_id is None
        else "AND c.enrolment_id IN (SELECT id FROM enrolments WHERE patient_id = :pid)"
    )
    return f"""
WITH enr AS (
    SELECT e.*, ROW_NUMBER() OVER (
        PARTITION BY e.patient_id ORDER BY e.enrolled_on DESC, e.id DESC) AS rn
    FROM enrolments e WHERE e.voided_at IS NULL {only_enr}
), started AS (
    SELECT c.*, ROW_NUMBER() OVER (PARTITION BY c.enrolment_id ORDER BY c.number DESC) AS rn
    FROM cycles c
    WHERE c.voided_at IS NULL AND c.start_date IS NOT NULL
      AND c.status IN ('started', 'completed') {only_cyc}
), cur AS (
    SELECT enr.patient_id, enr.id AS enrolment_id, enr.protocol, enr.status AS enrolment_status,
           started.id AS cycle_id, started.number AS cycle_number,
           started.start_date AS cycle_start, started.phase AS cycle_phase
    FROM enr JOIN started ON started.enrolment_id = enr.id AND started.rn = 1
    WHERE enr.rn = 1
)
"""


def _rows(record: Record, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[Row]:
    with record.guard():
        return record.sql.rows(sql, dict(params) if isinstance(params, Mapping) else list(params))


def patient_overview(record: Record, patient_id: int | None = None) -> list[Row]:
    """One row per live patient: identity, current enrolment and current cycle (or NULLs).

    Every query here takes ``patient_id`` to read one patient instead of all of them."""
    return _rows(
        record,
        _current(patient_id)
        + """
        SELECT p.id AS patient_id, p.mrn, p.family_name, p.given_name, p.date_of_birth,
               enr.id AS enrolment_id, enr.protocol, enr.status AS enrolment_status,
               enr.dose_level AS enrolment_dose_level, enr.cohort,
               s.id AS cycle_id, s.number AS cycle_number, s.phase AS cycle_phase,
               s.start_date AS cycle_start, s.dose_level AS cycle_dose_level
        FROM patients p
        LEFT JOIN enr ON enr.patient_id = p.id AND enr.rn = 1
        LEFT JOIN started s ON s.enrolment_id = enr.id AND s.rn = 1
        WHERE p.voided_at IS NULL AND (:pid IS NULL OR p.id = :pid)
        ORDER BY p.family_name, p.given_name, p.id
        """,
        {"pid": patient_id},
    )


def patient_names(record: Record) -> list[Row]:
    """Every live patient's identity alone, in the list's order: what the window shows while
    the rest of each row is computed (services.patient_rows.names_only)."""
    return _rows(
        record,
        """
        SELECT p.id AS patient_id, p.mrn, p.family_name, p.given_name, p.date_of_birth
        FROM patients p WHERE p.voided_at IS NULL
        ORDER BY p.family_name, p.given_name, p.id
        """,
    )


def severe_adverse_events_in_current_cycle(
    record: Record, min_grade: int, today: date, patient_id: int | None = None
) -> list[Row]:
    """AEs of at least ``min_grade`` present during the current cycle: begun by ``today`` and
    not resolved before the cycle started."""
    return _rows(
        record,
        _current(patient_id)
        + """
        SELECT a.patient_id, a.term, a.grade, a.onset, a.resolved
        FROM adverse_events a JOIN cur ON cur.patient_id = a.patient_id
        WHERE a.voided_at IS NULL AND a.grade >= :grade AND a.onset <= :today
          AND (a.resolved IS NULL OR a.resolved >= cur.cycle_start)
          AND (:pid IS NULL OR a.patient_id = :pid)
        ORDER BY a.patient_id, a.onset, a.id
        """,
        {"grade": min_grade, "today": today.isoformat(), "pid": patient_id},
    )


def labs_since_current_cycle(
    record: Record, days_before_start: int, patient_id: int | None = None
) -> list[Row]:
    """Every live lab collected from ``days_before_start`` days before the current cycle's day 1."""
    since = record.sql.days_before("cur.cycle_start", ":days")
    return _rows(
        record,
        _current(patient_id)
        + f"""
        SELECT l.id, l.patient_id, l.test, l.value, l.unit, l.value_si, l.lln, l.uln,
               l.collected_at, l.symptomatic, l.intervention_indicated,
               l.hospitalisation_indicated, l.life_threatening
        FROM labs l JOIN cur ON cur.patient_id = l.patient_id
        WHERE l.voided_at IS NULL
          AND l.collected_at >= {since}
          AND (:pid IS NULL OR l.patient_id = :pid)
        ORDER BY l.patient_id, l.collected_at, l.id
        """,
        {"days": int(days_before_start), "pid": patient_id},
    )


def baseline_labs_for_current_enrolment(
    record: Record, tests: Sequence[str], patient_id: int | None = None
) -> list[Row]:
    """Per patient and per test in ``tests``: the candidate pre-treatment result, i.e. the
    latest live one collected before day 1 of the first started cycle of the current
    enrolment (``first_start``, returned with it). Patients with no started cycle have none.

    The same selection as ``core.baselines.lab_baseline`` (which the caller still applies), done
    for every patient in one statement: one index seek per patient and test, so the patient
    list needs no query per patient.
    """
    if not tests:
        return []
    only_e = "" if patient_id is None else "AND e.patient_id = :pid"
    wanted = " UNION ALL ".join(f"SELECT :t{i}" for i in range(len(tests)))
    return _rows(
        record,
        f"""
        WITH enr AS (
            SELECT e.id, e.patient_id, ROW_NUMBER() OVER (
                PARTITION BY e.patient_id ORDER BY e.enrolled_on DESC, e.id DESC) AS rn
            FROM enrolments e WHERE e.voided_at IS NULL {only_e}
        ), first AS (
            SELECT enr.patient_id,
                   (SELECT c.start_date FROM cycles c
                     WHERE c.enrolment_id = enr.id AND c.voided_at IS NULL
                       AND c.start_date IS NOT NULL
                     ORDER BY c.number LIMIT 1) AS first_start
            FROM enr WHERE enr.rn = 1
        ), wanted(test) AS ({wanted})
        SELECT l.id, l.patient_id, l.test, l.value, l.unit, l.value_si, l.lln, l.uln,
               l.collected_at, first.first_start
        FROM first CROSS JOIN wanted
        JOIN labs l ON l.id = (
            SELECT b.id FROM labs b
            WHERE b.patient_id = first.patient_id AND b.test = wanted.test
              AND b.voided_at IS NULL AND b.collected_at < first.first_start
            ORDER BY b.collected_at DESC, b.id DESC LIMIT 1)
        WHERE first.first_start IS NOT NULL
        ORDER BY l.patient_id, l.test
        """,
        {"pid": patient_id, **{f"t{i}": t for i, t in enumerate(tests)}},
    )


def weights_for_bsa_check(record: Record, patient_id: int | None = None) -> list[Row]:
    """Per patient: the latest weight, and the weight behind the BSA of the latest cycle
    (of the current enrolment) that recorded one."""
    only_m = "" if patient_id is None else "AND m.patient_id = :pid"
    only_e = "" if patient_id is None else "AND e.patient_id = :pid"
    return _rows(
        record,
        f"""
        WITH latest AS (
            SELECT m.patient_id, m.measured_on, m.weight_kg, ROW_NUMBER() OVER (
                PARTITION BY m.patient_id ORDER BY m.measured_on DESC, m.id DESC) AS rn
            FROM body_measurements m WHERE m.voided_at IS NULL {only_m}
        ), enr AS (
            SELECT e.id, e.patient_id, ROW_NUMBER() OVER (
                PARTITION BY e.patient_id ORDER BY e.enrolled_on DESC, e.id DESC) AS rn
            FROM enrolments e WHERE e.voided_at IS NULL {only_e}
        ), basis AS (
            SELECT enr.patient_id, c.number, c.bsa_m2, m.weight_kg, m.measured_on,
                   ROW_NUMBER() OVER (PARTITION BY enr.patient_id ORDER BY c.number DESC) AS rn
            FROM cycles c JOIN enr ON enr.id = c.enrolment_id AND enr.rn = 1
            JOIN body_measurements m ON m.id = c.measurement_id
            WHERE c.voided_at IS NULL AND c.bsa_m2 IS NOT NULL
        )
        SELECT basis.patient_id, basis.number AS bsa_cycle, basis.bsa_m2,
               basis.weight_kg AS bsa_weight_kg, basis.measured_on AS bsa_measured_on,
               latest.weight_kg AS latest_weight_kg, latest.measured_on AS latest_measured_on
        FROM basis JOIN latest ON latest.patient_id = basis.patient_id AND latest.rn = 1
        WHERE basis.rn = 1 AND (:pid IS NULL OR basis.patient_id = :pid)
        """,
        {"pid": patient_id},
    )


def dlt_review_state(record: Record, dlt_cycle: int, patient_id: int | None = None) -> list[Row]:
    """Per current enrolment that started cycle ``dlt_cycle``: its start and its reviews
    (how many, how many still unconfirmed)."""
    only_e = "" if patient_id is None else "AND e.patient_id = :pid"
    return _rows(
        record,
        f"""
        WITH enr AS (
            SELECT e.id, e.patient_id, e.protocol, e.cohort, ROW_NUMBER() OVER (
                PARTITION BY e.patient_id ORDER BY e.enrolled_on DESC, e.id DESC) AS rn
            FROM enrolments e WHERE e.voided_at IS NULL {only_e}
        )
        SELECT enr.patient_id, enr.id AS enrolment_id, enr.protocol, enr.cohort,
               c.start_date AS dlt_cycle_start,
               (SELECT count(*) FROM dlt_reviews r
                 WHERE r.enrolment_id = enr.id AND r.voided_at IS NULL) AS reviews,
               (SELECT count(*) FROM dlt_reviews r
                 WHERE r.enrolment_id = enr.id AND r.voided_at IS NULL
                   AND r.confirmed IS NULL) AS unconfirmed
        FROM enr JOIN cycles c ON c.enrolment_id = enr.id AND c.number = :cycle
        WHERE enr.rn = 1 AND c.voided_at IS NULL AND c.start_date IS NOT NULL
          AND (:pid IS NULL OR enr.patient_id = :pid)
        """,
        {"cycle": int(dlt_cycle), "pid": patient_id},
    )


def planned_cycles_due(record: Record, today: date) -> list[Row]:
    """The first not-yet-started cycle of each current, not-off-study enrolment, when its
    planned day 1 is ``today`` or has passed."""
    return _rows(
        record,
        """
        WITH enr AS (
            SELECT e.*, ROW_NUMBER() OVER (
                PARTITION BY e.patient_id ORDER BY e.enrolled_on DESC, e.id DESC) AS rn
            FROM enrolments e WHERE e.voided_at IS NULL
        ), waiting AS (
            SELECT c.*, ROW_NUMBER() OVER (PARTITION BY c.enrolment_id ORDER BY c.number) AS rn
            FROM cycles c
            WHERE c.voided_at IS NULL AND c.status = 'planned' AND c.start_date IS NULL
        )
        SELECT enr.patient_id, enr.id AS enrolment_id, enr.protocol, w.number AS cycle_number,
               w.phase AS cycle_phase, w.planned_start
        FROM enr JOIN waiting w ON w.enrolment_id = enr.id AND w.rn = 1
        WHERE enr.rn = 1 AND enr.status != 'off_study' AND w.planned_start <= ?
        ORDER BY w.planned_start, enr.patient_id
        """,
        [today.isoformat()],
    )


def planned_doses_on(record: Record, day: date) -> list[Row]:
    """Planned (not yet given, held or missed) doses that fall on ``day`` in started cycles
    of enrolments that are not off study."""
    day_1 = record.sql.days_before("?", "d.day - 1")
    return _rows(
        record,
        f"""
        SELECT e.patient_id, e.protocol, c.number AS cycle_number, d.day, d.drug, d.dose_mg,
               d.route
        FROM dose_events d
        JOIN cycles c ON c.id = d.cycle_id
        JOIN enrolments e ON e.id = c.enrolment_id
        WHERE d.voided_at IS NULL AND c.voided_at IS NULL AND e.voided_at IS NULL
          AND e.status != 'off_study' AND d.status = 'planned' AND c.start_date IS NOT NULL
          AND c.start_date = {day_1}
        ORDER BY e.patient_id, d.drug
        """,
        [day.isoformat()],
    )


def patient_id_for_mrn(record: Record, mrn: str) -> int | None:
    rows = _rows(
        record, "SELECT id FROM patients WHERE mrn = ? AND voided_at IS NULL", [mrn.strip()]
    )
    return int(rows[0]["id"]) if rows else None


def count_patients(record: Record, mrn_prefix: str | None = None) -> tuple[int, int]:
    """(live patients, of which MRN starts with ``mrn_prefix``)."""
    prefix = mrn_prefix or ""
    rows = _rows(
        record,
        "SELECT count(*) AS total, "
        "coalesce(sum(CASE WHEN substr(mrn, 1, ?) = ? THEN 1 ELSE 0 END), 0) AS matching "
        "FROM patients WHERE voided_at IS NULL",
        [len(prefix), prefix],
    )
    return int(rows[0]["total"]), int(rows[0]["matching"]) if prefix else 0


# --- whole-table access for export and import -------------------------------------------------


@dataclass(frozen=True)
class Column:
    name: str
    kind: str
    """``INTEGER`` or ``TEXT`` (every table is STRICT)."""
    not_null: bool
    has_default: bool


def table_columns(record: Record, table: str) -> list[Column]:
    with record.guard():
        info = record.sql.columns(table)
    return [Column(c.name, c.kind, c.not_null, c.has_default) for c in info]


def table_rows(record: Record, table: str) -> list[Row]:
    """Every row of ``table``, voided ones included, by id."""
    return _rows(record, f"SELECT * FROM {table} ORDER BY id")


def clinical_rows_count(record: Record, tables: Sequence[str]) -> int:
    return sum(int(_rows(record, f"SELECT count(*) AS n FROM {t}")[0]["n"]) for t in tables)


def insert_rows_collecting_problems(
    record: Record, table: str, rows: Sequence[Mapping[str, Any]]
) -> list[tuple[int, str]]:
    """Insert ``rows`` as they are (ids included) inside the caller's transaction.

    Each row gets its own savepoint, so one refused row (a foreign key, a CHECK, a duplicate)
    does not hide the problems of the rows after it. Returns (row index, the record's message).
    """
    problems: list[tuple[int, str]] = []
    sql = record.sql
    for row in rows:
        require_write(record, table, row)  # an import writes what its rows are
    for index, row in enumerate(rows):
        names = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        try:
            with sql.savepoint("import_row"):
                sql.execute(f"INSERT INTO {table} ({names}) VALUES ({marks})", list(row.values()))
        except ConstraintError as exc:
            problems.append((index, str(exc)))
    sql.reseed_ids(table)  # the rows came with their ids: the next new row follows them
    return problems
