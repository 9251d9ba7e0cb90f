"""The daily backup while the window stays open for days (issue 15, item 2).

The record is backed up on the first open of each day (``storage.backup``); a clinic computer
that keeps clinic-app open all week would otherwise have no backup after Monday. This timer
asks the same storage function once an hour; it does nothing until the day has changed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from PySide6.QtCore import QObject, QTimer, Signal

from clinic_app.storage.backup import daily_backup_if_due
from clinic_app.storage.database import Record

CHECK_EVERY_MS = 60 * 60 * 1000


class DailyBackupTimer(QObject):
    """Calls :func:`daily_backup_if_due` every hour; ``problem`` carries a failure's sentence."""

    problem = Signal(str)

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
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.run)
        self.timer.start()

    def run(self) -> None:
        if self.record.in_transaction:
            return  # the next tick will do it
        daily_backup_if_due(self.record, self.today())
        if self.record.backup_problem:
            self.problem.emit(self.record.backup_problem)

    def stop(self) -> None:
        self.timer.stop()
