"""The day grid, the given/held/missed editor and the dose modification form, on a real record;
and the whole DexTR path: cycle 1 start, weekly labs, a held lenalidomide dose, a reduction to
20 mg from the next cycle, and cycle 2 starting with 20 mg carried over."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget
from pytestqt.qtbot import QtBot

from clinic_app.core.protocol import Protocol
from clinic_app.core.records import DoseStatus, ReductionCause
from clinic_app.gui.cycle_start import CycleStartDialog
from clinic_app.gui.dose_admin import (
    CycleDosesDialog,
    DoseGridModel,
    DoseModificationDialog,
    DoseOutcomeDialog,
)
from clinic_app.services.cycle_start import start_cycle
from clinic_app.services.dose_admin import current_cycle, cycle_doses
from clinic_app.storage.database import Record, open_database
from tests.services.test_cycle_start import C1, C2, add_lab, dextr_patient, good_counts, req

pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support (propagateSizeHints|raise)")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
NOW = datetime(2025, 3, 17, 10, 30, tzinfo=UTC)  # cycle 1 day 8
TODAY = NOW.date()


@pytest.fixture
def record(tmp_path: Path) -> Iterator[Record]:
    rec = open_database(tmp_path / "record.sqlite3", app_user="Dr Novak")
    try:
        yield rec
    finally:
        rec.close()


def count(record: Record, table: str) -> int:
    return int(record.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def started(record: Record, protocols: dict[str, Protocol]) -> int:
    pid = dextr_patient(record, protocols)
    good_counts(record, pid, C1)
    start_cycle(record, pid, req(C1), C1, protocols)
    return pid


def grid(
    qtbot: QtBot, record: Record, pid: int, protocols: dict[str, Protocol], now: datetime = NOW
) -> CycleDosesDialog:
    d = CycleDosesDialog(record, pid, None, None, protocols, lambda: now.date(), lambda: now)
    qtbot.addWidget(d)
    d.show()
    qtbot.waitExposed(d)
    return d


def select(d: CycleDosesDialog, day: int, drug: str) -> None:
    for row in range(d.proxy.rowCount()):
        source = d.proxy.mapToSource(d.proxy.index(row, 0)).row()
        dose = d.model.doses[source]
        if dose.day == day and dose.drug == drug:
            d.table.selectRow(row)
            d.table.setFocus()
            return
    raise AssertionError(f"no {drug} on day {day}")


def status_of(record: Record, pid: int, protocols: dict[str, Protocol], day: int, drug: str):  # type: ignore[no-untyped-def]
    view = current_cycle(record, pid, protocols=protocols)
    (row,) = [r for r in cycle_doses(record, view) if r.day == day and r.drug == drug]
    return row


def test_grid_model_passes_the_model_tester(
    qtmodeltester: object, record: Record, protocols: dict[str, Protocol]
) -> None:
    pid = started(record, protocols)
    model = DoseGridModel()
    model.set_doses(cycle_doses(record, current_cycle(record, pid, protocols=protocols)))
    assert model.rowCount() == 61
    qtmodeltester.check(model)  # type: ignore[attr-defined]


def test_hold_a_dose_from_the_grid_by_keyboard(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol]
) -> None:
    pid = started(record, protocols)
    d = grid(qtbot, record, pid, protocols)
    assert d.windowTitle() == "Cycle 1 doses — Antonín Dvořák (born 10 Mar 1965, MRN D-1)"
    qtbot.keyClicks(d.filter, "Lenalidomide")
    assert d.proxy.rowCount() == 21  # days 1-21
    select(d, 8, "lenalidomide")
    qtbot.keyClick(d.table, Qt.Key.Key_Return)  # Enter opens the outcome editor
    editor = d.last_dialog
    assert isinstance(editor, DoseOutcomeDialog)
    assert editor.windowTitle().endswith("(born 10 Mar 1965, MRN D-1)")
    held = editor.radios[DoseStatus.HELD]
    held.setFocus()
    qtbot.keyClick(held, Qt.Key.Key_Space)
    assert editor.radios[DoseStatus.HELD].isChecked()
    assert not editor.ok_button.isEnabled()
    assert editor.reason_error.text() == "⚠ Say why the dose was held."
    before = status_of(record, pid, protocols, 8, "lenalidomide")
    qtbot.keyClick(editor.reason, Qt.Key.Key_Return)  # refused: nothing written
    assert status_of(record, pid, protocols, 8, "lenalidomide") == before
    qtbot.keyClicks(editor.reason, "ANC 0.4 (grade 4)")
    qtbot.keyClick(editor.reason, Qt.Key.Key_Return)
    assert editor.saved
    row = status_of(record, pid, protocols, 8, "lenalidomide")
    assert (row.status, row.reason) == (DoseStatus.HELD, "ANC 0.4 (grade 4)")
    texts = [d.proxy.index(r, 6).data() for r in range(d.proxy.rowCount())]
    assert "held: ANC 0.4 (grade 4)" in texts


def test_given_with_time_and_a_correction_needs_a_reason(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol]
) -> None:
    pid = started(record, protocols)
    d = grid(qtbot, record, pid, protocols)
    select(d, 8, "thalidomide")
    d.outcome_button.click()
    editor = d.last_dialog
    assert isinstance(editor, DoseOutcomeDialog)
    assert editor.radios[DoseStatus.GIVEN].isChecked() and editor.ok_button.isEnabled()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    editor.grab().save(str(SCREENSHOTS / "dose_outcome.png"))
    editor.ok_button.click()
    row = status_of(record, pid, protocols, 8, "thalidomide")
    assert row.status is DoseStatus.GIVEN and row.given_at is not None
    assert row.given_at.astimezone(UTC).date() == TODAY
    select(d, 8, "thalidomide")
    d.outcome_button.click()
    again = d.last_dialog
    assert isinstance(again, DoseOutcomeDialog)
    again.radios[DoseStatus.MISSED].setChecked(True)
    qtbot.keyClicks(again.reason, "vomited")
    assert "give the reason for the correction" in again.correction_error.text()
    assert not again.ok_button.isEnabled()
    qtbot.keyClicks(again.correction, "entered on the wrong day")
    assert again.ok_button.isEnabled()
    again.ok_button.click()
    assert status_of(record, pid, protocols, 8, "thalidomide").status is DoseStatus.MISSED


def test_future_dose_cannot_be_given(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol]
) -> None:
    pid = started(record, protocols)
    d = grid(qtbot, record, pid, protocols)
    select(d, 20, "lenalidomide")
    d.outcome_button.click()
    editor = d.last_dialog
    assert isinstance(editor, DoseOutcomeDialog)
    assert "still to come" in editor.status_error.text()
    assert not editor.ok_button.isEnabled()
    qtbot.keyClick(editor, Qt.Key.Key_Escape)
    assert status_of(record, pid, protocols, 20, "lenalidomide").status is DoseStatus.PLANNED


def modification(
    qtbot: QtBot, d: CycleDosesDialog, day: int = 8, drug: str = "lenalidomide"
) -> DoseModificationDialog:
    select(d, day, drug)
    d.activateWindow()  # shortcuts act on the active window
    qtbot.waitActive(d)
    # through the window, as the platform delivers keys, so the shortcut map sees Ctrl+M
    qtbot.keyClick(d.windowHandle(), Qt.Key.Key_M, Qt.KeyboardModifier.ControlModifier)
    dialog = d.last_dialog
    assert isinstance(dialog, DoseModificationDialog)
    return dialog


def test_modification_form_refuses_and_then_saves(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol]
) -> None:
    pid = started(record, protocols)
    d = grid(qtbot, record, pid, protocols)
    m = modification(qtbot, d)
    assert m.windowTitle() == "Dose modification — Antonín Dvořák (born 10 Mar 1965, MRN D-1)"
    assert m.drug.currentData() == "lenalidomide"
    # ladder below 25 mg: 20, 15, 10, 5, 2.5 mg (rules §2); the next step is preselected
    assert [m.new_dose.itemText(i) for i in range(m.new_dose.count())] == [
        "20 mg",
        "15 mg",
        "10 mg",
        "5 mg",
        "2.5 mg",
    ]
    assert m.effective_next.isChecked()
    assert m.decided_by.text() == "Dr Novak"
    # Untouched: no warning under the reason yet; the line above the buttons says what is needed.
    assert not m.errors["reason"].isVisible()
    assert m.status.text() == "To save, fill in: the reason, what toxicity it is for."
    assert m.cause.currentIndex() == -1  # no default: the DLT rules count a reduction by it
    assert not m.ok_button.isEnabled()
    qtbot.keyClick(m.reason, Qt.Key.Key_Return)
    assert count(record, "dose_modifications") == 0
    qtbot.keyClicks(m.reason, "x")
    qtbot.keyClick(m.reason, Qt.Key.Key_Backspace)  # typed and erased: now it is said
    assert m.errors["reason"].text() == "⚠ Give the reason for the modification."
    qtbot.keyClicks(m.reason, "grade 4 neutropenia")
    assert m.status.text() == "To save, fill in: what toxicity it is for."
    qtbot.keyClick(m.reason, Qt.Key.Key_Return)  # still refused: nothing written
    assert count(record, "dose_modifications") == 0
    m.cause.setFocus()
    qtbot.keyClick(m.cause, Qt.Key.Key_Down)  # the keyboard picks the first: haematological
    assert m.cause.currentText() == "Haematological toxicity (blood counts)"
    assert "Lenalidomide 25 mg → 20 mg from cycle 2" in m.status.text()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    m.grab().save(str(SCREENSHOTS / "dose_modification.png"))
    qtbot.keyClick(m.reason, Qt.Key.Key_Return)
    (saved,) = record.repos.modifications.for_enrolment(1)
    assert (saved.new_dose, saved.effective_cycle, saved.decided_by, saved.cause) == (
        Decimal(20),
        2,
        "Dr Novak",
        ReductionCause.HAEMATOLOGICAL,
    )


def test_mid_cycle_modification_replans_the_grid(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol]
) -> None:
    pid = started(record, protocols)
    d = grid(qtbot, record, pid, protocols)
    m = modification(qtbot, d)
    m.effective_this.setChecked(True)
    assert m.effective_day.value() == 8  # today is day 8
    m.effective_day.setValue(7)  # 2025-03-16 has passed
    assert "has passed" in m.errors["effective_day"].text()
    m.effective_day.setValue(14)
    m.new_dose.setCurrentIndex(1)  # 15 mg
    qtbot.keyClicks(m.reason, "grade 3 neutropenia")
    m.cause.setCurrentIndex(m.cause.findData(ReductionCause.HAEMATOLOGICAL.value))
    assert "from day 14 of cycle 1" in m.status.text()
    m.ok_button.click()
    assert m.result_ is not None and len(m.result_.replanned) == 8  # days 14-21
    doses = {r.day: r for r in d.model.doses if r.drug == "lenalidomide"}
    assert doses[13].dose_mg == Decimal(25) and doses[14].dose_mg == Decimal(15)
    assert doses[21].units == "1 × 15 mg capsule"


def test_dextr_cycle1_to_cycle2_with_a_held_dose_and_a_reduction(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol]
) -> None:
    pid = dextr_patient(record, protocols)
    # weekly labs in cycle 1 (rules §1: days 1, 8, 15, 22): day 1 = 2025-03-10
    for on, anc in (
        (date(2025, 3, 10), "1.6"),
        (date(2025, 3, 17), "0.4"),  # grade 4 neutropenia (< 0.5)
        (date(2025, 3, 24), "0.9"),
        (date(2025, 3, 31), "1.4"),
    ):
        add_lab(record, pid, "anc", anc, "10^9/L", on)
        add_lab(record, pid, "platelets", "140", "10^9/L", on)
    start = CycleStartDialog(record, pid, None, protocols, lambda: C1)
    qtbot.addWidget(start)
    start.show()
    qtbot.keyClicks(start.weight_edit, "71")
    qtbot.keyClick(start.weight_edit, Qt.Key.Key_Return)
    assert start.result_ is not None

    d = grid(qtbot, record, pid, protocols)
    select(d, 8, "lenalidomide")
    qtbot.keyClick(d.table, Qt.Key.Key_Return)
    editor = d.last_dialog
    assert isinstance(editor, DoseOutcomeDialog)
    editor.radios[DoseStatus.HELD].setChecked(True)
    qtbot.keyClicks(editor.reason, "ANC 0.4")
    qtbot.keyClick(editor.reason, Qt.Key.Key_Return)
    m = modification(qtbot, d)
    qtbot.keyClicks(m.reason, "grade 4 neutropenia")
    m.cause.setCurrentIndex(m.cause.findData(ReductionCause.HAEMATOLOGICAL.value))
    qtbot.keyClick(m.reason, Qt.Key.Key_Return)
    assert m.result_ is not None
    d.resize(900, 560)
    d.grab().save(str(SCREENSHOTS / "dose_grid.png"))

    # cycle 2 on 2025-04-07 (2025-03-10 + 28); ANC 1.4 on 2025-03-31 is 7 days old: missing
    two = CycleStartDialog(record, pid, None, protocols, lambda: C2)
    qtbot.addWidget(two)
    two.show()
    qtbot.keyClicks(two.weight_edit, "71")
    assert "MISSING" in two.conditions_text.text() and not two.ok_button.isEnabled()
    add_lab(record, pid, "anc", "1.2", "10^9/L", C2)
    add_lab(record, pid, "platelets", "150", "10^9/L", C2)
    two.reject()
    again = CycleStartDialog(record, pid, None, protocols, lambda: C2)
    qtbot.addWidget(again)
    again.show()
    qtbot.keyClicks(again.weight_edit, "71")
    assert again.windowTitle().startswith("Start cycle 2")
    carried = again.carried_text.text()
    assert "Carried over: Lenalidomide 25 mg → 20 mg from cycle 2 day 1" in carried
    assert "(grade 4 neutropenia; Dr Novak, 17 Mar 2025)" in carried
    qtbot.keyClick(again.weight_edit, Qt.Key.Key_Return)
    assert again.result_ is not None
    lenalidomide = [
        x for x in record.repos.doses.for_cycle(again.result_.cycle_id) if x.drug == "lenalidomide"
    ]
    assert len(lenalidomide) == 21 and {x.dose_mg for x in lenalidomide} == {Decimal(20)}
    held = status_of_cycle1_day8(record)
    assert held == (DoseStatus.HELD, "ANC 0.4")


def status_of_cycle1_day8(record: Record) -> tuple[DoseStatus, str | None]:
    (cycle1,) = [c for c in record.repos.cycles.for_enrolment(1) if c.number == 1]
    assert cycle1.id is not None
    (dose,) = [
        x
        for x in record.repos.doses.for_cycle(cycle1.id)
        if x.day == 8 and x.drug == "lenalidomide"
    ]
    return dose.status, dose.reason


def test_open_functions_explain_instead_of_crashing(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol]
) -> None:
    from clinic_app.core.records import Patient, Sex
    from clinic_app.gui.dose_admin import open_cycle_doses, open_dose_modification

    pid = record.repos.patients.add(Patient("X-1", "Roe", "Ann", date(1960, 1, 1), Sex.FEMALE))
    window = QWidget()
    qtbot.addWidget(window)
    assert open_cycle_doses(window, record, pid, protocols=protocols) is None
    assert open_dose_modification(None, record, pid, protocols) is None
    # a dialog with a parent is a window too: both are top-level widgets
    boxes = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox)]
    assert len(boxes) == 2
    assert len(window.findChildren(QMessageBox)) == 1
    for box in boxes:
        assert "not enrolled" in box.text()
        box.done(0)
