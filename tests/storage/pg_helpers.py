"""Shared by the PostgreSQL engine and schema tests: open an engine on a fresh test database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from clinic_app.storage.engines import pg_schema
from clinic_app.storage.engines.postgres import PostgresEngine, open_postgres


def as_user(conninfo: str, user: str) -> str:
    """The same test database, signed in as another role (the test server trusts them)."""
    parts = urlsplit(conninfo)
    netloc = f"{quote(user, safe='')}@{parts.netloc.split('@', 1)[-1]}"
    return urlunsplit(parts._replace(netloc=netloc))


def database_name(conninfo: str) -> str:
    return urlsplit(conninfo).path.lstrip("/")


@contextmanager
def engine_on(conninfo: str, *, install: bool = False, **options: Any) -> Iterator[PostgresEngine]:
    engine = open_postgres(conninfo, **options)
    try:
        if install:
            engine.begin_write()
            pg_schema.migrate(engine)
            engine.commit()
        yield engine
    finally:
        engine.close()


def write(engine: PostgresEngine, sql: str, params: Any = (), *, actor: str | None = "app") -> Any:
    """One statement in its own write transaction; ``actor`` None = plain SQL (no actor)."""
    engine.begin_write()
    try:
        if actor is not None:
            engine.name_actor(actor, "nurse-pc", "test")
        result = engine.execute(sql, params)
        rows = result.fetchall() if result.description else None
        engine.forget_actor()
        engine.commit()
    except BaseException:
        engine.rollback()
        raise
    return rows


def audit_rows(engine: PostgresEngine) -> list[dict[str, Any]]:
    return engine.rows("SELECT * FROM audit_log ORDER BY id")
