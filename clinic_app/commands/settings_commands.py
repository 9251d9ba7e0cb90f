"""``clinic-app settings list|get|set``: the settings dialog's values from the shell.

Record settings are written through :mod:`clinic_app.services.settings` (validated, audited
with a reason); the data folder goes to this user's config file. A refused value prints the
sentence that says what to type, exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from clinic_app.commands.base import db_path, fail
from clinic_app.commands.user_commands import add_user_option, sign_in
from clinic_app.core.errors import DomainError, ProtocolError
from clinic_app.services import settings as st
from clinic_app.storage.database import Record, open_database
from clinic_app.storage.errors import StorageError

DEFAULT_REASON = "changed with clinic-app settings set"


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    settings = subparsers.add_parser(
        "settings", parents=[common], help="list, show or change the settings"
    )
    actions = settings.add_subparsers(dest="settings_action", metavar="ACTION", required=True)
    list_cmd = actions.add_parser("list", parents=[common], help="every setting and its value")
    list_cmd.set_defaults(handler=run_list)

    get = actions.add_parser("get", parents=[common], help="one setting's value")
    get.add_argument("key", metavar="KEY")
    get.set_defaults(handler=run_get)

    set_cmd = actions.add_parser(
        "set", parents=[common], help="change one setting (record settings are audited)"
    )
    set_cmd.add_argument("key", metavar="KEY", help="e.g. clinic.phone")
    set_cmd.add_argument("value", metavar="VALUE", help='e.g. "+44 20 7946 0000"')
    set_cmd.add_argument(
        "--reason",
        default=DEFAULT_REASON,
        metavar="TEXT",
        help="why, for the audit trail (default: %(default)r)",
    )
    add_user_option(set_cmd)  # once the record has accounts, only an administrator may set
    set_cmd.set_defaults(handler=run_set)


def _open(args: argparse.Namespace) -> Record:
    try:
        return open_database(db_path(args))
    except StorageError as exc:
        fail(exc.message)


def run_list(args: argparse.Namespace) -> int:
    try:
        with _open(args) as record:
            rows = [(s, st.display(record, s.key)) for s in st.SETTINGS]
    except (DomainError, ProtocolError) as exc:
        fail(str(exc))
    width = max(len(s.key) for s in st.SETTINGS)
    for s, text in rows:
        where = "record" if s.clinical else "this computer"
        print(f"{s.key:<{width}}  {text}  [{where}]")
    return 0


def run_get(args: argparse.Namespace) -> int:
    try:
        s = st.spec(args.key)
        if s.scope is st.Scope.MACHINE:
            print(st.display(None, s.key))
            return 0
        with _open(args) as record:
            if s.kind is st.Kind.RANGES:
                lines = st.reference_range_lines(record)
            else:
                lines = [st.display(record, s.key)]
    except (DomainError, ProtocolError) as exc:
        fail(str(exc))
    except StorageError as exc:
        print(f"clinic-app: {exc}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


def run_set(args: argparse.Namespace) -> int:
    key: str = args.key
    try:
        if not key.startswith(st.REFERENCE_RANGES + ".") and st.spec(key).scope is st.Scope.MACHINE:
            new = st.set_machine_value(key, args.value)
            shown = "the default" if new is None else new
            print(f"{key} = {shown} (in {st.config_path()})")
            return 0
        with _open(args) as record:
            sign_in(record, args)
            new = st.set_value(record, key, args.value, reason=args.reason)
            where = record.location
    except (DomainError, ProtocolError) as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot write the settings file {st.config_path()}: {exc.strerror or exc}")
    except StorageError as exc:
        print(f"clinic-app: {exc}", file=sys.stderr)
        return 1
    print(f"{key} = {new} (in {where}, audited: {args.reason})")
    return 0
