"""What every repository shares: versioned get/update/void over one audited table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Generic, TypeVar

from clinic_app.core.errors import DomainError
from clinic_app.core.records import LINE_MAX, MRN_MAX, NAME_MAX, NOTE_MAX, check_text
from clinic_app.storage.audit import AuditEntry, changes_after, history
from clinic_app.storage.database import Record
from clinic_app.storage.engines import ConstraintError
from clinic_app.storage.errors import NOTHING_LOST, RowNotFoundError, StaleRecordError
from clinic_app.storage.permissions import require_write
from clinic_app.storage.rows import Stored

T = TypeVar("T")

Row = Mapping[str, Any]


def _require_reason(reason: str, what: str) -> str:
    if not reason or not reason.strip():
        raise DomainError(f"a reason is required to {what} a clinical record", field="reason")
    check_text(reason.strip(), "reason", "The reason", limit=NOTE_MAX, multiline=True)
    return reason.strip()


JSON_COLUMNS = frozenset(
    {
        "allergies",
        "alerts",
        "gates",
        "elected_options",
        "units",
        "attribution",
        "grade_history",
        "payload",
        "fields",
    }
)
"""Columns holding JSON (bounded by ``_codec.dump``), not one line of text."""
_TEXT_RULES: dict[str, tuple[int, bool, str]] = {
    "mrn": (MRN_MAX, False, "The MRN"),
    "family_name": (NAME_MAX, False, "The family name"),
    "given_name": (NAME_MAX, False, "The given name"),
    "full_name": (NAME_MAX, False, "The full name"),
    "printed_name": (NAME_MAX, False, "The printed name"),
    "username": (NAME_MAX, False, "The user name"),
    "notes": (NOTE_MAX, True, "The notes"),
    "details": (NOTE_MAX, True, "The details"),
    "reason": (NOTE_MAX, True, "The reason"),
    "delay_reason": (NOTE_MAX, True, "The reason for the delay"),
    "void_reason": (NOTE_MAX, True, "The reason for voiding"),
}


def check_columns(table: str, columns: Mapping[str, Any]) -> None:
    """Every text column printable and of bounded length (issue 15, item 3); one rule for the
    repositories and import. JSON columns are bounded by ``_codec.dump``."""
    for name, value in columns.items():
        if (
            not isinstance(value, str)
            or name in JSON_COLUMNS
            or (table, name)
            == (
                "settings",
                "value",
            )
        ):
            continue
        limit, multiline, label = _TEXT_RULES.get(
            name, (LINE_MAX, False, name.replace("_", " ").capitalize())
        )
        check_text(value, name, label, limit=limit, multiline=multiline)


class TableRepository(Generic[T]):
    """Versioned access to one clinical table whose rows decode to ``T``.

    Subclasses set ``table`` and ``noun`` and implement ``encode`` (the columns an edit may
    change, without id or parent keys) and ``decode``.
    """

    table: str
    noun: str

    def __init__(self, record: Record) -> None:
        self.record = record

    # -- to implement -----------------------------------------------------------------------
    def encode(self, value: T) -> dict[str, Any]:
        raise NotImplementedError

    def decode(self, row: Row) -> T:
        raise NotImplementedError

    # -- reads ------------------------------------------------------------------------------
    def _rows(self, where: str, params: Sequence[Any], order_by: str) -> list[Row]:
        sql = f"SELECT * FROM {self.table} WHERE {where} ORDER BY {order_by}"
        with self.record.guard():
            return list[Row](self.record.sql.rows(sql, list(params)))

    def _live(self, where: str, params: Sequence[Any], order_by: str = "id") -> list[T]:
        rows = self._rows(f"({where}) AND voided_at IS NULL", params, order_by)
        return [self.decode(r) for r in rows]

    def _stored(self, row: Row) -> Stored[T]:
        return Stored(
            value=self.decode(row),
            id=int(row["id"]),
            version=int(row["version"]),
            created_at=str(row["created_at"]),
            created_by=str(row["created_by"]),
            voided_at=row["voided_at"],
            void_reason=row["void_reason"],
        )

    def get(self, row_id: int) -> Stored[T]:
        """The row with its version (voided rows too: check ``Stored.voided``)."""
        rows = self._rows("id = ?", [row_id], "id")
        if not rows:
            raise RowNotFoundError(f"There is no {self.noun} with id {row_id} in this record.")
        return self._stored(rows[0])

    def history(self, row_id: int) -> list[AuditEntry]:
        with self.record.guard():
            return history(self.record, self.table, row_id)

    def row_problems(self, row: Row) -> list[tuple[str | None, str]]:
        """What data entry would refuse in a whole stored row (import checks every row so):
        ``(column or None, sentence)``; empty when the row could have been entered."""
        try:
            check_columns(self.table, row)
            self.encode(self.decode(row))
        except DomainError as exc:
            return [(exc.field, exc.message)]
        except (ValueError, TypeError, KeyError, ArithmeticError) as exc:
            return [(None, f"cannot be read as a {self.noun} ({exc})")]
        return []

    # -- writes -----------------------------------------------------------------------------
    def _insert(self, columns: dict[str, Any], reason: str | None) -> int:
        require_write(self.record, self.table, columns)
        check_columns(self.table, columns)
        columns = {**columns, "created_by": self.record.actor}
        names = ", ".join(columns)
        marks = ", ".join("?" for _ in columns)
        with self.record.transaction(reason=reason) as db:
            try:
                return db.insert(
                    f"INSERT INTO {self.table} ({names}) VALUES ({marks})", list(columns.values())
                )
            except ConstraintError as exc:
                raise self._integrity_problem(exc, columns) from exc

    def _integrity_problem(self, exc: ConstraintError, columns: Mapping[str, Any]) -> Exception:
        """Subclasses turn known constraint failures into a sentence; the rest stays as is."""
        text = str(exc)
        if "FOREIGN KEY" in text:
            return DomainError(
                f"The {self.noun} refers to a row that is not in this record; {NOTHING_LOST}."
            )
        return exc

    def update(self, row_id: int, value: T, *, expected_version: int, reason: str) -> Stored[T]:
        """Correct a row: ``expected_version`` is the version the editor read.

        Raises :class:`StaleRecordError` (showing what the other person changed) when the row
        has moved on, and :class:`RowNotFoundError` when it does not exist.
        """
        why = _require_reason(reason, "correct")
        columns = self.encode(value)
        require_write(self.record, self.table, columns)
        check_columns(self.table, columns)
        sets = ", ".join(f"{name} = ?" for name in columns)
        with self.record.transaction(reason=why) as db:
            try:
                cursor = db.execute(
                    f"UPDATE {self.table} SET {sets}, version = version + 1 "
                    "WHERE id = ? AND version = ? AND voided_at IS NULL",
                    [*columns.values(), row_id, expected_version],
                )
            except ConstraintError as exc:
                raise self._integrity_problem(exc, columns) from exc
            if cursor.rowcount != 1:
                raise self._stale(row_id, expected_version)
        return self.get(row_id)

    def void(self, row_id: int, *, expected_version: int, reason: str) -> None:
        """Mark a row entered in error; it stays in the record and in the audit trail."""
        why = _require_reason(reason, "void")
        current = self._rows("id = ?", [row_id], "id")
        require_write(self.record, self.table, current[0] if current else None)
        with self.record.transaction(reason=why) as db:
            cursor = db.execute(
                f"UPDATE {self.table} SET voided_at = {db.now_sql}, "
                "void_reason = ?, version = version + 1 "
                "WHERE id = ? AND version = ? AND voided_at IS NULL",
                [why, row_id, expected_version],
            )
            if cursor.rowcount != 1:
                raise self._stale(row_id, expected_version)

    def _stale(self, row_id: int, expected_version: int) -> Exception:
        current = self.get(row_id)  # raises RowNotFoundError for an unknown id
        entries = changes_after(self.record, self.table, row_id, expected_version)
        if current.version == expected_version and current.voided:
            return StaleRecordError(
                f"This {self.noun} (id {row_id}) was voided ({current.void_reason}) and can no "
                f"longer be changed; {NOTHING_LOST}."
            )
        if not entries:
            return StaleRecordError(
                f"Your copy of this {self.noun} (id {row_id}) says version {expected_version}, "
                f"but the record holds version {current.version}; {NOTHING_LOST}. Reopen it."
            )
        changes = "; ".join(entry.describe() for entry in entries)
        return StaleRecordError(
            f"Someone else changed this {self.noun} (id {row_id}) after you opened it, so your "
            f"edit was not saved and nothing else was changed. Their changes: {changes}. "
            "Reopen the record and apply your edit again if it is still needed."
        )
