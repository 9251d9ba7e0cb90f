"""Is the audit trail whole? Triggers as installed, and the log against the rows it describes.

``check`` and ``restore`` call :func:`verify` (issue 15, item 7). It reports, one line each:

- a trigger of an audited table (or of the audit log) that is missing, or whose definition
  differs from the one this app installs (dropped, or replaced by one that logs less);
- a trigger on those tables that clinic-app does not install (it could change rows unseen);
- gaps in the audit log's entry numbers (entries deleted with the guards off);
- a row with no audit entry, an entry for a row that is not there, a trail that does not start
  with the insert, versions that do not follow on, an entry whose old values are not what the
  entries before it left, and a row whose values are not what its trail ends with (changed
  with the triggers off, or the log rewritten).

What it cannot see: someone who changes a row AND writes the matching entries by hand. The
log is not signed (nothing in the file could keep a signing key from whoever can read the
file), which is why the record file is private to its owner (issue 15, item 6).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from itertools import groupby
from typing import Any

from clinic_app.storage import schema
from clinic_app.storage.engines import Engine
from clinic_app.storage.engines.sqlite import SqliteEngine

_MAX_PER_KIND = 20
"""Lines reported per table and kind of problem; a whole table rewritten says so in few."""


def verify(conn: sqlite3.Connection) -> list[str]:
    """Every problem with the triggers and the audit trail of the SQLite file on ``conn``."""
    own_snapshot = not conn.in_transaction
    if own_snapshot:
        conn.execute("BEGIN")  # one state of the file for all the reads below
    try:
        return trigger_problems(conn) + audit_problems(SqliteEngine(conn))
    finally:
        if own_snapshot:
            conn.execute("ROLLBACK")


def _applied(conn: sqlite3.Connection) -> set[str]:
    try:
        rows = conn.execute(
            "SELECT name FROM _sqlite_migrations WHERE migration_set = ?", [schema.MIGRATION_SET]
        ).fetchall()
    except sqlite3.OperationalError:  # no migrations table: not ours
        return set()
    return {str(r[0]) for r in rows}


def _engine(conn: sqlite3.Connection | Engine) -> Engine:
    return conn if isinstance(conn, Engine) else SqliteEngine(conn)


def _columns(conn: sqlite3.Connection | Engine, table: str) -> list[str]:
    hidden = schema._HIDDEN_COLUMNS.get(table, ())
    return [c.name for c in _engine(conn).columns(table) if c.name not in hidden]


def _audited(conn: sqlite3.Connection | Engine) -> list[str]:
    present = _engine(conn).table_names()
    return [t for t in schema.AUDITED_TABLES if t in present]


def _normal(sql: str) -> str:
    return " ".join(sql.split())


def expected_triggers(conn: sqlite3.Connection) -> dict[str, tuple[str, str]]:
    """Trigger name -> (table, exact definition) that this app installs in this file."""
    expected: dict[str, tuple[str, str]] = {}
    for table in _audited(conn):
        for name, sql in schema.audit_trigger_sql(table, _columns(conn, table)).items():
            expected[name] = (table, sql)
    expected.update(schema.limit_trigger_sql())
    for name, sql in schema.AUDIT_LOG_TRIGGERS.items():
        table = "audit_actor" if name.startswith("audit_actor") else "audit_log"
        expected[name] = (table, sql)
    return expected


def trigger_problems(conn: sqlite3.Connection) -> list[str]:
    installed = {
        str(name): (str(table), str(sql or ""))
        for name, table, sql in conn.execute(
            "SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger'"
        ).fetchall()
    }
    if "0006_audit_guards" not in _applied(conn):
        # An older file (a backup from before 0006) has the older triggers: check they are all
        # there; opening it with this app installs the current ones.
        old = [n for t in _audited(conn) for n in schema.audit_trigger_names(t)[:4]]
        return [
            f"audit: trigger {name} is missing, so changes are no longer fully audited"
            for name in [*old, "audit_log_no_update", "audit_log_no_delete"]
            if name not in installed
        ]
    problems: list[str] = []
    expected = expected_triggers(conn)
    for name, (table, sql) in expected.items():
        if name not in installed:
            problems.append(
                f"audit: trigger {name} is missing, so changes to {table} are no longer fully "
                "audited and guarded"
            )
        elif _normal(installed[name][1]) != _normal(sql):
            problems.append(
                f"audit: trigger {name} on {table} is not the one clinic-app installs (it was "
                "replaced or edited), so changes to it may go unaudited"
            )
    watched = {table for table, _sql in expected.values()}
    for name, (table, _sql) in sorted(installed.items()):
        if table in watched and name not in expected:
            problems.append(
                f"audit: trigger {name} on {table} is not one clinic-app installs; it could "
                "change rows without a trace"
            )
    return problems


def _rows(conn: Engine, table: str) -> Iterator[dict[str, Any]]:
    cursor = conn.execute(f"SELECT * FROM {table} ORDER BY id")
    names = [d[0] for d in cursor.description or ()]
    for values in cursor:
        yield dict(zip(names, values, strict=True))


def _entries(conn: Engine, table: str) -> Iterator[tuple[int, list[tuple[Any, ...]]]]:
    cursor = conn.execute(
        "SELECT row_id, id, action, old_json, new_json FROM audit_log WHERE table_name = ? "
        "ORDER BY row_id, id",
        [table],
    )
    for row_id, group in groupby(cursor, key=lambda r: int(r[0])):
        yield row_id, list(group)


def _load(text: Any) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = json.loads(str(text))
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


class _Report:
    def __init__(self, table: str) -> None:
        self.table = table
        self.lines: list[str] = []
        self.counts: dict[str, int] = {}

    def add(self, kind: str, line: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        if self.counts[kind] <= _MAX_PER_KIND:
            self.lines.append(f"audit: {self.table} {line}")

    def done(self) -> list[str]:
        more = [
            f"audit: {self.table}: {n - _MAX_PER_KIND} more like '{kind}'"
            for kind, n in self.counts.items()
            if n > _MAX_PER_KIND
        ]
        return self.lines + more


def _trail_problems(
    report: _Report,
    row_id: int,
    entries: list[tuple[Any, ...]],
    row: dict[str, Any],
    columns: list[str],
) -> None:
    """Replay one row's entries and compare with the row itself."""
    state: dict[str, Any] | None = None
    version: int | None = None
    for _row_id, entry_id, action, old_text, new_text in entries:
        new, old = _load(new_text), _load(old_text)
        if new is None:
            report.add("unreadable", f"row {row_id}: audit entry {entry_id} cannot be read")
            return
        if action == "insert":
            if state is not None:
                report.add(
                    "inserted twice",
                    f"row {row_id}: logged as inserted again at entry {entry_id} (replaced?)",
                )
            state = dict(new)
        elif state is None:
            report.add("no insert", f"row {row_id}: its audit trail does not begin with its insert")
            return
        else:
            for key, value in (old or {}).items():
                if key in state and state[key] != value:
                    report.add(
                        "old values",
                        f"row {row_id}: audit entry {entry_id} says {key} was {value!r}, but "
                        f"the entries before it leave {state[key]!r} (the log was rewritten?)",
                    )
                    break
            state = {**state, **new}
        new_version = state.get("version")
        if version is not None and new_version != version + 1:
            report.add(
                "versions",
                f"row {row_id}: audit entry {entry_id} has version {new_version!r} after "
                f"{version} (an entry is missing or the log was rewritten)",
            )
        version = new_version if isinstance(new_version, int) else None
    if state is None:
        return
    for column in columns:
        if column not in state:
            if (report.table, column) in schema.COLUMNS_ADDED_LATER:
                continue  # added by a migration after the row was logged: nothing to compare
            report.add("missing column", f"row {row_id}: its audit trail never gives {column}")
        elif state[column] != row[column]:
            report.add(
                "row differs",
                f"row {row_id}: {column} is {row[column]!r} but its audit trail ends with "
                f"{state[column]!r} (changed with the audit triggers off, or the log rewritten)",
            )


def audit_problems(conn: Engine) -> list[str]:
    """The audit log against the rows: every row's trail replayed and compared with it."""
    if "audit_log" not in conn.table_names():
        return ["audit: the audit log is missing"]
    problems: list[str] = []
    count, low, high = conn.execute("SELECT count(*), min(id), max(id) FROM audit_log").fetchone()
    # SQLite numbers entries densely; a server's sequence skips the numbers of rolled-back
    # transactions, so there a gap is not a deletion (the app's role cannot delete entries).
    if conn.kind == "sqlite" and count and (low != 1 or high - low + 1 != count):
        problems.append(
            f"audit: {high - count} entries of the audit log are missing (numbers 1 to {high} "
            f"hold {count}); entries were deleted"
        )
    for table in _audited(conn):
        report = _Report(table)
        columns = _columns(conn, table)
        trails = _entries(conn, table)
        trail = next(trails, None)
        for row in _rows(conn, table):
            row_id = int(row["id"])
            while trail is not None and trail[0] < row_id:
                report.add(
                    "no row",
                    f"row {trail[0]}: in the audit log but not in the record (deleted?)",
                )
                trail = next(trails, None)
            if trail is None or trail[0] != row_id:
                report.add(
                    "no entry",
                    f"row {row_id}: has no audit entry (written with the audit triggers off?)",
                )
                continue
            _trail_problems(report, row_id, trail[1], row, columns)
            trail = next(trails, None)
        while trail is not None:
            report.add(
                "no row", f"row {trail[0]}: in the audit log but not in the record (deleted?)"
            )
            trail = next(trails, None)
        problems += report.done()
    return problems
