"""What the window defers to start faster (issue 16), and that deferring loses nothing: the
chart is built when first needed and still opens its items; work after the first paint runs
once the event loop runs, never after the window is gone."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import pytest
from PySide6.QtCore import SIGNAL, QSettings
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from clinic_app.core.protocol import Protocol
from clinic_app.core.records import Patient, Sex
from clinic_app.gui.app import after_first_paint
from clinic_app.gui.chart.panel import ChartPanel
from clinic_app.gui.main_window import MainWindow, app_settings
from clinic_app.storage.database import Record

pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support (propagateSizeHints|raise)")
TODAY = date(2025, 3, 12)
ACTIVATED = SIGNAL("activated(QModelIndex)")


@pytest.fixture
def settings(tmp_path: Path) -> QSettings:
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path))
    return app_settings()


def test_the_chart_is_built_once_the_list_has_loaded_and_opens_its_items(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol], settings: QSettings
) -> None:
    pid = record.repos.patients.add(Patient("M-1", "Berg", "Ana", date(1960, 1, 1), Sex.FEMALE))
    window = MainWindow(record, protocols, today=lambda: TODAY, settings=settings)
    qtbot.addWidget(window)
    assert window._chart is None  # the first paint shows the loading page, not a chart
    window.show()
    qtbot.waitUntil(lambda: not window.loading, timeout=15000)
    chart = window.chart
    assert window.right.currentWidget() is chart
    assert window.right.indexOf(chart) >= 0
    assert window.chart is chart  # built once
    window.open_patient(pid)
    # Enter or a double-click on a row of the chart's tables opens the item: the window's
    # actions are connected to the tables of the chart built late, beyond the chart's own.
    bare = ChartPanel(today=lambda: TODAY, protocols=protocols)
    qtbot.addWidget(bare)
    for name in ("labs", "adverse_events", "day_grid"):
        wired = getattr(chart.tabs, name).view  # type: ignore[attr-defined]
        alone = getattr(bare.tabs, name).view
        assert wired.receivers(ACTIVATED) == alone.receivers(ACTIVATED) + 1, name


def test_work_after_the_first_paint_runs_once_the_loop_runs(qtbot: QtBot) -> None:
    window = QWidget()
    qtbot.addWidget(window)
    ran: list[str] = []
    window.show()
    timer = after_first_paint(window, lambda: ran.append("backup"))
    assert ran == []  # not during start-up
    assert timer.parent() is window and timer.isSingleShot()
    qtbot.waitUntil(lambda: ran == ["backup"], timeout=5000)
    qtbot.wait(50)
    assert ran == ["backup"]  # once


def test_work_after_the_first_paint_never_outlives_the_window(qtbot: QtBot) -> None:
    window = QWidget()
    ran: list[str] = []
    after_first_paint(window, lambda: ran.append("backup"))
    window.deleteLater()  # closed before the loop ran: its timer goes with it
    qtbot.wait(100)
    assert ran == []


def test_a_build_without_demonstration_data_says_so_when_the_empty_record_shows(
    qtbot: QtBot,
    record: Record,
    protocols: dict[str, Protocol],
    settings: QSettings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Asked when the welcome page first shows (not at every start): the offer is still refused.
    monkeypatch.setitem(sys.modules, "clinic_app.services.demo", None)  # import fails
    window = MainWindow(record, protocols, today=lambda: TODAY, settings=settings)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: not window.loading, timeout=15000)
    assert window.right.currentWidget() is window.welcome
    assert not window.welcome.demo_button.isEnabled()
    assert "not available" in window.welcome.demo_button.toolTip()


def test_the_demonstration_offer_works_when_the_empty_record_shows(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol], settings: QSettings
) -> None:
    window = MainWindow(record, protocols, today=lambda: TODAY, settings=settings)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: not window.loading, timeout=15000)
    assert window.right.currentWidget() is window.welcome
    assert window.welcome.demo_button.isEnabled()


def test_the_list_paints_first_then_the_chart_is_built_by_itself(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol], settings: QSettings
) -> None:
    record.repos.patients.add(Patient("M-1", "Berg", "Ana", date(1960, 1, 1), Sex.FEMALE))
    window = MainWindow(record, protocols, today=lambda: TODAY, settings=settings)
    qtbot.addWidget(window)
    window.show()
    seen: list[tuple[str, int]] = []
    window.right.currentChanged.connect(
        lambda _i: seen.append(
            (window.right.currentWidget().objectName(), window.patient_list.model.rowCount())
        )
    )
    qtbot.waitUntil(lambda: not window.loading, timeout=15000)
    # Nobody touches the chart: it is built once the loop runs again, and takes the pane.
    qtbot.waitUntil(lambda: window._chart is not None, timeout=5000)
    assert window.right.currentWidget() is window._chart
    assert seen[0] == ("choose_page", 1)  # the patient was listed before the chart was built
