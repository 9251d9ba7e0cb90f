"""The local record: one SQLite file, through the standard library's driver."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

from clinic_app.storage.engines import ColumnInfo, ConstraintError, Cursor, Engine, Params

NOW_SQL = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"


def _params(params: Params) -> Any:
    # sqlite3 takes a mapping for :name and a sequence for ?; a tuple or list as given.
    return params if isinstance(params, dict) else list(params)


class SqliteEngine(Engine):
    kind = "sqlite"
    now_sql = NOW_SQL

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Params = ()) -> Cursor:
        self.statements += 1
        try:
            return self.conn.execute(sql, _params(params))
        except sqlite3.IntegrityError as exc:
            raise ConstraintError(str(exc)) from exc

    def insert(self, sql: str, params: Params = ()) -> int:
        self.statements += 1
        try:
            cursor = self.conn.execute(sql, _params(params))
        except sqlite3.IntegrityError as exc:
            raise ConstraintError(str(exc)) from exc
        return int(cursor.lastrowid or 0)

    def json_text(self, expr: str, key: str) -> str:
        return f"json_extract({expr}, '$.{key}')"

    def days_before(self, day_sql: str, days_sql: str) -> str:
        return f"date({day_sql}, '-' || ({days_sql}) || ' days')"

    @property
    def in_transaction(self) -> bool:
        return self.conn.in_transaction

    def begin_write(self) -> None:
        # IMMEDIATE takes the write lock now (waiting up to the busy timeout), so two windows
        # queue instead of failing half way through.
        self.conn.execute("BEGIN IMMEDIATE")

    def begin_read(self) -> None:
        # WAL: the first read of a deferred transaction fixes the snapshot; no lock is taken.
        self.conn.execute("BEGIN")

    def commit(self) -> None:
        self.conn.execute("COMMIT")

    def rollback(self) -> None:
        self.conn.execute("ROLLBACK")

    def name_actor(self, app_user: str | None, os_user: str, reason: str | None) -> None:
        # OR REPLACE: a row left behind (plain SQL, an old version) never blocks. The row is
        # deleted before COMMIT, so no other connection ever sees it (schema.audit_actor).
        self.conn.execute(
            "INSERT OR REPLACE INTO audit_actor (id, app_user, os_user, reason) "
            "VALUES (1, ?, ?, ?)",
            (app_user, os_user, reason),
        )

    def forget_actor(self) -> None:
        self.conn.execute("DELETE FROM audit_actor")

    def table_names(self) -> set[str]:
        rows = self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {str(r[0]) for r in rows.fetchall()}

    def columns(self, table: str) -> list[ColumnInfo]:
        info = self.conn.execute(f"PRAGMA table_info({table})").fetchall()
        return [
            ColumnInfo(str(r[1]), str(r[2]).upper(), bool(r[3]), r[4] is not None) for r in info
        ]

    def schema_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def applied_migrations(self) -> list[str]:
        from clinic_app.storage.schema import MIGRATION_SET

        exists = self.conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlite_migrations'"
        ).fetchone()
        if exists is None:
            return []
        rows = self.conn.execute(
            "SELECT name FROM _sqlite_migrations WHERE migration_set = ? ORDER BY rowid",
            [MIGRATION_SET],
        ).fetchall()
        return [str(r[0]) for r in rows]

    def record_birth(self) -> tuple[str, str] | None:
        from clinic_app.storage.schema import MIGRATION_SET

        if "_sqlite_migrations" not in self.table_names():
            return None
        row = self.conn.execute(
            "SELECT name, applied_at FROM _sqlite_migrations WHERE migration_set = ? "
            "ORDER BY id LIMIT 1",
            [MIGRATION_SET],
        ).fetchone()
        return None if row is None else (str(row[0]), str(row[1]))

    def trigger_names(self) -> set[str]:
        rows = self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        return {str(r[0]) for r in rows.fetchall()}

    @contextmanager
    def triggers_suspended(self, tables: Sequence[str]) -> Iterator[None]:
        # SQLite cannot switch a trigger off: they are dropped inside the caller's transaction
        # and created again from the schema's own definitions, so ``check`` finds exactly the
        # triggers the app installs. The audit log's append-only triggers stay: they add no
        # entry, and a copy into an empty log never meets them.
        if not self.conn.in_transaction:
            raise RuntimeError("triggers are suspended only inside a write transaction")
        dropped = [t for t in tables if t in _trigger_tables()]
        present = self.trigger_names()
        for table in dropped:
            for name in _trigger_names(table):
                if name in present:
                    self.conn.execute(f"DROP TRIGGER {name}")
        try:
            yield
        except BaseException:
            # The caller rolls back, which restores them anyway; a failure here must not
            # hide the error that ended the block.
            with suppress(sqlite3.Error):
                self._install_triggers(dropped)
            raise
        self._install_triggers(dropped)

    def _install_triggers(self, tables: Sequence[str]) -> None:
        """What schema.install_audit_triggers and install_limit_triggers create, per table."""
        from clinic_app.storage import schema

        limits = schema.limit_trigger_sql()
        present = self.trigger_names()
        for table in tables:
            hidden = schema._HIDDEN_COLUMNS.get(table, ())
            columns = [c.name for c in self.columns(table) if c.name not in hidden]
            statements = dict(schema.audit_trigger_sql(table, columns))
            statements.update({n: sql for n, (t, sql) in limits.items() if t == table})
            for name, sql in statements.items():
                if name in present:
                    self.conn.execute(f"DROP TRIGGER {name}")
                self.conn.execute(sql)

    def reseed_ids(self, table: str) -> None:
        """Nothing to do: SQLite gives the next row max(id) + 1."""

    def refresh_statistics(self) -> None:
        """Nothing to do: SQLite plans these queries well from its indexes alone."""

    def close(self) -> None:
        self.conn.close()

    def is_environment_error(self, exc: BaseException) -> bool:
        return isinstance(exc, sqlite3.Error)


def _trigger_tables() -> set[str]:
    from clinic_app.storage import schema

    return set(schema.AUDITED_TABLES)


def _trigger_names(table: str) -> list[str]:
    """The audit, guard and limit triggers the schema installs on ``table``."""
    from clinic_app.storage import schema

    limits = [n for n, (t, _sql) in schema.limit_trigger_sql().items() if t == table]
    return [*schema.audit_trigger_names(table), *limits]
