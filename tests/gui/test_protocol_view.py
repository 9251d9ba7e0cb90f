"""How the protocol text was read is for trial staff, in Trial ▸ Protocols…, never on a nurse's
form (issue 14): no "seed", rule numbers or mistyped source figures on the enrolment form."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from clinic_app.core.protocol import Protocol
from clinic_app.core.protocol_loader import load_protocol
from clinic_app.gui.dialogs.enrolment import EnrolmentDialog
from clinic_app.gui.protocol_view import ProtocolsWindow, protocol_page
from clinic_app.storage.database import Record
from tests.gui.test_dialogs import TODAY, add_patient

pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support (propagateSizeHints|raise)")


def test_protocols_window_explains_the_readings_for_trial_staff(
    qtbot: QtBot, protocols: dict[str, Protocol]
) -> None:
    window = ProtocolsWindow(protocols)
    qtbot.addWidget(window)
    window.show()
    assert [window.tabs.tabText(i) for i in range(window.tabs.count())] == ["BPD", "DexTR"]
    bpd = window.pages["bpd"].toPlainText()
    assert "How the protocol text is read" in bpd
    assert "amended 30 %" in bpd
    assert "seed" not in bpd.lower()
    assert window.pages["bpd"].isReadOnly()
    qtbot.keyClick(window.tabs, Qt.Key.Key_Escape)
    assert not window.isVisible()


@pytest.mark.parametrize("key", ["bpd", "dextr"])
def test_the_enrolment_form_shows_no_protocol_reading_notes(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol], key: str
) -> None:
    dialog = EnrolmentDialog(record, protocols, add_patient(record), today=lambda: TODAY)
    qtbot.addWidget(dialog)
    dialog.protocol.setCurrentIndex(dialog.protocol.findData(key))
    dialog.show()
    from PySide6.QtWidgets import QLabel

    shown = " ".join(label.text() for label in dialog.findChildren(QLabel) if label.isVisible())
    for developer_words in ("seed", "rules §", "5030", "§"):
        assert developer_words not in shown, developer_words


def test_the_page_names_a_phase_whose_cycles_are_longer() -> None:
    vrd = load_protocol(Path(__file__).parents[1] / "fixtures" / "protocols" / "vrd.toml")
    # VRd: 21-day induction cycles, 28-day maintenance cycles
    assert "cycles of 21 days (Maintenance: 28 days)." in protocol_page(vrd)
