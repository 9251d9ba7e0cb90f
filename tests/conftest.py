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
    from clinic_app.storage.database import Record

    from .pg_server import PgServer


@pytest.fixture
def record(tmp_path: Path) -> Iterator[Record]:
    from clinic_app.storage.database import open_database

    rec = open_database(tmp_path / "record.sqlite3")
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
