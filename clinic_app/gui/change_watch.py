"""Refresh when another desk changes the record (issue 18: several desks at once).

A :class:`ChangeWatcher` asks a :class:`clinic_app.storage.changes.ChangeWatch` on the GUI
thread and emits ``changed``: when the server's socket has news (a ``QSocketNotifier``, no
polling over the network), or every couple of seconds for a local file. The main window then
reloads the patient list and the open chart, keeping the patient the nurse chose.

Only connecting to a server runs off the GUI thread (it may wait for the network), through the
one background runner. When the record cannot be reached the watcher says so once (``lost``)
and tries again every few seconds until it is back (``back``); nothing typed is touched by it.
No thread outlives a connection attempt, so a window destroyed unclosed leaves none behind.
"""

from __future__ import annotations

import logging
from contextlib import suppress
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QSocketNotifier, QTimer, Signal, Slot

from clinic_app.storage.changes import ChangeWatch, watch_changes
from clinic_app.storage.database import Record, RecordLocation, ServerAddress

if TYPE_CHECKING:
    from clinic_app.gui.background import BackgroundRunner, Outcome, Progress

LOGGER = logging.getLogger("clinic_app.gui.change_watch")
RETRY_MS = 5000
LOST_MESSAGE = (
    "The connection to the record was lost; the app keeps trying to reconnect, and nothing "
    "you typed is lost."
)


def _open_watch(record: Record, _progress: Progress, since: int | None) -> ChangeWatch:
    return watch_changes(record.location, since=since, connect_timeout=5)


class ChangeWatcher(QObject):
    changed = Signal()
    lost = Signal(str)
    """One sentence: the record cannot be reached; the app keeps trying."""
    back = Signal()

    def __init__(
        self,
        location: RecordLocation,
        parent: QObject | None = None,
        interval_ms: int = 2000,
        retry_ms: int = RETRY_MS,
    ) -> None:
        super().__init__(parent)
        self.location = location
        self._watch: ChangeWatch | None = None
        self._notifier: QSocketNotifier | None = None
        self._connecting: BackgroundRunner | None = None
        self._poll = QTimer(self)
        self._poll.setInterval(interval_ms)
        self._poll.timeout.connect(self._check)
        self._retry = QTimer(self)
        self._retry.setSingleShot(True)
        self._retry.setInterval(retry_ms)
        self._retry.timeout.connect(self.start)
        self._is_lost = False
        self._stopped = False
        self._since: int | None = None

    @property
    def running(self) -> bool:
        """Watching, connecting, or waiting to try again."""
        return self._watch is not None or self._connecting is not None or self._retry.isActive()

    def start_since(self, since: int | None) -> None:
        """Start watching; the first ask also reports what was committed after the audit entry
        ``since`` (what the window's load read), so starting after that load misses nothing."""
        self._since = since
        self.start()

    @Slot()
    def start(self) -> None:
        if self._stopped or self._watch is not None or self._connecting is not None:
            return
        # A retry after a loss reads everything again on its own (``back``): no ``since``.
        since, self._since = self._since, None
        if isinstance(self.location, ServerAddress):  # connecting may wait for the network
            # Here, not at import: the window's start does without it (issue 16).
            from clinic_app.gui.background import BackgroundRunner, Connection

            runner = BackgroundRunner(
                Connection(self.location, read_only=True),
                lambda record, progress: _open_watch(record, progress, since),
                self,
            )
            runner.finished.connect(self._connected)
            self._connecting = runner
            runner.start()
            return
        try:
            self._attach(watch_changes(self.location, since=since))
        except Exception as exc:  # the file was moved, or cannot be read
            self._lose(exc)

    def stop(self) -> None:
        """No timer, notifier or connection is left running (the window is closing)."""
        self._stopped = True
        self._retry.stop()
        self._detach()
        if self._connecting is not None:
            self._connecting.stop()
            self._connecting = None

    @Slot(object)
    def _connected(self, outcome: Outcome) -> None:
        runner, self._connecting = self._connecting, None
        if runner is not None:
            runner.deleteLater()
        if self._stopped:
            if isinstance(outcome.result, ChangeWatch):
                outcome.result.close()
            return
        if outcome.ok and isinstance(outcome.result, ChangeWatch):
            self._attach(outcome.result)
        else:
            self._lose(outcome.error)

    def _attach(self, watch: ChangeWatch) -> None:
        self._watch = watch
        if watch.fileno is not None:
            notifier = QSocketNotifier(watch.fileno, QSocketNotifier.Type.Read, self)
            notifier.activated.connect(self._check)
            self._notifier = notifier
            # What was committed before LISTEN sends nothing to the socket: ask once now.
            QTimer.singleShot(0, self._check)
        else:
            self._poll.start()
        if self._is_lost:  # connected again
            self._is_lost = False
            self.back.emit()
            self.changed.emit()  # whatever happened meanwhile is read again

    def _detach(self) -> None:
        self._poll.stop()
        if self._notifier is not None:
            self._notifier.setEnabled(False)
            self._notifier.deleteLater()
            self._notifier = None
        if self._watch is not None:
            with suppress(Exception):  # a connection already gone has nothing to close
                self._watch.close()
            self._watch = None

    @Slot()
    def _check(self) -> None:
        if self._watch is None:
            return
        try:
            news = self._watch.changed()
        except Exception as exc:  # the server went away
            self._lose(exc)
            return
        if news:
            self.changed.emit()

    def _lose(self, exc: BaseException | None) -> None:
        LOGGER.warning("watching %s for changes failed: %r", self.location, exc)
        self._detach()
        if not self._is_lost:
            self._is_lost = True
            self.lost.emit(LOST_MESSAGE)
        if not self._stopped:
            self._retry.start()
