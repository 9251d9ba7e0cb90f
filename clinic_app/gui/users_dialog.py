"""User accounts (administrators): add a user, set the role, deactivate or reactivate, reset a
password. Every change goes through ``storage.users`` (which refuses it for other roles too) and
into the audit trail. Mistakes are said next to the field."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from clinic_app.core.errors import DomainError
from clinic_app.gui.errors import error_label, show_storage_error
from clinic_app.gui.sign_in import password_edit, show_error
from clinic_app.gui.table_model import ReadOnlyTableModel
from clinic_app.storage.database import Record
from clinic_app.storage.errors import StorageError
from clinic_app.storage.permissions import Role
from clinic_app.storage.users import MIN_PASSWORD_LENGTH, User

ModelIndex = QModelIndex | QPersistentModelIndex
_DISPLAY = Qt.ItemDataRole.DisplayRole


class UsersModel(ReadOnlyTableModel[User]):
    HEADERS = ("Username", "Full name", "Role", "State")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(self.HEADERS, parent)

    @property
    def users(self) -> list[User]:
        return self.rows()

    def set_users(self, users: list[User]) -> None:
        self.set_rows(users)

    def cell(self, u: User, column: int, role: int) -> object:
        if role != _DISPLAY:
            return None
        state = "active" if u.active else "deactivated"
        return (u.username, u.full_name, u.role.value, state)[column]


def _role_combo(parent: QWidget) -> QComboBox:
    combo = QComboBox(parent)
    for role in Role:
        combo.addItem(role.value, role.value)
    return combo


class UsersDialog(QDialog):
    def __init__(self, record: Record, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.record = record
        self.setWindowTitle("User accounts — clinic-app")
        self.model = UsersModel(self)
        self.view = QTableView(self)
        self.view.setModel(self.model)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.horizontalHeader().setStretchLastSection(True)
        self.status = QLabel(self)
        self.status.setObjectName("users_status")
        self.status.setWordWrap(True)

        # -- the selected account --------------------------------------------------------------
        selected = QGroupBox("Selected account", self)
        self.role = _role_combo(selected)
        self.set_role_button = QPushButton("Set &role", selected)
        self.active_button = QPushButton("&Deactivate", selected)
        self.reset_password = password_edit(selected, "reset_password")
        self.reset_again = password_edit(selected, "reset_password_again")
        self.reset_button = QPushButton("Reset &password", selected)
        self.selected_error = error_label(selected)
        form = QFormLayout(selected)
        row = QHBoxLayout()
        row.addWidget(self.role)
        row.addWidget(self.set_role_button)
        row.addWidget(self.active_button)
        form.addRow("Role:", row)
        form.addRow("New password:", self.reset_password)
        form.addRow("Again:", self.reset_again)
        form.addRow("", self.reset_button)
        form.addRow("", self.selected_error)

        # -- a new account ---------------------------------------------------------------------
        new = QGroupBox("Add a user", self)
        self.username = QLineEdit(new)
        self.username.setObjectName("new_username")
        self.full_name = QLineEdit(new)
        self.full_name.setObjectName("new_full_name")
        self.new_role = _role_combo(new)
        self.password = password_edit(new, "new_password")
        self.password.setPlaceholderText(f"at least {MIN_PASSWORD_LENGTH} characters")
        self.again = password_edit(new, "new_password_again")
        self.add_button = QPushButton("&Add user", new)
        self.errors = {name: error_label(new) for name in ("username", "full_name", "password")}
        add_form = QFormLayout(new)
        add_form.addRow("&Username:", self.username)
        add_form.addRow("", self.errors["username"])
        add_form.addRow("&Full name:", self.full_name)
        add_form.addRow("", self.errors["full_name"])
        add_form.addRow("R&ole:", self.new_role)
        add_form.addRow("Pass&word:", self.password)
        add_form.addRow("A&gain:", self.again)
        add_form.addRow("", self.errors["password"])
        add_form.addRow("", self.add_button)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.status)
        side = QHBoxLayout()
        side.addWidget(selected)
        side.addWidget(new)
        layout.addLayout(side)
        layout.addWidget(self.buttons)

        self.add_button.clicked.connect(self.add_user)
        self.set_role_button.clicked.connect(self.set_role)
        self.active_button.clicked.connect(self.toggle_active)
        self.reset_button.clicked.connect(self.reset)
        self.reload()
        self.view.selectionModel().selectionChanged.connect(lambda *_: self._selection())
        self._selection()

    # -- helpers ---------------------------------------------------------------------------
    def reload(self, keep: str | None = None) -> None:
        try:
            self.model.set_users(self.record.repos.users.all())
        except StorageError as exc:
            show_storage_error(self, exc)
            return
        if keep is not None:
            self.select(keep)

    def select(self, username: str) -> None:
        for row, user in enumerate(self.model.users):
            if user.username == username:
                self.view.selectRow(row)

    def selected_user(self) -> User | None:
        rows = self.view.selectionModel().selectedRows()
        return self.model.users[rows[0].row()] if rows else None

    def _selection(self) -> None:
        user = self.selected_user()
        for widget in (self.set_role_button, self.active_button, self.reset_button):
            widget.setEnabled(user is not None)
        if user is not None:
            self.role.setCurrentIndex(self.role.findData(user.role.value))
            self.active_button.setText("&Deactivate" if user.active else "Re&activate")

    def _run(self, label: QLabel, action: str, work: Any) -> bool:
        label.setVisible(False)
        try:
            work()
        except StorageError as exc:  # includes a refused role (PermissionDeniedError)
            show_error(label, exc.message)
            return False
        except DomainError as exc:
            show_error(label, exc.message)
            return False
        self.status.setText(action)
        return True

    # -- actions ---------------------------------------------------------------------------
    def add_user(self) -> None:
        for label in self.errors.values():
            label.setVisible(False)
        if self.password.text() != self.again.text():
            show_error(self.errors["password"], "The two passwords differ; type them again.")
            self.password.clear()
            self.again.clear()
            return
        users = self.record.repos.users
        try:
            user = users.add(
                self.username.text(),
                self.full_name.text(),
                Role(self.new_role.currentData()),
                self.password.text(),
            )
        except StorageError as exc:
            show_error(self.errors["username"], exc.message)
            return
        except DomainError as exc:
            show_error(self.errors.get(exc.field or "", self.errors["username"]), exc.message)
            return
        finally:
            self.password.clear()
            self.again.clear()
        self.username.clear()
        self.full_name.clear()
        self.status.setText(f"Added {user.label}.")
        self.reload(keep=user.username)

    def set_role(self) -> None:
        user = self.selected_user()
        if user is None:
            return
        role = Role(self.role.currentData())
        if self._run(
            self.selected_error,
            f"{user.username} is now {role.value}.",
            lambda: self.record.repos.users.set_role(user.username, role),
        ):
            self.reload(keep=user.username)

    def toggle_active(self) -> None:
        user = self.selected_user()
        if user is None:
            return
        word = "reactivated" if not user.active else "deactivated"
        if self._run(
            self.selected_error,
            f"{user.username} {word}.",
            lambda: self.record.repos.users.set_active(user.username, not user.active),
        ):
            self.reload(keep=user.username)

    def reset(self) -> None:
        user = self.selected_user()
        if user is None:
            return
        if self.reset_password.text() != self.reset_again.text():
            show_error(self.selected_error, "The two passwords differ; type them again.")
            return
        password = self.reset_password.text()
        self.reset_password.clear()
        self.reset_again.clear()
        self._run(
            self.selected_error,
            f"Password of {user.username} reset; tell them in person.",
            lambda: self.record.repos.users.reset_password(user.username, password),
        )
