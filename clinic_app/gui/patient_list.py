"""The patient list: a lazily filled table model, a sort/filter proxy and the view around them.

All rows come from one call to ``services.patient_state.list_patient_rows`` (a few set-based
queries). At the app's start the names come first (``services.patient_rows.names_only``, no
clinical rules): the cells not computed yet show "…", never "not enrolled" or no flags. The
model hands the rows to the view in chunks through ``canFetchMore``/``fetchMore``, so the
first screen paints at once even with 10,000 patients. Filtering and sorting need every
row, so the proxy fetches the rest the first time either is used.

The view never chooses a patient by itself (``gui/choosing.py``): ``patientChosen`` fires on a
click, a key in the table, Enter on a row, or Enter in Find (the first match). Filtering,
sorting and reloading only move the highlight back onto the patient in the chart, or clear it
when that patient is filtered out (``chosenHidden`` says so, for the chart's mark).

Names are in the locale's alphabetical order (``QCollator``): Å and Ö after Z in Swedish,
Č beside C in English.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from datetime import date
from functools import cmp_to_key

from PySide6.QtCore import (
    QCollator,
    QEvent,
    QLocale,
    QModelIndex,
    QPersistentModelIndex,
    QSize,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QFontMetrics, QIcon, QPaintEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from clinic_app.core.day_words import day_text
from clinic_app.gui import fit
from clinic_app.gui.choosing import ChoosingTable
from clinic_app.gui.table_model import ReadOnlyTableModel
from clinic_app.services.patient_rows import PatientRow

AnyIndex = QModelIndex | QPersistentModelIndex

# Short headers so every column fits the list's pane on a 1366 px laptop; each says in full
# what it holds in its tooltip.
COLUMNS = ("MRN", "Name", "Born", "Protocol", "Phase", "Cycle", "Status", "Flags")
COLUMN_TIPS = (
    "Medical record number",
    "Family name, given name",
    "Date of birth",
    "The protocol the patient is enrolled in",
    "Treatment phase (and dose level)",
    "Current cycle and day: C2 D8 is cycle 2, day 8",
    "Treatment status",
    "What needs attention (the full list in the tooltip)",
)
COL_MRN, COL_NAME, COL_DOB, COL_PROTOCOL, COL_PHASE, COL_CYCLE, COL_STATUS, COL_FLAGS = range(8)
FETCH_CHUNK = 200
PATIENT_ID_ROLE = Qt.ItemDataRole.UserRole + 1
SORT_ROLE = Qt.ItemDataRole.UserRole + 2
# The roles a cell answers. The view asks each cell for a dozen (font, colours, size...) at
# every paint and measure; the others are answered before any lookup (issue 16).
ANSWERED_ROLES = frozenset(
    {
        Qt.ItemDataRole.DisplayRole,
        Qt.ItemDataRole.AccessibleTextRole,
        Qt.ItemDataRole.ToolTipRole,
        Qt.ItemDataRole.DecorationRole,
        PATIENT_ID_ROLE,
        SORT_ROLE,
    }
)


# What a cell the list has not computed yet shows (the names are painted before the clinical
# checks have run, issue 16): never an empty cell, which would read as "not enrolled, no flags".
NOT_READ_YET = "…"
NOT_READ_YET_TIP = "Still being read: the enrolment, cycle and flags appear in a moment."
COMPUTED_COLUMNS = frozenset({COL_PROTOCOL, COL_PHASE, COL_CYCLE, COL_STATUS, COL_FLAGS})


def fold(text: str) -> str:
    """Lower case without accents, for matching typed text ("dvorak" finds "Dvořák").

    >>> fold("Dvořák Zoë ΆΝΝΑ")
    'dvorak zoe αννα'
    """
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def search_key(row: PatientRow) -> str:
    """What type-to-filter matches: MRN and names, folded, in either order."""
    return fold(f"{row.mrn} {row.given_name} {row.family_name} {row.family_name}{row.given_name}")


def name_collator(locale: QLocale | None = None) -> QCollator:
    """Alphabetical order as a reader of ``locale`` (default: the app's locale) expects it."""
    chosen = locale if locale is not None else QLocale()
    if chosen.language() == QLocale.Language.C:
        # The "C" locale (no language set) would sort by code point, Å after Z: a reader of
        # an unset locale is best served by the common (English) alphabetical order.
        chosen = QLocale(QLocale.Language.English, QLocale.Country.UnitedStates)
    collator = QCollator(chosen)
    collator.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
    collator.setNumericMode(True)  # "Family2" before "Family10"
    return collator


def list_name(row: PatientRow) -> str:
    """The name as the list shows it, and as Find accepts it: "Family, Given"."""
    return f"{row.family_name}, {row.given_name}"


def flag_words(row: PatientRow) -> list[str]:
    """The flags as words: the list never relies on colour alone. The cell's tooltip."""
    words = []
    if row.severe_toxicity:
        words.append("grade ≥3 toxicity")
    if row.dlt_review_pending:
        words.append("DLT review pending")
    if row.bsa_recheck:
        words.append("BSA recheck")
    if row.overdue_labs:
        words.append("labs overdue")
    if row.checked_out:  # issue 19: the chart is read only in this record
        words.append(LAPTOP_OUT if row.checked_out.startswith("checked out") else LAPTOP_BACK)
    return words


LAPTOP_OUT = "checked out to a laptop (read only here)"
LAPTOP_BACK = "checked in to the clinic (read only here)"


# The same flags in the list's cell, short enough that two read in full at 1366 px; the cell
# shows the warning icon before them.
SHORT_FLAGS = {
    "grade ≥3 toxicity": "G≥3",  # G = CTCAE grade, as on the chart's timeline
    "DLT review pending": "DLT review",
    "BSA recheck": "BSA recheck",
    "labs overdue": "labs overdue",
    LAPTOP_OUT: "on laptop",
    LAPTOP_BACK: "checked in",
}


def flags_text(row: PatientRow) -> str:
    words = [SHORT_FLAGS[w] for w in flag_words(row)]
    return "; ".join(words)


def cycle_day_text(row: PatientRow) -> str:
    if row.cycle is None:
        return ""
    return f"C{row.cycle} D{row.day}" if row.day is not None else f"C{row.cycle}"


def phase_text(row: PatientRow) -> str:
    if row.phase is None:
        return ""
    text = row.phase.capitalize()
    return f"{text}, level {row.dose_level}" if row.dose_level is not None else text


def status_text(row: PatientRow) -> str:
    return "not enrolled" if row.status is None else row.status.value.replace("_", " ")


class PatientListModel(ReadOnlyTableModel[PatientRow]):
    """Every patient row, exposed to views a chunk at a time."""

    _loaded = 0  # as an empty model once the collector has cleared it (table_model.py)

    def __init__(self, parent: QWidget | None = None, locale: QLocale | None = None) -> None:
        super().__init__(COLUMNS, parent, header_tips=COLUMN_TIPS, numbered=False)
        self._keys: list[str] = []
        self._loaded = 0
        self._warning = QIcon()
        self._collator = name_collator(locale)
        self._name_rank: dict[int, int] = {}

    # -- order ------------------------------------------------------------------------------
    def _sorted(self, rows: Sequence[PatientRow]) -> list[PatientRow]:
        def compare(a: PatientRow, b: PatientRow) -> int:
            c = self._collator.compare(a.family_name, b.family_name)
            if c == 0:
                c = self._collator.compare(a.given_name, b.given_name)
            return c or (a.patient_id - b.patient_id)

        return sorted(rows, key=cmp_to_key(compare))

    def _rank_names(self) -> None:
        self._name_rank = {row.patient_id: i for i, row in enumerate(self._sorted(self._rows))}

    # -- data in ----------------------------------------------------------------------------
    def set_rows(self, rows: Sequence[PatientRow]) -> None:
        self.beginResetModel()
        self._rows = self._sorted(rows)
        self._keys = [search_key(r) for r in self._rows]
        self._loaded = min(FETCH_CHUNK, len(self._rows))
        self._rank_names()
        self.endResetModel()

    def upsert(self, new: PatientRow) -> None:
        """Put one patient's fresh row in place (or in name order when new), without
        reloading the whole list: after a save only that patient changed."""
        key = search_key(new)
        for i, row in enumerate(self._rows):
            if row.patient_id == new.patient_id:
                self._rows[i], self._keys[i] = new, key
                if i < self._loaded:
                    last = self.columnCount() - 1
                    self.dataChanged.emit(self.index(i, 0), self.index(i, last))
                return
        at = next(
            (i for i, row in enumerate(self._rows) if self._sorted([row, new])[0] is new),
            len(self._rows),
        )
        if at <= self._loaded:
            self.beginInsertRows(QModelIndex(), at, at)
            self._rows.insert(at, new)
            self._keys.insert(at, key)
            self._loaded += 1
            self.endInsertRows()
        else:  # beyond what the view has fetched: it arrives with the next fetch
            self._rows.insert(at, new)
            self._keys.insert(at, key)
        self._rank_names()

    @property
    def total(self) -> int:
        return len(self._rows)

    def search_key(self, row: int) -> str:
        return self._keys[row]

    def source_row_of(self, patient_id: int) -> int | None:
        """The row of a patient, fetching rows as needed; None when not in the list."""
        for i, row in enumerate(self._rows):
            if row.patient_id == patient_id:
                if i >= self._loaded:
                    self.fetch_all()
                return i
        return None

    def fetch_all(self) -> None:
        if self._loaded < len(self._rows):
            self.fetchMore(QModelIndex(), everything=True)

    # -- lazy population ----------------------------------------------------------------------
    def canFetchMore(self, parent: AnyIndex = QModelIndex()) -> bool:  # noqa: B008
        return not parent.isValid() and self._loaded < len(self._rows)

    def fetchMore(self, parent: AnyIndex = QModelIndex(), everything: bool = False) -> None:  # noqa: B008
        if parent.isValid():
            return
        remaining = len(self._rows) - self._loaded
        count = remaining if everything else min(FETCH_CHUNK, remaining)
        if count <= 0:
            return
        self.beginInsertRows(QModelIndex(), self._loaded, self._loaded + count - 1)
        self._loaded += count
        self.endInsertRows()

    # -- the table ----------------------------------------------------------------------------
    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else self._loaded

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if role not in ANSWERED_ROLES or not index.isValid() or not 0 <= index.row() < self._loaded:
            return None
        return super().data(index, role)

    def cell(self, row: PatientRow, column: int, role: int) -> object:
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
            return self._display(row, column)
        if role == SORT_ROLE:
            return self._sort_value(row, column)
        if role == PATIENT_ID_ROLE:
            return row.patient_id
        if role == Qt.ItemDataRole.ToolTipRole:
            if not row.checked and column in COMPUTED_COLUMNS:
                return NOT_READ_YET_TIP
            # The full value of a cell the column's width cuts short.
            if column == COL_FLAGS:
                why = [row.checked_out] if row.checked_out else []  # which laptop, since when
                return "\n".join([*flag_words(row), *why, *row.notes]) or None
            return self._display(row, column) or None
        if role == Qt.ItemDataRole.DecorationRole and self._has_icon(row, column):
            return self._warning_icon()
        return None

    @staticmethod
    def _has_icon(row: PatientRow, column: int) -> bool:
        return column == COL_FLAGS and bool(flag_words(row))

    def widest_cells(self, rows: Iterable[int], column: int, metrics: QFontMetrics) -> list[int]:
        """Of the source ``rows``, those whose ``column`` cell needs the most room: the widest
        text with the warning icon and the widest without (the icon's room adds to the text's).
        The view asks its delegate to measure only these, not every cell (issue 16)."""
        widest: dict[bool, tuple[int, int]] = {}
        advances: dict[str, int] = {}  # a column repeats its words ("…", a protocol's name)
        for source_row in rows:
            row = self._rows[source_row]
            text = self._display(row, column)
            width = advances.get(text)
            if width is None:
                width = advances[text] = metrics.horizontalAdvance(text)
            icon = self._has_icon(row, column)
            if icon not in widest or width > widest[icon][0]:
                widest[icon] = (width, source_row)
        return [source_row for _, source_row in widest.values()]

    def _warning_icon(self) -> QIcon:
        if self._warning.isNull():
            # Imported here: Python builds QStyle's dozen enums on first use (~15 ms), and the
            # names' first paint has no flags to show (issue 16).
            from PySide6.QtWidgets import QStyle

            style = QApplication.style()
            self._warning = style.standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
        return self._warning

    def _display(self, row: PatientRow, column: int) -> str:
        if not row.checked and column in COMPUTED_COLUMNS:
            return NOT_READ_YET
        if column == COL_MRN:
            return row.mrn
        if column == COL_NAME:
            return list_name(row)
        if column == COL_DOB:
            return day_text(row.date_of_birth)
        if column == COL_PROTOCOL:
            return row.protocol_name or ""
        if column == COL_PHASE:
            return phase_text(row)
        if column == COL_CYCLE:
            return cycle_day_text(row)
        if column == COL_STATUS:
            return status_text(row)
        return flags_text(row)

    def _sort_value(self, row: PatientRow, column: int) -> object:
        if column == COL_NAME:
            return self._name_rank.get(row.patient_id, 0)  # the locale's alphabetical order
        if column == COL_CYCLE:
            return (row.cycle or 0) * 1000 + (row.day or 0)
        if column == COL_FLAGS:
            return len(flag_words(row))
        if column == COL_DOB:
            return row.date_of_birth.isoformat()  # "5 Jan" sorts after "19 Dec" as words
        return fold(self._display(row, column))


class PatientFilterProxy(QSortFilterProxyModel):
    """Type-to-filter on name or MRN, ignoring case and accents; every word must match."""

    _words: list[str] = []  # noqa: RUF012 - once cleared by the collector: no filter

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._words: list[str] = []
        self.setSortRole(SORT_ROLE)

    def source(self) -> PatientListModel:
        model = self.sourceModel()
        assert isinstance(model, PatientListModel)
        return model

    @property
    def filtering(self) -> bool:
        return bool(self._words)

    def set_filter_text(self, text: str) -> None:
        # "Dvořák, Antonín" as the list shows it: the comma separates words like a space.
        words = fold(text).replace(",", " ").split()
        if words == self._words:
            return
        if words:
            self.source().fetch_all()  # the filter must see every patient, not the loaded few
        self.beginFilterChange()
        self._words = words
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent: AnyIndex) -> bool:
        if not self._words:
            return True
        key = self.source().search_key(source_row)
        return all(word in key for word in self._words)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if column >= 0:
            self.source().fetch_all()  # sorting a partial list would mislead
        super().sort(column, order)


class PatientTable(ChoosingTable):
    """The list's table. ``paintedRows`` fires when it has first painted patients (again after
    ``rearm``): the window builds the chart after that, so the nurse sees the list first, and
    the app's start goes on once the names are on screen (issue 16)."""

    paintedRows = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._told = False
        # Found by its name, the viewport gets its Python wrapper as a QWidget at once. The
        # first viewport() call would make PySide6 find its type among every QWidget subclass,
        # building ~70 of QtWidgets' classes (~28 ms) before the names' paint (issue 16).
        self.findChild(QWidget, "qt_scrollarea_viewport")

    def rearm(self) -> None:
        """Fire ``paintedRows`` again at the next paint with patients (new rows are coming)."""
        self._told = False

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if not self._told and self.model().rowCount():
            self._told = True
            self.paintedRows.emit()


class PatientListView(QWidget):
    """Filter box, count and table.

    ``patientChosen`` carries the patient a person chose (click, key, Enter, Enter in Find).
    ``show_chosen`` tells the list which patient the chart shows, so the highlight follows it;
    ``chosenHidden`` says whether that patient is hidden by Find.
    """

    patientChosen = Signal(int)
    chosenHidden = Signal(bool)

    def __init__(self, parent: QWidget | None = None, locale: QLocale | None = None) -> None:
        super().__init__(parent)
        self.model = PatientListModel(self, locale)
        self.proxy = PatientFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self._chosen: int | None = None
        self._hidden = False

        self.filter_edit = QLineEdit(self)
        self.filter_edit.setObjectName("patient_filter")
        self.filter_edit.setPlaceholderText("Find by name (Family, Given) or MRN; Enter opens")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.setAccessibleName("Find patient")
        self.filter_edit.setToolTip(
            "Type part of a name or MRN to narrow the list; Enter opens the first match."
        )
        self.filter_label = QLabel("&Find:", self)
        self.filter_label.setBuddy(self.filter_edit)
        self.count_label = QLabel(self)
        self.count_label.setObjectName("patient_count")

        self.table = PatientTable(self)
        self.table.setObjectName("patient_table")
        self.table.setModel(self.proxy)
        self.table.setAccessibleName("Patients")
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)  # list order until asked
        self.table.setSortingEnabled(True)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self._size_columns()
        # The content widths last measured, and for what: measuring reads every cell in view
        # once per role, and a resize that leaves the same rows in view (the scroll bar
        # appearing after a load) needs the same widths again (issue 16).
        self._measured: dict[int, int] = {}
        self._measured_for: tuple[int, int, int] | None = None
        self._generation = 0
        for changed in (
            self.proxy.modelReset,
            self.proxy.rowsInserted,
            self.proxy.rowsRemoved,
            self.proxy.dataChanged,
            self.proxy.layoutChanged,
        ):
            changed.connect(self._contents_changed)
        # Every column inside the pane (a 1366 px laptop too). A long name narrows first (the
        # MRN and date of birth stay whole beside it), so phase, status and flags read without
        # a tooltip; a cut value reads in full in its tooltip.
        self.fitter = fit.ColumnFitter(
            self.table,
            [[COL_PROTOCOL, COL_CYCLE], [COL_NAME], [COL_FLAGS, COL_PHASE, COL_STATUS], [COL_DOB]],
            fill=self._fit_columns,
            content_width=self.content_width,
        )

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        top = QWidget(self)
        row = QHBoxLayout(top)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.filter_label)
        row.addWidget(self.filter_edit, 1)
        row.addWidget(self.count_label)
        layout.addWidget(top)
        layout.addWidget(self.table, 1)
        self.setFocusProxy(self.filter_edit)

        self.filter_edit.textChanged.connect(self._filter_changed)
        self.filter_edit.returnPressed.connect(self._choose_first)
        self.table.chosen.connect(self._chosen_in_table)
        self.proxy.modelReset.connect(self._update_count)
        self.proxy.rowsInserted.connect(self._update_count)
        self.proxy.rowsRemoved.connect(self._update_count)
        self.proxy.layoutChanged.connect(self._update_count)
        self.proxy.layoutChanged.connect(self._follow_chosen)

    def _size_columns(self) -> None:
        # Widths from the font, never pixels: the list follows the system font size.
        metrics = self.table.fontMetrics()
        # A two-digit day in the widest month's name, as the Born column writes it.
        days = (day_text(date(2000, month, 28)) for month in range(1, 13))
        born = max(days, key=metrics.horizontalAdvance)
        samples = {
            COL_MRN: "DEMO-00000",
            COL_NAME: "Lefèvre, Marguerite",
            COL_DOB: born,
            COL_PROTOCOL: "MMMMM",  # a short regimen name; a longer one widens it once loaded
            COL_PHASE: "Treatment, level -1",
            COL_CYCLE: "C00 D00",
            COL_STATUS: "off study",  # a longer status widens the column once loaded
            COL_FLAGS: "G≥3; DLT review",
        }
        self._natural = {
            # the cell's margins; never narrower than the header read in full
            column: max(
                metrics.horizontalAdvance(sample) + 10, fit.header_text_width(self.table, column)
            )
            for column, sample in samples.items()
        }
        # The flags cell shows the warning icon before its words, as high as a line of text:
        # the style's small icon size would build QStyle's enums before the paint (issue 16).
        icon = metrics.height()
        self.table.setIconSize(QSize(icon, icon))
        self._natural[COL_FLAGS] += icon + 6
        for column, width in self._natural.items():
            self.table.setColumnWidth(column, width)

    def wanted_width(self) -> int:
        """Room for every column (two flags read in full), with the scroll bar."""
        columns = sum(self._natural.values())
        bar = self.table.verticalScrollBar().sizeHint().width()
        return columns + bar + 2 * self.table.frameWidth() + 8

    def _contents_changed(self) -> None:
        self._generation += 1

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):
            self._contents_changed()  # the same text needs other widths
        super().changeEvent(event)

    def _fit_columns(self) -> None:
        # Wide enough for what the rows in view hold (no elided names or phases), never
        # narrower than the font-based defaults.
        table = self.table
        key = (self._generation, table.viewport().height(), table.verticalScrollBar().value())
        if key != self._measured_for:
            self._measured = {
                column: max(width, self._natural[column])
                for column, width in self.content_widths(range(COL_FLAGS)).items()
            }
            self._measured_for = key
        for column, width in self._measured.items():
            if table.columnWidth(column) != width:
                table.setColumnWidth(column, width)

    def content_width(self, column: int) -> int:
        return self.content_widths([column])[column]

    def content_widths(self, columns: Iterable[int]) -> dict[int, int]:
        """The widths ``resizeColumnToContents`` gives ``columns``: each one's widest cell in
        the rows the view measures, or its header. Qt asks the delegate for a dozen roles of
        every cell, ~20 ms a fit at start; here the delegate measures the widest (issue 16)."""
        table = self.table
        proxy = self.proxy
        source = [proxy.mapToSource(proxy.index(row, 0)).row() for row in self._measured_rows()]
        metrics = table.fontMetrics()
        grid = 1 if table.showGrid() else 0
        widths: dict[int, int] = {}
        for column in columns:
            hints = [
                table.sizeHintForIndex(proxy.mapFromSource(self.model.index(row, column)))
                for row in self.model.widest_cells(source, column, metrics)
            ]
            content = max((hint.width() for hint in hints), default=0) + grid
            widths[column] = max(content, table.horizontalHeader().sectionSizeHint(column))
        return widths

    def _measured_rows(self) -> range:
        """The rows ``QTableView.sizeHintForColumn`` reads: all of them up to the header's
        resize precision (-1: all), else that many around the rows in view (0: those)."""
        count = self.proxy.rowCount()
        precision = self.table.horizontalHeader().resizeContentsPrecision()
        top = max(0, self.table.rowAt(0))
        if precision == 0:
            bottom = self.table.rowAt(self.table.viewport().height())
            return range(top, count if bottom < 0 else bottom + 1)
        if precision < 0 or count <= precision:
            return range(count)
        start = max(0, min(top - precision // 2, count - precision))
        return range(start, start + precision)

    # -- data ---------------------------------------------------------------------------------
    def set_rows(self, rows: Sequence[PatientRow]) -> None:
        self.model.set_rows(rows)
        if self.proxy.filtering:
            self.model.fetch_all()
        # A resize still to come (the list not shown yet) fits the columns to the size the
        # window gives the list; fitting to the hidden size first cost ~5 ms of the names'
        # first paint (issue 16).
        if not self.table.viewport().testAttribute(Qt.WidgetAttribute.WA_PendingResizeEvent):
            self.fitter.refit()
        self._follow_chosen()
        self._update_count()

    def upsert(self, row: PatientRow) -> None:
        self.model.upsert(row)
        self._follow_chosen()
        self._update_count()

    def current_patient_id(self) -> int | None:
        """The patient highlighted in the list (the chart's patient, or None)."""
        index = self.table.currentIndex()
        if not index.isValid():
            return None
        value = index.data(PATIENT_ID_ROLE)
        return int(value) if value is not None else None

    def _proxy_index(self, patient_id: int) -> QModelIndex | None:
        """The patient's row in the view; None when not in the record's list or filtered out."""
        source_row = self.model.source_row_of(patient_id)
        if source_row is None:
            return None
        index = self.proxy.mapFromSource(self.model.index(source_row, 0))
        return index if index.isValid() else None

    def has_patient(self, patient_id: int) -> bool:
        return self.model.source_row_of(patient_id) is not None

    def show_chosen(self, patient_id: int | None) -> None:
        """The chart now shows ``patient_id``: highlight them (when Find lets them show)."""
        self._chosen = patient_id
        self._follow_chosen()

    def select_patient(self, patient_id: int) -> bool:
        """Highlight ``patient_id`` as the chosen one; False when they are not in the list."""
        if not self.has_patient(patient_id):
            return False
        self.show_chosen(patient_id)
        return True

    @property
    def chosen_hidden(self) -> bool:
        return self._hidden

    def _follow_chosen(self) -> None:
        index = None if self._chosen is None else self._proxy_index(self._chosen)
        self.table.show_row(index)
        hidden = self._chosen is not None and index is None and self.proxy.filtering
        if hidden != self._hidden:
            self._hidden = hidden
            self.chosenHidden.emit(hidden)

    # -- slots --------------------------------------------------------------------------------
    def _filter_changed(self, text: str) -> None:
        self.proxy.set_filter_text(text)
        self._follow_chosen()
        self._update_count()

    def _choose_first(self) -> None:
        """Enter in Find opens the first match (the guide's promise), whatever was open."""
        if not self.proxy.rowCount():
            return
        self._chosen_in_table(self.proxy.index(0, 0))
        self.table.setFocus()

    def _chosen_in_table(self, index: QModelIndex) -> None:
        value = index.data(PATIENT_ID_ROLE) if index.isValid() else None
        if value is not None:
            self.patientChosen.emit(int(value))

    def _update_count(self) -> None:
        total = self.model.total
        if self.proxy.filtering:
            shown = self.proxy.rowCount()
            self.count_label.setText(f"{shown} of {total}")
        else:
            self.count_label.setText(f"{total} patient{'s' if total != 1 else ''}")
