"""Shared by the PostgreSQL tests: open an engine on a fresh test database, end its sessions,
take its database down for a while."""

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


def end_other_sessions(conninfo: str) -> int:
    """End every other session on the database, as a server restart would; returns how many."""
    import psycopg

    with psycopg.connect(conninfo, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return len(rows)


@contextmanager
def server_down(conninfo: str) -> Iterator[None]:
    """The database refuses every connection and its sessions end (the server is down for this
    record) until the block ends."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    name = conninfo_to_dict(conninfo)["dbname"]
    with psycopg.connect(make_conninfo(conninfo, dbname="postgres"), autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'.encode())
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [name]
        )
        try:
            yield
        finally:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'.encode())
