"""The tables over a real demonstration record: every item model passes ``qtmodeltester``
with real rows, and on a 1366x768 screen every column of the patient list and the trial board
is inside its view (issue 14: nothing a nurse needs scrolled off to the right), its header read
in full and a cut cell's full value in its tooltip."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QApplication, QTableView
from pytestqt.qtbot import QtBot

from clinic_app.core.protocol import Protocol
from clinic_app.gui import fit
from clinic_app.gui.main_window import MainWindow
from clinic_app.gui.patient_list import (
    COL_DOB,
    COL_FLAGS,
    COL_NAME,
    COL_PHASE,
    SHORT_FLAGS,
    PatientFilterProxy,
    PatientListModel,
)
from clinic_app.gui.today import TodayModel
from clinic_app.gui.trial_board import TrialBoardWindow
from clinic_app.services.demo import generate_demo
from clinic_app.services.patient_state import due_today, list_patient_rows
from clinic_app.storage.database import Record, open_database

pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support (propagateSizeHints|raise)")
TODAY = date(2025, 6, 2)
LAPTOP = (1366, 768)


@pytest.fixture(scope="module")
def demo(
    tmp_path_factory: pytest.TempPathFactory, protocols: dict[str, Protocol]
) -> Iterator[Record]:
    path = tmp_path_factory.mktemp("demo") / "record.sqlite3"
    rec = open_database(path)
    generate_demo(rec, patients=30, seed=1, today=TODAY, protocols=protocols)
    try:
        yield rec
    finally:
        rec.close()


def header_texts_cut(view: QTableView) -> list[str]:
    """Headers narrower than their text (each line of a two-line header)."""
    header = view.horizontalHeader()
    metrics = QFontMetrics(header.font())
    cut = []
    for column in range(header.count()):
        text = str(view.model().headerData(column, Qt.Orientation.Horizontal))
        needed = max(metrics.horizontalAdvance(line) for line in text.split("\n"))
        if header.sectionSize(column) < needed:
            cut.append(f"{text!r}: {header.sectionSize(column)} px for {needed} px")
    return cut


def assert_inside(view: QTableView) -> None:
    header = view.horizontalHeader()
    assert header.length() <= view.viewport().width(), [
        (view.model().headerData(c, Qt.Orientation.Horizontal), header.sectionSize(c))
        for c in range(header.count())
    ]
    assert view.horizontalScrollBar().maximum() == 0  # nothing to scroll to
    assert header_texts_cut(view) == []


def laptop_window(qtbot: QtBot, window: MainWindow | TrialBoardWindow) -> None:
    qtbot.addWidget(window)
    window.resize(*LAPTOP)
    window.show()
    QApplication.processEvents()


def main_window(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol], tmp: Path
) -> MainWindow:
    settings = QSettings(str(tmp / "window.ini"), QSettings.Format.IniFormat)
    window = MainWindow(record, protocols, today=lambda: TODAY, settings=settings)
    laptop_window(qtbot, window)
    qtbot.waitUntil(lambda: not window.loading, timeout=15_000)
    QApplication.processEvents()
    return window


# -- qtmodeltester with real rows -------------------------------------------------------------
def test_patient_list_model_and_filter_with_real_rows(
    qtmodeltester: object, demo: Record, protocols: dict[str, Protocol]
) -> None:
    rows = list_patient_rows(demo, TODAY, protocols)
    assert len(rows) == 30
    model = PatientListModel()
    model.set_rows(rows)
    qtmodeltester.check(model)  # type: ignore[attr-defined]
    proxy = PatientFilterProxy()
    proxy.setSourceModel(model)
    proxy.set_filter_text("a")
    qtmodeltester.check(proxy)  # type: ignore[attr-defined]


def test_today_model_with_real_items(
    qtmodeltester: object, demo: Record, protocols: dict[str, Protocol]
) -> None:
    items = due_today(demo, TODAY, protocols)
    assert items, "the demonstration record has work due today"
    model = TodayModel()
    model.set_items(items)
    qtmodeltester.check(model)  # type: ignore[attr-defined]


def test_every_trial_board_model_with_real_rows(
    qtbot: QtBot, qtmodeltester: object, demo: Record, protocols: dict[str, Protocol]
) -> None:
    board = TrialBoardWindow(demo, protocols, today=TODAY)
    laptop_window(qtbot, board)
    models = [
        board.levels_model,
        board.patients_model,
        board.caps_model,
        board.rates_model,
        board.responses_model,
        board.excluded_model,
    ]
    assert board.levels_model.rowCount() > 0 and board.patients_model.rowCount() > 0
    for model in models:
        qtmodeltester.check(model)  # type: ignore[attr-defined]


# -- 1366 x 768: every column inside its view ------------------------------------------------
def test_patient_list_columns_fit_the_list_pane_at_1366(
    qtbot: QtBot, demo: Record, protocols: dict[str, Protocol], tmp_path: Path
) -> None:
    window = main_window(qtbot, demo, protocols, tmp_path)
    table = window.patient_list.table
    assert window.patient_list.model.rowCount() == 30
    assert_inside(table)
    model = table.model()
    # Short headers say in full what they hold in their tooltip.
    tip = model.headerData(COL_DOB, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole)
    assert tip == "Date of birth"
    # A cell cut by its column's width reads in full in its tooltip.
    for row in range(model.rowCount()):
        for column in (COL_NAME, COL_PHASE):
            index = model.index(row, column)
            assert index.data(Qt.ItemDataRole.ToolTipRole) == (index.data() or None)
    flagged = [
        model.index(r, COL_FLAGS)
        for r in range(model.rowCount())
        if model.index(r, COL_FLAGS).data()
    ]
    assert flagged, "some demonstration patients have flags"
    full = {short: word for word, short in SHORT_FLAGS.items()}
    for index in flagged:
        # The cell's short words (after the warning icon); the tooltip says each in full.
        words = index.data().split("; ")
        tip = index.data(Qt.ItemDataRole.ToolTipRole).split("\n")
        assert all(full[w] in tip for w in words)


def test_patient_list_refits_when_the_pane_narrows(
    qtbot: QtBot, demo: Record, protocols: dict[str, Protocol], tmp_path: Path
) -> None:
    window = main_window(qtbot, demo, protocols, tmp_path)
    width = window.width()
    window.splitter.setSizes([width * 2 // 5, width * 3 // 5])
    QApplication.processEvents()
    assert_inside(window.patient_list.table)


def test_trial_board_tables_fit_at_1366(
    qtbot: QtBot, demo: Record, protocols: dict[str, Protocol]
) -> None:
    board = TrialBoardWindow(demo, protocols, today=TODAY)
    laptop_window(qtbot, board)
    assert_inside(board.levels_view)
    assert_inside(board.patients_view)
    levels = board.levels_view.model()
    tip = levels.headerData(4, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole)
    assert tip == "Patients of the level's 3+3 cohort with a confirmed DLT"
    # A long text wraps in its cell: the row is as tall as its text needs.
    view = board.levels_view
    for row in range(levels.rowCount()):
        for column in range(levels.columnCount()):
            wanted = view.sizeHintForIndex(levels.index(row, column)).height()
            assert view.rowHeight(row) >= wanted
    for tab in range(board.tabs.count()):
        board.tabs.setCurrentIndex(tab)
        QApplication.processEvents()
        for view in board.tabs.currentWidget().findChildren(QTableView):
            assert_inside(view)


# -- the fitting itself --------------------------------------------------------------------------
def test_fit_columns_narrows_the_first_group_first(qtbot: QtBot) -> None:
    from clinic_app.gui.table_model import TextRowsModel

    model = TextRowsModel(["Identifier", "Long note", "Other note"])
    model.set_rows([["D-1", "x" * 80, "y" * 80]])
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.horizontalHeader().setStretchLastSection(False)
    view.resize(500, 200)
    view.show()
    view.resizeColumnsToContents()
    identifier = view.columnWidth(0)
    assert view.horizontalHeader().length() > view.viewport().width()
    fit.fit_columns(view, [[1], [2, 0]])
    assert view.horizontalHeader().length() <= view.viewport().width()
    # The last group narrowed only as far as needed; a column is never narrower than its
    # header (read in full), which may widen it.
    assert view.columnWidth(0) == max(identifier, fit.header_text_width(view, 0))
    assert view.columnWidth(1) == max(
        fit.header_text_width(view, 1), 6 * view.fontMetrics().averageCharWidth()
    )  # the first group down to its header


def test_read_only_model_base(qtmodeltester: object) -> None:
    from clinic_app.gui.table_model import ReadOnlyTableModel

    class Doses(ReadOnlyTableModel[tuple[str, int]]):
        def cell(self, row: tuple[str, int], column: int, role: int) -> object:
            if role == Qt.ItemDataRole.DisplayRole:
                return row[column]
            return None

    model = Doses(["Drug", "Day"], header_tips=["Drug given", ""])
    model.set_rows([("Dexamethasone", 1), ("Lenalidomide", 21)])
    qtmodeltester.check(model)  # type: ignore[attr-defined]
    horizontal = Qt.Orientation.Horizontal
    assert model.headerData(0, horizontal, Qt.ItemDataRole.ToolTipRole) == "Drug given"
    assert model.headerData(1, horizontal, Qt.ItemDataRole.ToolTipRole) is None
    assert model.headerData(1, Qt.Orientation.Vertical) == "2"
    assert not model.flags(model.index(0, 0)) & Qt.ItemFlag.ItemIsEditable
    assert model.index(1, 1).data() == 21 and model.row_at(1) == ("Lenalidomide", 21)
    assert model.data(model.index(5, 0)) is None  # outside the rows: nothing
