"""The record's connection runs no sqlite-utils plugin (issue 16: not scanned at start either)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlite_utils
from sqlite_utils import Database
from sqlite_utils.plugins import pm

from clinic_app.storage.database import open_database


class MarkingPlugin:
    """A plugin as a package beside the app could install: it adds a function to every
    connection sqlite-utils prepares."""

    @staticmethod
    @sqlite_utils.hookimpl
    def prepare_connection(conn: sqlite3.Connection) -> None:
        conn.create_function("plugin_was_here", 0, lambda: 1)


@pytest.fixture
def plugin() -> Iterator[None]:
    marker = MarkingPlugin()
    pm.register(marker)
    try:
        yield
    finally:
        pm.unregister(marker)


def has_marker(conn: sqlite3.Connection) -> bool:
    try:
        conn.execute("SELECT plugin_was_here()").fetchone()
    except sqlite3.OperationalError:
        return False
    return True


def test_a_plain_sqlite_utils_connection_runs_the_plugin(plugin: None) -> None:
    # The control: the plugin is live, so the test below could see it.
    assert has_marker(Database(sqlite3.connect(":memory:")).conn)


def test_the_record_runs_no_plugin(plugin: None, tmp_path: Path) -> None:
    with open_database(tmp_path / "record.sqlite3") as record:
        assert not has_marker(record.db.conn)
    with open_database(tmp_path / "record.sqlite3", read_only=True) as record:
        assert not has_marker(record.db.conn)
