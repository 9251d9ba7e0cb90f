"""The Today view: every patient with something due today, and why.

Rows come from ``services.patient_state.due_today`` (a cycle day 1, a lab day, an end-of-cycle
evaluation, an IV dose, an overdue cycle start). A row opens that patient's chart only when a
person chooses it (a click, a key in the table, Enter: ``gui/choosing.py``); a reload, a sort or
the focus arriving never opens anybody, and the highlight follows the patient in the chart.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from PySide6.QtCore import (
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from clinic_app.core.day_words import day_text
from clinic_app.gui.choosing import ChoosingTable
from clinic_app.gui.table_model import ReadOnlyTableModel
from clinic_app.gui.warnings import WARNING_SIGN
from clinic_app.services.patient_rows import DueItem, DueKind

AnyIndex = QModelIndex | QPersistentModelIndex

COLUMNS = ("Patient", "MRN", "What", "Why")
PATIENT_ID_ROLE = Qt.ItemDataRole.UserRole + 1

# Overdue items say so in words as well as sorting first.
_KIND_ORDER = {
    DueKind.OVERDUE_CYCLE_START: 0,
    DueKind.CYCLE_START: 1,
    DueKind.IV_DOSE: 2,
    DueKind.LAB_DAY: 3,
    DueKind.EVALUATION: 4,
}


class TodayModel(ReadOnlyTableModel[DueItem]):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(COLUMNS, parent, numbered=False)

    def set_items(self, items: Sequence[DueItem]) -> None:
        self.set_rows(
            sorted(items, key=lambda i: (_KIND_ORDER.get(i.kind, 9), i.full_name.casefold(), i.mrn))
        )

    def item_at(self, row: int) -> DueItem:
        return self.row_at(row)

    def cell(self, item: DueItem, column: int, role: int) -> object:
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
            if column == 0:
                return item.full_name
            if column == 1:
                return item.mrn
            if column == 2:
                prefix = f"{WARNING_SIGN} " if item.kind is DueKind.OVERDUE_CYCLE_START else ""
                return prefix + item.what
            return item.why
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{item.what}: {item.why}"
        if role == PATIENT_ID_ROLE:
            return item.patient_id
        return None


class TodayView(QWidget):
    """The list of today's work; emits ``patientActivated`` with a patient id."""

    patientActivated = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = TodayModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.heading = QLabel(self)
        self.heading.setObjectName("today_heading")
        self.heading.setWordWrap(True)
        self._chosen: int | None = None
        self.table = ChoosingTable(self)
        self.table.setObjectName("today_table")
        self.table.setAccessibleName("Due today")
        self.table.setModel(self.proxy)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.setWordWrap(True)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.table.setSortingEnabled(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.heading)
        layout.addWidget(self.table, 1)
        self.setFocusProxy(self.table)
        self.table.chosen.connect(self._activated)
        self.proxy.layoutChanged.connect(self._follow_chosen)

    def set_items(self, items: Sequence[DueItem], today: date) -> None:
        self.model.set_items(items)
        patients = len({i.patient_id for i in items})
        if items:
            self.heading.setText(
                f"Due today, {day_text(today)}: {len(items)} item{'s' if len(items) != 1 else ''}"
                f" for {patients} patient{'s' if patients != 1 else ''}."
            )
        else:
            self.heading.setText(f"Nothing is due today, {day_text(today)}.")
        self.table.resizeColumnToContents(0)
        self.table.resizeColumnToContents(1)
        self._follow_chosen()

    def show_chosen(self, patient_id: int | None) -> None:
        """The chart now shows ``patient_id``: highlight their first item, if they have one."""
        self._chosen = patient_id
        self._follow_chosen()

    def _follow_chosen(self) -> None:
        found = None
        if self._chosen is not None:
            for row in range(self.proxy.rowCount()):
                index = self.proxy.index(row, 0)
                if index.data(PATIENT_ID_ROLE) == self._chosen:
                    found = index
                    break
        current = self.table.currentIndex()
        on_theirs = current.isValid() and current.data(PATIENT_ID_ROLE) == self._chosen
        if found is not None and on_theirs:
            return  # already on one of their items: leave the person's row be
        self.table.show_row(found)

    def _activated(self, index: QModelIndex) -> None:
        if index.isValid():
            value = index.data(PATIENT_ID_ROLE)
            if value is not None:
                self.patientActivated.emit(int(value))
