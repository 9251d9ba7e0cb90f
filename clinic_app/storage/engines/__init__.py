"""The two engines a record can live on, behind one small connection interface.

Everything in storage above this package (the Record, the repositories, audit, users,
signatures, queries, exchange) writes its SQL once, in SQLite's placeholder style (``?`` and
``:name``) and with the few dialect pieces named here (``now_sql``, ``json_text``). An engine
runs it on its driver: :mod:`.sqlite` on the local file (the default), :mod:`.postgres` on a
clinic's PostgreSQL server. Nothing above storage knows which one is underneath.

Constraint failures of either driver come out as :class:`ConstraintError` with SQLite's wording
("UNIQUE constraint failed: patients.mrn", "FOREIGN KEY constraint failed", a trigger's own
message), so the repositories turn them into one sentence for both.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

Params = Sequence[Any] | Mapping[str, Any]


class ConstraintError(Exception):
    """The record refused a write: a CHECK, a foreign key, a unique key or a guard trigger.

    ``str()`` is the engine's message in SQLite's words (see the module docstring)."""


class Cursor(Protocol):
    """The part of a DB-API cursor storage uses."""

    @property
    def description(self) -> Sequence[Sequence[Any]] | None: ...

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    kind: str
    """``INTEGER`` or ``TEXT``: the only two kinds the schema uses, on both engines."""
    not_null: bool
    has_default: bool


class Engine(ABC):
    """One open connection to a record, on one engine."""

    kind: str
    """``"sqlite"`` or ``"postgresql"``."""

    now_sql: str
    """An SQL expression for the current instant as UTC ISO text ending in ``Z``."""

    statements: int = 0
    """Statements sent through :meth:`execute` and :meth:`insert` on this connection: on a
    server each is a round trip, so tests count them (a list must not cost one per patient)."""

    # -- statements ------------------------------------------------------------------------
    @abstractmethod
    def execute(self, sql: str, params: Params = ()) -> Cursor:
        """Run one statement (``?`` or ``:name`` placeholders); constraint failures raise
        :class:`ConstraintError`."""

    @abstractmethod
    def insert(self, sql: str, params: Params = ()) -> int:
        """Run one ``INSERT`` of a single row into a table with an ``id`` and return the id."""

    def rows(self, sql: str, params: Params = ()) -> list[dict[str, Any]]:
        """Every row of a query, as dicts keyed by column name."""
        cursor = self.execute(sql, params)
        names = [d[0] for d in cursor.description or ()]
        return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]

    @abstractmethod
    def json_text(self, expr: str, key: str) -> str:
        """SQL for the text value of ``key`` in the JSON text ``expr`` (NULL when absent)."""

    @abstractmethod
    def days_before(self, day_sql: str, days_sql: str) -> str:
        """SQL for the ISO day ``days_sql`` days before the ISO day (or instant) ``day_sql``."""

    # -- transactions ----------------------------------------------------------------------
    @property
    @abstractmethod
    def in_transaction(self) -> bool: ...

    @abstractmethod
    def begin_write(self) -> None:
        """Start a write transaction (SQLite takes the write lock up front)."""

    @abstractmethod
    def begin_read(self) -> None:
        """Start a read-only transaction that sees one state of the record throughout."""

    @abstractmethod
    def commit(self) -> None: ...

    @abstractmethod
    def rollback(self) -> None: ...

    @contextmanager
    def savepoint(self, name: str) -> Iterator[None]:
        """A nested step inside the caller's transaction, undone alone when it raises."""
        self.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            self.execute(f"ROLLBACK TO SAVEPOINT {name}")
            self.execute(f"RELEASE SAVEPOINT {name}")
            raise
        self.execute(f"RELEASE SAVEPOINT {name}")

    @abstractmethod
    def name_actor(self, app_user: str | None, os_user: str, reason: str | None) -> None:
        """Tell the audit triggers who acts, for the current write transaction only: no
        other connection, and no later transaction, ever sees it."""

    @abstractmethod
    def forget_actor(self) -> None:
        """Called just before COMMIT (a no-op where the actor dies with the transaction)."""

    # -- what the record holds -------------------------------------------------------------
    @abstractmethod
    def table_names(self) -> set[str]: ...

    @abstractmethod
    def columns(self, table: str) -> list[ColumnInfo]:
        """The table's columns in their order (empty for a missing table)."""

    @abstractmethod
    def schema_version(self) -> int:
        """The number of migrations this record says it has (SQLite's ``user_version``)."""

    @abstractmethod
    def applied_migrations(self) -> list[str]:
        """The names of the migrations applied, in order (empty for a new record)."""

    @abstractmethod
    def record_birth(self) -> tuple[str, str] | None:
        """The first migration's name and the moment it was applied (the record's identity,
        storage/identity.py), or None for a record with no history yet."""

    @abstractmethod
    def trigger_names(self) -> set[str]:
        """The guard and audit triggers present (``check`` compares them with the schema)."""

    def triggers_suspended(self, tables: Sequence[str]) -> AbstractContextManager[None]:
        """Inside the caller's write transaction: the audit, guard and limit triggers of
        ``tables`` do nothing in the block and are back, exactly as the schema installs them,
        when it ends. For a copy that brings its own audit entries (storage/copy.py); if the
        block raises, the transaction must be rolled back (that puts them back too).

        Not abstract, so an engine written before this method still opens; it refuses here."""
        raise NotImplementedError(f"the {self.kind} engine cannot suspend its triggers yet")

    @abstractmethod
    def reseed_ids(self, table: str) -> None:
        """After rows were inserted with their own ids (import, copy): make the next insert's
        id follow the highest one."""

    @abstractmethod
    def refresh_statistics(self) -> None:
        """After many rows arrived at once (a copy): let the planner know them. A server
        plans the list's queries from its statistics; without them a fresh copy is slow until
        its autovacuum runs."""

    def usable(self) -> bool:
        """False once the connection is known to be lost (a server gone, a backend ended):
        the Record then calls :meth:`reconnect` before its next statement."""
        return True

    def reconnect(self) -> None:
        """Replace a lost connection with a new one (only a server's connection is lost)."""
        raise RuntimeError(f"a {self.kind} connection is not opened again")

    # -- lifecycle -------------------------------------------------------------------------
    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def is_environment_error(self, exc: BaseException) -> bool:
        """Whether ``exc`` is this driver's error (the Record turns those into sentences)."""
