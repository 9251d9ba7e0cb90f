"""The start-a-cycle dialog on a real record, driven with the keyboard like a nurse."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from clinic_app.core.cycles import CycleStatus
from clinic_app.core.decisions import DecisionKind
from clinic_app.core.protocol import Protocol
from clinic_app.core.records import DoseModification, DoseStatus
from clinic_app.gui.cycle_start import CycleStartDialog
from clinic_app.gui.dose_admin import TextTableModel
from clinic_app.storage.database import Record, open_database
from tests.services.test_cycle_start import (
    C1,
    C2,
    add_lab,
    bpd_level2_patient,
    dextr_patient,
    good_counts,
    req,
)

pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support (propagateSizeHints|raise)")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture
def record(tmp_path: Path) -> Iterator[Record]:
    rec = open_database(tmp_path / "record.sqlite3", app_user="nurse Eva")
    try:
        yield rec
    finally:
        rec.close()


def count(record: Record, table: str) -> int:
    return int(record.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def dialog(
    qtbot: QtBot, record: Record, pid: int, protocols: dict[str, Protocol], today: date = C1
) -> CycleStartDialog:
    d = CycleStartDialog(record, pid, None, protocols, lambda: today)
    qtbot.addWidget(d)
    d.show()
    qtbot.waitExposed(d)
    return d


def type_into(qtbot: QtBot, widget: object, text: str) -> None:
    widget.selectAll()  # type: ignore[attr-defined]
    qtbot.keyClicks(widget, text)  # type: ignore[arg-type]


def test_cycle1_start_by_keyboard(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol]
) -> None:
    pid = dextr_patient(record, protocols)
    good_counts(record, pid, date(2025, 3, 9))
    d = dialog(qtbot, record, pid, protocols)
    # identifiers in the title: full name, date of birth, MRN
    assert d.windowTitle() == "Start cycle 1 — Antonín Dvořák (born 10 Mar 1965, MRN D-1)"
    assert d.height_edit.text() == "170"  # the latest height, pre-filled
    assert not d.ok_button.isEnabled()
    assert "Enter today's weight" in d.errors["weight_kg"].text()
    assert d.errors["weight_kg"].text().startswith("⚠")
    type_into(qtbot, d.weight_edit, "71")
    assert d.ok_button.isEnabled(), d.status.text()
    # shown as typed: conditions met with value and date, BSA kept, CrCl worked by hand
    assert "✓ met: Lenalidomide needs Absolute neutrophil count" in d.conditions_text.text()
    assert "1.5 ×10⁹/L on 2025-03-09" in d.conditions_text.text()
    assert "BSA 1.84 m²" in d.bsa_result.text() and "kept" in d.bsa_result.text()
    # (140 - 59) * 71 / 72 = 79.875 mL/min, shown cut to one decimal: 79.8
    assert d.crcl_result.text().startswith("CrCl 79.8 mL/min")
    assert d.plan_model.rowCount() == 61
    first = [d.plan_model.index(0, c).data() for c in range(5)]
    assert first == ["1", "10 Mar 2025", "Dexamethasone", "40 mg", "2 × 20 mg tablets"]
    qtbot.keyClick(d.weight_edit, Qt.Key.Key_Return)  # Enter starts the cycle
    assert d.result() == CycleStartDialog.DialogCode.Accepted
    assert d.result_ is not None
    cycle = record.repos.cycles.get(d.result_.cycle_id).value
    assert cycle.status is CycleStatus.STARTED and cycle.start_date == C1


def test_failed_anc_needs_an_override_reason(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol]
) -> None:
    pid = dextr_patient(record, protocols)
    add_lab(record, pid, "anc", "0.8", "10^9/L", date(2025, 3, 9))
    add_lab(record, pid, "platelets", "120", "10^9/L", date(2025, 3, 9))
    d = dialog(qtbot, record, pid, protocols)
    type_into(qtbot, d.weight_edit, "71")
    assert "⚠ NOT MET" in d.conditions_text.text() and "0.8 ×10⁹/L on 2025-03-09" in (
        d.conditions_text.text()
    )
    assert not d.ok_button.isEnabled()
    assert d.errors["override_reason"].isVisibleTo(d)
    before = count(record, "decisions")
    qtbot.keyClick(d.weight_edit, Qt.Key.Key_Return)  # refused: nothing written
    assert d.result_ is None and count(record, "decisions") == before
    type_into(qtbot, d.override_reason, "ANC recovering; investigator agrees")
    assert d.decided_by.text() == "nurse Eva"  # the app user, editable
    type_into(qtbot, d.decided_by, "Dr Novak")  # QTest types ASCII only
    assert d.ok_button.isEnabled(), d.status.text()
    assert "override is recorded" in d.status.text()
    d.ok_button.click()
    (decision,) = record.repos.decisions.for_enrolment(1, DecisionKind.CONDITION_OVERRIDE)
    assert decision.reason == "ANC recovering; investigator agrees"
    assert decision.decided_by == "Dr Novak"


def test_weight_change_must_be_acknowledged(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol]
) -> None:
    pid = dextr_patient(record, protocols)
    good_counts(record, pid, C1)
    d = dialog(qtbot, record, pid, protocols)
    type_into(qtbot, d.weight_edit, "64.8")  # 72 -> 64.8 kg: -7.2 / 72 = -10 % exactly
    assert d.weight_ack.isVisibleTo(d)
    assert "10 % down from 72 kg" in d.weight_change_text.text()
    assert "⚠" in d.weight_change_text.text()
    assert not d.ok_button.isEnabled()
    assert "acknowledge it" in d.errors["weight_ack"].text()
    d.resize(1300, 860)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    d.grab().save(str(SCREENSHOTS / "cycle_start.png"))
    d.weight_ack.setFocus()
    qtbot.keyClick(d.weight_ack, Qt.Key.Key_Space)
    assert d.ok_button.isEnabled(), d.status.text()
    # BSA recalculated: sqrt(170 * 64.8 / 3600) = sqrt(3.06) = 1.7493 -> 1.75 m²
    assert "BSA 1.75 m²" in d.bsa_result.text()
    type_into(qtbot, d.weight_edit, "64.9")  # -9.86 %: no flag, no acknowledgement needed
    assert not d.weight_ack.isVisibleTo(d)


def test_escape_cancels_and_writes_nothing(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol]
) -> None:
    pid = dextr_patient(record, protocols)
    good_counts(record, pid, C1)
    before = {t: count(record, t) for t in ("cycles", "dose_events", "body_measurements")}
    d = dialog(qtbot, record, pid, protocols)
    type_into(qtbot, d.weight_edit, "71")
    qtbot.keyClick(d.weight_edit, Qt.Key.Key_Escape)
    assert d.result() == CycleStartDialog.DialogCode.Rejected
    assert {t: count(record, t) for t in before} == before


def test_refusals_shown_at_the_field(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol]
) -> None:
    pid = dextr_patient(record, protocols)
    good_counts(record, pid, C1)
    from clinic_app.services.cycle_start import start_cycle

    start_cycle(record, pid, req(C1), C1, protocols)
    early = date(2025, 4, 6)  # cycle 1's day 28: too early for cycle 2
    good_counts(record, pid, early)
    d = dialog(qtbot, record, pid, protocols, today=early)
    type_into(qtbot, d.weight_edit, "71")
    assert "Cycle 1 is not finished" in d.errors["start"].text()
    assert "2025-04-07 at the earliest" in d.errors["start"].text()
    assert not d.ok_button.isEnabled()
    type_into(qtbot, d.weight_edit, "abc")  # letters: not a number
    assert "Enter today's weight" in d.errors["weight_kg"].text()
    type_into(qtbot, d.weight_edit, "900")  # outside input_limits
    assert "plausible range" in d.errors["weight_kg"].text()


def test_delay_reason_asked_when_late(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol]
) -> None:
    pid = dextr_patient(record, protocols)
    good_counts(record, pid, C1)
    from clinic_app.services.cycle_start import start_cycle

    start_cycle(record, pid, req(C1), C1, protocols)
    late = date(2025, 4, 9)  # planned 2025-04-07: 2 days late
    good_counts(record, pid, late)
    d = dialog(qtbot, record, pid, protocols, today=late)
    type_into(qtbot, d.weight_edit, "71")
    assert "2 day(s) late" in d.planned_text.text()
    assert not d.ok_button.isEnabled() and d.delay_reason.isEnabled()
    type_into(qtbot, d.delay_reason, "counts not recovered")
    qtbot.keyClick(d.delay_reason, Qt.Key.Key_Return)
    assert d.result_ is not None
    cycle = record.repos.cycles.get(d.result_.cycle_id).value
    assert (cycle.number, cycle.delay_days, cycle.delay_reason) == (
        2,
        2,
        "counts not recovered",
    )


def test_cycle2_shows_20_mg_carried_over(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol]
) -> None:
    pid = dextr_patient(record, protocols)
    good_counts(record, pid, C1)
    from clinic_app.services.cycle_start import start_cycle

    start_cycle(record, pid, req(C1), C1, protocols)
    record.repos.modifications.add(
        1,
        DoseModification(
            "lenalidomide", Decimal(25), Decimal(20), "grade 4 neutropenia", 2, "Dr Novák", C1
        ),
    )
    good_counts(record, pid, C2)
    d = dialog(qtbot, record, pid, protocols, today=C2)
    type_into(qtbot, d.weight_edit, "71")
    # every dose with its unit (rules §8), the drug by its name
    assert "Carried over: Lenalidomide 25 mg → 20 mg from cycle 2 day 1" in d.carried_text.text()
    rows = [
        [d.plan_model.index(r, c).data() for c in range(5)] for r in range(d.plan_model.rowCount())
    ]
    lenalidomide = [r for r in rows if r[2] == "Lenalidomide"]
    assert len(lenalidomide) == 21
    assert {(r[3], r[4]) for r in lenalidomide} == {("20 mg", "1 × 20 mg capsule")}
    qtbot.keyClick(d.weight_edit, Qt.Key.Key_Return)
    assert d.result_ is not None
    doses = record.repos.doses.for_cycle(d.result_.cycle_id)
    assert {x.dose_mg for x in doses if x.drug == "lenalidomide"} == {Decimal(20)}
    assert all(x.status is DoseStatus.PLANNED for x in doses)


def test_bpd_level_2_shows_the_bsa_rounding(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol]
) -> None:
    pid = bpd_level2_patient(record)
    good_counts(record, pid, C1)
    d = dialog(qtbot, record, pid, protocols)
    type_into(qtbot, d.height_edit, "165")
    type_into(qtbot, d.weight_edit, "80")
    assert "dose level 2" in d.phase_text.text()
    # 120 mg/m² x 1.91 m² = 229.2 mg, rounded to 230 mg (+0.3 %)
    assert (
        "Bendamustine: 120 mg/m² × 1.91 m² = 229.2 mg, rounded to 230 mg (0.3 %)"
        in d.carried_text.text()
    )
    assert d.options_box.isVisibleTo(d)
    option = d._option_boxes["dexamethasone_20"]
    assert not option.isEnabled() and "from cycle 7" in option.text()
    assert d.ok_button.isEnabled(), d.status.text()


def test_plan_model_passes_the_model_tester(qtmodeltester: object) -> None:
    model = TextTableModel(("Day", "Drug"))
    model.set_rows([["1", "Dexamethasone"], ["2", "Lenalidomide"]], ["tip"])
    qtmodeltester.check(model)  # type: ignore[attr-defined]


def clipped_labels(d: CycleStartDialog) -> list[str]:
    """The visible word-wrapped texts given less height than they need (cut off on screen)."""
    from PySide6.QtWidgets import QLabel

    return [
        label.text()
        for label in d.findChildren(QLabel)
        if label.isVisibleTo(d)
        and label.wordWrap()
        and label.text()
        and label.height() < label.heightForWidth(label.width())
    ]


def test_nothing_is_cut_off_when_the_screen_is_smaller_than_the_form(
    qtbot: QtBot, tmp_path: Path, protocols: dict[str, Protocol]
) -> None:
    """A DexTR patient in cycle 1 with cycle 2 planned, opened mid-cycle: the form fills with
    refusals, labs and notes. On a screen shorter than the form the word-wrapped sentences were
    squeezed (the "not finished" refusal and the labs list cut mid-line); now the form scrolls,
    every sentence has its full height, and the reasons and buttons stay in view."""
    from clinic_app.services.demo import generate_demo

    today = date(2026, 3, 2)
    rec = open_database(tmp_path / "demo.sqlite3")
    try:
        generate_demo(rec, patients=6, seed=3, today=today)
        pid = int(rec.db.execute("SELECT id FROM patients WHERE mrn = 'DEMO-00004'").fetchone()[0])
        d = dialog(qtbot, rec, pid, protocols, today)
        available = d.screen().availableGeometry()
        d.resize(min(d.width(), available.width()), min(d.height(), available.height()))
        qtbot.wait(50)
        assert d.errors["start"].isVisible()  # cycle 1 is not finished
        assert "not finished" in d.status.text()
        assert clipped_labels(d) == []
        assert d.frameGeometry().height() <= available.height()
        # the reasons and the buttons are never scrolled out of sight
        assert d.status.visibleRegion().boundingRect().height() == d.status.height()
        assert d.ok_button.visibleRegion().boundingRect().height() == d.ok_button.height()
        d.reject()
    finally:
        rec.close()


def test_the_planned_doses_show_drug_and_units_whole_at_the_laptop_width(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol]
) -> None:
    """At 1366x768 the dialog opened at 876 px with the plan table at Qt's default width: the
    drug read "Dex…", "Thali…" and the units "1 × 100 mg caps…" while the screen had room to
    spare. The dialog now asks for the width the plan's columns need (within the screen)."""
    pid = dextr_patient(record, protocols)
    good_counts(record, pid, C1)
    d = dialog(qtbot, record, pid, protocols)
    type_into(qtbot, d.weight_edit, "71")
    model = d.plan_model
    assert model.rowCount() > 10
    laptop = 1366 * 9 // 10  # what _fit_to_screen allows on a 1366-wide screen
    assert d.sizeHint().width() <= laptop
    d.resize(d.sizeHint().width(), 691)
    qtbot.wait(50)
    table = d.plan_table
    cut = [
        f"{model.index(r, c).data()!r} in {table.columnWidth(c)} px"
        for r in range(model.rowCount())
        for c in range(model.columnCount())
        if table.sizeHintForIndex(model.index(r, c)).width() > table.columnWidth(c)
    ]
    assert not cut, cut
    drugs = {str(model.index(r, 2).data()) for r in range(model.rowCount())}
    assert {"Dexamethasone", "Thalidomide", "Lenalidomide"} <= drugs
    d.reject()
