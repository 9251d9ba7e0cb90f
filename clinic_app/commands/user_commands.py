"""``clinic-app users add|list|deactivate`` and the sign-in every record-changing command uses.

Once a record has accounts, commands that change it name the acting user with ``--user NAME``
and the password is asked on the terminal (``getpass``); when stdin is not a terminal one line
is read from it, so scripts and tests can pipe it. Reads need no sign-in.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from clinic_app.commands.base import CommandError, db_path, fail
from clinic_app.core.errors import DomainError
from clinic_app.storage.database import Record, open_database
from clinic_app.storage.errors import StorageError
from clinic_app.storage.permissions import Role
from clinic_app.storage.users import SignInRefused


def add_user_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--user",
        metavar="NAME",
        help="your username, once the record has accounts (the password is asked)",
    )


def read_password(prompt: str) -> str:
    """The password from the terminal without echo, or one line of a piped stdin."""
    if sys.stdin is not None and sys.stdin.isatty():
        return getpass.getpass(prompt)
    line = sys.stdin.readline() if sys.stdin is not None else ""
    return line.rstrip("\r\n")


def sign_in(record: Record, args: argparse.Namespace) -> None:
    """Sign ``--user`` in on ``record`` (nothing to do while the record has no accounts)."""
    if not record.has_users():
        return
    name = getattr(args, "user", None)
    if not name:
        fail(
            "this record has user accounts: name yourself with --user NAME "
            "(the password is asked on the terminal); nothing was changed"
        )
    password = read_password(f"Password for {name}: ")
    try:
        user = record.repos.users.authenticate(name, password)
    except SignInRefused as exc:
        fail(f"{exc.message} Nothing was changed.")
    record.set_user(user.username)


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    users = sub.add_parser("users", parents=[common], help="user accounts (administrators)")
    actions = users.add_subparsers(dest="users_action", metavar="ACTION", required=True)

    add = actions.add_parser("add", parents=[common], help="add an account")
    add.add_argument("username", metavar="USERNAME")
    add.add_argument("--full-name", required=True, metavar="TEXT", help="printed on signatures")
    add.add_argument(
        "--role",
        choices=[role.value for role in Role],
        required=True,
        help="nurse, investigator or administrator",
    )
    add_user_option(add)
    add.set_defaults(handler=run_add)

    listing = actions.add_parser("list", parents=[common], help="list the accounts")
    listing.set_defaults(handler=run_list)

    off = actions.add_parser("deactivate", parents=[common], help="switch an account off")
    off.add_argument("username", metavar="USERNAME")
    add_user_option(off)
    off.set_defaults(handler=run_deactivate)


def _open(args: argparse.Namespace) -> Record:
    try:
        return open_database(db_path(args))
    except StorageError as exc:
        raise CommandError(exc.message) from None


def run_add(args: argparse.Namespace) -> int:
    with _open(args) as record:
        try:
            first = not record.has_users()
            if first and args.role != Role.ADMINISTRATOR.value:
                fail(
                    "the record has no accounts yet: the first one must be an administrator "
                    "(--role administrator); nothing was changed"
                )
            sign_in(record, args)
            password = read_password(f"New password for {args.username}: ")
            again = read_password("The same password again: ")
            if password != again:
                fail("the two passwords differ; nothing was changed")
            if first:
                user = record.repos.users.create_first_administrator(
                    args.username, args.full_name, password
                )
            else:
                user = record.repos.users.add(
                    args.username, args.full_name, Role(args.role), password
                )
        except (DomainError, StorageError) as exc:
            raise CommandError(exc.message) from None
    print(f"Added {user.label}.")
    return 0


def run_list(args: argparse.Namespace) -> int:
    with _open(args) as record:
        try:
            users = record.repos.users.all()
        except StorageError as exc:
            raise CommandError(exc.message) from None
    if not users:
        print("No accounts: the record runs without sign-in (open mode).")
    for user in users:
        state = "active" if user.active else "deactivated"
        print(f"{user.username}\t{user.role.value}\t{state}\t{user.full_name}")
    return 0


def run_deactivate(args: argparse.Namespace) -> int:
    with _open(args) as record:
        try:
            sign_in(record, args)
            user = record.repos.users.set_active(args.username, False)
        except (DomainError, StorageError) as exc:
            raise CommandError(exc.message) from None
    print(f"Deactivated {user.label}; their entries and signatures stay in the record.")
    return 0
