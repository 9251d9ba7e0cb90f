"""The read-only tabs under the timeline: day grid, labs, adverse events, responses, dose
changes and documents. Each is a ``QTableView`` over a :class:`RowsModel` behind a sort proxy.

Every status is written out ("✓ given", "✕ held" ...) and grade 3 or more is marked "⚠" and
bold as well as tinted, so no meaning rests on colour alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from PySide6.QtCore import (
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from clinic_app.core.ctcae import is_severe
from clinic_app.core.day_words import day_text
from clinic_app.core.errors import DomainError
from clinic_app.core.ismp import format_number
from clinic_app.core.labs import lab_test, unit_label
from clinic_app.core.records import DoseEvent, DoseStatus
from clinic_app.gui import fit
from clinic_app.gui.chart.timeline import AE, CYCLE, DOSE, LAB, MODIFICATION, RESPONSE
from clinic_app.gui.chart.timeline_model import CycleSpan, TimelineData
from clinic_app.gui.table_model import ReadOnlyTableModel
from clinic_app.gui.warnings import WARNING_SIGN
from clinic_app.services.chart_data import ChartData

# The documents the chart can print (the kinds clinic_app.gui.printing makes).
DOSING_CARD = "dosing_card"
TOXICITY_SUMMARY = "toxicity_summary"

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
ID_ROLE = Qt.ItemDataRole.UserRole

_SEVERE_BACKGROUND = QColor("#ffe0e0")
_STATUS_TEXT = {
    DoseStatus.PLANNED: "○ planned",
    DoseStatus.GIVEN: "✓ given",
    DoseStatus.HELD: "✕ held",
    DoseStatus.MISSED: "— missed",
}

_Index = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True)
class TableRow:
    values: tuple[str, ...]
    id: int | None = None
    tooltip: str = ""
    severe: bool = False
    sort_keys: tuple[Any, ...] = ()
    """Per column, what to sort by (dates, numbers) where the text would sort wrongly."""
    cell_ids: Mapping[int, tuple[int, ...]] = field(default_factory=dict)
    """Column -> ids of the records shown in that cell (the day grid's doses)."""


class RowsModel(ReadOnlyTableModel[TableRow]):
    """A read-only table of pre-formatted rows."""

    def __init__(self, headers: Sequence[str], parent: QWidget | None = None) -> None:
        super().__init__(headers, parent)

    def set_rows(  # type: ignore[override]  # the headers may change with the rows
        self, rows: Sequence[TableRow], headers: Sequence[str] | None = None
    ) -> None:
        if headers is not None and list(headers) != self._headers:
            self.set_headers(headers)
        self._replace_rows(rows)

    def row(self, index: int) -> TableRow:
        return self.row_at(index)

    def find(self, item_id: int) -> tuple[int, int] | None:
        """(row, column) of the record ``item_id``: a cell that shows it, else its row."""
        for r, row in enumerate(self._rows):
            for column, ids in row.cell_ids.items():
                if item_id in ids:
                    return r, column
        for r, row in enumerate(self._rows):
            if row.id == item_id:
                return r, 0
        return None

    def cell(self, row: TableRow, column: int, role: int) -> object:
        text = row.values[column] if column < len(row.values) else ""
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
            return text
        if role == Qt.ItemDataRole.ToolTipRole:
            return row.tooltip or text or None
        if role == ID_ROLE:
            return row.id
        if role == SORT_ROLE:
            if column < len(row.sort_keys) and row.sort_keys[column] is not None:
                return row.sort_keys[column]
            return text
        if role == Qt.ItemDataRole.BackgroundRole and row.severe:
            return QBrush(_SEVERE_BACKGROUND)
        if role == Qt.ItemDataRole.FontRole and row.severe:
            font = QFont()
            font.setBold(True)
            return font
        return None


def narrow_order(columns: int, whole: Sequence[int]) -> list[list[int]]:
    """The columns that may narrow first, then the ``whole`` ones (narrowed only if the rest
    cannot make room)."""
    return [[c for c in range(columns) if c not in whole], [c for c in whole if c < columns]]


class RowsTable(QWidget):
    """A sortable read-only table with an optional line of text above it."""

    def __init__(
        self,
        headers: Sequence[str],
        name: str,
        parent: QWidget | None = None,
        whole: Sequence[int] = (0,),
    ) -> None:
        super().__init__(parent)
        self.whole = tuple(whole)
        self.model = RowsModel(headers, self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self.view = QTableView()
        self.view.setModel(self.proxy)
        self.view.setSortingEnabled(True)
        self.view.sortByColumn(-1, Qt.SortOrder.AscendingOrder)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setAlternatingRowColors(True)
        self.view.setWordWrap(False)
        # No row numbers: beside the day grid's Day column they read as a second day, and
        # after a sort they number nothing.
        self.view.verticalHeader().setVisible(False)
        self.view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.view.horizontalHeader().setStretchLastSection(True)
        self.view.setAccessibleName(name)
        # Every column inside the chart (1366x768 too): the widest narrow first, the ``whole``
        # ones (the date, a value) last; a cut value reads in full in its tooltip.
        self.fitter = fit.ColumnFitter(
            self.view,
            narrow_order(len(headers), self.whole),
            fill=self.view.resizeColumnsToContents,
        )
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.hide()
        self.top = QHBoxLayout()
        self.top.addWidget(self.note, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(self.top)
        layout.addWidget(self.view)

    def set_rows(self, rows: Sequence[TableRow], headers: Sequence[str] | None = None) -> None:
        self.model.set_rows(rows, headers)
        self.fitter.narrow_first = narrow_order(self.model.columnCount(), self.whole)
        self.fitter.refit()

    def set_note(self, text: str) -> None:
        self.note.setText(text)
        self.note.setVisible(bool(text))

    def row_count(self) -> int:
        return self.proxy.rowCount()

    def select(self, item_id: int) -> bool:
        found = self.model.find(item_id)
        if found is None:
            return False
        index = self.proxy.mapFromSource(self.model.index(*found))
        flags = (
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows
        )
        self.view.selectionModel().setCurrentIndex(index, flags)
        self.view.scrollTo(index)
        return True

    def selected_id(self) -> int | None:
        index = self.view.currentIndex()
        if not index.isValid():
            return None
        value = self.proxy.data(index, ID_ROLE)
        return int(value) if value is not None else None


def _day(value: Any) -> str:
    return day_text(value) if value is not None else ""


def _test_name(key: str) -> str:
    """The test as the lab form names it (``ANC``), never the catalogue key (``anc``)."""
    try:
        test = lab_test(key)
    except DomainError:
        return key
    return test.abbreviation or test.name


def _sampled(moment: datetime) -> str:
    """The sample's date and time, local: ``2025-03-03 08:30``."""
    local = moment.astimezone() if moment.tzinfo is not None else moment
    return f"{local:%Y-%m-%d %H:%M}"


def _dose_cell(doses: Sequence[DoseEvent]) -> str:
    parts = []
    for dose in doses:
        text = f"{_STATUS_TEXT[dose.status]} {format_number(dose.dose_mg)} mg"
        if dose.reason:
            text += f" ({dose.reason})"
        parts.append(text)
    return "; ".join(parts)


class ChartTabs(QTabWidget):
    """The tabs; ``show_item(kind, id)`` opens the tab that lists the item and selects it."""

    print_requested = Signal(str, int)
    """``(document kind, cycle number)`` chosen on the Documents tab."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._chart: ChartData | None = None
        self._timeline: TimelineData | None = None
        self._cycle_id: int | None = None

        self.day_grid = RowsTable(["Day", "Date"], "Day grid of the selected cycle")
        self.cycle_choice = QComboBox()
        self.cycle_choice.setAccessibleName("Cycle shown in the day grid")
        self.cycle_choice.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.cycle_choice.currentIndexChanged.connect(self._cycle_chosen)
        cycle_label = QLabel("&Cycle:")
        cycle_label.setBuddy(self.cycle_choice)
        self.day_grid.top.insertWidget(0, cycle_label)
        self.day_grid.top.insertWidget(1, self.cycle_choice)
        self.labs = RowsTable(
            ["Sampled", "Test", "Value", "CTCAE term", "Grade", "Explanation"],
            "Lab results",
            whole=(0, 1, 2, 4),  # sample time, test, value and grade read in full
        )
        self.adverse_events = RowsTable(
            ["Term", "Grade", "Onset", "Resolved", "Serious", "Attribution"], "Adverse events"
        )
        self.responses = RowsTable(
            ["Date", "Category", "Confirmed", "Explanation"], "Response assessments"
        )
        self.modifications = RowsTable(
            ["Drug", "From", "To", "Effective", "Reason", "Decided"], "Dose changes"
        )
        self.documents = RowsTable(["Document", "Cycle", "Dates"], "Printable documents")
        self._documents: list[tuple[str, int]] = []
        self.print_card_button = QPushButton("Print &dosing card…")
        self.print_summary_button = QPushButton("Print &toxicity summary…")
        self.print_card_button.clicked.connect(lambda: self._print_selected(DOSING_CARD))
        self.print_summary_button.clicked.connect(lambda: self._print_selected(TOXICITY_SUMMARY))
        self.documents.top.addWidget(self.print_card_button)
        self.documents.top.addWidget(self.print_summary_button)
        self.documents.view.activated.connect(lambda _index: self._print_selected(None))
        self.addTab(self.day_grid, "&Day grid")
        self.addTab(self.labs, "&Labs")
        self.addTab(self.adverse_events, "&Adverse events")
        self.addTab(self.responses, "&Responses")
        self.addTab(self.modifications, "Dose c&hanges")
        self.addTab(self.documents, "D&ocuments")

    # -- content ---------------------------------------------------------------------------
    def clear_chart(self) -> None:
        self._chart = None
        self._timeline = None
        self._cycle_id = None
        self.cycle_choice.blockSignals(True)
        self.cycle_choice.clear()
        self.cycle_choice.blockSignals(False)
        for table in self.tables():
            table.set_rows([])
            table.set_note("")

    def tables(self) -> tuple[RowsTable, ...]:
        return (
            self.day_grid,
            self.labs,
            self.adverse_events,
            self.responses,
            self.modifications,
            self.documents,
        )

    def set_chart(self, chart: ChartData, timeline: TimelineData) -> None:
        self.clear_chart()
        self._chart = chart
        self._timeline = timeline
        self._fill_labs(timeline)
        self._fill_adverse_events(chart)
        self._fill_responses(timeline)
        self._fill_modifications(chart)
        self.cycle_choice.blockSignals(True)
        for cycle in timeline.cycles:
            self.cycle_choice.addItem(
                f"Cycle {cycle.number} ({cycle.phase}, {_day(cycle.start)})", cycle.id
            )
        self.cycle_choice.blockSignals(False)
        current = chart.current_cycle
        if current is not None and current.id is not None:
            self.select_cycle(current.id)
        elif timeline.cycles and timeline.cycles[0].id is not None:
            self.select_cycle(timeline.cycles[0].id)
        else:
            self.day_grid.set_note("No cycles recorded.")
            self.documents.set_note("No cycles recorded, so there is nothing to print.")

    @property
    def selected_cycle_id(self) -> int | None:
        return self._cycle_id

    def select_cycle(self, cycle_id: int) -> bool:
        if self._timeline is None or self._chart is None:
            return False
        span = self._timeline.cycle(cycle_id)
        if span is None:
            return False
        self._cycle_id = cycle_id
        position = self.cycle_choice.findData(cycle_id)
        if position != self.cycle_choice.currentIndex():
            self.cycle_choice.blockSignals(True)
            self.cycle_choice.setCurrentIndex(position)
            self.cycle_choice.blockSignals(False)
        self._fill_day_grid(self._chart, span)
        self._fill_documents(span)
        return True

    def _cycle_chosen(self, position: int) -> None:
        cycle_id = self.cycle_choice.itemData(position)
        if isinstance(cycle_id, int):
            self.select_cycle(cycle_id)

    def show_item(self, kind: str, item_id: int) -> bool:
        """Open the tab listing ``kind``/``item_id`` and select its row."""
        if kind == CYCLE:
            if not self.select_cycle(item_id):
                return False
            self.setCurrentWidget(self.day_grid)
            return True
        if kind == DOSE:
            cycle_id = self._cycle_of_dose(item_id)
            if cycle_id is None or not self.select_cycle(cycle_id):
                return False
            self.setCurrentWidget(self.day_grid)
            return self.day_grid.select(item_id)
        table = {
            LAB: self.labs,
            AE: self.adverse_events,
            RESPONSE: self.responses,
            MODIFICATION: self.modifications,
        }.get(kind)
        if table is None:
            return False
        self.setCurrentWidget(table)
        return table.select(item_id)

    def _cycle_of_dose(self, dose_id: int) -> int | None:
        if self._chart is None:
            return None
        return next((d.cycle_id for d in self._chart.doses if d.id == dose_id), None)

    # -- tab contents ----------------------------------------------------------------------
    def _fill_day_grid(self, chart: ChartData, span: CycleSpan) -> None:
        assert self._timeline is not None
        lanes = [lane.drug for lane in self._timeline.lanes]
        names = [lane.label for lane in self._timeline.lanes]
        doses = [d for d in chart.doses if d.cycle_id == span.id]
        last_day = max([span.length_days, *(d.day for d in doses)])
        rows = []
        for day in range(1, last_day + 1):
            on = span.date_of(day)
            cells: list[str] = [str(day), _day(on)]
            cell_ids: dict[int, tuple[int, ...]] = {}
            for column, drug in enumerate(lanes, start=2):
                here = [d for d in doses if d.day == day and d.drug == drug]
                cells.append(_dose_cell(here))
                ids = tuple(d.id for d in here if d.id is not None)
                if ids:
                    cell_ids[column] = ids
            severe = any(
                d.status in (DoseStatus.HELD, DoseStatus.MISSED) for d in doses if d.day == day
            )
            rows.append(
                TableRow(
                    tuple(cells),
                    day,
                    sort_keys=(day, on),
                    cell_ids=cell_ids,
                    severe=severe,
                )
            )
        self.day_grid.set_rows(rows, ["Day", "Date", *names])
        note = f"{span.label}: {_day(span.start)} – {_day(span.end)} ({span.status.value})"
        if span.delay_days:
            note += f"; delayed {span.delay_days} d"
            if span.delay_reason:
                note += f" ({span.delay_reason})"
        if not doses:
            note += ". No doses are recorded for this cycle."
        self.day_grid.set_note(note)

    def _fill_labs(self, timeline: TimelineData) -> None:
        rows = []
        for lab_day in timeline.lab_days:
            for graded in lab_day.results:
                lab = graded.result
                severe = graded.severe  # grade 3 or worse for certain (core.ctcae)
                grade = graded.grade_text
                rows.append(
                    TableRow(
                        (
                            _sampled(lab.collected_at),
                            _test_name(lab.test),
                            f"{format_number(lab.value)} {unit_label(lab.unit)}",
                            graded.term or "—",
                            f"{WARNING_SIGN} {grade}" if severe else grade,
                            graded.explanation,
                        ),
                        lab.id,
                        graded.explanation,
                        severe,
                        sort_keys=(lab.collected_at, None, lab.value_si, None, graded.lowest_grade),
                    )
                )
        # Newest first: the result a nurse looks for is this morning's.
        rows.sort(key=lambda row: row.sort_keys[0], reverse=True)
        self.labs.set_rows(rows)

    def _fill_adverse_events(self, chart: ChartData) -> None:
        rows = []
        for ae in chart.adverse_events:
            severe = is_severe(ae.grade)
            attribution = ", ".join(f"{drug}: {a.value}" for drug, a in ae.attribution.items())
            rows.append(
                TableRow(
                    (
                        ae.term,
                        f"{WARNING_SIGN} {ae.grade}" if severe else str(ae.grade),
                        _day(ae.onset),
                        _day(ae.resolved) if ae.resolved else "not resolved",
                        "yes" if ae.serious else "no",
                        attribution or "—",
                    ),
                    ae.id,
                    ae.notes,
                    severe,
                    sort_keys=(None, ae.grade, ae.onset, ae.resolved),
                )
            )
        self.adverse_events.set_rows(rows)

    def _fill_responses(self, timeline: TimelineData) -> None:
        rows = []
        for mark in timeline.responses:
            confirmed = "yes" if mark.confirmed else "no"
            if mark.category == "baseline":
                confirmed = "—"
            rows.append(
                TableRow(
                    (
                        _day(mark.on),
                        mark.label if mark.category else "not classified",
                        confirmed,
                        mark.explanation,
                    ),
                    mark.id,
                    mark.explanation,
                    mark.category == "PD",
                    sort_keys=(mark.on,),
                )
            )
        self.responses.set_rows(rows)

    def _fill_modifications(self, chart: ChartData) -> None:
        rows = []
        for m in chart.modifications:
            unit = chart.drug_units.get(m.drug, "")
            rows.append(
                TableRow(
                    (
                        chart.drug_names.get(m.drug, m.drug),
                        f"{format_number(m.old_dose)} {unit}".strip(),
                        f"{format_number(m.new_dose)} {unit}".strip(),
                        f"cycle {m.effective_cycle} day {m.effective_day}",
                        m.reason,
                        f"{m.decided_by}, {_day(m.decided_on)}",
                    ),
                    m.id,
                    sort_keys=(None, m.old_dose, m.new_dose, (m.effective_cycle, m.effective_day)),
                )
            )
        self.modifications.set_rows(rows)

    def _fill_documents(self, span: CycleSpan) -> None:
        """Both documents of every cycle, newest cycle first, the chosen cycle selected."""
        timeline = self._timeline
        cycles = sorted(timeline.cycles if timeline else (span,), key=lambda c: -c.number)
        rows: list[TableRow] = []
        self._documents = []
        for cycle in cycles:
            dates = f"{_day(cycle.start)} to {_day(cycle.end)}"
            for kind, name in (
                (DOSING_CARD, "Dosing card"),
                (TOXICITY_SUMMARY, "Toxicity summary"),
            ):
                rows.append(
                    TableRow(
                        (name, str(cycle.number), dates),
                        len(self._documents),
                        f"{name} of cycle {cycle.number}: select it and press Enter to print",
                        sort_keys=(None, cycle.number, cycle.start),
                    )
                )
                self._documents.append((kind, cycle.number))
        self.documents.set_rows(rows)
        chosen = next(
            (i for i, (_kind, number) in enumerate(self._documents) if number == span.number),
            None,
        )
        if chosen is not None:
            self.documents.select(chosen)
        self.documents.set_note(
            "Choose a document and its cycle, then print it (Enter, or the buttons)."
        )

    def selected_document(self) -> tuple[str, int] | None:
        """``(kind, cycle number)`` of the selected row, if any."""
        row = self.documents.selected_id()
        if row is None or not 0 <= row < len(self._documents):
            return None
        return self._documents[row]

    def _print_selected(self, kind: str | None) -> None:
        chosen = self.selected_document()
        if chosen is None:
            return
        # A button prints its own document for the selected row's cycle.
        self.print_requested.emit(kind or chosen[0], chosen[1])
