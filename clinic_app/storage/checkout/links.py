"""Which patient a row belongs to, in SQL and in Python (check-out and check-in, issue 19).

A patient's chart is the patient row, the rows with its ``patient_id``, the rows of its
enrolments (``enrolment_id``) and the doses of those enrolments' cycles (``cycle_id``); the
audit trail reads patients the same way (storage/audit_queries.py). Settings, accounts and the
check-out tables themselves belong to nobody.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

LINKS: dict[str, str] = {
    "patients": "id",
    "body_measurements": "patient_id",
    "enrolments": "patient_id",
    "labs": "patient_id",
    "cycles": "enrolment_id",
    "dose_events": "cycle_id",
    "adverse_events": "patient_id",
    "response_assessments": "patient_id",
    "dose_modifications": "enrolment_id",
    "decisions": "enrolment_id",
    "dlt_reviews": "enrolment_id",
    "temperatures": "patient_id",
    "gcsf_doses": "patient_id",
    "endpoint_events": "patient_id",
}
"""Every clinical table but settings -> the column that leads to its patient (a test checks
that it names every such table and that the column is there)."""

CHART_TABLES: tuple[str, ...] = tuple(LINKS)
"""In the schema's order: parents before the rows that point at them."""


def placeholders(count: int) -> str:
    return ", ".join("?" for _ in range(count))


def ids_of_patients(table: str, count: int) -> str:
    """SQL for the ids of ``table``'s rows that belong to ``count`` patient ids (``?`` each)."""
    inside = placeholders(count)
    link = LINKS[table]
    if link == "id":
        return f"SELECT id FROM patients WHERE id IN ({inside})"
    if link == "patient_id":
        return f"SELECT id FROM {table} WHERE patient_id IN ({inside})"
    if link == "enrolment_id":
        return (
            f"SELECT x.id FROM {table} x JOIN enrolments e ON e.id = x.enrolment_id "
            f"WHERE e.patient_id IN ({inside})"
        )
    return (
        f"SELECT x.id FROM {table} x JOIN cycles c ON c.id = x.cycle_id "
        f"JOIN enrolments e ON e.id = c.enrolment_id WHERE e.patient_id IN ({inside})"
    )


def owner_sql(table_expr: str, row_expr: str, *, signatures: bool = True) -> str:
    """SQL for the patient id of the row ``row_expr`` of the table named by ``table_expr``
    (NULL for a table that belongs to nobody). A signature is of the patient of the row it
    signs."""
    cases = []
    for table, link in LINKS.items():
        if link == "id":
            value = row_expr
        elif link == "patient_id":
            value = f"(SELECT x.patient_id FROM {table} x WHERE x.id = {row_expr})"
        elif link == "enrolment_id":
            value = (
                f"(SELECT e.patient_id FROM {table} x JOIN enrolments e ON e.id = x.enrolment_id "
                f"WHERE x.id = {row_expr})"
            )
        else:
            value = (
                f"(SELECT e.patient_id FROM {table} x JOIN cycles c ON c.id = x.cycle_id "
                f"JOIN enrolments e ON e.id = c.enrolment_id WHERE x.id = {row_expr})"
            )
        cases.append(f"WHEN '{table}' THEN {value}")
    if signatures:
        signed = owner_sql("s.table_name", "s.row_id", signatures=False)
        cases.append(
            f"WHEN 'signatures' THEN (SELECT {signed} FROM signatures s WHERE s.id = {row_expr})"
        )
    return f"CASE {table_expr} " + " ".join(cases) + " END"


class Owners:
    """The patient of each row of one record, from its rows held in memory (a laptop's)."""

    def __init__(self, rows: Mapping[str, Sequence[Mapping[str, Any]]]) -> None:
        self._by_id = {table: {int(r["id"]): r for r in rows.get(table, ())} for table in LINKS}

    def of(self, table: str, row: Mapping[str, Any]) -> int | None:
        link = LINKS.get(table)
        if link is None:
            return None
        if link == "id":
            return int(row["id"])
        if link == "patient_id":
            return int(row["patient_id"])
        if link == "cycle_id":
            cycle = self._by_id["cycles"].get(int(row["cycle_id"]))
            return None if cycle is None else self.of("cycles", cycle)
        enrolment = self._by_id["enrolments"].get(int(row["enrolment_id"]))
        return None if enrolment is None else int(enrolment["patient_id"])


WHAT = {
    "patients": "patient details",
    "body_measurements": "weight and height",
    "enrolments": "enrolment",
    "labs": "lab result",
    "cycles": "cycle",
    "dose_events": "dose",
    "adverse_events": "adverse event",
    "response_assessments": "response assessment",
    "dose_modifications": "dose modification",
    "decisions": "decision",
    "dlt_reviews": "DLT review",
    "temperatures": "temperature",
    "gcsf_doses": "G-CSF dose",
    "endpoint_events": "endpoint event",
    "signatures": "signature",
}
"""What a nurse calls a row of each table the laptop brings back."""
