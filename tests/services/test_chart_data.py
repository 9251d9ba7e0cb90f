"""The chart service reads one patient's record through the real repositories."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from clinic_app.core.cycles import CycleRow, CycleStatus
from clinic_app.core.records import (
    AdverseEvent,
    DoseEvent,
    DoseModification,
    DoseStatus,
    Enrolment,
    LabResult,
    Patient,
    ResponseAssessment,
    Sex,
)
from clinic_app.services.chart_data import load_chart
from clinic_app.storage.database import Record, open_database
from clinic_app.storage.errors import RowNotFoundError

D = Decimal


@pytest.fixture
def record(tmp_path: Path) -> Iterator[Record]:
    rec = open_database(tmp_path / "chart.sqlite3")
    try:
        yield rec
    finally:
        rec.close()


def add_treated_patient(
    record: Record,
    mrn: str = "MRN-0042",
    family: str = "Nováková",
    given: str = "Zoë",
    protocol: str = "dextr",
) -> int:
    """A DexTR patient: cycle 1 given (one dose held), cycle 2 delayed 7 days and started."""
    repos = record.repos
    pid = repos.patients.add(
        Patient(
            mrn,
            family,
            given,
            date(1951, 3, 14),
            Sex.FEMALE,
            allergies=("penicillin",),
            alerts=("hard of hearing",),
        )
    )
    eid = repos.enrolments.add(
        Enrolment(
            pid, protocol, date(2024, 1, 1), date(2023, 12, 20), {"consent": date(2023, 12, 20)}
        )
    )
    c1 = repos.cycles.add(
        CycleRow(eid, 1, "induction", date(2024, 1, 1), CycleStatus.COMPLETED, date(2024, 1, 1))
    )
    c2 = repos.cycles.add(
        CycleRow(
            eid,
            2,
            "induction",
            date(2024, 1, 29),
            CycleStatus.STARTED,
            date(2024, 2, 5),
            delay_days=7,
            delay_reason="ANC 0.8",
        )
    )
    given_at = datetime(2024, 1, 1, 9, tzinfo=UTC)
    repos.doses.add_many(
        [
            (DoseEvent(c1, 1, "dexamethasone", D(40), DoseStatus.GIVEN, given_at), None),
            (DoseEvent(c1, 1, "lenalidomide", D(25), DoseStatus.GIVEN, given_at), None),
            (DoseEvent(c1, 2, "lenalidomide", D(25), DoseStatus.HELD, reason="rash"), None),
            (DoseEvent(c2, 1, "dexamethasone", D(20), DoseStatus.PLANNED), None),
        ],
        reason="plan",
    )
    for on, value in ((date(2024, 1, 15), "0.8"), (date(2024, 2, 1), "1.2")):
        repos.labs.add(
            pid,
            LabResult(
                "anc",
                D(value),
                "10^9/L",
                datetime(on.year, on.month, on.day, 8, tzinfo=UTC),
                D(value),
                lln=D("1.8"),
            ),
        )
    repos.adverse_events.add(pid, AdverseEvent("Nausea", 1, date(2024, 1, 3), date(2024, 1, 6)))
    repos.adverse_events.add(pid, AdverseEvent("Febrile neutropenia", 3, date(2024, 1, 16)))
    repos.responses.add(pid, ResponseAssessment(date(2023, 12, 28), serum_m_protein_g_dl=D("3.0")))
    repos.responses.add(pid, ResponseAssessment(date(2024, 1, 29), serum_m_protein_g_dl=D("1.2")))
    repos.modifications.add(
        eid,
        DoseModification("dexamethasone", D(40), D(20), "insomnia", 2, "Dr Ada", date(2024, 2, 1)),
    )
    return pid


def test_loads_the_current_enrolment_with_its_protocol(record: Record) -> None:
    pid = add_treated_patient(record)
    chart = load_chart(record, pid)
    assert chart.patient.mrn == "MRN-0042"
    assert chart.enrolment is not None and chart.enrolment.protocol == "dextr"
    assert chart.protocol_name() == "DexTR"
    assert chart.cycle_length_days == 28  # DexTR: 28-day cycles (rules §1)
    assert chart.drug_order == ("dexamethasone", "thalidomide", "lenalidomide")
    assert chart.drug_units["dexamethasone"] == "mg"
    assert [c.number for c in chart.cycles] == [1, 2]
    assert len(chart.doses) == 4
    assert {d.cycle_id for d in chart.doses} == {c.id for c in chart.cycles}
    assert len(chart.labs) == 2 and len(chart.adverse_events) == 2
    assert len(chart.responses) == 2 and len(chart.modifications) == 1
    # The latest started cycle is the current one.
    assert chart.current_cycle is not None and chart.current_cycle.number == 2
    assert chart.current_phase == "induction"
    assert chart.problems == ()


def test_another_patients_rows_never_leak_in(record: Record) -> None:
    first = add_treated_patient(record)
    second = record.repos.patients.add(
        Patient("MRN-0099", "Okafor", "Chidi", date(1960, 7, 2), Sex.MALE)
    )
    chart = load_chart(record, second)
    assert chart.enrolment is None and chart.protocol is None
    assert (chart.cycles, chart.doses, chart.labs, chart.adverse_events) == ((), (), (), ())
    assert chart.protocol_name() == "not enrolled"
    assert load_chart(record, first).patient.mrn == "MRN-0042"


def test_unknown_protocol_is_reported_not_guessed(record: Record) -> None:
    pid = add_treated_patient(record, protocol="xyz")
    chart = load_chart(record, pid)
    assert chart.protocol is None and chart.cycle_length_days is None
    assert chart.problems == (
        "Protocol 'xyz' is not installed: the cycle length and drug names are unknown, so the "
        "timeline cannot be drawn.",
    )


def test_unknown_patient(record: Record) -> None:
    with pytest.raises(RowNotFoundError):
        load_chart(record, 12345)
