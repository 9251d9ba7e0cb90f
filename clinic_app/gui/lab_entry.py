"""Lab results form (``ui/lab_entry.ui``): a panel graded as it is typed, saved in one go.

The checks and the grade text come from ``clinic_app.services.lab_entry``; this module only
shows them: the CTCAE term and grade beside each value, the reason for a refusal under the
field (with a warning sign, not colour alone), a confirmation box for an unusual value.
The same form corrects or voids one saved result (:func:`open_lab_correction`), with a reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise

from PySide6.QtCore import QDateTime, Qt
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from clinic_app.core import labs
from clinic_app.core.errors import DomainError
from clinic_app.core.ismp import plain_number
from clinic_app.core.records import Patient
from clinic_app.gui.errors import show_storage_error
from clinic_app.gui.uiload import child, load_ui
from clinic_app.services.lab_entry import (
    PANEL,
    WARNING_SIGN,
    EntryStatus,
    LabEntry,
    PanelCheck,
    ReferenceRanges,
    check_panel,
    correct_lab,
    reference_ranges,
    save_panel,
    void_lab,
)
from clinic_app.storage.database import Record
from clinic_app.storage.errors import StorageError

_ERROR_STYLE = "color: #b00020;"
_SEVERE_STYLE = "color: #b00020; font-weight: bold;"


def patient_title(patient: Patient) -> str:
    """Full name, date of birth and MRN, so a patient switch is never ambiguous."""
    return f"{patient.full_name} (born {patient.date_of_birth.isoformat()}, MRN {patient.mrn})"


def to_qdatetime(moment: datetime) -> QDateTime:
    """A naive local ``datetime`` as the QDateTime a QDateTimeEdit shows."""
    return QDateTime(
        moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second
    )


def _local_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class LabRow:
    """The widgets of one test on the form."""

    test: str
    value: QLineEdit
    unit: QComboBox
    lln: QLineEdit
    uln: QLineEdit
    grade: QLabel
    error: QLabel
    confirm: QCheckBox

    def entry(self) -> LabEntry:
        return LabEntry(
            self.test,
            self.value.text(),
            str(self.unit.currentData()),
            self.lln.text(),
            self.uln.text(),
        )


class LabEntryDialog(QDialog):
    """Enter a panel (``lab_id`` None) or correct/void one saved result.

    After Save, ``saved_ids`` holds the new lab ids (or the corrected one); after Void,
    ``voided`` is True.
    """

    def __init__(
        self,
        record: Record,
        patient_id: int,
        parent: QWidget | None = None,
        *,
        lab_id: int | None = None,
        now: Callable[[], datetime] = _local_now,
    ) -> None:
        super().__init__(parent)
        self.record = record
        self.patient_id = patient_id
        self.lab_id = lab_id
        self.now = now
        self.saved_ids: tuple[int, ...] = ()
        self.voided = False
        self.patient = record.repos.patients.get(patient_id).value
        self.ranges: ReferenceRanges = reference_ranges(record)
        self.form = load_ui("lab_entry.ui", self)
        QVBoxLayout(self).addWidget(self.form)
        self.collected_at = child(self.form, QDateTimeEdit, "collected_at")
        self.collected_error = child(self.form, QLabel, "collected_at_error")
        self.reason = child(self.form, QLineEdit, "reason")
        self.reason_error = child(self.form, QLabel, "reason_error")
        self.summary = child(self.form, QLabel, "summary")
        self.buttons = child(self.form, QDialogButtonBox, "buttons")
        self.grid = child(self.form, QGridLayout, "panel_grid")
        self.rows: dict[str, LabRow] = {}
        self.void_button: QPushButton | None = None
        self.stored_version: int | None = None
        tests = self._tests_shown()
        self._build_rows(tests)
        self._set_up_mode()
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setDefault(True)
        self.collected_at.dateTimeChanged.connect(self.recheck)
        self._chain_tab_order()
        self.recheck()
        metrics = QFontMetrics(self.font())
        self.resize(metrics.horizontalAdvance("M") * 110, metrics.height() * 40)

    # -- building -------------------------------------------------------------------------------
    def _tests_shown(self) -> list[tuple[str, tuple[str, ...]]]:
        if self.lab_id is None:
            return list(PANEL)
        stored = self.record.repos.labs.get(self.lab_id)
        self.stored_version = stored.version
        return [("Correct this result", (stored.value.test,))]

    def _build_rows(self, sections: list[tuple[str, tuple[str, ...]]]) -> None:
        grid = self.grid
        header_font = QFont(self.font())
        header_font.setBold(True)
        for column, text in enumerate(("Test", "Value", "Unit", "LLN", "ULN", "CTCAE grade")):
            heading = QLabel(text)
            heading.setFont(header_font)
            grid.addWidget(heading, 0, column)
        line = 1
        for section, tests in sections:
            title = QLabel(section)
            title.setFont(header_font)
            grid.addWidget(title, line, 0, 1, 6)
            line += 1
            for test in tests:
                line = self._add_row(test, line)
        grid.setColumnStretch(5, 1)
        grid.setRowStretch(line, 1)

    def _add_row(self, test: str, line: int) -> int:
        entry = labs.lab_test(test)
        name = QLabel(f"{entry.name}:")
        value = QLineEdit()
        value.setObjectName(f"{test}_value")
        value.setAccessibleName(f"{entry.name} value")
        name.setBuddy(value)
        unit = QComboBox()
        unit.setObjectName(f"{test}_unit")
        unit.setAccessibleName(f"{entry.name} unit")
        for key in entry.units:
            unit.addItem(labs.unit_label(key), key)
        lln, uln = QLineEdit(), QLineEdit()
        for edit, which in ((lln, "lln"), (uln, "uln")):
            edit.setObjectName(f"{test}_{which}")
            edit.setAccessibleName(f"{entry.name} {which.upper()}")
        width = QFontMetrics(self.font()).horizontalAdvance("0000.000")
        for edit in (value, lln, uln):
            edit.setMaximumWidth(width * 3 // 2)
        grade = QLabel()
        grade.setObjectName(f"{test}_grade")
        grade.setWordWrap(False)  # wrapped text would be cut in a fixed-height grid row
        grade.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        error = QLabel()
        error.setObjectName(f"{test}_error")
        error.setWordWrap(True)
        error.setStyleSheet(_ERROR_STYLE)
        error.setVisible(False)
        confirm = QCheckBox("Value checked: it is correct")
        confirm.setObjectName(f"{test}_confirm")
        confirm.setVisible(False)
        row = LabRow(test, value, unit, lln, uln, grade, error, confirm)
        self.rows[test] = row
        for column, widget in enumerate((name, value, unit, lln, uln, grade)):
            self.grid.addWidget(widget, line, column)
        self.grid.addWidget(error, line + 1, 1, 1, 5)
        self.grid.addWidget(confirm, line + 2, 1, 1, 5)
        self._fill_limits(row)
        value.textChanged.connect(self.recheck)
        lln.textChanged.connect(self.recheck)
        uln.textChanged.connect(self.recheck)
        unit.currentIndexChanged.connect(lambda _i, r=row: self._unit_changed(r))
        confirm.toggled.connect(self.recheck)
        return line + 3

    def _fill_limits(self, row: LabRow) -> None:
        limits = self.ranges.get(row.test, str(row.unit.currentData()))
        row.lln.setText("" if limits.lln is None else plain_number(limits.lln))
        row.uln.setText("" if limits.uln is None else plain_number(limits.uln))

    def _unit_changed(self, row: LabRow) -> None:
        # Limits are in the unit of the value: switching units takes that unit's limits.
        self._fill_limits(row)
        self.recheck()

    def _set_up_mode(self) -> None:
        title = "Lab results" if self.lab_id is None else "Correct lab result"
        self.setWindowTitle(f"{title} — {patient_title(self.patient)}")
        correcting = self.lab_id is not None
        for name in ("reason_label", "reason"):
            child(self.form, QWidget, name).setVisible(correcting)
        if not correcting:
            stamp = self.now().astimezone().replace(second=0, microsecond=0, tzinfo=None)
            self.collected_at.setDateTime(to_qdatetime(stamp))
            return
        assert self.lab_id is not None
        lab = self.record.repos.labs.get(self.lab_id).value
        row = self.rows[lab.test]
        row.unit.setCurrentIndex(row.unit.findData(lab.unit))
        row.value.setText(plain_number(lab.value))
        row.lln.setText("" if lab.lln is None else plain_number(lab.lln))
        row.uln.setText("" if lab.uln is None else plain_number(lab.uln))
        local = lab.collected_at.astimezone().replace(tzinfo=None)
        self.collected_at.setDateTime(to_qdatetime(local))
        self.void_button = self.buttons.addButton(
            "&Void (entered in error)", QDialogButtonBox.ButtonRole.DestructiveRole
        )
        self.void_button.clicked.connect(self.void)

    def _chain_tab_order(self) -> None:
        chain: list[QWidget] = [self.collected_at]
        for row in self.rows.values():
            chain += [row.value, row.unit, row.lln, row.uln, row.confirm]
        if self.lab_id is not None:
            chain.append(self.reason)
        for first, second in pairwise(chain):
            QWidget.setTabOrder(first, second)
        first_value = next(iter(self.rows.values())).value
        first_value.setFocus()

    # -- reading and checking -------------------------------------------------------------------
    def collected(self) -> datetime:
        # The form shows local time; the record keeps UTC instants.
        local = self.collected_at.dateTime().toPython()
        assert isinstance(local, datetime)
        return local.astimezone(UTC)

    def entries(self) -> list[LabEntry]:
        return [row.entry() for row in self.rows.values()]

    def confirmed(self) -> list[str]:
        return [test for test, row in self.rows.items() if row.confirm.isChecked()]

    def check(self) -> PanelCheck:
        return check_panel(self.entries(), self.collected(), self.now())

    def recheck(self) -> None:
        """Show, for every row, the grade or why the value is refused, as it is typed."""
        panel = self.check()
        for test, row in self.rows.items():
            result = panel.entries[test]
            errors = dict(result.errors)
            if result.status is EntryStatus.UNUSUAL:
                errors.setdefault("value", result.warning)
            message = " ".join(errors.values())
            row.error.setText(f"{WARNING_SIGN} {message}" if message else "")
            row.error.setVisible(bool(message))
            row.value.setAccessibleDescription(message)
            row.confirm.setVisible(result.status is EntryStatus.UNUSUAL)
            if result.status is not EntryStatus.UNUSUAL and row.confirm.isChecked():
                row.confirm.blockSignals(True)
                row.confirm.setChecked(False)
                row.confirm.blockSignals(False)
            if result.status is EntryStatus.REFUSED:
                row.grade.setText("Not graded: the value is refused")
            else:
                row.grade.setText(result.grade_text)
            row.grade.setStyleSheet(_SEVERE_STYLE if result.severe else "")
            row.grade.setToolTip(result.grade.explanation if result.grade else "")
        collected = panel.collected_error
        self.collected_error.setText(f"{WARNING_SIGN} {collected}" if collected else "")
        self.collected_error.setVisible(bool(collected))
        entered = len(panel.entered)
        severe = sum(1 for c in panel.entered if c.severe)
        text = f"{entered} value{'s' if entered != 1 else ''} entered"
        if severe:
            text += f"; {WARNING_SIGN} {severe} at grade 3 or more"
        self.summary.setText(text + ".")

    # -- saving ---------------------------------------------------------------------------------
    def _show_problem(self, field: str, message: str) -> None:
        if field == "collected_at":
            self.collected_error.setText(f"{WARNING_SIGN} {message}")
            self.collected_error.setVisible(True)
            self.collected_at.setFocus()
            return
        if field == "reason":
            self.reason_error.setText(f"{WARNING_SIGN} {message}")
            self.reason_error.setVisible(True)
            self.reason.setFocus()
            return
        if field == "panel":
            self.summary.setText(f"{WARNING_SIGN} {message}")
            next(iter(self.rows.values())).value.setFocus()
            return
        test, _, part = field.partition(".")
        row = self.rows.get(test)
        if row is None:
            self.summary.setText(f"{WARNING_SIGN} {message}")
            return
        row.error.setText(f"{WARNING_SIGN} {message}")
        row.error.setVisible(True)
        target: QWidget = {
            "confirm": row.confirm,
            "lln": row.lln,
            "uln": row.uln,
            "unit": row.unit,
        }.get(part, row.value)
        target.setFocus()

    def save(self) -> None:
        self.reason_error.setVisible(False)
        try:
            if self.lab_id is None:
                self.saved_ids = save_panel(
                    self.record,
                    self.patient_id,
                    self.entries(),
                    self.collected(),
                    now=self.now(),
                    confirmed_unusual=self.confirmed(),
                )
            else:
                assert self.stored_version is not None
                test = next(iter(self.rows))
                stored = correct_lab(
                    self.record,
                    self.patient_id,
                    self.lab_id,
                    self.rows[test].entry(),
                    self.collected(),
                    expected_version=self.stored_version,
                    reason=self.reason.text(),
                    now=self.now(),
                    confirmed_unusual=test in self.confirmed(),
                )
                self.saved_ids = (stored.id,)
        except DomainError as error:
            self._show_problem(error.field or "panel", error.message)
            return
        except StorageError as error:
            show_storage_error(self, error)
            return
        self.accept()

    def void(self) -> None:
        assert self.lab_id is not None and self.stored_version is not None
        self.reason_error.setVisible(False)
        try:
            void_lab(
                self.record,
                self.lab_id,
                expected_version=self.stored_version,
                reason=self.reason.text(),
            )
        except DomainError as error:
            self._show_problem("reason", error.message)
            return
        except StorageError as error:
            show_storage_error(self, error)
            return
        self.voided = True
        self.accept()


def open_lab_entry(parent: QWidget | None, record: Record, patient_id: int) -> LabEntryDialog:
    """Open the lab panel form for a patient (non-modal to the app; modal to its window)."""
    dialog = LabEntryDialog(record, patient_id, parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()
    return dialog


def open_lab_correction(
    parent: QWidget | None, record: Record, patient_id: int, lab_id: int
) -> LabEntryDialog:
    """Open one saved result to correct it or void it, with a reason (audited)."""
    dialog = LabEntryDialog(record, patient_id, parent, lab_id=lab_id)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()
    return dialog
