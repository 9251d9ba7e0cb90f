"""Fixtures shared by the test folders: one record, the protocols.

``record`` is a real SQLite file made by ``open_database`` under ``tmp_path`` (a folder's own
conftest or a test file may still define its own, e.g. a record opened as a named user).
The imports are inside the fixtures: the core suite runs where storage's dependencies are
not installed (make test-core-pure).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from clinic_app.core.protocol import Protocol
    from clinic_app.storage.database import Record, RecordLocation

    from .pg_server import PgServer


ENGINES = ("sqlite", "postgresql")
_BOTH_ENGINES_IN = ("storage", "services")
"""The suites whose ``record`` runs on both engines (issue 18); elsewhere it is a file."""


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``engine`` (and so ``record``) is each engine in the storage and services suites.

    A test that names the file (the ``db_path`` fixture) or is marked ``sqlite_only`` is about
    the SQLite file itself (pages, PRAGMAs, backups, file modes) and runs on SQLite only.
    """
    if "engine" not in metafunc.fixturenames:
        return
    parts = metafunc.definition.path.parts
    on_both = any(suite in parts for suite in _BOTH_ENGINES_IN) and not (
        "db_path" in metafunc.fixturenames or metafunc.definition.get_closest_marker("sqlite_only")
    )
    metafunc.parametrize("engine", ENGINES if on_both else ENGINES[:1], indirect=True)


@pytest.fixture
def engine(request: pytest.FixtureRequest) -> str:
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture(scope="session")
def pg_template(pg_server: PgServer) -> str:
    """A server database at the current schema, copied for each test (fast: no DDL per test)."""
    from clinic_app.storage.database import ServerAddress, open_database

    name = "clinic_template"
    open_database(ServerAddress(pg_server.create_database(name))).close()
    return name


@pytest.fixture
def record_location(engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> RecordLocation:
    """Where this test's record lives: a file under tmp_path, or a fresh server database."""
    from clinic_app.storage.database import ServerAddress

    if engine == "sqlite":
        return tmp_path / "record.sqlite3"
    server: PgServer = request.getfixturevalue("pg_server")
    template: str = request.getfixturevalue("pg_template")
    name = f"r{next(_pg_database_count)}"
    conninfo = server.create_database(name, template=template)
    request.addfinalizer(lambda: server.drop_database(name))
    return ServerAddress(conninfo)


@pytest.fixture
def record(record_location: RecordLocation) -> Iterator[Record]:
    from clinic_app.storage.database import open_database

    rec = open_database(record_location)
    try:
        yield rec
    finally:
        rec.close()


@pytest.fixture(scope="module")
def protocols() -> dict[str, Protocol]:
    from clinic_app.core.protocol_loader import load_protocols

    return load_protocols()


# -- a throwaway PostgreSQL server (issue 18; tests/pg_server.py) --------------------------------


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """One real server for the whole run, on a Unix socket only; stopped and removed at the end.

    Without server programs the tests that use it skip, or fail where CLINIC_APP_REQUIRE_PG=1
    (make test and CI), so a missing install step cannot pass unnoticed.
    """
    from .pg_server import PgServer, PgServerUnavailable, server_required

    missing = ""
    try:
        server = PgServer.start()
    except PgServerUnavailable as error:
        missing = str(error)
    if missing and server_required():
        pytest.fail(f"{missing} CLINIC_APP_REQUIRE_PG=1 requires the server.", pytrace=False)
    if missing:
        pytest.skip(missing)
    try:
        yield server
    finally:
        server.stop()


_pg_database_count = itertools.count(1)


@pytest.fixture
def pg_database(pg_server: PgServer, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh empty database for this test (owner clinic_owner); yields its conninfo."""
    slug = re.sub(r"[^a-z0-9]+", "_", request.node.name.lower()).strip("_")[:40]
    name = f"t{next(_pg_database_count)}_{slug}"
    conninfo = pg_server.create_database(name)
    try:
        yield conninfo
    finally:
        pg_server.drop_database(name)
