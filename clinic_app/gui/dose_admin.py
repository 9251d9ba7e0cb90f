"""Dose administration: the cycle's day grid, the given / held / missed editor, and the dose
modification form (``ui/dose_modification.ui``), over ``services.dose_admin``.

Entry points for the main window and the chart:

- ``open_cycle_doses(parent, record, patient_id, cycle_id=None)``: the day grid of a cycle;
  Enter on a row records its outcome, Ctrl+M opens the dose modification.
- ``open_dose_outcome(parent, record, patient_id, dose_id)``: one dose (from the chart's grid).
- ``open_dose_modification(parent, record, patient_id)``: a modification of the current cycle.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal

from PySide6.QtCore import (
    QDateTime,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QComboBox,
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from clinic_app.core.day_words import day_text
from clinic_app.core.errors import DomainError
from clinic_app.core.ismp import format_quantity
from clinic_app.core.protocol import Protocol
from clinic_app.core.records import DoseStatus, ReductionCause
from clinic_app.gui import fit
from clinic_app.gui.errors import show_storage_error
from clinic_app.gui.signature import save_signed, sign_then_save
from clinic_app.gui.table_model import TextRowsModel
from clinic_app.gui.texts import patient_title
from clinic_app.gui.uiload import child, load_ui
from clinic_app.gui.warnings import WARNING_SIGN, error_label, show_error
from clinic_app.services.dose_admin import (
    CycleView,
    DoseOutcome,
    DoseRow,
    LadderChoice,
    ModificationRequest,
    ModificationResult,
    check_modification,
    check_outcome,
    current_cycle,
    cycle_doses,
    modification_choices,
    record_dose_outcome,
    record_modification,
)
from clinic_app.storage.database import Record
from clinic_app.storage.errors import StaleRecordError, StorageError
from clinic_app.storage.signatures import MEANINGS, Signer

_Index = QModelIndex | QPersistentModelIndex


def _now() -> datetime:
    return datetime.now(UTC).astimezone()


# The plan and the day grid: read-only rows of text (the name kept for the screens using it).
TextTableModel = TextRowsModel


class DoseGridModel(TextRowsModel):
    """The day grid of one cycle: day, date, drug, dose, units, route, what happened."""

    HEADERS = ("Day", "Date", "Drug", "Dose", "Units", "Route", "Recorded")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(self.HEADERS, parent)
        self.doses: list[DoseRow] = []

    def set_doses(self, doses: Sequence[DoseRow]) -> None:
        self.doses = list(doses)
        self.set_rows(
            [
                [
                    str(d.day),
                    day_text(d.on),
                    d.drug_name,
                    format_quantity(d.dose_mg, "mg"),
                    d.units,
                    d.route,
                    d.outcome_text(),
                ]
                for d in self.doses
            ],
            [d.reason or "" for d in self.doses],
        )


# -- one dose: given / held / missed --------------------------------------------------------------
class DoseOutcomeDialog(QDialog):
    """Record what happened to one planned dose; a recorded one needs a correction reason."""

    def __init__(
        self,
        record: Record,
        view: CycleView,
        dose: DoseRow,
        parent: QWidget | None = None,
        now: Callable[[], datetime] = _now,
    ) -> None:
        super().__init__(parent)
        self.record, self.view, self.dose, self.now = record, view, dose, now
        self.saved = False
        self.setWindowTitle(f"Dose — {patient_title(view.patient)}")
        fit.keep_title_readable(self)  # the name and MRN stay readable
        layout = QVBoxLayout(self)
        heading = QLabel(f"Cycle {view.number}: {dose.describe()}. Now: {dose.outcome_text()}.")
        heading.setWordWrap(True)
        layout.addWidget(heading)
        grid = QGridLayout()
        layout.addLayout(grid)
        self.group = QButtonGroup(self)
        self.radios: dict[DoseStatus, QRadioButton] = {}
        row = QHBoxLayout()
        for status, text in (
            (DoseStatus.GIVEN, "&Given"),
            (DoseStatus.HELD, "&Held"),
            (DoseStatus.MISSED, "&Missed"),
        ):
            radio = QRadioButton(text, self)
            radio.setObjectName(f"status_{status.value}")
            self.group.addButton(radio)
            row.addWidget(radio)
            self.radios[status] = radio
        grid.addWidget(QLabel("What happened:"), 0, 0)
        grid.addLayout(row, 0, 1)
        self.status_error = error_label(self)
        grid.addWidget(self.status_error, 1, 1)
        self.given_at = QDateTimeEdit(self)
        self.given_at.setObjectName("given_at")
        self.given_at.setDisplayFormat("yyyy-MM-dd HH:mm")
        self.given_at.setCalendarPopup(True)
        self.given_at.setAccessibleName("Date and time given")
        start = now()
        if dose.on < start.date():
            start = datetime.combine(dose.on, start.timetz().replace(second=0, microsecond=0))
        naive = start.replace(tzinfo=None)
        self.given_at.setDateTime(
            QDateTime(naive.year, naive.month, naive.day, naive.hour, naive.minute, 0)
        )
        label = QLabel("Given &at:")
        label.setBuddy(self.given_at)
        grid.addWidget(label, 2, 0)
        grid.addWidget(self.given_at, 2, 1)
        self.given_at_error = error_label(self)
        grid.addWidget(self.given_at_error, 3, 1)
        self.reason = QLineEdit(self)
        self.reason.setObjectName("reason")
        self.reason.setAccessibleName("Reason held or missed")
        self.reason.setPlaceholderText("needed when held or missed")
        label = QLabel("&Reason:")
        label.setBuddy(self.reason)
        grid.addWidget(label, 4, 0)
        grid.addWidget(self.reason, 4, 1)
        self.reason_error = error_label(self)
        grid.addWidget(self.reason_error, 5, 1)
        self.correction = QLineEdit(self)
        self.correction.setObjectName("correction_reason")
        self.correction.setAccessibleName("Reason for the correction")
        label = QLabel("&Correction reason:")
        label.setBuddy(self.correction)
        grid.addWidget(label, 6, 0)
        grid.addWidget(self.correction, 6, 1)
        self.correction_error = error_label(self)
        grid.addWidget(self.correction_error, 7, 1)
        recorded = dose.status is not DoseStatus.PLANNED
        label.setVisible(recorded)
        self.correction.setVisible(recorded)
        self.message = QLabel(self)
        self.message.setWordWrap(True)
        layout.addWidget(self.message)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("&Save")
        self.ok_button.setDefault(True)
        layout.addWidget(self.buttons)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        preset = dose.status if recorded else DoseStatus.GIVEN
        self.radios[preset].setChecked(True)
        if dose.status is not DoseStatus.GIVEN and dose.reason:
            self.reason.setText(dose.reason)
        self.group.buttonToggled.connect(lambda *_: self.recheck())
        self.given_at.dateTimeChanged.connect(lambda *_: self.recheck())
        self.reason.textChanged.connect(self.recheck)
        self.correction.textChanged.connect(self.recheck)
        self.recheck()

    def outcome(self) -> DoseOutcome:
        status = next(s for s, r in self.radios.items() if r.isChecked())
        local = self.given_at.dateTime().toPython()
        assert isinstance(local, datetime)
        given = local.astimezone() if status is DoseStatus.GIVEN else None
        return DoseOutcome(status, given, self.reason.text(), self.correction.text())

    def recheck(self) -> dict[str, str]:
        outcome = self.outcome()
        self.given_at.setEnabled(outcome.status is DoseStatus.GIVEN)
        problems = check_outcome(self.view, self.dose, outcome, self.now())
        show_error(self.status_error, problems.get("status"))
        show_error(self.given_at_error, problems.get("given_at"))
        show_error(self.reason_error, problems.get("reason"))
        show_error(self.correction_error, problems.get("correction_reason"))
        self.ok_button.setEnabled(not problems)
        self.message.setText(
            "" if problems else f"Will record: {outcome.status.value}. The change is audited."
        )
        return problems

    def save(self) -> None:
        if self.recheck():
            return
        try:
            record_dose_outcome(self.record, self.view, self.dose, self.outcome(), self.now())
        except StaleRecordError as exc:
            self.message.setText(f"{WARNING_SIGN} {exc}")
            self.ok_button.setEnabled(False)
            return
        except DomainError as exc:
            self.message.setText(f"{WARNING_SIGN} {exc.message}")
            return
        except StorageError as exc:
            show_storage_error(self, exc)
            return
        self.saved = True
        self.accept()


# -- dose modification (Designer form) ------------------------------------------------------------
_FIELD_WORDS = {
    "new_dose": "the new dose",
    "effective_day": "the day it takes effect",
    "reason": "the reason",
    "cause": "what toxicity it is for",
    "decided_by": "who decided",
}

_CAUSE_WORDS = {
    ReductionCause.HAEMATOLOGICAL: "Haematological toxicity (blood counts)",
    ReductionCause.NON_HAEMATOLOGICAL: "Non-haematological toxicity",
    ReductionCause.NOT_TOXICITY: "Not for toxicity",
}


class DoseModificationDialog(QDialog):
    """Drug, new dose from the ladder, reason, who, and from which day it takes effect."""

    def __init__(
        self,
        record: Record,
        view: CycleView,
        parent: QWidget | None = None,
        today: Callable[[], date] = date.today,
        drug: str | None = None,
    ) -> None:
        super().__init__(parent)
        self.record, self.view, self.today = record, view, today
        self.result_: ModificationResult | None = None
        self.setWindowTitle(f"Dose modification — {patient_title(view.patient)}")
        fit.keep_title_readable(self)  # the name and MRN stay readable
        self.form = load_ui("dose_modification.ui", self)
        QVBoxLayout(self).addWidget(self.form)
        f = self.form
        self.drug = child(f, QComboBox, "drug")
        self.current_text = child(f, QLabel, "current_text")
        self.new_dose = child(f, QComboBox, "new_dose")
        self.effective_next = child(f, QRadioButton, "effective_next")
        self.effective_this = child(f, QRadioButton, "effective_this")
        self.effective_day = child(f, QSpinBox, "effective_day")
        self.reason = child(f, QLineEdit, "reason")
        self.cause = child(f, QComboBox, "cause")
        for cause, words in _CAUSE_WORDS.items():
            self.cause.addItem(words, cause.value)
        self.cause.setCurrentIndex(-1)  # no default: the nurse says which, the DLT rules count it
        self.decided_by = child(f, QLineEdit, "decided_by")
        self.status = child(f, QLabel, "status")
        self.buttons = child(f, QDialogButtonBox, "buttons")
        self.errors = {
            name: child(f, QLabel, f"{name}_error")
            for name in ("drug", "new_dose", "effective_day", "reason", "cause", "decided_by")
        }
        for label in self.errors.values():
            label.setVisible(False)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("&Save modification")
        self.ok_button.setDefault(True)
        length = view.length_days
        self.effective_day.setRange(1, length)
        day_now = (today() - view.start).days + 1
        self.effective_day.setValue(min(max(day_now, 1), length))
        self.effective_this.setText(f"From day of cycle {view.number}:")
        self.effective_next.setText(f"From the ne&xt cycle ({view.number + 1})")
        self.decided_by.setText(record.app_user or "")
        self._choices: dict[str, LadderChoice] = {}
        # A warning shows under a field once the user has been there, not on an empty form.
        self.touched: set[str] = {"drug"}
        self._fill_drugs(drug)
        self.drug.currentIndexChanged.connect(self._fill_steps)
        for radio in (self.effective_next, self.effective_this):
            radio.toggled.connect(self._effective_changed)
        self.effective_day.valueChanged.connect(self._effective_changed)
        self.new_dose.currentIndexChanged.connect(self.recheck)
        self.reason.textChanged.connect(self.recheck)
        self.cause.currentIndexChanged.connect(self.recheck)
        self.decided_by.textChanged.connect(self.recheck)
        for name, signal in (
            ("new_dose", self.new_dose.activated),
            ("reason", self.reason.textEdited),
            ("cause", self.cause.activated),
            ("decided_by", self.decided_by.textEdited),
            ("effective_day", self.effective_day.valueChanged),
        ):
            signal.connect(lambda *_a, n=name: (self.touched.add(n), self.recheck()))
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        self._effective_changed()

    def _effective_day(self) -> int | None:
        return self.effective_day.value() if self.effective_this.isChecked() else None

    def _fill_drugs(self, chosen: str | None) -> None:
        day = self._effective_day() or self.view.length_days
        self._choices = {c.drug: c for c in modification_choices(self.record, self.view, day)}
        keep = chosen or (str(self.drug.currentData()) if self.drug.count() else None)
        self.drug.blockSignals(True)
        self.drug.clear()
        for choice in self._choices.values():
            self.drug.addItem(choice.drug_name, choice.drug)
        index = self.drug.findData(keep) if keep else -1
        self.drug.setCurrentIndex(max(index, 0))
        self.drug.blockSignals(False)
        self._fill_steps()

    def _effective_changed(self) -> None:
        self.effective_day.setEnabled(self.effective_this.isChecked())
        self._fill_drugs(None)

    def _fill_steps(self) -> None:
        choice = self._choices.get(str(self.drug.currentData()))
        self.new_dose.blockSignals(True)
        self.new_dose.clear()
        if choice is not None:
            when = (
                f"day {self._effective_day()}"
                if self._effective_day()
                else f"the end of cycle {self.view.number}"
            )
            self.current_text.setText(
                f"Dose in force at {when}: {format_quantity(choice.current, choice.unit)}."
            )
            for step in choice.steps:
                self.new_dose.addItem(format_quantity(step, choice.unit), str(step))
        self.new_dose.blockSignals(False)
        self.recheck()

    def request(self) -> ModificationRequest:
        data = self.new_dose.currentData()
        return ModificationRequest(
            drug=str(self.drug.currentData()),
            new_dose=Decimal(str(data)) if data is not None else None,
            reason=self.reason.text(),
            decided_by=self.decided_by.text(),
            effective_day=self._effective_day(),
            cause=ReductionCause(cause) if (cause := self.cause.currentData()) else None,
        )

    def recheck(self) -> dict[str, str]:
        try:
            problems = check_modification(self.record, self.view, self.request(), self.today())
        except DomainError as exc:
            problems = {exc.field or "drug": exc.message}
        for name, label in self.errors.items():
            show_error(label, problems.get(name) if name in self.touched else None)
        self.ok_button.setEnabled(not problems)
        waiting = [_FIELD_WORDS.get(n, n) for n in problems if n not in self.touched]
        if problems:
            self.status.setText(f"To save, fill in: {', '.join(waiting)}." if waiting else "")
        else:
            r = self.request()
            assert r.new_dose is not None
            choice = self._choices[r.drug]
            when = (
                f"from day {r.effective_day} of cycle {self.view.number}; the remaining planned "
                "doses are re-planned"
                if r.effective_day
                else f"from cycle {self.view.number + 1}"
            )
            self.status.setText(
                f"{choice.drug_name} {format_quantity(choice.current, choice.unit)} → "
                f"{format_quantity(r.new_dose, choice.unit)} {when}."
            )
        return problems

    def save(self) -> None:
        if self.recheck():
            return
        # An investigator's dose modification is signed by re-entering the password.
        self.signature = sign_then_save(
            self, self.record, MEANINGS["dose_modifications"], self._save_signed
        )

    def _save_signed(self, signer: Signer | None) -> None:
        def write() -> int:
            self.result_ = record_modification(self.record, self.view, self.request(), self.today())
            return self.result_.modification_id

        try:
            save_signed(self.record, signer, "dose_modifications", write, "dose modification")
        except DomainError as exc:
            self.status.setText(f"{WARNING_SIGN} {exc.message}")
            return
        except StorageError as exc:
            show_storage_error(self, exc)
            return
        self.accept()


# -- the day grid ----------------------------------------------------------------------------------
class CycleDosesDialog(QDialog):
    """A cycle's day grid: Enter records the selected dose's outcome; Ctrl+M modifies a dose."""

    def __init__(
        self,
        record: Record,
        patient_id: int,
        cycle_id: int | None = None,
        parent: QWidget | None = None,
        protocols: Mapping[str, Protocol] | None = None,
        today: Callable[[], date] = date.today,
        now: Callable[[], datetime] = _now,
    ) -> None:
        super().__init__(parent)
        self.record, self.patient_id, self.cycle_id = record, patient_id, cycle_id
        self.protocols, self.today, self.now = protocols, today, now
        self.view = current_cycle(record, patient_id, cycle_id, protocols)
        self.cycle_id = self.view.cycle.id
        self.setWindowTitle(f"Cycle {self.view.number} doses — {patient_title(self.view.patient)}")
        fit.keep_title_readable(self)  # the name and MRN stay readable
        layout = QVBoxLayout(self)
        self.heading = QLabel(self)
        self.heading.setWordWrap(True)
        layout.addWidget(self.heading)
        self.filter = QLineEdit(self)
        self.filter.setObjectName("filter")
        self.filter.setPlaceholderText("Filter by drug or day…")
        self.filter.setAccessibleName("Filter doses")
        layout.addWidget(self.filter)
        self.model = DoseGridModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setFilterKeyColumn(-1)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.table = QTableView(self)
        self.table.setObjectName("dose_grid")
        self.table.setModel(self.proxy)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setTabKeyNavigation(False)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        layout.addWidget(self.table)
        self.message = QLabel(self)
        self.message.setWordWrap(True)
        layout.addWidget(self.message)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        self.outcome_button = QPushButton("&Record outcome…", self)
        self.modify_button = QPushButton("&Modify dose…", self)
        self.modify_button.setToolTip("Ctrl+M")
        buttons.addButton(self.outcome_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.modify_button, QDialogButtonBox.ButtonRole.ActionRole)
        layout.addWidget(buttons)
        buttons.rejected.connect(self.reject)
        self.outcome_button.clicked.connect(self.edit_selected)
        self.modify_button.clicked.connect(self.modify)
        # Enter triggers the default button once; a double click opens the same editor.
        self.outcome_button.setDefault(True)
        self.table.doubleClicked.connect(lambda _index: self.edit_selected())
        shortcut = QShortcut(QKeySequence("Ctrl+M"), self)
        shortcut.activated.connect(self.modify)
        self.filter.textChanged.connect(self.proxy.setFilterFixedString)
        self.last_dialog: QDialog | None = None
        self.refresh()
        self.resize(self.table.horizontalHeader().length() + 80, 560)

    def refresh(self) -> None:
        self.view = current_cycle(self.record, self.patient_id, self.cycle_id, self.protocols)
        rows = cycle_doses(self.record, self.view)
        self.model.set_doses(rows)
        row = self.view.cycle.value
        open_count = sum(1 for d in rows if d.status is DoseStatus.PLANNED)
        self.heading.setText(
            f"{self.view.protocol.name} cycle {row.number} ({row.phase}), day 1 "
            f"{day_text(self.view.start)}, {row.status.value}; {open_count} of {len(rows)} "
            "doses have nothing recorded yet."
        )
        if self.proxy.rowCount():
            self.table.selectRow(0)

    def selected(self) -> DoseRow | None:
        indexes = self.table.selectionModel().selectedRows()
        if not indexes:
            return None
        return self.model.doses[self.proxy.mapToSource(indexes[0]).row()]

    def edit_selected(self) -> DoseOutcomeDialog | None:
        dose = self.selected()
        if dose is None:
            self.message.setText(f"{WARNING_SIGN} Select a dose first.")
            return None
        dialog = DoseOutcomeDialog(self.record, self.view, dose, self, self.now)
        dialog.finished.connect(lambda _r: self.refresh())
        self.last_dialog = dialog
        dialog.open()
        return dialog

    def modify(self) -> DoseModificationDialog | None:
        dose = self.selected()
        try:
            dialog = DoseModificationDialog(
                self.record, self.view, self, self.today, dose.drug if dose else None
            )
        except DomainError as exc:  # a planned cycle that cannot be planned yet (no BSA)
            self.message.setText(f"{WARNING_SIGN} {exc.message}")
            return None
        dialog.finished.connect(lambda _r: self.refresh())
        self.last_dialog = dialog
        dialog.open()
        return dialog


# -- entry points ----------------------------------------------------------------------------------
_ORPHANS: list[QMessageBox] = []


def explain(parent: QWidget | None, message: str) -> QMessageBox:
    """Why a dose window cannot open (not enrolled, no cycle yet): said, not a crash."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Information)
    box.setWindowTitle("Doses")
    box.setText(message)
    if parent is None:  # nothing owns it: keep it alive until it is closed
        _ORPHANS.append(box)
        box.finished.connect(lambda _r: _ORPHANS.remove(box))
    box.open()
    return box


def open_cycle_doses(
    parent: QWidget | None,
    record: Record,
    patient_id: int,
    cycle_id: int | None = None,
    protocols: Mapping[str, Protocol] | None = None,
) -> CycleDosesDialog | None:
    try:
        dialog = CycleDosesDialog(record, patient_id, cycle_id, parent, protocols)
    except StorageError as exc:
        show_storage_error(parent, exc)
        return None
    except DomainError as exc:
        explain(parent, exc.message)
        return None
    dialog.open()
    return dialog


def open_dose_outcome(
    parent: QWidget | None,
    record: Record,
    patient_id: int,
    dose_id: int,
    protocols: Mapping[str, Protocol] | None = None,
) -> DoseOutcomeDialog | None:
    try:
        cycle_id = record.repos.doses.get(dose_id).value.cycle_id
        view = current_cycle(record, patient_id, cycle_id, protocols)
        found = [d for d in cycle_doses(record, view) if d.id == dose_id]
        if not found:
            raise DomainError(f"Dose {dose_id} was voided or re-planned; reopen the grid.")
        dose = found[0]
    except StorageError as exc:
        show_storage_error(parent, exc)
        return None
    except DomainError as exc:
        explain(parent, exc.message)
        return None
    dialog = DoseOutcomeDialog(record, view, dose, parent)
    dialog.open()
    return dialog


def open_dose_modification(
    parent: QWidget | None,
    record: Record,
    patient_id: int,
    protocols: Mapping[str, Protocol] | None = None,
    cycle_id: int | None = None,
) -> DoseModificationDialog | None:
    """The modification form for ``cycle_id`` (the cycle shown in the chart), else the latest.

    Building the form plans the cycle: a cycle that cannot be planned yet (a planned cycle
    without BSA) is explained, not raised."""
    try:
        # Only on the open enrolment (refused, with the reason, when off study or not enrolled).
        latest = current_cycle(record, patient_id, None, protocols)
        view = current_cycle(record, patient_id, cycle_id, protocols) if cycle_id else latest
        if view.enrolment.id != latest.enrolment.id:
            raise DomainError(
                f"Cycle {view.number} belongs to an enrolment that has ended; a dose can "
                "only be modified on the current one.",
                field="cycle",
            )
        dialog = DoseModificationDialog(record, view, parent)
    except StorageError as exc:
        show_storage_error(parent, exc)
        return None
    except DomainError as exc:
        explain(parent, exc.message)
        return None
    dialog.open()
    return dialog
