"""Kaplan-Meier: a hand-computed example, boundaries at 0.5, and agreement with lifelines."""

from __future__ import annotations

import math
import random
from fractions import Fraction

import pytest

from clinic_app.core.errors import DomainError
from clinic_app.core.survival import EventTime, KaplanMeier, kaplan_meier

Z = 1.959963984540054  # standard normal 97.5th percentile


def six_patients() -> KaplanMeier:
    # events at 3, 5, 5, 9; censored at 4 and at 9 (tied with the event at 9)
    return kaplan_meier(
        [
            EventTime(3, True),
            EventTime(4, False),
            EventTime(5, True),
            EventTime(5, True),
            EventTime(9, True),
            EventTime(9, False),
        ]
    )


def test_hand_computed_six_patient_example() -> None:
    km = six_patients()
    # t=3: n=6, d=1 -> S = 5/6; Greenwood sum 1/(6*5) = 1/30
    # t=4: censoring only, S stays 5/6, n=5
    # t=5: n=4, d=2 -> S = 5/6 * 2/4 = 5/12; sum += 2/(4*2) = 1/4 -> 17/60
    # t=9: n=2, d=1, one censored the same day (still at risk) -> S = 5/12 * 1/2 = 5/24;
    #      sum += 1/(2*1) = 1/2 -> 47/60
    assert [s.time_days for s in km.steps] == [3, 4, 5, 9]
    assert [s.at_risk for s in km.steps] == [6, 5, 4, 2]
    assert [s.survival_exact for s in km.steps] == [
        Fraction(5, 6),
        Fraction(5, 6),
        Fraction(5, 12),
        Fraction(5, 24),
    ]
    assert km.steps[-1].greenwood_sum == pytest.approx(47 / 60)
    # Greenwood variance at t=5: (5/12)^2 * 17/60 = 0.173611 * 0.283333 = 0.049190
    assert km.steps[2].variance == pytest.approx((5 / 12) ** 2 * 17 / 60)
    # log-log band at t=3: log S = ln(5/6) = -0.182322; ln(-log S) = -1.701983;
    # half width = 1.959964 * sqrt(1/30) / -0.182322 = -1.962650
    # lower = exp(-exp(-1.701983 + 1.962650)) = exp(-exp(0.260667)) = exp(-1.297795) = 0.273123
    # upper = exp(-exp(-1.701983 - 1.962650)) = exp(-exp(-3.664633)) = exp(-0.025614) = 0.974712
    assert km.steps[0].lower == pytest.approx(0.273123, abs=1e-6)
    assert km.steps[0].upper == pytest.approx(0.974712, abs=1e-6)
    # median: S(4) = 0.833 > 0.5, S(5) = 0.417 <= 0.5 -> 5 days
    assert km.median_days == 5
    # lower band is 0.273 <= 0.5 already at 3; upper band at 9 is 0.595 > 0.5 -> not reached
    assert km.median_ci_days == (3, None)
    assert km.median_ci_text() == "3 days to not reached"
    assert km.median_summary("log-log") == "5 days (95 % CI 3 days to not reached, log-log)"
    assert km.censor_marks == ((4, 5 / 6), (9, 5 / 24))
    assert km.events == 4
    assert km.n == 6


def test_step_function_reads() -> None:
    km = six_patients()
    assert km.survival_at(0) == 1.0
    assert km.survival_at(2) == 1.0  # just before the first event
    assert km.survival_at(3) == pytest.approx(5 / 6)  # at the event: right-continuous
    assert km.survival_at(100) == pytest.approx(5 / 24)
    assert km.band_at(0) == (1.0, 1.0)
    # at risk: time >= t. t=0 -> 6; t=4 -> 5; t=5 -> 4; t=6 -> 2 (both at 9); t=10 -> 0
    assert km.at_risk_at([0, 4, 5, 6, 9, 10]) == (6, 5, 4, 2, 2, 0)


def test_median_exactly_at_one_half_counts() -> None:
    # 4 events at 1..4: S = 3/4, 2/4, 1/4, 0 -> S(2) = 0.5 exactly -> median 2
    km = kaplan_meier([EventTime(t, True) for t in (1, 2, 3, 4)])
    assert km.median_days == 2
    assert km.steps[-1].survival == 0.0
    assert km.steps[-1].lower == 0.0 and km.steps[-1].upper == 0.0


def test_median_just_above_one_half_moves_on() -> None:
    # 5 events at 1..5: S = 4/5, 3/5 (0.6 > 0.5), 2/5 (0.4 <= 0.5) -> median 3
    km = kaplan_meier([EventTime(t, True) for t in (1, 2, 3, 4, 5)])
    assert km.median_days == 3
    # 3 events then 1 censored: S = 2/3... -> 4 patients: 3/4, 2/4 at day 2 -> median 2
    km2 = kaplan_meier(
        [EventTime(1, True), EventTime(2, True), EventTime(7, False), EventTime(8, False)]
    )
    assert km2.median_days == 2


def test_all_censored_and_median_not_reached() -> None:
    km = kaplan_meier([EventTime(t, False) for t in (5, 5, 10, 20)])
    assert km.median_days is None
    assert km.median_text() == "not reached"
    assert km.median_ci_days == (None, None)
    # Said plainly, never "not reached to not reached days".
    assert km.median_ci_text() == "not estimable"
    assert km.median_summary("log-log") == "not reached; 95 % CI not estimable"
    assert all(s.survival == 1.0 and s.lower == 1.0 for s in km.steps)
    assert km.censor_marks == ((5, 1.0), (5, 1.0), (10, 1.0), (20, 1.0))


def test_median_interval_of_one_day_is_said_once() -> None:
    # Three patients, all with the event on day 121: S falls from 1 to 0 that day, and both
    # bands with it (S = 0 -> band 0), so the median and both limits are day 121.
    km = kaplan_meier([EventTime(121, True)] * 3)
    assert km.median_days == 121
    assert km.median_ci_days == (121, 121)
    assert km.median_ci_text() == "121 days at both limits"
    assert km.median_summary("log-log") == "121 days (95 % CI 121 days at both limits, log-log)"


def test_inputs_are_checked() -> None:
    with pytest.raises(DomainError):
        kaplan_meier([])
    with pytest.raises(DomainError) as caught:
        EventTime(-1, True)
    assert caught.value.field == "time_days"
    with pytest.raises(DomainError):
        kaplan_meier([EventTime(1, True)], confidence=0.0)


def _lifelines_fit(times: list[EventTime]):  # type: ignore[no-untyped-def]
    lifelines = pytest.importorskip("lifelines")
    fitter = lifelines.KaplanMeierFitter()
    fitter.fit([t.time_days for t in times], [t.event for t in times])
    return fitter


def _none_if_inf(value: float) -> float | None:
    return None if math.isinf(value) else value


def _assert_matches_lifelines(times: list[EventTime]) -> None:
    from lifelines.utils import median_survival_times

    fitter = _lifelines_fit(times)
    km = kaplan_meier(times)
    sf = fitter.survival_function_.iloc[:, 0]
    band = fitter.confidence_interval_
    for t, value in sf.items():
        assert km.survival_at(int(t)) == pytest.approx(float(value), abs=1e-9)
        lower, upper = km.band_at(int(t))
        assert lower == pytest.approx(float(band.loc[t].iloc[0]), abs=1e-9)
        assert upper == pytest.approx(float(band.loc[t].iloc[1]), abs=1e-9)
    exactly_half = [s.time_days for s in km.steps if s.survival_exact == Fraction(1, 2)]
    if exactly_half:
        # lifelines multiplies in floating point (exp of a sum of logs), so an estimate of
        # exactly 1/2 can come out as 0.5000000001 and its median one step late; ours is exact.
        assert km.median_days == exactly_half[0]
    else:
        assert km.median_days == _none_if_inf(float(fitter.median_survival_time_))
    ci = median_survival_times(band)
    assert km.median_ci_days == (
        _none_if_inf(float(ci.iloc[0, 0])),
        _none_if_inf(float(ci.iloc[0, 1])),
    )
    for t in (0, 1, 30, 90, 365):
        expected = int(sum(1 for item in times if item.time_days >= t))
        assert km.at_risk_at([t]) == (expected,)


def test_matches_lifelines_with_ties_between_events_and_censorings() -> None:
    pytest.importorskip("lifelines")
    times = [
        EventTime(t, e)
        for t, e in [
            (30, True), (30, True), (30, False), (45, True), (60, False), (60, True),
            (90, True), (120, False), (120, False), (150, True), (200, False), (210, True),
        ]
    ]  # fmt: skip
    _assert_matches_lifelines(times)
    _assert_matches_lifelines(six_patients_list())


def six_patients_list() -> list[EventTime]:
    return [
        EventTime(3, True),
        EventTime(4, False),
        EventTime(5, True),
        EventTime(5, True),
        EventTime(9, True),
        EventTime(9, False),
    ]


def test_matches_lifelines_all_censored_and_not_reached() -> None:
    pytest.importorskip("lifelines")
    _assert_matches_lifelines([EventTime(t, False) for t in (5, 5, 10, 20)])
    # one early event in 10: S never below 0.9 -> median not reached
    _assert_matches_lifelines([EventTime(10, True)] + [EventTime(100, False)] * 9)


def test_matches_lifelines_on_random_data_sets() -> None:
    pytest.importorskip("lifelines")
    rng = random.Random(20240611)
    for _ in range(40):
        size = rng.randint(1, 40)
        times = [
            EventTime(rng.randint(0, 60) * 7, rng.random() < 0.7) for _ in range(size)
        ]  # whole weeks: many ties
        _assert_matches_lifelines(times)
