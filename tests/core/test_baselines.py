"""The pre-treatment baselines (core.baselines) and "severe" (core.ctcae), worked by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from clinic_app.core.baselines import (
    baseline_in_unit,
    entry_count,
    lab_baseline,
    on_treatment,
    response_baseline,
    treatment_start,
)
from clinic_app.core.ctcae import SEVERE_GRADE, grade_lab, is_severe
from clinic_app.core.cycles import CycleRow, CycleStatus
from clinic_app.core.errors import DomainError
from clinic_app.core.records import LabResult, ResponseAssessment

D = Decimal
C1D1 = date(2024, 3, 4)


def cycle(number: int, start: date | None, status: CycleStatus) -> CycleRow:
    planned = start or date(2024, 3, 4)
    return CycleRow(1, number, "induction", planned, status=status, start_date=start)  # type: ignore[arg-type]


def lab(test: str, value: str, unit: str, on: date, hour: int = 8, id: int = 0) -> LabResult:
    at = datetime(on.year, on.month, on.day, hour, tzinfo=UTC)
    return LabResult(test, D(value), unit, at, D(value), id=id or None)


# -- treatment start -----------------------------------------------------------------------------


def test_treatment_start_is_day_1_of_the_first_started_cycle() -> None:
    cycles = [
        cycle(2, date(2024, 4, 1), CycleStatus.STARTED),
        cycle(1, C1D1, CycleStatus.COMPLETED),
        cycle(3, None, CycleStatus.PLANNED),
    ]
    assert treatment_start(cycles) == C1D1


def test_a_planned_date_is_not_a_start_and_a_cancelled_cycle_started_nothing() -> None:
    assert treatment_start([cycle(1, None, CycleStatus.PLANNED)]) is None
    # cycle 1 cancelled with a date on it (a data slip): treatment started with cycle 2
    cancelled = cycle(1, date(2024, 3, 1), CycleStatus.CANCELLED)
    assert treatment_start([cancelled, cycle(2, C1D1, CycleStatus.STARTED)]) == C1D1
    assert treatment_start([]) is None


# -- the CTCAE lab baseline ----------------------------------------------------------------------


def test_the_lab_baseline_is_the_last_result_before_day_1() -> None:
    # Screening creatinine 60 (27 Feb) and 90 (1 Mar); a day-1 draw of 250 (4 Mar, may follow
    # the first dose) is not the baseline; a later 300 is not either.
    labs = [
        lab("creatinine", "250", "umol/L", C1D1),
        lab("creatinine", "60", "umol/L", date(2024, 2, 27)),
        lab("creatinine", "90", "umol/L", date(2024, 3, 1)),
        lab("creatinine", "300", "umol/L", date(2024, 3, 18)),
        lab("anc", "0.9", "10^9/L", date(2024, 3, 2)),
    ]
    found = lab_baseline(labs, "creatinine", C1D1)
    assert found is not None and found.value == D(90)
    assert lab_baseline(labs, "creatinine", None) is None  # not treated: no baseline
    assert lab_baseline(labs, "bilirubin", C1D1) is None


def test_two_draws_on_the_same_day_the_later_one_is_the_baseline() -> None:
    labs = [
        lab("creatinine", "95", "umol/L", date(2024, 3, 1), hour=14),
        lab("creatinine", "80", "umol/L", date(2024, 3, 1), hour=7),
    ]
    found = lab_baseline(labs, "creatinine", C1D1)
    assert found is not None and found.value == D(95)


def test_the_entry_count_includes_the_day_1_count() -> None:
    # BPD DLT exemption: "a patient who starts with low counts": the day-1 ANC 0.8 the cycle
    # was started on, not the screening 1.6.
    labs = [lab("anc", "1.6", "10^9/L", date(2024, 2, 28)), lab("anc", "0.8", "10^9/L", C1D1)]
    found = entry_count(labs, "anc", C1D1)
    assert found is not None and found.value == D("0.8")
    base = lab_baseline(labs, "anc", C1D1)
    assert base is not None and base.value == D("1.6")


def test_the_baseline_is_converted_to_the_results_unit() -> None:
    # creatinine 1.0 mg/dL = 88.4 umol/L (x 88.4)
    base = lab("creatinine", "1.0", "mg/dL", date(2024, 3, 1))
    later = lab("creatinine", "300", "umol/L", date(2024, 3, 18))
    assert baseline_in_unit(base, later) == D("88.4")
    assert baseline_in_unit(None, later) is None
    with pytest.raises(DomainError):
        baseline_in_unit(base, lab("creatinine", "300", "10^9/L", date(2024, 3, 18)))


# -- the IMWG response baseline ------------------------------------------------------------------


def study(on: date, m: str, id: int, end_of_cycle: int | None = None) -> ResponseAssessment:
    return ResponseAssessment(on, serum_m_protein_g_dl=D(m), end_of_cycle=end_of_cycle, id=id)


def test_the_response_baseline_is_the_last_study_on_or_before_day_1_closing_no_cycle() -> None:
    rows = [
        study(date(2023, 3, 1), "1.0", 2, end_of_cycle=2),  # closes a cycle of an earlier course
        study(date(2023, 1, 1), "3.0", 1),
        study(C1D1, "2.8", 3),  # on day 1 itself: still pre-treatment
        study(date(2024, 4, 1), "1.2", 4, end_of_cycle=1),
    ]
    found = response_baseline(rows, C1D1)
    assert found is not None and found.id == 3
    assert response_baseline(rows, None) is None
    assert response_baseline(rows[:1], C1D1) is None  # only a cycle-closing study: no baseline


def test_a_study_closing_an_earlier_course_ends_the_pre_treatment_window() -> None:
    # Screening 3.0 (Jan 2023), that course's end of cycle 2 (Mar 2023), re-treated from
    # 4 Mar 2024 with no new screening: the 2023 screening preceded the first course, not this
    # one, so there is no baseline (said, not guessed). A fresh screening restores one.
    rows = [study(date(2023, 1, 1), "3.0", 1), study(date(2023, 3, 1), "1.0", 2, end_of_cycle=2)]
    assert response_baseline(rows, C1D1) is None
    found = response_baseline([*rows, study(date(2024, 2, 28), "2.0", 3)], C1D1)
    assert found is not None and found.id == 3


def test_only_studies_after_day_1_are_classified() -> None:
    rows = [
        study(date(2024, 5, 1), "1.0", 5, end_of_cycle=2),
        study(date(2023, 3, 1), "1.0", 2, end_of_cycle=2),
        study(date(2023, 1, 1), "3.0", 1),
        study(date(2024, 4, 1), "1.2", 4, end_of_cycle=1),
    ]
    assert [a.id for a in on_treatment(rows, C1D1)] == [4, 5]


# -- severity ------------------------------------------------------------------------------------


def test_severe_is_grade_3_or_worse() -> None:
    # CTCAE v5.0: grade 3 "severe or medically significant"; 4 life-threatening; 5 death.
    assert SEVERE_GRADE == 3
    assert [is_severe(g) for g in (0, 1, 2, 3, 4, 5, None)] == [
        False,
        False,
        False,
        True,
        True,
        True,
        False,
    ]


def test_a_lab_is_severe_when_its_value_supports_grade_3_for_certain() -> None:
    # ANC 0.7 (< 1.0, >= 0.5): grade 3 whatever the LLN. Creatinine with ULN 100 and no
    # baseline: 310 > 3.0 x ULN is grade 3 for certain, severe; 300 is not > 3.0 x ULN, so only
    # grade 2 is certain (3 if > 3.0 x a baseline): not severe until the baseline is known.
    # 130: grade 1 for certain.
    assert grade_lab("anc", D("0.7"), "10^9/L").severe
    assert grade_lab("creatinine", D(310), "umol/L", uln=D(100)).severe
    assert not grade_lab("creatinine", D(300), "umol/L", uln=D(100)).severe
    open_grade = grade_lab("creatinine", D(130), "umol/L", uln=D(100))
    assert open_grade.grade is None and not open_grade.severe
    # against a baseline of 40: 130 > 3.0 x 40 = 120 -> grade 3
    assert grade_lab("creatinine", D(130), "umol/L", uln=D(100), baseline=D(40)).severe
