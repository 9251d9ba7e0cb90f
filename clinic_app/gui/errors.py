"""What the app does when something goes wrong that is not the user's mistake.

- Environment failures (:class:`StorageError`: disk full, database locked, unreadable file) get
  a dialog saying nothing was lost and what to do.
- Our own bugs are logged with the traceback to a rotating log file in the user's data folder;
  the user sees a short note and the app keeps running (``sys.excepthook``).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from clinic_app.gui.warnings import error_label
from clinic_app.storage.errors import NOTHING_LOST, StorageError
from clinic_app.storage.location import default_data_dir

# error_label lives in gui.warnings; still importable from here for the screens that use it.
__all__ = ["error_label"]

LOGGER_NAME = "clinic_app"
LOG_FILE_NAME = "clinic-app.log"
_MAX_BYTES = 1_000_000
_BACKUPS = 5

ExceptHook = Callable[[type[BaseException], BaseException, TracebackType | None], object]


def storage_error_text(error: StorageError) -> str:
    """The dialog text: the storage layer's sentence, which already says what to do."""
    text = error.message
    # A server's lost connection says "nothing unconfirmed was saved": said once is enough.
    if not any(
        words in text for words in ("nothing was saved", "unconfirmed was saved", "not changed")
    ):
        text += f" ({NOTHING_LOST}.)"
    return text


def show_storage_error(parent: QWidget | None, error: StorageError) -> QMessageBox:
    """A modal dialog for an environment failure; returns it (already shown) for tests."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    # A refusal with its own name (a checked-out patient) is not a broken record.
    box.setWindowTitle(str(getattr(error, "title", "The record could not be used")))
    box.setText(storage_error_text(error))
    box.setInformativeText("Nothing you entered before this was lost.")
    box.setStandardButtons(QMessageBox.StandardButton.Ok)
    box.open()
    return box


def log_dir() -> Path:
    return default_data_dir() / "logs"


def setup_logging(folder: Path | None = None) -> Path:
    """Send the app's log to a rotating file; returns the file's path."""
    # logging.handlers brings socket, pickle and queue (~15 ms): not before the first paint.
    import logging.handlers

    target = folder if folder is not None else log_dir()
    target.mkdir(parents=True, exist_ok=True)
    path = target / LOG_FILE_NAME
    logger = logging.getLogger(LOGGER_NAME)
    for handler in logger.handlers:
        if isinstance(handler, logging.handlers.RotatingFileHandler):
            if Path(handler.baseFilename) == path:
                return path
            logger.removeHandler(handler)
            handler.close()
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=_MAX_BYTES, backupCount=_BACKUPS, encoding="utf-8"
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    return path


class ExceptionReporter:
    """``sys.excepthook`` for the GUI: log, tell the user briefly, keep running."""

    def __init__(
        self, folder: Path | None = None, parent: Callable[[], QWidget | None] = lambda: None
    ):
        self.folder = folder
        """The log's folder (default: the user's data folder)."""
        self.log_file: Path | None = None
        self.log_problem: str | None = None
        """Why the log file could not be opened (the data folder not writable); the log
        then goes to the standard error stream, and the app keeps running."""
        self.parent = parent
        self.previous: ExceptHook = sys.excepthook
        self.last_box: QMessageBox | None = None

    def install(self) -> None:
        sys.excepthook = self

    def open_log(self) -> Path | None:
        """The log file, its handler attached on first use (the app does so after its first
        paint; an error before that opens it then). None, with ``log_problem``, when it cannot
        be written: the app's start goes on, never stopped by its log."""
        if self.log_file is None and self.log_problem is None:
            try:
                self.log_file = setup_logging(self.folder)
            except OSError as exc:
                self.log_problem = f"the log file could not be written ({exc.strerror or exc})"
                print(f"clinic-app: {self.log_problem}", file=sys.stderr)
        return self.log_file

    def uninstall(self) -> None:
        if sys.excepthook is self:
            sys.excepthook = self.previous

    def __call__(
        self,
        kind: type[BaseException],
        error: BaseException,
        tb: TracebackType | None,
    ) -> None:
        if issubclass(kind, KeyboardInterrupt):
            self.previous(kind, error, tb)
            return
        self.open_log()
        if isinstance(error, StorageError):
            logging.getLogger(LOGGER_NAME).warning("storage: %s", error)
            QTimer.singleShot(0, lambda: self._show_storage(error))
            return
        logging.getLogger(LOGGER_NAME).error("unexpected error", exc_info=(kind, error, tb))
        if QApplication.instance() is not None:
            QTimer.singleShot(0, self._show_bug)

    def _show_storage(self, error: StorageError) -> None:
        self.last_box = show_storage_error(self.parent(), error)

    def _show_bug(self) -> None:
        box = QMessageBox(self.parent())
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Something went wrong in clinic-app")
        box.setText(
            "The app met an error it did not expect. What you saved before is safe, and "
            "you can keep working; if the last action did not finish, try it again."
        )
        if self.log_file is not None:
            box.setInformativeText(f"Details were written to {self.log_file}.")
        else:
            box.setInformativeText(f"No details were kept: {self.log_problem}.")
        box.open()
        self.last_box = box


def install_exception_reporter(
    parent: Callable[[], QWidget | None], folder: Path | None = None, *, open_log: bool = True
) -> ExceptionReporter:
    """The GUI's ``sys.excepthook``; without ``open_log`` its log file is opened by
    :meth:`ExceptionReporter.open_log` (or by the first error)."""
    reporter = ExceptionReporter(folder, parent)
    if open_log:
        reporter.open_log()
    reporter.install()
    return reporter


class RestoreOffer:
    """The dialog for a record too damaged to open: say so, and offer the newest good backup
    (the damaged file is kept beside the restored one)."""

    def __init__(self, db_path: Path, error: StorageError, parent: QWidget | None = None):
        from clinic_app.storage.backup import newest_good_backup, read_manifest

        self.db_path = db_path
        self.backup = newest_good_backup(db_path)
        self.box = QMessageBox(parent)
        self.box.setIcon(QMessageBox.Icon.Critical)
        self.box.setWindowTitle("The record is damaged")
        self.box.setText(error.message)
        self.restore_button = None
        if self.backup is None:
            self.box.setInformativeText(
                "No good backup of this record was found in its backup folder. Ask your "
                "administrator; the damaged file has not been changed."
            )
            self.box.setStandardButtons(QMessageBox.StandardButton.Close)
            return
        found = read_manifest(self.backup)
        when = found.taken_at.replace("T", " ").replace("Z", " UTC") if found else "unknown"
        self.box.setInformativeText(
            f"The newest good backup was taken {when} ({self.backup}). Restore it? Entries "
            "made after it are not in it; the damaged file is kept beside the record."
        )
        self.restore_button = self.box.addButton(
            "&Restore the backup", QMessageBox.ButtonRole.AcceptRole
        )
        self.box.addButton(QMessageBox.StandardButton.Cancel)
        self.box.setDefaultButton(self.restore_button)

    def restore(self) -> Path | None:
        """Restore the offered backup; returns where the damaged file was kept."""
        from clinic_app.storage.backup import restore_from

        assert self.backup is not None
        return restore_from(self.db_path, self.backup)

    def run(self) -> bool:
        """Show the dialog; True when the backup was restored."""
        self.box.exec()
        if self.restore_button is None or self.box.clickedButton() is not self.restore_button:
            return False
        try:
            self.restore()
        except StorageError as exc:
            QMessageBox.critical(self.box, "The backup was not restored", exc.message)
            return False
        return True
