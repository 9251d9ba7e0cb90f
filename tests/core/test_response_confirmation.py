"""IMWG confirmation ("met twice") and progression (core.response), worked by hand.

Baseline serum M-protein 4.0 g/dL on 2 January 2024 (urine not measured), then monthly:
1.8 (55 % below: PR), 1.6 (60 %: PR), 0.3 (92.5 %: VGPR), 0.9 (PD: 0.6 g/dL and 200 % above
the nadir 0.3, both over IMWG's 0.5 g/dL and 25 %), 1.0 (PD again).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from clinic_app.core.records import ResponseAssessment
from clinic_app.core.response import (
    AssessedResponse,
    ResponseCategory,
    best_confirmed,
    classify_series,
    confirmed_at,
    met_twice,
    progression,
)

PR, VGPR, PD = ResponseCategory.PR, ResponseCategory.VGPR, ResponseCategory.PD
BASELINE = ResponseAssessment(date(2024, 1, 2), serum_m_protein_g_dl=Decimal("4.0"))
DAYS = [date(2024, m, 1) for m in range(2, 7)]  # 1 Feb .. 1 Jun


def series(*values: str | None) -> list[AssessedResponse]:
    later = [
        ResponseAssessment(
            on, serum_m_protein_g_dl=None if v is None else Decimal(v), end_of_cycle=i + 1
        )
        for i, (on, v) in enumerate(zip(DAYS, values, strict=False))
    ]
    return classify_series(BASELINE, later)


def test_the_categories_of_the_worked_example() -> None:
    results = series("1.8", "1.6", "0.3", "0.9", "1.0")
    assert [r.category for r in results] == [PR, PR, VGPR, PD, PD]


def test_a_pair_meets_the_worse_of_its_two_categories_and_one_pd_meets_nothing() -> None:
    results = series("1.8", "1.6", "0.3", "0.9", "1.0")
    # (PR, PR) PR on 1 Feb; (PR, VGPR) PR on 1 Mar; (VGPR, PD) nothing; (PD, PD) PD on 1 May
    assert met_twice(results) == [(PR, DAYS[0]), (PR, DAYS[1]), (PD, DAYS[3])]
    assert best_confirmed(results) is PR  # VGPR was seen once only


def test_confirmed_by_the_assessment_before_or_after() -> None:
    results = series("1.8", "1.6", "0.3", "0.9", "1.0")
    assert [confirmed_at(results, i) for i in range(5)] == [True, True, False, True, True]
    # classify_series marks the second of a pair: the same pairs, seen from their end
    assert [r.confirmed for r in results] == [False, True, False, False, True]


def test_a_not_evaluable_assessment_confirms_nothing() -> None:
    # 1.8 (PR), nothing measured (not evaluable), 1.6 (PR): no two consecutive evaluable PRs
    results = series("1.8", None, "1.6")
    assert results[1].category is ResponseCategory.NE
    assert met_twice(results) == []
    assert best_confirmed(results) is None


def test_progression_is_the_first_of_two_consecutive_pds() -> None:
    found = progression(series("1.8", "1.6", "0.3", "0.9", "1.0"))
    assert (found.on, found.note) == (DAYS[3], None)


def test_one_pd_is_not_progression_unless_the_patient_went_off_study_for_it() -> None:
    once = series("1.8", "1.6", "0.3", "0.9")
    waiting = progression(once)
    assert waiting.on is None
    assert waiting.note == "PD on 2024-05-01 is not confirmed yet: PFS is censored, not an event"
    off = progression(once, off_for_progression=True, off_study_on=date(2024, 5, 20))
    assert off.on == DAYS[3]  # the PD assessment, not the off-study day
    # no PD assessed at all: the off-study day dates the progression, and says so
    none = progression(series("1.8"), off_for_progression=True, off_study_on=date(2024, 5, 20))
    assert none.on == date(2024, 5, 20)
    assert none.note == "progression date taken from the off-study record (no PD assessment)"
    assert progression(series("1.8", "1.6")) == progression([])
