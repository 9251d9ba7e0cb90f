"""The audit trail window: filter by patient, user, table and day; old and new values side by
side for the chosen change; export what is shown to CSV. Investigators and administrators only
(the Trial menu action is disabled with the reason for other roles)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QDate,
    QItemSelection,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from clinic_app.gui.errors import show_storage_error
from clinic_app.gui.table_model import ReadOnlyTableModel
from clinic_app.gui.warnings import WARNING_SIGN
from clinic_app.storage.audit import AuditEntry, state_before
from clinic_app.storage.audit_queries import (
    AuditFilter,
    audit_entries,
    audit_tables,
    audit_users,
    field_changes,
    write_csv,
)
from clinic_app.storage.database import Record
from clinic_app.storage.errors import StorageError
from clinic_app.storage.permissions import Permission, PermissionDeniedError, why_not

ModelIndex = QModelIndex | QPersistentModelIndex
_DISPLAY = Qt.ItemDataRole.DisplayRole


class AuditModel(ReadOnlyTableModel[AuditEntry]):
    HEADERS = ("When (UTC)", "Who", "Table", "Row", "Action", "Reason")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(self.HEADERS, parent)

    @property
    def entries(self) -> list[AuditEntry]:
        return self.rows()

    def set_entries(self, entries: list[AuditEntry]) -> None:
        self.set_rows(entries)

    def cell(self, e: AuditEntry, column: int, role: int) -> object:
        if role != _DISPLAY:
            return None
        values = (e.at.replace("T", " ")[:19], e.who, e.table, e.row_id, e.action, e.reason or "")
        return values[column]


class ChangesModel(ReadOnlyTableModel[tuple[str, Any, Any]]):
    """One change's fields: old and new value side by side."""

    HEADERS = ("Field", "Old value", "New value")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(self.HEADERS, parent)

    def set_entry(self, entry: AuditEntry | None, before: dict[str, Any] | None = None) -> None:
        # An update logs only what it changed; ``before`` fills in the unchanged fields.
        self.set_rows([] if entry is None else field_changes(entry, before))

    def cell(self, row: tuple[str, Any, Any], column: int, role: int) -> object:
        if role != _DISPLAY:
            return None
        key, old, new = row
        if column == 0:
            return f"{key} (changed)" if old != new else key  # said in words, not by colour
        value = old if column == 1 else new
        return "—" if value is None else str(value)


class AuditViewer(QWidget):
    def __init__(self, record: Record, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        reason = why_not(record, Permission.AUDIT)
        if reason:
            raise PermissionDeniedError(reason)
        self.record = record
        self.setWindowTitle("Audit trail — clinic-app")
        self.setObjectName("audit_viewer")
        self.patient = QComboBox(self)
        self.patient.setObjectName("filter_patient")
        self.user = QComboBox(self)
        self.user.setObjectName("filter_user")
        self.table = QComboBox(self)
        self.table.setObjectName("filter_table")
        self.use_dates = QCheckBox("&Between", self)
        self.since = QDateEdit(self)
        self.until = QDateEdit(self)
        for edit in (self.since, self.until):
            edit.setDisplayFormat("yyyy-MM-dd")
            edit.setCalendarPopup(True)
            edit.setDate(QDate.currentDate())
            edit.setEnabled(False)
        self.use_dates.toggled.connect(self.since.setEnabled)
        self.use_dates.toggled.connect(self.until.setEnabled)
        self.count = QLabel(self)
        self.count.setObjectName("audit_count")
        self.export_button = QPushButton("&Export CSV…", self)
        filters = QFormLayout()
        filters.addRow("&Patient:", self.patient)
        filters.addRow("&User:", self.user)
        filters.addRow("&Table:", self.table)
        dates = QHBoxLayout()
        dates.addWidget(self.use_dates)
        dates.addWidget(self.since)
        dates.addWidget(QLabel("and", self))
        dates.addWidget(self.until)
        dates.addStretch(1)
        filters.addRow("Days (UTC):", dates)

        self.model = AuditModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.view = QTableView(self)
        self.view.setModel(self.proxy)
        self.view.setSortingEnabled(True)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.horizontalHeader().setStretchLastSection(True)
        self.changes = ChangesModel(self)
        self.changes_view = QTableView(self)
        self.changes_view.setModel(self.changes)
        self.changes_view.horizontalHeader().setStretchLastSection(True)
        self.changes_view.setAccessibleName("Old and new values of the chosen change")
        split = QSplitter(Qt.Orientation.Vertical, self)
        split.addWidget(self.view)
        split.addWidget(self.changes_view)

        layout = QVBoxLayout(self)
        layout.addLayout(filters)
        bottom = QHBoxLayout()
        bottom.addWidget(self.count, 1)
        bottom.addWidget(self.export_button)
        layout.addWidget(split, 1)
        layout.addLayout(bottom)
        metrics = self.fontMetrics()
        self.resize(metrics.averageCharWidth() * 140, metrics.height() * 40)

        self._fill_filters()
        for combo in (self.patient, self.user, self.table):
            combo.currentIndexChanged.connect(self.reload)
        self.use_dates.toggled.connect(self.reload)
        self.since.dateChanged.connect(self.reload)
        self.until.dateChanged.connect(self.reload)
        self.view.selectionModel().selectionChanged.connect(self._selected)
        self.export_button.clicked.connect(self.export)
        self.reload()

    def _fill_filters(self) -> None:
        self.patient.addItem("All patients", None)
        for p in self.record.repos.patients.all():
            label = f"{p.family_name}, {p.given_name} — DOB {p.date_of_birth} — MRN {p.mrn}"
            self.patient.addItem(label, p.id)
        self.user.addItem("All users", None)
        for name in audit_users(self.record):
            self.user.addItem(name, name)
        self.table.addItem("All tables", None)
        for name in audit_tables(self.record):
            self.table.addItem(name, name)

    def current_filter(self) -> AuditFilter:
        since: date | None = None
        until: date | None = None
        if self.use_dates.isChecked():
            since = date.fromisoformat(self.since.date().toString("yyyy-MM-dd"))
            until = date.fromisoformat(self.until.date().toString("yyyy-MM-dd"))
        return AuditFilter(
            patient_id=self.patient.currentData(),
            user=self.user.currentData(),
            table=self.table.currentData(),
            since=since,
            until=until,
        )

    def reload(self) -> None:
        try:
            entries = audit_entries(self.record, self.current_filter())
        except StorageError as exc:
            show_storage_error(self, exc)
            return
        self.model.set_entries(entries)
        self.changes.set_entry(None)
        self.count.setText(f"{len(entries)} change(s) shown, newest first.")

    def _selected(self, selected: QItemSelection, _deselected: QItemSelection) -> None:
        rows = self.view.selectionModel().selectedRows()
        if not rows:
            self.changes.set_entry(None)
            return
        source = self.proxy.mapToSource(rows[0])
        entry = self.model.entries[source.row()]
        try:
            before = state_before(self.record, entry)
        except StorageError as exc:
            show_storage_error(self, exc)
            return
        self.changes.set_entry(entry, before)

    def export_to(self, path: Path) -> int:
        return write_csv(self.model.entries, path)

    def export(self) -> None:
        name, _ = QFileDialog.getSaveFileName(
            self,
            "Export the audit trail shown",
            str(Path.home() / "audit-trail.csv"),
            "CSV (*.csv)",
        )
        if not name:
            return
        try:
            count = self.export_to(Path(name))
        except OSError as exc:
            self.count.setText(
                f"{WARNING_SIGN} The file could not be written: {exc}. Nothing was exported."
            )
            return
        self.count.setText(f"Exported {count} change(s) to {name}.")
