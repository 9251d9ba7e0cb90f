"""Suspending a server record's own triggers for one transaction (a copy brings its entries).

PostgreSQL switches triggers off and on per table; both are transactional, so a copy that
fails leaves them as they were. ``DISABLE TRIGGER USER`` keeps the internal triggers that
enforce foreign keys. Only the tables' owner may do it: the app's everyday role cannot, which
is why a move onto the server connects as the owner role (see the administrator's guide).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress

from clinic_app.storage.engines import Engine

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


@contextmanager
def pg_triggers_suspended(engine: Engine, tables: Sequence[str]) -> Iterator[None]:
    """``Engine.triggers_suspended`` for the PostgreSQL engine."""
    if not engine.in_transaction:
        raise RuntimeError("triggers are suspended only inside a write transaction")
    for table in tables:
        if not _IDENTIFIER.match(table):  # names go into the statement as they are
            raise ValueError(f"not a table name: {table!r}")
    for table in tables:
        engine.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
    try:
        yield
    except BaseException:
        # The rollback the caller owes puts them back; an aborted transaction refuses this.
        with suppress(Exception):
            _enable(engine, tables)
        raise
    _enable(engine, tables)


def _enable(engine: Engine, tables: Sequence[str]) -> None:
    for table in tables:
        engine.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")


class PgTriggersMixin(Engine):
    """Mixed into the PostgreSQL engine (``class PostgresEngine(PgTriggersMixin)``)."""

    @contextmanager
    def triggers_suspended(self, tables: Sequence[str]) -> Iterator[None]:
        with pg_triggers_suspended(self, tables):
            yield
