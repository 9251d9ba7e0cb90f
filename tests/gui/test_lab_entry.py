"""Lab results form and lab trends, driven like a user on a real record file."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox
from pytestqt.qtbot import QtBot

from clinic_app.gui.lab_entry import LabEntryDialog, to_qdatetime
from clinic_app.gui.lab_trends import LabTrendsDialog
from clinic_app.services.lab_entry import LabEntry, save_panel
from clinic_app.storage.database import Record
from tests.services import helpers

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support (propagateSizeHints|raise)")
SHOTS = (
    Path(os.environ.get("CLINIC_APP_SCREENSHOTS", ""))
    if os.environ.get("CLINIC_APP_SCREENSHOTS")
    else None
)


@pytest.fixture
def dialog(qtbot: QtBot, record: Record) -> LabEntryDialog:
    pid = helpers.patient(record, "MRN-77", "Novak", "Jana")
    dlg = LabEntryDialog(record, pid, now=lambda: NOW)
    qtbot.addWidget(dlg)
    dlg.show()
    qtbot.waitExposed(dlg)
    # A fixed collection time, in local time as the form shows it.
    dlg.collected_at.setDateTime(to_qdatetime(datetime(2025, 3, 10, 8, 30)))
    return dlg


def labs_in(record: Record) -> int:
    return int(record.db.execute("SELECT count(*) FROM labs").fetchone()[0])


def type_into(qtbot: QtBot, dlg: LabEntryDialog, name: str, text: str) -> None:
    edit = getattr(dlg.rows[name.split(".")[0]], name.split(".")[1])
    edit.setFocus()
    edit.selectAll()
    qtbot.keyClicks(edit, text)


def test_title_names_the_patient(dialog: LabEntryDialog) -> None:
    assert dialog.windowTitle() == "Lab results — Jana Novak (born 1 Jun 1955, MRN MRN-77)"


def test_grade_appears_as_the_value_is_typed(qtbot: QtBot, dialog: LabEntryDialog) -> None:
    row = dialog.rows["anc"]
    assert (row.lln.text(), row.uln.text()) == ("1.8", "7.5")  # pre-filled defaults
    type_into(qtbot, dialog, "anc.value", "0.4")
    # CTCAE v5.0: ANC 0.4 < 0.5 -> grade 4, shown with a sign, not only in red.
    assert row.grade.text().startswith("⚠ Neutrophil count decreased: grade 4")
    type_into(qtbot, dialog, "anc.value", "1.6")  # 1.6 < LLN 1.8, >= 1.5 -> grade 1
    assert "grade 1" in row.grade.text() and not row.grade.text().startswith("⚠")
    row.lln.clear()
    assert "needs the lab's LLN" in row.grade.text()


def test_unit_switch_takes_that_units_limits(qtbot: QtBot, dialog: LabEntryDialog) -> None:
    row = dialog.rows["hemoglobin"]
    assert (row.lln.text(), row.uln.text()) == ("120", "160")
    row.unit.setCurrentIndex(row.unit.findData("g/dL"))
    assert (row.lln.text(), row.uln.text()) == ("12", "16")  # ISMP: no trailing zero
    type_into(qtbot, dialog, "hemoglobin.value", "7.9")  # 79 g/L < 80 -> anemia grade 3
    assert "Anemia: grade 3" in row.grade.text()


@pytest.mark.parametrize(
    ("test", "value", "words"),
    [
        ("anc", "-1", "cannot be negative"),
        ("anc", "abc", "is not a number"),
        ("potassium", "45", "not possible"),
    ],
)
def test_impossible_values_are_refused_at_the_field(
    qtbot: QtBot, dialog: LabEntryDialog, record: Record, test: str, value: str, words: str
) -> None:
    type_into(qtbot, dialog, f"{test}.value", value)
    row = dialog.rows[test]
    assert row.error.isVisible() and words in row.error.text()
    assert row.error.text().startswith("⚠")
    qtbot.keyClick(row.value, Qt.Key.Key_Return)  # Enter tries to save
    assert dialog.isVisible() and labs_in(record) == 0


def test_anc_above_wbc_is_refused(qtbot: QtBot, dialog: LabEntryDialog, record: Record) -> None:
    type_into(qtbot, dialog, "wbc.value", "3.0")
    type_into(qtbot, dialog, "anc.value", "3.4")
    assert "above the WBC" in dialog.rows["anc"].error.text()
    dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    assert labs_in(record) == 0


def test_unusual_value_needs_the_confirm_box(
    qtbot: QtBot, dialog: LabEntryDialog, record: Record
) -> None:
    type_into(qtbot, dialog, "platelets.value", "1200")  # usual up to 1000 x10^9/L
    row = dialog.rows["platelets"]
    assert row.confirm.isVisible() and "confirm" in row.error.text()
    qtbot.keyClick(row.value, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert labs_in(record) == 0 and row.confirm.hasFocus()
    qtbot.keyClick(row.confirm, Qt.Key.Key_Space)
    assert row.confirm.isChecked()
    qtbot.keyClick(row.value, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert labs_in(record) == 1 and dialog.result() == LabEntryDialog.DialogCode.Accepted


def test_whole_panel_saved_with_ctrl_enter(
    qtbot: QtBot, dialog: LabEntryDialog, record: Record
) -> None:
    type_into(qtbot, dialog, "wbc.value", "2.4")
    type_into(qtbot, dialog, "anc.value", "0.4")
    type_into(qtbot, dialog, "creatinine.value", "1.1")
    creatinine = dialog.rows["creatinine"]
    creatinine.unit.setCurrentIndex(creatinine.unit.findData("mg/dL"))
    assert "3 values entered" in dialog.summary.text()
    # WBC 2.4: < 3.0 and >= 2.0 -> grade 2; ANC 0.4 < 0.5 -> grade 4; creatinine 1.1 mg/dL
    # is below its ULN 1.2 -> grade 0. One value at grade 3 or more.
    assert "⚠ 1 at grade 3 or more" in dialog.summary.text()
    if SHOTS:
        qtbot.wait(50)  # let the pending layout requests run before the picture
        dialog.grab().save(str(SHOTS / "lab_entry.png"))
    qtbot.keyClick(dialog.rows["anc"].value, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    # ANC at grade 4: a one-line summary asks first.
    assert dialog.question is not None and "ANC 0.4 ×10⁹/L" in dialog.question.text()
    save = next(b for b in dialog.question.buttons() if b.text() == "&Save")
    qtbot.mouseClick(save, Qt.MouseButton.LeftButton)
    assert dialog.result() == LabEntryDialog.DialogCode.Accepted
    pid = dialog.patient_id
    saved = {lab.test: lab for lab in record.repos.labs.for_patient(pid)}
    assert set(saved) == {"wbc", "anc", "creatinine"}
    # Creatinine typed after the unit switch: 1.1 mg/dL kept, 1.1 x 88.4 = 97.24 umol/L.
    assert (saved["creatinine"].value, saved["creatinine"].unit) == (Decimal("1.1"), "mg/dL")
    assert saved["creatinine"].value_si == Decimal("97.24")
    assert saved["creatinine"].uln == Decimal("1.2")
    assert {lab.collected_at for lab in saved.values()} == {
        datetime(2025, 3, 10, 8, 30).astimezone(UTC)
    }


def test_escape_cancels_and_saves_nothing(
    qtbot: QtBot, dialog: LabEntryDialog, record: Record
) -> None:
    type_into(qtbot, dialog, "anc.value", "0.4")
    qtbot.keyClick(dialog.rows["anc"].value, Qt.Key.Key_Escape)
    assert dialog.result() == LabEntryDialog.DialogCode.Rejected and labs_in(record) == 0


def test_correction_needs_a_reason_then_updates(qtbot: QtBot, record: Record) -> None:
    pid = helpers.patient(record, "MRN-78", "Novak", "Petr")
    at = datetime(2025, 3, 10, 8, 30, tzinfo=UTC)
    (lab_id,) = save_panel(record, pid, [LabEntry("anc", "0.4", "10^9/L", "1.8", "7.5")], at,
                           now=NOW)  # fmt: skip
    dlg = LabEntryDialog(record, pid, lab_id=lab_id, now=lambda: NOW)
    qtbot.addWidget(dlg)
    dlg.show()
    assert dlg.windowTitle().startswith("Correct lab result — Petr Novak")
    assert list(dlg.rows) == ["anc"] and dlg.rows["anc"].value.text() == "0.4"
    type_into(qtbot, dlg, "anc.value", "0.6")
    dlg.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    assert dlg.reason_error.isVisible() and "Say why" in dlg.reason_error.text()
    assert record.repos.labs.get(lab_id).value.value == Decimal("0.4")
    qtbot.keyClicks(dlg.reason, "transcription error")
    qtbot.keyClick(dlg.reason, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    stored = record.repos.labs.get(lab_id)
    assert stored.value.value == Decimal("0.6") and stored.version == 2
    assert stored.value.collected_at == at


def test_void_needs_a_reason(qtbot: QtBot, record: Record) -> None:
    pid = helpers.patient(record, "MRN-79", "Novak", "Eva")
    at = datetime(2025, 3, 10, 8, 30, tzinfo=UTC)
    (lab_id,) = save_panel(record, pid, [LabEntry("anc", "0.4", "10^9/L")], at, now=NOW)
    dlg = LabEntryDialog(record, pid, lab_id=lab_id, now=lambda: NOW)
    qtbot.addWidget(dlg)
    dlg.show()
    assert dlg.void_button is not None
    dlg.void_button.click()
    assert "Say why" in dlg.reason_error.text() and record.repos.labs.for_patient(pid)
    qtbot.keyClicks(dlg.reason, "wrong patient")
    dlg.void_button.click()
    assert dlg.voided and record.repos.labs.for_patient(pid) == []


def test_trends_plot_points_thresholds_and_cycles(qtbot: QtBot, record: Record) -> None:
    pid = helpers.patient(record, "MRN-80", "Novak", "Ivo")
    eid = helpers.enrol(record, pid, "dextr", date(2025, 1, 6))
    helpers.cycle(record, eid, 1, "induction", date(2025, 1, 6), date(2025, 1, 6))
    helpers.cycle(record, eid, 2, "induction", date(2025, 2, 3), date(2025, 2, 3))
    for day, value in ((6, "2.5"), (20, "0.8"), (27, "0.4")):
        at = datetime(2025, 1, day, 8, tzinfo=UTC)
        save_panel(record, pid, [LabEntry("anc", value, "10^9/L", "1.8", "7.5")], at, now=NOW)
    dlg = LabTrendsDialog(record, pid, test="anc")
    qtbot.addWidget(dlg)
    dlg.show()
    qtbot.waitExposed(dlg)
    assert "Ivo Novak" in dlg.windowTitle() and "MRN-80" in dlg.windowTitle()
    assert dlg.plotted_values() == [2.5, 0.8, 0.4]
    assert dlg.threshold_labels() == ["G1 < 1.8", "G2 < 1.5", "G3 < 1", "G4 < 0.5"]
    assert dlg.cycle_labels() == ["C1", "C2"]
    if SHOTS:
        dlg.grab().save(str(SHOTS / "lab_trends.png"))
    dlg.tests.setCurrentIndex(dlg.tests.findData("platelets"))
    assert dlg.plotted_values() == [] and "No platelet count" in dlg.note.text()


def test_each_clinical_facts_strip_names_its_test(dialog: LabEntryDialog) -> None:
    """The sodium facts sit between the sodium value and the potassium row, nearer
    potassium: "CTCAE, if known: Symptomatic …" alone read as potassium's, so a tick meant
    for potassium went on sodium. Each strip now starts with its test's name."""
    from PySide6.QtWidgets import QLabel

    rows_with_facts = [row for row in dialog.rows.values() if row.facts]
    assert {"sodium", "potassium"} <= {row.test for row in rows_with_facts}
    for row in rows_with_facts:
        strip = dialog.findChild(QLabel, f"{row.test}_facts_label")
        assert strip is not None, row.test
        name = dialog.grid.itemAtPosition(
            dialog.grid.getItemPosition(dialog.grid.indexOf(row.value))[0], 0
        ).widget()
        assert isinstance(name, QLabel)
        assert strip.text() == f"{name.text().rstrip(':')}, CTCAE if known:"
    sodium = dialog.findChild(QLabel, "sodium_facts_label")
    assert sodium is not None and sodium.text() == "Sodium, CTCAE if known:"
