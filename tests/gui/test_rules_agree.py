"""One patient's record read by the chart, the patient list, the summary and the trial board:
the same baselines, the same response and the same "severe" (issue 17: one rule, in core)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from clinic_app.core.baselines import response_baseline, treatment_start
from clinic_app.core.protocol import Protocol
from clinic_app.core.records import LabResult, PatientStatus, ResponseAssessment
from clinic_app.core.response import ResponseCategory
from clinic_app.gui.chart.panel import timeline_for
from clinic_app.services.chart_data import load_chart
from clinic_app.services.patient_state import list_patient_rows, patient_summary
from clinic_app.services.trial import build_endpoints
from clinic_app.storage.database import Record
from tests.services.helpers import cycle, enrol, patient

D = Decimal
C1D1 = date(2024, 1, 8)  # the second course starts on Monday 8 January 2024
TODAY = date(2024, 4, 15)


def study(on: date, m: str, end_of_cycle: int | None = None) -> ResponseAssessment:
    return ResponseAssessment(on, serum_m_protein_g_dl=D(m), end_of_cycle=end_of_cycle)


def _second_course(record: Record, *, screening: bool = True) -> tuple[int, int]:
    """A patient treated on BPD in 2023 (off study), enrolled again in January 2024.

    Serum M-protein, g/dL: 3.0 at screening for the second course (3 Jan 2024); the first
    course's end-of-cycle-2 study (1.0 on 1 Mar 2023) is older and closes a cycle, so it is
    no pre-treatment study. On treatment: 1.2 (5 Feb, closing cycle 1) and 1.1 (4 Mar,
    closing cycle 2). IMWG PR is >= 50 % below baseline: 1.2 is 60 % and 1.1 63 % below 3.0,
    PR twice (confirmed). Against the old 1.0 they would be 20 % and 10 % higher: SD.
    """
    pid = patient(record, "AGREE-1", "Agree")
    first = enrol(record, pid, "bpd", date(2023, 1, 2), status=PatientStatus.OFF_STUDY)
    cycle(record, first, 1, "induction", date(2023, 1, 2), date(2023, 1, 2))  # type: ignore[arg-type]
    cycle(record, first, 2, "induction", date(2023, 1, 30), date(2023, 1, 30))  # type: ignore[arg-type]
    record.repos.responses.add(pid, study(date(2022, 12, 28), "2.5"))
    record.repos.responses.add(pid, study(date(2023, 3, 1), "1.0", end_of_cycle=2))
    second = enrol(record, pid, "bpd", date(2024, 1, 2))
    cycle(record, second, 1, "induction", C1D1, C1D1)  # type: ignore[arg-type]
    cycle(record, second, 2, "induction", date(2024, 2, 5), date(2024, 2, 5))  # type: ignore[arg-type]
    cycle(record, second, 3, "induction", date(2024, 3, 4), date(2024, 3, 4))  # type: ignore[arg-type]
    if screening:
        record.repos.responses.add(pid, study(date(2024, 1, 3), "3.0"))
    record.repos.responses.add(pid, study(date(2024, 2, 5), "1.2", end_of_cycle=1))
    record.repos.responses.add(pid, study(date(2024, 3, 4), "1.1", end_of_cycle=2))
    return pid, second


def test_chart_and_trial_board_read_the_same_baseline_and_response(
    record: Record, protocols: dict[str, Protocol]
) -> None:
    pid, second = _second_course(record)
    chart = load_chart(record, pid, protocols=protocols)
    assert treatment_start(chart.cycles) == C1D1
    baseline = response_baseline(chart.responses, C1D1)
    assert baseline is not None and baseline.serum_m_protein_g_dl == D("3.0")

    marks = {m.on: m for m in timeline_for(chart, TODAY).responses}
    assert marks[date(2024, 1, 3)].explanation == "pre-treatment"
    assert marks[date(2023, 3, 1)].category is None  # the earlier course's study: not this one's
    assert [marks[d].category for d in (date(2024, 2, 5), date(2024, 3, 4))] == ["PR", "PR"]

    endpoints = build_endpoints(record, protocols["bpd"], as_of=TODAY)
    [row] = [p for p in endpoints.patients if p.enrolment_id == second]
    # The trial board read the first course's cycle-closing study (1.0) as the baseline: SD.
    assert row.best_response is ResponseCategory.PR
    assert row.initial_response is ResponseCategory.PR

    summary = patient_summary(record, pid, TODAY, protocols)
    assert [r.category for r in summary.responses] == ["PR", "PR"]


def test_without_a_screening_for_the_second_course_no_screen_classifies_a_response(
    record: Record, protocols: dict[str, Protocol]
) -> None:
    # The same patient without the January 2024 screening. The chart took the 2022 screening
    # (2.5: 1.2 is 52 % below it, PR) and the trial board the 2023 end-of-cycle study (1.0:
    # 1.2 is 20 % above it, SD). Both precede the first course's treatment: no baseline for
    # the second course, and every screen says so.
    pid, second = _second_course(record, screening=False)
    chart = load_chart(record, pid, protocols=protocols)
    assert response_baseline(chart.responses, treatment_start(chart.cycles)) is None
    timeline = timeline_for(chart, TODAY)
    assert all(m.category is None for m in timeline.responses)
    assert any(p.startswith("Responses are not classified") for p in timeline.problems)
    endpoints = build_endpoints(record, protocols["bpd"], as_of=TODAY)
    [row] = [p for p in endpoints.patients if p.enrolment_id == second]
    assert row.best_response is None and row.initial_response is None
    summary = patient_summary(record, pid, TODAY, protocols)
    assert summary.responses == ()
    assert any(m.startswith("baseline response assessment") for m in summary.missing)


def _lab(record: Record, pid: int, test: str, value: str, on: date, uln: str) -> None:
    at = datetime(on.year, on.month, on.day, 8, tzinfo=UTC)
    record.repos.labs.add(pid, LabResult(test, D(value), "umol/L", at, D(value), uln=D(uln)))


def test_chart_summary_and_list_grade_creatinine_against_the_same_baseline(
    record: Record, protocols: dict[str, Protocol]
) -> None:
    # Creatinine, ULN 100 umol/L: screening 40 (5 Jan) and 130 (10 Jan), cycle 1 day 1 on
    # 15 January, then 130 on 22 Jan. The baseline is the last draw before day 1: 130.
    # 10 Jan: 130 = 1.0 x baseline, > ULN and <= 1.5 x ULN: grade 1. The chart graded it
    # against the draw before it (40): 130 > 3.0 x 40 = 120, grade 3, bold on the chart
    # while the summary said grade 1. 22 Jan: 1.0 x baseline again, grade 1: no flag.
    pid = patient(record, "AGREE-2", "Agree")
    eid = enrol(record, pid, "bpd", date(2024, 1, 2))
    cycle(record, eid, 1, "induction", date(2024, 1, 15), date(2024, 1, 15))  # type: ignore[arg-type]
    _lab(record, pid, "creatinine", "40", date(2024, 1, 5), "100")
    _lab(record, pid, "creatinine", "130", date(2024, 1, 10), "100")
    _lab(record, pid, "creatinine", "130", date(2024, 1, 22), "100")
    today = date(2024, 1, 25)
    days = {
        d.on: d for d in timeline_for(load_chart(record, pid, protocols=protocols), today).lab_days
    }
    assert [days[d].worst_grade for d in sorted(days)] == [0, 1, 1]
    assert not any(d.severe for d in days.values())
    summary = patient_summary(record, pid, today, protocols)
    [worst] = [w for w in summary.worst_lab_grades if w.term == "Creatinine increased"]
    assert worst.grade == 1
    [row] = list_patient_rows(record, today, protocols)
    assert not row.severe_toxicity
