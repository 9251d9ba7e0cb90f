"""``move-to-server``: a clinic's SQLite record copied onto its PostgreSQL server (issue 18).

The copy carries every row with its id and the whole audit trail as it is
(storage/copy.py), in one transaction on the server, and refuses a server record that is
not empty. The local file is only read. ``clinic-app backup`` of a server record writes a
SQLite file the same way (:func:`backup_server`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from clinic_app.commands.base import existing_record, fail
from clinic_app.commands.user_commands import add_user_option, sign_in
from clinic_app.storage.copy import (
    CopyRefused,
    backup_server_record,
    copy_record,
    server_backup_name,
)
from clinic_app.storage.database import Record, ServerAddress, open_database
from clinic_app.storage.errors import StorageError
from clinic_app.storage.location import (
    configured_backup_folder,
    default_data_dir,
    is_server_address,
)
from clinic_app.storage.permissions import Permission, require


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    move = subparsers.add_parser(
        "move-to-server",
        parents=[common],
        help="copy this computer's record, audit trail included, onto an empty server record",
    )
    move.add_argument(
        "server",
        metavar="SERVER_ADDRESS",
        help="the empty server record: postgresql://user@host/dbname or service=NAME",
    )
    add_user_option(move)
    move.set_defaults(handler=run_move_to_server)


def _storage_failure(exc: StorageError) -> int:
    print(f"clinic-app: {exc}", file=sys.stderr)
    return 1


def run_move_to_server(args: argparse.Namespace) -> int:
    source_path = existing_record(args)
    if not isinstance(source_path, Path):
        fail(
            f"--db names the server record {source_path}; give the local record file to copy "
            "with --db FILE, nothing was changed"
        )
    if not is_server_address(args.server):
        fail(
            f"{args.server!r} is not a server address (postgresql://user@host/dbname or "
            "service=NAME); nothing was changed"
        )
    try:
        with open_database(source_path) as source:
            if source.has_users():
                # The whole record, accounts included, leaves this computer: an administrator's.
                sign_in(source, args)
                require(source, Permission.USERS)
            with open_database(ServerAddress(args.server.strip())) as server:
                report = copy_record(source, server)
    except CopyRefused as exc:
        fail(exc.message)
    except StorageError as exc:
        return _storage_failure(exc)
    for line in report.lines():
        print(line)
    print(
        f"The file {source_path} is unchanged. Point every workstation at the server "
        "(--db, or this computer's settings) and keep the file as a backup."
    )
    return 0


def backup_server(record: Record, output: str | None) -> int:
    """``clinic-app backup`` of a server record: a SQLite copy at ``output`` or a timestamped
    file in this computer's backup folder."""
    folder = configured_backup_folder() or default_data_dir() / "backups"
    target = Path(output) if output else server_backup_name(folder)
    try:
        report = backup_server_record(record, target)
    except CopyRefused as exc:
        fail(exc.message)
    except StorageError as exc:
        return _storage_failure(exc)
    print(
        f"Backed up the server record {record.location} to {target} "
        f"({report.total_rows} rows, {report.audit_entries} audit entries)"
    )
    return 0
