"""Esc on a form with typed values asks before throwing them away (issue 14, patient safety)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication, QDialog, QMessageBox
from pytestqt.qtbot import QtBot

from clinic_app.core.protocol import Protocol
from clinic_app.core.records import Patient, Sex
from clinic_app.gui.cycle_start import CycleStartDialog
from clinic_app.gui.dialogs.new_patient import NewPatientDialog
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


def question() -> QMessageBox | None:
    boxes = [
        w
        for w in QApplication.topLevelWidgets()
        if isinstance(w, QMessageBox) and w.objectName() == "discard_question" and w.isVisible()
    ]
    return boxes[0] if boxes else None


def answer(qtbot: QtBot, text: str) -> None:
    box = question()
    assert box is not None
    button = next(b for b in box.buttons() if b.text().replace("&", "") == text)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: question() is None)


def test_esc_on_a_typed_new_patient_asks_and_keep_editing_keeps_it(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol], settings: QSettings
) -> None:
    window = make_window(qtbot, record, protocols, settings)
    dialog = window.new_patient()
    assert isinstance(dialog, NewPatientDialog)
    qtbot.keyClicks(dialog.edits["mrn"], "MRN-77")
    qtbot.keyClicks(dialog.edits["family_name"], "Ek")
    qtbot.keyClick(dialog.edits["family_name"], Qt.Key.Key_Escape)
    assert dialog.isVisible()  # not thrown away: asked first
    answer(qtbot, "Keep editing")
    assert dialog.isVisible()
    assert dialog.edits["mrn"].text() == "MRN-77" and dialog.edits["family_name"].text() == "Ek"
    qtbot.keyClick(dialog.edits["family_name"], Qt.Key.Key_Escape)
    answer(qtbot, "Discard")
    assert not dialog.isVisible()
    assert dialog.result() == QDialog.DialogCode.Rejected
    assert record.repos.patients.by_mrn("MRN-77") is None


def test_esc_on_an_untouched_form_closes_at_once(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol], settings: QSettings
) -> None:
    window = make_window(qtbot, record, protocols, settings)
    dialog = window.new_patient()
    qtbot.keyClick(dialog.edits["mrn"], Qt.Key.Key_Escape)
    assert question() is None
    assert not dialog.isVisible()


def test_esc_on_the_cycle_start_form_from_the_patient_menu_asks(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol], settings: QSettings
) -> None:
    pid = record.repos.patients.add(Patient("M-1", "Berg", "Ana", date(1960, 1, 1), Sex.FEMALE))
    window = make_window(qtbot, record, protocols, settings)
    window.open_patient(pid)
    start = window.workflows.patient_actions[0]
    assert start.text() == "Start next &cycle…"
    start.trigger()
    found = [w for w in QApplication.topLevelWidgets() if isinstance(w, CycleStartDialog)]
    dialog = next(d for d in found if d.isVisible())
    qtbot.keyClicks(dialog.weight_edit, "64")
    qtbot.keyClick(dialog.weight_edit, Qt.Key.Key_Escape)
    assert dialog.isVisible()
    answer(qtbot, "Discard")
    assert not dialog.isVisible()
