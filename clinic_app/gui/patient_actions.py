"""The Patient and Trial menus: every nursing workflow, reachable by keyboard from the main window.

Each action opens its dialog for the patient in the chart; when the dialog closes the chart and
that patient's row are reloaded, so what was saved shows at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDialog, QFileDialog, QMainWindow, QMenuBar, QWidget

from clinic_app.gui.errors import show_storage_error
from clinic_app.gui.texts import patient_title
from clinic_app.storage.errors import StorageError
from clinic_app.storage.permissions import Permission, why_not

if TYPE_CHECKING:
    from clinic_app.core.protocol import Protocol as ClinicalProtocol
    from clinic_app.gui.patient_list import PatientListView
    from clinic_app.gui.trial_board import TrialBoardWindow
    from clinic_app.storage.database import Record

# Each workflow's dialog module is imported when it is first opened, not at start-up: together
# they cost about a quarter of a second before the main window could show (issue 16).


def gate(action: QAction, reason: str | None) -> None:
    """Disable ``action`` with ``reason`` (a role that may not do it); None leaves it be."""
    if reason is None:
        return
    action.setEnabled(False)
    action.setStatusTip(reason)
    action.setToolTip(reason)


def allow(action: QAction, reason: str | None) -> None:
    """Enable ``action`` unless the role may not do it (then disabled with ``reason``)."""
    default = action.property("default_tip")
    if not isinstance(default, str):
        default = action.statusTip()
        action.setProperty("default_tip", default)
    action.setEnabled(reason is None)
    action.setStatusTip(reason or default)
    action.setToolTip(reason or action.text().replace("&", ""))


class ActionsHost(Protocol):
    """What the menus ask of the window they are built on (the main window is one); the
    window itself is only the Qt parent of the actions and the dialogs they open."""

    @property
    def record(self) -> Record: ...

    @property
    def current_patient_id(self) -> int | None: ...

    @property
    def chart(self) -> QWidget: ...

    @property
    def patient_list(self) -> PatientListView: ...

    @property
    def new_patient_action(self) -> QAction: ...

    @property
    def users_action(self) -> QAction: ...

    @property
    def enrol_action(self) -> QAction: ...

    @property
    def demo_action(self) -> QAction: ...

    @property
    def protocols(self) -> Mapping[str, ClinicalProtocol]: ...

    def today(self) -> date: ...

    def reload_patient(self, patient_id: int) -> None: ...


class PatientActions:
    """Builds the menus on ``window`` and keeps their enabled state in step with the chart."""

    def __init__(self, window: QMainWindow, host: ActionsHost, bar: QMenuBar) -> None:
        self.window = window
        self.host = host
        self.trial_board: TrialBoardWindow | None = None
        patient = bar.addMenu("&Patient")
        P = Permission
        entries: list[tuple[str, Callable[[int], QWidget | None], str, Permission | None]] = [
            ("Start next &cycle…", self.start_cycle, "Ctrl+Shift+S", P.CYCLES),
            ("&Doses of this cycle…", self.cycle_doses, "Ctrl+D", P.DOSE_ADMINISTRATION),
            ("&Modify dose…", self.modify_dose, "Ctrl+M", P.DOSE_MODIFICATIONS),
            ("Enter &lab results…", self.enter_labs, "Ctrl+L", P.LABS),
            ("Lab &trends…", self.lab_trends, "Ctrl+Shift+L", None),
            ("Record &adverse event…", self.adverse_event, "Ctrl+Shift+A", P.ADVERSE_EVENTS),
            ("Record &response assessment…", self.response, "Ctrl+Shift+R", P.RESPONSES),
            ("&End of cycle…", self.end_of_cycle, "Ctrl+Shift+E", P.PHASE_DECISIONS),
            ("DLT re&view…", self.dlt_review, "Ctrl+Shift+D", P.DLT_CONFIRMATION),
            ("&Print dosing card…", self.print_card, "Ctrl+P", P.PRINTING),
            ("Print &toxicity summary…", self.print_summary, "Ctrl+Shift+T", P.PRINTING),
            ("Item &history…", self.item_history, "Ctrl+H", None),
        ]
        self.patient_actions: list[QAction] = []
        self.permissions: list[Permission | None] = [entry[3] for entry in entries]
        for text, opener, keys, _permission in entries:
            action = QAction(text, window)
            action.setShortcut(QKeySequence(keys))
            action.triggered.connect(lambda _=False, o=opener: self._open(o))
            window.addAction(action)
            patient.addAction(action)
            self.patient_actions.append(action)
            if opener in (self.lab_trends, self.adverse_event):  # the menu's groups end here
                patient.addSeparator()
        trial = bar.addMenu("T&rial")
        self.batch_action = QAction("Print today's &cards…", window)
        self.batch_action.setShortcut(QKeySequence("Ctrl+Shift+P"))
        self.batch_action.triggered.connect(self.morning_batch)
        self.board_action = QAction("Trial &board…", window)
        self.board_action.setShortcut(QKeySequence("Ctrl+B"))
        self.board_action.triggered.connect(self.open_trial_board)
        self.audit_action = QAction("&Audit trail…", window)
        self.audit_action.setShortcut(QKeySequence("Ctrl+Shift+H"))
        self.audit_action.triggered.connect(self.open_audit_trail)
        self.audit_viewer: QWidget | None = None
        self.protocols_action = QAction("&Protocols…", window)
        self.protocols_action.triggered.connect(self.open_protocols)
        for action in (
            self.batch_action,
            self.board_action,
            self.protocols_action,
            self.audit_action,
        ):
            window.addAction(action)
            trial.addAction(action)
        # The chart's tabs are wired by wire_chart_tabs when the window builds its chart: it
        # builds it on first use, after the first paint (issue 16).
        self.update_enabled(None)

    # -- state -----------------------------------------------------------------------------
    def update_enabled(self, patient_id: int | None) -> None:
        """Enabled when there is a patient and the signed-in role may do it; the reason
        otherwise, as status tip and tooltip."""
        record = self.host.record
        away = self._checked_out(patient_id)
        for action, permission in zip(self.patient_actions, self.permissions, strict=True):
            action.setEnabled(patient_id is not None)
            tip = "" if patient_id is not None else "Select a patient first."
            action.setStatusTip(tip)
            action.setToolTip(tip or action.text().replace("&", ""))
            if permission is not None:
                gate(action, why_not(record, permission))
            if permission not in (None, Permission.PRINTING):
                gate(action, away)  # storage refuses it at commit too; say so before
        host = self.host
        for action, permission in (
            (self.batch_action, Permission.PRINTING),
            (self.audit_action, Permission.AUDIT),
            (host.new_patient_action, Permission.PATIENTS),
            (host.users_action, Permission.USERS),
        ):
            allow(action, why_not(record, permission))
        allow(host.enrol_action, None if patient_id is not None else "Select a patient first.")
        gate(host.enrol_action, why_not(record, Permission.ENROLMENT))
        gate(host.demo_action, why_not(record, Permission.ENROLMENT))
        gate(host.enrol_action, away)
        checkout = getattr(self.window, "checkout", None)  # the File menu's laptop items
        if checkout is not None:
            checkout.update_enabled()

    def _checked_out(self, patient_id: int | None) -> str | None:
        """ "Checked out to <laptop> since <time> ..." from the loaded list row, else None."""
        if patient_id is None:
            return None
        model = self.host.patient_list.model
        row = model.source_row_of(patient_id)
        away = None if row is None else model.row_at(row).checked_out
        return f"{away[0].upper()}{away[1:]}; this chart cannot be changed here." if away else None

    def _patient(self) -> int | None:
        return self.host.current_patient_id

    def _open(self, opener: Callable[[int], QWidget | None]) -> None:
        patient_id = self._patient()
        if patient_id is None:
            self.window.statusBar().showMessage("Select a patient first.", 5000)
            return
        try:
            dialog = opener(patient_id)
        except StorageError as exc:
            show_storage_error(self.window, exc)
            return
        if isinstance(dialog, QDialog):
            from clinic_app.gui.form_guard import guard_form  # not at start (issue 16)

            if opener in self._forms():
                guard_form(dialog)  # Esc asks before typed values are thrown away
            session = getattr(self.window, "session", None)
            if session is not None:
                session.offer_draft(dialog, patient_id)
            dialog.finished.connect(lambda _=0, pid=patient_id: self._reload(pid))

    def _forms(self) -> tuple[Callable[[int], QWidget | None], ...]:
        """The openers of data-entry forms (lab entry guards its own form)."""
        return (
            self.start_cycle,
            self.cycle_doses,
            self.modify_dose,
            self.adverse_event,
            self.response,
            self.end_of_cycle,
        )

    def _reload(self, patient_id: int) -> None:
        self.host.reload_patient(patient_id)

    def _selected_cycle(self, patient_id: int) -> int | None:
        """The cycle chosen in the chart's day grid, as its number, else the current one."""
        chart = self.host.chart
        tabs = getattr(chart, "tabs", None)
        cycle_id = getattr(tabs, "selected_cycle_id", None)
        record = self.host.record
        if cycle_id is not None:
            return record.repos.cycles.get(cycle_id).value.number
        row = self.host.patient_list.model.source_row_of(patient_id)
        return None if row is None else self.host.patient_list.model.row_at(row).cycle

    # -- the workflows ---------------------------------------------------------------------
    def start_cycle(self, pid: int) -> QWidget | None:
        from clinic_app.gui import cycle_start

        return cycle_start.open_cycle_start(self.window, self.host.record, pid, self.host.protocols)

    def cycle_doses(self, pid: int) -> QWidget | None:
        from clinic_app.gui import dose_admin

        tabs = getattr(self.host.chart, "tabs", None)
        cycle_id = getattr(tabs, "selected_cycle_id", None)
        return dose_admin.open_cycle_doses(
            self.window, self.host.record, pid, cycle_id, self.host.protocols
        )

    def modify_dose(self, pid: int) -> QWidget | None:
        # The cycle in the chart (the latest started one by default), as "Doses of this cycle"
        # uses: not a planned next cycle, whose "next cycle" would skip the one coming up.
        from clinic_app.gui import dose_admin

        tabs = getattr(self.host.chart, "tabs", None)
        cycle_id = getattr(tabs, "selected_cycle_id", None)
        return dose_admin.open_dose_modification(
            self.window, self.host.record, pid, self.host.protocols, cycle_id
        )

    def enter_labs(self, pid: int) -> QWidget | None:
        from clinic_app.gui import lab_entry

        return lab_entry.open_lab_entry(self.window, self.host.record, pid)

    def lab_trends(self, pid: int) -> QWidget | None:
        # The plotting library (and numpy) costs a quarter of a second: loaded on first use.
        from clinic_app.gui import lab_trends

        return lab_trends.open_lab_trends(self.window, self.host.record, pid)

    def adverse_event(self, pid: int) -> QWidget | None:
        from clinic_app.gui import ae_entry

        return ae_entry.open_adverse_event(self.window, self.host.record, pid, self.host.protocols)

    def response(self, pid: int) -> QWidget | None:
        from clinic_app.gui import response_entry

        return response_entry.open_response_entry(
            self.window, self.host.record, pid, today=self.host.today
        )

    def end_of_cycle(self, pid: int) -> QWidget | None:
        from clinic_app.gui import end_of_cycle

        return end_of_cycle.open_end_of_cycle(
            self.window,
            self.host.record,
            pid,
            today=self.host.today,
            protocols=self.host.protocols,
        )

    def dlt_review(self, pid: int) -> QWidget | None:
        from clinic_app.gui import dlt_review

        return dlt_review.open_dlt_review(
            self.window,
            self.host.record,
            pid,
            today=self.host.today,
            protocols=self.host.protocols,
        )

    def _print(self, pid: int, kind: str) -> QWidget | None:
        from clinic_app.gui import printing

        cycle = self._selected_cycle(pid)
        if cycle is None:
            self.window.statusBar().showMessage("This patient has no cycle to print yet.", 5000)
            return None
        return printing.open_print_preview(self.window, self.host.record, pid, kind, cycle)

    def _print_cycle(self, kind: str, number: int) -> None:
        from clinic_app.gui import printing

        self._open(
            lambda pid: printing.open_print_preview(
                self.window, self.host.record, pid, kind, number
            )
        )

    def print_card(self, pid: int) -> QWidget | None:
        from clinic_app.gui import printing

        return self._print(pid, printing.DOSING_CARD)

    def print_summary(self, pid: int) -> QWidget | None:
        from clinic_app.gui import printing

        return self._print(pid, printing.TOXICITY_SUMMARY)

    def morning_batch(self) -> None:
        from clinic_app.gui import printing

        folder = QFileDialog.getExistingDirectory(
            self.window, "Folder for today's dosing cards", str(Path.home())
        )
        if not folder:
            return
        day: date = self.host.today()
        printing.open_morning_batch(
            self.window,
            self.host.record,
            day,
            Path(folder),
            on_finished=lambda message: self.window.statusBar().showMessage(message, 15000),
        )

    def open_audit_trail(self) -> None:
        reason = why_not(self.host.record, Permission.AUDIT)
        if reason:
            self.window.statusBar().showMessage(reason, 8000)
            return
        from clinic_app.gui.audit_viewer import AuditViewer

        viewer = AuditViewer(self.host.record, self.window)
        viewer.show()
        viewer.raise_()
        self.audit_viewer = viewer

    def open_protocols(self) -> QWidget:
        from clinic_app.gui.protocol_view import open_protocols

        return open_protocols(self.host.protocols, self.window)

    def open_trial_board(self) -> None:
        from clinic_app.gui.trial_board import TrialBoardWindow

        if self.trial_board is None:
            self.trial_board = TrialBoardWindow(
                self.host.record,
                dict(self.host.protocols),
                today=self.host.today(),
                user=self.host.record.os_user,
            )
            self.trial_board.follow(self.window)  # closes with the main window
        self.trial_board.refresh()
        self.trial_board.show()
        self.trial_board.raise_()

    def item_history(self, pid: int) -> QWidget | None:
        """The audit trail (old -> new, who, when, why) of the row selected in the chart's
        current tab, where a mistaken entry can also be voided with a reason."""
        from clinic_app.gui import history

        tabs = getattr(self.host.chart, "tabs", None)
        if tabs is None:
            return None
        repos = self.host.record.repos
        by_table: dict[int, Any] = {
            id(tabs.labs): repos.labs,
            id(tabs.adverse_events): repos.adverse_events,
            id(tabs.responses): repos.responses,
            id(tabs.modifications): repos.modifications,
        }
        table = tabs.currentWidget()
        repository = by_table.get(id(table))
        row_id = table.selected_id() if repository is not None else None
        if repository is None or row_id is None:
            self.window.statusBar().showMessage(
                "Select a lab, adverse event, response or dose change in the chart first.", 8000
            )
            return None
        patient = repos.patients.get(pid).value
        return history.open_history(
            self.window, self.host.record, repository, row_id, patient_title(patient)
        )

    # -- the chart's tabs: Enter or double-click opens the item ------------------------------
    def wire_chart_tabs(self, chart: QWidget) -> None:
        tabs = getattr(chart, "tabs", None)
        if tabs is None:
            return
        tabs.labs.view.activated.connect(lambda _i: self._open_row(tabs.labs, self._lab))
        tabs.adverse_events.view.activated.connect(
            lambda _i: self._open_row(tabs.adverse_events, self._ae)
        )
        tabs.day_grid.view.activated.connect(lambda _i: self._open(self.cycle_doses))
        if hasattr(tabs, "print_requested"):  # the Documents tab: a document and its cycle
            tabs.print_requested.connect(lambda kind, number: self._print_cycle(kind, number))

    def _open_row(self, table: object, opener: Callable[[int, int], QWidget | None]) -> None:
        selected = getattr(table, "selected_id", None)
        item_id = selected() if callable(selected) else None
        if item_id is None:
            return
        self._open(lambda pid: opener(pid, item_id))

    def _lab(self, pid: int, lab_id: int) -> QWidget | None:
        from clinic_app.gui import lab_entry

        return lab_entry.open_lab_correction(self.window, self.host.record, pid, lab_id)

    def _ae(self, pid: int, ae_id: int) -> QWidget | None:
        from clinic_app.gui import ae_entry

        dialog = ae_entry.open_ae_correction(
            self.window, self.host.record, pid, ae_id, self.host.protocols
        )
        if isinstance(dialog, QDialog):
            from clinic_app.gui.form_guard import guard_form

            guard_form(dialog)  # Esc asks before typed values are thrown away
        return dialog
