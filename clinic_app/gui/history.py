"""An item's history: every audited change (old -> new values, who, when, why), and voiding it.

Nothing is silently edited: a correction goes through the item's own form (with a reason), and
"Void…" marks the item entered in error with a reason. Both stay in the audit trail, which this
dialog reads with the repository's ``history`` (storage audit module).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from clinic_app.core.errors import DomainError
from clinic_app.gui import fit
from clinic_app.gui.dialogs.enrolment import WARNING_SIGN
from clinic_app.gui.errors import error_label, show_storage_error
from clinic_app.storage.audit import AuditEntry
from clinic_app.storage.database import Record
from clinic_app.storage.errors import StorageError
from clinic_app.storage.repositories._base import TableRepository

COLUMNS = ("When", "Who", "What", "Changes", "Reason")
_ACTIONS = {"insert": "created", "update": "corrected", "void": "voided"}

Index = QModelIndex | QPersistentModelIndex


def change_text(entry: AuditEntry) -> str:
    if entry.action == "insert":
        return "; ".join(
            f"{k} = {v}" for k, v in (entry.new or {}).items() if v is not None and k != "id"
        )
    return "; ".join(f"{k}: {old} -> {new}" for k, old, new in entry.changes())


class HistoryModel(QAbstractTableModel):
    def __init__(self, entries: list[AuditEntry], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.entries = entries

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.entries)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or role not in (
            Qt.ItemDataRole.DisplayRole,
            Qt.ItemDataRole.ToolTipRole,
        ):
            return None
        e = self.entries[index.row()]
        values = (
            e.at,
            e.who,
            _ACTIONS.get(e.action, e.action),
            change_text(e),
            e.reason or "",
        )
        return values[index.column()]

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation is Qt.Orientation.Horizontal:
            return COLUMNS[section] if 0 <= section < len(COLUMNS) else None
        return section + 1


class HistoryDialog(QDialog):
    """The history of one row of ``repository`` (e.g. ``record.repos.responses``)."""

    def __init__(
        self,
        record: Record,
        repository: TableRepository[Any],
        row_id: int,
        title: str,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.record = record
        self.repository = repository
        self.row_id = row_id
        self.setWindowTitle(f"History of {repository.noun} {row_id} — {title}")
        fit.keep_title_readable(self)  # the name and MRN stay readable
        layout = QVBoxLayout(self)
        self.status = QLabel(self)
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        self.table = QTableView(self)
        self.model = HistoryModel([], self)
        self.table.setModel(self.model)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        width = self.table.fontMetrics().averageCharWidth()
        self.table.setMinimumSize(110 * width, 10 * self.table.fontMetrics().lineSpacing())
        layout.addWidget(self.table)
        self.reason = QLineEdit(self)
        self.reason.setPlaceholderText("Reason to void this entry (required)")
        self.reason.setAccessibleName("Reason to void")
        layout.addWidget(self.reason)
        self.reason_error = error_label(self)
        layout.addWidget(self.reason_error)
        self.buttons = QDialogButtonBox(self)
        self.void_button = self.buttons.addButton(
            "&Void as entered in error", QDialogButtonBox.ButtonRole.ActionRole
        )
        close = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        close.clicked.connect(self.reject)
        self.void_button.clicked.connect(self.void)
        layout.addWidget(self.buttons)
        self.reload()

    def reload(self) -> None:
        try:
            stored = self.repository.get(self.row_id)
            entries = self.repository.history(self.row_id)
        except StorageError as exc:
            show_storage_error(self, exc)
            return
        self.model.beginResetModel()
        self.model.entries = entries
        self.model.endResetModel()
        self.stored_version = stored.version
        if stored.voided:
            self.status.setText(f"{WARNING_SIGN} Voided: {stored.void_reason}")
        else:
            self.status.setText(
                f"Current version {stored.version}, created by {stored.created_by}."
            )
        self.void_button.setEnabled(not stored.voided)
        self.reason.setEnabled(not stored.voided)

    def void(self) -> None:
        self.reason_error.setVisible(False)
        try:
            self.repository.void(
                self.row_id, expected_version=self.stored_version, reason=self.reason.text()
            )
        except StorageError as exc:
            show_storage_error(self, exc)
            return
        except DomainError as exc:
            self.reason_error.setText(f"{WARNING_SIGN} {exc.message}")
            self.reason_error.setVisible(True)
            return
        self.reason.clear()
        self.reload()


def open_history(
    parent: QWidget | None,
    record: Record,
    repository: TableRepository[Any],
    row_id: int,
    title: str,
) -> HistoryDialog:
    """``title`` should carry the patient identifiers (name, DOB, MRN)."""
    dialog = HistoryDialog(record, repository, row_id, title, parent)
    dialog.open()
    return dialog
