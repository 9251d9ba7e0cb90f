"""The clinic's own VRd file (CLINIC_APP_PROTOCOL_DIR) through the real enrolment and
start-a-cycle dialogs, and its 21-day cycle on the chart's timeline."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from PySide6.QtCore import QDate, Qt
from pytestqt.qtbot import QtBot

from clinic_app.core.cycles import CycleStatus
from clinic_app.core.records import Patient, Sex
from clinic_app.gui.chart.panel import timeline_for
from clinic_app.gui.cycle_start import CycleStartDialog
from clinic_app.gui.dialogs.enrolment import EnrolmentDialog
from clinic_app.services.chart_data import load_chart
from clinic_app.services.context import load_protocol_files
from clinic_app.storage.database import Record, open_database
from tests.services.test_third_regimen import FOLDER, add_lab

pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support (propagateSizeHints|raise)")
DAY1 = date(2026, 1, 5)


@pytest.fixture
def record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Record]:
    monkeypatch.setenv("CLINIC_APP_PROTOCOL_DIR", str(FOLDER))
    rec = open_database(tmp_path / "record.sqlite3", app_user="nurse Eva")
    try:
        yield rec
    finally:
        rec.close()


def test_enrol_and_start_vrd_through_the_dialogs(qtbot: QtBot, record: Record) -> None:
    protocols = load_protocol_files(record)  # as the app loads them: the clinic folder too
    pid = record.repos.patients.add(Patient("V-1", "Verdi", "Giuseppe", date(1966, 1, 1), Sex.MALE))

    enrolment = EnrolmentDialog(record, protocols, pid, None, lambda: DAY1)
    qtbot.addWidget(enrolment)
    enrolment.show()
    qtbot.waitExposed(enrolment)
    enrolment.protocol.setCurrentIndex(enrolment.protocol.findData("vrd"))
    enrolment.enrolled_on.setDate(QDate(2026, 1, 5))
    enrolment.cycle1_start.setDate(QDate(2026, 1, 5))
    for row in enrolment._gates:
        row.check.setChecked(True)
        row.date.setDate(QDate(2026, 1, 5))
    qtbot.keyClicks(enrolment.height_edit, "170")
    qtbot.keyClicks(enrolment.weight_edit, "72")
    enrolment.creatinine_unit.setCurrentIndex(enrolment.creatinine_unit.findText("mg/dL"))
    qtbot.keyClicks(enrolment.creatinine_edit, "1.6")
    assert enrolment.ok_button.isEnabled(), enrolment.status.text()
    with qtbot.waitSignal(enrolment.accepted):
        qtbot.keyClick(enrolment.creatinine_edit, Qt.Key.Key_Return)
    assert enrolment.result_ is not None

    add_lab(record, pid, "anc", "1.5", "10^9/L", DAY1)
    add_lab(record, pid, "platelets", "150", "10^9/L", DAY1)
    start = CycleStartDialog(record, pid, None, protocols, lambda: DAY1)
    qtbot.addWidget(start)
    start.show()
    qtbot.waitExposed(start)
    start.weight_edit.selectAll()
    qtbot.keyClicks(start.weight_edit, "72")
    assert start.ok_button.isEnabled(), start.status.text()
    # BSA sqrt(170 * 72 / 3600) = 1.84 m²; CrCl (140 - 60) * 72 / (72 * 1.6) = 50 mL/min
    assert "BSA 1.84 m²" in start.bsa_result.text()
    assert start.crcl_result.text().startswith("CrCl 50 mL/min")
    # 4 bortezomib + 14 lenalidomide + 8 dexamethasone doses
    assert start.plan_model.rowCount() == 26
    rows = [
        [start.plan_model.index(r, c).data() for c in range(5)]
        for r in range(start.plan_model.rowCount())
    ]
    # 1.3 mg/m² × 1.84 m² = 2.392 -> 2.4 mg, subcutaneous, in clinic; CrCl 50 < 60: 10 mg
    assert rows[0][:4] == ["1", "5 Jan 2026", "Bortezomib", "2.4 mg"]
    assert ["1", "5 Jan 2026", "Lenalidomide", "10 mg", "1 × 10 mg capsule"] in rows
    qtbot.keyClick(start.weight_edit, Qt.Key.Key_Return)
    assert start.result_ is not None
    cycle = record.repos.cycles.get(start.result_.cycle_id).value
    assert cycle.status is CycleStatus.STARTED and cycle.bsa_m2 == Decimal("1.84")

    timeline = timeline_for(load_chart(record, pid, protocols=protocols), DAY1)
    (span,) = [c for c in timeline.cycles if c.number == 1]
    assert (span.start, span.end) == (DAY1, date(2026, 1, 25))  # 21 days: 5 Jan + 20
