"""What every subcommand shares: the one-line error, the ``--db`` option, argument types."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import NoReturn

# Kept light for the app's start (cli imports them before the window, issue 16).
from clinic_app.commands.parsing import CommandError as CommandError
from clinic_app.commands.parsing import OneLineParser as OneLineParser
from clinic_app.commands.parsing import common_options as common_options
from clinic_app.core.errors import DomainError, ProtocolError
from clinic_app.core.records import check_day, check_quantity
from clinic_app.services.context import AppContext, open_context
from clinic_app.storage.database import RecordLocation
from clinic_app.storage.errors import StorageError
from clinic_app.storage.location import resolve_db_path

Handler = Callable[[argparse.Namespace], int]


def iso_date(text: str) -> date:
    try:
        day = date.fromisoformat(text)
        check_day(day, "date")  # 9999-12-31 parses, but no schedule can start on it
    except DomainError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date in the form YYYY-MM-DD") from None
    return day


def decimal_arg(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value.is_finite():
        raise argparse.ArgumentTypeError(f"{text!r} is not a number")
    try:
        check_quantity(value, "number", "The number")  # 1E+999999 is finite
    except DomainError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} must be 1 or more")
    return value


def db_path(args: argparse.Namespace) -> RecordLocation:
    """The record this command works on (--db, $CLINIC_APP_DB, the settings file, the default):
    a file on this computer or a database on the clinic's server."""
    try:
        return resolve_db_path(getattr(args, "db", None))
    except StorageError as exc:
        raise CommandError(exc.message) from None


def existing_record(args: argparse.Namespace) -> RecordLocation:
    """The record this command reads, which must already exist (a server record always does:
    the server says otherwise when it is opened)."""
    where = db_path(args)
    if isinstance(where, Path) and not where.exists():
        fail(f"there is no record at {where} yet (give another one with --db PATH)")
    return where


def context(
    args: argparse.Namespace, *, read_only: bool = False, today: date | None = None
) -> AppContext:
    """The command's application context: the record, its protocols with the record's settings
    applied (as the app shows them), the clock (``today`` for ``--today``). No backup is
    started here; a command that changes the record starts it (``start_daily_backup``)."""
    path = existing_record(args) if read_only else db_path(args)
    try:
        return open_context(path, read_only=read_only, today=today)
    except StorageError as exc:
        raise CommandError(exc.message) from None
    except ProtocolError as exc:
        raise CommandError(f"protocol or clinic setting refused: {exc}") from None
    except DomainError as exc:
        raise CommandError(exc.message) from None


def fail(message: str) -> NoReturn:
    raise CommandError(message)


def write_err(message: str) -> None:
    print(message, file=sys.stderr)
