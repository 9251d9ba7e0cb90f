"""An item's history: every audited change (old -> new values, who, when, why), and voiding it.

Nothing is silently edited: a correction goes through the item's own form (with a reason), and
"Void…" marks the item entered in error with a reason. Both stay in the audit trail, which this
dialog reads with the repository's ``history`` (storage audit module).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex
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
from clinic_app.core.labs import unit_label
from clinic_app.gui import fit
from clinic_app.gui.errors import show_storage_error
from clinic_app.gui.table_model import TEXT_ROLES, TOOLTIP, ReadOnlyTableModel
from clinic_app.gui.warnings import WARNING_SIGN, error_label
from clinic_app.services.field_words import field_label, test_name, value_text, when_text
from clinic_app.storage.audit import AuditEntry
from clinic_app.storage.database import Record
from clinic_app.storage.errors import StorageError
from clinic_app.storage.repositories._base import TableRepository

COLUMNS = ("When", "Who", "What", "Changes", "Reason")
_ACTIONS = {"insert": "entered", "update": "corrected", "void": "voided"}
# Columns a nurse never needs to read: keys, bookkeeping, the SI copy of a value.
_HIDDEN = {"id", "version", "created_at", "created_by", "value_si", "voided_at", "void_reason"}

Index = QModelIndex | QPersistentModelIndex


def _shown(row: dict[str, Any]) -> list[tuple[str, Any]]:
    return [
        (k, v)
        for k, v in row.items()
        if k not in _HIDDEN and not k.endswith("_id") and v is not None and v != ""
    ]


def item_summary(noun: str, row: dict[str, Any]) -> str:
    """One line that names the item, as a chart would: ``Lab result: ANC 0.4 ×10⁹/L, sample
    2 Dec 2026 05:54``."""
    if "test" in row and "value" in row:
        sample = f", sample {when_text(row['collected_at'])}" if row.get("collected_at") else ""
        unit = unit_label(str(row.get("unit", "")))
        return f"Lab result: {test_name(str(row['test']))} {row['value']} {unit}{sample}"
    parts = [f"{field_label(k)} {value_text(k, v)}" for k, v in _shown(row)[:2]]
    return f"{noun[:1].upper()}{noun[1:]}: " + ", ".join(parts)


def _lab_text(row: dict[str, Any]) -> str:
    """A lab result as entered: ``Creatinine 101 µmol/L (normal 45–90)``."""
    text = f"{test_name(str(row['test']))} {row['value']} {unit_label(str(row.get('unit', '')))}"
    if row.get("lln") is not None and row.get("uln") is not None:
        text += f" (normal {row['lln']}–{row['uln']})"
    return text


def change_text(entry: AuditEntry) -> str:
    new = entry.new or {}
    if entry.action == "insert" and "test" in new and "value" in new:
        return _lab_text(new)
    if entry.action == "insert":
        return "; ".join(f"{field_label(k)} {value_text(k, v)}" for k, v in _shown(entry.new or {}))
    if entry.action == "void":
        return "marked as entered in error"
    return "; ".join(
        f"{field_label(k)} {value_text(k, old)} → {value_text(k, new)}"
        for k, old, new in entry.changes()
        if k not in _HIDDEN and not k.endswith("_id")
    )


def person(record: Record, entry: AuditEntry) -> str:
    """Who did it, by name: the signed-in user's full name, else the computer account."""
    if entry.via != "clinic-app":
        return "outside the app"
    if entry.app_user:
        try:
            user = record.repos.users.find(entry.app_user)
        except StorageError:
            user = None
        return user.full_name if user is not None else entry.app_user
    return entry.os_user or "unknown user"


class HistoryModel(ReadOnlyTableModel[AuditEntry]):
    def __init__(
        self,
        entries: list[AuditEntry],
        parent: QWidget | None = None,
        who: Callable[[AuditEntry], str] = lambda e: e.who,
    ) -> None:
        super().__init__(COLUMNS, parent)
        self.who = who
        self.set_rows(entries)

    @property
    def entries(self) -> list[AuditEntry]:
        return self.rows()

    def cell(self, e: AuditEntry, column: int, role: int) -> object:
        if role not in (*TEXT_ROLES, TOOLTIP):
            return None
        values = (
            when_text(e.at),
            self.who(e),
            _ACTIONS.get(e.action, e.action),
            change_text(e),
            e.reason or "",
        )
        return values[column]


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
        self.setWindowTitle(f"History of this {repository.noun} — {title}")
        fit.keep_title_readable(self)  # the name and MRN stay readable
        layout = QVBoxLayout(self)
        self.status = QLabel(self)
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        self.table = QTableView(self)
        self.model = HistoryModel([], self, who=lambda e: person(record, e))
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
        self.model.set_rows(entries)
        self.stored_version = stored.version
        latest = entries[-1].new if entries and entries[-1].new else {}
        summary = item_summary(self.repository.noun, latest)
        if stored.voided:
            voids = [e for e in entries if e.action == "void"]
            by = f" by {person(self.record, voids[-1])}" if voids else ""
            self.status.setText(f"{WARNING_SIGN} {summary} — voided{by}: {stored.void_reason}")
        else:
            made = [e for e in entries if e.action == "insert"]
            by = f", entered by {person(self.record, made[0])}" if made else ""
            corrected = sum(1 for e in entries if e.action == "update")
            times = f", corrected {corrected} time(s)" if corrected else ""
            self.status.setText(f"{summary}{by}{times}.")
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
