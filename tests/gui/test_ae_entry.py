"""Adverse-event form, driven like a user on a real record file."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest
from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import QDialogButtonBox
from pytestqt.qtbot import QtBot

from clinic_app.core.protocol import Protocol
from clinic_app.core.records import Attribution
from clinic_app.gui.ae_entry import AdverseEventDialog
from clinic_app.storage.database import Record
from tests.services import helpers

TODAY = date(2025, 3, 10)
pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support (propagateSizeHints|raise)")
SHOTS = os.environ.get("CLINIC_APP_SCREENSHOTS")


@pytest.fixture
def bpd_patient(record: Record) -> int:
    pid = helpers.patient(record, "MRN-55", "Kral", "Ota")
    helpers.enrol(record, pid, "bpd", date(2025, 2, 10), dose_level=2, cohort="escalation")
    return pid


def open_form(
    qtbot: QtBot, record: Record, pid: int, protocols: dict[str, Protocol], **kw: object
) -> AdverseEventDialog:
    dlg = AdverseEventDialog(record, pid, protocols, today=lambda: TODAY, **kw)  # type: ignore[arg-type]
    qtbot.addWidget(dlg)
    dlg.show()
    qtbot.waitExposed(dlg)
    return dlg


def fill_nausea_grade3(qtbot: QtBot, dlg: AdverseEventDialog) -> None:
    qtbot.keyClicks(dlg.search, "nause")
    assert dlg.chosen_term() is not None
    dlg.grade.setCurrentIndex(dlg.grade.findData(3))
    dlg.onset.setDate(QDate(2025, 3, 3))
    for combo in dlg.attribution.values():
        combo.setCurrentIndex(combo.findData(Attribution.POSSIBLE))


def aes(record: Record) -> int:
    return int(record.db.execute("SELECT count(*) FROM adverse_events").fetchone()[0])


def test_search_shows_the_terms_own_grades(
    qtbot: QtBot, record: Record, bpd_patient: int, protocols: dict[str, Protocol]
) -> None:
    dlg = open_form(qtbot, record, bpd_patient, protocols)
    assert dlg.windowTitle() == "Adverse event — Ota Kral (born 1 Jun 1955, MRN MRN-55)"
    qtbot.keyClicks(dlg.search, "VTE")
    term = dlg.chosen_term()
    assert term is not None and term.name == "Thromboembolic event"
    assert [dlg.grade.itemData(i) for i in range(dlg.grade.count())] == [None, 1, 2, 3, 4, 5]
    dlg.search.clear()
    qtbot.keyClicks(dlg.search, "nausea")
    # CTCAE v5.0 Nausea defines grades 1-3 only: grade 4 is not offered.
    assert [dlg.grade.itemData(i) for i in range(dlg.grade.count())] == [None, 1, 2, 3]
    assert "Grade 3:" in dlg.descriptions.text() and "Grade 4" not in dlg.descriptions.text()
    assert sorted(dlg.attribution) == ["bendamustine", "dexamethasone", "pomalidomide"]


def test_grade_3_is_flagged_in_words(
    qtbot: QtBot, record: Record, bpd_patient: int, protocols: dict[str, Protocol]
) -> None:
    dlg = open_form(qtbot, record, bpd_patient, protocols)
    qtbot.keyClicks(dlg.search, "nausea")
    dlg.grade.setCurrentIndex(dlg.grade.findData(2))
    assert dlg.severity.text() == "Grade 2: moderate"
    dlg.grade.setCurrentIndex(dlg.grade.findData(3))
    assert dlg.severity.text().startswith("⚠ Grade 3")


def test_resolution_before_onset_is_refused_at_the_field(
    qtbot: QtBot, record: Record, bpd_patient: int, protocols: dict[str, Protocol]
) -> None:
    dlg = open_form(qtbot, record, bpd_patient, protocols)
    fill_nausea_grade3(qtbot, dlg)
    dlg.resolved_known.setChecked(True)
    dlg.resolved.setDate(QDate(2025, 3, 2))  # one day before the onset
    assert dlg.errors["resolved"].isVisible()
    assert "before the onset" in dlg.errors["resolved"].text()
    assert dlg.errors["resolved"].text().startswith("⚠")
    dlg.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    assert aes(record) == 0 and dlg.isVisible()
    dlg.resolved.setDate(QDate(2025, 3, 3))  # same day: fine
    assert not dlg.errors["resolved"].isVisible()


def test_missing_choices_are_named_and_nothing_saved(
    qtbot: QtBot, record: Record, bpd_patient: int, protocols: dict[str, Protocol]
) -> None:
    dlg = open_form(qtbot, record, bpd_patient, protocols)
    qtbot.keyClick(dlg.search, Qt.Key.Key_Return)  # Enter tries to save an empty form
    assert "Choose the CTCAE term" in dlg.errors["term"].text()
    assert "Choose the grade" in dlg.errors["grade"].text()
    assert "Pomalidomide" in dlg.errors["attribution"].text()
    assert aes(record) == 0


def test_event_saved_with_attribution_and_dlt_facts(
    qtbot: QtBot, record: Record, bpd_patient: int, protocols: dict[str, Protocol]
) -> None:
    dlg = open_form(qtbot, record, bpd_patient, protocols)
    fill_nausea_grade3(qtbot, dlg)
    dlg.facts["despite_maximal_therapy"].setCurrentIndex(1)  # Yes
    dlg.facts["steroids_given"].setCurrentIndex(2)  # No
    dlg.checks["serious"].setChecked(True)
    if SHOTS:
        qtbot.wait(50)  # let the pending layout requests run before the picture
        dlg.grab().save(str(Path(SHOTS) / "adverse_event.png"))
    qtbot.keyClick(dlg.notes, Qt.Key.Key_Return)
    assert dlg.result() == AdverseEventDialog.DialogCode.Accepted
    (event,) = record.repos.adverse_events.for_patient(bpd_patient)
    assert (event.term, event.grade, event.onset, event.resolved) == (
        "Nausea", 3, date(2025, 3, 3), None,
    )  # fmt: skip
    assert event.serious and event.despite_maximal_therapy is True
    assert event.steroids_given is False and event.with_bleeding is None  # not assessed
    assert set(event.attribution.values()) == {Attribution.POSSIBLE}


def test_escape_cancels(
    qtbot: QtBot, record: Record, bpd_patient: int, protocols: dict[str, Protocol]
) -> None:
    dlg = open_form(qtbot, record, bpd_patient, protocols)
    fill_nausea_grade3(qtbot, dlg)
    qtbot.keyClick(dlg.search, Qt.Key.Key_Escape)
    assert dlg.result() == AdverseEventDialog.DialogCode.Rejected and aes(record) == 0


def test_correction_and_void_need_a_reason(
    qtbot: QtBot, record: Record, bpd_patient: int, protocols: dict[str, Protocol]
) -> None:
    dlg = open_form(qtbot, record, bpd_patient, protocols)
    fill_nausea_grade3(qtbot, dlg)
    dlg.save()
    assert dlg.saved_id is not None
    fix = open_form(qtbot, record, bpd_patient, protocols, ae_id=dlg.saved_id)
    assert fix.windowTitle().startswith("Correct adverse event — Ota Kral")
    assert fix.grade.currentData() == 3
    fix.grade.setCurrentIndex(fix.grade.findData(2))
    fix.save()
    assert "Say why" in fix.errors["reason"].text()
    assert record.repos.adverse_events.get(dlg.saved_id).value.grade == 3
    qtbot.keyClicks(fix.reason, "regraded")
    fix.save()
    assert record.repos.adverse_events.get(dlg.saved_id).value.grade == 2
    again = open_form(qtbot, record, bpd_patient, protocols, ae_id=dlg.saved_id)
    assert again.void_button is not None
    again.void_button.click()
    assert "Say why" in again.errors["reason"].text()
    qtbot.keyClicks(again.reason, "entered twice")
    again.void_button.click()
    assert again.voided and record.repos.adverse_events.for_patient(bpd_patient) == []
