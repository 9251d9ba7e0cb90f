"""Sign-in dialogs: the first administrator of a new record, and signing in.

A wrong password is said next to the password field; after repeated failures the account must
wait (``storage.users.delay_after``) and the Sign in button stays disabled for that long. Enter
signs in, Esc cancels. Passwords are never logged or kept after the check.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from clinic_app.core.errors import DomainError
from clinic_app.gui.errors import show_storage_error
from clinic_app.gui.warnings import error_label
from clinic_app.gui.warnings import show_error_and_fit as show_error
from clinic_app.storage.database import Record
from clinic_app.storage.errors import StorageError
from clinic_app.storage.users import MIN_PASSWORD_LENGTH, SignInRefused, User


def password_edit(parent: QWidget, name: str) -> QLineEdit:
    edit = QLineEdit(parent)
    edit.setObjectName(name)
    edit.setEchoMode(QLineEdit.EchoMode.Password)
    edit.setAccessibleName(name.replace("_", " ").capitalize())
    return edit


class CreateAdministratorDialog(QDialog):
    """First start of a record without accounts: create the administrator (or later: Cancel
    keeps the record in open mode, without sign-in)."""

    def __init__(self, record: Record, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.record = record
        self.user: User | None = None
        self.setWindowTitle("Create the administrator account — clinic-app")
        layout = QVBoxLayout(self)
        intro = QLabel(
            "This record has no user accounts yet, so it is open to anyone who can start "
            "clinic-app on this computer: anyone can read and change it, and anyone may create "
            "the first administrator account. Create the administrator account now: the "
            "administrator then adds the nurses and investigators, and everyone signs in. "
            "Cancel keeps the record open to anyone for now.",
            self,
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        form = QFormLayout()
        self.username = QLineEdit(self)
        self.username.setObjectName("username")
        self.full_name = QLineEdit(self)
        self.full_name.setObjectName("full_name")
        self.password = password_edit(self, "password")
        self.password.setPlaceholderText(f"at least {MIN_PASSWORD_LENGTH} characters")
        self.again = password_edit(self, "password_again")
        self.errors = {name: error_label(self) for name in ("username", "full_name", "password")}
        form.addRow("&Username:", self.username)
        form.addRow("", self.errors["username"])
        form.addRow("&Full name:", self.full_name)
        form.addRow("", self.errors["full_name"])
        form.addRow("&Password:", self.password)
        form.addRow("Password &again:", self.again)
        form.addRow("", self.errors["password"])
        layout.addLayout(form)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("&Create account")
        self.ok_button.setDefault(True)
        self.buttons.accepted.connect(self.create_account)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(self.fontMetrics().averageCharWidth() * 70)

    def create_account(self) -> None:
        for label in self.errors.values():
            label.setVisible(False)
        if self.password.text() != self.again.text():
            show_error(self.errors["password"], "The two passwords differ; type them again.")
            self.password.clear()
            self.again.clear()
            return
        try:
            self.user = self.record.repos.users.create_first_administrator(
                self.username.text(), self.full_name.text(), self.password.text()
            )
        except StorageError as exc:
            show_storage_error(self, exc)
            return
        except DomainError as exc:
            show_error(self.errors.get(exc.field or "", self.errors["username"]), exc.message)
            return
        finally:
            self.password.clear()
            self.again.clear()
        self.accept()


class SignInDialog(QDialog):
    """Username and password; ``user`` is the account once accepted.

    ``fixed_user`` (unlocking, signing) shows the username and does not let it change.
    """

    def __init__(
        self,
        record: Record,
        parent: QWidget | None = None,
        *,
        fixed_user: str | None = None,
        title: str = "Sign in — clinic-app",
        intro: str = "Sign in with your clinic-app account.",
    ) -> None:
        super().__init__(parent)
        self.record = record
        self.user: User | None = None
        self.setWindowTitle(title)
        layout = QVBoxLayout(self)
        self.intro = QLabel(intro, self)
        self.intro.setWordWrap(True)
        layout.addWidget(self.intro)
        form = QFormLayout()
        self.username = QLineEdit(fixed_user or "", self)
        self.username.setObjectName("username")
        self.username.setReadOnly(fixed_user is not None)
        self.password = password_edit(self, "password")
        self.error = error_label(self)
        self.error.setObjectName("sign_in_error")
        form.addRow("&Username:", self.username)
        form.addRow("&Password:", self.password)
        form.addRow("", self.error)
        layout.addLayout(form)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("&Sign in")
        self.ok_button.setDefault(True)
        self.buttons.accepted.connect(self.sign_in)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.wait_timer = QTimer(self)
        self.wait_timer.setSingleShot(True)
        self.wait_timer.setTimerType(Qt.TimerType.PreciseTimer)  # coarse ones may fire early
        self.wait_timer.timeout.connect(lambda: self.ok_button.setEnabled(True))
        (self.password if fixed_user else self.username).setFocus()
        self.setMinimumWidth(self.fontMetrics().averageCharWidth() * 60)

    def sign_in(self) -> None:
        self.error.setVisible(False)
        try:
            self.user = self.record.repos.users.authenticate(
                self.username.text(), self.password.text()
            )
        except StorageError as exc:
            show_storage_error(self, exc)
            return
        except SignInRefused as exc:
            show_error(self.error, exc.message)
            if exc.retry_after:
                # Repeated failures slow down: the button waits as long as the record does.
                self.ok_button.setEnabled(False)
                self.wait_timer.start(
                    exc.retry_after * 1000 + 250
                )  # never before the record allows
            return
        finally:
            self.password.clear()
        self.accept()

    def done(self, result: int) -> None:
        self.wait_timer.stop()
        super().done(result)


def ensure_signed_in(record: Record, parent: QWidget | None = None) -> bool:
    """At start: create the administrator (first start) or sign in. False: the person
    cancelled the sign-in, so the app must not open the record."""
    if not record.has_users():
        create = CreateAdministratorDialog(record, parent)
        if create.exec() == QDialog.DialogCode.Accepted and create.user is not None:
            record.set_user(create.user.username)
        return True
    dialog = SignInDialog(record, parent)
    if dialog.exec() != QDialog.DialogCode.Accepted or dialog.user is None:
        return False
    record.set_user(dialog.user.username)
    return True
