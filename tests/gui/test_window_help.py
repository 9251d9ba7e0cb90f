"""The main window's keys, reasons and help (issue 14): shortcuts from Find, disabled actions that
say why, the user guide and the shortcut list, the loading page, and status lines that stay."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, QSettings, Qt
from PySide6.QtGui import QAction, QKeyEvent, QKeySequence
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from clinic_app.core.protocol import Protocol
from clinic_app.core.records import Patient, Sex
from clinic_app.gui.help_menu import GuideViewer, ShortcutsDialog
from clinic_app.gui.main_window import MainWindow, app_settings
from clinic_app.storage.database import Record

pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support (propagateSizeHints|raise)")
TODAY = date(2025, 3, 12)


@pytest.fixture
def settings(tmp_path: Path) -> QSettings:
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path))
    return app_settings()


def make_window(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol], settings: QSettings
) -> MainWindow:
    window = MainWindow(record, protocols, today=lambda: TODAY, settings=settings)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: not window.loading, timeout=15000)
    return window


def claimed_by(widget: object, keys: QKeyEvent) -> bool:
    QApplication.sendEvent(widget, keys)  # type: ignore[arg-type]
    return keys.isAccepted()


def test_window_shortcuts_work_from_find(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol], settings: QSettings
) -> None:
    record.repos.patients.add(Patient("M-1", "Berg", "Ana", date(1960, 1, 1), Sex.FEMALE))
    window = make_window(qtbot, record, protocols, settings)
    window.open_patient(window.patient_list.model.row_at(0).patient_id)
    find = window.patient_list.filter_edit
    ctrl = Qt.KeyboardModifier.ControlModifier
    # Ctrl+E (enrol): X11 key bindings make a line edit claim it for "end of line".
    ctrl_e = QKeyEvent(QEvent.Type.ShortcutOverride, Qt.Key.Key_E, ctrl)
    assert not claimed_by(find, ctrl_e)
    # Ctrl+A is claimed by every line edit (select all); a window action on it wins in Find.
    action = QAction("Test action", window)
    action.setShortcut(QKeySequence("Ctrl+A"))
    window.addAction(action)
    assert not claimed_by(find, QKeyEvent(QEvent.Type.ShortcutOverride, Qt.Key.Key_A, ctrl))
    window.removeAction(action)
    assert claimed_by(find, QKeyEvent(QEvent.Type.ShortcutOverride, Qt.Key.Key_A, ctrl))


def test_disabled_actions_say_why(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol], settings: QSettings
) -> None:
    record.repos.patients.add(Patient("M-1", "Berg", "Ana", date(1960, 1, 1), Sex.FEMALE))
    window = make_window(qtbot, record, protocols, settings)
    assert not window.enrol_action.isEnabled()
    assert window.enrol_action.toolTip() == "Select a patient first."
    assert window.enrol_action.statusTip() == "Select a patient first."
    assert not window.demo_action.isEnabled()
    assert "only added to an empty record" in window.demo_action.toolTip()
    assert "only added to an empty record" in window.demo_action.statusTip()
    window.open_patient(window.patient_list.model.row_at(0).patient_id)
    assert window.enrol_action.isEnabled()
    assert window.enrol_action.statusTip() == "Enrol the selected patient on a protocol"


def test_help_menu_opens_the_guide_and_the_shortcuts(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol], settings: QSettings
) -> None:
    window = make_window(qtbot, record, protocols, settings)
    help_menu = window.menuBar().actions()[-1].menu()
    assert help_menu is not None
    texts = [a.text() for a in help_menu.actions()]
    assert "User &guide" in texts and "&Keyboard shortcuts" in texts
    window.guide_action.trigger()
    guide = [w for w in QApplication.topLevelWidgets() if isinstance(w, GuideViewer)]
    assert len(guide) == 1 and guide[0].isVisible()
    shown = guide[0].text.toPlainText()
    guide_text = (Path(__file__).resolve().parents[2] / "docs" / "user-guide.md").read_text(
        encoding="utf-8"
    )
    first_heading = next(line for line in guide_text.splitlines() if line.startswith("# "))
    assert first_heading[2:].strip() in shown
    assert guide[0].text.isReadOnly()
    guide[0].close()

    window.shortcuts_action.trigger()
    found = [w for w in QApplication.topLevelWidgets() if isinstance(w, ShortcutsDialog)]
    assert len(found) == 1
    table = found[0].table
    rows = {table.item(r, 0).text(): table.item(r, 1).text() for r in range(table.rowCount())}
    assert rows["Enrol patient"] == "Ctrl+E"
    assert rows["Start next cycle"] == "Ctrl+Shift+S"
    found[0].close()


def test_first_load_says_loading_not_empty(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol], settings: QSettings
) -> None:
    record.repos.patients.add(Patient("M-1", "Berg", "Ana", date(1960, 1, 1), Sex.FEMALE))
    window = MainWindow(record, protocols, today=lambda: TODAY, settings=settings)
    qtbot.addWidget(window)
    window.show()
    # Before the background load has finished: a loading page with its progress, no
    # "The record is empty" and no demonstration button.
    assert window.loading
    assert window.right.currentWidget() is window.loading_page
    assert window.loading_page.bar.maximum() == 3
    assert not window.welcome.isVisible()
    qtbot.waitUntil(lambda: not window.loading, timeout=15000)
    assert not window.welcome.isVisible()  # a record with a patient is never called empty
    chart = window.chart  # built just after the list's paint; at once when asked for
    assert window.right.currentWidget() is chart


def test_a_saved_message_survives_the_list_reload(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol], settings: QSettings
) -> None:
    window = make_window(qtbot, record, protocols, settings)
    window.statusBar().showMessage("Lab results saved.", 15000)
    window.refresh()
    qtbot.waitUntil(lambda: not window.loading, timeout=15000)
    assert window.statusBar().currentMessage() == "Lab results saved."


def test_first_start_opens_sized_to_the_screen(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol], settings: QSettings
) -> None:
    window = make_window(qtbot, record, protocols, settings)
    available = window.screen().availableGeometry()
    # Within the screen (offscreen: 800 x 600), and using most of it.
    assert window.width() <= available.width() and window.height() <= available.height()
    assert window.width() >= available.width() * 9 // 10
    assert window.height() >= available.height() * 8 // 10
