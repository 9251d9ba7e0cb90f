"""Cancel a check-out (a lost laptop), from the File menu (issue 19).

Lists the patients out on a laptop now; an administrator ticks one or more, gives a reason
and confirms. ``storage/checkout/cancel.py`` refuses anyone else and an empty reason too: the
dialog only says so earlier. Each patient's cancellation is its own transaction, so a refusal
part-way leaves the ones before it done and says which.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QVBoxLayout,
    QWidget,
)

from clinic_app.gui import fit
from clinic_app.gui.warnings import warned
from clinic_app.storage.checkout import checked_out_patients, describe
from clinic_app.storage.checkout.cancel import cancel_checkout
from clinic_app.storage.database import Record
from clinic_app.storage.errors import StorageError

MRN_ROLE = Qt.ItemDataRole.UserRole

WARNING = (
    "Cancel a check-out only when the laptop is lost or will not come back. The chart can then "
    "be changed here again. If the laptop turns up and is checked in later, what was recorded "
    "on it for these patients is not applied to their charts: it is kept for an administrator "
    "to review."
)


class CancelCheckoutDialog(QDialog):
    """Tick the patients whose laptop is lost, give the reason; OK cancels their check-outs."""

    cancelled_some = Signal()
    """Some check-outs were cancelled before a refusal stopped the rest (the dialog stays open)."""

    def __init__(self, record: Record, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Cancel a check-out (lost laptop)")
        self.record = record
        layout = QVBoxLayout(self)
        intro = QLabel(WARNING, self)
        intro.setWordWrap(True)
        layout.addWidget(intro)
        layout.addWidget(QLabel("Patients out on a laptop now:", self))
        self.patients = QListWidget(self)
        self.patients.setAccessibleName("Patients out on a laptop")
        layout.addWidget(self.patients)
        reason_label = QLabel("&Reason (for example: laptop lost on a home visit):", self)
        self.reason = QLineEdit(self)
        self.reason.setAccessibleName("Reason for cancelling")
        reason_label.setBuddy(self.reason)
        layout.addWidget(reason_label)
        layout.addWidget(self.reason)
        self.message = QLabel(self)
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #b00020;")
        self.message.setVisible(False)
        layout.addWidget(self.message)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Cancel the &check-out")
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setText("&Keep it")
        layout.addWidget(self.buttons)
        self.buttons.accepted.connect(self.run)
        self.buttons.rejected.connect(self.reject)
        self.reason.textChanged.connect(self._update_ok)
        self.patients.itemChanged.connect(self._update_ok)
        self.report = ""
        """The sentences saying what was cancelled (the dialog is then accepted)."""
        self.confirm = True
        """Ask "are you sure" before cancelling (tests and screenshots answer it themselves)."""
        self._fill()
        self._update_ok()
        fit.fit_to_screen(self)

    def _fill(self) -> None:
        away = checked_out_patients(self.record)
        names = {p.id: p for p in self.record.repos.patients.all()}
        for patient_id, item in away.items():
            if item.side != "clinic":
                continue  # a laptop record's own souvenirs are not check-outs to cancel
            patient = names.get(patient_id)
            who = f"{patient.family_name}, {patient.given_name} — " if patient else ""
            row = QListWidgetItem(f"{who}MRN {item.mrn}: {describe(item)}")
            row.setData(MRN_ROLE, item.mrn)
            row.setFlags(row.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            row.setCheckState(Qt.CheckState.Unchecked)
            self.patients.addItem(row)
        # Each line whole (name, laptop, since when); fit_to_screen caps it at the screen.
        self.patients.setMinimumWidth(self.patients.sizeHintForColumn(0) + 40)
        if self.patients.count() == 0:
            self.show_message(
                "No patient is checked out to a laptop now; there is nothing to cancel."
            )

    def ticked(self) -> list[str]:
        items = (self.patients.item(i) for i in range(self.patients.count()))
        return [
            str(item.data(MRN_ROLE)) for item in items if item.checkState() == Qt.CheckState.Checked
        ]

    def tick(self, mrns: list[str]) -> None:
        for i in range(self.patients.count()):
            item = self.patients.item(i)
            state = item.data(MRN_ROLE) in mrns
            item.setCheckState(Qt.CheckState.Checked if state else Qt.CheckState.Unchecked)

    def _update_ok(self, *_: object) -> None:
        # Both are needed: who, and why (the reason goes into the audit trail).
        self.ok_button.setEnabled(bool(self.ticked()) and bool(self.reason.text().strip()))

    def show_message(self, text: str) -> None:
        self.message.setText(warned(text))
        self.message.setVisible(True)
        fit.refit(self)

    def _sure(self, mrns: list[str]) -> bool:
        if not self.confirm:
            return True
        count = f"{len(mrns)} patient{'' if len(mrns) == 1 else 's'}"
        answer = QMessageBox.warning(
            self,
            "Cancel the check-out?",
            f"Cancel the check-out of {count} ({', '.join(mrns)})? Their charts can be changed "
            "here again; anything recorded on the laptop for them will only be kept for review.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def run(self) -> None:
        mrns, reason = self.ticked(), self.reason.text().strip()
        if not mrns or not reason:
            self.show_message("Tick at least one patient and give a reason; nothing was cancelled.")
            return
        if not self._sure(mrns):
            return
        done: list[str] = []
        for mrn in mrns:
            try:
                done.append(cancel_checkout(self.record, mrn, reason))
            except StorageError as error:
                before = " ".join(done)
                self.show_message(f"{before} {error.message}".strip())
                if done:
                    self.report = "\n".join(done)
                    self._drop(mrns[: len(done)])
                    self.cancelled_some.emit()
                return
        self.report = "\n".join(done)
        self.accept()

    def _drop(self, mrns: list[str]) -> None:
        """Take the patients whose check-out was cancelled off the list (they are not out)."""
        for i in reversed(range(self.patients.count())):
            if self.patients.item(i).data(MRN_ROLE) in mrns:
                self.patients.takeItem(i)
