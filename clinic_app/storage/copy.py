"""Copying a whole record onto another engine, audit trail included (issue 18).

A clinic moves its SQLite file onto the server (``clinic-app move-to-server``), and a server
record is backed up as a SQLite file (``clinic-app backup``): both are :func:`copy_record`.

Every app table is copied row for row with its ids, and the audit log verbatim (the same
ids, instants, names, reasons and JSON text), in one transaction on the target. The target's
own triggers are suspended meanwhile (``Engine.triggers_suspended``): the entries are the
source's, so the copy must not add entries of its own. ``check`` on the copy then replays the
same trails against the same rows. Only the migrations' bookkeeping stays the target's, so
the copy is a record of its own (``record_identity`` differs).

The target must be empty and both records at this app's schema version; anything else is
refused with one sentence before a row is written.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from clinic_app.storage import schema
from clinic_app.storage.database import Record, open_database
from clinic_app.storage.engines import Engine
from clinic_app.storage.errors import NOTHING_LOST, StorageError

AUDIT_LOG = "audit_log"

BOOKKEEPING_TABLES = frozenset(
    {"_sqlite_migrations", "clinic_app_migrations", "audit_actor", "checkin_sessions"}
)
"""Not copied: which migrations ran (the target's own), the per-transaction actor, and a
server's check-in sessions (engines/pg_checkin)."""

_MAX_PARAMETERS = 900
"""Values per INSERT statement: under SQLite's oldest limit (999), and few round trips to a
server."""


class CopyRefused(StorageError):
    """The copy was not started: the target is not empty, or a schema version differs."""


@dataclass(frozen=True)
class CopyReport:
    source: str
    target: str
    rows: dict[str, int] = field(default_factory=dict)
    """Rows copied per table (the audit log is counted in ``audit_entries``)."""
    audit_entries: int = 0

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    def lines(self) -> list[str]:
        """For people: what was copied, one line per table that had rows."""
        out = [
            f"Copied {self.total_rows} rows and {self.audit_entries} audit entries from "
            f"{self.source} to {self.target}."
        ]
        out += [f"  {table}: {count}" for table, count in self.rows.items() if count]
        return out


def copied_tables(sql: Engine) -> list[str]:
    """The tables a copy carries, parents before the rows that point at them, audit log last.

    The schema's tables in its order (each table's foreign keys point to earlier ones), then
    any other table of the app, so a table added later is never left behind silently."""
    present = sql.table_names()
    known = [t for t in schema.AUDITED_TABLES if t in present]
    others = sorted(
        t
        for t in present
        if t not in known
        and t != AUDIT_LOG
        and t not in BOOKKEEPING_TABLES
        and not t.startswith("sqlite_")
    )
    return [*known, *others, AUDIT_LOG]


def copy_record(source: Record, target: Record) -> CopyReport:
    """Copy every row and audit entry of ``source`` into the empty record ``target``.

    Raises :class:`CopyRefused` (nothing written) when the target holds any row, when the two
    records are at different schema versions, or when their tables differ; any other failure
    rolls the target's one transaction back, leaving it empty as it was.
    """
    if _same_record(source, target):
        raise CopyRefused(
            f"The record {source.location} cannot be copied onto itself; {NOTHING_LOST}."
        )
    with source.guard(), target.guard():
        _refuse_other_versions(source, target)
    reason = f"copied from {source.location}"
    rows: dict[str, int] = {}
    with source.read_snapshot(), source.guard():
        tables = copied_tables(source.sql)
        _refuse_other_tables(source, target, tables)
        with target.transaction(reason=reason) as into, into.triggers_suspended(tables):
            _refuse_not_empty(target, tables)
            for table in tables:
                rows[table] = _copy_table(source.sql, into, table)
                if _has_id(into, table):
                    into.reseed_ids(table)
            _check_counts(into, rows)
    with target.guard():
        target.sql.refresh_statistics()  # the list on a fresh server copy is slow without
    entries = rows.pop(AUDIT_LOG)
    return CopyReport(str(source.location), str(target.location), rows, entries)


def _same_record(source: Record, target: Record) -> bool:
    a, b = source.location, target.location
    if isinstance(a, Path) and isinstance(b, Path):
        return a.resolve() == b.resolve()
    return a == b


def _refuse_other_versions(source: Record, target: Record) -> None:
    for record, role in ((source, "source"), (target, "target")):
        version = record.sql.schema_version()
        applied = record.sql.applied_migrations()
        if version != schema.SCHEMA_VERSION or applied != list(schema.MIGRATION_NAMES):
            raise CopyRefused(
                f"The {role} record {record.location} is at schema version {version} and this "
                f"clinic-app copies only version {schema.SCHEMA_VERSION}, so nothing was "
                f"copied; open it once with this version of clinic-app (which brings it up to "
                f"date) and copy again. {NOTHING_LOST.capitalize()}."
            )


def _refuse_other_tables(source: Record, target: Record, tables: Sequence[str]) -> None:
    present = target.sql.table_names()
    for table in tables:
        want = [c.name for c in source.sql.columns(table)]
        have = [c.name for c in target.sql.columns(table)] if table in present else []
        if sorted(want) != sorted(have):
            raise CopyRefused(
                f"The table {table} of {target.location} does not have the columns it has in "
                f"{source.location}, so nothing was copied. {NOTHING_LOST.capitalize()}."
            )


def _refuse_not_empty(target: Record, tables: Sequence[str]) -> None:
    # Inside the copy's transaction, after the triggers were suspended: on the server that
    # locks each table, so no other desk can write a row between this look and the copy.
    for table in tables:
        row = target.sql.execute(f"SELECT EXISTS (SELECT 1 FROM {table})").fetchone()
        if row[0]:
            raise CopyRefused(
                f"The record {target.location} is not empty (its {table} table holds rows), "
                f"so nothing was copied onto it and it is unchanged; copy onto a new, empty "
                "record."
            )


def _has_id(sql: Engine, table: str) -> bool:
    return any(c.name == "id" for c in sql.columns(table))


def _copy_table(source: Engine, into: Engine, table: str) -> int:
    names = [c.name for c in source.columns(table)]
    order = " ORDER BY id" if "id" in names else ""
    cursor = source.execute(f"SELECT {', '.join(names)} FROM {table}{order}")
    per_statement = max(1, _MAX_PARAMETERS // len(names))
    # A server's identity column takes the row's own id only when told so.
    overriding = " OVERRIDING SYSTEM VALUE" if into.kind == "postgresql" else ""
    head = f"INSERT INTO {table} ({', '.join(names)}){overriding} VALUES "
    one = "(" + ", ".join("?" for _ in names) + ")"
    count = 0
    for batch in _batches(cursor, per_statement):
        values = [value for row in batch for value in row]
        into.execute(head + ", ".join(one for _ in batch), values)
        count += len(batch)
    return count


def _batches(rows: Iterator[Any] | Any, size: int) -> Iterator[list[Sequence[Any]]]:
    batch: list[Sequence[Any]] = []
    for row in rows:
        batch.append(tuple(row))
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _check_counts(into: Engine, rows: dict[str, int]) -> None:
    """Before COMMIT: the target holds exactly what was sent (a trigger left on would add)."""
    for table, sent in rows.items():
        held = int(into.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
        if held != sent:
            raise StorageError(
                f"The copy into {table} ended with {held} rows where {sent} were sent, so it "
                f"was undone and the target record is empty as before."
            )


# -- a server record backed up as a SQLite file -------------------------------------------------
def server_backup_name(folder: Path, when: datetime | None = None) -> Path:
    stamp = (when or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return folder / f"clinic-app-server-{stamp}.sqlite3"


def backup_server_record(source: Record, target: Path) -> CopyReport:
    """A SQLite copy of the (server) record ``source`` at ``target``, which must not exist.

    Written under a temporary name and renamed only once the copy committed and its check
    passed, so a failure never leaves a half copy under the final name."""
    from clinic_app.storage.backup import check
    from clinic_app.storage.private import make_private_folder

    if target.exists():
        raise CopyRefused(
            f"There is already a file at {target}; the backup was not written over it. "
            "Choose another -o PATH."
        )
    make_private_folder(target.parent)
    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
    sides = [partial.with_name(partial.name + s) for s in ("", "-journal", "-wal", "-shm")]
    try:
        for leftover in sides:
            leftover.unlink(missing_ok=True)
        with open_database(partial) as copy:
            report = copy_record(source, copy)
            problems = check(copy)
            if problems:
                raise StorageError(
                    f"The backup to {target} was not kept: the copy failed its check "
                    f"({'; '.join(problems[:3])}); the record itself is unchanged."
                )
            # A self-contained file: no -wal or -shm beside a backup.
            copy.sql.execute("PRAGMA journal_mode = DELETE").fetchone()
        os.replace(partial, target)
    except OSError as exc:
        raise StorageError(
            f"The backup to {target} failed ({exc.strerror or exc}); the record itself is "
            "unchanged."
        ) from exc
    finally:
        for leftover in sides:
            leftover.unlink(missing_ok=True)
    return CopyReport(report.source, str(target), report.rows, report.audit_entries)
