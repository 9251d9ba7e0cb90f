"""Browsing the whole audit trail: by patient, user, table and day; CSV export.

A patient's trail is every row that belongs to them: the patient row itself, rows with their
``patient_id``, rows of their enrolments (``enrolment_id``) and the doses of those enrolments'
cycles. Instants in the log are UTC; the day filter compares UTC days.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from clinic_app.storage import csv_cells, schema
from clinic_app.storage.audit import ENTRY_COLUMNS, AuditEntry, entries_from
from clinic_app.storage.database import Record
from clinic_app.storage.queries import table_columns

_SNAPSHOT = "COALESCE(new_json, old_json)"


def _of_patient(record: Record) -> str:
    """Entries of rows that belong to patient ``:pid``.

    Read from the rows themselves (an update logs only the columns it changed, so it does not
    name the patient), plus entries whose own JSON names the patient (a row moved to another
    patient by plain SQL still shows under both).
    """
    parts = ["(table_name = 'patients' AND row_id = :pid)"]
    for table in (*schema.CLINICAL_TABLES, *schema.ACCOUNT_TABLES):
        columns = {c.name for c in table_columns(record, table)}
        if "patient_id" in columns:
            inner = f"SELECT id FROM {table} WHERE patient_id = :pid"
        elif "enrolment_id" in columns:
            inner = (
                f"SELECT x.id FROM {table} x JOIN enrolments e ON e.id = x.enrolment_id "
                "WHERE e.patient_id = :pid"
            )
        elif "cycle_id" in columns:
            inner = (
                f"SELECT x.id FROM {table} x JOIN cycles c ON c.id = x.cycle_id "
                "JOIN enrolments e ON e.id = c.enrolment_id WHERE e.patient_id = :pid"
            )
        else:
            continue
        parts.append(f"(table_name = '{table}' AND row_id IN ({inner}))")
    named = record.sql.json_text(_SNAPSHOT, "patient_id")
    parts.append(f"CAST({named} AS BIGINT) = :pid")
    return "(" + " OR ".join(parts) + ")"


@dataclass(frozen=True)
class AuditFilter:
    patient_id: int | None = None
    user: str | None = None
    """An app username, or an operating-system user for changes made without sign-in."""
    table: str | None = None
    since: date | None = None
    until: date | None = None
    """Inclusive."""
    limit: int = 5000


def audit_entries(record: Record, wanted: AuditFilter) -> list[AuditEntry]:
    """The entries matching ``wanted``, newest first (at most ``wanted.limit``)."""
    clauses: list[str] = []
    params: dict[str, Any] = {"limit": wanted.limit}
    if wanted.patient_id is not None:
        clauses.append(_of_patient(record))
        params["pid"] = wanted.patient_id
    if wanted.user:
        clauses.append("(app_user = :user OR (app_user IS NULL AND os_user = :user))")
        params["user"] = wanted.user
    if wanted.table:
        clauses.append("table_name = :table")
        params["table"] = wanted.table
    if wanted.since is not None:
        clauses.append("at >= :since")
        params["since"] = wanted.since.isoformat()
    if wanted.until is not None:
        clauses.append("at < :before")
        params["before"] = (wanted.until + timedelta(days=1)).isoformat()
    where = " AND ".join(clauses) or "TRUE"
    with record.guard():
        rows = record.sql.execute(
            f"SELECT {ENTRY_COLUMNS} FROM audit_log WHERE {where} ORDER BY id DESC LIMIT :limit",
            params,
        ).fetchall()
    return entries_from(rows)


def audit_users(record: Record) -> list[str]:
    """Every name the trail can be filtered by (app users, else OS users), sorted."""
    with record.guard():
        rows = record.sql.execute(
            "SELECT DISTINCT COALESCE(app_user, os_user) FROM audit_log "
            "WHERE COALESCE(app_user, os_user) IS NOT NULL"
        ).fetchall()
    return sorted(str(r[0]) for r in rows)


def audit_tables(record: Record) -> list[str]:
    with record.guard():
        rows = record.sql.execute("SELECT DISTINCT table_name FROM audit_log").fetchall()
    return sorted(str(r[0]) for r in rows)


def field_changes(
    entry: AuditEntry, before: dict[str, Any] | None = None
) -> list[tuple[str, Any, Any]]:
    """``(field, old, new)`` for every field of the row, changed ones first (for an insert,
    every field with old ``None``).

    An update logs only the fields it changed; pass ``before`` (``audit.state_before``) to
    list the unchanged ones too."""
    old = {**(before or {}), **(entry.old or {})}
    new = {**(before or {}), **(entry.new or {})} if entry.action != "insert" else entry.new or {}
    keys = list(dict.fromkeys([*new, *old]))
    changed = [(k, old.get(k), new.get(k)) for k in keys if old.get(k) != new.get(k)]
    same = [(k, old.get(k), new.get(k)) for k in keys if old.get(k) == new.get(k)]
    return changed + same


CSV_COLUMNS = (
    "id",
    "at_utc",
    "app_user",
    "os_user",
    "via",
    "reason",
    "table",
    "row_id",
    "action",
    "changes",
    "old_json",
    "new_json",
)


def write_csv(entries: Iterable[AuditEntry], path: Path) -> int:
    """Write ``entries`` to ``path`` (UTF-8 with BOM so spreadsheets read accents); returns
    how many rows were written."""
    count = 0
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for e in entries:
            changes = "; ".join(f"{k}: {o!r} -> {n!r}" for k, o, n in e.changes())
            writer.writerow(
                [
                    # A reason or value typed as "=..." must not run in a spreadsheet.
                    csv_cells.spreadsheet_safe(cell) if isinstance(cell, str) else cell
                    for cell in _audit_cells(e, changes)
                ]
            )
            count += 1
    return count


def _audit_cells(e: AuditEntry, changes: str) -> list[Any]:
    return [
        e.id,
        e.at,
        e.app_user or "",
        e.os_user or "",
        e.via,
        e.reason or "",
        e.table,
        e.row_id,
        e.action,
        changes,
        "" if e.old is None else json.dumps(e.old, ensure_ascii=False),
        "" if e.new is None else json.dumps(e.new, ensure_ascii=False),
    ]
