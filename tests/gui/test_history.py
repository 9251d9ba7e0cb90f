"""History dialog: a corrected then voided response assessment shows old -> new values, who,
when and why; voiding needs a reason (refused at the field, nothing changed)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from clinic_app.core.records import ResponseAssessment
from clinic_app.gui.dialogs.enrolment import patient_title
from clinic_app.gui.history import HistoryDialog, HistoryModel
from clinic_app.storage.database import Record, open_database
from tests.services.helpers import patient

pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support (propagateSizeHints|raise)")
SHOTS = Path(__file__).parents[2] / "docs" / "screenshots"


@pytest.fixture
def record(tmp_path: Path) -> Iterator[Record]:
    rec = open_database(tmp_path / "record.sqlite3", app_user="Nurse N")
    try:
        yield rec
    finally:
        rec.close()


def corrected(record: Record) -> tuple[int, int]:
    pid = patient(record, "H-1", "History", "Hana")
    repo = record.repos.responses
    aid = repo.add(pid, ResponseAssessment(date(2024, 1, 29), serum_m_protein_g_dl=Decimal(2)))
    repo.update(
        aid,
        ResponseAssessment(date(2024, 1, 29), serum_m_protein_g_dl=Decimal("1.2")),
        expected_version=1,
        reason="transcription error",
    )
    return pid, aid


def test_model_passes_qtmodeltester(qtmodeltester, record: Record) -> None:  # type: ignore[no-untyped-def]
    _, aid = corrected(record)
    model = HistoryModel(record.repos.responses.history(aid))
    qtmodeltester.check(model)
    assert model.rowCount() == 2


def test_void_with_reason_shows_in_history(qtbot: QtBot, record: Record) -> None:
    pid, aid = corrected(record)
    title = patient_title(record.repos.patients.get(pid).value)
    d = HistoryDialog(record, record.repos.responses, aid, title)
    qtbot.addWidget(d)
    d.show()
    assert "Hana History" in d.windowTitle() and "H-1" in d.windowTitle()
    m = d.model
    assert [m.index(r, 2).data() for r in range(m.rowCount())] == ["entered", "corrected"]
    # A chart's words, never the column name: serum M-protein (g/dL) 2 → 1.2.
    assert "serum M-protein (g/dL) 2 → 1.2" in m.index(1, 3).data()
    assert "serum_m_protein" not in m.index(1, 3).data()
    assert m.index(1, 4).data() == "transcription error"
    assert "Nurse N" in m.index(1, 1).data()
    # No reason: refused next to the field, nothing voided.
    qtbot.mouseClick(d.void_button, Qt.MouseButton.LeftButton)
    assert d.reason_error.isVisible() and d.reason_error.text().startswith("⚠")
    assert not record.repos.responses.get(aid).voided
    qtbot.keyClicks(d.reason, "wrong patient")
    qtbot.mouseClick(d.void_button, Qt.MouseButton.LeftButton)
    assert record.repos.responses.get(aid).void_reason == "wrong patient"
    assert record.repos.responses.for_patient(pid) == []  # gone from the live record
    assert m.rowCount() == 3 and m.index(2, 2).data() == "voided"
    assert m.index(2, 4).data() == "wrong patient"
    assert "voided by Nurse N: wrong patient" in d.status.text() and not d.void_button.isEnabled()
    if os.environ.get("CLINIC_SCREENSHOTS"):
        d.adjustSize()
        d.grab().save(str(SHOTS / "history.png"))


def test_a_voided_lab_result_reads_like_a_chart(qtbot: QtBot, record: Record) -> None:
    from datetime import datetime

    from clinic_app.core.records import LabResult

    pid, _ = corrected(record)
    from clinic_app.storage.users import Role

    record.repos.users.create_first_administrator("admin", "Ada Admin", "correct horse 12")
    record.repos.users.authenticate("admin", "correct horse 12")
    record.set_user("admin")
    record.repos.users.add("n.nurse", "N. Nurse", Role.NURSE, "battery staple 34")
    record.repos.users.authenticate("n.nurse", "battery staple 34")
    record.set_user("n.nurse")
    sampled = datetime(2026, 12, 2, 5, 54).astimezone()  # local time, as the nurse read it
    lab_id = record.repos.labs.add(
        pid, LabResult("anc", Decimal("0.4"), "10^9/L", sampled, Decimal("0.4"))
    )
    d = HistoryDialog(record, record.repos.labs, lab_id, "Hana History, MRN H-1")
    qtbot.addWidget(d)
    d.show()
    assert (
        d.status.text()
        == "Lab result: ANC 0.4 ×10⁹/L, sample 2 Dec 2026 05:54, entered by N. Nurse."
    )
    qtbot.keyClicks(d.reason, "entered on the wrong patient")
    qtbot.mouseClick(d.void_button, Qt.MouseButton.LeftButton)
    assert d.status.text() == (
        "⚠ Lab result: ANC 0.4 ×10⁹/L, sample 2 Dec 2026 05:54 — voided by N. Nurse: "
        "entered on the wrong patient"
    )
    m = d.model
    texts = " ".join(str(m.index(r, c).data()) for r in range(m.rowCount()) for c in range(5))
    # No internal names or raw values: no value_si, patient_id, voided_at, None.
    for internal in ("value_si", "patient_id", "voided_at", "None", "->"):
        assert internal not in texts
    assert m.index(m.rowCount() - 1, 1).data() == "N. Nurse"
