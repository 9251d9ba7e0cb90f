"""Start the desktop app: QApplication, the record, the main window, the event loop."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from clinic_app.core.errors import DomainError, ProtocolError
from clinic_app.gui.collector import install_collector
from clinic_app.gui.errors import RestoreOffer, install_exception_reporter, storage_error_text
from clinic_app.gui.main_window import APPLICATION, ORGANISATION, MainWindow
from clinic_app.gui.sign_in import ensure_signed_in
from clinic_app.storage.database import Record, open_database
from clinic_app.storage.errors import DamagedRecordError, StorageError
from clinic_app.storage.location import resolve_db_path

if TYPE_CHECKING:
    from clinic_app.gui.backup_timer import DailyBackupTimer
    from clinic_app.services.context import AppContext


def application(*, guard: bool = True) -> QApplication:
    """The running QApplication, created with the app's names if there is none yet. With
    ``guard`` the wheel guard is on it; without, the caller installs it (``run_app`` does so
    after the window's first paint)."""
    existing = QApplication.instance()
    if isinstance(existing, QApplication):
        app = existing
    else:
        QCoreApplication.setOrganizationName(ORGANISATION)
        QCoreApplication.setApplicationName(APPLICATION)
        app = QApplication(sys.argv[:1])
    # Reference cycles holding widgets must never be freed on a worker thread (collector.py).
    install_collector(app)
    if guard:
        # The wheel never changes a date, number or choice field the person is not typing in.
        from clinic_app.gui.wheel_guard import install_wheel_guard

        install_wheel_guard(app)
    return app


def protocol_context(record: Record, parent: QWidget) -> AppContext | None:
    """The app's one context: the protocol files with the clinic's settings in the record.
    None, said to the person, when one is damaged: nothing may be dosed from it."""
    from clinic_app.services.context import AppContext

    try:
        return AppContext.for_record(record)
    except ProtocolError as exc:  # a damaged protocol file or stored threshold
        QMessageBox.critical(parent, "A protocol or clinic setting is damaged", str(exc))
    except DomainError as exc:
        QMessageBox.critical(parent, "A clinic setting is damaged", exc.message)
    return None


def run_app(db_path: str | None) -> int:
    """Open the record at ``db_path`` (or the default), show the main window, run until quit."""
    app = application(guard=False)
    window: MainWindow | None = None
    reporter = install_exception_reporter(lambda: window, open_log=False)
    try:
        try:
            path = resolve_db_path(db_path)
            try:
                record = open_database(path)
            except DamagedRecordError as damaged:  # offer the newest good backup
                # Only a file is damaged so (a server keeps its own pages).
                if not isinstance(path, Path) or not RestoreOffer(path, damaged).run():
                    return 2
                record = open_database(path)
        except StorageError as exc:
            QMessageBox.critical(None, "The record could not be opened", storage_error_text(exc))
            return 2
        with record:
            # Opening checked the record (a newer version, a damaged file) before anything is
            # shown; what can wait for the first paint waits (after_paint below).
            try:
                # First start: create the administrator account; afterwards: sign in.
                if not ensure_signed_in(record):
                    return 0  # sign-in cancelled: the record was not shown
            except StorageError as exc:
                QMessageBox.critical(
                    None, "The record could not be opened", storage_error_text(exc)
                )
                return 2
            # The window shows the patients' names before the clinical rules are imported
            # (~250 ms of Python); the protocols and the real rows follow its paint (issue 16).
            window = MainWindow(record, names_first=True)
            backups: list[DailyBackupTimer] = []

            def after_paint() -> None:
                from clinic_app.gui.backup_timer import DailyBackupTimer
                from clinic_app.gui.wheel_guard import install_wheel_guard

                reporter.open_log()
                context = protocol_context(record, window)
                if context is None:
                    app.exit(2)
                    return
                window.attach(context)
                # Python sees every event of every widget through the guard, which made building
                # the window ~20 ms slower; nothing it guards is shown before this (issue 16).
                install_wheel_guard(app)
                window.start_watching()  # other desks' saves refresh this window
                # The daily backup now and while the window stays open for days (issue 15),
                # on its own thread: a large record's copy takes seconds. The app's session
                # starts it (opening the record does not).
                daily = DailyBackupTimer(record, window)
                daily.problem.connect(lambda text: window.statusBar().showMessage(text, 30000))
                backups.append(daily)
                daily.run()
                # No QCoreApplication.setApplicationVersion: nothing reads it, and the version
                # (importlib.metadata, ~50 ms) would delay the patient list's paint; the About
                # box, --version and exports read clinic_app.__version__ when asked (issue 16).

            window.show()
            window.after_names_painted(after_paint)
            try:
                return app.exec()
            finally:
                for daily in backups:
                    daily.stop()  # a copy under way is finished, never left half-made
    finally:
        reporter.uninstall()
