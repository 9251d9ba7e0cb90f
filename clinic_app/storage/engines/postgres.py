"""A clinic's record on a PostgreSQL server, through one psycopg 3 connection (issue 18).

psycopg is imported here only, and only when a server record is opened: a computer that
keeps its record in a local file never loads it.

Storage SQL is written once in SQLite's placeholder style; :func:`translate_placeholders`
turns ``?`` and ``:name`` into psycopg's ``%s`` and ``%(name)s``. The connection runs in
autocommit mode and the engine sends BEGIN/COMMIT itself, so a transaction is exactly what
the Record opened (as on SQLite), never one the driver opened behind its back.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from contextlib import suppress
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from clinic_app.storage.engines import ColumnInfo, ConstraintError, Cursor, Params
from clinic_app.storage.engines.pg_triggers import PgTriggersMixin
from clinic_app.storage.errors import (
    NOTHING_LOST,
    DatabaseLockedError,
    DiskFullError,
    ReadOnlyError,
    ServerUnavailableError,
    StorageError,
)

if TYPE_CHECKING:
    import psycopg

ACTOR_SETTING = "clinic_app.actor"
"""The transaction-local setting that names who acts; the audit triggers read it."""

MIGRATIONS_TABLE = "clinic_app_migrations"

# UTC ISO text with milliseconds ending in Z, the shape of SQLite's
# strftime('%Y-%m-%dT%H:%M:%fZ', 'now'). statement_timestamp(): like SQLite's 'now', one
# instant per statement (a trigger's rows share their statement's).
NOW_SQL = "to_char(statement_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"


# -- placeholders -------------------------------------------------------------------------------

_NAME_START = re.compile(r"[A-Za-z_]")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$")


def _quoted_end(sql: str, start: int, quote: str, backslashes: bool) -> int:
    """The index just past the literal or identifier opened at ``start``."""
    i = start + 1
    while i < len(sql):
        ch = sql[i]
        if backslashes and ch == "\\":
            i += 2
            continue
        if ch == quote:
            if i + 1 < len(sql) and sql[i + 1] == quote:  # '' or "" inside
                i += 2
                continue
            return i + 1
        i += 1
    raise ValueError(f"unterminated {quote} in SQL: {sql!r}")


def _skipped_end(sql: str, i: int) -> int | None:
    """The end of a literal, quoted identifier, dollar quote or comment starting at ``i``."""
    ch = sql[i]
    if ch == "'":
        before = sql[i - 1] if i > 0 else ""
        escape = before in ("e", "E") and (i < 2 or not (sql[i - 2].isalnum() or sql[i - 2] == "_"))
        return _quoted_end(sql, i, "'", escape)
    if ch == '"':
        return _quoted_end(sql, i, '"', False)
    if ch == "$":
        tag = _DOLLAR_TAG.match(sql, i)
        if tag is not None and not (i > 0 and (sql[i - 1].isalnum() or sql[i - 1] == "_")):
            close = sql.find(tag.group(), tag.end())
            if close < 0:
                raise ValueError(f"unterminated dollar quote in SQL: {sql!r}")
            return close + len(tag.group())
    if sql.startswith("--", i):
        newline = sql.find("\n", i)
        return len(sql) if newline < 0 else newline
    if sql.startswith("/*", i):
        close = sql.find("*/", i + 2)
        if close < 0:
            raise ValueError(f"unterminated comment in SQL: {sql!r}")
        return close + 2
    return None


@lru_cache(maxsize=2048)
def translate_placeholders(sql: str) -> tuple[str, str]:
    """(psycopg SQL, style): ``?`` -> ``%s``, ``:name`` -> ``%(name)s``, ``%`` -> ``%%``.

    Style is ``"none"``, ``"positional"`` or ``"named"``. Literals, quoted identifiers,
    dollar quotes and comments keep their ``?`` and ``:`` (psycopg still needs their ``%``
    doubled), and ``::`` casts stay casts. Mixing both styles is refused, as sqlite3 does.
    """
    out: list[str] = []
    styles: set[str] = set()
    i = 0
    while i < len(sql):
        end = _skipped_end(sql, i)
        if end is not None:
            out.append(sql[i:end].replace("%", "%%"))
            i = end
            continue
        ch = sql[i]
        if ch == "%":
            out.append("%%")
        elif ch == "?":
            if i + 1 < len(sql) and sql[i + 1].isdigit():
                raise ValueError(f"numbered ?NNN placeholders are not supported: {sql!r}")
            out.append("%s")
            styles.add("positional")
        elif ch == ":" and sql.startswith("::", i):
            out.append("::")
            i += 2
            continue
        elif ch == ":" and _NAME_START.match(sql, i + 1):
            name = _NAME.match(sql, i + 1)
            assert name is not None
            out.append(f"%({name.group()})s")
            styles.add("named")
            i = name.end()
            continue
        else:
            out.append(ch)
        i += 1
    if len(styles) > 1:
        raise ValueError(f"SQL mixes ? and :name placeholders: {sql!r}")
    return "".join(out), styles.pop() if styles else "none"


def _params(style: str, params: Params) -> Any:
    def value(v: Any) -> Any:
        # SQLite stores a bool as 0/1 and every flag column is an integer; PostgreSQL would
        # refuse a boolean there.
        return int(v) if isinstance(v, bool) else v

    if isinstance(params, dict) or hasattr(params, "keys"):
        if style == "positional":
            raise ValueError("a ? statement needs a sequence of parameters, not a mapping")
        return {k: value(v) for k, v in params.items()}  # type: ignore[union-attr]
    if style == "named" and len(params) > 0:
        raise ValueError("a :name statement needs a mapping of parameters")
    return [value(v) for v in params]


# -- addresses ----------------------------------------------------------------------------------


_URI_PASSWORD = re.compile(r"^(\s*postgres(?:ql)?://[^:/@?]*):[^@/?]*@", re.IGNORECASE)
_QUERY_PASSWORD = re.compile(r"([?&])password=[^&]*(&|$)", re.IGNORECASE)
_KEYWORD_PASSWORD = re.compile(r"\s*\bpassword\s*=\s*('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


def display_address(conninfo: str) -> str:
    """The address with any password removed, for screens and logs (the rest as typed)."""
    text = conninfo.strip()
    if re.match(r"postgres(?:ql)?://", text, re.IGNORECASE):
        text = _URI_PASSWORD.sub(r"\1@", text)
        text = _QUERY_PASSWORD.sub(lambda m: m.group(1) if m.group(2) else "", text)
        return text.rstrip("?&")
    return _KEYWORD_PASSWORD.sub("", text).strip()


# -- errors -------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _unique_keys() -> dict[str, str]:
    from clinic_app.storage.engines.pg_schema import unique_constraint_columns

    return unique_constraint_columns()


def constraint_message(exc: BaseException) -> str | None:
    """SQLite's words for a psycopg constraint failure or a trigger's RAISE, else None."""
    import psycopg.errors as e

    if isinstance(exc, e.RaiseException):
        return exc.diag.message_primary or str(exc)
    if not isinstance(exc, e.IntegrityError):
        return None
    diag = exc.diag
    table, name = diag.table_name or "", diag.constraint_name or ""
    if isinstance(exc, e.UniqueViolation):
        columns = _unique_keys().get(name) or (f"{table}.id" if name.endswith("_pkey") else name)
        return f"UNIQUE constraint failed: {columns}"
    if isinstance(exc, e.ForeignKeyViolation):
        return "FOREIGN KEY constraint failed"
    if isinstance(exc, e.CheckViolation):
        return f"CHECK constraint failed: {name}"
    if isinstance(exc, e.NotNullViolation):
        return f"NOT NULL constraint failed: {table}.{diag.column_name or ''}"
    return diag.message_primary or str(exc)


def _is_psycopg_error(exc: BaseException) -> bool:
    import sys

    module = sys.modules.get("psycopg")
    return module is not None and isinstance(exc, module.Error)


def is_environment_error(exc: BaseException) -> bool:
    """A driver error that is not a refused write: the server, the network, the sign-in."""
    return _is_psycopg_error(exc) and constraint_message(exc) is None


_NO_DATABASE = re.compile(r'database "[^"]*" does not exist')
_TLS = re.compile(r"\bssl\b|certificate|\btls\b")
_SIGN_IN_REFUSED = re.compile(
    r"password authentication failed|no password supplied|authentication failed"
    r"|fe_sendauth|pg_hba\.conf"
)


def describe_environment_error(exc: BaseException, address: str) -> StorageError | None:
    """One plain sentence for a server failure, or None when ``exc`` is no such failure."""
    if not is_environment_error(exc):
        return None
    import psycopg.errors as e

    detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    sqlstate = getattr(exc, "sqlstate", None) or ""
    text = str(exc).lower()
    if isinstance(exc, e.ReadOnlySqlTransaction):
        return ReadOnlyError(
            f"The record on {address} was opened read-only; {NOTHING_LOST}. Open it without "
            "--read-only to make changes."
        )
    if isinstance(exc, e.InsufficientPrivilege):
        return ReadOnlyError(
            f"The server {address} does not allow this database user to make this change "
            f"({detail}); {NOTHING_LOST}. Ask the clinic's database administrator to grant "
            "the app role (see the admin guide)."
        )
    if isinstance(exc, e.DiskFull) or sqlstate.startswith("53"):
        return DiskFullError(
            f"The server {address} is out of space or memory ({detail}); {NOTHING_LOST}. "
            "Tell the clinic's database administrator."
        )
    if isinstance(exc, e.SerializationFailure | e.DeadlockDetected | e.LockNotAvailable):
        return DatabaseLockedError(
            f"The record on {address} was busy with another workstation's change; "
            f"{NOTHING_LOST}. Try again in a moment."
        )
    if isinstance(exc, e.InvalidCatalogName) or _NO_DATABASE.search(text):
        return ServerUnavailableError(
            f"The server {address} has no such database ({detail}); {NOTHING_LOST}. Check "
            "the database name in the address."
        )
    if sqlstate.startswith("28") or _SIGN_IN_REFUSED.search(text):
        return ServerUnavailableError(
            f"The server {address} refused the sign-in of its database user ({detail}); "
            f"{NOTHING_LOST}. Check the password in the libpq password file (~/.pgpass) or "
            "the service file, or ask the clinic's database administrator."
        )
    lost = (
        "server closed the connection",
        "connection is lost",
        "the connection is closed",
        "terminating connection",
        "consuming input failed",
        "connection to server was lost",
        "ssl syscall error",
        "eof detected",
    )
    if sqlstate.startswith("57P") or any(words in text for words in lost):
        return ServerUnavailableError(
            f"The connection to the server {address} was lost ({detail}); the server keeps "
            "only what it had confirmed, so nothing unconfirmed was saved. Check the network "
            "and try again: clinic-app connects again by itself."
        )
    if _TLS.search(text):
        return ServerUnavailableError(
            f"The server {address} and this computer could not agree on an encrypted "
            f"connection (TLS: {detail}); {NOTHING_LOST}. Check the address's sslmode and "
            "the server's certificate with the clinic's database administrator."
        )
    if isinstance(exc, e.OperationalError | e.InterfaceError):
        return ServerUnavailableError(
            f"The server {address} cannot be reached ({detail}); {NOTHING_LOST}. Check the "
            "network and that the server is running, then try again."
        )
    return None


# -- the engine ---------------------------------------------------------------------------------


class PostgresEngine(PgTriggersMixin):
    kind = "postgresql"
    now_sql = NOW_SQL

    def __init__(
        self,
        conn: psycopg.Connection[Any],
        connect: Callable[[], psycopg.Connection[Any]] | None = None,
    ) -> None:
        self.conn = conn
        self._connect = connect

    def reconnect(self) -> None:
        """A new connection with the same settings, for one that was lost (the old one and any
        transaction on it are gone; the caller said so)."""
        if self._connect is None:
            raise RuntimeError("this engine cannot connect again")
        fresh = self._connect()
        with suppress(Exception):
            self.conn.close()
        self.conn = fresh

    # -- statements ------------------------------------------------------------------------
    def execute(self, sql: str, params: Params = ()) -> Cursor:
        self.statements += 1
        text, style = translate_placeholders(sql)
        idle = not self.in_transaction
        try:
            # Always with parameters, so psycopg reads %% as % the same way every time.
            return self.conn.execute(text, _params(style, params))
        except Exception as exc:
            message = constraint_message(exc)
            if message is not None:
                raise ConstraintError(message) from exc
            if idle and self._connect is not None and not self.usable() and _is_read(sql):
                # A read on its own, on a connection found dead: it did not run, and running
                # it again changes nothing. One new connection, one more try.
                self.reconnect()
                return self.conn.execute(text, _params(style, params))
            raise

    def insert(self, sql: str, params: Params = ()) -> int:
        row = self.execute(f"{sql.rstrip().rstrip(';')} RETURNING id", params).fetchone()
        return int(row[0])

    def script(self, sql: str) -> None:
        """Run DDL as written (no placeholders, no parameters): the schema's own statements."""
        try:
            self.conn.execute(sql.encode())
        except Exception as exc:
            message = constraint_message(exc)
            if message is not None:
                raise ConstraintError(message) from exc
            raise

    def json_text(self, expr: str, key: str) -> str:
        return f"(({expr})::json ->> '{key}')"

    def days_before(self, day_sql: str, days_sql: str) -> str:
        # left(…, 10): an instant's day, as SQLite's date() reads the first ten characters.
        return f"to_char(left({day_sql}, 10)::date - ({days_sql})::integer, 'YYYY-MM-DD')"

    # -- transactions ----------------------------------------------------------------------
    @property
    def in_transaction(self) -> bool:
        from psycopg.pq import TransactionStatus

        return self.conn.info.transaction_status != TransactionStatus.IDLE

    def begin_write(self) -> None:
        self.conn.execute(b"BEGIN")

    def begin_read(self) -> None:
        # REPEATABLE READ: one snapshot for the whole read, like a WAL read on SQLite.
        self.conn.execute(b"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")

    def commit(self) -> None:
        self.conn.execute(b"COMMIT")

    def rollback(self) -> None:
        self.conn.execute(b"ROLLBACK")

    def name_actor(self, app_user: str | None, os_user: str, reason: str | None) -> None:
        # is_local = true: the setting ends with this transaction and no other session sees
        # it. It is what makes a row "clinic-app" in the audit log (pg_schema).
        actor = json.dumps({"app_user": app_user, "os_user": os_user, "reason": reason})
        self.conn.execute("SELECT set_config(%s, %s, true)", [ACTOR_SETTING, actor])

    def forget_actor(self) -> None:
        """Nothing to do: the setting is local to the transaction."""

    # -- what the record holds -------------------------------------------------------------
    def table_names(self) -> set[str]:
        rows = self.conn.execute(
            b"SELECT relname FROM pg_class WHERE relnamespace = current_schema()::regnamespace "
            b"AND relkind IN ('r', 'p')"
        ).fetchall()
        return {str(r[0]) for r in rows}

    def columns(self, table: str) -> list[ColumnInfo]:
        rows = self.conn.execute(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, "
            "a.atthasdef, a.attidentity <> '' FROM pg_attribute a "
            "JOIN pg_class c ON c.oid = a.attrelid "
            "WHERE c.relnamespace = current_schema()::regnamespace AND c.relname = %s "
            "AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            [table],
        ).fetchall()
        kinds = {"bigint": "INTEGER", "integer": "INTEGER", "smallint": "INTEGER"}
        out = []
        for name, type_name, not_null, has_default, identity in rows:
            if identity:
                # As SQLite reports its INTEGER PRIMARY KEY: no value means "the next id".
                out.append(ColumnInfo(str(name), "INTEGER", False, False))
                continue
            kind = kinds.get(str(type_name), str(type_name).upper())
            out.append(ColumnInfo(str(name), kind, bool(not_null), bool(has_default)))
        return out

    def _has_migrations_table(self) -> bool:
        return MIGRATIONS_TABLE in self.table_names()

    def schema_version(self) -> int:
        return len(self.applied_migrations())

    def applied_migrations(self) -> list[str]:
        if not self._has_migrations_table():
            return []
        rows = self.conn.execute(
            f"SELECT name FROM {MIGRATIONS_TABLE} ORDER BY applied_at, name".encode()
        ).fetchall()
        return [str(r[0]) for r in rows]

    def record_birth(self) -> tuple[str, str] | None:
        if not self._has_migrations_table():
            return None
        row = self.conn.execute(
            f"SELECT name, applied_at FROM {MIGRATIONS_TABLE} ORDER BY applied_at, name "
            "LIMIT 1".encode()
        ).fetchone()
        return None if row is None else (str(row[0]), str(row[1]))

    def trigger_names(self) -> set[str]:
        rows = self.conn.execute(
            b"SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            b"WHERE c.relnamespace = current_schema()::regnamespace AND NOT t.tgisinternal"
        ).fetchall()
        return {str(r[0]) for r in rows}

    def reseed_ids(self, table: str) -> None:
        # An identity column does not follow explicit ids: without this the next insert
        # would meet id 1 again after an import or a copy.
        self.execute(
            "SELECT setval(pg_get_serial_sequence(?, 'id'), "
            f"GREATEST((SELECT max(id) FROM {table}), 1), "
            f"(SELECT max(id) FROM {table}) IS NOT NULL)",
            [table],
        )

    # -- lifecycle -------------------------------------------------------------------------
    def refresh_statistics(self) -> None:
        self.conn.execute(b"ANALYZE")

    def usable(self) -> bool:
        return not (self.conn.closed or self.conn.broken)

    def close(self) -> None:
        self.conn.close()

    def is_environment_error(self, exc: BaseException) -> bool:
        return is_environment_error(exc)


# A dropped network shows within about a minute instead of after the system's two hours (TCP
# only; a Unix socket ignores them). Values in the address or service file are kept.
_KEEPALIVES = {
    "keepalives": "1",
    "keepalives_idle": "30",
    "keepalives_interval": "10",
    "keepalives_count": "3",
}


def open_postgres(
    conninfo: str,
    *,
    read_only: bool = False,
    connect_timeout: int = 10,
    lock_timeout_ms: int = 5000,
) -> PostgresEngine:
    """Connect to a server record (a libpq URI or ``service=name``; TLS as libpq's sslmode
    says). The password comes from libpq (the password file, the service file), never from
    clinic-app's settings. ``lock_timeout_ms``: how long a write waits for a row another
    workstation is changing, like SQLite's busy timeout, before "busy, try again"."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    given = conninfo_to_dict(conninfo)
    extra: dict[str, str] = {}
    if "service" not in given:
        extra = {k: v for k, v in _KEEPALIVES.items() if k not in given}
    if "connect_timeout" not in given:
        extra["connect_timeout"] = str(connect_timeout)
    if "application_name" not in given:
        extra["application_name"] = "clinic-app"
    # Client-side binding: a parameter's type comes from its Python value, as in SQLite, so
    # "(:pid IS NULL OR patient_id = :pid)" needs no cast (the server cannot infer one).
    address = make_conninfo(conninfo, **extra)

    def connect() -> psycopg.Connection[Any]:
        conn = psycopg.connect(address, autocommit=True, cursor_factory=psycopg.ClientCursor)
        try:
            # UTC and ISO: what the app writes and compares; the server's own defaults vary.
            conn.execute(b"SET TIME ZONE 'UTC'")
            conn.execute(b"SET DateStyle = 'ISO, YMD'")
            conn.execute(f"SET lock_timeout = {int(lock_timeout_ms)}".encode())
            if read_only:
                conn.execute(b"SET default_transaction_read_only = on")
        except BaseException:
            conn.close()
            raise
        return conn

    return PostgresEngine(connect(), connect)


def _is_read(sql: str) -> bool:
    """A statement that only reads (safe to send again after a lost connection)."""
    words = sql.split(None, 1)
    first = words[0].upper() if words else ""
    return first == "SELECT" or (first == "WITH" and not _WRITES.search(sql))


_WRITES = re.compile(r"\b(INSERT|UPDATE|DELETE|MERGE)\b", re.IGNORECASE)
