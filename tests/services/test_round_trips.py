"""On a clinic server every statement is a round trip over the network: the patient list and a
chart cost a number of statements that does not grow with the patients or the cycles."""

from __future__ import annotations

from datetime import date, timedelta

from clinic_app.core.protocol_loader import load_protocols
from clinic_app.services.chart_data import load_chart
from clinic_app.services.patient_state import list_patient_rows
from clinic_app.storage.database import Record

from .helpers import adverse_event, cycle, enrol, lab, patient, planned_dose

PROTOCOLS = load_protocols()
C1D1 = date(2026, 1, 5)


def _statements(record: Record, read: object) -> int:
    before = record.sql.statements
    assert callable(read)
    read()
    return record.sql.statements - before


def _add_cycle(record: Record, eid: int, number: int) -> None:
    start = C1D1 + timedelta(days=28 * (number - 1))
    cid = cycle(record, eid, number, "induction", start, start)
    for day in (1, 8, 15, 22):
        planned_dose(record, cid, day, "dexamethasone", "40", "PO")


def test_a_chart_costs_the_same_statements_for_one_cycle_or_six(record: Record) -> None:
    pid = patient(record, "RT-1", "Round")
    eid = enrol(record, pid, "dextr", C1D1 - timedelta(days=7))
    lab(record, pid, "anc", "2.1", "10^9/L", C1D1)
    _add_cycle(record, eid, 1)

    def read() -> None:
        load_chart(record, pid, protocols=PROTOCOLS)

    one = _statements(record, read)
    for number in range(2, 7):
        _add_cycle(record, eid, number)
        lab(record, pid, "anc", "1.9", "10^9/L", C1D1 + timedelta(days=28 * (number - 1)))
    adverse_event(record, pid, "Fatigue", 2, C1D1 + timedelta(days=3))
    chart = load_chart(record, pid, protocols=PROTOCOLS)
    assert len(chart.cycles) == 6 and len(chart.doses) == 24  # all there, read in one go
    assert _statements(record, read) == one
    assert one <= 12  # patient, enrolments, labs, events, responses, cycles, doses, changes


def test_the_patient_list_costs_the_same_statements_for_one_patient_or_twenty(
    record: Record,
) -> None:
    def add(n: int) -> None:
        pid = patient(record, f"RT-{n:02}", f"List{n}")
        eid = enrol(record, pid, "dextr", C1D1 - timedelta(days=7))
        _add_cycle(record, eid, 1)

    def read() -> None:
        list_patient_rows(record, C1D1 + timedelta(days=3), PROTOCOLS)

    add(1)
    one = _statements(record, read)
    for n in range(2, 21):
        add(n)
    assert _statements(record, read) == one
