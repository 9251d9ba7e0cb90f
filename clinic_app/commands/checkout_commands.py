"""``checkout`` and ``checkin``: patients taken out on a laptop and brought back (issue 19).

``clinic-app checkout --db CLINIC --to LAPTOP.sqlite3 MRN...`` writes a new laptop record with
those patients' charts and marks them out; ``clinic-app checkin --db CLINIC LAPTOP.sqlite3``
brings the laptop's changes back; ``clinic-app checkout --db CLINIC --cancel MRN --reason ...``
(an administrator) cancels a check-out whose laptop is lost. The work is storage/checkout.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from clinic_app.commands.base import existing_record, fail
from clinic_app.commands.user_commands import add_user_option, sign_in
from clinic_app.services.context import start_daily_backup
from clinic_app.storage.checkout import (
    CheckoutRefused,
    cancel_checkout,
    check_in,
    check_out,
)
from clinic_app.storage.database import Record, open_database
from clinic_app.storage.errors import StorageError


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    out = subparsers.add_parser(
        "checkout",
        parents=[common],
        help="take patients out on a laptop: their charts into a new laptop record",
    )
    out.add_argument("mrns", nargs="*", metavar="MRN", help="the patients to take out")
    out.add_argument(
        "--to", metavar="LAPTOP.sqlite3", help="the new laptop record file (must not exist)"
    )
    out.add_argument(
        "--label", metavar="NAME", help="the laptop's name in messages (default: the file name)"
    )
    out.add_argument(
        "--cancel", metavar="MRN", help="cancel this patient's check-out (a lost laptop)"
    )
    out.add_argument("--reason", metavar="TEXT", help="why the check-out is cancelled")
    add_user_option(out)
    out.set_defaults(handler=run_checkout)
    back = subparsers.add_parser(
        "checkin",
        parents=[common],
        help="bring a laptop record's changes back into the clinic's record",
    )
    back.add_argument("laptop", metavar="LAPTOP.sqlite3", help="the laptop record file")
    add_user_option(back)
    back.set_defaults(handler=run_checkin)


def run_checkout(args: argparse.Namespace) -> int:
    if args.cancel:
        if args.mrns or args.to:
            fail("--cancel takes no --to and no other MRN; nothing was changed")
        if not args.reason:
            fail("--cancel needs --reason TEXT (for example 'laptop lost'); nothing was changed")
    elif not args.to or not args.mrns:
        fail(
            "name the laptop file with --to LAPTOP.sqlite3 and at least one MRN; nothing was "
            "changed"
        )
    if args.cancel:
        return _on_clinic(args, lambda clinic: [cancel_checkout(clinic, args.cancel, args.reason)])
    target = Path(args.to)
    return _on_clinic(
        args,
        lambda clinic: check_out(clinic, target, args.mrns, args.label or target.stem).lines(),
    )


def run_checkin(args: argparse.Namespace) -> int:
    return _on_clinic(args, lambda clinic: check_in(clinic, Path(args.laptop)).lines())


def _on_clinic(args: argparse.Namespace, work: Callable[[Record], list[str]]) -> int:
    """Sign in on the clinic's record, back it up as every changing command does, run
    ``work`` and print what it says; a refusal exits 2, a storage failure 1."""
    location = existing_record(args)
    try:
        with open_database(location) as clinic:
            sign_in(clinic, args)
            start_daily_backup(clinic)  # a command that changes the record backs it up first
            lines = work(clinic)
    except CheckoutRefused as exc:
        fail(exc.message)
    except StorageError as exc:
        print(f"clinic-app: {exc}", file=sys.stderr)
        return 1
    for line in lines:
        print(line)
    return 0
