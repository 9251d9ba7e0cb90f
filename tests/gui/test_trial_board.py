"""The trial board window: shows the 3+3 decision and follows a confirmed DLT review."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from pypdf import PdfReader
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from clinic_app.core.protocol import Protocol
from clinic_app.core.protocol_loader import load_protocols
from clinic_app.gui.trial_board import RowsModel, TrialBoardWindow
from clinic_app.storage.database import Record, open_database
from clinic_app.storage.rows import DltReview
from tests.services.test_trial import Cohort, treated

TODAY = date(2025, 3, 10)
# The offscreen platform cannot pass size hints to a window manager; nothing is wrong.
pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support (propagateSizeHints|raise)")


@pytest.fixture(scope="module")
def protocols() -> dict[str, Protocol]:
    return load_protocols()


@pytest.fixture
def record(tmp_path: Path) -> Iterator[Record]:
    rec = open_database(tmp_path / "record.sqlite3", daily_backup=False)
    try:
        yield rec
    finally:
        rec.close()


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
    statuses = [proxy.index(r, 5).data() for r in range(proxy.rowCount())]
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
    win.write_report(out)
    text = " ".join(p.extract_text() for p in PdfReader(out).pages)
    assert "Decision: enrol at 2" in " ".join(text.split())


def test_dextr_endpoints_and_curves(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol], tmp_path: Path
) -> None:
    treated(record, "P1", ["PR", "PR", "PD", "PD"])
    treated(record, "P2", ["SD", "SD", "SD"])
    win = window(qtbot, record, protocols)
    win.protocol_box.setCurrentIndex(win.protocol_box.findData("dextr"))
    assert win.windowTitle() == "Trial board · DexTR"
    assert not win.tabs.isTabEnabled(win.escalation_index)
    rates = win.rates_view.model()
    labels = [rates.index(r, 0).data() for r in range(rates.rowCount())]
    assert "overall response rate (SD or better, per protocol)" in labels
    # PFS: P1 event at day 84, P2 censored at 84 -> S = 1/2 at 84 (the censored one at risk)
    assert win.km_titles[0].text().endswith(
        "median 84 days (95 % CI not reached to not reached days)"
    ) or ("median 84 days" in win.km_titles[0].text())
    win.tabs.setCurrentIndex(3)
    plot = win.km_plots[0]
    qtbot.waitExposed(plot)
    image = plot.grab()
    assert not image.isNull()
    image.save(str(tmp_path / "km.png"))


def test_rows_model_passes_the_model_tester(qtmodeltester: object) -> None:
    model = RowsModel(["a", "b"])
    model.set_rows([["1", "x"], ["2", "y"]])
    qtmodeltester.check(model)  # type: ignore[attr-defined]
