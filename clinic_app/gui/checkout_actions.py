"""The File menu's "Check out to a laptop…", "Check in a laptop…" and "Cancel a check-out
(lost laptop)…" (issue 19).

Both need the right to add or change patients, as the commands do (``storage/checkout``
requires it); greyed with the reason otherwise. Cancelling is an administrator's alone (storage
refuses anyone else too). After either, the list is reloaded so the
patients' marks (and their charts' notes) change at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMainWindow, QMenu, QMessageBox

from clinic_app.storage.permissions import Permission, Role, why_not

if TYPE_CHECKING:
    from clinic_app.gui.cancel_checkout_dialog import CancelCheckoutDialog
    from clinic_app.gui.checkout_dialog import CheckInDialog, CheckOutDialog
    from clinic_app.gui.review_dialog import ReviewDialog
    from clinic_app.storage.database import Record


Dialog: TypeAlias = "CheckOutDialog | CheckInDialog | CancelCheckoutDialog"


def admin_only(record: Record) -> str | None:
    """None when the signed-in user may cancel a check-out, else the sentence why not."""
    if not record.has_users() or record.role is Role.ADMINISTRATOR:
        return None
    return (
        f"Only an administrator may cancel a check-out; {record.app_user} is signed in as "
        f"{record.role.value if record.role else 'nobody'}."
    )


class CheckoutActions:
    def __init__(self, window: QMainWindow, menu: QMenu) -> None:
        self.window = window
        self.out_action = QAction("Check &out to a laptop…", window)
        self.out_action.setStatusTip("Take patients out on a laptop: their charts into a new file")
        self.out_action.triggered.connect(self.check_out)
        self.in_action = QAction("Check &in a laptop…", window)
        self.in_action.setStatusTip("Bring a laptop record's changes back into this record")
        self.in_action.triggered.connect(self.check_in)
        self.cancel_action = QAction("Cancel a check-out (&lost laptop)…", window)
        self.cancel_action.setStatusTip(
            "A laptop is lost: let the clinic change its patients' charts again"
        )
        self.cancel_action.triggered.connect(self.cancel)
        self.review_action = QAction("&Review laptop changes…", window)
        self.review_action.setStatusTip(
            "Apply or dismiss the changes of a laptop whose check-out was cancelled"
        )
        self.review_action.triggered.connect(self.review)
        actions = (self.out_action, self.in_action, self.cancel_action, self.review_action)
        for action in actions:
            window.addAction(action)
            menu.addAction(action)
        self.dialog: Dialog | None = None
        self.review_dialog: ReviewDialog | None = None
        self.last_report = ""

    @property
    def record(self) -> Record:
        record: Record = getattr(self.window, "record")  # noqa: B009 - the main window's
        return record

    def update_enabled(self) -> None:
        from clinic_app.gui.patient_actions import allow

        reason = why_not(self.record, Permission.PATIENTS)
        allow(self.out_action, reason)
        allow(self.in_action, reason)
        allow(self.cancel_action, admin_only(self.record))

    def check_out(self) -> CheckOutDialog:
        from clinic_app.gui.checkout_dialog import CheckOutDialog

        chosen = getattr(self.window, "current_patient_id", None)
        dialog = CheckOutDialog(self.record, chosen, self.window)
        self._open(dialog, "Check out to a laptop")
        return dialog

    def check_in(self) -> CheckInDialog:
        from clinic_app.gui.checkout_dialog import CheckInDialog

        dialog = CheckInDialog(self.record, self.window)
        self._open(dialog, "Check in a laptop")
        return dialog

    def cancel(self) -> CancelCheckoutDialog:
        from clinic_app.gui.cancel_checkout_dialog import CancelCheckoutDialog

        dialog = CancelCheckoutDialog(self.record, self.window)
        self._open(dialog, "Cancel a check-out")
        return dialog

    def review(self) -> ReviewDialog:
        # Anyone may look; the dialog greys applying and dismissing for all but administrators.
        from clinic_app.gui.review_dialog import ReviewDialog

        dialog = ReviewDialog(self.record, self.window)
        self.review_dialog = dialog
        dialog.finished.connect(lambda _result: self._refresh())
        dialog.open()
        return dialog

    def _open(self, dialog: Dialog, title: str) -> None:
        from clinic_app.gui.cancel_checkout_dialog import CancelCheckoutDialog

        self.dialog = dialog
        if isinstance(dialog, CancelCheckoutDialog):
            dialog.cancelled_some.connect(self._refresh)  # a refusal part-way: the rest show
        else:
            # The check-in dialog stays open with its outcome: the list changes at once.
            dialog.succeeded.connect(self._refresh)
        dialog.accepted.connect(lambda: self._done(dialog, title))
        dialog.open()

    def _refresh(self) -> None:
        refresh = getattr(self.window, "refresh", None)
        if callable(refresh):
            refresh()  # the list's marks; its end re-greys the Patient menu
        patient_id = getattr(self.window, "current_patient_id", None)
        reload_patient = getattr(self.window, "reload_patient", None)
        if isinstance(patient_id, int) and callable(reload_patient):
            reload_patient(patient_id)  # the chart's note says it is out (or back)

    def _done(self, dialog: Dialog, title: str) -> None:
        from clinic_app.gui.cancel_checkout_dialog import CancelCheckoutDialog
        from clinic_app.gui.checkout_dialog import CheckInDialog

        self.last_report = dialog.report
        if isinstance(dialog, CancelCheckoutDialog):
            self._refresh()
        first = dialog.report.splitlines()[0] if dialog.report else ""
        self.window.statusBar().showMessage(first, 15000)
        if isinstance(dialog, CheckInDialog):
            return  # it showed the steps and the outcome itself
        box = QMessageBox(QMessageBox.Icon.Information, title, dialog.report, parent=self.window)
        box.open()
