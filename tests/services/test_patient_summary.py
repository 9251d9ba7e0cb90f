"""One patient's computed summary: cycles, doses, worst grades, response, DLT, next step."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from clinic_app.core.phase_decision import NextStep
from clinic_app.core.protocol_loader import load_protocols
from clinic_app.core.records import (
    AdverseEvent,
    Attribution,
    DoseEvent,
    DoseStatus,
    Enrolment,
    Immunofixation,
    LabResult,
    PatientStatus,
    ResponseAssessment,
)
from clinic_app.services.patient_state import patient_summary
from clinic_app.storage.database import Record

from .helpers import adverse_event, cycle, enrol, lab, patient

PROTOCOLS = load_protocols()


def assess(record: Record, pid: int, on: date, serum: str, end_of_cycle: int | None) -> None:
    record.repos.responses.add(
        pid, ResponseAssessment(on, serum_m_protein_g_dl=Decimal(serum), end_of_cycle=end_of_cycle)
    )


def dextr_patient_after_four_cycles(record: Record) -> int:
    pid = patient(record, "S-1", "Summary")
    eid = enrol(record, pid, "dextr", date(2023, 12, 28))
    # Cycles of 28 days: Jan 2, Jan 30, Feb 27, Mar 26 (2024 is a leap year).
    starts = [date(2024, 1, 2), date(2024, 1, 30), date(2024, 2, 27), date(2024, 3, 26)]
    ids = [cycle(record, eid, n, "induction", s, s) for n, s in enumerate(starts, 1)]
    given = datetime(2024, 1, 2, 9, tzinfo=UTC)
    record.repos.doses.add(
        DoseEvent(ids[0], 1, "lenalidomide", Decimal(25), DoseStatus.GIVEN, given)
    )
    record.repos.doses.add(
        DoseEvent(ids[0], 2, "lenalidomide", Decimal(25), DoseStatus.HELD, reason="ANC 0.4")
    )
    record.repos.doses.add(DoseEvent(ids[0], 3, "lenalidomide", Decimal(25), DoseStatus.PLANNED))
    lab(record, pid, "anc", "0.4", "10^9/L", date(2024, 1, 20))  # CTCAE G4: < 0.5
    lab(record, pid, "anc", "0.9", "10^9/L", date(2024, 1, 27))  # G3
    lab(record, pid, "platelets", "60", "10^9/L", date(2024, 1, 20))  # G2: < 75 to 50
    adverse_event(record, pid, "Fatigue", 2, date(2024, 1, 10))
    assess(record, pid, date(2024, 1, 1), "3.0", None)  # baseline
    # (3.0 - 1.4) / 3.0 = 53 % reduction: PR; then 60 %, 57 %, 58 %: PR, confirmed.
    assess(record, pid, date(2024, 1, 29), "1.4", 1)
    assess(record, pid, date(2024, 2, 26), "1.2", 2)
    assess(record, pid, date(2024, 3, 25), "1.3", 3)
    assess(record, pid, date(2024, 4, 22), "1.25", 4)
    return pid


def test_dextr_summary_with_plateau_proposes_maintenance(record: Record) -> None:
    pid = dextr_patient_after_four_cycles(record)
    s = patient_summary(record, pid, date(2024, 4, 22), PROTOCOLS)
    # Mar 26 -> Apr 22 is 27 days: cycle 4 day 28.
    assert (s.protocol_name, s.status, s.phase, s.cycle, s.day) == (
        "DexTR",
        PatientStatus.ACTIVE,
        "induction",
        4,
        28,
    )
    c1 = s.cycles[0]
    # Day 28 of a cycle starting Jan 2 is Jan 2 + 27 = Jan 29.
    assert (c1.start_date, c1.end_date) == (date(2024, 1, 2), date(2024, 1, 29))
    assert (c1.doses_given, c1.doses_held, c1.doses_planned) == (1, 1, 1)
    assert c1.held == ("day 2 lenalidomide 25 mg held: ANC 0.4",)
    worst = {w.term: w for w in s.worst_lab_grades}
    assert worst["Neutrophil count decreased"].lowest_grade == 4
    assert worst["Neutrophil count decreased"].collected_on == date(2024, 1, 20)
    assert worst["Platelet count decreased"].lowest_grade == 2
    assert [r.category for r in s.responses] == ["PR", "PR", "PR", "PR"]
    assert [r.confirmed for r in s.responses] == [False, True, True, True]
    assert s.dlt is None  # DexTR has no DLT rules
    assert s.next_step is not None
    # Plateau: 1.4, 1.2, 1.3, 1.25 all within ±25 % of 1.4 (1.05-1.75) for > 2 cycles.
    assert s.next_step.proposal is NextStep.NEXT_PHASE
    assert [a.term for a in s.adverse_events] == ["Fatigue"]


def test_missing_baseline_is_reported_not_guessed(record: Record) -> None:
    pid = patient(record, "S-2", "Nobase")
    eid = enrol(record, pid, "dextr", date(2024, 1, 1))
    cycle(record, eid, 1, "induction", date(2024, 1, 2), date(2024, 1, 2))
    assess(record, pid, date(2024, 1, 29), "1.4", 1)
    s = patient_summary(record, pid, date(2024, 1, 29), PROTOCOLS)
    assert s.responses == ()
    assert any("baseline response assessment" in m for m in s.missing)
    assert s.next_step is not None and s.next_step.proposal is NextStep.AWAIT_ASSESSMENT


def test_bpd_cycle_1_dlt_proposal(record: Record) -> None:
    pid = patient(record, "S-3", "Bpd")
    eid = enrol(record, pid, "bpd", date(2024, 1, 25), dose_level=1, cohort="escalation")
    cycle(record, eid, 1, "treatment", date(2024, 2, 1), date(2024, 2, 1), dose_level=1)
    cycle(record, eid, 2, "treatment", date(2024, 2, 29), date(2024, 2, 29), dose_level=1)
    lab(record, pid, "anc", "2.0", "10^9/L", date(2024, 1, 30))
    lab(record, pid, "platelets", "180", "10^9/L", date(2024, 1, 30))
    lab(record, pid, "anc", "1.6", "10^9/L", date(2024, 2, 15))
    s = patient_summary(record, pid, date(2024, 3, 1), PROTOCOLS)
    assert s.dlt is not None
    assert s.dlt.dlt is False and s.dlt.evaluable_for_toxicity
    assert (s.cycle, s.day, s.dose_level) == (2, 2, 1)  # Mar 1 - Feb 29 = 1 day -> day 2
    # BPD: "any Grade 4 rash" at least possibly related to pomalidomide is a DLT.
    rash = AdverseEvent(
        "Rash maculo-papular",
        4,
        date(2024, 2, 10),
        attribution={"pomalidomide": Attribution.POSSIBLE},
    )
    record.repos.adverse_events.add(pid, rash)
    s = patient_summary(record, pid, date(2024, 3, 1), PROTOCOLS)
    assert s.dlt is not None and s.dlt.dlt is True


def test_not_enrolled(record: Record) -> None:
    pid = patient(record, "S-4", "Plain")
    s = patient_summary(record, pid, date(2024, 3, 1), PROTOCOLS)
    assert s.status is None and s.cycles == () and s.next_step is None
    assert "enrolment: the patient is not enrolled on a protocol" in s.missing


def creatinine(record: Record, pid: int, value: str, unit: str, on: date) -> None:
    from clinic_app.core import labs

    v = Decimal(value)
    record.repos.labs.add(
        pid,
        LabResult(
            "creatinine",
            v,
            unit,
            datetime(on.year, on.month, on.day, 8, tzinfo=UTC),
            labs.to_si("creatinine", v, unit),
            # ULN 1.2 mg/dL = 106.08 µmol/L (1 mg/dL = 88.4 µmol/L)
            None,
            Decimal("1.2") if unit == "mg/dL" else Decimal("106.08"),
        ),
    )


@pytest.mark.parametrize(
    ("value", "grade"),
    [
        # CTCAE v5.0 creatinine increased, grade 2: > 1.5-3.0 x baseline. The baseline is
        # 53 µmol/L = 53 / 88.4 = 0.59955 mg/dL; every value here is below the ULN 1.2 mg/dL.
        ("0.95", 2),  # 0.95 / 0.59955 = 1.585 x baseline -> grade 2
        ("0.89", 0),  # 0.89 / 0.59955 = 1.484 x baseline, not > 1.5 -> not graded up
    ],
)
def test_worst_creatinine_is_graded_against_the_pre_treatment_baseline(
    record: Record, value: str, grade: int
) -> None:
    pid = patient(record, "S-9", "Renal")
    eid = enrol(record, pid, "dextr", date(2023, 12, 28))
    cycle(record, eid, 1, "induction", date(2024, 1, 2), date(2024, 1, 2))
    creatinine(record, pid, "53", "umol/L", date(2023, 12, 29))  # baseline, before C1D1
    creatinine(record, pid, value, "mg/dL", date(2024, 1, 20))
    s = patient_summary(record, pid, date(2024, 1, 25), PROTOCOLS)
    worst = {w.term: w for w in s.worst_lab_grades}
    if grade == 0:
        assert "Creatinine increased" not in worst
    else:
        line = worst["Creatinine increased"]
        assert (line.grade, line.lowest_grade, line.collected_on) == (2, 2, date(2024, 1, 20))
    assert not [m for m in s.missing if "creatinine" in m.lower()]


@pytest.mark.parametrize(
    ("chains", "expected"),
    [((None,), "CR"), (("kappa",), "CR"), (("lambda",), "sCR"), ((None, "lambda"), "sCR")],
)
def test_summary_reads_the_flc_ratio_with_the_enrolled_light_chain(
    record: Record, chains: tuple[str | None, ...], expected: str
) -> None:
    pid = patient(record, "S-9", "Lambda")
    for chain in chains:
        eid = record.repos.enrolments.add(
            Enrolment(pid, "dextr", date(2023, 12, 28), date(2023, 12, 28), light_chain=chain)
        )
    cycle(record, eid, 1, "induction", date(2024, 1, 2), date(2024, 1, 2))
    assess(record, pid, date(2024, 1, 1), "3.0", None)
    neg = Immunofixation.NEGATIVE
    record.repos.responses.add(
        pid,
        ResponseAssessment(
            date(2024, 1, 29),
            serum_m_protein_g_dl=Decimal(0),
            urine_m_protein_mg_24h=Decimal(0),
            serum_ife=neg,
            urine_ife=neg,
            involved_flc_mg_l=Decimal("16.6"),
            uninvolved_flc_mg_l=Decimal(10),
            marrow_plasma_cells_pct=Decimal(1),
            clonal_marrow_cells=False,
            soft_tissue_plasmacytoma=False,
            end_of_cycle=1,
        ),
    )
    s = patient_summary(record, pid, date(2024, 1, 29), PROTOCOLS)
    # lambda: kappa/lambda = 10 / 16.6 = 0.60, normal -> sCR; kappa: 16.6 / 10 = 1.66 > 1.65
    # -> CR; not known: normal one way up only, so sCR cannot be claimed -> CR.
    assert [r.category for r in s.responses] == [expected]


def test_summary_says_when_enrolments_disagree_on_the_light_chain(record: Record) -> None:
    pid = patient(record, "S-10", "Both")
    for chain in ("kappa", "lambda"):
        eid = record.repos.enrolments.add(
            Enrolment(pid, "dextr", date(2023, 12, 28), date(2023, 12, 28), light_chain=chain)
        )
    cycle(record, eid, 1, "induction", date(2024, 1, 2), date(2024, 1, 2))
    assess(record, pid, date(2024, 1, 1), "3.0", None)
    assess(record, pid, date(2024, 1, 29), "1.4", 1)
    s = patient_summary(record, pid, date(2024, 1, 29), PROTOCOLS)
    assert s.responses == ()
    assert any("different involved light chains" in m for m in s.missing)


def test_cycle_end_is_never_guessed_for_an_unknown_protocol(record: Record) -> None:
    # Enrolled on a protocol this computer has not loaded: no cycle length is known, so the
    # cycle has no end date (no 28 days assumed) and the summary says the protocol is unknown.
    pid = patient(record, "S-9", "Unknown")
    eid = enrol(record, pid, "vrd", date(2024, 1, 1))
    cycle(record, eid, 1, "induction", date(2024, 1, 2), date(2024, 1, 2))
    s = patient_summary(record, pid, date(2024, 1, 10), PROTOCOLS)
    [c1] = s.cycles
    assert c1.start_date == date(2024, 1, 2) and c1.end_date is None
    assert "protocol 'vrd' is not loaded" in s.missing


def test_cycle_end_uses_the_cycles_own_phase_length(record: Record) -> None:
    # VRd (tests/fixtures/protocols/vrd.toml): 21-day cycles. Day d is start + (d - 1), so a
    # cycle started 2 Jan 2024 ends on day 21 = 2 Jan + 20 = 22 Jan.
    folder = Path(__file__).parents[1] / "fixtures" / "protocols"
    protocols = load_protocols(clinic_dirs=[folder])
    assert protocols["vrd"].cycle_length("induction") == 21
    pid = patient(record, "S-10", "Vrd")
    eid = enrol(record, pid, "vrd", date(2024, 1, 1))
    cycle(record, eid, 1, "induction", date(2024, 1, 2), date(2024, 1, 2))
    # Maintenance (cycle 9 on) has 28-day cycles: from 1 Jun 2024, day 28 is 1 Jun + 27 = 28 Jun.
    cycle(record, eid, 9, "maintenance", date(2024, 6, 1), date(2024, 6, 1))
    s = patient_summary(record, pid, date(2024, 6, 10), protocols)
    ends = {c.number: c.end_date for c in s.cycles}
    assert ends == {1: date(2024, 1, 22), 9: date(2024, 6, 28)}
