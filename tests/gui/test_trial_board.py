"""The trial board window: shows the 3+3 decision and follows a confirmed DLT review."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from pypdf import PdfReader
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from clinic_app.core.decisions import DltReview
from clinic_app.core.protocol import Protocol
from clinic_app.gui.trial_board import RowsModel, TrialBoardWindow
from clinic_app.storage.database import Record
from tests.services.test_trial import Cohort, treated

TODAY = date(2025, 3, 10)
# The offscreen platform cannot pass size hints to a window manager; nothing is wrong.
pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support (propagateSizeHints|raise)")


def window(qtbot: QtBot, record: Record, protocols: dict[str, Protocol]) -> TrialBoardWindow:
    win = TrialBoardWindow(record, protocols, today=TODAY, user="nurse.k")
    qtbot.addWidget(win)
    win.resize(1100, 800)
    win.show()
    qtbot.waitExposed(win)
    return win


def test_board_shows_decision_and_follows_a_confirmed_review(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol]
) -> None:
    cohort = Cohort(record)
    cohort.many(1, "no", "no")
    last = cohort.add(1, "pending")
    win = window(qtbot, record, protocols)
    assert win.windowTitle() == "Trial board · BPD"
    assert win.decision_label.text() == "Decision: wait for pending DLT results"
    proxy = win.patients_view.model()
    statuses = [proxy.index(r, 6).data() for r in range(proxy.rowCount())]  # DLT status
    assert "pending: the proposal awaits the investigator" in statuses

    # The investigator confirms the proposed DLT: 1 of 3 -> expand level 1 to 6.
    [review] = record.repos.dlt_reviews.for_enrolment(last)
    assert review.id is not None
    record.repos.dlt_reviews.update(
        review.id,
        DltReview(last, True, True, True, "Dr Ray", TODAY, cycle_id=review.cycle_id),
        expected_version=record.repos.dlt_reviews.get(review.id).version,
        reason="investigator review",
    )
    win.refresh_action.trigger()  # F5 / the platform's Refresh key
    assert win.decision_label.text() == "Decision: expand 1 to 6"
    levels = win.levels_view.model()
    row = next(r for r in range(levels.rowCount()) if levels.index(r, 0).data() == "1")
    assert (levels.index(row, 4).data(), levels.index(row, 5).data()) == ("1", "2")
    assert win.next_label.text().startswith("The next patient goes to level 1")


def test_refresh_button_and_report(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol], tmp_path: Path
) -> None:
    win = window(qtbot, record, protocols)
    assert win.decision_label.text() == "Decision: enrol at 1"
    Cohort(record).many(1, "no", "no", "no")
    qtbot.mouseClick(win.refresh_button, Qt.MouseButton.LeftButton)
    assert win.decision_label.text() == "Decision: enrol at 2"
    out = tmp_path / "board.pdf"
    record.repos.settings.set("print.paper_size", "Letter", reason="test")
    win.write_report(out)
    text = " ".join(p.extract_text() for p in PdfReader(out).pages)
    assert "Decision: enrol at 2" in " ".join(text.split())
    box = PdfReader(out).pages[0].mediabox  # the record's paper size: Letter, 612 x 792 pt
    assert sorted((round(float(box.width)), round(float(box.height)))) == [612, 792]


def test_bpd_endpoints_and_curves_from_its_endpoint_definitions(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol], tmp_path: Path
) -> None:
    treated(record, "P1", ["PR", "PR", "PD", "PD"])
    treated(record, "P2", ["SD", "SD", "SD"])
    win = window(qtbot, record, protocols)
    assert win.windowTitle() == "Trial board · BPD"
    rates = win.rates_view.model()
    shown = {rates.index(r, 0).data(): rates.index(r, 1).data() for r in range(rates.rowCount())}
    # bpd.toml [endpoints]: the initial response is read at the end of cycle 2
    initial = "initial response rate (CR + PR, including sCR and VGPR, after cycle 2)"
    assert set(shown) == {
        initial,
        "overall response rate (SD or better, per protocol)",
        "overall response rate (PR or better, standard)",
    }
    # Initial: P1 PR, P2 SD at the end of cycle 2 -> 1/2
    assert shown[initial].startswith("1/2 (50 %")
    responses = win.responses_view.model()
    assert responses.headerData(4, Qt.Orientation.Horizontal) == "After cycle 2"
    # PFS: P1 PD confirmed at day 84 (event), P2 censored at day 84 -> median 84 days
    assert "median 84 days" in win.km_titles[0].text()
    win.tabs.setCurrentIndex(3)
    plot = win.km_plots[0]
    qtbot.waitExposed(plot)
    assert plot.isVisible()
    image = plot.grab()
    assert not image.isNull()
    image.save(str(tmp_path / "km.png"))


def test_a_protocol_without_endpoint_definitions_shows_none(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol]
) -> None:
    # dextr.toml has no [endpoints]: the DexTR protocol text defines none.
    assert protocols["dextr"].endpoints is None
    treated(record, "D1", ["PR", "PR", "PD", "PD"], protocol="dextr")
    win = window(qtbot, record, protocols)
    win.protocol_box.setCurrentIndex(win.protocol_box.findData("dextr"))
    assert win.windowTitle() == "Trial board · DexTR"
    rates = win.rates_view.model()
    rows = [[rates.index(r, c).data() for c in range(2)] for r in range(rates.rowCount())]
    assert rows == [["no rate", "This protocol defines no endpoints"]]
    responses = win.responses_view.model()
    assert responses.headerData(4, Qt.Orientation.Horizontal) == "Initial response"
    # The IMWG responses are still listed: PR met twice is the best response
    assert responses.index(0, 5).data() == "PR"
    assert responses.index(0, 4).data() == "—"
    win.tabs.setCurrentIndex(3)
    assert win.km_titles[0].text() == "This protocol defines no endpoints"
    assert not any(plot.isVisible() for plot in win.km_plots)


def test_rows_model_passes_the_model_tester(qtmodeltester: object) -> None:
    model = RowsModel(["a", "b"])
    model.set_rows([["1", "x"], ["2", "y"]])
    qtmodeltester.check(model)  # type: ignore[attr-defined]


def test_level_table_says_whose_dlts_it_counts_and_shows_expansion(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol]
) -> None:
    """Level 2 is the MTD (1 DLT in its 6-patient 3+3 cohort); then an expansion patient at
    level 2 has a confirmed DLT. The decision still reads the cohort (1 of 6), and the patient
    list shows 2 "confirmed yes" at level 2: the table used to say "Treated 7, DLT yes 1" with
    nothing saying the 1 is the cohort's. Now the columns say so and count the expansion."""
    cohort = Cohort(record)
    cohort.many(1, "no", "no", "no")
    cohort.many(2, "no", "no", "no")
    cohort.many(3, "yes", "yes", "no")
    cohort.many(2, "no", "no", "yes")  # 1 of 6 at level 2 -> MTD = 2
    cohort.add(2, "yes")  # expansion at the MTD, with a DLT
    win = window(qtbot, record, protocols)
    assert win.decision_label.text() == "Decision: MTD = 2"
    levels = win.levels_view.model()
    headers = [levels.headerData(c, Qt.Orientation.Horizontal) for c in range(levels.columnCount())]
    assert headers[3:9] == [  # two lines each, so the table fits a 1366 px screen
        "Treated\n(all)",
        "DLT yes\n(3+3 cohort)",
        "DLT no\n(3+3 cohort)",
        "Pending\n(3+3 cohort)",
        "Not\nevaluable",
        "In\nexpansion",
    ]
    row = next(r for r in range(levels.rowCount()) if levels.index(r, 0).data() == "2")
    # 6 in the cohort + 1 in expansion = 7 treated; the cohort's 1 yes and 5 no
    assert [levels.index(row, c).data() for c in range(3, 9)] == ["7", "1", "5", "0", "0", "1"]
    patients = win.patients_view.model()
    at_2 = [
        patients.index(r, 6).data()  # DLT status
        for r in range(patients.rowCount())
        if patients.index(r, 0).data() == "2"
    ]
    assert at_2.count("confirmed yes") == 2


def column(win: TrialBoardWindow, view_name: str, header: str) -> list[str]:
    view = getattr(win, view_name)
    proxy = view.model()
    source = proxy.sourceModel()
    col = source._headers.index(header)
    return [str(proxy.index(r, col).data()) for r in range(proxy.rowCount())]


def test_state_column_agrees_with_mtd_not_reached(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol]
) -> None:
    # 3+3 (rules): 0/3 at levels 1-3, then 1 DLT in 6 at the top level 4: MTD not reached,
    # level 4 recommended; the State column must not call level 4 "MTD".
    cohort = Cohort(record)
    for level in (1, 2, 3):
        cohort.many(level, "no", "no", "no")
    cohort.many(4, "no", "no", "no")
    cohort.many(4, "yes", "no", "no")
    win = window(qtbot, record, protocols)
    assert win.decision_label.text() == "Decision: MTD not reached (recommend 4)"
    states = column(win, "levels_view", "State")
    assert "MTD" not in states
    assert "recommended (MTD not reached)" in states


def test_cohort_column_shows_the_stored_cohort_and_never_guesses(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol]
) -> None:
    # 3+3 (rules): 0/3 at 1 and 2, 2/3 at 3 (too toxic), 1/6 at 2: MTD = 2. Then three more
    # at level 2: one stored as expansion, one stored as escalation (the 3+3 counts would call
    # it expansion: the column shows what was stored), one with no cohort stored.
    cohort = Cohort(record)
    cohort.many(1, "no", "no", "no")
    cohort.many(2, "no", "no", "no")
    cohort.many(3, "yes", "yes", "no")
    cohort.many(2, "no", "no", "yes")
    cohort.add(2, "none", cohort="expansion")
    cohort.add(2, "none", cohort="escalation")
    cohort.add(2, "none", cohort=None)
    win = window(qtbot, record, protocols)
    assert win.decision_label.text() == "Decision: MTD = 2"
    mrns = column(win, "patients_view", "MRN")
    cohorts = dict(zip(mrns, column(win, "patients_view", "Cohort"), strict=True))
    assert cohorts["B-013"] == "expansion"
    assert cohorts["B-014"] == "3+3 cohort"
    assert cohorts["B-015"] == "not recorded"
    assert [cohorts[f"B-{n:03}"] for n in range(1, 13)] == ["3+3 cohort"] * 12


def test_enrolled_column_reads_in_words_and_sorts_by_date(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol]
) -> None:
    # Cohort enrols one a day from 2 Jan 2024: by text "10 Jan 2024" would sort before
    # "2 Jan 2024"; the column must sort by the date it shows.
    cohort = Cohort(record)
    cohort.many(1, "no", "no", "no")
    cohort.many(2, "no", "no", "no")
    cohort.many(3, "no", "no", "no")
    cohort.many(4, "no", "no")
    win = window(qtbot, record, protocols)
    col = win.patients_model._headers.index("Enrolled")
    win.patients_view.sortByColumn(col, Qt.SortOrder.DescendingOrder)
    enrolled = column(win, "patients_view", "Enrolled")
    assert enrolled[0] == "12 Jan 2024" and enrolled[-1] == "2 Jan 2024"
    assert column(win, "patients_view", "MRN") == [f"B-{n:03}" for n in range(11, 0, -1)]
    win.patients_view.sortByColumn(col, Qt.SortOrder.AscendingOrder)
    assert column(win, "patients_view", "Enrolled")[:2] == ["2 Jan 2024", "3 Jan 2024"]


def test_escape_closes_the_board(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol]
) -> None:
    win = window(qtbot, record, protocols)
    win.activateWindow()
    win.tabs.setFocus()
    qtbot.keyClick(win.tabs, Qt.Key.Key_Escape)
    assert not win.isVisible()


def test_the_board_closes_with_the_main_window(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol]
) -> None:
    from PySide6.QtWidgets import QMainWindow

    owner = QMainWindow()
    qtbot.addWidget(owner)
    owner.show()
    win = window(qtbot, record, protocols)
    win.follow(owner)
    owner.close()
    qtbot.waitUntil(lambda: not win.isVisible())


def test_the_board_opens_within_the_screen_and_wide_for_its_columns(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol]
) -> None:
    cohort = Cohort(record)
    cohort.many(1, "no", "no", "no")
    win = TrialBoardWindow(record, protocols, today=TODAY, user="nurse.k")
    qtbot.addWidget(win)
    screen = win.screen().availableGeometry()
    assert win.width() <= screen.width() and win.height() <= screen.height()
    header = win.levels_view.horizontalHeader()
    assert win.width() >= min(header.length(), screen.width() - 16)
