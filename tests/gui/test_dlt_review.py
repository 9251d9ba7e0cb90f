"""DLT review dialog: a BPD patient at dose level 2 through the cycle-1 review, confirmed
(Enter) or overridden (reason required at the field); the 3+3 board counts the verdict."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from clinic_app.core.protocol_loader import load_protocols
from clinic_app.gui.dlt_review import DltReviewDialog
from clinic_app.storage.database import Record, open_database
from tests.services.test_dlt_review import TODAY, board_text, level_two_patient

pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support (propagateSizeHints|raise)")
PROTOCOLS = load_protocols()
SHOTS = Path(__file__).parents[2] / "docs" / "screenshots"


@pytest.fixture
def record(tmp_path: Path) -> Iterator[Record]:
    rec = open_database(tmp_path / "record.sqlite3", app_user="Dr Ray")
    try:
        yield rec
    finally:
        rec.close()


def dialog(qtbot: QtBot, record: Record, pid: int) -> DltReviewDialog:
    d = DltReviewDialog(record, pid, today=lambda: TODAY, protocols=PROTOCOLS)
    qtbot.addWidget(d)
    d.show()
    return d


def test_confirm_the_proposed_dlt(qtbot: QtBot, record: Record) -> None:
    pid = level_two_patient(record, 4)
    d = dialog(qtbot, record, pid)
    assert "Bea Leveltwo" in d.windowTitle() and "B-2" in d.windowTitle()
    assert d.summary.text().startswith("Dose level 2. Proposed DLT: yes")
    assert "DLT rules that fired:" in d.evidence.toPlainText()
    assert d.dlt_yes.isChecked() and d.state.text() == "This confirms the proposal."
    if os.environ.get("CLINIC_SCREENSHOTS"):
        d.adjustSize()
        d.grab().save(str(SHOTS / "dlt_review.png"))
    qtbot.keyClick(d.reviewer, Qt.Key.Key_Return)
    assert d.review_id is not None and not d.isVisible()
    assert board_text(record) == "expand 2 to 6"
    again = dialog(qtbot, record, pid)
    assert not again.save_button.isEnabled() and "Already reviewed: DLT" in again.state.text()
    # Once decided, the proposal and the verdict in one sentence, as the printout says it.
    assert "The investigator agreed: DLT." in again.summary.text()


def test_override_needs_a_reason(qtbot: QtBot, record: Record) -> None:
    pid = level_two_patient(record, 4)
    d = dialog(qtbot, record, pid)
    d.dlt_no.setChecked(True)
    assert "overrides the proposal" in d.state.text()
    qtbot.keyClick(d.reviewer, Qt.Key.Key_Return)
    assert d.errors["reason"].isVisible() and d.errors["reason"].text().startswith("⚠")
    assert record.repos.dlt_reviews.for_enrolment(d.view.enrolment.id or 0) == []  # type: ignore[union-attr]
    qtbot.keyClicks(d.reason, "rash from co-trimoxazole")
    qtbot.keyClick(d.reason, Qt.Key.Key_Return)
    assert d.review_id is not None
    assert board_text(record) == "enrol at 3"


def test_empty_reviewer_refused(qtbot: QtBot, record: Record) -> None:
    pid = level_two_patient(record, 4)
    d = dialog(qtbot, record, pid)
    d.reviewer.clear()
    qtbot.keyClick(d.reviewer, Qt.Key.Key_Return)
    assert d.errors["reviewer"].isVisible()
    assert board_text(record) == "wait for pending DLT results"


def test_near_misses_show_with_evidence_as_the_toxicity_summary_prints_them(
    qtbot: QtBot, record: Record
) -> None:
    # Issue 13/14: a G3 arterial thrombosis, possibly related to pomalidomide, fired no clause
    # (thrombotic events are excepted and only VTE is named) but is the investigator's to judge.
    import re
    from datetime import date

    from clinic_app.core.dlt import NEAR_MISS_HEADING
    from clinic_app.core.records import AdverseEvent, Attribution
    from clinic_app.services import documents

    pid = level_two_patient(record, None)
    record.repos.adverse_events.add(
        pid,
        AdverseEvent(
            "Arterial thromboembolism",
            3,
            date(2024, 2, 12),
            attribution={"pomalidomide": Attribution.POSSIBLE},
        ),
    )
    d = dialog(qtbot, record, pid)
    assert "Proposed DLT: no by the rules, but 1 finding came close" in d.summary.text()
    shown = d.evidence.toPlainText().splitlines()
    at = shown.index(NEAR_MISS_HEADING)
    assert shown[at + 1].startswith("• Arterial thromboembolism G3 from 2024-02-12 is a thrombotic")
    assert shown[at + 2] == "    evidence: Arterial thromboembolism G3 from 2024-02-12"
    # the printout's DLT lines are the same lines, its dates written in words (12 Feb 2024)
    printed = documents.build_toxicity_summary(record, "B-2", 1).dlt
    assert printed is not None

    def words(line: str) -> str:
        return re.sub(
            r"(\d{4})-(\d{2})-(\d{2})",
            lambda m: date(int(m[1]), int(m[2]), int(m[3])).strftime("%-d %b %Y"),
            line,
        )

    assert list(printed.evidence) == [words(line) for line in shown]
