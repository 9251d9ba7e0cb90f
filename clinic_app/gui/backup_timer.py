"""The daily backup from the GUI: at the window's first paint, and while it stays open for days.

The record is backed up on the first session of each day (``storage.backup``); a clinic
computer that keeps clinic-app open all week would otherwise have no backup after Monday, so
this asks the same storage function again once an hour; it does nothing until the day has
changed.

The copy and its integrity check read the whole record (seconds on a large one), so they run
on a connection and thread of their own (``gui.background``): the window stays usable, and a
nurse's save goes on meanwhile (SQLite's write-ahead log; the copy is of one state).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from PySide6.QtCore import QObject, QTimer, Signal

from clinic_app.gui.background import BackgroundRunner, Connection, Outcome, Progress
from clinic_app.storage.backup import daily_backup_if_due
from clinic_app.storage.database import Record
from clinic_app.storage.errors import StorageError

CHECK_EVERY_MS = 60 * 60 * 1000


def _back_up(record: Record, _progress: Progress, today: date) -> str | None:
    """On the runner's connection: today's copy if due; the failure's sentence, if any."""
    daily_backup_if_due(record, today)
    return record.backup_problem


class DailyBackupTimer(QObject):
    """Runs :func:`daily_backup_if_due` off the GUI thread when asked (``run``) and every
    hour; ``problem`` carries a failure's sentence, ``finished`` follows every run."""

    problem = Signal(str)
    finished = Signal()

    def __init__(
        self,
        record: Record,
        parent: QObject,
        today: Callable[[], date] = date.today,
        interval_ms: int = CHECK_EVERY_MS,
    ) -> None:
        super().__init__(parent)
        self.record = record
        self.today = today
        self._runner: BackgroundRunner | None = None
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.run)
        self.timer.start()

    @property
    def running(self) -> bool:
        return self._runner is not None

    def run(self) -> None:
        # A read-only window changes nothing to back up; a clinic server is backed up on the
        # server (storage/backup.py), so no connection is opened for it.
        if self._runner is not None or self.record.read_only or self.record.on_server:
            return
        today = self.today()
        runner = BackgroundRunner(
            Connection(self.record.location, read_only=True),
            lambda record, progress: _back_up(record, progress, today),
            self,
        )
        runner.finished.connect(self._ended)
        self._runner = runner
        runner.start()

    def _ended(self, outcome: Outcome) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            runner.deleteLater()
        if isinstance(outcome.error, StorageError):  # the copy's own connection failed
            self.problem.emit(f"The automatic daily backup failed: {outcome.error}")
        elif outcome.error is not None:
            raise outcome.error  # our bug: the exception reporter says so
        elif isinstance(outcome.result, str) and outcome.result:
            self.problem.emit(outcome.result)
        self.finished.emit()

    def stop(self) -> None:
        """No timer and no thread left running (the window is closing). A copy under way is
        waited for: it is one step, and a copy stopped half-way would be thrown away."""
        self.timer.stop()
        if self._runner is not None:
            self._runner.stop()
            self._runner = None
