"""Response assessment: ``ui/response_assessment.ui`` over ``services.response_entry``.

Every keystroke re-runs :func:`check_response` (pure reads, no writes): a refused value gets a
sentence under its field with a warning sign, and the IMWG category with its explanation is
shown as the values are typed. Save (Enter) stores the assessment in one transaction; Esc
cancels. Opened on an existing assessment it *corrects* it: the reason is required and the
old values stay in the audit trail.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from clinic_app.core.errors import DomainError
from clinic_app.core.records import Immunofixation, Patient, ResponseAssessment
from clinic_app.core.response import ResponseCategory
from clinic_app.gui import fit
from clinic_app.gui.dates import from_qdate, to_qdate
from clinic_app.gui.errors import show_storage_error
from clinic_app.gui.texts import patient_title
from clinic_app.gui.uiload import child, load_ui
from clinic_app.gui.warnings import WARNING_SIGN, style_error_label
from clinic_app.services.response_entry import (
    NUMBER_FIELDS,
    ResponseCheck,
    ResponseForm,
    check_response,
    save_response,
)
from clinic_app.storage.database import Record
from clinic_app.storage.errors import StorageError
from clinic_app.storage.rows import Stored

_CHOICE_FIELDS = (
    "serum_ife",
    "urine_ife",
    "clonal_marrow_cells",
    "soft_tissue_plasmacytoma",
)
_SHRINKAGE = "plasmacytoma_shrinkage_pct"
_SHRINKAGE_WIDGETS = (_SHRINKAGE, f"{_SHRINKAGE}_label", f"{_SHRINKAGE}_unit")
_ALL_FIELDS = ("assessed_on", "end_of_cycle", *(n for n, _, _ in NUMBER_FIELDS), *_CHOICE_FIELDS)


def _ife(data: object) -> Immunofixation | None:
    return None if data is None else Immunofixation(str(data))


def _plain(value: object) -> str:
    return "" if value is None else format(value, "f")


class ResponseEntryDialog(QDialog):
    def __init__(
        self,
        record: Record,
        patient_id: int,
        parent: QWidget | None = None,
        *,
        today: Callable[[], date] = date.today,
        replacing_id: int | None = None,
        end_of_cycle: int | None = None,
    ) -> None:
        super().__init__(parent)
        self.record = record
        self.patient_id = patient_id
        self.today = today
        self.patient: Patient = record.repos.patients.get(patient_id).value
        self.replacing: Stored[ResponseAssessment] | None = (
            record.repos.responses.get(replacing_id) if replacing_id is not None else None
        )
        self.saved_id: int | None = None
        self.check: ResponseCheck | None = None
        verb = "Correct response assessment" if self.replacing else "Response assessment"
        self.setWindowTitle(f"{verb} — {patient_title(self.patient)}")
        fit.keep_title_readable(self)  # the name and MRN stay readable

        self.form = load_ui("response_assessment.ui", self)
        layout = QVBoxLayout(self)
        layout.addWidget(self.form)
        f = self.form
        self.assessed_on = child(f, QDateEdit, "assessed_on")
        self.end_of_cycle = child(f, QSpinBox, "end_of_cycle")
        self.numbers = {name: child(f, QLineEdit, name) for name, _, _ in NUMBER_FIELDS}
        self.choices = {name: child(f, QComboBox, name) for name in _CHOICE_FIELDS}
        self.new_lesions = child(f, QCheckBox, "new_lesions")
        self.shrinkage_widgets = [child(f, QWidget, name) for name in _SHRINKAGE_WIDGETS]
        # The yes/no "shrunk by >= 50 %" of an older entry: kept unless a measurement replaces it.
        self.old_shrunk: bool | None = (
            self.replacing.value.plasmacytoma_shrunk_50pct if self.replacing else None
        )
        self.imwg_result = child(f, QLabel, "imwg_result")
        self.buttons = child(f, QDialogButtonBox, "buttons")
        self.errors = {name: child(f, QLabel, f"{name}_error") for name in _ALL_FIELDS}
        # Room for the category, its explanation and two "limited by" lines without jumping.
        lines = self.imwg_result.fontMetrics().lineSpacing()
        self.imwg_result.setMinimumHeight(4 * lines)
        self.imwg_result.setMinimumWidth(30 * self.imwg_result.fontMetrics().averageCharWidth())
        self.save_button = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        self.save_button.setDefault(True)
        self.save_button.setAutoDefault(True)

        self.reason = QLineEdit(self)
        self.reason.setObjectName("reason")
        self.reason.setPlaceholderText("Why is this assessment corrected? (required)")
        self.reason.setAccessibleName("Reason for the correction")
        self.reason_error = style_error_label(QLabel(self))
        if self.replacing is not None:
            layout.insertWidget(0, self.reason)
            layout.insertWidget(1, self.reason_error)
        else:
            self.reason.setVisible(False)

        for name in ("serum_ife", "urine_ife"):
            box = self.choices[name]
            box.addItem("not done", None)
            box.addItem("positive", Immunofixation.POSITIVE.value)
            box.addItem("negative", Immunofixation.NEGATIVE.value)
        for name in ("clonal_marrow_cells", "soft_tissue_plasmacytoma"):  # yes/no questions
            box = self.choices[name]
            box.addItem("not assessed", None)
            box.addItem("yes", True)
            box.addItem("no", False)

        now = to_qdate(today())
        self.assessed_on.setMaximumDate(now)
        self.assessed_on.setDate(now)
        if end_of_cycle is not None:
            self.end_of_cycle.setValue(end_of_cycle)
        if self.replacing is not None:
            self._fill(self.replacing.value)

        self.assessed_on.dateChanged.connect(self.recheck)
        self.end_of_cycle.valueChanged.connect(self.recheck)
        for edit in self.numbers.values():
            edit.textChanged.connect(self.recheck)
        for box in self.choices.values():
            box.currentIndexChanged.connect(self.recheck)
        self.new_lesions.toggled.connect(self.recheck)
        self.reason.textChanged.connect(self.recheck)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        self.recheck()

    def _fill(self, a: ResponseAssessment) -> None:
        self.assessed_on.setDate(to_qdate(a.assessed_on))
        self.end_of_cycle.setValue(a.end_of_cycle or 0)
        for name, edit in self.numbers.items():
            edit.setText(_plain(getattr(a, name)))
        for name, box in self.choices.items():
            value = getattr(a, name)
            data = value.value if isinstance(value, Immunofixation) else value
            box.setCurrentIndex(0 if value is None else max(0, box.findData(data)))
        self.new_lesions.setChecked(a.new_lesions)

    def current_form(self) -> ResponseForm:
        cycle = self.end_of_cycle.value()
        texts = {name: edit.text() for name, edit in self.numbers.items()}
        asked = self.shrinkage_asked()
        if not asked:
            texts[_SHRINKAGE] = ""  # a hidden field is not an answer
        return ResponseForm(
            assessed_on=from_qdate(self.assessed_on.date()),
            texts=texts,
            serum_ife=_ife(self.choices["serum_ife"].currentData()),
            urine_ife=_ife(self.choices["urine_ife"].currentData()),
            clonal_marrow_cells=self.choices["clonal_marrow_cells"].currentData(),
            soft_tissue_plasmacytoma=self.choices["soft_tissue_plasmacytoma"].currentData(),
            plasmacytoma_shrunk_50pct=self.old_shrunk if asked else None,
            new_lesions=self.new_lesions.isChecked(),
            end_of_cycle=cycle or None,
        )

    def shrinkage_asked(self) -> bool:
        """The shrinkage is asked while a soft-tissue plasmacytoma is present."""
        return self.choices["soft_tissue_plasmacytoma"].currentData() is True

    def _show_shrinkage(self) -> None:
        asked = self.shrinkage_asked()
        for widget in self.shrinkage_widgets:
            widget.setVisible(asked)
        if self.old_shrunk is not None:
            # An older entry answered only yes/no: say so where the measurement goes (shown
            # while the field is empty, which is when that answer still counts).
            answer = "at least" if self.old_shrunk else "less than"
            edit = self.numbers[_SHRINKAGE]
            edit.setPlaceholderText(f"earlier: {answer} 50 %")
            edit.setToolTip(
                f"Recorded earlier only as shrunk by {answer} 50 %. Enter the measured "
                "shrinkage (percent smaller than at baseline, by the sum of the products of "
                "the diameters); it replaces that answer. Minimal response needs 25-49 %."
            )

    def recheck(self) -> None:
        self._show_shrinkage()
        try:
            check = check_response(
                self.record,
                self.patient_id,
                self.current_form(),
                self.today(),
                replacing_id=self.replacing.id if self.replacing else None,
            )
        except StorageError as exc:
            show_storage_error(self, exc)
            return
        self.check = check
        for name, label in self.errors.items():
            text = check.errors.get(name)
            label.setText(f"{WARNING_SIGN} {text}" if text else "")
            label.setVisible(bool(text))
        category = check.result.category if check.result else None
        # PD, and "not evaluable" (no category at all), carry the warning sign.
        warn = category in (ResponseCategory.PD, ResponseCategory.NE)
        prefix = f"{WARNING_SIGN} " if warn else ""
        self.imwg_result.setText(prefix + check.message)
        needs_reason = self.replacing is not None and not self.reason.text().strip()
        self.save_button.setEnabled(check.ok and not needs_reason)

    def save(self) -> None:
        self.recheck()
        check = self.check
        if check is None or not check.ok:
            return
        if self.replacing is not None and not self.reason.text().strip():
            self.reason_error.setText(f"{WARNING_SIGN} Say why the assessment is corrected.")
            self.reason_error.setVisible(True)
            return
        try:
            self.saved_id = save_response(
                self.record,
                self.patient_id,
                check,
                replacing=self.replacing,
                reason=self.reason.text().strip(),
            )
        except StorageError as exc:
            show_storage_error(self, exc)
            return
        except DomainError as exc:
            label = self.errors.get(exc.field or "", self.reason_error)
            label.setText(f"{WARNING_SIGN} {exc.message}")
            label.setVisible(True)
            return
        self.accept()


def open_response_entry(
    parent: QWidget | None,
    record: Record,
    patient_id: int,
    *,
    today: Callable[[], date] = date.today,
    replacing_id: int | None = None,
    end_of_cycle: int | None = None,
) -> ResponseEntryDialog:
    """Open the response form (window-modal); returns the dialog, already shown."""
    dialog = ResponseEntryDialog(
        record,
        patient_id,
        parent,
        today=today,
        replacing_id=replacing_id,
        end_of_cycle=end_of_cycle,
    )
    dialog.open()
    return dialog
