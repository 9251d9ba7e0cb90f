"""Opening the record: connection settings, version check, migrations, write transactions.

One :class:`Record` per thread (sqlite3 connections refuse to cross threads). Every write goes
through ``with record.transaction(reason=...)``: ``BEGIN IMMEDIATE`` takes the write lock up
front (waiting up to the busy timeout), so two app windows queue instead of failing half way.

The record is a local SQLite file (the default) or a clinic's PostgreSQL server; its SQL runs
through ``record.sql``, the engine (storage/engines), so nothing here or above knows which.
"""

from __future__ import annotations

import getpass
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from clinic_app.storage import schema
from clinic_app.storage.engines import Engine
from clinic_app.storage.engines.sqlite import SqliteEngine
from clinic_app.storage.errors import (
    NOTHING_LOST,
    NewerDatabaseError,
    ReadOnlyError,
    StorageError,
    translate,
)
from clinic_app.storage.private import create_private_file

if TYPE_CHECKING:
    from sqlite_utils import Database

    from clinic_app.storage.permissions import Role
    from clinic_app.storage.repositories import Repositories

DEFAULT_BUSY_TIMEOUT_MS = 5000


@dataclass(frozen=True)
class Session:
    """A sign-in carried to another connection of the same file (a worker thread's): issued
    by :attr:`Record.session` only for a user whose password was checked, and accepted by
    :func:`open_database` only for that file. A made-up one is refused."""

    username: str
    token: str


# Sessions issued in this process: token -> (file, username). Tokens are random, so one cannot
# be made up; the table lives only as long as the process.
_SESSIONS: dict[str, tuple[str, str]] = {}


@dataclass(frozen=True)
class ServerAddress:
    """A record on a PostgreSQL server: a libpq URI (``postgresql://user@host/db``) or a
    service name from the libpq service file (``service=clinic``). ``str()`` never shows a
    password."""

    conninfo: str

    def __str__(self) -> str:
        from clinic_app.storage.engines.postgres import display_address

        return display_address(self.conninfo)


RecordLocation = Path | ServerAddress


def _identity(location: RecordLocation) -> str:
    return str(location.resolve()) if isinstance(location, Path) else location.conninfo


def os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name (some containers): still say something true
        return f"uid {os.getuid()}" if hasattr(os, "getuid") else "unknown"


class Record:
    """The clinical record (a SQLite file or a server database), through one connection."""

    def __init__(
        self,
        location: RecordLocation,
        engine: Engine,
        *,
        read_only: bool,
        app_user: str | None,
    ) -> None:
        self.location = location
        self.sql = engine
        self._reading = False
        self._db: Database | None = None
        self.read_only = read_only
        self._name = app_user
        self._verified: set[str] = set()
        """Usernames whose password was checked on this connection (or carried over by a
        :class:`Session` from one that did)."""
        self.os_user = os_user()
        self._depth = 0
        self._repos: Repositories | None = None
        self.backup_problem: str | None = None
        """Set when the automatic daily backup failed on open (the record itself is fine)."""
        self._has_users = False
        self._lending: bool | None = None

    # -- who is signed in ------------------------------------------------------------------
    def has_users(self) -> bool:
        """Whether the record has any user account (else it runs in open mode, see
        ``permissions.py``). Accounts are never deleted, so a yes is remembered."""
        if not self._has_users:
            with self.guard():
                row = self.sql.execute("SELECT EXISTS (SELECT 1 FROM users)").fetchone()
            self._has_users = bool(row[0])
        return self._has_users

    @property
    def app_user(self) -> str | None:
        """Who acts through this connection.

        In open mode (no accounts) any name given is a label and is used as it is. Once the
        record has accounts only a name whose password was checked counts: a name handed to
        :func:`open_database` or :meth:`set_user` without one acts as nobody, so every guarded
        write is refused (issue 15, item 4).
        """
        name = self._name
        if name is None or name.casefold() in self._verified:
            return name
        return None if self.has_users() else name

    def password_checked(self, username: str) -> None:
        """Called by the accounts code once ``username``'s password was right (or was just
        set for a new first account). Nothing else grants a name."""
        self._verified.add(username.casefold())

    def is_verified(self, username: str) -> bool:
        return username.casefold() in self._verified

    @property
    def session(self) -> Session | None:
        """The signed-in user as a :class:`Session` another connection can be opened with (a
        worker thread's), or None when nobody signed in with a password."""
        name = self._name
        if name is None or name.casefold() not in self._verified:
            return None
        import secrets  # hmac and OpenSSL, ~10 ms: not before the window's paint (issue 16)

        token = secrets.token_hex(16)
        _SESSIONS[token] = (_identity(self.location), name.casefold())
        return Session(name, token)

    def adopt(self, session: Session) -> None:
        """Act as ``session``'s user, if that session was issued for this same file."""
        if _SESSIONS.get(session.token) != (
            _identity(self.location),
            session.username.casefold(),
        ):
            from clinic_app.storage.permissions import PermissionDeniedError

            raise PermissionDeniedError(
                f"That sign-in of {session.username} was not made on {self.location}; sign in with "
                f"the password. {NOTHING_LOST.capitalize()}."
            )
        self._verified.add(session.username.casefold())
        self._name = session.username

    @property
    def role(self) -> Role | None:
        """The role of ``app_user`` if that is an active account of this record, else None."""
        from clinic_app.storage.permissions import Role

        user = self.app_user
        if user is None:
            return None
        with self.guard():
            row = self.sql.execute(
                "SELECT role FROM users WHERE username = ? AND active = 1", [user]
            ).fetchone()
        return None if row is None else Role(row[0])

    def set_user(self, username: str | None) -> None:
        """Name who acts through this connection from now on; ``None`` signs out.

        Once the record has accounts the name must have signed in on this connection with its
        password (``repos.users.authenticate``); any other name is refused.
        """
        if username is not None and self.has_users() and not self.is_verified(username):
            from clinic_app.storage.permissions import PermissionDeniedError

            raise PermissionDeniedError(
                f"{username} has not signed in with a password on this window, so nothing can "
                f"be done in that name; sign in first. {NOTHING_LOST.capitalize()}."
            )
        # Signing out, or another user signing in, forgets every other password check.
        self._verified &= {username.casefold()} if username is not None else set()
        self._name = username

    # -- lifecycle -------------------------------------------------------------------------
    def close(self) -> None:
        self.sql.close()

    @property
    def path(self) -> Path:
        """The record's file. Only a local record has one: backups, restore and the file
        checks are for files; a server record is backed up by its server."""
        if isinstance(self.location, Path):
            return self.location
        raise StorageError(
            f"The record on the server {self.location} is not a file on this computer; "
            f"{NOTHING_LOST}. This is done on the server (see the administrator's guide)."
        )

    @property
    def on_server(self) -> bool:
        return not isinstance(self.location, Path)

    @property
    def db(self) -> Database:
        """sqlite-utils over a local record's connection: its migrations and tests use it.
        Imported on first use, so a plain start does not pay for sqlite-utils."""
        if self._db is None:
            if not isinstance(self.sql, SqliteEngine):
                raise StorageError(f"The record {self.location} is not a SQLite file.")
            from clinic_app.storage import import_sqlite_utils_alone

            import_sqlite_utils_alone()
            from sqlite_utils import Database

            # No sqlite-utils plugins: a package installed beside the app must not run its
            # own code on the clinical record's connection (issue 16).
            self._db = Database(self.sql.conn, execute_plugins=False)
        return self._db

    def __enter__(self) -> Record:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def actor(self) -> str:
        """Who the audit trail names for writes through this connection."""
        return f"{self.app_user} ({self.os_user})" if self.app_user else self.os_user

    @property
    def repos(self) -> Repositories:
        """The repositories over this record (patients, labs, cycles ...)."""
        if self._repos is None:
            from clinic_app.storage.repositories import Repositories

            self._repos = Repositories(self)
        return self._repos

    # -- errors ----------------------------------------------------------------------------
    @contextmanager
    def guard(self) -> Iterator[None]:
        """Turn environment failures of the engine into :class:`StorageError` with a plain
        message (a locked or full file, a server that cannot be reached)."""
        self._reconnect_if_lost()
        try:
            yield
        except Exception as exc:
            if not self.sql.is_environment_error(exc):
                raise
            storage_error = _translate(exc, self.location)
            if storage_error is None:
                raise
            raise storage_error from exc

    def _begin(self, *, write: bool) -> Engine:
        """Begin a transaction (or a read snapshot) and return the engine it runs on.

        A server connection found lost at BEGIN is replaced and BEGIN sent again: nothing of
        the transaction had been sent, so the nurse's save is not refused for a drop that
        happened while the form was being filled in."""
        for attempt in (1, 2):
            with self.guard():  # a connection already known lost is replaced here
                sql = self.sql
                try:
                    sql.begin_write() if write else sql.begin_read()
                except Exception:
                    if attempt == 1 and not sql.usable():
                        continue
                    raise
                return sql
        raise AssertionError("unreachable")  # the second attempt returns or raises

    def _reconnect_if_lost(self) -> None:
        """A server connection that was lost is replaced before the next statement, outside
        any transaction or snapshot (whose work died with the old connection, and was said)."""
        if self._depth or self._reading or self.sql.usable():
            return
        try:
            self.sql.reconnect()
        except Exception as exc:
            problem = _translate(exc, self.location)
            if problem is None:
                raise
            raise problem from exc

    def data_version(self) -> str:
        """The schema version and the latest audit entry: which state of the record a printout,
        an export or a report came from."""
        with self.guard():
            schema = self.sql.schema_version()
            latest = self._audit_mark()
        return f"schema {schema} · change {latest}"

    def latest_change(self) -> int:
        """The newest audit entry's number (0 for none): what a load has seen, for a change
        watch that opens later (storage/changes.py)."""
        with self.guard():
            return self._audit_mark()

    # -- writes ----------------------------------------------------------------------------
    @property
    def in_transaction(self) -> bool:
        return self._depth > 0

    @contextmanager
    def read_snapshot(self) -> Iterator[None]:
        """Every read in the block sees one state of the record, even while another window
        writes (SQLite's WAL snapshot; a repeatable-read transaction on the server).

        Inside a transaction the block already reads one state. Nothing may be written in the
        block: it ends with a rollback.
        """
        if self.sql.in_transaction and self.sql.usable():
            yield
            return
        sql = self._begin(write=False)
        self._reading = True
        try:
            yield
        finally:
            self._reading = False
            if sql.usable():  # a lost connection ended its transaction with it
                with self.guard():
                    sql.rollback()  # nothing was written

    @contextmanager
    def transaction(self, reason: str | None = None) -> Iterator[Engine]:
        """One atomic write: committed at the end of the block, rolled back on any exception.

        The audit trail names this connection's user and ``reason`` for every row changed in
        the block. A nested call joins the outer transaction.
        """
        if self._depth:
            self._depth += 1
            try:
                yield self.sql
            finally:
                self._depth -= 1
            return
        sql = self._begin(write=True)
        self._depth = 1
        try:
            with self.guard():
                sql.name_actor(self.app_user, self.os_user, reason)
                signing = self.has_users()
                mark = self._audit_mark() if signing or self._lends() else None
            with self.guard():
                yield sql
                if signing and mark is not None:
                    self._refuse_unsigned(mark)
                if mark is not None and self._lends():
                    # Patients out on a laptop take no change here (issue 19).
                    from clinic_app.storage.checkout.guard import refuse_locked

                    refuse_locked(sql, mark)
                sql.forget_actor()
                sql.commit()
        except BaseException:
            if sql.in_transaction:
                # The original error says more; both engines also roll back on close.
                with suppress(Exception):
                    sql.rollback()
            raise
        finally:
            self._depth = 0

    def _lends(self) -> bool:
        """Whether the record has the check-out table (migration 0011), asked once."""
        if self._lending is None:
            self._lending = "checkouts" in self.sql.table_names()
        return self._lending

    # -- signatures the rules require -------------------------------------------------------
    def _audit_mark(self) -> int:
        row = self.sql.execute("SELECT coalesce(max(id), 0) FROM audit_log").fetchone()
        return int(row[0])

    def _refuse_unsigned(self, after: int) -> None:
        """Refuse the commit when a decision the rules have signed (DLT confirmation, dose
        modification, end-of-cycle and cycle-start decisions, condition overrides) was written
        in this transaction without its signature. Enforced here, at the one commit every
        service goes through, so no path (script, service, dialog) can skip it."""
        rows = self.sql.execute(
            f"SELECT a.table_name, a.row_id FROM audit_log a WHERE a.id > ? "
            f"AND a.action = 'insert' AND a.table_name IN ({_SIGNED_PLACEHOLDERS}) "
            "AND NOT (a.table_name = 'decisions' AND (SELECT d.kind FROM decisions d "
            f"WHERE d.id = a.row_id) IN ({_UNSIGNED_KIND_PLACEHOLDERS})) "
            "AND NOT EXISTS (SELECT 1 FROM signatures s WHERE s.table_name = a.table_name "
            "AND s.row_id = a.row_id AND s.voided_at IS NULL)",
            [after, *SIGNED_TABLES, *UNSIGNED_DECISION_KINDS],
        ).fetchall()
        if any(table == "decisions" for table, _ in rows) and self._signed_decision(after):
            # One decision, several rows (accepting "off study" also writes the off-study
            # row): the signature on the decision covers the rows written with it.
            rows = [row for row in rows if row[0] != "decisions"]
        if rows:
            from clinic_app.storage.permissions import PermissionDeniedError

            table, row_id = rows[0]
            raise PermissionDeniedError(
                f"This record has user accounts, so a {_SIGNED_WHAT[str(table)]} must be signed "
                "by the investigator re-entering their password; it was not signed "
                f"({table} row {row_id}). {NOTHING_LOST.capitalize()}."
            )

    def _signed_decision(self, after: int) -> bool:
        row = self.sql.execute(
            "SELECT EXISTS (SELECT 1 FROM audit_log a JOIN signatures s ON s.table_name = "
            "'decisions' AND s.row_id = a.row_id AND s.voided_at IS NULL WHERE a.id > ? "
            "AND a.action = 'insert' AND a.table_name = 'decisions')",
            [after],
        ).fetchone()
        return bool(row[0])


# Tables whose new rows need a signature once the record has accounts (rules page: investigator
# decisions are signed); decisions of these kinds are the trial board's, recorded unsigned.
SIGNED_TABLES = ("dlt_reviews", "dose_modifications", "decisions")
UNSIGNED_DECISION_KINDS = ("escalation",)
_SIGNED_WHAT = {
    "dlt_reviews": "DLT decision",
    "dose_modifications": "dose modification",
    "decisions": "decision",
}
_SIGNED_PLACEHOLDERS = ", ".join("?" for _ in SIGNED_TABLES)
_UNSIGNED_KIND_PLACEHOLDERS = ", ".join("?" for _ in UNSIGNED_DECISION_KINDS)


def _refuse_if_newer(sql: Engine, where: RecordLocation) -> list[str]:
    """Applied migration names; raises when the record was made by a newer app."""
    version = sql.schema_version()
    applied = sql.applied_migrations()
    unknown = [name for name in applied if name not in schema.MIGRATION_NAMES]
    if version > schema.SCHEMA_VERSION or unknown:
        detail = f"schema version {version}, this app knows up to {schema.SCHEMA_VERSION}"
        if unknown:
            detail += "; unknown changes: " + ", ".join(unknown)
        raise NewerDatabaseError(
            f"The database {where} was made by a newer version of clinic-app ({detail}); it was "
            "not opened and has not been changed. Use that newer clinic-app, or open a backup "
            "made by this version."
        )
    return applied


def _translate(exc: BaseException, where: RecordLocation) -> StorageError | None:
    if isinstance(exc, sqlite3.Error):
        return translate(exc, where if isinstance(where, Path) else Path(str(where)))
    from clinic_app.storage.engines.postgres import describe_environment_error

    return describe_environment_error(exc, str(where))


def as_location(value: str | os.PathLike[str] | RecordLocation) -> RecordLocation:
    """A file path, or a server address (``postgresql://…``, ``postgres://…``, ``service=…``)."""
    if isinstance(value, ServerAddress):
        return value
    if isinstance(value, str):
        from clinic_app.storage.location import is_server_address

        if is_server_address(value):
            return ServerAddress(value.strip())
    return Path(value)


def open_database(
    path: str | os.PathLike[str] | RecordLocation,
    *,
    read_only: bool = False,
    app_user: str | Session | None = None,
    busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
) -> Record:
    """Open (creating on first use) and upgrade the record at ``path``: a SQLite file, or a
    database on a PostgreSQL server (a :class:`ServerAddress` or its text).

    Raises a :class:`StorageError` subclass, leaving the record untouched, when the file is not a
    database, was made by a newer app, is locked, the server cannot be reached, or the record
    cannot be written while it needs upgrading. Opening has no other side effect: the daily
    backup is started by the app and the commands (``services.context.start_daily_backup``).
    """
    where = as_location(path)
    if isinstance(where, ServerAddress):
        return _open_server(where, read_only=read_only, app_user=app_user)
    file = where
    try:
        if read_only:
            conn = sqlite3.connect(
                f"{file.resolve().as_uri()}?mode=ro",
                uri=True,
                timeout=busy_timeout_ms / 1000,
                isolation_level=None,
            )
        else:
            with suppress(OSError):  # a missing folder is said by SQLite's own error below
                # A new record is its owner's only (0600); SQLite gives its WAL and SHM files
                # the same mode (issue 15, item 6).
                create_private_file(file)
            # isolation_level=None: no implicit transactions. Every write of the app is in an
            # explicit one (Record.transaction); any other statement commits on its own.
            conn = sqlite3.connect(str(file), timeout=busy_timeout_ms / 1000, isolation_level=None)
    except sqlite3.Error as exc:
        raise translate(exc, file) or StorageError(f"Cannot open {file}: {exc}") from exc
    record: Record | None = None
    try:
        name = app_user if isinstance(app_user, str) or app_user is None else None
        record = Record(file, SqliteEngine(conn), read_only=read_only, app_user=name)
        with record.guard():
            conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            conn.execute("PRAGMA foreign_keys = ON")
            schema.prepare_connection(conn)  # the audit triggers know the app by this
            # Reading the schema is the first real read: a non-database file fails here.
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            _refuse_if_newer(record.sql, file)  # before anything below writes the header
            if not read_only:
                conn.execute("PRAGMA journal_mode = WAL").fetchone()
            conn.execute("PRAGMA synchronous = FULL")
        _migrate(record)
        if isinstance(app_user, Session):
            record.adopt(app_user)  # a worker's connection acts as the window's signed-in user
    except BaseException:
        if record is not None:
            record.close()
        else:
            conn.close()
        raise
    return record


def _open_server(
    where: ServerAddress, *, read_only: bool, app_user: str | Session | None
) -> Record:
    from clinic_app.storage.engines.postgres import describe_environment_error, open_postgres

    try:
        engine = open_postgres(where.conninfo, read_only=read_only)
    except Exception as exc:
        problem = describe_environment_error(exc, str(where))
        if problem is None:
            raise
        raise problem from exc
    name = app_user if isinstance(app_user, str) or app_user is None else None
    record = Record(where, engine, read_only=read_only, app_user=name)
    try:
        with record.guard():
            _refuse_if_newer(engine, where)
        _migrate(record)
        if isinstance(app_user, Session):
            record.adopt(app_user)
    except BaseException:
        record.close()
        raise
    return record


def _migrate(record: Record) -> None:
    sql, where = record.sql, record.location
    with record.guard():
        applied = sql.applied_migrations()
    if all(name in applied for name in schema.MIGRATION_NAMES):
        return
    if record.read_only:
        raise ReadOnlyError(
            f"The database {where} needs upgrading to this version of clinic-app but was opened "
            f"read-only; {NOTHING_LOST}. Open it with write access once to upgrade it."
        )
    with record.guard():
        sql.begin_write()  # the whole upgrade is one transaction
        try:
            _refuse_if_newer(sql, where)  # another process may have upgraded while we waited
            if isinstance(sql, SqliteEngine):
                schema.migrations.apply(record.db)
            else:
                _migrate_server(sql, where, creating=not applied)
            sql.commit()
        except BaseException:
            if sql.in_transaction:
                sql.rollback()
            raise


def _migrate_server(sql: Engine, where: RecordLocation, *, creating: bool) -> None:
    from clinic_app.storage.engines import pg_schema
    from clinic_app.storage.engines.postgres import PostgresEngine

    assert isinstance(sql, PostgresEngine)
    try:
        pg_schema.migrate(sql)
    except Exception as exc:
        # The everyday role may not change the schema (least privilege): say who can.
        if isinstance(_translate(exc, where), ReadOnlyError):
            what = "creating" if creating else "upgrading to this version of clinic-app"
            raise ReadOnlyError(
                f"The record on the server {where} needs {what}, which only the role that owns "
                f"it may do; {NOTHING_LOST}. Open it once as the owner role (the administrator's "
                "guide, 'A clinic server'), then as usual."
            ) from exc
        raise


def schema_problems(record: Record) -> list[str]:
    """One line per way the record's schema differs from what this app expects."""
    sql = record.sql
    if not isinstance(sql, SqliteEngine):
        from clinic_app.storage.engines import pg_schema

        return pg_schema.schema_problems(sql)
    problems: list[str] = []
    applied = sql.applied_migrations()
    for name in schema.MIGRATION_NAMES:
        if name not in applied:
            problems.append(f"schema: migration {name} has not been applied")
    present = sql.trigger_names()
    tables = sql.table_names()
    for table in schema.AUDITED_TABLES:
        if table not in tables:
            problems.append(f"schema: table {table} is missing")
            continue
        for trigger in schema.audit_trigger_names(table):
            if trigger not in present:
                problems.append(
                    f"audit: trigger {trigger} is missing, so changes to {table} are no "
                    "longer fully audited and guarded"
                )
    if "audit_actor" in tables:
        count = int(sql.execute("SELECT count(*) FROM audit_actor").fetchone()[0])
        if count:
            problems.append(
                "audit: audit_actor holds a committed row, so changes made outside the app "
                "would be attributed to the app"
            )
    return problems
