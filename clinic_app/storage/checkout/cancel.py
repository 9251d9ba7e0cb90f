"""Cancelling a check-out (a lost laptop) and the review sets a later check-in leaves.

Only an administrator cancels, with a reason: the patient becomes writable at the clinic
again. Should the laptop turn up and be checked in, its changes are not applied over what
the clinic wrote since: they are stored whole as a review set (``checkin_reviews``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from clinic_app.storage.checkout.out import CheckoutRefused, now_text
from clinic_app.storage.database import Record
from clinic_app.storage.errors import NOTHING_LOST
from clinic_app.storage.permissions import PermissionDeniedError, Role


@dataclass(frozen=True)
class ReviewSet:
    id: int
    laptop_label: str
    received_at: str
    received_by: str
    entries: int
    status: str
    changes: dict[str, Any]


def cancel_checkout(clinic: Record, mrn: str, reason: str, *, now: datetime | None = None) -> str:
    """Cancel the patient ``mrn``'s check-out; returns the sentence saying what was done."""
    if clinic.has_users() and clinic.role is not Role.ADMINISTRATOR:
        raise PermissionDeniedError(
            "Only an administrator may cancel a check-out (it lets the clinic change a chart "
            f"that is also on a laptop); {NOTHING_LOST}."
        )
    why = reason.strip()
    if not why:
        raise CheckoutRefused(
            f"Cancelling a check-out needs a reason (for example 'laptop lost'); {NOTHING_LOST}."
        )
    stamp = now_text(now)
    with clinic.transaction(reason=f"check-out cancelled: {why}") as sql:
        row = sql.execute(
            "SELECT k.id, k.version, k.laptop_label FROM checkouts k JOIN patients p ON "
            "p.id = k.patient_id WHERE p.mrn = ? AND p.voided_at IS NULL AND k.side = 'clinic' "
            "AND k.status = 'out' AND k.voided_at IS NULL",
            [mrn],
        ).fetchone()
        if row is None:
            raise CheckoutRefused(
                f"The patient {mrn} is not checked out, so there is nothing to cancel; "
                f"{NOTHING_LOST}."
            )
        sql.execute(
            "UPDATE checkouts SET status = 'cancelled', cancelled_at = ?, cancelled_by = ?, "
            "cancel_reason = ?, version = version + 1 WHERE id = ? AND version = ?",
            [stamp, clinic.actor, why, row[0], row[1]],
        )
    return (
        f"The check-out of {mrn} to the laptop {row[2]} was cancelled; the chart can be changed "
        "here again. If that laptop is checked in later, its changes are kept for review, not "
        "applied."
    )


def pending_reviews(record: Record) -> list[ReviewSet]:
    """The review sets nobody has settled yet, oldest first."""
    with record.guard():
        rows = record.sql.rows(
            "SELECT id, laptop_label, received_at, received_by, entries, status, changes "
            "FROM checkin_reviews WHERE status = 'pending' AND voided_at IS NULL ORDER BY id"
        )
    return [
        ReviewSet(
            int(r["id"]),
            str(r["laptop_label"]),
            str(r["received_at"]),
            str(r["received_by"]),
            int(r["entries"]),
            str(r["status"]),
            json.loads(str(r["changes"])),
        )
        for r in rows
    ]
