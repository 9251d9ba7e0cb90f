"""One way to run an operation off the GUI thread: progress, cancel, and a result or a located
error delivered on the GUI thread.

The operation runs in a ``QThread`` on its *own* database connection (a SQLite connection
belongs to the thread that opened it): ``work(record, progress)`` gets the record the runner
opened for it and returns the result. ``progress.step(done, total, text)`` reports progress
and, once Cancel was asked for, raises :class:`Cancelled`; a loop that prefers to stop on its
own reads ``progress.cancelled``. The thread is always quit and waited for: when the operation
ends, and in :meth:`BackgroundRunner.stop`, which every owner calls when it closes.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from clinic_app.storage.database import Record, RecordLocation, open_database

LOGGER = logging.getLogger("clinic_app.gui.background")


class Cancelled(Exception):
    """Raised by ``Progress.step`` once Cancel was asked for."""


class Progress:
    """What the operation holds on its thread: report progress, see whether Cancel was asked."""

    def __init__(self, emit: Callable[[int, int, str], None]) -> None:
        self._emit = emit
        self._cancel = threading.Event()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        self._cancel.set()

    def step(self, done: int, total: int, text: str = "") -> None:
        """Report progress; raises :class:`Cancelled` once Cancel was asked for."""
        if self._cancel.is_set():
            raise Cancelled
        self._emit(done, total, text)

    def report(self, done: int, total: int, text: str = "") -> None:
        """Report progress only (a loop that checks ``cancelled`` itself)."""
        self._emit(done, total, text)


@dataclass(frozen=True)
class Outcome:
    """How the operation ended: its result, or the error and where it was raised."""

    result: Any = None
    error: BaseException | None = None
    where: str = ""
    """``file.py:line in function`` of the innermost frame of ``error`` (for the log)."""
    cancelled: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None and not self.cancelled


def located(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ""
    last = frames[-1]
    return f"{Path(last.filename).name}:{last.lineno} in {last.name}"


Work = Callable[[Record, Progress], Any]


@dataclass(frozen=True)
class Connection:
    """How the operation's own connection is opened."""

    db_path: RecordLocation
    read_only: bool = False
    app_user: Any = None
    """The signed-in session (or user name) the operation acts as; None for a read."""


class _Worker(QObject):
    progressed = Signal(int, int, str)
    ended = Signal(object)

    def __init__(self, connection: Connection, work: Work) -> None:
        super().__init__()
        self.connection = connection
        self.work = work
        self.progress = Progress(self.progressed.emit)

    @Slot()
    def run(self) -> None:
        c = self.connection
        try:
            # The daily backup is not this thread's business: the app starts it.
            with open_database(c.db_path, read_only=c.read_only, app_user=c.app_user) as record:
                result = self.work(record, self.progress)
        except Cancelled:
            outcome = Outcome(cancelled=True)
        except Exception as exc:  # delivered to the GUI thread, which decides what to show
            where = located(exc)
            LOGGER.warning("background operation failed at %s: %r", where, exc)
            outcome = Outcome(error=exc, where=where, cancelled=self.progress.cancelled)
        else:
            outcome = Outcome(result=result, cancelled=self.progress.cancelled)
        self.ended.emit(outcome)


class BackgroundRunner(QObject):
    """Runs one operation at a time. ``progressed(done, total, text)`` and
    ``finished(Outcome)`` arrive on the GUI thread; by ``finished`` the thread has ended."""

    progressed = Signal(int, int, str)
    finished = Signal(object)

    def __init__(self, connection: Connection, work: Work, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thread = QThread(self)
        self._worker = _Worker(connection, work)
        self._worker.moveToThread(self._thread)
        self._thread.started.connect(self._worker.run)
        # The worker lives on its thread, the runner on the GUI thread: queued connections.
        self._worker.progressed.connect(self.progressed)
        self._worker.ended.connect(self._ended)
        self._thread.finished.connect(self._worker.deleteLater)
        self._progress = self._worker.progress
        self._stopped = False
        self.outcome: Outcome | None = None

    def start(self) -> None:
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread.isRunning()

    @property
    def cancel_requested(self) -> bool:
        return self._progress.cancelled

    def cancel(self) -> None:
        """Ask the operation to stop at its next step; ``finished`` still follows."""
        self._progress.cancel()

    def stop(self) -> None:
        """Cancel and wait: no thread is left running, and nothing is delivered after (the
        owner is closing)."""
        self._stopped = True
        self.cancel()
        self._thread.quit()
        self._thread.wait()

    @Slot(object)
    def _ended(self, outcome: Outcome) -> None:
        self._thread.quit()
        self._thread.wait()
        self.outcome = outcome
        if not self._stopped:
            self.finished.emit(outcome)


def run_in_background(
    connection: Connection,
    work: Work,
    parent: QObject,
    on_finished: Callable[[Outcome], None],
    on_progress: Callable[[int, int, str], None] | None = None,
) -> BackgroundRunner:
    """Start ``work`` on its own thread and connection; the runner is deleted after
    ``on_finished`` ran."""
    runner = BackgroundRunner(connection, work, parent)
    if on_progress is not None:
        runner.progressed.connect(on_progress)
    runner.finished.connect(on_finished)
    runner.finished.connect(runner.deleteLater)
    runner.start()
    return runner
