"""The main window driven like a user: new patient, enrol (DexTR, BPD), filter, switch, restore."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from PySide6.QtCore import QDate, QSettings, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication, QDialog
from pytestqt.qtbot import QtBot

from clinic_app.core.protocol import Protocol
from clinic_app.gui.chart.panel import ChartPanel
from clinic_app.gui.dialogs.enrolment import EnrolmentDialog
from clinic_app.gui.dialogs.new_patient import NewPatientDialog
from clinic_app.gui.main_window import MainWindow, app_settings
from clinic_app.storage.database import Record

pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support (propagateSizeHints|raise)")
TODAY = date(2025, 3, 12)


@pytest.fixture
def settings(tmp_path: Path) -> QSettings:
    # Tests never touch the user's settings: point the INI user scope at tmp_path.
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path))
    return app_settings()


def make_window(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol], settings: QSettings
) -> MainWindow:
    window = MainWindow(record, protocols, today=lambda: TODAY, settings=settings)
    qtbot.addWidget(window)
    window.show()
    wait_loaded(qtbot, window)
    return window


def wait_loaded(qtbot: QtBot, window: MainWindow) -> None:
    """The list loads in the background; wait for it like a user waits for the rows."""
    qtbot.waitUntil(lambda: not window.loading, timeout=15000)


def press(action: QAction, keys: QKeySequence) -> None:
    """Use a menu action by its shortcut. The offscreen platform never makes a window active,
    so Qt would not route the key itself: check the binding, then trigger the action."""
    assert action.shortcut() == keys
    assert action.isEnabled()
    action.trigger()


def active_dialog(kind: type[QDialog]) -> QDialog:
    found = [w for w in QApplication.topLevelWidgets() if isinstance(w, kind) and w.isVisible()]
    assert len(found) == 1
    return found[0]


def add_patient_through_ui(qtbot: QtBot, window: MainWindow, mrn: str, family: str) -> None:
    press(window.new_patient_action, QKeySequence(QKeySequence.StandardKey.New))
    dialog = active_dialog(NewPatientDialog)
    assert isinstance(dialog, NewPatientDialog)
    qtbot.keyClicks(dialog.edits["mrn"], mrn)
    dialog.edits["family_name"].insert(family)
    qtbot.keyClicks(dialog.edits["given_name"], "Ana")
    qtbot.keyClicks(dialog.edits["date_of_birth"], "1960-05-01")
    dialog.sex.setCurrentIndex(1)
    with qtbot.waitSignal(dialog.accepted):
        qtbot.keyClick(dialog.edits["given_name"], Qt.Key.Key_Return)


def enrol_through_ui(qtbot: QtBot, window: MainWindow, protocol: str) -> None:
    press(window.enrol_action, QKeySequence("Ctrl+E"))
    dialog = active_dialog(EnrolmentDialog)
    assert isinstance(dialog, EnrolmentDialog)
    dialog.protocol.setCurrentIndex(dialog.protocol.findData(protocol))
    dialog.enrolled_on.setDate(QDate(2025, 3, 10))
    dialog.cycle1_start.setDate(QDate(2025, 3, 12))  # cycle 1 day 1 is TODAY
    for row in dialog._gates:
        row.check.setChecked(True)
        row.date.setDate(QDate(2025, 3, 10))
    qtbot.keyClicks(dialog.height_edit, "165")
    qtbot.keyClicks(dialog.weight_edit, "64")
    qtbot.keyClicks(dialog.creatinine_edit, "70")
    assert dialog.ok_button.isEnabled(), dialog.status.text()
    with qtbot.waitSignal(dialog.accepted):
        qtbot.keyClick(dialog.creatinine_edit, Qt.Key.Key_Return)


def test_empty_record_offers_demo_and_status_bar(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol], settings: QSettings
) -> None:
    window = make_window(qtbot, record, protocols, settings)
    assert window.right.currentWidget() is window.welcome
    assert window.welcome.demo_button.isEnabled()
    text = window.status_label.text()
    assert str(record.path) in text and f"User: {record.os_user}" in text
    assert not window.enrol_action.isEnabled()
    menus = [a.text() for a in window.menuBar().actions()]
    assert menus == ["&File", "&View", "&Patient", "T&rial", "&Help"]


def test_demo_patients_created_off_the_gui_thread(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol], settings: QSettings
) -> None:
    window = make_window(qtbot, record, protocols, settings)
    window.welcome.demo_button.click()
    assert window.demo_running
    qtbot.waitUntil(lambda: not window.demo_running, timeout=120_000)
    wait_loaded(qtbot, window)
    assert window.patient_list.model.total == 40
    chart = window.chart  # built just after the list's paint; at once when asked for
    assert window.right.currentWidget() is chart


def test_user_creates_enrols_filters_and_switches(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol], settings: QSettings
) -> None:
    window = make_window(qtbot, record, protocols, settings)
    add_patient_through_ui(qtbot, window, "MRN-1", "Nováková")
    assert window.patient_list.model.total == 1
    first = window.current_patient_id
    assert first is not None
    assert "Ana Nováková (born 1 May 1960, MRN MRN-1)" in window.windowTitle()
    enrol_through_ui(qtbot, window, "dextr")

    add_patient_through_ui(qtbot, window, "MRN-2", "Ødegård")
    second = window.current_patient_id
    assert second is not None and second != first
    enrol_through_ui(qtbot, window, "bpd")

    table = window.patient_list.proxy
    rows = {
        table.index(r, 0).data(): (table.index(r, 3).data(), table.index(r, 6).data())
        for r in range(table.rowCount())
    }
    assert rows == {"MRN-1": ("DexTR", "active"), "MRN-2": ("BPD", "active")}

    # Both start cycle 1 today, so both are in the Today view with the reason (it reloads
    # in the background after each save).
    wait_loaded(qtbot, window)
    assert window.left_tabs.tabText(1).startswith("&Today (")
    due_patients = {
        window.today_view.model.item_at(r).mrn for r in range(window.today_view.model.rowCount())
    }
    assert due_patients == {"MRN-1", "MRN-2"}

    # Type-to-filter (accents ignored); Enter in Find opens the first match.
    press(window.find_action, QKeySequence(QKeySequence.StandardKey.Find))
    chart = window.chart
    assert isinstance(chart, ChartPanel)
    qtbot.keyClicks(window.patient_list.filter_edit, "novakova")
    assert window.current_patient_id == second  # typing chose nobody
    with (
        qtbot.waitSignal(window.patientShown) as shown,
        qtbot.waitSignal(chart.patientChanged) as charted,
    ):
        qtbot.keyClick(window.patient_list.filter_edit, Qt.Key.Key_Return)
    assert shown.args == [first]
    assert "MRN-1" in charted.args[0]
    assert table.rowCount() == 1
    window.patient_list.filter_edit.clear()
    with qtbot.waitSignal(chart.patientChanged) as charted:
        window.open_patient(second)
    assert "MRN-2" in charted.args[0]
    assert "MRN MRN-2" in window.windowTitle()


def test_settings_restore_geometry_splitter_and_last_patient(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol], settings: QSettings
) -> None:
    window = make_window(qtbot, record, protocols, settings)
    add_patient_through_ui(qtbot, window, "MRN-1", "Smith")
    add_patient_through_ui(qtbot, window, "MRN-2", "Jones")
    first = record.repos.patients.by_mrn("MRN-1")
    assert first is not None
    window.open_patient(first.id)
    # The offscreen screen is 800 x 600 and restoreGeometry keeps a window on its screen,
    # so the saved size must fit it.
    window.resize(700, 560)
    window.splitter.setSizes([250, 450])
    size, sizes = window.size(), window.splitter.sizes()
    assert (size.width(), size.height()) == (700, 560)
    window.close()

    again = make_window(qtbot, record, protocols, app_settings())
    assert again.current_patient_id == first.id
    assert again.patient_list.current_patient_id() == first.id
    assert again.size() == size
    assert again.splitter.sizes() == sizes


def test_our_bug_is_logged_and_the_app_keeps_running(qtbot: QtBot, tmp_path: Path) -> None:
    from clinic_app.gui.errors import install_exception_reporter

    reporter = install_exception_reporter(lambda: None, tmp_path / "logs")
    try:
        try:
            raise RuntimeError("boom in a slot")
        except RuntimeError as exc:
            reporter(type(exc), exc, exc.__traceback__)
        qtbot.waitUntil(lambda: reporter.last_box is not None)
        assert reporter.last_box is not None
        assert "keep working" in reporter.last_box.text()
        log = (tmp_path / "logs" / "clinic-app.log").read_text(encoding="utf-8")
        assert "RuntimeError: boom in a slot" in log and "Traceback" in log
        reporter.last_box.close()
    finally:
        reporter.uninstall()


def test_a_bug_before_the_log_is_opened_opens_it_and_is_logged(
    qtbot: QtBot, tmp_path: Path
) -> None:
    # The app opens its log after the first paint; an error before that is not lost.
    from clinic_app.gui.errors import install_exception_reporter

    reporter = install_exception_reporter(lambda: None, tmp_path / "logs", open_log=False)
    try:
        assert reporter.log_file is None and not (tmp_path / "logs").exists()
        try:
            raise RuntimeError("boom before the paint")
        except RuntimeError as exc:
            reporter(type(exc), exc, exc.__traceback__)
        qtbot.waitUntil(lambda: reporter.last_box is not None)
        assert reporter.last_box is not None
        log = tmp_path / "logs" / "clinic-app.log"
        assert str(log) in reporter.last_box.informativeText()
        assert "RuntimeError: boom before the paint" in log.read_text(encoding="utf-8")
        reporter.last_box.close()
        assert reporter.open_log() == log  # opened once
    finally:
        reporter.uninstall()


def test_the_window_flags_with_the_records_own_thresholds_from_its_context(
    qtbot: QtBot, record: Record, settings: QSettings
) -> None:
    """One context (issue 17): a window given only the record reads the clinic's thresholds
    kept in it, as ``clinic-app patient`` does (tests/services/test_context.py)."""
    from decimal import Decimal

    from clinic_app.services import settings as clinic_settings
    from clinic_app.services.context import AppContext, Clock
    from tests.services.test_context import _dextr_patient

    pid = _dextr_patient(record)  # -5 % weight since the BSA of cycle 1
    clinic_settings.set_value(record, clinic_settings.WEIGHT_CHANGE_PCT, "5", reason="test")
    window = MainWindow(
        AppContext.for_record(record, Clock.on(date(2024, 3, 20))), settings=settings
    )
    qtbot.addWidget(window)
    window.show()
    wait_loaded(qtbot, window)
    assert window.today() == date(2024, 3, 20)
    assert window.protocols["dextr"].settings.weight_change_pct == Decimal("5")
    model = window.patient_list.model
    source_row = model.source_row_of(pid)
    assert source_row is not None
    row = model.row_at(source_row)
    # |(66.5 - 70) / 70| = 5 % reaches the clinic's 5 % (the file's 10 % would not flag it).
    assert row.bsa_recheck


def test_a_log_folder_that_cannot_be_written_never_stops_the_app(
    qtbot: QtBot, tmp_path: Path
) -> None:
    # The app opens its log inside its start's after-paint work: a data folder it may not
    # write (here a file stands where the folder would be) must not stop that work.
    from clinic_app.gui.errors import install_exception_reporter

    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file", encoding="utf-8")
    reporter = install_exception_reporter(lambda: None, blocked / "logs", open_log=False)
    try:
        assert reporter.open_log() is None
        assert reporter.log_problem is not None and "could not be written" in reporter.log_problem
        try:
            raise RuntimeError("boom without a log")
        except RuntimeError as exc:
            reporter(type(exc), exc, exc.__traceback__)
        qtbot.waitUntil(lambda: reporter.last_box is not None)
        assert reporter.last_box is not None
        assert "No details were kept" in reporter.last_box.informativeText()
        reporter.last_box.close()
    finally:
        reporter.uninstall()
