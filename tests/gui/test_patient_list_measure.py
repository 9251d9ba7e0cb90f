"""The list measures its columns' contents once per change (issue 16: a faster first paint),
and a change in what is in view is always measured again: no stale widths."""

from __future__ import annotations

from dataclasses import replace

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from clinic_app.gui.patient_list import (
    COL_FLAGS,
    COL_NAME,
    COL_PHASE,
    COLUMNS,
    PatientListModel,
    PatientListView,
)
from clinic_app.services.patient_state import PatientRow
from tests.gui.test_patient_list import BASE, many

pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support (propagateSizeHints|raise)")


def _shown(qtbot: QtBot, rows: list[PatientRow]) -> PatientListView:
    view = PatientListView()
    qtbot.addWidget(view)
    view.resize(900, 500)
    view.show()
    qtbot.waitExposed(view)
    view.set_rows(rows)
    QApplication.processEvents()
    return view


def _fresh_widths(view: PatientListView) -> list[int]:
    """What measuring from scratch gives for the rows in view now."""
    view._measured_for = None
    view._fit_columns()
    return [view.table.columnWidth(c) for c in range(COL_PHASE + 1)]


def test_a_resize_with_the_same_rows_reuses_the_widths_measured(qtbot: QtBot) -> None:
    view = _shown(qtbot, many(40))
    measured = view._measured_for
    measures: list[list[int]] = []
    table = view.table
    original = view.content_widths
    view.content_widths = lambda columns: (  # type: ignore[method-assign]
        measures.append(list(columns)) or original(columns)
    )
    view.resize(880, 500)  # narrower: the same rows stay in view
    QApplication.processEvents()
    assert view._measured_for == measured
    assert all(columns == [COL_FLAGS] for columns in measures)  # the stretched flags alone
    widths = [table.columnWidth(c) for c in range(COL_PHASE + 1)]
    assert widths == _fresh_widths(view)


def test_a_longer_name_in_view_is_measured_again(qtbot: QtBot) -> None:
    rows = many(5)
    view = _shown(qtbot, rows)
    before = view.table.columnWidth(COL_NAME)
    longer = replace(rows[0], family_name="Vandenberghe-Oosterhuis", given_name="Maximiliaan")
    view.upsert(longer)  # the row changes in place: the model says its data changed
    view.resize(880, 500)  # a resize with the same rows in view, as before the change
    QApplication.processEvents()
    assert view.table.columnWidth(COL_NAME) > before
    assert view.table.columnWidth(COL_NAME) == _fresh_widths(view)[COL_NAME]


def test_new_rows_are_measured_again(qtbot: QtBot) -> None:
    view = _shown(qtbot, [BASE])
    before = view.table.columnWidth(COL_PHASE)
    view.set_rows([replace(BASE, phase="consolidation", dose_level=-1)])
    QApplication.processEvents()
    assert view.table.columnWidth(COL_PHASE) > before


def test_the_roles_answered_before_any_lookup_are_those_no_cell_has() -> None:
    # data() answers most roles at once; what it answers must be what the cell says.
    model = PatientListModel()
    flagged = replace(BASE, severe_toxicity=True, notes=("Grade 3 neutropenia.",))
    model.set_rows([BASE, flagged])
    roles = [*range(0, 64), *range(Qt.ItemDataRole.UserRole, Qt.ItemDataRole.UserRole + 8)]
    for row in range(model.rowCount()):
        for column in range(model.columnCount()):
            index = model.index(row, column)
            for role in roles:
                direct = model.cell(model.row_at(row), column, role)
                answered = model.data(index, role)
                if isinstance(direct, QIcon):
                    assert isinstance(answered, QIcon), (row, column, role)
                else:
                    assert answered == direct, (row, column, role)


def _qt_widths(view: PatientListView) -> list[int]:
    """What Qt's own measure (every cell through the delegate) gives each column now."""
    table = view.table
    widths = []
    for column in range(len(COLUMNS)):
        before = table.columnWidth(column)
        table.resizeColumnToContents(column)
        widths.append(table.columnWidth(column))
        table.setColumnWidth(column, before)
    return widths


def _varied(n: int) -> list[PatientRow]:
    """Names, phases, statuses and flags of many widths, the widest in different rows; some
    flagged rows (the warning icon) have shorter words than an unflagged row's empty cell."""
    rows = many(n)
    rows[3] = replace(rows[3], family_name="Vandenberghe-Oosterhuis", given_name="Maximiliaan")
    rows[7] = replace(rows[7], phase="consolidation", dose_level=-1, overdue_labs=True)
    rows[11] = replace(rows[11], severe_toxicity=True, dlt_review_pending=True, bsa_recheck=True)
    rows[12] = replace(rows[12], protocol_name=None, phase=None, status=None, cycle=None)
    rows[20] = replace(rows[20], mrn="MRN-ABCDEFGHIJ-99", cycle=12, day=28)
    return rows


@pytest.mark.parametrize("precision", [1000, -1, 0])
def test_the_quick_measure_gives_the_widths_qt_measures(qtbot: QtBot, precision: int) -> None:
    # The widths are Qt's (resizeColumnToContents) for every column, with and without the
    # warning icon, a header wider than its cells, and the rows Qt reads at each precision
    # (0: only those in view, where the longest name is not).
    view = _shown(qtbot, _varied(40))
    view.table.horizontalHeader().setResizeContentsPrecision(precision)
    quick = view.content_widths(range(len(COLUMNS)))
    assert list(quick.values()) == _qt_widths(view)
    if precision == 0:
        view.table.horizontalHeader().setResizeContentsPrecision(-1)
        assert view.content_widths([COL_NAME])[COL_NAME] > quick[COL_NAME]


def test_the_quick_measure_before_the_list_is_shown(qtbot: QtBot) -> None:
    view = PatientListView()
    qtbot.addWidget(view)
    view.set_rows(_varied(30))  # hidden: Qt measures every row
    assert list(view.content_widths(range(len(COLUMNS))).values()) == _qt_widths(view)
    rows = many(3)
    view.set_rows([replace(r, severe_toxicity=False) for r in rows])
    assert list(view.content_widths(range(len(COLUMNS))).values()) == _qt_widths(view)


def test_rows_given_before_the_first_show_are_fitted_when_it_comes(qtbot: QtBot) -> None:
    # The list skips fitting while its first resize is still to come; that resize fits them
    # as rows given to a shown list are, in a wide window and a narrow one.
    for width in (1300, 700):
        before = PatientListView()
        qtbot.addWidget(before)
        before.set_rows(_varied(30))
        before.resize(width, 500)
        before.show()
        qtbot.waitExposed(before)
        after = PatientListView()
        qtbot.addWidget(after)
        after.resize(width, 500)
        after.show()
        qtbot.waitExposed(after)
        after.set_rows(_varied(30))
        QApplication.processEvents()
        columns = range(len(COLUMNS))
        widths = [before.table.columnWidth(c) for c in columns]
        assert widths == [after.table.columnWidth(c) for c in columns], width
        assert widths != [before._natural.get(c) for c in columns]  # fitted, not the defaults
