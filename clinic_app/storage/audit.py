"""Reading the audit trail the triggers write (the triggers themselves are in ``schema.py``)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from clinic_app.storage.database import Record

# Columns every clinical table carries for bookkeeping; a diff of these says nothing clinical.
BOOKKEEPING = frozenset({"id", "version", "created_at", "created_by"})


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: str
    via: str
    app_user: str | None
    os_user: str | None
    reason: str | None
    table: str
    row_id: int
    action: str
    old: dict[str, Any] | None
    new: dict[str, Any] | None

    @property
    def who(self) -> str:
        if self.via != "clinic-app":
            return self.via  # "outside the app": plain SQL, nobody we can name
        if self.app_user:
            return f"{self.app_user} ({self.os_user})"
        return self.os_user or "unknown user"

    def changes(self) -> list[tuple[str, Any, Any]]:
        """``(column, old, new)`` for every non-bookkeeping column this entry changed."""
        old, new = self.old or {}, self.new or {}
        return [
            (key, old.get(key), new.get(key))
            for key in new
            if key not in BOOKKEEPING and old.get(key) != new.get(key)
        ]

    def describe(self) -> str:
        if self.action == "void":
            what = f"voided it (reason: {(self.new or {}).get('void_reason')})"
        elif self.action == "insert":
            what = "created it"
        else:
            parts = [f"{key}: {old!r} -> {new!r}" for key, old, new in self.changes()]
            what = "changed " + ("; ".join(parts) if parts else "nothing visible")
        because = f" because {self.reason!r}" if self.reason else ""
        return f"{self.who} {what} at {self.at}{because}"


def _load(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    value = json.loads(text)
    return value if isinstance(value, dict) else None


# The columns every audit read selects, in the order ``entries_from`` expects.
ENTRY_COLUMNS = (
    "id, at, via, app_user, os_user, reason, table_name, row_id, action, old_json, new_json"
)


def entries_from(rows: Iterable[Sequence[Any]]) -> list[AuditEntry]:
    """Audit entries from rows selected with ``ENTRY_COLUMNS``."""
    return [
        AuditEntry(
            id=r[0],
            at=r[1],
            via=r[2],
            app_user=r[3],
            os_user=r[4],
            reason=r[5],
            table=r[6],
            row_id=r[7],
            action=r[8],
            old=_load(r[9]),
            new=_load(r[10]),
        )
        for r in rows
    ]


def history(record: Record, table: str, row_id: int) -> list[AuditEntry]:
    """Every audited change of one row, oldest first."""
    rows = record.sql.execute(
        f"SELECT {ENTRY_COLUMNS} FROM audit_log WHERE table_name = ? AND row_id = ? ORDER BY id",
        [table, row_id],
    ).fetchall()
    return entries_from(rows)


def row_states(
    entries: Sequence[AuditEntry],
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """The whole row before and after each of one row's entries (oldest first).

    An update logs only the columns it changed (issue 16); the row as it was at any point is
    the insert's whole row with every later entry's new values laid over it in order.
    Entries logged before migration 0006 hold whole rows, which read the same way.
    """
    state: dict[str, Any] = {}
    out: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for entry in entries:
        before = {} if entry.action == "insert" else dict(state)
        after = {**before, **(entry.new or {})}
        out.append((before, after))
        state = after
    return out


def state_before(record: Record, entry: AuditEntry) -> dict[str, Any]:
    """The whole row just before ``entry`` (empty for an insert)."""
    with record.guard():
        entries = history(record, entry.table, entry.row_id)
    earlier = [e for e in entries if e.id <= entry.id]
    states = row_states(earlier)
    return states[-1][0] if states else {}


def changes_after(record: Record, table: str, row_id: int, version: int) -> list[AuditEntry]:
    """The updates and voids that produced versions after ``version``."""
    return [
        entry
        for entry in history(record, table, row_id)
        if entry.action != "insert" and int((entry.new or {}).get("version", 0)) > version
    ]
