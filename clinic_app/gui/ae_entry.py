"""Adverse-event form (``ui/adverse_event.ui``): searchable CTCAE term, its own grades, dates,
attribution per drug of the patient's protocol, SAE, progression and the DLT facts.

Checks come from ``clinic_app.services.ae_entry``; each message is shown under its field with
a warning sign. Grade 3 or more is shown in words with a sign (not colour alone). The same
form corrects or voids a saved event (:func:`open_ae_correction`), with a reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from clinic_app.core.ae_terms import AeTerm, ae_term, search
from clinic_app.core.errors import DomainError
from clinic_app.core.protocol import Protocol
from clinic_app.core.records import Attribution
from clinic_app.gui import fit
from clinic_app.gui.dates import from_qdate, to_qdate
from clinic_app.gui.errors import show_storage_error
from clinic_app.gui.texts import patient_title
from clinic_app.gui.uiload import child, load_ui
from clinic_app.gui.warnings import SEVERE_STYLE, WARNING_SIGN
from clinic_app.services.ae_entry import (
    AeForm,
    ProtocolDrug,
    correct_ae,
    form_from_event,
    grade_choices,
    is_severe,
    protocol_drugs,
    save_ae,
    severity_label,
    validate_ae,
    void_ae,
)
from clinic_app.storage.database import Record
from clinic_app.storage.errors import StorageError

FACTS = ("despite_maximal_therapy", "with_bleeding", "with_pain", "steroids_given")
_FACT_CHOICES: tuple[tuple[str, bool | None], ...] = (
    ("Not assessed", None),
    ("Yes", True),
    ("No", False),
)
_ERROR_FIELDS = ("term", "grade", "onset", "resolved", "attribution", "reason")


class AdverseEventDialog(QDialog):
    """Record a new event (``ae_id`` None) or correct / void a saved one."""

    def __init__(
        self,
        record: Record,
        patient_id: int,
        protocols: Mapping[str, Protocol],
        parent: QWidget | None = None,
        *,
        ae_id: int | None = None,
        today: Callable[[], date] = date.today,
    ) -> None:
        super().__init__(parent)
        self.record = record
        self.patient_id = patient_id
        self.ae_id = ae_id
        self.today = today
        self.saved_id: int | None = None
        self.voided = False
        self.version: int | None = None
        patient = record.repos.patients.get(patient_id).value
        self.drugs: tuple[ProtocolDrug, ...] = protocol_drugs(record, patient_id, protocols)
        self.form = load_ui("adverse_event.ui", self)
        QVBoxLayout(self).addWidget(self.form)
        self.search = child(self.form, QLineEdit, "term_search")
        self.terms = child(self.form, QListWidget, "term_list")
        self.descriptions = child(self.form, QLabel, "grade_descriptions")
        self.grade = child(self.form, QComboBox, "grade")
        self.severity = child(self.form, QLabel, "grade_severity")
        self.onset = child(self.form, QDateEdit, "onset")
        self.resolved_known = child(self.form, QCheckBox, "resolved_known")
        self.resolved = child(self.form, QDateEdit, "resolved")
        self.checks = {
            name: child(self.form, QCheckBox, name)
            for name in ("serious", "attributed_to_progression", "required_dose_reduction")
        }
        self.facts = {name: child(self.form, QComboBox, name) for name in FACTS}
        self.notes = child(self.form, QLineEdit, "notes")
        self.reason = child(self.form, QLineEdit, "reason")
        self.errors = {name: child(self.form, QLabel, f"{name}_error") for name in _ERROR_FIELDS}
        self.buttons = child(self.form, QDialogButtonBox, "buttons")
        self.void_button: QPushButton | None = None
        for combo in self.facts.values():
            for text, value in _FACT_CHOICES:
                combo.addItem(text, value)
        self.attribution: dict[str, QComboBox] = {}
        layout = child(self.form, QFormLayout, "attribution_form")
        for drug in self.drugs:
            combo = QComboBox()
            combo.setObjectName(f"attribution_{drug.key}")
            combo.setAccessibleName(f"Attribution to {drug.name}")
            combo.addItem("Choose…", None)
            for level in Attribution:
                combo.addItem(level.value.capitalize(), level)
            layout.addRow(f"{drug.name}:", combo)
            self.attribution[drug.key] = combo
        if not self.drugs:
            layout.addRow(QLabel("Not enrolled on a protocol: no drug to attribute."))
        today_q = to_qdate(today())
        for edit in (self.onset, self.resolved):
            edit.setDate(today_q)
            edit.setMaximumDate(today_q)  # neither date can be in the future
        self.search.textChanged.connect(self._filter_terms)
        self.terms.currentItemChanged.connect(self._term_chosen)
        self.grade.currentIndexChanged.connect(self._grade_chosen)
        self.resolved_known.toggled.connect(self.resolved.setEnabled)
        self.resolved_known.toggled.connect(self._dates_changed)
        self.onset.dateChanged.connect(self._dates_changed)
        self.resolved.dateChanged.connect(self._dates_changed)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setDefault(True)
        self._filter_terms("")
        self._grade_chosen()
        correcting = ae_id is not None
        for name in ("reason_label", "reason"):
            child(self.form, QWidget, name).setVisible(correcting)
        title = "Correct adverse event" if correcting else "Adverse event"
        self.setWindowTitle(f"{title} — {patient_title(patient)}")
        fit.keep_title_readable(self)  # the name and MRN stay readable
        if ae_id is not None:
            self._load(ae_id)
        self.search.setFocus()
        metrics = self.fontMetrics()
        self.resize(metrics.horizontalAdvance("M") * 75, metrics.height() * 44)

    # -- term and grade -------------------------------------------------------------------------
    def _filter_terms(self, text: str) -> None:
        current = self.chosen_term()
        self.terms.clear()
        for term in search(text):
            item = QListWidgetItem(f"{term.name}  ({term.soc})")
            item.setData(Qt.ItemDataRole.UserRole, term.name)
            self.terms.addItem(item)
            if current is not None and term.name == current.name:
                self.terms.setCurrentItem(item)
        if self.terms.currentItem() is None and text.strip() and self.terms.count():
            self.terms.setCurrentRow(0)  # the best match, so typing then Tab picks it

    def chosen_term(self) -> AeTerm | None:
        item = self.terms.currentItem() if hasattr(self, "terms") else None
        return None if item is None else ae_term(str(item.data(Qt.ItemDataRole.UserRole)))

    def _term_chosen(self) -> None:
        term = self.chosen_term()
        previous = self.grade.currentData()
        self.grade.blockSignals(True)
        self.grade.clear()
        self.grade.addItem("Choose…", None)
        if term is None:
            self.descriptions.setText("Choose a term to see its grades.")
        else:
            choices = grade_choices(term)
            for grade, text in choices:
                self.grade.addItem(f"{grade}: {text}", grade)
            self.descriptions.setText(
                "\n".join(f"Grade {grade}: {text}" for grade, text in choices)
            )
            # A wrapped label in a grid gets no height-for-width: reserve its lines.
            lines = len(choices) + sum(len(t) > 80 for _, t in choices)
            self.descriptions.setMinimumHeight(self.fontMetrics().lineSpacing() * lines)
            index = self.grade.findData(previous) if previous is not None else -1
            self.grade.setCurrentIndex(max(index, 0))
        self.grade.blockSignals(False)
        self._grade_chosen()

    def _grade_chosen(self) -> None:
        grade = self.grade.currentData()
        if grade is None:
            self.severity.setText("")
            self.severity.setStyleSheet("")
            return
        self.severity.setText(severity_label(int(grade)))
        self.severity.setStyleSheet(SEVERE_STYLE if is_severe(int(grade)) else "")

    def _dates_changed(self) -> None:
        if not self.isVisible():
            return
        _, errors = validate_ae(self.read_form(), self.drugs, self.today())
        self._show(errors, only={"onset", "resolved"})

    # -- reading, showing, saving ---------------------------------------------------------------
    def read_form(self) -> AeForm:
        term = self.chosen_term()
        grade = self.grade.currentData()
        return AeForm(
            term="" if term is None else term.name,
            grade=None if grade is None else int(grade),
            onset=from_qdate(self.onset.date()),
            resolved=from_qdate(self.resolved.date()) if self.resolved_known.isChecked() else None,
            serious=self.checks["serious"].isChecked(),
            attribution={k: combo.currentData() for k, combo in self.attribution.items()},
            attributed_to_progression=self.checks["attributed_to_progression"].isChecked(),
            despite_maximal_therapy=self.facts["despite_maximal_therapy"].currentData(),
            with_bleeding=self.facts["with_bleeding"].currentData(),
            with_pain=self.facts["with_pain"].currentData(),
            steroids_given=self.facts["steroids_given"].currentData(),
            required_dose_reduction=self.checks["required_dose_reduction"].isChecked(),
            notes=self.notes.text(),
        )

    def _show(self, errors: Mapping[str, str], only: set[str] | None = None) -> None:
        grouped: dict[str, list[str]] = {}
        for key, message in errors.items():
            grouped.setdefault(key.split(".")[0], []).append(message)
        for name, label in self.errors.items():
            if only is not None and name not in only:
                continue
            text = " ".join(grouped.get(name, []))
            label.setText(f"{WARNING_SIGN} {text}" if text else "")
            label.setVisible(bool(text))

    def _focus_first(self, errors: Mapping[str, str]) -> None:
        first = next(iter(errors))
        if first.startswith("attribution.") and first.split(".", 1)[1] in self.attribution:
            self.attribution[first.split(".", 1)[1]].setFocus()
            return
        widget: QWidget = {
            "term": self.search,
            "grade": self.grade,
            "onset": self.onset,
            "resolved": self.resolved,
            "reason": self.reason,
        }.get(first, self.search)
        widget.setFocus()

    def save(self) -> None:
        form = self.read_form()
        event, errors = validate_ae(form, self.drugs, self.today())
        if event is None:
            self._show(errors)
            self._focus_first(errors)
            return
        try:
            if self.ae_id is None:
                self.saved_id = save_ae(
                    self.record, self.patient_id, form, self.drugs, today=self.today()
                )
            else:
                assert self.version is not None
                stored = correct_ae(
                    self.record,
                    self.ae_id,
                    form,
                    self.drugs,
                    expected_version=self.version,
                    reason=self.reason.text(),
                    today=self.today(),
                )
                self.saved_id = stored.id
        except DomainError as error:
            problem = {error.field or "term": error.message}
            self._show(problem)
            self._focus_first(problem)
            return
        except StorageError as error:
            show_storage_error(self, error)
            return
        self.accept()

    # -- correction -----------------------------------------------------------------------------
    def _load(self, ae_id: int) -> None:
        stored = self.record.repos.adverse_events.get(ae_id)
        self.version = stored.version
        form = form_from_event(stored.value)
        self.search.setText(form.term)
        for row in range(self.terms.count()):
            item = self.terms.item(row)
            if item.data(Qt.ItemDataRole.UserRole) == form.term:
                self.terms.setCurrentItem(item)
        self.grade.setCurrentIndex(max(self.grade.findData(form.grade), 0))
        assert form.onset is not None
        self.onset.setDate(to_qdate(form.onset))
        if form.resolved is not None:
            self.resolved_known.setChecked(True)
            self.resolved.setDate(to_qdate(form.resolved))
        self.checks["serious"].setChecked(form.serious)
        self.checks["attributed_to_progression"].setChecked(form.attributed_to_progression)
        self.checks["required_dose_reduction"].setChecked(form.required_dose_reduction)
        for key, combo in self.attribution.items():
            level = form.attribution.get(key)
            combo.setCurrentIndex(max(combo.findData(level), 0) if level else 0)
        for name, combo in self.facts.items():
            value = getattr(form, name)
            combo.setCurrentIndex({None: 0, True: 1, False: 2}[value])
        self.notes.setText(form.notes)
        self.void_button = self.buttons.addButton(
            "&Void (entered in error)", QDialogButtonBox.ButtonRole.DestructiveRole
        )
        self.void_button.clicked.connect(self.void)

    def void(self) -> None:
        assert self.ae_id is not None and self.version is not None
        try:
            void_ae(
                self.record, self.ae_id, expected_version=self.version, reason=self.reason.text()
            )
        except DomainError as error:
            self._show({"reason": error.message})
            self.reason.setFocus()
            return
        except StorageError as error:
            show_storage_error(self, error)
            return
        self.voided = True
        self.accept()


def open_adverse_event(
    parent: QWidget | None, record: Record, patient_id: int, protocols: Mapping[str, Protocol]
) -> AdverseEventDialog:
    """Open the AE form for a patient (attribution asked for each drug of their protocol)."""
    dialog = AdverseEventDialog(record, patient_id, protocols, parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()
    return dialog


def open_ae_correction(
    parent: QWidget | None,
    record: Record,
    patient_id: int,
    ae_id: int,
    protocols: Mapping[str, Protocol],
) -> AdverseEventDialog:
    """Open a saved event to correct or void it, with a reason (audited)."""
    dialog = AdverseEventDialog(record, patient_id, protocols, parent, ae_id=ae_id)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()
    return dialog
