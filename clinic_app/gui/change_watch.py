"""Refresh when another desk changes the record (issue 18: several desks at once).

A :class:`ChangeWatcher` runs a :class:`clinic_app.storage.changes.ChangeWatch` on a
background thread (gui/background.py) and emits ``changed`` on the GUI thread. The main window
then reloads the patient list and the open chart, keeping the patient the nurse chose. When the
server cannot be reached the watcher says so once (``lost``), and tries again every few seconds
until it is back (``back``); nothing typed is touched by it.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from clinic_app.gui.background import BackgroundRunner, Connection, Outcome, Progress
from clinic_app.storage.changes import watch_changes
from clinic_app.storage.database import Record, RecordLocation
from clinic_app.storage.errors import StorageError

RETRY_MS = 5000


class ChangeWatcher(QObject):
    changed = Signal()
    lost = Signal(str)
    """One sentence: the record cannot be reached; the app keeps trying."""
    back = Signal()

    def __init__(
        self, location: RecordLocation, parent: QObject | None = None, interval_s: float = 2.0
    ) -> None:
        super().__init__(parent)
        self.location = location
        self.interval_s = interval_s
        self._runner: BackgroundRunner | None = None
        self._retry = QTimer(self)
        self._retry.setSingleShot(True)
        self._retry.setInterval(RETRY_MS)
        self._retry.timeout.connect(self.start)
        self._is_lost = False
        self._stopped = False

    def _watch(self, record: Record, progress: Progress) -> None:
        watch = watch_changes(record.location)
        try:
            progress.report(0, 1, "watching")
            while not progress.cancelled:
                if watch.wait(self.interval_s):
                    progress.report(1, 1, "changed")
        finally:
            watch.close()

    @Slot()
    def start(self) -> None:
        if self._stopped or (self._runner is not None and self._runner.running):
            return
        runner = BackgroundRunner(Connection(self.location, read_only=True), self._watch, self)
        runner.progressed.connect(self._progressed)
        runner.finished.connect(self._ended)
        self._runner = runner
        runner.start()

    def stop(self) -> None:
        """No thread or timer is left running (the window is closing)."""
        self._stopped = True
        self._retry.stop()
        if self._runner is not None:
            self._runner.stop()
            self._runner = None

    @Slot(int, int, str)
    def _progressed(self, done: int, _total: int, _text: str) -> None:
        if self._is_lost:  # connected again
            self._is_lost = False
            self.back.emit()
            self.changed.emit()  # whatever happened meanwhile is read again
        elif done:
            self.changed.emit()

    @Slot(object)
    def _ended(self, outcome: Outcome) -> None:
        self._runner = None
        if self._stopped:
            return
        if not self._is_lost:
            self._is_lost = True
            detail = str(outcome.error) if isinstance(outcome.error, StorageError) else ""
            self.lost.emit(
                "The connection to the record was lost; the app keeps trying to reconnect, "
                "and nothing you typed is lost. " + detail
            )
        self._retry.start()
