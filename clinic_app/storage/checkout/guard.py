"""While patients are out on a laptop, their record refuses every write to their charts.

Enforced at the commit of every transaction (``Record.transaction`` calls :func:`refuse_locked`
with the newest audit entry from before the transaction), like the signatures the rules
require: whatever wrote the rows (a dialog, a service, a script through the app), the entries
of this transaction name them, and a row of a locked patient ends the transaction unsaved.

A patient is locked in a clinic record while its check-out is ``out``, and in a laptop record
once it was checked in (``returned``): after that the laptop is a read-only souvenir.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from clinic_app.storage.checkout.links import CHART_TABLES, owner_sql, placeholders
from clinic_app.storage.errors import NOTHING_LOST, StorageError

if TYPE_CHECKING:
    from clinic_app.storage.database import Record
    from clinic_app.storage.engines import Engine

LOCKED = (
    "k.voided_at IS NULL AND ((k.side = 'clinic' AND k.status = 'out') "
    "OR (k.side = 'laptop' AND k.status = 'returned'))"
)
"""SQL over ``checkouts k``: this check-out keeps its patient from being written here."""


class CheckedOutError(StorageError):
    """A write touched a patient who is checked out to a laptop (or was checked back in)."""

    title = "This patient is on a laptop"
    """What a message box about it is called (not "the record could not be used")."""


@dataclass(frozen=True)
class CheckedOut:
    patient_id: int
    mrn: str
    laptop_label: str
    since: str
    """When it was checked out (UTC ISO instant)."""
    by: str
    side: str
    """``clinic``: out on that laptop; ``laptop``: this laptop record's copy, checked in."""
    returned_at: str | None


def _refusal_sql() -> str:
    owner = owner_sql("a.table_name", "a.row_id")
    return (
        "SELECT k.side, k.laptop_label, k.checked_out_at, k.returned_at, p.mrn "
        f"FROM audit_log a JOIN checkouts k ON k.patient_id = ({owner}) "
        "JOIN patients p ON p.id = k.patient_id "
        f"WHERE a.id > ? AND a.table_name IN ({placeholders(len(_WATCHED))}) AND {LOCKED} "
        # A check-out written in this same transaction does not lock it: a whole record
        # copied (onto the server, or a server's backup) brings its check-outs with its rows.
        "AND NOT EXISTS (SELECT 1 FROM audit_log c WHERE c.table_name = 'checkouts' "
        "AND c.row_id = k.id AND c.action = 'insert' AND c.id > ?) "
        "ORDER BY a.id LIMIT 1"
    )


_WATCHED = (*CHART_TABLES, "signatures")
_REFUSAL_SQL = _refusal_sql()

CHECKOUT_LOCK = 4_180_619
"""The server's advisory lock between check-outs (exclusive) and commits (shared): a write
either commits before a check-out reads the charts, or waits and then sees its check-outs."""


def lock_for_checkout(sql: Engine, *, shared: bool) -> None:
    """On a server, take the check-out lock for the rest of this transaction. SQLite needs
    none: its write transactions already take turns."""
    if sql.kind != "postgresql":
        return
    name = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    sql.execute(f"SELECT {name}(?)", [CHECKOUT_LOCK]).fetchone()


def refuse_locked(sql: Engine, after: int) -> None:
    """Raise :class:`CheckedOutError` when an entry after ``after`` (this transaction's) is of
    a row of a locked patient."""
    # Read committed on the server: after the lock, a check-out that committed meanwhile is seen.
    lock_for_checkout(sql, shared=True)
    row = sql.execute(_REFUSAL_SQL, [after, *_WATCHED, after]).fetchone()
    if row is None:
        return
    side, label, since, returned, mrn = row
    if side == "clinic":
        raise CheckedOutError(
            f"The patient {mrn} is checked out to the laptop {label} since {_day(since)}, so "
            f"this record does not take changes to that chart until the laptop is checked in "
            f"(or an administrator cancels the check-out); {NOTHING_LOST}."
        )
    raise CheckedOutError(
        f"The patient {mrn} was checked in from this laptop record ({label}) to the clinic on "
        f"{_day(returned)}, so this copy no longer takes changes; make them in the clinic's "
        f"record. {NOTHING_LOST.capitalize()}."
    )


def _day(instant: object) -> str:
    """A stored instant as this computer's local time, as the other screens show times."""
    return local_time(str(instant or ""))


def local_time(text: str) -> str:
    """``2026-12-02T18:42:10.123Z`` -> ``2026-12-02 19:42`` in this computer's time zone; text
    that is not an instant is shown as it is (never a guess)."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    if moment.tzinfo is None:
        return text
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


def checked_out_patients(record: Record) -> dict[int, CheckedOut]:
    """Patient id -> why it cannot be written in this record (out on a laptop, or, in a
    laptop record, already checked in). Reading those charts works as always."""
    with record.guard():
        rows = record.sql.execute(
            "SELECT k.patient_id, p.mrn, k.laptop_label, k.checked_out_at, k.checked_out_by, "
            "k.side, k.returned_at FROM checkouts k JOIN patients p ON p.id = k.patient_id "
            f"WHERE {LOCKED} ORDER BY k.id"
        ).fetchall()
    return {
        int(r[0]): CheckedOut(
            int(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4]), str(r[5]), r[6]
        )
        for r in rows
    }


def describe(item: CheckedOut) -> str:
    """One line for a chart or the patient list."""
    if item.side == "clinic":
        return f"checked out to {item.laptop_label} since {_day(item.since)} by {item.by}"
    return f"checked in to the clinic on {_day(item.returned_at)} (read only here)"


def chart_note(record: Record, patient_id: int) -> str | None:
    """The sentence a chart shows while its patient cannot be changed in this record (one
    query), or None."""
    with record.guard():
        row = record.sql.execute(
            "SELECT k.patient_id, p.mrn, k.laptop_label, k.checked_out_at, k.checked_out_by, "
            "k.side, k.returned_at FROM checkouts k JOIN patients p ON p.id = k.patient_id "
            f"WHERE k.patient_id = ? AND {LOCKED} ORDER BY k.id DESC LIMIT 1",
            [patient_id],
        ).fetchone()
    if row is None:
        return None
    item = CheckedOut(
        int(row[0]), str(row[1]), str(row[2]), str(row[3]), str(row[4]), str(row[5]), row[6]
    )
    if item.side == "clinic":
        return (
            f"Checked out to the laptop {item.laptop_label} since {_day(item.since)} by "
            f"{item.by}: this chart can be read here but not changed until the laptop is "
            "checked in."
        )
    return (
        f"Checked in to the clinic on {_day(item.returned_at)}: this laptop's copy can be read "
        "but no longer changed."
    )
