"""Hearing that another desk changed the record, so the list and the open chart can refresh.

On a clinic server the audit triggers NOTIFY the channel :data:`CHANNEL` at each commit that
changed a row (storage/engines/pg_schema.py), and a watcher LISTENs on a connection of its own:
nothing is polled over the network. On a local file (two windows on one record) the watcher
reads the newest audit entry number every few seconds from its own read-only connection.

Either way a watcher only says *that* something changed; what changed is read again through
the same queries as any load, so a refresh shows exactly what a fresh start would.
"""

from __future__ import annotations

import sqlite3
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from clinic_app.storage.database import RecordLocation

CHANNEL = "clinic_app_changes"
"""The PostgreSQL notification channel the audit triggers announce commits on."""


class ChangeWatch(ABC):
    """Waits for changes to one record made by any connection, this window's included."""

    @abstractmethod
    def wait(self, timeout: float) -> bool:
        """Block up to ``timeout`` seconds; True when the record changed since the last call."""

    @abstractmethod
    def close(self) -> None: ...


class _FileWatch(ChangeWatch):
    def __init__(self, path: Path) -> None:
        self._conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        self._seen = self._latest()

    def _latest(self) -> int:
        try:
            row = self._conn.execute("SELECT coalesce(max(id), 0) FROM audit_log").fetchone()
        except sqlite3.Error:  # locked for a moment, or mid-upgrade: look again next time
            return -1
        return int(row[0])

    def wait(self, timeout: float) -> bool:
        time.sleep(timeout)
        latest = self._latest()
        if latest < 0 or latest == self._seen:
            return False
        self._seen = latest
        return True

    def close(self) -> None:
        self._conn.close()


class _ServerWatch(ChangeWatch):
    def __init__(self, conninfo: str) -> None:
        import psycopg

        self._conn: Any = psycopg.connect(conninfo, autocommit=True)
        self._conn.execute(f"LISTEN {CHANNEL}")

    def wait(self, timeout: float) -> bool:
        heard = any(True for _note in self._conn.notifies(timeout=timeout, stop_after=1))
        if heard:
            # Take what else is already queued, without waiting: one refresh for a burst. (A
            # second generator only after the first has ended: they share the connection.)
            for _more in self._conn.notifies(timeout=0.05):
                pass
        return heard

    def close(self) -> None:
        self._conn.close()


def watch_changes(location: RecordLocation) -> ChangeWatch:
    """A watcher on ``location`` with its own connection (call from the thread that waits)."""
    if isinstance(location, Path):
        return _FileWatch(location)
    return _ServerWatch(location.conninfo)
