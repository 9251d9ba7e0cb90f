"""The end-of-cycle panel: the proposed next step, accepted or rejected with a reason.

Shows :func:`clinic_app.services.end_of_cycle.end_of_cycle_view`: the proposal, the sentences
behind it, what is missing, the next phase's doses (DexTR maintenance, with CrCl) and the
options the protocol allows, one button per option of the protocol file, labelled by the file
(BPD dexamethasone 20 mg). Enter accepts, Esc closes; rejecting needs a reason;
an off-study proposal needs the off-study reason. Every refusal appears next to its field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date

from PySide6.QtCore import QDate
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from clinic_app.core.errors import DomainError
from clinic_app.core.phase_decision import NextStep
from clinic_app.core.protocol import Protocol
from clinic_app.core.records import OffStudyReason
from clinic_app.gui import fit
from clinic_app.gui.dates import from_qdate, to_qdate
from clinic_app.gui.errors import error_label, show_storage_error
from clinic_app.gui.signature import save_signed, sign_then_save
from clinic_app.gui.texts import patient_title
from clinic_app.gui.warnings import WARNING_SIGN
from clinic_app.services.end_of_cycle import (
    EndOfCycleView,
    accept_proposal,
    elect_option,
    end_of_cycle_view,
    reject_proposal,
)
from clinic_app.storage.database import Record
from clinic_app.storage.errors import StorageError
from clinic_app.storage.signatures import MEANINGS, Signer

_FIELDS = ("decided_by", "decided_on", "reason", "off_study_reason", "proposal", "option")


def proposal_text(view: EndOfCycleView) -> str:
    """The panel's main text: proposal, reasons, maintenance doses, options, what is missing."""
    lines: list[str] = []
    p = view.proposal
    if p is not None and view.cycle is not None:
        lines.append(f"End of cycle {view.cycle.number}: {p.title}")
        lines += [f"• {r}" for r in p.reasons]
        if p.maintenance_dose_note:
            lines.append(f"Doses: {p.maintenance_dose_note}")
        lines += [f"Option: {o.label}" for o in p.options]
        lines += [f"{WARNING_SIGN} Missing: {m}" for m in p.missing]
    lines += [f"{WARNING_SIGN} {m}" for m in view.missing]
    for d in view.recorded:
        verdict = "accepted" if d.payload.get("accepted") else "rejected"
        lines.append(f"Recorded: {verdict} by {d.decided_by} on {d.decided_on} ({d.reason}).")
    return "\n".join(lines) or "Nothing to decide."


class EndOfCycleDialog(QDialog):
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
        self.patient_id = patient_id
        self.today = today
        self.protocols = protocols
        self.decision_id: int | None = None
        self.view: EndOfCycleView = end_of_cycle_view(record, patient_id, today(), protocols)
        self.setWindowTitle(f"End of cycle — {patient_title(self.view.patient)}")
        fit.keep_title_readable(self)  # the name and MRN stay readable

        layout = QVBoxLayout(self)
        self.proposal = QLabel(self)
        self.proposal.setObjectName("proposal")
        self.proposal.setWordWrap(True)
        self.setMinimumWidth(
            max(self.minimumWidth(), 80 * self.proposal.fontMetrics().averageCharWidth())
        )
        layout.addWidget(self.proposal)
        form = QFormLayout()
        self.decided_by = QLineEdit(record.app_user or record.os_user, self)
        self.decided_by.setAccessibleName("Decided by")
        self.decided_on = QDateEdit(to_qdate(today()), self)
        self.decided_on.setCalendarPopup(True)
        self.decided_on.setDisplayFormat("yyyy-MM-dd")
        self.decided_on.setMaximumDate(to_qdate(today()))
        self.reason = QLineEdit(self)
        self.reason.setPlaceholderText("Required to reject; optional to accept")
        self.reason.setAccessibleName("Reason")
        self.off_study_reason = QComboBox(self)
        self.off_study_reason.addItem("choose…", None)
        for why in OffStudyReason:
            self.off_study_reason.addItem(why.value.replace("_", " "), why.value)
        self.errors = {name: error_label(self) for name in _FIELDS}
        for label_text, name, widget in (
            ("Decided &by:", "decided_by", self.decided_by),
            ("&Date:", "decided_on", self.decided_on),
            ("&Reason:", "reason", self.reason),
            ("&Off-study reason:", "off_study_reason", self.off_study_reason),
        ):
            form.addRow(label_text, widget)
            form.addRow("", self.errors[name])
        layout.addLayout(form)
        layout.addWidget(self.errors["proposal"])
        self.buttons = QDialogButtonBox(self)
        self.accept_button = self.buttons.addButton(
            "&Accept proposal", QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.reject_button = self.buttons.addButton(
            "Re&ject…", QDialogButtonBox.ButtonRole.ActionRole
        )
        # One button per option the protocol file offers here, in its own words.
        offered = self.view.proposal.protocol_options() if self.view.proposal else ()
        self.option_buttons: dict[str, QPushButton] = {}
        for option in offered:
            button = self.buttons.addButton(
                option.label.replace("&", "&&"), QDialogButtonBox.ButtonRole.ActionRole
            )
            button.setObjectName(f"option_{option.key}")
            button.clicked.connect(lambda _=False, key=option.key: self.elect(key))
            self.option_buttons[option.key] = button
        close = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        close.clicked.connect(self.reject)
        self.accept_button.setDefault(True)
        self.accept_button.clicked.connect(self.accept_step)
        self.reject_button.clicked.connect(self.reject_step)
        layout.addWidget(self.buttons)
        self.refresh()

    def refresh(self) -> None:
        view = self.view
        self.proposal.setText(proposal_text(view))
        off = view.proposal is not None and view.proposal.proposal is NextStep.OFF_STUDY
        self.off_study_reason.setEnabled(off)
        self.accept_button.setEnabled(view.can_decide)
        self.reject_button.setEnabled(view.can_decide)
        offered = {o.key for o in view.proposal.protocol_options()} if view.proposal else set()
        for key, button in self.option_buttons.items():
            button.setVisible(key in offered)

    def _show(self, exc: DomainError) -> None:
        label = self.errors.get(exc.field or "proposal", self.errors["proposal"])
        label.setText(f"{WARNING_SIGN} {exc.message}")
        label.setVisible(True)

    def _clear(self) -> None:
        for label in self.errors.values():
            label.setVisible(False)

    def _run(self, action: Callable[[], int]) -> None:
        """Record the decision, signed by re-entering the password (investigator decision)."""
        self._clear()

        def signed(signer: Signer | None) -> None:
            try:
                self.decision_id = save_signed(
                    self.record, signer, "decisions", action, "end-of-cycle decision"
                )
            except StorageError as exc:
                show_storage_error(self, exc)
                return
            except DomainError as exc:
                self._show(exc)
                return
            self.accept()

        self.signature = sign_then_save(self, self.record, MEANINGS["decisions"], signed)

    def _date(self) -> date:
        value: QDate = self.decided_on.date()
        return from_qdate(value)

    def accept_step(self) -> None:
        data = self.off_study_reason.currentData()
        self._run(
            lambda: accept_proposal(
                self.record,
                self.view,
                decided_by=self.decided_by.text(),
                decided_on=self._date(),
                today=self.today(),
                reason=self.reason.text(),
                off_study_reason=OffStudyReason(data) if data else None,
            )
        )

    def reject_step(self) -> None:
        self._run(
            lambda: reject_proposal(
                self.record,
                self.view,
                decided_by=self.decided_by.text(),
                decided_on=self._date(),
                today=self.today(),
                reason=self.reason.text(),
            )
        )

    def elect(self, option_key: str) -> None:
        self._run(
            lambda: elect_option(
                self.record,
                self.view,
                option_key,
                decided_by=self.decided_by.text(),
                decided_on=self._date(),
                today=self.today(),
                reason=self.reason.text(),
            )
        )


def open_end_of_cycle(
    parent: QWidget | None,
    record: Record,
    patient_id: int,
    *,
    today: Callable[[], date] = date.today,
    protocols: Mapping[str, Protocol] | None = None,
) -> EndOfCycleDialog:
    dialog = EndOfCycleDialog(record, patient_id, parent, today=today, protocols=protocols)
    dialog.open()
    return dialog
