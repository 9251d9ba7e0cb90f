"""What the window defers to start faster (issue 16), and that deferring loses nothing: the
chart is built when first needed and still opens its items; work after the first paint runs
once the event loop runs, never after the window is gone."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from PySide6.QtCore import SIGNAL, QSettings, Qt
from pytestqt.qtbot import QtBot

from clinic_app.core.protocol import Protocol
from clinic_app.core.records import Patient, Sex
from clinic_app.gui.chart.panel import ChartPanel
from clinic_app.gui.main_window import CHART_LATEST_MS, MainWindow, app_settings
from clinic_app.gui.patient_list import COL_FLAGS, COL_NAME, COL_STATUS
from clinic_app.services.context import AppContext, Clock
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


def test_the_start_shows_the_names_before_the_clinical_rules_are_imported(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol], settings: QSettings
) -> None:
    # What a nurse sees in the fraction of a second before the checks have run: the names, and
    # "…" where the enrolment, cycle and flags go, never "not enrolled" or an empty flag cell.
    pid = record.repos.patients.add(Patient("M-1", "Berg", "Ana", date(1960, 1, 1), Sex.FEMALE))
    window = MainWindow(record, settings=settings, names_first=True)
    qtbot.addWidget(window)
    model = window.patient_list.model
    assert model.rowCount() == 1 and not window.loading  # nothing is computed yet
    name = model.index(0, COL_NAME).data()
    status = model.index(0, COL_STATUS)
    flags = model.index(0, COL_FLAGS)
    assert (name, status.data(), flags.data()) == ("Berg, Ana", "…", "…")
    assert "Still being read" in str(status.data(Qt.ItemDataRole.ToolTipRole))
    assert window.right.currentWidget() is window.loading_page
    assert window.session is None  # the idle lock starts with the context
    window.refresh()  # F5 before the context: nothing to compute with yet, attach loads
    assert not window.loading
    session = window.signed_in  # Lock before the context: the session starts then
    assert window.session is session
    window.show_patient(pid)  # chosen before the context: the chart waits for it
    assert window._chart is None and window.current_patient_id == pid

    window.attach(AppContext(record, protocols, Clock.following(lambda: TODAY)))
    qtbot.waitUntil(lambda: not window.loading, timeout=15000)
    assert model.index(0, COL_STATUS).data() == "not enrolled"
    assert model.index(0, COL_FLAGS).data() == ""
    assert window.session is session  # attach kept it
    qtbot.waitUntil(lambda: window._chart is not None, timeout=5000)
    assert window.right.currentWidget() is window.chart
    assert window.chart.chart.patient.mrn == "M-1"  # type: ignore[attr-defined]


def _remembered(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol], settings: QSettings
) -> tuple[int, int]:
    """Two patients, the first remembered as the one open when the window last closed."""
    first = record.repos.patients.add(Patient("M-1", "Berg", "Ana", date(1960, 1, 1), Sex.FEMALE))
    second = record.repos.patients.add(Patient("M-2", "Cruz", "Eva", date(1961, 1, 1), Sex.FEMALE))
    window = MainWindow(record, protocols, today=lambda: TODAY, settings=settings)
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: not window.loading, timeout=15000)
    window.open_patient(first)
    window.close()
    return first, second


def test_the_names_first_start_opens_the_patient_open_last(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol], settings: QSettings
) -> None:
    first, _ = _remembered(qtbot, record, protocols, settings)
    window = MainWindow(record, settings=settings, names_first=True)
    qtbot.addWidget(window)
    assert window.current_patient_id is None  # looked up with the real rows, not before
    window.attach(AppContext(record, protocols, Clock.following(lambda: TODAY)))
    qtbot.waitUntil(lambda: window.current_patient_id == first, timeout=15000)


@pytest.mark.parametrize("when", ["before the context", "while the rows load"])
def test_a_patient_chosen_at_start_is_never_replaced_by_the_one_open_last(
    qtbot: QtBot,
    record: Record,
    protocols: dict[str, Protocol],
    settings: QSettings,
    when: str,
) -> None:
    _, second = _remembered(qtbot, record, protocols, settings)
    window = MainWindow(record, settings=settings, names_first=True)
    qtbot.addWidget(window)
    if when == "before the context":
        window.show_patient(second)
    window.attach(AppContext(record, protocols, Clock.following(lambda: TODAY)))
    if when == "while the rows load":
        assert window.loading
        window.show_patient(second)
    qtbot.waitUntil(lambda: not window.loading, timeout=15000)
    qtbot.wait(50)
    assert window.current_patient_id == second
    assert window.patient_list.current_patient_id() == second


def test_work_after_the_names_painted_runs_once_after_their_paint(
    qtbot: QtBot, record: Record, settings: QSettings
) -> None:
    record.repos.patients.add(Patient("M-1", "Berg", "Ana", date(1960, 1, 1), Sex.FEMALE))
    window = MainWindow(record, settings=settings, names_first=True)
    qtbot.addWidget(window)
    ran: list[int] = []
    painted: list[int] = []
    window.patient_list.table.paintedRows.connect(lambda: painted.append(len(ran)))
    window.after_names_painted(lambda: ran.append(1))
    assert ran == []  # not while the window is built
    window.show()
    qtbot.waitUntil(lambda: ran == [1], timeout=5000)
    assert painted == [0]  # the names painted before the work ran
    window.patient_list.table.rearm()
    window.patient_list.table.viewport().update()
    qtbot.wait(CHART_LATEST_MS + 100)  # another paint, and the fallback timer: still once
    assert ran == [1]


def test_work_after_the_names_painted_runs_at_once_on_an_empty_record(
    qtbot: QtBot, record: Record, settings: QSettings
) -> None:
    window = MainWindow(record, settings=settings, names_first=True)
    qtbot.addWidget(window)
    ran: list[int] = []
    window.after_names_painted(lambda: ran.append(1))
    qtbot.waitUntil(lambda: ran == [1], timeout=2000)


def test_the_app_imports_no_clinical_rules_before_its_window_paints() -> None:
    # What cli.launch_gui imports before the window exists: the rules come after the paint,
    # on the context's and the list's own time (issue 16). A module added to the start's
    # imports that pulls in the rules fails here.
    code = (
        "import importlib, sys\n"
        "from clinic_app import cli\n"
        "for name in cli.QT_FREE_START_MODULES: importlib.import_module(name)\n"
        "import clinic_app.gui.app\n"
        "print(sorted(m for m in sys.modules if m.startswith(('clinic_app.core.', "
        "'clinic_app.services.', 'clinic_app.storage.repositories.'))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    loaded = done.stdout.strip()
    for heavy in (
        "core.protocol",
        "core.records",
        "core.decisions",
        "services.context",
        "patient_state",
    ):
        assert heavy not in loaded, loaded


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


def test_the_names_window_paints_without_building_qts_style_enums(tmp_path: Path) -> None:
    # Python builds QStyle's dozen enums (~15 ms) on its first use; the names' window does not
    # need them (the warning icon waits for the flags). A fresh process: this one has them.
    code = (
        "import sys\n"
        "from PySide6 import QtWidgets\n"
        "from clinic_app.gui.app import MainWindow, application\n"
        "from clinic_app.storage.database import open_database\n"
        "app = application(guard=False)\n"
        f"record = open_database({str(tmp_path / 'r.sqlite3')!r})\n"
        "window = MainWindow(record, names_first=True)\n"
        "window.show()\n"
        "app.processEvents()\n"
        "print('QStyle' in vars(QtWidgets))\n"
    )
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "CLINIC_APP_CONFIG": str(tmp_path / "settings.json"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env
    )
    assert done.stdout.strip() == "False", done.stderr
