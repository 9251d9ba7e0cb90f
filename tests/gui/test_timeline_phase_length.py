"""The chart's timeline draws each cycle with its own phase's length: VRd (the clinic's file in
tests/fixtures/protocols) has 21-day induction cycles and 28-day maintenance cycles."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from clinic_app.core.cycles import CycleRow, CycleStatus
from clinic_app.core.protocol_loader import load_protocol
from clinic_app.core.records import Enrolment, Patient, Sex
from clinic_app.gui.chart.panel import timeline_for
from clinic_app.services.chart_data import load_chart
from clinic_app.storage.database import Record

VRD = load_protocol(Path(__file__).parents[1] / "fixtures" / "protocols" / "vrd.toml")


def test_a_maintenance_cycle_is_drawn_28_days_after_21_day_induction(record: Record) -> None:
    repos = record.repos
    pid = repos.patients.add(Patient("V-9", "Okafor", "Ada", date(1958, 2, 1), Sex.FEMALE))
    eid = repos.enrolments.add(Enrolment(pid, "vrd", date(2026, 1, 2), date(2026, 1, 2)))
    # Cycle 8, the last induction cycle: 1 June + 20 days = 21 June (day 21).
    # Cycle 9, maintenance, starts the day after: 22 June + 27 days = 19 July (day 28).
    # Cycle 10 is planned on 19 July + 1 = 20 July: no gap and no overlap.
    for number, phase, start, status in (
        (8, "induction", date(2026, 6, 1), CycleStatus.COMPLETED),
        (9, "maintenance", date(2026, 6, 22), CycleStatus.STARTED),
        (10, "maintenance", date(2026, 7, 20), CycleStatus.PLANNED),
    ):
        started = start if status is not CycleStatus.PLANNED else None
        repos.cycles.add(CycleRow(eid, number, phase, start, status, started))

    chart = load_chart(record, pid, protocols={"vrd": VRD})
    data = timeline_for(chart, date(2026, 7, 1))

    spans = {span.number: span for span in data.cycles}
    assert (spans[8].end, spans[8].length_days) == (date(2026, 6, 21), 21)
    assert (spans[9].end, spans[9].length_days) == (date(2026, 7, 19), 28)
    assert (spans[10].start, spans[10].length_days) == (date(2026, 7, 20), 28)
    assert spans[9].gap_start is None and spans[10].gap_start is None
    # Drawn at 21 days, cycle 9 would end on 12 July and cycle 10 would seem 7 days late.
    assert data.problems == ()
