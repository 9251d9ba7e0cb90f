"""The list measures its columns' contents once per change (issue 16: a faster first paint),
and a change in what is in view is always measured again: no stale widths."""

from __future__ import annotations

from dataclasses import replace

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from clinic_app.gui.patient_list import COL_NAME, COL_PHASE, PatientListModel, PatientListView
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
    measures: list[int] = []
    table = view.table
    original = table.resizeColumnToContents
    table.resizeColumnToContents = lambda c: (measures.append(c), original(c))  # type: ignore[method-assign]
    view.resize(880, 500)  # narrower: the same rows stay in view
    QApplication.processEvents()
    assert view._measured_for == measured and measures == []
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
