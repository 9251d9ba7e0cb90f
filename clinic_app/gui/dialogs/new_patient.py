"""New patient: the demographics form from ``ui/new_patient.ui``, checked field by field.

The checks live in :func:`validate_patient` (no Qt), so they are tested on their own; the
dialog shows each message under its field, with a warning sign as well as colour, and writes
nothing until every field is right.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from clinic_app.core.dosing import input_limits
from clinic_app.core.errors import DomainError
from clinic_app.core.records import Patient, Sex
from clinic_app.gui import fit
from clinic_app.gui.dates import parse_day
from clinic_app.gui.errors import show_storage_error
from clinic_app.gui.uiload import child, load_ui
from clinic_app.gui.warnings import WARNING_SIGN
from clinic_app.storage.database import Record
from clinic_app.storage.errors import StorageError

FIELDS = ("mrn", "family_name", "given_name", "date_of_birth", "sex", "allergies")
_SEX_BY_INDEX = {1: Sex.FEMALE, 2: Sex.MALE}


@dataclass(frozen=True)
class PatientForm:
    """The form's text, as typed."""

    mrn: str
    family_name: str
    given_name: str
    date_of_birth: str
    sex: Sex | None
    allergies: str


def age_on(born: date, day: date) -> int:
    return day.year - born.year - int((day.month, day.day) < (born.month, born.day))


def validate_patient(
    form: PatientForm, today: date, mrn_taken: Callable[[str], bool]
) -> tuple[Patient | None, dict[str, str]]:
    """The patient the form describes, or the message for each field that is wrong.

    Age limits are the plausibility limits of ``resources/input_limits.toml`` (age_years): a
    birth date outside them is probably a typing error.
    """
    errors: dict[str, str] = {}
    mrn = form.mrn.strip()
    if not mrn:
        errors["mrn"] = "Enter the MRN."
    elif mrn_taken(mrn):
        errors["mrn"] = f"MRN {mrn} is already used by another patient; check the number."
    if not form.family_name.strip():
        errors["family_name"] = "Enter the family name."
    if not form.given_name.strip():
        errors["given_name"] = "Enter the given name."
    born: date | None = None
    if not form.date_of_birth.strip():
        errors["date_of_birth"] = "Enter the date of birth (YYYY-MM-DD)."
    else:
        try:
            born = parse_day(form.date_of_birth)
        except ValueError as exc:
            errors["date_of_birth"] = str(exc)
    if born is not None:
        limits = input_limits()["age_years"]
        age = age_on(born, today)
        if born > today:
            errors["date_of_birth"] = f"{born.isoformat()} is in the future."
        elif not limits.low <= Decimal(age) <= limits.high:
            errors["date_of_birth"] = (
                f"That makes the patient {age} years old; the app accepts "
                f"{limits.low}-{limits.high}. Check the year."
            )
    if form.sex is None:
        errors["sex"] = "Choose the sex (Cockcroft-Gault needs it)."
    allergies = tuple(a.strip() for a in form.allergies.split(";") if a.strip())
    if errors:
        return None, errors
    assert born is not None and form.sex is not None
    patient = Patient(
        mrn=mrn,
        family_name=form.family_name.strip(),
        given_name=form.given_name.strip(),
        date_of_birth=born,
        sex=form.sex,
        allergies=allergies,
    )
    return patient, {}


class NewPatientDialog(QDialog):
    """Enter a patient; on Save the patient is written and ``patient_id`` is set."""

    def __init__(
        self,
        record: Record,
        parent: QWidget | None = None,
        today: Callable[[], date] = date.today,
    ) -> None:
        super().__init__(parent)
        self.record = record
        self.today = today
        self.patient_id: int | None = None
        self.form = load_ui("new_patient.ui", self)
        layout = QVBoxLayout(self)
        layout.addWidget(self.form)
        self.edits: dict[str, QLineEdit] = {
            name: child(self.form, QLineEdit, name) for name in FIELDS if name != "sex"
        }
        self.sex = child(self.form, QComboBox, "sex")
        self.errors: dict[str, QLabel] = {
            name: child(self.form, QLabel, f"{name}_error") for name in FIELDS
        }
        for label in self.errors.values():
            label.setVisible(False)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.buttons = child(self.form, QDialogButtonBox, "buttons")
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        save = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        save.setDefault(True)
        for edit in self.edits.values():
            edit.textChanged.connect(self._update_title)
            edit.editingFinished.connect(self._check_touched)
        self.sex.currentIndexChanged.connect(self._check_touched)
        self._touched: set[str] = set()
        for name, edit in self.edits.items():
            edit.textEdited.connect(lambda _text, n=name: self._touched.add(n))
        self._update_title()
        # Wide enough that a warning fits on a line or two and placeholders are not cut.
        self.setMinimumWidth(80 * self.fontMetrics().averageCharWidth())
        self.edits["mrn"].setFocus()

    # -- form ---------------------------------------------------------------------------------
    def read_form(self) -> PatientForm:
        return PatientForm(
            mrn=self.edits["mrn"].text(),
            family_name=self.edits["family_name"].text(),
            given_name=self.edits["given_name"].text(),
            date_of_birth=self.edits["date_of_birth"].text(),
            sex=_SEX_BY_INDEX.get(self.sex.currentIndex()),
            allergies=self.edits["allergies"].text(),
        )

    def _mrn_taken(self, mrn: str) -> bool:
        return self.record.repos.patients.by_mrn(mrn) is not None

    def show_errors(self, errors: dict[str, str], only: set[str] | None = None) -> None:
        for name, label in self.errors.items():
            if only is not None and name not in only:
                continue
            message = errors.get(name)
            label.setText(f"{WARNING_SIGN} {message}" if message else "")
            label.setVisible(bool(message))
            widget: QWidget = self.sex if name == "sex" else self.edits[name]
            widget.setAccessibleDescription(message or "")
        if self.isVisible():
            fit.refit(self)  # a warning needs its full height, never cut to one line

    def _check_touched(self) -> None:
        """Check the fields the user has already left, as they go."""
        if not self.isVisible():
            return  # focus also leaves the fields while the dialog closes
        sender = self.sender()
        if sender is self.sex:
            self._touched.add("sex")
        try:
            _, errors = validate_patient(self.read_form(), self.today(), self._mrn_taken)
        except StorageError:
            return  # saving will report it
        self.show_errors(errors, only=self._touched)

    def _update_title(self) -> None:
        form = self.read_form()
        name = f"{form.given_name.strip()} {form.family_name.strip()}".strip()
        parts = [p for p in (name, form.date_of_birth.strip(), form.mrn.strip()) if p]
        suffix = ""
        if parts:
            suffix = f" — {name or '?'} (born {form.date_of_birth.strip() or '?'}, "
            suffix += f"MRN {form.mrn.strip() or '?'})"
        self.setWindowTitle("New patient" + suffix)

    # -- save ---------------------------------------------------------------------------------
    def save(self) -> None:
        try:
            patient, errors = validate_patient(self.read_form(), self.today(), self._mrn_taken)
            if patient is None:
                self._touched.update(FIELDS)
                self.show_errors(errors)
                first = next(name for name in FIELDS if name in errors)
                (self.sex if first == "sex" else self.edits[first]).setFocus()
                return
            self.patient_id = self.record.repos.patients.add(patient, reason="new patient")
        except DomainError as exc:  # e.g. the MRN was taken by another window meanwhile
            field = exc.field if exc.field in FIELDS else "mrn"
            self.show_errors({field: exc.message}, only={field})
            return
        except StorageError as exc:
            show_storage_error(self, exc)
            return
        self.accept()
