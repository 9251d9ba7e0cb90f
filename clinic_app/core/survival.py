"""Kaplan-Meier estimate with Greenwood variance and log-log confidence bands (rules §7).

At each distinct time ``t`` with ``n`` patients still at risk (time >= t) and ``d`` events,
the survival drops by the factor ``(n - d) / n``. Patients censored at ``t`` are still at risk
at ``t``: an event and a censoring on the same day count the censored patient in ``n``.

- Greenwood: ``Var S(t) = S(t)^2 * sum d / (n (n - d))`` over event times up to ``t``.
- 95 % band on the log-log scale (Kalbfleisch and Prentice), as lifelines computes it:
  ``exp(-exp(log(-log S) -/+ z * sqrt(sum d / (n (n - d))) / log S))``.
- Median: the first time with ``S(t) <= 0.5``; its 95 % CI runs from the first time the
  lower band reaches 0.5 to the first time the upper band does (``None``: not reached).

Six patients, events at days 3, 5, 5 and 9, censored at 4 and 9 (same day as an event):

>>> km = kaplan_meier([EventTime(3, True), EventTime(4, False), EventTime(5, True),
...                    EventTime(5, True), EventTime(9, True), EventTime(9, False)])
>>> [(s.time_days, s.at_risk, s.events, s.censored, str(s.survival_exact)) for s in km.steps]
[(3, 6, 1, 0, '5/6'), (4, 5, 0, 1, '5/6'), (5, 4, 2, 0, '5/12'), (9, 2, 1, 1, '5/24')]
>>> km.median_days, km.median_text()
(5, '5 days')
>>> km.at_risk_at([0, 4, 6, 10])
(6, 5, 2, 0)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from statistics import NormalDist

from clinic_app.core.errors import DomainError

_HALF = Fraction(1, 2)


@dataclass(frozen=True)
class EventTime:
    """Days from the origin to the event (``event=True``) or to censoring (``False``)."""

    time_days: int
    event: bool

    def __post_init__(self) -> None:
        if isinstance(self.time_days, bool) or not isinstance(self.time_days, int):
            raise DomainError("time must be a whole number of days", field="time_days")
        if self.time_days < 0:
            raise DomainError(
                f"time cannot be negative, got {self.time_days} days", field="time_days"
            )


@dataclass(frozen=True)
class KMStep:
    """The estimate at one distinct observed time (event or censoring)."""

    time_days: int
    at_risk: int
    events: int
    censored: int
    survival_exact: Fraction
    greenwood_sum: float
    """Running sum of d / (n (n - d)) over event times so far."""
    lower: float
    upper: float

    @property
    def survival(self) -> float:
        return float(self.survival_exact)

    @property
    def variance(self) -> float:
        """Greenwood variance of S(t)."""
        return self.survival**2 * self.greenwood_sum


@dataclass(frozen=True)
class KaplanMeier:
    n: int
    steps: tuple[KMStep, ...]
    confidence: float
    median_days: int | None
    """``None`` when the estimate never falls to 0.5 (median not reached)."""
    median_ci_days: tuple[int | None, int | None]
    censor_marks: tuple[tuple[int, float], ...]
    """(time, survival) for each censored patient, for the tick marks on a plot."""

    @property
    def events(self) -> int:
        return sum(step.events for step in self.steps)

    def survival_at(self, time_days: int) -> float:
        """S(t), a right-continuous step function that is 1 before the first event."""
        return self._step_value(time_days, lambda s: s.survival, 1.0)

    def band_at(self, time_days: int) -> tuple[float, float]:
        return (
            self._step_value(time_days, lambda s: s.lower, 1.0),
            self._step_value(time_days, lambda s: s.upper, 1.0),
        )

    def _step_value(self, time_days: int, pick: Callable[[KMStep], float], before: float) -> float:
        value = before
        for step in self.steps:
            if step.time_days > time_days:
                break
            value = pick(step)
        return value

    def at_risk_at(self, times_days: Iterable[int]) -> tuple[int, ...]:
        """Numbers at risk (still followed, time >= t) at each of ``times_days``."""
        return tuple(self._at_risk(t) for t in times_days)

    def _at_risk(self, time_days: int) -> int:
        for step in self.steps:
            if step.time_days >= time_days:
                return step.at_risk
        return 0

    def median_text(self) -> str:
        return "not reached" if self.median_days is None else f"{self.median_days} days"

    def median_ci_text(self) -> str:
        """The median's confidence interval in words: ``3 to 9 days``, ``3 days to not
        reached`` (the upper band never fell to 0.5), ``not estimable`` (neither band did),
        ``121 days at both limits`` (both bands fell past 0.5 at one time)."""
        lower, upper = self.median_ci_days
        if lower is None and upper is None:
            return "not estimable"
        if upper is None:
            return f"{lower} days to not reached"
        if lower is None:  # the lower band lies below the estimate: not expected
            return f"not reached to {upper} days"
        if lower == upper:  # every patient still at risk had the event that day
            return f"{lower} days at both limits"
        return f"{lower} to {upper} days"

    def median_summary(self, method: str = "") -> str:
        """The median and its CI as printed after "median": ``5 days (95 % CI 3 days to not
        reached, log-log)``, or ``not reached; 95 % CI not estimable`` (no band reached 0.5)."""
        level = f"{round(self.confidence * 100)} % CI"
        ci = self.median_ci_text()
        if self.median_ci_days == (None, None):
            return f"{self.median_text()}; {level} {ci}"
        how = f", {method}" if method else ""
        return f"{self.median_text()} ({level} {ci}{how})"


def kaplan_meier(times: Sequence[EventTime], confidence: float = 0.95) -> KaplanMeier:
    """The Kaplan-Meier estimate of ``times``; see the module text for the formulas."""
    if not times:
        raise DomainError("Kaplan-Meier needs at least one patient", field="times")
    if not 0.0 < confidence < 1.0:
        raise DomainError(
            f"confidence must be between 0 and 1, got {confidence}", field="confidence"
        )
    z = NormalDist().inv_cdf(1.0 - (1.0 - confidence) / 2.0)
    by_time: dict[int, list[int]] = {}
    for item in times:
        counts = by_time.setdefault(item.time_days, [0, 0])
        counts[0 if item.event else 1] += 1

    steps: list[KMStep] = []
    at_risk = len(times)
    survival = Fraction(1)
    greenwood = 0.0
    for time_days in sorted(by_time):
        events, censored = by_time[time_days]
        if events:
            survival *= Fraction(at_risk - events, at_risk)
            if at_risk > events:
                greenwood += events / (at_risk * (at_risk - events))
        lower, upper = _log_log_band(survival, greenwood, z)
        steps.append(
            KMStep(time_days, at_risk, events, censored, survival, greenwood, lower, upper)
        )
        at_risk -= events + censored

    marks = tuple((step.time_days, step.survival) for step in steps for _ in range(step.censored))
    median = _first_time_at_or_below_half(steps, lambda s: s.survival_exact <= _HALF)
    # The median CI is where each band crosses 0.5 (lifelines: median_survival_times on the
    # confidence interval).
    median_low = _first_time_at_or_below_half(steps, lambda s: s.lower <= 0.5)
    median_high = _first_time_at_or_below_half(steps, lambda s: s.upper <= 0.5)
    return KaplanMeier(
        n=len(times),
        steps=tuple(steps),
        confidence=confidence,
        median_days=median,
        median_ci_days=(median_low, median_high),
        censor_marks=marks,
    )


def _log_log_band(survival: Fraction, greenwood: float, z: float) -> tuple[float, float]:
    if survival == 1:
        return 1.0, 1.0
    if survival == 0:
        return 0.0, 0.0
    log_s = math.log(float(survival))
    half_width = z * math.sqrt(greenwood) / log_s  # negative: log S < 0
    centre = math.log(-log_s)
    lower = math.exp(-math.exp(centre - half_width))
    upper = math.exp(-math.exp(centre + half_width))
    return lower, upper


def _first_time_at_or_below_half(
    steps: Sequence[KMStep], reached: Callable[[KMStep], bool]
) -> int | None:
    for step in steps:
        if reached(step):
            return step.time_days
    return None
