"""Lab form driven by keys and clicks (issue 14): Enter never saves half a panel, severe values
are confirmed in one line, Esc asks before discarding, drafts keep the sample time, nothing
moves under the pointer, Tab goes value to value, validation waits for a touch, and the form
fits 1366x768. Also the CTCAE clinical facts on the form (issue 13)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QDialogButtonBox,
    QLabel,
    QMessageBox,
)
from pytestqt.qtbot import QtBot

from clinic_app.gui import drafts
from clinic_app.gui.lab_entry import LabEntryDialog, to_qdatetime
from clinic_app.services.lab_entry import LabEntry, check_entry
from clinic_app.storage.database import Record
from tests.services import helpers

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
CTRL = Qt.KeyboardModifier.ControlModifier
pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support (propagateSizeHints|raise)")


def open_form(qtbot: QtBot, record: Record, pid: int | None = None) -> LabEntryDialog:
    if pid is None:
        pid = helpers.patient(record, "MRN-77", "Novak", "Jana")
    dlg = LabEntryDialog(record, pid, now=lambda: NOW)
    qtbot.addWidget(dlg)
    dlg.show()
    qtbot.waitExposed(dlg)
    dlg.collected_at.setDateTime(to_qdatetime(datetime(2025, 3, 10, 8, 30)))
    return dlg


@pytest.fixture
def dialog(qtbot: QtBot, record: Record) -> LabEntryDialog:
    return open_form(qtbot, record)


def labs_in(record: Record) -> int:
    return int(record.db.execute("SELECT count(*) FROM labs").fetchone()[0])


def button(box: QMessageBox, text: str) -> QAbstractButton:
    """The question's button with ``text`` (as a person reads it)."""
    found = [b for b in box.buttons() if b.text() == text]
    assert found, text
    return found[0]


def test_enter_moves_to_the_next_value_and_never_saves(
    qtbot: QtBot, dialog: LabEntryDialog, record: Record
) -> None:
    wbc, anc = dialog.rows["wbc"].value, dialog.rows["anc"].value
    wbc.setFocus()
    qtbot.keyClicks(wbc, "2.4")
    qtbot.keyClick(wbc, Qt.Key.Key_Return)
    assert anc.hasFocus()
    qtbot.keyClicks(anc, "0.4")
    qtbot.keyClick(anc, Qt.Key.Key_Return)
    # Two values and two Enters: nothing saved, the form still open on the next value.
    assert labs_in(record) == 0 and dialog.isVisible()
    assert dialog.rows["lymphocytes"].value.hasFocus()


def test_ctrl_enter_with_a_grade_4_asks_in_one_line_then_saves(
    qtbot: QtBot, dialog: LabEntryDialog, record: Record
) -> None:
    anc = dialog.rows["anc"].value
    anc.setFocus()
    qtbot.keyClicks(anc, "0.4")
    qtbot.keyClick(anc, Qt.Key.Key_Return, CTRL)
    assert labs_in(record) == 0
    question = dialog.question
    assert question is not None
    # ANC 0.4 < 0.5: CTCAE v5.0 neutrophil count decreased grade 4, said in one line.
    assert question.text() == "ANC 0.4 ×10⁹/L: Neutrophil count decreased grade 4. Save?"
    qtbot.mouseClick(button(question, "&Go back"), Qt.MouseButton.LeftButton)
    assert labs_in(record) == 0 and dialog.isVisible()
    dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    assert dialog.question is not None
    qtbot.mouseClick(button(dialog.question, "&Save"), Qt.MouseButton.LeftButton)
    assert labs_in(record) == 1 and dialog.result() == LabEntryDialog.DialogCode.Accepted


def test_no_question_below_grade_3(qtbot: QtBot, dialog: LabEntryDialog, record: Record) -> None:
    wbc = dialog.rows["wbc"].value
    wbc.setFocus()
    qtbot.keyClicks(wbc, "5")
    qtbot.keyClick(wbc, Qt.Key.Key_Return, CTRL)
    assert dialog.question is None and labs_in(record) == 1


def test_escape_with_typed_values_asks_first(
    qtbot: QtBot, dialog: LabEntryDialog, record: Record
) -> None:
    anc = dialog.rows["anc"].value
    anc.setFocus()
    qtbot.keyClicks(anc, "0.4")
    qtbot.keyClick(anc, Qt.Key.Key_Escape)
    assert dialog.isVisible() and dialog.question is not None
    qtbot.mouseClick(button(dialog.question, "&Keep editing"), Qt.MouseButton.LeftButton)
    assert dialog.isVisible() and anc.text() == "0.4"
    qtbot.keyClick(anc, Qt.Key.Key_Escape)
    assert dialog.question is not None
    qtbot.mouseClick(button(dialog.question, "&Discard them"), Qt.MouseButton.LeftButton)
    assert not dialog.isVisible() and labs_in(record) == 0


def test_escape_on_an_untouched_form_closes_at_once(qtbot: QtBot, record: Record) -> None:
    dialog = open_form(qtbot, record)
    dialog._initial = dialog.entries()  # the fixture's fixed sample time is not typing
    qtbot.keyClick(dialog.rows["wbc"].value, Qt.Key.Key_Escape)
    assert not dialog.isVisible() and dialog.question is None


def test_restored_draft_keeps_the_sample_time(qtbot: QtBot, record: Record) -> None:
    first = open_form(qtbot, record)
    first.collected_at.setDateTime(to_qdatetime(datetime(2025, 3, 9, 6, 45)))
    first.rows["potassium"].unit.setCurrentIndex(first.rows["potassium"].unit.findData("mEq/L"))
    first.rows["potassium"].lln.setText("3.6")
    qtbot.keyClicks(first.rows["potassium"].value, "3.1")
    kept = drafts.capture(first)
    first.discard()
    second = open_form(qtbot, record, first.patient_id)
    drafts.apply(second, kept)
    shown = second.collected_at.dateTime().toPython()
    assert (shown.day, shown.hour, shown.minute) == (9, 6, 45)
    row = second.rows["potassium"]
    assert (row.value.text(), row.unit.currentData(), row.lln.text()) == ("3.1", "mEq/L", "3.6")


def test_a_long_grade_sentence_does_not_widen_the_grid(
    qtbot: QtBot, dialog: LabEntryDialog
) -> None:
    name = dialog.grid.itemAtPosition(2, 0).widget()
    assert isinstance(name, QLabel)
    before = (dialog.width(), name.mapTo(dialog, name.rect().topLeft()).x())
    row = dialog.rows["potassium"]
    row.value.setFocus()
    qtbot.keyClicks(row.value, "3.2")  # grade 1, "higher if" four facts: a long sentence
    qtbot.wait(10)
    assert len(row.grade.text()) > 150
    after = (dialog.width(), name.mapTo(dialog, name.rect().topLeft()).x())
    assert after == before
    assert name.visibleRegion().boundingRect().width() == name.width()


def test_messages_do_not_move_the_fields_below(qtbot: QtBot, dialog: LabEntryDialog) -> None:
    platelets = dialog.rows["platelets"].value
    hgb = dialog.rows["hemoglobin"]
    top = platelets.mapTo(dialog, platelets.rect().topLeft()).y()
    hgb.value.setFocus()
    qtbot.keyClicks(hgb.value, "25")  # unusual (< 40 g/L): warning line and tick box appear
    assert hgb.confirm.isVisible() and hgb.error.isVisible()
    assert "Anemia: grade 3" in hgb.error.text()  # 25 g/L < 80: still graded while unusual
    qtbot.wait(10)
    assert platelets.mapTo(dialog, platelets.rect().topLeft()).y() == top


def test_tab_goes_value_to_value_and_alt_right_reaches_unit_and_limits(
    qtbot: QtBot, dialog: LabEntryDialog
) -> None:
    wbc = dialog.rows["wbc"]
    wbc.value.setFocus()
    qtbot.keyClick(wbc.value, Qt.Key.Key_Tab)
    assert dialog.rows["anc"].value.hasFocus()
    qtbot.keyClick(dialog.rows["anc"].value, Qt.Key.Key_Backtab)
    assert wbc.value.hasFocus()
    qtbot.keyClick(wbc.value, Qt.Key.Key_Right, Qt.KeyboardModifier.AltModifier)
    assert wbc.unit.hasFocus()
    qtbot.keyClick(wbc.unit, Qt.Key.Key_Right, Qt.KeyboardModifier.AltModifier)
    assert wbc.lln.hasFocus()
    qtbot.keyClick(wbc.lln, Qt.Key.Key_Right, Qt.KeyboardModifier.AltModifier)
    assert wbc.uln.hasFocus()
    qtbot.keyClick(wbc.uln, Qt.Key.Key_Return)  # Enter: on to the next test's value
    assert dialog.rows["anc"].value.hasFocus()


def test_names_and_units_are_the_clinical_labels(dialog: LabEntryDialog) -> None:
    texts = [w.text() for w in dialog.findChildren(QLabel)]
    units = [row.unit.itemText(i) for row in dialog.rows.values() for i in range(row.unit.count())]
    for internal in ("anc", "calcium_corrected", "umol/L", "10^9/L", "10^3/uL"):
        assert internal not in texts and internal not in units
    assert "µmol/L" in units and "×10⁹/L" in units and "×10³/µL" in units
    assert "Calcium, corrected for albumin:" in texts
    # A unit refusal names the units as the form shows them, not the stored keys.
    refusal = check_entry(LabEntry("creatinine", "1.1", "mmol/L")).errors["unit"]
    assert refusal == "Choose the unit for Creatinine (µmol/L, mg/dL)."


def test_no_refusal_on_an_empty_form_until_touched_or_save(
    qtbot: QtBot, dialog: LabEntryDialog
) -> None:
    row = dialog.rows["creatinine"]
    row.uln.setText("")  # a missing limit alone is no refusal
    assert not any(r.error.isVisible() for r in dialog.rows.values())
    assert not dialog.collected_error.isVisible()
    dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    assert "Enter at least one value" in dialog.summary.text()


def test_letters_in_creatinine_are_not_a_number(qtbot: QtBot, dialog: LabEntryDialog) -> None:
    row = dialog.rows["creatinine"]
    row.value.setFocus()
    qtbot.keyClicks(row.value, "abc")
    assert row.error.isVisible()
    assert "'abc' is not a number" in row.error.text()
    assert "enter the serum creatinine" not in row.error.text().lower()


def test_hospitalisation_ticked_makes_hypercalcaemia_grade_3_and_is_stored(
    qtbot: QtBot, dialog: LabEntryDialog, record: Record
) -> None:
    row = dialog.rows["calcium_corrected"]
    row.value.setFocus()
    qtbot.keyClicks(row.value, "2.7")  # > ULN 2.55, <= 2.9: grade 1 by the value
    assert "grade 1" in row.grade.text()
    qtbot.mouseClick(row.facts["hospitalisation_indicated"], Qt.MouseButton.LeftButton)
    # CTCAE v5.0 Hypercalcemia G3: hospitalization indicated.
    assert "Hypercalcemia: grade 3" in row.grade.text()
    qtbot.keyClick(row.value, Qt.Key.Key_Return, CTRL)
    assert dialog.question is not None and "grade 3" in dialog.question.text()
    qtbot.mouseClick(button(dialog.question, "&Save"), Qt.MouseButton.LeftButton)
    (stored,) = record.repos.labs.for_patient(dialog.patient_id)
    assert stored.fact_map == {"hospitalisation_indicated": True}


def test_fits_1366x768_with_its_buttons_visible(qtbot: QtBot, dialog: LabEntryDialog) -> None:
    # The panel scrolls, so the whole dialog can shrink to a laptop screen ...
    least = dialog.minimumSizeHint()
    assert least.width() <= 1366 and least.height() <= 768
    dialog.resize(1366 - 40, 768 - 60)
    qtbot.wait(10)
    save = dialog.buttons.button(QDialogButtonBox.StandardButton.Save)
    corner = save.mapTo(dialog, save.rect().bottomRight())
    assert dialog.rect().contains(corner) and save.isVisible()
    # ... and on a real 1366x768 screen (xvfb) it opens inside it.
    screen = QApplication.primaryScreen().availableGeometry()
    if screen.width() <= 1366 and screen.height() <= 768:
        fresh = open_form(qtbot, dialog.record, dialog.patient_id)
        frame = fresh.frameGeometry()
        assert frame.width() <= screen.width() and frame.height() <= screen.height()


def test_a_correction_keeps_the_recorded_facts(qtbot: QtBot, record: Record) -> None:
    from clinic_app.services.lab_entry import save_panel

    pid = helpers.patient(record, "MRN-79", "Novak", "Eva")
    at = datetime(2025, 3, 10, 8, 30, tzinfo=UTC)
    facts = (("hospitalisation_indicated", True), ("symptomatic", False))
    entry = LabEntry("calcium_corrected", "2.7", "mmol/L", "2.15", "2.55", facts)
    (lab_id,) = save_panel(record, pid, [entry], at, now=NOW)
    dlg = LabEntryDialog(record, pid, lab_id=lab_id, now=lambda: NOW)
    qtbot.addWidget(dlg)
    dlg.show()
    row = dlg.rows["calcium_corrected"]
    assert row.facts["hospitalisation_indicated"].isChecked()
    row.value.setFocus()
    row.value.selectAll()
    qtbot.keyClicks(row.value, "2.75")
    qtbot.keyClicks(dlg.reason, "transcription error")
    qtbot.keyClick(dlg.reason, Qt.Key.Key_Return, CTRL)
    stored = record.repos.labs.get(lab_id)
    assert stored.version == 2
    assert stored.value.fact_map == {"hospitalisation_indicated": True, "symptomatic": False}
