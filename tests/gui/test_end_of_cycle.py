"""End-of-cycle panel: DexTR plateau after four cycles -> maintenance with the hand-computed
lenalidomide dose, accepted with Enter; rejection without a reason refused at the field."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from clinic_app.core.decisions import DecisionKind
from clinic_app.core.protocol_loader import load_protocols
from clinic_app.core.records import PatientStatus
from clinic_app.gui.end_of_cycle import EndOfCycleDialog
from clinic_app.storage.database import Record, open_database
from tests.services.test_end_of_cycle import END_OF_C4, bpd_patient, dextr_four_cycles

pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support (propagateSizeHints|raise)")
PROTOCOLS = load_protocols()
SHOTS = Path(__file__).parents[2] / "docs" / "screenshots"


@pytest.fixture
def record(tmp_path: Path) -> Iterator[Record]:
    rec = open_database(tmp_path / "record.sqlite3", app_user="Dr A")
    try:
        yield rec
    finally:
        rec.close()


def panel(qtbot: QtBot, record: Record, pid: int) -> EndOfCycleDialog:
    d = EndOfCycleDialog(record, pid, today=lambda: END_OF_C4, protocols=PROTOCOLS)
    qtbot.addWidget(d)
    d.show()
    return d


def test_plateau_to_maintenance_with_renal_cap(qtbot: QtBot, record: Record) -> None:
    # Female, 68 y, 72 kg, creatinine 1.54 mg/dL: (140 - 68) * 72 / (72 * 1.54) * 0.85
    # = 39.74 -> 39.7 mL/min < 40: lenalidomide = min(15, 20 after the cycle-2 reduction) = 15.
    pid, eid = dextr_four_cycles(record, "1.54")
    d = panel(qtbot, record, pid)
    assert "Ana Plateau" in d.windowTitle() and "D-1" in d.windowTitle()
    text = d.proposal.text()
    assert "End of cycle 4: Maintenance" in text
    assert "Lenalidomide 15 mg" in text and "CrCl 39.7 mL/min" in text
    assert d.option_buttons == {}  # DexTR has no investigator option here
    if os.environ.get("CLINIC_SCREENSHOTS"):
        d.adjustSize()
        d.grab().save(str(SHOTS / "end_of_cycle.png"))
    qtbot.keyClick(d.reason, Qt.Key.Key_Return)
    assert d.decision_id is not None and not d.isVisible()
    assert record.repos.enrolments.get(eid).value.status is PatientStatus.MAINTENANCE
    c5 = next(c for c in record.repos.cycles.for_enrolment(eid) if c.number == 5)
    assert c5.phase == "maintenance"


def test_reject_without_reason_is_refused_at_the_field(qtbot: QtBot, record: Record) -> None:
    pid, eid = dextr_four_cycles(record)
    d = panel(qtbot, record, pid)
    qtbot.mouseClick(d.reject_button, Qt.MouseButton.LeftButton)
    assert d.errors["reason"].isVisible() and d.errors["reason"].text().startswith("⚠")
    assert record.repos.decisions.for_enrolment(eid) == []
    d.decided_by.clear()
    qtbot.keyClicks(d.reason, "one more induction cycle")
    qtbot.mouseClick(d.reject_button, Qt.MouseButton.LeftButton)
    assert d.errors["decided_by"].isVisible()
    qtbot.keyClicks(d.decided_by, "Dr A")
    qtbot.mouseClick(d.reject_button, Qt.MouseButton.LeftButton)
    [decision] = record.repos.decisions.for_enrolment(eid)
    assert decision.payload["accepted"] is False
    assert record.repos.enrolments.get(eid).value.status is PatientStatus.ACTIVE
    again = panel(qtbot, record, pid)
    assert not again.accept_button.isEnabled()
    assert "Recorded: rejected by Dr A" in again.proposal.text()


def test_missing_creatinine_blocks_acceptance_with_the_reason(qtbot: QtBot, record: Record) -> None:
    pid, eid = dextr_four_cycles(record, None)
    d = panel(qtbot, record, pid)
    assert "no creatinine is recorded" in d.proposal.text()
    qtbot.keyClick(d.reason, Qt.Key.Key_Return)
    assert d.errors["proposal"].isVisible()
    assert record.repos.decisions.for_enrolment(eid) == []


def test_bpd_option_button_is_labelled_by_the_file_and_elects_by_key(
    qtbot: QtBot, record: Record
) -> None:
    pid, eid = bpd_patient(record, 6)
    today = date(2023, 11, 19)  # cycle 6 day 28 (2023-06-05 + 140 + 27)
    d = EndOfCycleDialog(record, pid, today=lambda: today, protocols=PROTOCOLS)
    qtbot.addWidget(d)
    d.show()
    button = d.option_buttons["dexamethasone_20"]
    # bpd.toml [[options]] label, not words of the code
    assert button.text() == "Dexamethasone 20 mg (investigator's decision, after 6 cycles)"
    assert button.isVisible()
    assert "Option: Dexamethasone 20 mg" in d.proposal.text()
    qtbot.keyClicks(d.reason, "steroid myopathy")
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    [decision] = record.repos.decisions.for_enrolment(eid, DecisionKind.OPTION)
    assert decision.payload["option"] == "dexamethasone_20"
    c7 = next(c for c in record.repos.cycles.for_enrolment(eid) if c.number == 7)
    assert c7.elected_options == {"dexamethasone_20": "20 mg"}
