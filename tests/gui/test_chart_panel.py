"""The chart panel on a real record: header, tabs, opening timeline items, patient switch."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from clinic_app.core.records import Patient, Sex
from clinic_app.gui.chart.panel import ChartPanel
from clinic_app.gui.chart.tabs import RowsModel
from clinic_app.storage.database import Record, open_database
from tests.services.test_chart_data import add_treated_patient

pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support (propagateSizeHints|raise)")

TODAY = date(2024, 2, 20)


@pytest.fixture
def record(tmp_path: Path) -> Iterator[Record]:
    rec = open_database(tmp_path / "panel.sqlite3")
    try:
        yield rec
    finally:
        rec.close()


@pytest.fixture
def panel(qtbot: QtBot) -> ChartPanel:
    widget = ChartPanel(today=lambda: TODAY)
    qtbot.addWidget(widget)
    widget.resize(1200, 800)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def test_header_and_tabs_show_the_patient(qtbot: QtBot, panel: ChartPanel, record: Record) -> None:
    pid = add_treated_patient(record)
    with qtbot.waitSignal(panel.patientChanged) as blocker:
        panel.set_patient(record, pid)
    identity = "Zoë Nováková · born 14 Mar 1951 · MRN MRN-0042"
    assert blocker.args == [identity]
    header = panel.header
    assert header.identity.text() == identity
    # Age on 20 Feb 2024, born 14 Mar 1951: birthday not yet reached -> 72.
    assert header.treatment.text() == (
        "Age 72 · female · DexTR · induction, cycle 2 (started) · status: active"
    )
    assert header.allergies.text() == "⚠ Allergies: penicillin"
    assert header.alerts.text() == "⚠ Alerts: hard of hearing"
    tabs = panel.tabs
    # Day grid of the current cycle (2): 28 days; dexamethasone, thalidomide, lenalidomide.
    assert tabs.day_grid.row_count() == 28
    assert tabs.day_grid.model.headerData(2, Qt.Orientation.Horizontal) == "Dexamethasone"
    assert tabs.day_grid.model.row(0).values[:3] == ("1", "5 Feb 2024", "○ planned 20 mg")
    assert tabs.labs.row_count() == 2
    assert tabs.adverse_events.row_count() == 2
    assert tabs.responses.row_count() == 2
    assert tabs.modifications.row_count() == 1
    assert tabs.documents.row_count() == 4  # dosing card and toxicity summary of 2 cycles
    # Grade 3 is written with a warning sign, not shown by colour alone.
    grades = [tabs.adverse_events.model.row(i).values[1] for i in range(2)]
    assert grades == ["1", "⚠ 3"]
    assert tabs.labs.model.row(1).values[4] == "⚠ 3"  # ANC 0.8 < 1.0 -> grade 3 (older)
    assert tabs.responses.model.row(1).values[1:3] == ("PR", "no")  # 3.0 -> 1.2: 60 % down
    assert len(panel.timeline.canvas.data.cycles) == 2


def test_every_tab_model_passes_the_model_tester(
    qtmodeltester: object, panel: ChartPanel, record: Record
) -> None:
    panel.set_patient(record, add_treated_patient(record))
    for table in panel.tabs.tables():
        qtmodeltester.check(table.model)  # type: ignore[attr-defined]
        qtmodeltester.check(table.proxy)  # type: ignore[attr-defined]
    assert isinstance(panel.tabs.labs.model, RowsModel)


def test_clicking_a_timeline_marker_selects_its_row(
    qtbot: QtBot, panel: ChartPanel, record: Record
) -> None:
    pid = add_treated_patient(record)
    panel.set_patient(record, pid)
    canvas = panel.timeline.canvas
    panel.timeline.set_pixels_per_day(30)
    ae_id = record.repos.adverse_events.for_patient(pid)[1].id
    assert ae_id is not None
    qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=canvas.point_of("ae", ae_id))
    assert panel.tabs.currentWidget() is panel.tabs.adverse_events
    assert panel.tabs.adverse_events.selected_id() == ae_id
    # A held dose of cycle 1 switches the day grid to cycle 1 and selects day 2.
    held = next(d for d in panel.chart.doses if d.reason == "rash") if panel.chart else None
    assert held is not None and held.id is not None
    qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=canvas.point_of("dose", held.id))
    assert panel.tabs.currentWidget() is panel.tabs.day_grid
    assert panel.tabs.cycle_choice.currentText().startswith("Cycle 1 (induction")
    assert panel.tabs.day_grid.selected_id() == 2
    assert panel.tabs.day_grid.view.currentIndex().column() == 4  # lenalidomide
    assert panel.tabs.day_grid.model.row(1).values[4] == "✕ held 25 mg (rash)"


def test_switching_patient_replaces_everything(
    qtbot: QtBot, panel: ChartPanel, record: Record
) -> None:
    first = add_treated_patient(record)
    second = record.repos.patients.add(
        Patient("MRN-0099", "Okafor", "Chidi", date(1960, 7, 2), Sex.MALE)
    )
    panel.set_patient(record, first)
    panel.set_patient(record, second)
    assert panel.header.identity.text() == "Chidi Okafor · born 2 Jul 1960 · MRN MRN-0099"
    assert panel.header.allergies.text() == "Allergies: none recorded"
    assert "not enrolled" in panel.header.treatment.text()
    for table in panel.tabs.tables():
        assert table.row_count() == 0
    assert panel.timeline.canvas.data.cycles == ()
    assert panel.timeline.canvas.items == ()
    with qtbot.waitSignal(panel.patientChanged) as blocker:
        panel.set_patient(record, None)
    assert blocker.args == [""]
    assert panel.header.identity.text() == "No patient selected"
    assert not panel.tabs.isEnabled()


def test_cycle_choice_changes_the_day_grid(panel: ChartPanel, record: Record) -> None:
    panel.set_patient(record, add_treated_patient(record))
    tabs = panel.tabs
    tabs.cycle_choice.setCurrentIndex(0)
    assert tabs.day_grid.model.row(0).values[:4] == (
        "1",
        "1 Jan 2024",
        "✓ given 40 mg",
        "",
    )
    # The Documents tab selects the same cycle's dosing card.
    assert tabs.selected_document() == ("dosing_card", 1)
    # Its Day column is the only number at the left: no row numbers beside it.
    assert tabs.day_grid.view.verticalHeader().isHidden()


def test_labs_newest_first_with_the_time(panel: ChartPanel, record: Record) -> None:
    panel.set_patient(record, add_treated_patient(record))
    labs = panel.tabs.labs
    assert labs.model.headerData(0, Qt.Orientation.Horizontal) == "Sampled"
    shown = [labs.model.row(i).values[0] for i in range(labs.row_count())]
    assert shown == sorted(shown, reverse=True)  # ISO date and time sort as text
    assert all(len(text) == len("2024-01-01 08:30") and text[10] == " " for text in shown)
    # Clinical names and units, never catalogue keys: "ANC", "×10⁹/L", not "anc", "10^9/L".
    tests = {labs.model.row(i).values[1] for i in range(labs.row_count())}
    values = " ".join(labs.model.row(i).values[2] for i in range(labs.row_count()))
    assert "anc" not in tests and "10^9" not in values


def test_documents_tab_prints_the_chosen_document_and_cycle(
    qtbot: QtBot, panel: ChartPanel, record: Record
) -> None:
    panel.set_patient(record, add_treated_patient(record))
    tabs = panel.tabs
    names = [tabs.documents.model.row(i).values[:2] for i in range(tabs.documents.row_count())]
    assert names == [
        ("Dosing card", "2"),
        ("Toxicity summary", "2"),
        ("Dosing card", "1"),
        ("Toxicity summary", "1"),
    ]
    texts = " ".join(" ".join(tabs.documents.model.row(i).values) for i in range(4))
    assert "later" not in texts and "later" not in tabs.documents.note.text()
    asked: list[tuple[str, int]] = []
    tabs.print_requested.connect(lambda kind, number: asked.append((kind, number)))
    tabs.documents.select(3)  # the toxicity summary of cycle 1
    qtbot.mouseClick(tabs.print_summary_button, Qt.MouseButton.LeftButton)
    tabs.documents.select(2)
    qtbot.mouseClick(tabs.print_card_button, Qt.MouseButton.LeftButton)
    tabs.documents.view.setFocus()
    qtbot.keyClick(tabs.documents.view, Qt.Key.Key_Return)  # Enter prints the selected row
    assert asked[:2] == [("toxicity_summary", 1), ("dosing_card", 1)]
