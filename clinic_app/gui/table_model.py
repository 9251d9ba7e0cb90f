"""The read-only table model every list and table of the GUI is built on.

A subclass gives its headers and says what one row shows in a column for a role
(``cell``); the base answers the model questions (counts, invalid indexes, headers, flags)
the same way everywhere, which ``qtmodeltester`` checks in the tests.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt

Index = QModelIndex | QPersistentModelIndex
RowT = TypeVar("RowT")

DISPLAY = Qt.ItemDataRole.DisplayRole
TOOLTIP = Qt.ItemDataRole.ToolTipRole
ACCESSIBLE = Qt.ItemDataRole.AccessibleTextRole
TEXT_ROLES = (DISPLAY, ACCESSIBLE)
SORT_KEY = Qt.ItemDataRole.UserRole + 7
"""What a text table sorts by: the cell's own key where one was given (a date), else its text."""


class ReadOnlyTableModel(QAbstractTableModel, Generic[RowT]):
    """Rows of ``RowT`` under fixed headers; never editable."""

    # The cycle collector (collector.py) may clear a closed table's Python attributes while
    # Qt is still taking it apart, and a view asks its model's size as it goes: these class
    # values then answer, as an empty model, instead of an AttributeError.
    _headers: list[str] = []  # noqa: RUF012 - never mutated: every instance assigns its own
    _rows: list[RowT] = []  # noqa: RUF012

    def __init__(
        self,
        headers: Sequence[str],
        parent: QObject | None = None,
        *,
        header_tips: Sequence[str] = (),
        numbered: bool = True,
    ) -> None:
        super().__init__(parent)
        self._headers = list(headers)
        self._header_tips = list(header_tips)
        self._numbered = numbered
        self._rows: list[RowT] = []

    # -- contents -------------------------------------------------------------------------
    @property
    def headers(self) -> list[str]:
        return list(self._headers)

    def set_headers(self, headers: Sequence[str], tips: Sequence[str] = ()) -> None:
        self.beginResetModel()
        self._headers = list(headers)
        self._header_tips = list(tips)
        self.endResetModel()

    def set_rows(self, rows: Iterable[RowT]) -> None:
        self._replace_rows(rows)

    def _replace_rows(self, rows: Iterable[RowT]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def rows(self) -> list[RowT]:
        return list(self._rows)

    def row_at(self, row: int) -> RowT:
        return self._rows[row]

    def cell(self, row: RowT, column: int, role: int) -> object:
        """What ``row`` shows in ``column`` for ``role`` (None: nothing)."""
        raise NotImplementedError

    # -- the model questions ----------------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._headers)

    def data(self, index: Index, role: int = DISPLAY) -> object:
        if not index.isValid() or index.model() is not self:
            return None
        r, c = index.row(), index.column()
        if not (0 <= r < len(self._rows) and 0 <= c < len(self._headers)):
            return None
        return self.cell(self._rows[r], c, role)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = DISPLAY) -> object:
        if orientation == Qt.Orientation.Horizontal:
            if not 0 <= section < len(self._headers):
                return None
            if role in TEXT_ROLES:
                return self._headers[section]
            if role == TOOLTIP and section < len(self._header_tips):
                return self._header_tips[section] or None
            return None
        if role == DISPLAY and self._numbered and 0 <= section < len(self._rows):
            return str(section + 1)
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable


@dataclass(frozen=True)
class TextRow:
    values: tuple[str, ...]
    tip: str = ""
    sort_keys: tuple[object, ...] = ()
    """Per column, a value to sort by where the text would sort wrongly (None: the text)."""


class TextRowsModel(ReadOnlyTableModel[TextRow]):
    """Rows already written as text. A row's tooltip (if given) is shown over its cells, else
    each cell's tooltip is its own full text (for a column cut short by the width)."""

    def set_rows(  # type: ignore[override]  # rows of texts, not TextRow
        self,
        rows: Iterable[Sequence[str]],
        tips: Sequence[str] = (),
        sort_keys: Sequence[Sequence[object]] = (),
    ) -> None:
        texts = [tuple(r) for r in rows]
        padded = list(tips) + [""] * (len(texts) - len(tips))
        keys = [tuple(k) for k in sort_keys] + [()] * (len(texts) - len(sort_keys))
        self._replace_rows(
            TextRow(t, tip, k) for t, tip, k in zip(texts, padded, keys, strict=False)
        )

    def cell(self, row: TextRow, column: int, role: int) -> object:
        text = row.values[column] if column < len(row.values) else ""
        if role in TEXT_ROLES:
            return text
        if role == TOOLTIP:
            return row.tip or text or None
        if role == SORT_KEY:
            key = row.sort_keys[column] if column < len(row.sort_keys) else None
            return text if key is None else key
        return None
