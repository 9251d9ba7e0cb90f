"""Hearing that another desk changed the record, so the list and the open chart can refresh.

On a clinic server the audit log's trigger NOTIFYs the channel :data:`CHANNEL` at each commit
that changed a row (storage/engines/pg_schema.py), and a watch LISTENs on a connection of its
own: its socket says when a notice has come, so nothing is polled over the network. On a local
file (two windows on one record) the watch reads the newest audit entry number when asked.

Either way a watch only says *that* something changed; what changed is read again through the
same queries as any load, so a refresh shows exactly what a fresh start would. A watch never
blocks once open: the GUI asks it from its own thread (gui/change_watch.py).

A watch opened with ``since`` (the newest audit entry a load read, ``Record.latest_change``)
also reports what was committed between that read and the watch, so it can open after the
load's paint without missing a save.
"""

from __future__ import annotations

import sqlite3
from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from clinic_app.storage.database import RecordLocation

CHANNEL = "clinic_app_changes"
"""The PostgreSQL notification channel the audit triggers announce commits on."""


class ChangeWatch(ABC):
    """Says whether the record changed (by any connection) since it was last asked."""

    fileno: int | None = None
    """A socket that becomes readable when there is news (a server), or None: ask on a timer."""

    @abstractmethod
    def changed(self) -> bool:
        """True when the record changed since the last call; never waits. Raises the driver's
        error when the record can no longer be reached."""

    @abstractmethod
    def close(self) -> None: ...


class _FileWatch(ChangeWatch):
    def __init__(self, path: Path, since: int | None) -> None:
        self._conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        # With ``since`` nothing is read yet: a connection's first statement parses the whole
        # schema (~10 ms of audit triggers), which then waits for the first ask.
        self._seen = self._latest() if since is None else since

    def _latest(self) -> int:
        try:
            row = self._conn.execute("SELECT coalesce(max(id), 0) FROM audit_log").fetchone()
        except sqlite3.OperationalError:  # locked for a moment, or mid-upgrade: ask again later
            return self._seen if hasattr(self, "_seen") else 0
        return int(row[0])

    def changed(self) -> bool:
        latest = self._latest()
        if latest == self._seen:
            return False
        self._seen = latest
        return True

    def close(self) -> None:
        self._conn.close()


class _ServerWatch(ChangeWatch):
    def __init__(self, conninfo: str, connect_timeout: int, since: int | None) -> None:
        import psycopg

        self._conn: Any = psycopg.connect(
            conninfo, autocommit=True, connect_timeout=connect_timeout
        )
        self._conn.execute(f"LISTEN {CHANNEL}")
        self.fileno = int(self._conn.fileno())
        # A commit between the caller's read and LISTEN announced itself to nobody. (Entry
        # numbers come from a sequence, so one taken before that read and committed after it
        # could still hide behind a higher number: a later save refreshes the window anyway.)
        self._missed = False
        if since is not None:
            row = self._conn.execute("SELECT coalesce(max(id), 0) FROM audit_log").fetchone()
            self._missed = row is not None and int(row[0]) > since

    def changed(self) -> bool:
        # timeout=0: take what has arrived, without waiting. A connection the server closed
        # raises here, which the caller reports as a lost connection.
        heard = any(True for _note in self._conn.notifies(timeout=0))
        if self._conn.broken or self._conn.closed:
            raise ConnectionError("the connection to the server was lost")
        missed, self._missed = self._missed, False
        return heard or missed

    def close(self) -> None:
        self._conn.close()


def watch_changes(
    location: RecordLocation, *, since: int | None = None, connect_timeout: int = 10
) -> ChangeWatch:
    """A watch on ``location`` with a connection of its own (connecting may wait for the
    server; asking it afterwards never does). With ``since``, its first ask also reports any
    change committed after that audit entry; without, it reports changes from now on."""
    if isinstance(location, Path):
        return _FileWatch(location, since)
    return _ServerWatch(location.conninfo, connect_timeout, since)
