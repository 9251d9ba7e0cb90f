"""``backup``, ``restore`` and ``check``: looking after the record file from the command line.

Storage failures (locked, read-only, disk full, damaged file) print one line and exit 1; user
mistakes (a backup file that does not exist) exit 2 through :class:`CommandError`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from clinic_app.commands.base import db_path, existing_record, fail
from clinic_app.commands.copy_commands import backup_server
from clinic_app.commands.user_commands import add_user_option, sign_in
from clinic_app.storage.backup import backup_to, check, default_backup_name, restore_from
from clinic_app.storage.database import ServerAddress, open_database
from clinic_app.storage.errors import (
    DamagedRecordError,
    NewerDatabaseError,
    NotADatabaseError,
    StorageError,
)
from clinic_app.storage.permissions import Permission, require


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    backup = subparsers.add_parser(
        "backup",
        parents=[common],
        help="copy the record safely (SQLite online backup), even while the app is open",
    )
    backup.add_argument(
        "-o",
        "--output",
        metavar="PATH",
        help="where to write the backup (default: a timestamped file in the backups folder)",
    )
    backup.set_defaults(handler=run_backup)

    restore = subparsers.add_parser(
        "restore",
        parents=[common],
        help="replace the record by a backup after checking it; the replaced file is kept",
    )
    restore.add_argument("backup_file", metavar="PATH", help="the backup file to restore")
    add_user_option(restore)
    restore.set_defaults(handler=run_restore)

    check_cmd = subparsers.add_parser(
        "check",
        parents=[common],
        help="check integrity, foreign keys and the audit triggers; exit 1 on any problem",
    )
    check_cmd.set_defaults(handler=run_check)


def _storage_failure(exc: StorageError) -> int:
    print(f"clinic-app: {exc}", file=sys.stderr)
    return 1


def run_backup(args: argparse.Namespace) -> int:
    path = existing_record(args)
    try:
        with open_database(path) as record:
            if record.on_server:  # a SQLite copy, audit trail included (copy_commands.py)
                return backup_server(record, args.output)
            target = Path(args.output) if args.output else default_backup_name(record)
            if target.resolve() == record.path.resolve():
                fail("the backup cannot be written over the record itself; choose another -o PATH")
            backup_to(record, target)
    except StorageError as exc:
        return _storage_failure(exc)
    print(f"Backed up {path} to {target}")
    return 0


def run_restore(args: argparse.Namespace) -> int:
    source = Path(args.backup_file)
    if not source.is_file():
        fail(f"there is no backup file at {source}")
    path = db_path(args)
    if isinstance(path, ServerAddress):
        fail(
            f"a server record ({path}) is restored with the server's own tools, not by "
            "clinic-app; see the administrator's guide, 'Backups of a server record'; nothing "
            "was changed"
        )
    if source.resolve() == path.resolve():
        fail("that is the record itself; give a backup file to restore")
    try:
        _may_replace(path, args)
        kept = restore_from(path, source)
    except StorageError as exc:
        return _storage_failure(exc)
    kept_note = f"; the replaced file is kept at {kept}" if kept else ""
    print(f"Restored {path} from {source}{kept_note}")
    return 0


def _may_replace(path: Path, args: argparse.Namespace) -> None:
    """Replacing a record that has accounts is an administrator's (signed in with --user).

    A record that cannot be opened at all (damaged, not a database) has nobody to ask: the
    restore goes ahead and keeps the replaced file, as before.
    """
    if not path.exists():
        return
    try:
        current = open_database(path)
    except (NotADatabaseError, NewerDatabaseError):
        return  # DamagedRecordError included: the way out must not need the damaged file
    with current:
        try:
            has_users = current.has_users()
        except DamagedRecordError:
            return  # the accounts table itself is unreadable
        if has_users:
            sign_in(current, args)
            require(current, Permission.SETTINGS)


def run_check(args: argparse.Namespace) -> int:
    path = existing_record(args)
    try:
        with open_database(path) as record:
            problems = check(record)
    except StorageError as exc:
        problems = [str(exc)]
    for line in problems:
        print(line)
    if problems:
        return 1
    print(f"ok: {path}")
    return 0
