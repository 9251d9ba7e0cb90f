"""Enrolment: the form from ``ui/enrolment.ui`` over ``services.enrolment``.

Every change re-runs ``check_enrolment`` (pure, instant): BSA and CrCl are shown live, each
problem appears under its field with a warning sign, and OK stays disabled with the reasons
written next to it until the enrolment is allowed. For a protocol with dose levels (BPD) only
the level the 3+3 engine allows can be chosen; the others are shown disabled with the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from itertools import pairwise

from PySide6.QtCore import QDate
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from clinic_app.core.ismp import format_number
from clinic_app.core.protocol import Protocol
from clinic_app.core.records import Patient
from clinic_app.gui import fit
from clinic_app.gui.dates import DATE_FORMAT, from_qdate, to_qdate
from clinic_app.gui.errors import show_storage_error
from clinic_app.gui.texts import parse_decimal, patient_title
from clinic_app.gui.uiload import child, load_ui
from clinic_app.gui.warnings import WARNING_SIGN, style_error_label
from clinic_app.services.enrolment import (
    EnrolmentCheck,
    EnrolmentContext,
    EnrolmentRefused,
    EnrolmentRequest,
    EnrolmentResult,
    check_enrolment,
    enrol,
    gate_items,
    gather_context,
)
from clinic_app.storage.database import Record
from clinic_app.storage.errors import StorageError

_ERROR_FIELDS = (
    "protocol",
    "enrolled_on",
    "cycle1_start",
    "height_cm",
    "weight_kg",
    "measured_on",
    "creatinine",
    "creatinine_unit",
    "creatinine_on",
)
_MAX_REASONS = 4


class _GateRow:
    def __init__(self, key: str, label: str, parent: QWidget, today: date) -> None:
        self.key = key
        self.check = QCheckBox(label, parent)
        self.check.setObjectName(f"gate_{key}")
        self.date = QDateEdit(parent)
        self.date.setObjectName(f"gate_{key}_date")
        self.date.setCalendarPopup(True)
        self.date.setDisplayFormat(DATE_FORMAT)
        self.date.setDate(to_qdate(today))
        self.date.setEnabled(False)
        self.date.setAccessibleName(f"Date recorded: {label}")
        self.error = style_error_label(QLabel(parent))
        self.check.toggled.connect(self.date.setEnabled)


class EnrolmentDialog(QDialog):
    def __init__(
        self,
        record: Record,
        protocols: Mapping[str, Protocol],
        patient_id: int,
        parent: QWidget | None = None,
        today: Callable[[], date] = date.today,
    ) -> None:
        super().__init__(parent)
        self.record = record
        self.protocols = dict(protocols)
        self.patient_id = patient_id
        self.today = today
        self.patient: Patient = record.repos.patients.get(patient_id).value
        self.result_: EnrolmentResult | None = None
        self.check: EnrolmentCheck | None = None
        self._context: EnrolmentContext | None = None
        self._gates: list[_GateRow] = []
        self._level_buttons: dict[int, QRadioButton] = {}
        self.setWindowTitle(f"Enrol — {patient_title(self.patient)}")

        self.form = load_ui("enrolment.ui", self)
        QVBoxLayout(self)
        f = self.form
        self.protocol = child(f, QComboBox, "protocol")
        self.enrolled_on = child(f, QDateEdit, "enrolled_on")
        self.cycle1_start = child(f, QDateEdit, "cycle1_start")
        self.light_chain = child(f, QComboBox, "light_chain")
        self.height_edit = child(f, QLineEdit, "height_cm")
        self.weight_edit = child(f, QLineEdit, "weight_kg")
        self.measured_on = child(f, QDateEdit, "measured_on")
        self.creatinine_edit = child(f, QLineEdit, "creatinine")
        self.creatinine_unit = child(f, QComboBox, "creatinine_unit")
        self.creatinine_on = child(f, QDateEdit, "creatinine_on")
        self.bsa_result = child(f, QLabel, "bsa_result")
        self.crcl_result = child(f, QLabel, "crcl_result")
        self.gates_grid = child(f, QGridLayout, "gates_grid")
        self.gates_box = child(f, QGroupBox, "gates_box")
        self.levels_box = child(f, QGroupBox, "levels_box")
        self.levels_list = child(f, QVBoxLayout, "levels_list")
        self.escalation_reason = child(f, QLabel, "escalation_reason")
        self.notes = child(f, QLabel, "notes")
        self.status = child(f, QLabel, "status")
        self.buttons = child(f, QDialogButtonBox, "buttons")
        # A long form scrolls; why Enrol is unavailable, and the buttons, stay in view.
        self.scroll = fit.scrolling(self, f, self.status, self.buttons)
        self.errors = {name: child(f, QLabel, f"{name}_error") for name in _ERROR_FIELDS}
        for label in self.errors.values():
            label.setVisible(False)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("&Enrol")
        self.ok_button.setDefault(True)
        self.level_group = QButtonGroup(self)
        # Warnings appear under a field once the nurse has been there, not on an empty form.
        self.touched: set[str] = set()

        now = to_qdate(today())
        for edit in (self.enrolled_on, self.measured_on, self.creatinine_on, self.cycle1_start):
            edit.setDate(now)
            edit.setMaximumDate(now if edit is not self.cycle1_start else QDate(9999, 12, 31))
            edit.dateChanged.connect(self.recheck)
        for key, protocol in sorted(self.protocols.items(), key=lambda kv: kv[1].name):
            self.protocol.addItem(f"{protocol.name} — {protocol.title}", key)
        self.protocol.currentIndexChanged.connect(self._protocol_changed)
        for line_edit in (self.height_edit, self.weight_edit, self.creatinine_edit):
            line_edit.textChanged.connect(self.recheck)
        touching = {
            "enrolled_on": self.enrolled_on.dateChanged,
            "cycle1_start": self.cycle1_start.dateChanged,
            "measured_on": self.measured_on.dateChanged,
            "creatinine_on": self.creatinine_on.dateChanged,
            "height_cm": self.height_edit.textEdited,
            "weight_kg": self.weight_edit.textEdited,
            "creatinine": self.creatinine_edit.textEdited,
            "creatinine_unit": self.creatinine_unit.activated,
            "protocol": self.protocol.activated,
        }
        for name, signal in touching.items():
            signal.connect(lambda *_args, n=name: self.touch(n))
        self.creatinine_unit.currentIndexChanged.connect(self.recheck)
        # IMWG: the involved chain says which way up the FLC ratio is read (sCR).
        for text, data in (("not known", None), ("kappa", "kappa"), ("lambda", "lambda")):
            self.light_chain.addItem(text, data)
        self.level_group.idToggled.connect(lambda _id, _on: self.recheck())
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        self._protocol_changed()
        fit.fit_to_screen(self, fit.scrolling_size(self, self.scroll))

    def touch(self, name: str) -> None:
        if name in self.touched:
            return
        self.touched.add(name)
        self.recheck()

    # -- protocol-dependent parts ---------------------------------------------------------------
    def current_protocol(self) -> Protocol:
        return self.protocols[str(self.protocol.currentData())]

    def _protocol_changed(self) -> None:
        protocol = self.current_protocol()
        try:
            self._context = gather_context(self.record, protocol, self.patient_id)
        except StorageError as exc:
            show_storage_error(self, exc)
            self._context = None
        self._build_gates(protocol)
        self._build_levels(protocol)
        self.recheck()

    def _build_gates(self, protocol: Protocol) -> None:
        for row in self._gates:
            for widget in (row.check, row.date, row.error):
                self.gates_grid.removeWidget(widget)
                widget.deleteLater()
        self._gates = []
        today = self.today()
        for i, (key, label) in enumerate(gate_items(protocol)):
            row = _GateRow(key, label, self.gates_box, today)
            self.gates_grid.addWidget(row.check, 2 * i, 0)
            self.gates_grid.addWidget(row.date, 2 * i, 1)
            self.gates_grid.addWidget(row.error, 2 * i + 1, 0, 1, 2)
            row.check.toggled.connect(self.recheck)
            row.date.dateChanged.connect(self.recheck)
            self._gates.append(row)
        # Keyboard order: protocol, dates, then each gate and its date, then body values.
        chain: list[QWidget] = [self.protocol, self.enrolled_on, self.cycle1_start]
        for row in self._gates:
            chain += [row.check, row.date]
        chain += [
            self.height_edit,
            self.weight_edit,
            self.measured_on,
            self.creatinine_edit,
            self.creatinine_unit,
            self.creatinine_on,
        ]
        for first, second in pairwise(chain):
            QWidget.setTabOrder(first, second)

    def _build_levels(self, protocol: Protocol) -> None:
        for button in self._level_buttons.values():
            self.level_group.removeButton(button)
            self.levels_list.removeWidget(button)
            button.deleteLater()
        self._level_buttons = {}
        self.levels_box.setVisible(bool(protocol.dose_levels))
        if not protocol.dose_levels or self._context is None:
            return
        check = check_enrolment(
            protocol, self.patient, self._request(None), self._context, self.today()
        )
        for choice in check.levels:
            state = "allowed now" if choice.allowed else f"closed: {choice.reason}"
            button = QRadioButton(f"Level {choice.level}: {choice.doses} — {state}", self)
            button.setObjectName(f"level_{choice.level}")
            button.setEnabled(choice.allowed)
            button.setToolTip(choice.reason)
            self.levels_list.addWidget(button)
            self.level_group.addButton(button, choice.level + 100)
            self._level_buttons[choice.level] = button
        allowed = check.allowed_levels
        if len(allowed) == 1:
            self._level_buttons[allowed[0]].setChecked(True)
        decision = check.escalation
        self.escalation_reason.setText(
            f"3+3 decision: {decision.text()}. {decision.reason}" if decision else ""
        )

    # -- reading the form -----------------------------------------------------------------------
    def chosen_level(self) -> int | None:
        for level, button in self._level_buttons.items():
            if button.isChecked():
                return level
        return None

    def _request(self, level: int | None) -> EnrolmentRequest:
        gates = {
            row.key: from_qdate(row.date.date()) for row in self._gates if row.check.isChecked()
        }
        return EnrolmentRequest(
            protocol=self.current_protocol().key,
            enrolled_on=from_qdate(self.enrolled_on.date()),
            cycle1_start=from_qdate(self.cycle1_start.date()),
            gates=gates,
            height_cm=parse_decimal(self.height_edit.text()),
            weight_kg=parse_decimal(self.weight_edit.text()),
            measured_on=from_qdate(self.measured_on.date()),
            creatinine=parse_decimal(self.creatinine_edit.text()),
            creatinine_unit=self.creatinine_unit.currentText(),
            creatinine_on=from_qdate(self.creatinine_on.date()),
            dose_level=level,
            light_chain=self.light_chain.currentData(),
            # Typed but not a number: refused as such, not as an empty field.
            not_numbers={
                name: edit.text().strip()
                for name, edit in (
                    ("height_cm", self.height_edit),
                    ("weight_kg", self.weight_edit),
                    ("creatinine", self.creatinine_edit),
                )
                if edit.text().strip() and parse_decimal(edit.text()) is None
            },
        )

    def request(self) -> EnrolmentRequest:
        return self._request(self.chosen_level())

    # -- live check -----------------------------------------------------------------------------
    def recheck(self) -> None:
        if self._context is None:
            self.ok_button.setEnabled(False)
            self.status.setText(f"{WARNING_SIGN} The record could not be read; see the message.")
            return
        protocol = self.current_protocol()
        check = check_enrolment(protocol, self.patient, self.request(), self._context, self.today())
        self.check = check
        self._show_numbers(check)
        self._show_problems(check)
        # How the protocol text was read is for trial staff (Trial ▸ Protocols…), not here.
        notes = [n for n in check.notes if n not in protocol.readings]
        self.notes.setText("\n".join(f"Note: {n}" for n in notes))
        self.notes.setVisible(bool(notes))
        self.ok_button.setEnabled(check.ok)

    def _show_numbers(self, check: EnrolmentCheck) -> None:
        if check.bsa is not None:
            bsa = check.bsa
            self.bsa_result.setText(
                f"{bsa.m2} m² ({bsa.formula.value.capitalize()}, height "
                f"{format_number(bsa.height_cm)} cm, weight {format_number(bsa.weight_kg)} kg)"
            )
        else:
            self.bsa_result.setText("— (needs height, weight and their date)")
        if check.crcl is not None:
            crcl = check.crcl
            # The exact CrCl cut to one decimal and the creatinine as entered (core.dosing).
            self.crcl_result.setText(crcl.describe().removeprefix("CrCl "))
        else:
            self.crcl_result.setText("— (needs weight, creatinine and its date)")

    def _show_problems(self, check: EnrolmentCheck) -> None:
        shown: set[str] = set()
        for name, label in self.errors.items():
            messages = check.messages(name) if name in self.touched else []
            label.setText("\n".join(f"{WARNING_SIGN} {m}" for m in messages))
            label.setVisible(bool(messages))
            if messages:
                shown.add(name)
        for row in self._gates:
            # "Not recorded" is what an unticked box already says; show it only in the summary.
            visible = check.messages(f"gate:{row.key}", with_not_recorded=False)
            row.error.setText("\n".join(f"{WARNING_SIGN} {m}" for m in visible))
            row.error.setVisible(bool(visible))
        if check.ok:
            level = (
                f" at dose level {check.plan.dose_level}"
                if check.plan and (check.plan.dose_level is not None)
                else ""
            )
            self.status.setText(f"Ready to enrol{level}; cycle 1 will be planned.")
            return
        reasons = [p.message for p in check.problems]
        more = len(reasons) - _MAX_REASONS
        heading = "Enrol is not available yet:" if self.touched else "To enrol, record:"
        text = heading + "\n" + "\n".join(f"{WARNING_SIGN} {r}" for r in reasons[:_MAX_REASONS])
        if more > 0:
            text += f"\n… and {more} more."
        self.status.setText(text)
        if self.isVisible():
            fit.refit(self)

    # -- save -------------------------------------------------------------------------------------
    def save(self) -> None:
        self.recheck()
        if self.check is None or not self.check.ok:
            return
        try:
            self.result_ = enrol(
                self.record,
                self.current_protocol(),
                self.patient_id,
                self.request(),
                self.today(),
            )
        except EnrolmentRefused as exc:
            # The record changed since the dialog opened (e.g. another window took the place).
            self._context = gather_context(self.record, self.current_protocol(), self.patient_id)
            self._build_levels(self.current_protocol())
            self.recheck()
            self.status.setText(f"{WARNING_SIGN} {exc.message}")
            return
        except StorageError as exc:
            show_storage_error(self, exc)
            return
        self.accept()
