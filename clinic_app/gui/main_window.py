"""The main window: patient list and Today view on the left, the patient's chart on the right.

Window geometry, splitter state and the last patient are kept in QSettings (INI format, user
scope, organisation/application ``clinic-app``; tests point ``QSettings.setPath`` at a temporary
folder). The last patient is remembered per record (``storage.identity``) by MRN, never by row
id, so another record or a rebuilt one never opens a different person. When the record holds
no patients, the right side offers to create the demonstration patients; that runs off the GUI
thread on its own connection with a progress bar and Cancel. While the list loads the right side
says so, with the step it is on, instead of calling the record empty.

The chart changes only when a person chooses a patient (``gui/choosing.py``); a patient hidden
by Find stays in the chart, marked as not in the filtered list.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, QObject, QSettings, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QCloseEvent, QKeyEvent, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QProgressDialog,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

import clinic_app
from clinic_app.core.errors import DomainError
from clinic_app.gui import fit
from clinic_app.gui.change_watch import ChangeWatcher
from clinic_app.gui.checkout_actions import CheckoutActions
from clinic_app.gui.errors import show_storage_error
from clinic_app.gui.patient_actions import PatientActions
from clinic_app.gui.patient_list import PatientListView
from clinic_app.gui.texts import patient_title
from clinic_app.gui.today import TodayView
from clinic_app.services.patient_rows import DueItem, PatientRow, names_only
from clinic_app.storage.database import Record
from clinic_app.storage.errors import StorageError
from clinic_app.storage.identity import record_identity

if TYPE_CHECKING:  # the dialogs are imported when first opened: a faster start (issue 16)
    from clinic_app.core.protocol import Protocol
    from clinic_app.gui.background import BackgroundRunner, Outcome, Progress
    from clinic_app.gui.dialogs.enrolment import EnrolmentDialog
    from clinic_app.gui.dialogs.new_patient import NewPatientDialog
    from clinic_app.gui.lock import Session
    from clinic_app.services.context import AppContext

ORGANISATION = "clinic-app"
APPLICATION = "clinic-app"
DEMO_PATIENTS = 40
DEMO_SEED = 1
LOADING_MESSAGE = "Loading patients…"
CHART_LATEST_MS = 500
"""The chart is built this long after the list loaded if the list has not painted by then."""
LOAD_STEPS = ("Opening the record", "Reading every patient", "Working out what is due today")


def _context_for(
    record: Record | AppContext,
    protocols: Mapping[str, Protocol] | None,
    today: Callable[[], date] | None,
) -> AppContext:
    from clinic_app.services.context import AppContext, Clock

    if isinstance(record, AppContext):
        return record
    clock = Clock.following(today) if today is not None else Clock()
    if protocols is not None:
        return AppContext(record, protocols, clock)
    return AppContext.for_record(record, clock)


def explain(action: QAction, reason: str | None) -> None:
    """Enable ``action``, or disable it saying why (tooltip and status tip)."""
    default = action.property("default_tip")
    if not isinstance(default, str):
        default = action.statusTip()
        action.setProperty("default_tip", default)
    action.setEnabled(reason is None)
    action.setStatusTip(reason or default)
    action.setToolTip(reason or action.text().replace("&", ""))


def app_settings() -> QSettings:
    """The app's settings file (INI, per user); ``QSettings.setPath`` relocates it."""
    return QSettings(
        QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANISATION, APPLICATION
    )


def _demo_function() -> Callable[..., Any] | None:
    """``services.demo.generate_demo``, or None where the build has no demonstration data."""
    try:
        module = importlib.import_module("clinic_app.services.demo")
    except ModuleNotFoundError:
        return None
    function = getattr(module, "generate_demo", None)
    return function if callable(function) else None


def create_demo(record: Record, progress: Progress, count: int, seed: int, today: date) -> str:
    """Create the demonstration patients (on the runner's thread and connection); "" on
    success, else the sentence to show."""
    create = _demo_function()
    if create is None:
        return "The demonstration data module is not part of this build."
    create(
        record,
        patients=count,
        seed=seed,
        today=today,
        progress=lambda done, total: progress.step(done, total),  # Cancel stops here
    )
    return ""


def demo_message(outcome: Outcome) -> str:
    """What the nurse reads when the demonstration patients are done ("" for success)."""
    if outcome.cancelled:
        return "Stopped; the patients created before Cancel are kept."
    if isinstance(outcome.error, StorageError | DomainError):
        return outcome.error.message
    if outcome.error is not None:  # our bug: say it, keep the window alive (it is logged)
        return f"The demonstration patients could not be created: {outcome.error}"
    return str(outcome.result or "")


def load_list(
    record: Record, progress: Progress, today: date, protocols: Mapping[str, Protocol]
) -> tuple[list[PatientRow], list[DueItem], int]:
    """The patient list, the Today items and the newest change read before them, on the
    runner's own read-only connection, so the window paints at once even on a record of
    thousands of patients."""
    # The clinical rules are imported here, on the load's thread, after the window has
    # painted the names (issue 16).
    from clinic_app.services.patient_state import due_today, list_patient_rows

    progress.step(1, len(LOAD_STEPS))  # a window closing meanwhile stops here
    seen = record.latest_change()  # first: a save during the reads shows as news afterwards
    rows = list_patient_rows(record, today, protocols)
    progress.step(2, len(LOAD_STEPS))
    return rows, due_today(record, today, protocols), seen


class WelcomePage(QWidget):
    """What the right side shows when the record is empty."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.text = QLabel(
            "<h2>The record is empty</h2>"
            "<p>Add your first patient with <b>File ▸ New patient</b> (Ctrl+N), or create "
            f"{DEMO_PATIENTS} clearly fictitious demonstration patients to explore the app.</p>",
            self,
        )
        self.text.setWordWrap(True)
        self.demo_button = QPushButton(f"&Create {DEMO_PATIENTS} demonstration patients", self)
        self.demo_button.setObjectName("create_demo")
        self.new_button = QPushButton("&New patient…", self)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(self.text)
        layout.addWidget(self.demo_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.new_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addStretch(2)
        self._checked_demo = False

    def showEvent(self, event: QShowEvent) -> None:
        # Asked when first shown, not at every start: finding out imports the demonstration
        # module, ~20 ms of a start on a record that has patients (issue 16).
        if not self._checked_demo:
            self._checked_demo = True
            if _demo_function() is None:
                self.demo_button.setEnabled(False)
                self.demo_button.setToolTip("Demonstration data is not available in this build.")
        super().showEvent(event)


class WindowShortcutsFirst(QObject):
    """A line edit yields the window's shortcuts: Ctrl+E in Find enrols, it does not move the
    cursor to the end of the line (what Qt's X11 key bindings would make of it)."""

    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self.window = window

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() != QEvent.Type.ShortcutOverride or not isinstance(event, QKeyEvent):
            return False
        pressed = QKeySequence(event.keyCombination())
        for action in self.window.actions():
            if action.isEnabled() and any(pressed == keys for keys in action.shortcuts()):
                event.ignore()  # not claimed by the field: the window's shortcut runs
                return True
        return False


class LoadingPage(QWidget):
    """What the right side shows while the first list loads: never "the record is empty"."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.text = QLabel("<h2>Loading the record…</h2>", self)
        self.text.setWordWrap(True)
        self.step = QLabel(self)
        self.step.setObjectName("loading_step")
        self.step.setWordWrap(True)
        self.bar = QProgressBar(self)
        self.bar.setObjectName("loading_progress")
        self.bar.setRange(0, len(LOAD_STEPS))
        self.bar.setFormat("Step %v of %m")
        self.bar.setAccessibleName("Loading progress")
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(self.text)
        layout.addWidget(self.step)
        layout.addWidget(self.bar)
        layout.addStretch(2)
        self.show_step(0)

    def show_step(self, index: int) -> None:
        self.bar.setValue(index + 1)
        self.step.setText(
            f"{LOAD_STEPS[index]}… A large record takes a few seconds; "
            "each patient's treatment and flags appear as soon as they are read."
        )


class MainWindow(QMainWindow):
    patientShown = Signal(object)
    """The patient id now in the chart (None for none)."""

    def __init__(
        self,
        record: Record | AppContext,
        protocols: Mapping[str, Protocol] | None = None,
        today: Callable[[], date] | None = None,
        settings: QSettings | None = None,
        *,
        names_first: bool = False,
    ) -> None:
        """``record`` is the app's context, or a record for which one is built here with
        ``protocols`` (default: the record's own, its settings applied) and a clock on
        ``today``: every screen this window opens reads the protocols from it.

        With ``names_first`` (the app's start, gui/app.py) ``record`` is a record and no context
        is built: the list shows the patients' names alone, read without the clinical rules,
        so the window is usable before those are imported; ``attach`` gives it the context once
        the names have painted (``after_names_painted``) and loads the real rows (issue 16)."""
        super().__init__()
        self.setObjectName("main_window")
        self._context: AppContext | None = None
        if names_first:
            if not isinstance(record, Record):
                raise TypeError("names_first takes a record: the context comes with attach()")
            self.record = record
        else:
            self._context = _context_for(record, protocols, today)
            self.record = self._context.record
        self.settings = settings if settings is not None else app_settings()
        self.current_patient_id: int | None = None
        self._current_mrn = ""
        self._remember_key: str | None = None
        self.demo_runner: BackgroundRunner | None = None
        self.demo_progress: QProgressDialog | None = None
        self.load_runner: BackgroundRunner | None = None
        self._reload_again = False
        self._pending_mrn: str | None = None
        self.setWindowTitle("clinic-app")

        self.patient_list = PatientListView(self)
        self.today_view = TodayView(self)
        self.left_tabs = QTabWidget(self)
        self.left_tabs.setObjectName("left_tabs")
        self.left_tabs.addTab(self.patient_list, "&Patients")
        self.left_tabs.addTab(self.today_view, "&Today")

        self._chart: QWidget | None = None  # built when first needed (the ``chart`` property)
        self.welcome = WelcomePage(self)
        self.loading_page = LoadingPage(self)
        self.right = QStackedWidget(self)
        self.right.addWidget(self.welcome)
        self.right.addWidget(self.loading_page)
        # Shown the moment the list has loaded, until the chart is built just after the list's
        # paint (``_loaded``): building it first (~80 ms) kept the patients off the screen.
        self.choose_page = QLabel("Choose a patient in the list to see their chart.", self)
        self.choose_page.setObjectName("choose_page")
        self.choose_page.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.right.addWidget(self.choose_page)
        self._chart_timer = QTimer(self)
        self._chart_timer.setSingleShot(True)
        self._chart_timer.timeout.connect(lambda: self.chart)
        # A timer alone could fire before the list's paint (Qt paints on its own schedule):
        # the chart waits for the list to have painted its patients, or for CHART_LATEST_MS.
        self.patient_list.table.paintedRows.connect(lambda: self._chart_soon(0))
        self.right.setCurrentWidget(self.loading_page)
        self._loaded_once = False

        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.setObjectName("main_splitter")
        self.splitter.addWidget(self.left_tabs)
        self.splitter.addWidget(self.right)
        self.splitter.setStretchFactor(0, 2)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setChildrenCollapsible(False)
        # The lock page (gui/lock.py) replaces the splitter while the window is locked.
        self.root = QStackedWidget(self)
        self.root.setObjectName("root_stack")
        self.root.addWidget(self.splitter)
        self.setCentralWidget(self.root)

        record = self.record
        self.status_label = QLabel(f"Database: {record.location}    User: {record.os_user}", self)
        self.status_label.setObjectName("status_database")
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.statusBar().addPermanentWidget(self.status_label, 1)

        self._make_actions()
        self.shortcuts_first = WindowShortcutsFirst(self)
        self.patient_list.filter_edit.installEventFilter(self.shortcuts_first)
        self.session: Session | None = None
        if names_first:
            # The idle lock reads the clinic's setting through the record's repositories; it
            # starts with the context (``attach``), a fraction of a second after the paint.
            self.user_changed()
        else:
            self._start_session()
        self.patient_list.patientChosen.connect(self.show_patient)
        self.patient_list.chosenHidden.connect(self._mark_filtered_out)
        self.today_view.patientActivated.connect(self.open_patient)
        self.welcome.demo_button.clicked.connect(self.create_demo_patients)
        self.welcome.new_button.clicked.connect(self.new_patient)

        # Another desk's save reloads the list and the open chart (same patient). The app
        # starts it after the first paint (gui/app.py), so it costs the cold start nothing.
        self.change_watcher = ChangeWatcher(record.location, self)
        self._watch_wanted = False
        self._seen_change: int | None = None  # the newest change the last load read
        self.change_watcher.changed.connect(self._changed_elsewhere)
        self.change_watcher.lost.connect(self.statusBar().showMessage)
        self.change_watcher.back.connect(self.statusBar().clearMessage)

        self._restore()
        if names_first:
            self._show_names()
        else:
            self._recall_last_patient()
            self.refresh()

    # -- the application context ------------------------------------------------------------
    @property
    def context(self) -> AppContext:
        if self._context is None:
            raise RuntimeError("the window's context is attached after its first paint")
        return self._context

    @context.setter
    def context(self, context: AppContext) -> None:
        self._context = context

    def _show_names(self) -> None:
        """The patients' names, before anything about them is computed (``names_first``)."""
        try:
            rows = names_only(self.record)
        except StorageError:
            rows = []  # the real load, which follows, says what failed
        self.patient_list.set_rows(rows)
        self.statusBar().showMessage(LOADING_MESSAGE)

    def after_names_painted(self, work: Callable[[], None]) -> None:
        """Run ``work`` once, when the list has painted the names (at once for an empty record,
        and at the latest CHART_LATEST_MS after the window is shown)."""
        done = False

        def once() -> None:
            nonlocal done
            if not done:
                done = True
                work()

        if self.patient_list.model.total:
            self.patient_list.table.paintedRows.connect(once, Qt.ConnectionType.QueuedConnection)
            QTimer.singleShot(CHART_LATEST_MS, self, once)
        else:
            QTimer.singleShot(0, self, once)

    def attach(self, context: AppContext) -> None:
        """Give a ``names_first`` window its context, start its session, load the real rows."""
        self._context = context
        self.signed_in  # noqa: B018  (starts the session unless a lock already did)
        self._recall_last_patient()
        self.refresh()

    def _start_session(self) -> Session:
        from clinic_app.gui.lock import Session  # with the context, after the paint (issue 16)

        self.session = Session(self, self)  # the window is the lock's Qt parent and host
        return self.session

    @property
    def signed_in(self) -> Session:
        """The window's session (locks, unlocks, switches user): started with the context, or
        at once when Lock or Switch user is asked for before it."""
        return self.session if self.session is not None else self._start_session()

    @property
    def protocols(self) -> Mapping[str, Protocol]:
        """The record's protocols (its settings applied), from the context."""
        return self.context.protocols

    def today(self) -> date:
        return self.context.today()

    # -- construction -------------------------------------------------------------------------
    @property
    def chart(self) -> QWidget:
        """The patient's chart, built on first use: the window paints while the list loads,
        before any chart is needed, without importing the chart's modules first (issue 16)."""
        if self._chart is None:
            chart = self._chart = self._make_chart()
            self.right.addWidget(chart)
            if hasattr(self, "workflows"):  # else _make_actions wires it
                self.workflows.wire_chart_tabs(chart)
            # A patient chosen before the chart existed (the remembered one, at start): it
            # shows whoever is chosen now, whatever happened since.
            set_patient = getattr(chart, "set_patient", None)
            if self.current_patient_id is not None and set_patient is not None:
                set_patient(self.record, self.current_patient_id)
                self._mark_filtered_out(self.patient_list.chosen_hidden)
            if self.right.currentWidget() is self.choose_page:
                self.right.setCurrentWidget(chart)
        return self._chart

    def _chart_soon(self, delay_ms: int) -> None:
        """Build the chart in ``delay_ms`` (sooner if already due), once the list has rows."""
        if self._chart is not None or not self._loaded_once:
            return
        timer = self._chart_timer
        if not timer.isActive() or timer.remainingTime() > delay_ms:
            timer.start(delay_ms)

    def _make_chart(self) -> QWidget:
        try:
            from clinic_app.gui.chart.panel import ChartPanel
        except ImportError:
            placeholder = QLabel("The patient chart is not part of this build.", self)
            placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
            return placeholder
        return ChartPanel(self, today=self.today, protocols=self.protocols)

    def _action(
        self,
        text: str,
        slot: Callable[[], object],
        shortcut: QKeySequence | QKeySequence.StandardKey | str | None = None,
        tip: str = "",
    ) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _make_actions(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self.new_patient_action = self._action(
            "&New patient…", self.new_patient, QKeySequence.StandardKey.New, "Add a patient"
        )
        self.enrol_action = self._action(
            "&Enrol patient…",
            self.enrol_patient,
            "Ctrl+E",
            "Enrol the selected patient on a protocol",
        )
        self.demo_action = self._action("Create &demonstration patients", self.create_demo_patients)
        self.switch_user_action = self._action(
            "S&witch user…",
            lambda: self.signed_in.switch_user(),
            "Ctrl+Shift+U",
            "Hide patient data and let the next user sign in",
        )
        self.lock_action = self._action(
            "&Lock window",
            lambda: self.signed_in.lock(),
            "Ctrl+Shift+K",
            "Hide patient data until you sign in again",
        )
        self.users_action = self._action(
            "&Users…", self.open_users, tip="Add users, set roles, deactivate, reset passwords"
        )
        self.quit_action = self._action("&Quit", self.close, QKeySequence.StandardKey.Quit)
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        for action in (self.new_patient_action, self.enrol_action):
            file_menu.addAction(action)
        file_menu.addSeparator()
        file_menu.addAction(self.demo_action)
        file_menu.addSeparator()
        self.checkout = CheckoutActions(self, file_menu)  # laptops (issue 19)
        file_menu.addSeparator()
        for action in (self.switch_user_action, self.lock_action, self.users_action):
            file_menu.addAction(action)
        file_menu.addSeparator()
        self.settings_action = self._action(
            "&Settings…",
            self.open_settings,
            QKeySequence.StandardKey.Preferences,  # = settings_dialog.SHORTCUT
            "Clinic settings",
        )
        self.settings_action.setMenuRole(QAction.MenuRole.PreferencesRole)
        file_menu.addAction(self.settings_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)

        view_menu = bar.addMenu("&View")
        self.find_action = self._action(
            "&Find patient", self.focus_filter, QKeySequence.StandardKey.Find
        )
        self.patients_action = self._action("&Patient list", lambda: self.show_tab(0), "Ctrl+1")
        self.today_action = self._action("&Today", lambda: self.show_tab(1), "Ctrl+2")
        self.chart_action = self._action("&Chart", self.focus_chart, "Ctrl+3")
        self.refresh_action = self._action(
            "&Refresh", self.refresh, QKeySequence.StandardKey.Refresh
        )
        for action in (
            self.find_action,
            self.patients_action,
            self.today_action,
            self.chart_action,
            self.refresh_action,
        ):
            view_menu.addAction(action)

        self.workflows = PatientActions(self, self, bar)
        if self._chart is not None:
            self.workflows.wire_chart_tabs(self._chart)
        for menu_action in bar.actions():
            menu = menu_action.menu()
            if isinstance(menu, QMenu):
                menu.setToolTipsVisible(True)  # a greyed item says why on hover
        help_menu = bar.addMenu("&Help")
        self.guide_action = self._action(
            "User &guide",
            self.open_guide,
            QKeySequence.StandardKey.HelpContents,
            "Open the user guide",
        )
        self.shortcuts_action = self._action(
            "&Keyboard shortcuts", self.open_shortcuts, "Ctrl+/", "List every keyboard shortcut"
        )
        help_menu.addAction(self.guide_action)
        help_menu.addAction(self.shortcuts_action)
        help_menu.addSeparator()
        self.about_action = self._action("&About clinic-app", self.about)
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)
        help_menu.addAction(self.about_action)

    # -- settings -----------------------------------------------------------------------------
    def _restore(self) -> None:
        geometry = self.settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            # First start: a size from the font, within the screen (a laptop's 1366x768 too).
            metrics = self.fontMetrics()
            available = fit.available(self)
            width = max(metrics.averageCharWidth() * 170, available.width() * 19 // 20)
            if available.width() < 1440:
                # A laptop screen: every pixel of its width for the list and the chart.
                width = available.width()
            height = max(metrics.height() * 45, available.height() * 9 // 10)
            width, height = min(width, available.width()), min(height, available.height())
            self.resize(width, height)
            self.move(
                available.x() + (available.width() - width) // 2,
                available.y() + (available.height() - height) // 3,
            )
            self.fit_panes(width)
        self._fit_to_screen()
        state = self.settings.value("window/splitter")
        if state is not None:
            self.splitter.restoreState(state)
        self.settings.remove("window/last_patient")  # old builds kept a row id: never use it

    def _recall_last_patient(self) -> None:
        """The patient this record had open last, opened once the list has loaded (found in
        its rows), unless a person has chosen one by then. Asked as the real rows are loaded:
        the record's identity needs hashlib (OpenSSL, ~10 ms) before the names' paint."""
        self._remember_key = self._last_patient_key()
        key = self._remember_key
        mrn = self.settings.value(key) if key is not None else None
        if isinstance(mrn, str) and mrn and self.current_patient_id is None:
            self._pending_mrn = mrn

    def fit_panes(self, width: int) -> None:
        """The list gets the width its columns need (phase, status and flags read without a
        tooltip at 1366 px); the chart keeps at least 2/5 of the window, and room for its tabs
        and timeline (84 characters)."""
        chart = max(width * 2 // 5, self.fontMetrics().averageCharWidth() * 84)
        left = min(self.patient_list.wanted_width(), width - chart)
        self.splitter.setSizes([left, max(width - left, 1)])

    def _fit_to_screen(self) -> None:
        """A window saved on a larger screen is shrunk to this one, never left hanging off it."""
        available = fit.available(self)
        width = min(self.width(), available.width())
        height = min(self.height(), available.height())
        if (width, height) != (self.width(), self.height()):
            self.resize(width, height)

    def _last_patient_key(self) -> str | None:
        """The settings key of this record's last patient (None: the record has no identity)."""
        try:
            identity = record_identity(self.record)
        except StorageError:
            return None
        return None if identity is None else f"last_patient/{identity}"

    def save_settings(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/splitter", self.splitter.saveState())
        if self._remember_key is not None:
            self.settings.setValue(self._remember_key, self._current_mrn)
        self.settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.change_watcher.stop()
        if self.session is not None:
            self.session.stop()
        if self.demo_runner is not None:
            self._stop_demo()
        if self.load_runner is not None:
            self.load_runner.stop()
        self.save_settings()
        super().closeEvent(event)

    # -- data ---------------------------------------------------------------------------------
    @property
    def loading(self) -> bool:
        return self.load_runner is not None

    def refresh(self) -> None:
        """Reload the whole list and the Today view in the background."""
        if self._context is None:  # names_first before attach: attach loads them
            return
        if self.load_runner is not None:
            self._reload_again = True  # a save landed meanwhile: load once more after this
            return
        # The list's thread is needed after the names' paint (issue 16: ~6 ms at start).
        from clinic_app.gui.background import BackgroundRunner, Connection

        today, protocols = self.today(), self.protocols
        runner = BackgroundRunner(
            Connection(self.record.location, read_only=True),
            lambda record, progress: load_list(record, progress, today, protocols),
            self,
        )
        runner.progressed.connect(lambda step, _total, _text: self.loading_page.show_step(step))
        runner.finished.connect(self._load_ended)
        self.load_runner = runner
        self.loading_page.show_step(0)  # opening the record
        if not self.statusBar().currentMessage():
            self.statusBar().showMessage(LOADING_MESSAGE)
        runner.start()

    @Slot(object)
    def _load_ended(self, outcome: Outcome) -> None:
        if outcome.error is None and outcome.result is not None:
            rows, items, self._seen_change = outcome.result
            self._loaded(rows, items)
        elif isinstance(outcome.error, StorageError):
            self._load_failed(outcome.error)
        else:
            self._end_load()
            if outcome.error is not None:
                raise outcome.error  # our bug: the exception reporter says so

    def start_watching(self) -> None:
        """Hear other desks' saves from now on (the app asks once the window has painted).
        The watch starts from the change the list's load read, when that load has ended."""
        self._watch_wanted = True
        if not self.loading:
            self.change_watcher.start_since(self._seen_change)

    def _end_load(self) -> None:
        runner, self.load_runner = self.load_runner, None
        if runner is not None:
            runner.stop()  # ended already: the thread is joined
            runner.deleteLater()
        if self._watch_wanted and not self.change_watcher.running:
            # The first load has ended (a failed one read nothing: the watch reads for itself).
            self.change_watcher.start_since(self._seen_change)
        # Only our own "Loading" line goes: "Saved" or "kept as a draft" stays for the nurse.
        if self.statusBar().currentMessage() == LOADING_MESSAGE:
            self.statusBar().clearMessage()
        if self._reload_again:
            self._reload_again = False
            self.refresh()

    @Slot(object)
    def _load_failed(self, exc: StorageError) -> None:
        self._end_load()
        if not self._loaded_once:
            self.right.setCurrentWidget(self.welcome)
        show_storage_error(self, exc)

    @Slot(object, object)
    def _loaded(self, rows: list[PatientRow], items: list[DueItem]) -> None:
        self._end_load()
        today = self.today()
        self.patient_list.table.rearm()  # the chart waits for these rows' paint, not the names'
        self.patient_list.set_rows(rows)
        self.today_view.set_items(items, today)
        self.left_tabs.setTabText(1, f"&Today ({len(items)})")
        empty = not rows
        self._loaded_once = True
        if empty:
            self.right.setCurrentWidget(self.welcome)
        elif self._chart is None:  # the list paints first; the chart is built right after
            self.right.setCurrentWidget(self.choose_page)
            self._chart_soon(CHART_LATEST_MS)
        else:
            self.right.setCurrentWidget(self._chart)
        self._explain_demo(empty)
        self.workflows.update_enabled(self.current_patient_id)
        if self._pending_mrn is not None:
            mrn, self._pending_mrn = self._pending_mrn, None
            pending = next((row.patient_id for row in rows if row.mrn == mrn), None)
            if pending is not None:
                self.open_patient(pending)

    def refresh_patient(self, patient_id: int) -> None:
        """After a save: update that one patient's row at once, and the Today view behind."""
        from clinic_app.services.patient_state import list_patient_rows

        try:
            rows = list_patient_rows(
                self.record, self.today(), self.protocols, patient_id=patient_id
            )
        except StorageError as exc:
            show_storage_error(self, exc)
            return
        for row in rows:
            self.patient_list.upsert(row)
        if rows:
            self.right.setCurrentWidget(self.chart)
            self._explain_demo(False)
        self.refresh()

    def open_settings(self) -> None:
        from clinic_app.gui import settings_dialog

        dialog = settings_dialog.open_settings_dialog(self.record, self)
        dialog.finished.connect(self._settings_closed)

    def _settings_closed(self) -> None:
        # Thresholds kept in the record (weight change, lab age) apply to every protocol.
        try:
            self.context = self.context.reloaded()
        except (DomainError, StorageError) as exc:
            self.statusBar().showMessage(str(exc), 15000)
            return
        # A chart not built yet reads them when it is (no need to build it now).
        set_protocols = getattr(self._chart, "set_protocols", None)
        if set_protocols is not None:
            set_protocols(self.protocols)
        if self.current_patient_id is not None:
            self.reload_patient(self.current_patient_id)

    @Slot()
    def _changed_elsewhere(self) -> None:
        """Another desk (or window) committed a change: read the list and the open chart
        again. The chosen patient stays chosen; an open form keeps what was typed."""
        self.refresh()
        if self.current_patient_id is not None and self._chart is not None:
            set_patient = getattr(self._chart, "set_patient", None)
            if set_patient is not None:
                set_patient(self.record, self.current_patient_id)

    def reload_patient(self, patient_id: int) -> None:
        """After a dialog saved something: the chart and the patient's row show it at once."""
        if patient_id == self.current_patient_id:
            set_patient = getattr(self.chart, "set_patient", None)
            if set_patient is not None:
                set_patient(self.record, patient_id)
        self.refresh_patient(patient_id)

    @Slot(object)
    def show_patient(self, patient_id: int | None) -> None:
        """Put ``patient_id`` in the chart: a person chose them (list, Today, a dialog)."""
        # A person's choice (or the remembered patient, opened now) is what the chart shows:
        # the remembered one never replaces it when the list's load ends.
        self._pending_mrn = None
        if patient_id == self.current_patient_id:
            return
        self.current_patient_id = patient_id
        self.patient_list.show_chosen(patient_id)
        self.today_view.show_chosen(patient_id)
        self._mark_filtered_out(self.patient_list.chosen_hidden)
        if self._chart is None and patient_id is not None and not self._may_build_chart():
            # Chosen before the chart is built (the remembered patient, as the list first
            # loads): the list paints first and the chart, built right after its paint, shows
            # them (``chart``); building it here kept the patients off the screen (issue 16).
            self._chart_soon(CHART_LATEST_MS)
        else:
            set_patient = getattr(self.chart, "set_patient", None)
            if set_patient is not None:
                set_patient(self.record, patient_id)
        title = "clinic-app"
        self._current_mrn = ""
        if patient_id is not None:
            try:
                patient = self.record.repos.patients.get(patient_id).value
                title = f"{patient_title(patient)} — clinic-app"
                self._current_mrn = patient.mrn
            except StorageError as exc:
                show_storage_error(self, exc)
        self.setWindowTitle(title)
        self.workflows.update_enabled(patient_id)
        self.patientShown.emit(patient_id)

    def _may_build_chart(self) -> bool:
        """Whether choosing a patient builds the chart at once: not once the list has loaded
        without one (it is built just after the list's paint, ``_chart_soon``), nor before the
        window has its context (``names_first``: the load that follows builds it)."""
        return self._context is not None and not self._loaded_once

    @Slot(int)
    def open_patient(self, patient_id: int) -> None:
        """Show a patient of the list in the chart (and highlight them in the list)."""
        if not self.patient_list.has_patient(patient_id):
            return
        self.show_patient(patient_id)

    def _explain_demo(self, empty: bool) -> None:
        # A record with patients is refused first: finding out whether the build has the
        # demonstration data imports it (~20 ms before the list's first paint; issue 16).
        if not empty:
            reason: str | None = "Demonstration patients are only added to an empty record."
        elif _demo_function() is None:
            reason = "Demonstration data is not part of this build."
        else:
            reason = None
        explain(self.demo_action, reason)
        self.workflows.update_enabled(self.current_patient_id)

    @Slot(bool)
    def _mark_filtered_out(self, hidden: bool) -> None:
        # A chart not built yet is marked when it is (``chart``): building it here, for the
        # remembered patient, would build it before the list's first paint.
        mark = getattr(self._chart, "set_filtered_out", None)
        if mark is not None:
            mark(hidden and self.current_patient_id is not None)

    # -- actions ------------------------------------------------------------------------------
    def show_tab(self, index: int) -> None:
        self.left_tabs.setCurrentIndex(index)
        self.left_tabs.currentWidget().setFocus()

    def focus_filter(self) -> None:
        self.left_tabs.setCurrentIndex(0)
        self.patient_list.filter_edit.setFocus()
        self.patient_list.filter_edit.selectAll()

    def focus_chart(self) -> None:
        self.chart.setFocus()

    def new_patient(self) -> NewPatientDialog:
        from clinic_app.gui.dialogs.new_patient import NewPatientDialog
        from clinic_app.gui.form_guard import guard_form

        dialog = NewPatientDialog(self.record, self, today=self.today)
        dialog.accepted.connect(lambda: self._patient_added(dialog))
        dialog.open()
        guard_form(dialog)  # Esc asks before typed values are thrown away
        return dialog

    def _patient_added(self, dialog: NewPatientDialog) -> None:
        if dialog.patient_id is not None:
            self.refresh_patient(dialog.patient_id)
            self.left_tabs.setCurrentIndex(0)
            self.open_patient(dialog.patient_id)

    def enrol_patient(self) -> EnrolmentDialog | None:
        if self.current_patient_id is None:
            self.statusBar().showMessage("Select a patient to enrol first.", 5000)
            return None
        from clinic_app.gui.dialogs.enrolment import EnrolmentDialog
        from clinic_app.gui.form_guard import guard_form

        dialog = EnrolmentDialog(
            self.record, self.protocols, self.current_patient_id, self, today=self.today
        )
        dialog.accepted.connect(self._enrolled)
        dialog.open()
        guard_form(dialog)
        return dialog

    def _enrolled(self) -> None:
        patient_id = self.current_patient_id
        self.current_patient_id = None  # force the chart to reload
        if patient_id is not None:
            self.refresh_patient(patient_id)
            self.open_patient(patient_id)

    # -- users ------------------------------------------------------------------------------
    def user_changed(self) -> None:
        """Whoever is signed in now: the status bar names them, actions follow their role."""
        me = None
        if self.record.app_user is not None:
            try:
                me = self.record.repos.users.current()
            except StorageError as exc:
                show_storage_error(self, exc)
        if me is not None:
            who = f"User: {me.full_name} ({me.username}, {me.role.value}) on {self.record.os_user}"
        else:
            who = f"User: {self.record.os_user}"
        self.status_label.setText(f"Database: {self.record.location}    {who}")
        accounts = self.record.has_users()
        no_accounts = "This record has no user accounts yet: create them with File ▸ Users…"
        for action in (self.switch_user_action, self.lock_action):
            action.setEnabled(accounts)
            action.setStatusTip("" if accounts else no_accounts)
            action.setToolTip(action.text().replace("&", "") if accounts else no_accounts)
        self.workflows.update_enabled(self.current_patient_id)

    def open_users(self) -> QWidget | None:
        from clinic_app.gui.sign_in import CreateAdministratorDialog
        from clinic_app.gui.users_dialog import UsersDialog

        if not self.record.has_users():
            create = CreateAdministratorDialog(self.record, self)

            def created() -> None:
                if create.user is not None:
                    self.record.set_user(create.user.username)
                    self.signed_in.user_changed()

            create.accepted.connect(created)
            create.open()
            return create
        users = UsersDialog(self.record, self)
        users.open()
        return users

    def open_guide(self) -> QWidget:
        from clinic_app.gui.help_menu import GuideViewer

        viewer = GuideViewer(self)
        viewer.open()
        return viewer

    def open_shortcuts(self) -> QWidget:
        from clinic_app.gui.help_menu import ShortcutsDialog

        dialog = ShortcutsDialog(self.actions(), self)
        dialog.open()
        return dialog

    def about(self) -> None:
        # The protocols loaded on this computer, named by their files.
        names = ", ".join(p.name for p in self.protocols.values())
        QMessageBox.about(
            self,
            "About clinic-app",
            f"<b>clinic-app {clinic_app.__version__}</b><p>Offline assistant for oncology nurses "
            "and trial staff running multiple-myeloma protocols"
            f"{f' ({names})' if names else ''}.</p>"
            f"<p>Database: {self.record.location}</p>",
        )

    # -- demonstration patients -----------------------------------------------------------------
    def create_demo_patients(self) -> None:
        if self.demo_runner is not None or _demo_function() is None:
            return
        progress = QProgressDialog("Creating demonstration patients…", "Cancel", 0, 0, self)
        progress.setWindowTitle("Demonstration patients")
        progress.setWindowModality(Qt.WindowModality.WindowModal)
        progress.setMinimumDuration(500)  # shown only if it takes more than a moment
        today = self.today()
        from clinic_app.gui.background import BackgroundRunner, Connection

        runner = BackgroundRunner(
            # The signed-in user acts on the runner's connection too (a name alone would act
            # as nobody).
            Connection(self.record.location, app_user=self.record.session or self.record.app_user),
            lambda record, step: create_demo(record, step, DEMO_PATIENTS, DEMO_SEED, today),
            self,
        )
        runner.progressed.connect(lambda done, total, _text: self._demo_progress(done, total))
        runner.finished.connect(self._demo_finished)
        progress.canceled.connect(self._cancel_demo)
        self.demo_runner, self.demo_progress = runner, progress
        self.welcome.demo_button.setEnabled(False)
        self.setCursor(Qt.CursorShape.BusyCursor)
        runner.start()

    @Slot(int, int)
    def _demo_progress(self, done: int, total: int) -> None:
        if self.demo_progress is not None:
            self.demo_progress.setMaximum(total)
            self.demo_progress.setValue(done)

    def _cancel_demo(self) -> None:
        if self.demo_runner is not None:
            self.demo_runner.cancel()

    def _stop_demo(self) -> None:
        if self.demo_runner is not None:
            self.demo_runner.stop()

    @Slot(object)
    def _demo_finished(self, outcome: Outcome) -> None:
        message = demo_message(outcome)
        runner, self.demo_runner = self.demo_runner, None
        if runner is not None:
            runner.deleteLater()
        if self.demo_progress is not None:
            self.demo_progress.reset()
            self.demo_progress.deleteLater()
            self.demo_progress = None
        self.unsetCursor()
        self.welcome.demo_button.setEnabled(True)
        self.refresh()
        if message:
            self.statusBar().showMessage(message, 15000)
            QMessageBox.warning(self, "Demonstration patients", message)
        else:
            self.statusBar().showMessage("Demonstration patients created.", 10000)

    @property
    def demo_running(self) -> bool:
        return self.demo_runner is not None
