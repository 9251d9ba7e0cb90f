"""The chart shows only the patient a person chose (issue 14, patient safety).

Driven by keys and clicks in the real main window over a real record: typing in Find never
switches the chart, Enter in Find opens the first match, a filtered-out open patient stays in
the chart marked as not in the list, the Today view does not open anybody on its own, and the
remembered patient is remembered per record by MRN, never by internal row id.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QSettings, Qt
from PySide6.QtWidgets import QTableView
from pytestqt.qtbot import QtBot

from clinic_app.core.protocol import Protocol
from clinic_app.core.records import Patient, Sex
from clinic_app.gui.chart.panel import ChartPanel
from clinic_app.gui.main_window import MainWindow, app_settings
from clinic_app.storage.backup import backup_to, restore_from
from clinic_app.storage.database import Record, open_database

pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support (propagateSizeHints|raise)")
TODAY = date(2025, 3, 12)
PEOPLE = (
    ("MRN-A", "Andersson", "Anna"),
    ("MRN-B", "Berg", "Bertil"),
    ("MRN-C", "Carlsson", "Cecilia"),
    ("MRN-D", "Dahl", "David"),
)


@pytest.fixture
def settings(tmp_path: Path) -> QSettings:
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path))
    return app_settings()


def fill(record: Record, people: tuple[tuple[str, str, str], ...] = PEOPLE) -> dict[str, int]:
    ids = {}
    for mrn, family, given in people:
        ids[mrn] = record.repos.patients.add(
            Patient(mrn, family, given, date(1955, 1, 1), Sex.FEMALE), reason="test"
        )
    return ids


def make_window(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol], settings: QSettings
) -> MainWindow:
    window = MainWindow(record, protocols, today=lambda: TODAY, settings=settings)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: not window.loading, timeout=15000)
    return window


def row_of(table: QTableView, mrn: str) -> int:
    model = table.model()
    for r in range(model.rowCount()):
        if model.index(r, 0).data() == mrn or model.index(r, 1).data() == mrn:
            return r
    raise AssertionError(f"{mrn} not shown")


def click_row(qtbot: QtBot, table: QTableView, row: int) -> None:
    rect = table.visualRect(table.model().index(row, 0))
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def chart_mrn(window: MainWindow) -> str | None:
    chart = window.chart
    assert isinstance(chart, ChartPanel)
    return None if chart.chart is None else chart.chart.patient.mrn


def test_find_never_switches_the_chart_and_enter_opens_the_first_match(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol], settings: QSettings
) -> None:
    fill(record)
    window = make_window(qtbot, record, protocols, settings)
    table = window.patient_list.table
    click_row(qtbot, table, row_of(table, "MRN-B"))
    assert chart_mrn(window) == "MRN-B"
    assert "MRN-B" in window.windowTitle()

    # Type so that Berg is filtered out: "a" matches Andersson, Carlsson, Dahl (and Anna...).
    find = window.patient_list.filter_edit
    find.setFocus()
    qtbot.keyClicks(find, "Carl")
    assert window.patient_list.proxy.rowCount() == 1
    # Nobody chose Carlsson: the chart and the title stay on Berg, marked as filtered out.
    assert chart_mrn(window) == "MRN-B"
    assert "MRN-B" in window.windowTitle()
    chart = window.chart
    assert isinstance(chart, ChartPanel)
    assert chart.header.filtered_out.isVisibleTo(chart)
    assert "not in the filtered list" in chart.header.filtered_out.text()
    # The list does not highlight a neighbour nobody chose.
    assert not table.selectionModel().hasSelection()

    # Widen the filter so several match; Enter in Find opens the FIRST match, as the guide says.
    find.clear()
    qtbot.keyClicks(find, "a")  # Andersson, Carlsson, Dahl ... not Berg? "Bertil" has no a
    first = table.model().index(0, 0).data()
    assert first != "MRN-B"
    assert chart_mrn(window) == "MRN-B"
    qtbot.keyClick(find, Qt.Key.Key_Return)
    assert chart_mrn(window) == first
    assert first in window.windowTitle()
    assert not chart.header.filtered_out.isVisibleTo(chart)


def test_clearing_find_keeps_the_chosen_patient_highlighted(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol], settings: QSettings
) -> None:
    fill(record)
    window = make_window(qtbot, record, protocols, settings)
    table = window.patient_list.table
    click_row(qtbot, table, row_of(table, "MRN-C"))
    find = window.patient_list.filter_edit
    qtbot.keyClicks(find, "Dahl")
    assert chart_mrn(window) == "MRN-C"
    find.clear()  # the clear button: everyone is back, Carlsson is highlighted again
    assert chart_mrn(window) == "MRN-C"
    assert window.patient_list.current_patient_id() == window.current_patient_id
    chart = window.chart
    assert isinstance(chart, ChartPanel)
    assert not chart.header.filtered_out.isVisibleTo(chart)


def test_arrow_keys_and_enter_in_the_list_choose(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol], settings: QSettings
) -> None:
    fill(record)
    window = make_window(qtbot, record, protocols, settings)
    table = window.patient_list.table
    click_row(qtbot, table, row_of(table, "MRN-A"))
    table.setFocus()
    qtbot.keyClick(table, Qt.Key.Key_Down)
    assert chart_mrn(window) == table.model().index(1, 0).data()
    qtbot.keyClick(table, Qt.Key.Key_Return)
    assert chart_mrn(window) == table.model().index(1, 0).data()


def test_a_reload_never_moves_the_chart(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol], settings: QSettings
) -> None:
    ids = fill(record)
    window = make_window(qtbot, record, protocols, settings)
    table = window.patient_list.table
    click_row(qtbot, table, row_of(table, "MRN-D"))
    qtbot.keyClicks(window.patient_list.filter_edit, "Berg")
    # A save elsewhere reloads the list in the background while Dahl is filtered out.
    window.refresh()
    qtbot.waitUntil(lambda: not window.loading, timeout=15000)
    assert chart_mrn(window) == "MRN-D"
    assert window.current_patient_id == ids["MRN-D"]


def test_today_view_opens_only_what_a_person_activates(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol], settings: QSettings
) -> None:
    from clinic_app.services.patient_state import DueItem, DueKind

    ids = fill(record)
    window = make_window(qtbot, record, protocols, settings)
    table = window.patient_list.table
    click_row(qtbot, table, row_of(table, "MRN-A"))
    items = [
        DueItem(ids["MRN-C"], "MRN-C", "Cecilia Carlsson", DueKind.LAB_DAY, "Labs", "C1 D8"),
        DueItem(ids["MRN-D"], "MRN-D", "David Dahl", DueKind.LAB_DAY, "Labs", "C1 D8"),
    ]
    window.today_view.set_items(items, TODAY)
    # Going to the Today tab and focusing its table selects nobody by itself.
    window.left_tabs.setCurrentIndex(1)
    window.today_view.table.setFocus()
    window.today_view.set_items(list(reversed(items)), TODAY)  # a background reload
    assert chart_mrn(window) == "MRN-A"
    today_table = window.today_view.table
    click_row(qtbot, today_table, row_of(today_table, "MRN-D"))
    assert chart_mrn(window) == "MRN-D"
    qtbot.keyClick(today_table, Qt.Key.Key_Up)
    qtbot.keyClick(today_table, Qt.Key.Key_Return)
    assert chart_mrn(window) == today_table.model().index(0, 1).data()


def test_remembered_patient_is_per_record_and_by_mrn(
    qtbot: QtBot, tmp_path: Path, protocols: dict[str, Protocol], settings: QSettings
) -> None:
    first_path = tmp_path / "first.sqlite3"
    with open_database(first_path) as first:
        ids = fill(first)
        window = make_window(qtbot, first, protocols, settings)
        table = window.patient_list.table
        click_row(qtbot, table, row_of(table, "MRN-C"))
        assert chart_mrn(window) == "MRN-C"
        window.close()
        saved = {key: settings.value(key) for key in settings.allKeys()}
        # Never the internal row id.
        assert str(ids["MRN-C"]) not in {str(v) for v in saved.values()}

    # Another record, where row id 3 is a different person: nobody is opened.
    with open_database(tmp_path / "other.sqlite3") as other:
        fill(other, (("X-1", "Xu", "Xia"), ("X-2", "Young", "Yara"), ("X-3", "Zed", "Zoe")))
        again = make_window(qtbot, other, protocols, app_settings())
        assert again.current_patient_id is None
        assert chart_mrn(again) is None
        again.close()

    # The same record reopened: the remembered MRN is opened again.
    with open_database(first_path) as same:
        back = make_window(qtbot, same, protocols, app_settings())
        assert chart_mrn(back) == "MRN-C"
        back.close()


def test_the_remembered_patients_chart_is_built_after_the_list_and_shows_who_is_chosen(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol], settings: QSettings
) -> None:
    # Issue 16: the remembered patient is chosen as the list loads, but their chart is built
    # only after the list (building it first kept the patients off the screen). The window is
    # not shown here, so the chart waits for its latest time, leaving room to choose another.
    ids = fill(record)
    window = make_window(qtbot, record, protocols, settings)
    click_row(qtbot, window.patient_list.table, row_of(window.patient_list.table, "MRN-C"))
    window.close()

    again = MainWindow(record, protocols, today=lambda: TODAY, settings=app_settings())
    qtbot.addWidget(again)
    qtbot.waitUntil(lambda: not again.loading, timeout=15000)
    assert again._chart is None  # not built with the list
    assert again.current_patient_id == ids["MRN-C"]
    assert again.patient_list.current_patient_id() == ids["MRN-C"]
    again.open_patient(ids["MRN-B"])  # a person chooses another before it is built
    assert again._chart is None
    qtbot.waitUntil(lambda: again._chart is not None, timeout=5000)
    assert chart_mrn(again) == "MRN-B"
    assert "MRN MRN-B" in again.windowTitle()
    again.close()

    third = MainWindow(record, protocols, today=lambda: TODAY, settings=app_settings())
    qtbot.addWidget(third)
    qtbot.waitUntil(lambda: third._chart is not None, timeout=15000)
    assert chart_mrn(third) == "MRN-B"  # the one chosen last is remembered and shown
    assert third.right.currentWidget() is third.chart


def test_a_restored_backup_never_opens_a_different_person(
    qtbot: QtBot, tmp_path: Path, protocols: dict[str, Protocol], settings: QSettings
) -> None:
    path, copy = tmp_path / "record.sqlite3", tmp_path / "copy.sqlite3"
    with open_database(path) as rec:
        fill(rec)
        backup_to(rec, copy)  # A-D only
        late = fill(rec, (("MRN-E", "Ek", "Elsa"),))["MRN-E"]  # row id 5, after the backup
        window = make_window(qtbot, rec, protocols, settings)
        window.open_patient(late)
        assert chart_mrn(window) == "MRN-E"
        window.close()
    restore_from(path, copy)
    with open_database(path) as restored:
        # A new patient in the restored record takes row id 5: another person.
        other = fill(restored, (("MRN-F", "Falk", "Frida"),))["MRN-F"]
        assert other == late
        again = make_window(qtbot, restored, protocols, app_settings())
        assert chart_mrn(again) is None  # Elsa Ek is not in this record: nobody is opened
        assert again.current_patient_id is None
        again.close()


def test_click_on_a_row_outside_any_row_changes_nothing(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol], settings: QSettings
) -> None:
    fill(record)
    window = make_window(qtbot, record, protocols, settings)
    table = window.patient_list.table
    click_row(qtbot, table, row_of(table, "MRN-B"))
    bottom = table.viewport().rect().bottomLeft() + QPoint(5, -5)
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=bottom)
    assert chart_mrn(window) == "MRN-B"
