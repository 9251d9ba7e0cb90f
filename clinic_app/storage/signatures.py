"""Electronic signatures on decisions, and drafts of entries a lock interrupted.

A signature row names the signer (account and printed name), the UTC instant, what the
signature means ("I confirm this DLT decision") and the row it signs. It is written in the
same transaction as the row it signs, after the signer re-entered their password.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from clinic_app.core.errors import DomainError
from clinic_app.storage.database import Record
from clinic_app.storage.users import User

# The meaning of each kind of investigator signature (printed with it).
MEANINGS: Mapping[str, str] = {
    "dlt_reviews": "I confirm this DLT decision",
    "decisions": "I confirm this decision",
    "dose_modifications": "I confirm this dose modification",
    "condition_override": "I confirm this override of the treatment conditions",
}


@dataclass(frozen=True)
class Signature:
    printed_name: str
    username: str
    signed_at: str
    """UTC, ISO text ending in ``Z``."""
    meaning: str
    table: str
    row_id: int

    def line(self) -> str:
        """``"Signed by Dr Ada Byrne (ada.b) on 2026-05-04 09:12 UTC: I confirm ..."``."""
        when = self.signed_at[:16].replace("T", " ")
        return f"Signed by {self.printed_name} ({self.username}) on {when} UTC: {self.meaning}"


@dataclass(frozen=True)
class Signer:
    """An account whose password was just re-entered, and what the signature will mean."""

    user: User
    meaning: str


class SignatureRepository:
    def __init__(self, record: Record) -> None:
        self.record = record

    def sign(self, signer: Signer, table: str, row_id: int, *, at: datetime | None = None) -> int:
        """Record ``signer``'s signature on ``table``/``row_id`` (joins an open transaction)."""
        if not signer.meaning.strip():
            raise DomainError("A signature needs its meaning.", field="meaning")
        if self.record.has_users() and not self.record.is_verified(signer.user.username):
            raise DomainError(
                f"{signer.user.username} has not entered their password on this window, so "
                "nothing can be signed in their name.",
                field="password",
            )
        if self.record.app_user is not None and (
            signer.user.username.casefold() != self.record.app_user.casefold()
        ):
            raise DomainError(
                f"{signer.user.username} cannot sign for {self.record.app_user}, who is signed "
                "in on this window.",
                field="password",
            )
        moment = (at or datetime.now(UTC)).astimezone(UTC)
        signed_at = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        with self.record.transaction(reason=f"signed: {signer.meaning}") as db:
            return db.insert(
                "INSERT INTO signatures (user_id, printed_name, signed_at, meaning, table_name, "
                "row_id, created_by) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    signer.user.id,
                    signer.user.full_name,
                    signed_at,
                    signer.meaning.strip(),
                    table,
                    row_id,
                    self.record.actor,
                ],
            )

    def for_row(self, table: str, row_id: int) -> list[Signature]:
        with self.record.guard():
            rows = self.record.sql.execute(
                "SELECT s.printed_name, u.username, s.signed_at, s.meaning, s.table_name, "
                "s.row_id FROM signatures s JOIN users u ON u.id = s.user_id "
                "WHERE s.table_name = ? AND s.row_id = ? AND s.voided_at IS NULL ORDER BY s.id",
                [table, row_id],
            ).fetchall()
        return [
            Signature(str(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4]), int(r[5]))
            for r in rows
        ]


@dataclass(frozen=True)
class Draft:
    id: int
    version: int
    user_id: int
    dialog_kind: str
    patient_id: int | None
    fields: dict[str, Any]
    created_at: str


class DraftRepository:
    """Unsaved entries kept for their author when another user unlocked the window."""

    def __init__(self, record: Record) -> None:
        self.record = record

    def keep(
        self, user: User, dialog_kind: str, patient_id: int | None, fields: Mapping[str, Any]
    ) -> int:
        with self.record.transaction(reason=f"draft kept for {user.username}") as db:
            return db.insert(
                "INSERT INTO drafts (user_id, dialog_kind, patient_id, fields, created_by) "
                "VALUES (?, ?, ?, ?, ?)",
                [
                    user.id,
                    dialog_kind,
                    patient_id,
                    json.dumps(dict(fields), sort_keys=True),
                    self.record.actor,
                ],
            )

    def waiting(self, user: User, dialog_kind: str, patient_id: int | None) -> list[Draft]:
        with self.record.guard():
            rows = self.record.sql.execute(
                "SELECT id, version, user_id, dialog_kind, patient_id, fields, created_at "
                "FROM drafts WHERE user_id = ? AND dialog_kind = ? "
                "AND patient_id IS NOT DISTINCT FROM ? "
                "AND voided_at IS NULL ORDER BY id",
                [user.id, dialog_kind, patient_id],
            ).fetchall()
        return [
            Draft(int(r[0]), int(r[1]), int(r[2]), str(r[3]), r[4], json.loads(r[5]), str(r[6]))
            for r in rows
        ]

    def close(self, draft: Draft, reason: str) -> None:
        """The author used or discarded the draft: void it (it stays in the audit trail)."""
        with self.record.transaction(reason=reason) as db:
            db.execute(
                f"UPDATE drafts SET voided_at = {db.now_sql}, "
                "void_reason = ?, version = version + 1 WHERE id = ? AND voided_at IS NULL",
                [reason, draft.id],
            )
