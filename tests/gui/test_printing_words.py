"""Printing as a newcomer meets it (issue 14): a card refused for a missing clinic telephone
says so in words and opens Settings at that field; the demonstration record can print at once;
"Open in viewer" without a PDF viewer says so and offers to save; the morning batch's
result stays on the screen however many cards were refused."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QUrl
from PySide6.QtWidgets import QApplication, QMessageBox
from pytestqt.qtbot import QtBot

from clinic_app.gui.printing import DOSING_CARD, BatchDialog, PreviewDialog
from clinic_app.gui.settings_dialog import SettingsDialog
from clinic_app.services import settings as st
from clinic_app.services.demo import DEMO_CLINIC_PHONE, generate_demo
from clinic_app.storage.database import Record
from tests.gui.test_printing import DAY, morning

pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support (propagateSizeHints|raise)")


def test_missing_phone_is_said_in_words_and_opens_settings_at_the_field(
    qtbot: QtBot, record: Record
) -> None:
    [pid] = morning(record, 1, phone=False)
    d = PreviewDialog(record, DOSING_CARD, pid, 1)
    qtbot.addWidget(d)
    d.show()
    text = d.message.text()
    assert "Settings ▸ Printing ▸ Clinic telephone" in text
    assert "clinic.phone" not in text  # no internal name on the screen
    assert d.settings_button is not None and d.settings_button.isVisible()
    d.settings_button.click()
    opened = [w for w in QApplication.topLevelWidgets() if isinstance(w, SettingsDialog)]
    assert opened
    settings = opened[-1]
    qtbot.addWidget(settings)
    assert settings.tabs.currentIndex() == 0  # Printing
    # The same call opens any other setting on its own tab.
    settings.show_setting(st.BACKUP_KEEP)
    assert settings.tabs.currentIndex() == 3  # Backups
    settings.close()


def test_the_demo_record_prints_a_card_at_once(qtbot: QtBot, record: Record) -> None:
    generate_demo(record, patients=6, seed=2, today=date(2025, 3, 3))
    assert record.repos.settings.value(st.CLINIC_PHONE) == DEMO_CLINIC_PHONE
    assert "fictitious" in str(record.repos.settings.value(st.CLINIC_NAME))
    pid = int(record.db.execute("SELECT min(patient_id) FROM enrolments").fetchone()[0])
    d = PreviewDialog(record, DOSING_CARD, pid, 1)
    qtbot.addWidget(d)
    assert d.pdf_path is not None and d.save_button.isEnabled()
    assert d.settings_button is None


def test_open_in_viewer_without_a_viewer_says_so_and_offers_to_save(
    qtbot: QtBot, record: Record, tmp_path: Path
) -> None:
    [pid] = morning(record, 1)
    d = PreviewDialog(record, DOSING_CARD, pid, 1)
    qtbot.addWidget(d)
    d.show()
    asked: list[QUrl] = []

    def no_program(url: QUrl) -> bool:  # what the system answers when no program opens PDFs
        asked.append(url)
        return False

    d.open_url = no_program
    saved: list[bool] = []
    d.save_as = lambda target=None: saved.append(True)  # type: ignore[method-assign]
    d.open_button.click()
    assert asked and asked[0].toLocalFile().endswith(".pdf")
    box = d.viewer_box
    assert box is not None and box.isVisible()
    assert "No program to show PDF files" in box.text()
    box.button(QMessageBox.StandardButton.Save).click()
    assert saved == [True]


def test_batch_result_with_many_refusals_stays_on_the_screen(
    qtbot: QtBot, record: Record, tmp_path: Path
) -> None:
    morning(record, 12, phone=False)  # every card refused: no clinic telephone
    d = BatchDialog(record.path, DAY, tmp_path)
    qtbot.addWidget(d)
    d.show()
    with qtbot.waitSignal(d.batch_finished, timeout=60_000):
        pass
    qtbot.waitUntil(lambda: not d.runner.running)  # the worker's thread has ended
    assert d.label.text() == "0 card(s) written, 12 not printed (below)."
    assert d.problems.isVisible()
    assert len(d.problems.toPlainText().splitlines()) == 12
    screen = d.screen().availableGeometry()
    assert d.width() <= screen.width() and d.height() <= screen.height()
    d.close()


def test_the_preview_lets_you_choose_the_cycle(qtbot: QtBot, record: Record) -> None:
    from clinic_app.gui.printing import TOXICITY_SUMMARY
    from tests.gui.test_printing import text_of
    from tests.services.helpers import cycle

    [pid] = morning(record, 1)
    enrolment = record.repos.enrolments.for_patient(pid)[0]
    assert enrolment.id is not None
    cycle(record, enrolment.id, 2, "induction", date(2024, 1, 30))
    d = PreviewDialog(record, TOXICITY_SUMMARY, pid, 2)
    qtbot.addWidget(d)
    d.show()
    box = d.cycle_box
    assert [box.itemText(i) for i in range(box.count())] == ["Cycle 1", "Cycle 2"]
    assert box.currentData() == 2 and "cycle 2" in d.windowTitle()
    box.setFocus()
    qtbot.keyClick(box, Qt.Key.Key_Up)  # choose cycle 1 with the keyboard
    assert box.currentData() == 1
    assert "cycle 1" in d.windowTitle()
    assert d.pdf_path is not None and "cycle1" in d.pdf_path.name
    assert "Cycle 1" in text_of(d.pdf_path) or "cycle 1" in text_of(d.pdf_path).lower()
