"""Check-out: some patients' whole charts into a new laptop record, marked out in the clinic.

The laptop record is a SQLite file of its own (its own identity, storage/identity.py) holding
only those patients' rows with their ids and their audit entries (the same instants, names,
reasons and JSON; numbered 1, 2, 3 ... in the laptop's own log), the settings and the user
accounts (so sign-in works offline), and one ``checkouts`` row per patient saying where it came
from. The protocols' thresholds are settings, so they travel; the protocol files are the
laptop's installation.

One transaction on each side, the laptop's inside the clinic's: the clinic's rows are read
under its write transaction, the laptop file is written and renamed into place, and only then
does the clinic commit its ``checkouts`` rows. If the laptop file cannot be written the clinic
is not marked; if the clinic cannot commit, the laptop file is removed.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from clinic_app.storage.checkout.guard import LOCKED, lock_for_checkout
from clinic_app.storage.checkout.links import CHART_TABLES, ids_of_patients, placeholders
from clinic_app.storage.database import Record, open_database
from clinic_app.storage.engines import Engine
from clinic_app.storage.errors import NOTHING_LOST, StorageError
from clinic_app.storage.identity import record_identity
from clinic_app.storage.permissions import Permission, require

CARRIED_WHOLE = ("settings", "users")
"""Copied whole onto every laptop: the clinic's settings, and its accounts for sign-in."""

ENTRY_COLUMNS = (
    "at",
    "via",
    "app_user",
    "os_user",
    "reason",
    "table_name",
    "row_id",
    "action",
    "old_json",
    "new_json",
)
"""An audit entry as copied: everything but its number (each record numbers its own log)."""

_ROW_ID = ENTRY_COLUMNS.index("row_id")
_MAX_PARAMETERS = 900


class CheckoutRefused(StorageError):
    """The check-out (or check-in) was not done; the sentence says why and that nothing
    changed."""


@dataclass(frozen=True)
class CheckoutReport:
    laptop: Path
    label: str
    mrns: tuple[str, ...]
    since: str
    rows: dict[str, int] = field(default_factory=dict)
    audit_entries: int = 0

    def lines(self) -> list[str]:
        out = [
            f"Checked out {len(self.mrns)} patient{'' if len(self.mrns) == 1 else 's'} "
            f"({', '.join(self.mrns)}) to the laptop "
            f"{self.label}: {self.laptop}.",
            f"The laptop record holds {sum(self.rows.values())} rows and {self.audit_entries} "
            "audit entries; the clinic's record keeps every row and refuses changes to these "
            "patients until the laptop is checked in.",
        ]
        out += [f"  {table}: {count}" for table, count in self.rows.items() if count]
        return out


def now_text(now: datetime | None = None) -> str:
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def check_label(label: str) -> str:
    text = label.strip()
    if not text or len(text) > 100 or any(ord(c) < 32 for c in text):
        raise CheckoutRefused(
            "The laptop needs a name of one line, at most 100 characters (for example "
            f"'Laptop 2'), so nothing was checked out; {NOTHING_LOST}."
        )
    return text


def check_out(
    clinic: Record,
    laptop_path: Path,
    mrns: Sequence[str],
    label: str,
    *,
    now: datetime | None = None,
) -> CheckoutReport:
    """Copy the charts of ``mrns`` into a new laptop record at ``laptop_path`` and mark them
    out in ``clinic``. Raises :class:`CheckoutRefused` (nothing written) for an unknown or
    already checked-out MRN, an existing file, or a name that is not one line."""
    require(clinic, Permission.PATIENTS)
    label = check_label(label)
    wanted = list(dict.fromkeys(m.strip() for m in mrns if m.strip()))
    if not wanted:
        raise CheckoutRefused(f"No MRN was given, so nothing was checked out; {NOTHING_LOST}.")
    if laptop_path.exists():
        raise CheckoutRefused(
            f"There is already a file at {laptop_path}, so nothing was checked out and that file "
            f"was not touched; name a new file for the laptop record. {NOTHING_LOST.capitalize()}."
        )
    clinic_identity = record_identity(clinic) or ""
    since = now_text(now)
    actor = clinic.actor
    partial = laptop_path.with_name(f"{laptop_path.name}.{os.getpid()}.partial")
    sides = [partial.with_name(partial.name + s) for s in ("", "-journal", "-wal", "-shm")]
    placed = committed = False
    try:
        with clinic.transaction(reason=f"checked out to the laptop {label}") as sql:
            # Before reading: no write to these charts may commit unseen while they are copied.
            lock_for_checkout(sql, shared=False)
            patients = _patients(sql, wanted)
            mark = int(sql.execute("SELECT coalesce(max(id), 0) FROM audit_log").fetchone()[0])
            for leftover in sides:
                leftover.unlink(missing_ok=True)
            with open_database(partial, app_user=clinic.app_user) as laptop:
                laptop_identity = record_identity(laptop) or ""
                lent = {
                    pid: sql.insert(
                        "INSERT INTO checkouts (patient_id, side, laptop_label, laptop_identity, "
                        "clinic_identity, clinic_location, audit_mark, checked_out_at, "
                        "checked_out_by, status, created_by) "
                        "VALUES (?, 'clinic', ?, ?, ?, ?, ?, ?, ?, 'out', ?)",
                        [
                            pid,
                            label,
                            laptop_identity,
                            clinic_identity,
                            str(clinic.location),
                            mark,
                            since,
                            actor,
                            actor,
                        ],
                    )
                    for pid in patients
                }
                rows, entries = _fill_laptop(sql, laptop, list(patients))
                with laptop.transaction(reason=f"checked out from the clinic as {label}") as into:
                    laptop_mark = int(
                        into.execute("SELECT coalesce(max(id), 0) FROM audit_log").fetchone()[0]
                    )
                    for pid, checkout_id in lent.items():
                        into.insert(
                            "INSERT INTO checkouts (patient_id, side, laptop_label, "
                            "laptop_identity, clinic_identity, clinic_location, "
                            "clinic_checkout_id, audit_mark, checked_out_at, checked_out_by, "
                            "status, created_by) "
                            "VALUES (?, 'laptop', ?, ?, ?, ?, ?, ?, ?, ?, 'out', ?)",
                            [
                                pid,
                                label,
                                laptop_identity,
                                clinic_identity,
                                str(clinic.location),
                                checkout_id,
                                laptop_mark,
                                since,
                                actor,
                                actor,
                            ],
                        )
                # A self-contained file for a USB stick: no -wal or -shm beside it.
                laptop.sql.execute("PRAGMA journal_mode = DELETE").fetchone()
            os.replace(partial, laptop_path)
            placed = True
        committed = True
    except OSError as exc:
        raise StorageError(
            f"The laptop record {laptop_path} could not be written ({exc.strerror or exc}), so "
            f"no patient was checked out; {NOTHING_LOST}."
        ) from exc
    finally:
        for leftover in sides:
            leftover.unlink(missing_ok=True)
        if placed and not committed:  # the clinic did not mark them: no laptop record either
            laptop_path.unlink(missing_ok=True)
    return CheckoutReport(laptop_path, label, tuple(patients.values()), since, rows, entries)


def _patients(sql: Engine, mrns: Sequence[str]) -> dict[int, str]:
    found = {
        str(mrn): int(pid)
        for pid, mrn in sql.execute(
            f"SELECT id, mrn FROM patients WHERE voided_at IS NULL AND mrn IN "
            f"({placeholders(len(mrns))})",
            list(mrns),
        ).fetchall()
    }
    missing = [m for m in mrns if m not in found]
    if missing:
        raise CheckoutRefused(
            f"No patient has the MRN {', '.join(missing)} in this record, so nothing was checked "
            f"out; {NOTHING_LOST}."
        )
    ids = list(found.values())
    out = sql.execute(
        f"SELECT p.mrn, k.laptop_label, k.checked_out_at FROM checkouts k JOIN patients p "
        f"ON p.id = k.patient_id WHERE {LOCKED} AND k.patient_id IN ({placeholders(len(ids))})",
        ids,
    ).fetchone()
    if out is not None:
        raise CheckoutRefused(
            f"The patient {out[0]} is already checked out to the laptop {out[1]} (since "
            f"{str(out[2])[:10]}), so nothing was checked out; {NOTHING_LOST}."
        )
    return {found[m]: m for m in mrns}


def _fill_laptop(sql: Engine, laptop: Record, patients: list[int]) -> tuple[dict[str, int], int]:
    """The charts, settings and accounts with their entries, in one laptop transaction with
    the laptop's triggers suspended (the entries are the clinic's)."""
    tables = [*CHART_TABLES, *CARRIED_WHOLE, "signatures"]
    counts: dict[str, int] = {}
    entries: list[tuple[Any, ...]] = []
    carried: dict[str, set[int]] = {}
    with laptop.transaction(reason="checked out") as into, into.triggers_suspended(tables):
        for table in (*CHART_TABLES, *CARRIED_WHOLE):
            where = (
                f"id IN ({ids_of_patients(table, len(patients))})"
                if table in CHART_TABLES
                else "TRUE"
            )
            params = patients if table in CHART_TABLES else []
            rows = _select(sql, table, where, params)
            counts[table] = _insert(into, table, rows)
            carried[table] = {int(r["id"]) for r in rows}
            entries += _entries(sql, table, where.replace("id IN", "row_id IN", 1), params)
        signatures = [
            r
            for r in _select(sql, "signatures", "TRUE", [])
            if int(r["row_id"]) in carried.get(str(r["table_name"]), set())
        ]
        counts["signatures"] = _insert(into, "signatures", signatures)
        signed = {int(r["id"]) for r in signatures}
        entries += [e for e in _entries(sql, "signatures", "TRUE", []) if int(e[_ROW_ID]) in signed]
        entries.sort(key=lambda e: int(e[-1]))
        names = ", ".join(ENTRY_COLUMNS)
        one = "(" + placeholders(len(ENTRY_COLUMNS)) + ")"
        for batch in _batches(entries, _MAX_PARAMETERS // len(ENTRY_COLUMNS)):
            into.execute(
                f"INSERT INTO audit_log ({names}) VALUES " + ", ".join(one for _ in batch),
                [value for entry in batch for value in entry[:-1]],
            )
    return counts, len(entries)


def _select(sql: Engine, table: str, where: str, params: list[Any]) -> list[dict[str, Any]]:
    names = [c.name for c in sql.columns(table)]
    return sql.rows(f"SELECT {', '.join(names)} FROM {table} WHERE {where} ORDER BY id", params)


def _entries(sql: Engine, table: str, where: str, params: list[Any]) -> list[tuple[Any, ...]]:
    """The entries of ``table``'s rows matching ``where`` (over ``row_id``), each ending with
    its number in the clinic's log."""
    cursor = sql.execute(
        f"SELECT {', '.join(ENTRY_COLUMNS)}, id FROM audit_log WHERE table_name = ? AND "
        f"({where}) ORDER BY id",
        [table, *params],
    )
    return [tuple(r) for r in cursor.fetchall()]


def _insert(into: Engine, table: str, rows: list[dict[str, Any]]) -> int:
    if not rows:
        return 0
    names = list(rows[0])
    one = "(" + placeholders(len(names)) + ")"
    for batch in _batches(rows, max(1, _MAX_PARAMETERS // len(names))):
        into.execute(
            f"INSERT INTO {table} ({', '.join(names)}) VALUES " + ", ".join(one for _ in batch),
            [row[n] for row in batch for n in names],
        )
    return len(rows)


def _batches(items: Iterable[Any], size: int) -> Iterable[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
