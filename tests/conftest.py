"""Fixtures shared by the test folders: one record, the protocols.

``record`` is a real SQLite file made by ``open_database`` under ``tmp_path`` (a folder's own
conftest or a test file may still define its own, e.g. a record opened as a named user).
The imports are inside the fixtures: the core suite runs where storage's dependencies are
not installed (make test-core-pure).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from clinic_app.core.protocol import Protocol
    from clinic_app.storage.database import Record


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
