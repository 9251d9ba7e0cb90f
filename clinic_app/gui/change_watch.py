"""Refresh when another desk changes the record (issue 18: several desks at once).

A :class:`ChangeWatcher` runs a :class:`clinic_app.storage.changes.ChangeWatch` on a thread of
its own and emits ``changed`` on the GUI thread. The main window then reloads the patient list
and the open chart, keeping the patient the nurse chose. When the record cannot be reached the
watcher says so once (``lost``) and tries again every few seconds until it is back (``back``);
nothing typed is touched by it.

A plain Python thread, not a ``QThread``: a window destroyed without being closed (a crash, a
test) must not take the process down with a thread still running; the thread sees the stop
flag, set when the watcher is stopped or destroyed, and ends by itself.
"""

from __future__ import annotations

import logging
import threading

from PySide6.QtCore import QObject, Signal

from clinic_app.storage.changes import ChangeWatch, watch_changes
from clinic_app.storage.database import RecordLocation

LOGGER = logging.getLogger("clinic_app.gui.change_watch")
RETRY_S = 5.0
LOST_MESSAGE = (
    "The connection to the record was lost; the app keeps trying to reconnect, and nothing "
    "you typed is lost."
)


class ChangeWatcher(QObject):
    changed = Signal()
    lost = Signal(str)
    """One sentence: the record cannot be reached; the app keeps trying."""
    back = Signal()

    def __init__(
        self,
        location: RecordLocation,
        parent: QObject | None = None,
        interval_s: float = 2.0,
        retry_s: float = RETRY_S,
    ) -> None:
        super().__init__(parent)
        self.location = location
        self.interval_s = interval_s
        self.retry_s = retry_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        stop = self._stop
        self.destroyed.connect(lambda *_: stop.set())  # not a method: self is going away

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.running or self._stop.is_set():
            return
        self._thread = threading.Thread(target=self._run, name="change-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """The thread is asked to end and waited for (the window is closing)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval_s + 5)
            self._thread = None

    def _emit(self, signal_name: str, *args: object) -> None:
        try:
            getattr(self, signal_name).emit(*args)
        except RuntimeError:  # the watcher was deleted meanwhile: nobody to tell
            self._stop.set()

    def _run(self) -> None:
        is_lost = False
        while not self._stop.is_set():
            watch: ChangeWatch | None = None
            try:
                watch = watch_changes(self.location)
                if is_lost:
                    is_lost = False
                    self._emit("back")
                    self._emit("changed")  # whatever happened meanwhile is read again
                while not self._stop.is_set():
                    if watch.wait(self.interval_s) and not self._stop.is_set():
                        self._emit("changed")
            except Exception as exc:  # the server went away, the file was moved
                LOGGER.warning("watching %s for changes failed: %r", self.location, exc)
                if not is_lost:
                    is_lost = True
                    self._emit("lost", LOST_MESSAGE)
                self._stop.wait(self.retry_s)
            finally:
                if watch is not None:
                    try:
                        watch.close()
                    except Exception:  # a connection already gone has nothing to close
                        LOGGER.debug("closing the change watch failed", exc_info=True)
