"""A table whose rows are chosen only by a person: a click, a key in the table, Enter.

Qt moves a view's current row on its own: when the filter hides the current row, when the
model is reset or re-sorted, when the view gets the focus with no current row. A chart that
followed ``currentChanged`` would then show a patient nobody chose. ``ChoosingTable`` emits
``chosen`` only when the current row moved during a key press or mouse press in the table
itself, or when a row is activated (Enter, double-click); every other move is silent.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Signal
from PySide6.QtGui import QKeyEvent, QMouseEvent
from PySide6.QtWidgets import QTableView, QWidget


class ChoosingTable(QTableView):
    chosen = Signal(QModelIndex)
    """A person chose this row (its index in the view's model)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.activated.connect(self._activated)

    def _by_person(self, before: QPersistentModelIndex) -> None:
        current = self.currentIndex()
        if current.isValid() and QPersistentModelIndex(current) != before:
            self.chosen.emit(current)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        before = QPersistentModelIndex(self.currentIndex())
        super().keyPressEvent(event)
        self._by_person(before)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        before = QPersistentModelIndex(self.currentIndex())
        super().mousePressEvent(event)
        self._by_person(before)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        # Dragging with the button held moves the current row too.
        before = QPersistentModelIndex(self.currentIndex())
        super().mouseMoveEvent(event)
        self._by_person(before)

    def _activated(self, index: QModelIndex) -> None:
        if index.isValid():
            self.chosen.emit(index)

    def show_row(self, index: QModelIndex | None) -> None:
        """Highlight ``index`` (None: no row) without anybody having chosen it."""
        selection = self.selectionModel()
        if index is None or not index.isValid():
            selection.clearSelection()
            selection.setCurrentIndex(QModelIndex(), selection.SelectionFlag.NoUpdate)
            return
        flags = selection.SelectionFlag.ClearAndSelect | selection.SelectionFlag.Rows
        selection.setCurrentIndex(index, flags)
        self.scrollTo(index)
