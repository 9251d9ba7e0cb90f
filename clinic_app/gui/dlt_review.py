"""DLT review (BPD, after cycle 1): the proposal with its evidence; the investigator confirms or
overrides it. The verdict defaults to the proposal; changing it (or deciding where the engine
could not) asks for the reason next to the field. Stored in ``dlt_reviews``; the 3+3 board then
counts it. Enter saves, Esc cancels.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from clinic_app.core.errors import DomainError
from clinic_app.core.protocol import Protocol
from clinic_app.gui.dates import from_qdate, to_qdate
from clinic_app.gui.errors import show_storage_error
from clinic_app.gui.signature import SignatureDialog, save_signed, sign_then_save
from clinic_app.gui.texts import patient_title
from clinic_app.gui.warnings import WARNING_SIGN, error_label
from clinic_app.services.dlt_review import DltReviewView, dlt_review_view, record_review
from clinic_app.storage.database import Record
from clinic_app.storage.errors import StorageError
from clinic_app.storage.signatures import MEANINGS, Signer

_FIELDS = ("verdict", "evaluable", "reviewer", "reviewed_on", "reason")


class DltReviewDialog(QDialog):
    def __init__(
        self,
        record: Record,
        patient_id: int,
        parent: QWidget | None = None,
        *,
        today: Callable[[], date] = date.today,
        protocols: Mapping[str, Protocol] | None = None,
    ) -> None:
        super().__init__(parent)
        self.record = record
        self.today = today
        self.review_id: int | None = None
        self.signature: SignatureDialog | None = None
        self.view: DltReviewView = dlt_review_view(record, patient_id, today(), protocols)
        level = self.view.enrolment.dose_level if self.view.enrolment else None
        self.setWindowTitle(f"DLT review — {patient_title(self.view.patient)}")
        layout = QVBoxLayout(self)
        p = self.view.proposal
        head = f"Dose level {level}. " if level is not None else ""
        decided = self.view.decided
        if p is None:
            said = "No DLT proposal."
        elif decided is not None and decided.value.confirmed is not None:
            # Once decided, the proposal and the verdict in one sentence, as in print.
            said = p.summary_with_verdict(decided.value.confirmed)
        else:
            said = p.summary
        self.summary = QLabel(head + said, self)
        self.summary.setObjectName("summary")
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        self.evidence = QPlainTextEdit("\n".join(self.view.evidence()), self)
        self.evidence.setReadOnly(True)
        self.evidence.setAccessibleName("Evidence behind the proposal")
        metrics = self.evidence.fontMetrics()
        # The same lines the toxicity summary prints (DltProposal.evidence_lines): the clauses
        # that fired, then "Not a DLT by the rules — for your judgement", each with evidence.
        self.evidence.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.evidence.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.evidence.setMinimumSize(96 * metrics.averageCharWidth(), 14 * metrics.lineSpacing())
        layout.addWidget(self.evidence)

        form = QFormLayout()
        self.dlt_yes = QRadioButton("DLT &yes", self)
        self.dlt_no = QRadioButton("DLT &no", self)
        self.verdict = QButtonGroup(self)
        self.verdict.addButton(self.dlt_yes)
        self.verdict.addButton(self.dlt_no)
        if p is not None and p.dlt is not None:
            (self.dlt_yes if p.dlt else self.dlt_no).setChecked(True)
        row = QHBoxLayout()
        row.addWidget(self.dlt_yes)
        row.addWidget(self.dlt_no)
        self.evaluable = QCheckBox("&Evaluable for toxicity", self)
        self.evaluable.setChecked(p.evaluable_for_toxicity if p else True)
        me = record.repos.users.current()
        self.reviewer = QLineEdit(me.full_name if me else (record.app_user or ""), self)
        self.reviewer.setAccessibleName("Reviewing investigator")
        self.reviewed_on = QDateEdit(to_qdate(today()), self)
        self.reviewed_on.setDisplayFormat("yyyy-MM-dd")
        self.reviewed_on.setCalendarPopup(True)
        self.reason = QLineEdit(self)
        self.reason.setAccessibleName("Reason")
        self.errors = {name: error_label(self) for name in _FIELDS}
        self.state = QLabel(self)
        self.state.setObjectName("state")
        self.state.setWordWrap(True)
        form.addRow("Verdict:", row)
        form.addRow("", self.errors["verdict"])
        form.addRow("", self.evaluable)
        form.addRow("", self.errors["evaluable"])
        form.addRow("&Investigator:", self.reviewer)
        form.addRow("", self.errors["reviewer"])
        form.addRow("&Date:", self.reviewed_on)
        form.addRow("", self.errors["reviewed_on"])
        form.addRow("&Reason:", self.reason)
        form.addRow("", self.errors["reason"])
        layout.addLayout(form)
        layout.addWidget(self.state)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.save_button = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        self.save_button.setDefault(True)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.verdict.buttonToggled.connect(lambda *_: self.update_state())
        self.evaluable.toggled.connect(lambda *_: self.update_state())
        self.update_state()

    def overrides(self) -> bool:
        p = self.view.proposal
        if p is None or p.dlt is None:
            return True
        return p.dlt != self.dlt_yes.isChecked() or (
            p.evaluable_for_toxicity != self.evaluable.isChecked()
        )

    def update_state(self) -> None:
        decided = self.view.decided
        if decided is not None:
            d = decided.value
            verdict = "DLT" if d.confirmed else "no DLT"
            self.state.setText(f"Already reviewed: {verdict} ({d.reviewer}, {d.reviewed_on}).")
            self.save_button.setEnabled(False)
            return
        if self.overrides():
            self.state.setText(
                f"{WARNING_SIGN} This overrides the proposal: give the reason (kept in the record)."
            )
            self.reason.setPlaceholderText("Required: why the verdict differs")
        else:
            self.state.setText("This confirms the proposal.")
            self.reason.setPlaceholderText("Optional")
        self.save_button.setEnabled(self.verdict.checkedButton() is not None)

    def save(self) -> None:
        for label in self.errors.values():
            label.setVisible(False)
        if self.verdict.checkedButton() is None:
            self.errors["verdict"].setText(f"{WARNING_SIGN} Choose DLT yes or no.")
            self.errors["verdict"].setVisible(True)
            return
        # An investigator's DLT decision is signed by re-entering the password.
        self.signature = sign_then_save(self, self.record, MEANINGS["dlt_reviews"], self._save)

    def _save(self, signer: Signer | None) -> None:
        def review() -> int:
            return record_review(
                self.record,
                self.view,
                dlt=self.dlt_yes.isChecked(),
                evaluable=self.evaluable.isChecked(),
                reviewer=self.reviewer.text(),
                reviewed_on=from_qdate(self.reviewed_on.date()),
                today=self.today(),
                reason=self.reason.text(),
            )

        try:
            self.review_id = save_signed(
                self.record,
                signer,
                "dlt_reviews",
                review,
                self.reason.text().strip() or "DLT review",
            )
        except StorageError as exc:
            show_storage_error(self, exc)
            return
        except DomainError as exc:
            label = self.errors.get(exc.field or "verdict", self.errors["verdict"])
            label.setText(f"{WARNING_SIGN} {exc.message}")
            label.setVisible(True)
            return
        self.accept()


def open_dlt_review(
    parent: QWidget | None,
    record: Record,
    patient_id: int,
    *,
    today: Callable[[], date] = date.today,
    protocols: Mapping[str, Protocol] | None = None,
) -> DltReviewDialog:
    dialog = DltReviewDialog(record, patient_id, parent, today=today, protocols=protocols)
    dialog.open()
    return dialog
