"""``reviews`` and ``review``: settling a cancelled laptop's changes kept at check-in (issue 19).

``clinic-app reviews --db CLINIC`` lists the sets still to settle; ``clinic-app review --db
CLINIC ID`` shows a set's changes beside the clinic's rows, ``--apply --reason TEXT`` applies
what does not conflict and ``--dismiss --reason TEXT`` settles it keeping its changes (both an
administrator). Sign-in, backup and reporting are check-out's (``_on_clinic``).
"""

from __future__ import annotations

import argparse
from typing import Any

from clinic_app.commands.base import fail
from clinic_app.commands.checkout_commands import _on_clinic
from clinic_app.commands.user_commands import add_user_option
from clinic_app.services.field_words import field_label, value_text
from clinic_app.storage.checkout import pending_reviews
from clinic_app.storage.checkout.guard import local_time
from clinic_app.storage.checkout.review import (
    Change,
    apply_review,
    dismiss_review,
    review_changes,
)
from clinic_app.storage.database import Record


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    listing = subparsers.add_parser(
        "reviews",
        parents=[common],
        help="list the laptop changes kept for review (cancelled check-outs)",
    )
    add_user_option(listing)
    listing.set_defaults(handler=run_reviews)
    one = subparsers.add_parser(
        "review",
        parents=[common],
        help="show, apply or dismiss one set of laptop changes kept for review",
    )
    one.add_argument("id", type=int, metavar="ID", help="the set's number (see 'reviews')")
    act = one.add_mutually_exclusive_group()
    act.add_argument("--apply", action="store_true", help="apply what does not conflict")
    act.add_argument("--dismiss", action="store_true", help="settle it without applying more")
    one.add_argument("--reason", metavar="TEXT", help="why (needed with --apply or --dismiss)")
    add_user_option(one)
    one.set_defaults(handler=run_review)


def run_reviews(args: argparse.Namespace) -> int:
    def listed(clinic: Record) -> list[str]:
        sets = pending_reviews(clinic)
        if not sets:
            return ["No laptop changes are waiting for review."]
        return [
            f"set {s.id}: the laptop {s.laptop_label}, {s.entries} changes, checked in "
            f"{local_time(s.received_at)} by {s.received_by}"
            for s in sets
        ]

    return _on_clinic(args, listed)


def run_review(args: argparse.Namespace) -> int:
    if (args.apply or args.dismiss) and not (args.reason or "").strip():
        fail("--apply and --dismiss need --reason TEXT; nothing was changed")
    if args.apply:
        return _on_clinic(args, lambda clinic: [apply_review(clinic, args.id, args.reason)])
    if args.dismiss:
        return _on_clinic(args, lambda clinic: [dismiss_review(clinic, args.id, args.reason)])
    return _on_clinic(args, lambda clinic: _shown(review_changes(clinic, args.id)))


def _shown(changes: list[Change]) -> list[str]:
    lines: list[str] = []
    for change in changes:
        lines.append(
            f"[{change.said}] {change.patient or '(no patient)'}: {change.what}, "
            f"by {change.by} at {local_time(change.at) if change.at else '?'}"
            + (f" ({change.reason})" if change.reason else "")
        )
        for column, (laptop, clinic) in change.differences().items():
            if column.endswith("_id") or column == "value_si":
                continue  # record numbers and the lab's converted copy say nothing to a reader
            here = "(not at the clinic)" if change.clinic is None else value_text(column, clinic)
            lines.append(
                f"    {field_label(column)}: laptop {value_text(column, laptop)}, clinic {here}"
            )
    return lines or ["This set has no changes."]
