"""Plateau of disease for DexTR (rules §4).

The serum M-spike at each of ``required`` (3) consecutive end-of-cycle assessments stays within
±``tolerance_pct`` (25 %, EBMT) of the first of them, with no progression; three assessments
mean the plateau lasts more than 2 cycles. Exactly 25 % away is within.

The run is looked for at the end of the series (the plateau the patient is in now). It is
broken by a PD at any assessment, by an end-of-cycle assessment without a serum M-spike, and by
a cycle with no end-of-cycle assessment at all. Inside the unbroken stretch the earliest first
value that keeps every later value within the tolerance is chosen, so ``from_cycle`` is as
early as the data allow.

>>> from datetime import date
>>> from decimal import Decimal
>>> from clinic_app.core.records import ResponseAssessment
>>> from clinic_app.core.response import classify_series
>>> base = ResponseAssessment(date(2024, 1, 2), serum_m_protein_g_dl=Decimal(3))
>>> ends = [
...     ResponseAssessment(date(2024, 1, 29), serum_m_protein_g_dl=Decimal("1.2"), end_of_cycle=1),
...     ResponseAssessment(date(2024, 2, 26), serum_m_protein_g_dl=Decimal("1.4"), end_of_cycle=2),
...     ResponseAssessment(date(2024, 3, 25), serum_m_protein_g_dl=Decimal("1.0"), end_of_cycle=3),
... ]
>>> result = detect_plateau(classify_series(base, ends))
>>> result.reached, result.from_cycle, result.cycles_lasted
(True, 1, 3)
>>> print(result.reasons[0])
serum M-spike 1.2, 1.4, 1 g/dL at the end of cycles 1-3, all within ±25 % of 1.2 g/dL (0.9-1.5 g/dL)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from itertools import pairwise

from clinic_app.core.errors import DomainError
from clinic_app.core.ismp import format_number, format_quantity, shown_up
from clinic_app.core.response import AssessedResponse, ResponseCategory, settings_from_mapping

_HUNDRED = Decimal(100)


@dataclass(frozen=True)
class PlateauCriteria:
    """The plateau settings of a protocol (TOML keys ``tolerance_pct`` and ``required``)."""

    # EBMT plateau definition, as adopted for DexTR (rules §4): within ±25 %.
    tolerance_pct: Decimal = Decimal(25)
    # DexTR: plateau "for > 2 cycles" = 3 consecutive end-of-cycle assessments.
    required: int = 3

    def __post_init__(self) -> None:
        if not 0 <= self.tolerance_pct < _HUNDRED:
            raise DomainError(
                "tolerance_pct must be 0 or more and below 100", field="tolerance_pct"
            )
        if self.required < 2:
            raise DomainError("required must be at least 2 assessments", field="required")

    @classmethod
    def from_mapping(cls, table: Mapping[str, object], source: str) -> PlateauCriteria:
        """Settings from a protocol TOML table; absent keys keep the rules-page default.

        >>> PlateauCriteria.from_mapping({"tolerance_pct": 20}, "dextr.toml").tolerance_pct
        Decimal('20')
        """
        return settings_from_mapping(cls(), table, source)

    def detect(self, series: Sequence[AssessedResponse]) -> PlateauResult:
        return detect_plateau(series, self.tolerance_pct, self.required)


@dataclass(frozen=True)
class PlateauResult:
    reached: bool
    from_cycle: int | None
    """The first cycle of the current run (None when there is no run)."""
    cycles_lasted: int
    """How many consecutive end-of-cycle assessments the current run spans."""
    evaluated_through_cycle: int | None
    """The last end-of-cycle assessment looked at."""
    reasons: tuple[str, ...]
    first_m_spike_g_dl: Decimal | None = None
    """The M-spike the run is measured against."""


def _g(value: Decimal) -> str:
    return format_quantity(value, "g/dL")


def _within(first: Decimal, value: Decimal, tolerance_pct: Decimal) -> bool:
    # |value - first| <= tolerance % of first, kept in whole-number arithmetic (first may be 0).
    return abs(value - first) * _HUNDRED <= tolerance_pct * first


def _cycles(start: int, end: int) -> str:
    return f"cycle {start}" if start == end else f"cycles {start}-{end}"


def detect_plateau(
    end_of_cycle_assessments: Sequence[AssessedResponse],
    tolerance_pct: Decimal | int = 25,
    required: int = 3,
) -> PlateauResult:
    """Whether the series ends in a plateau, from which cycle, how long, and why (rules §4).

    Takes :func:`classify_series` results (oldest first) so progression is known; only the
    end-of-cycle assessments carry the plateau, but a PD at any assessment breaks it. Raises
    ``DomainError(field="end_of_cycle")`` when end-of-cycle numbers do not increase.
    """
    criteria = PlateauCriteria(Decimal(tolerance_pct), required)
    tolerance = criteria.tolerance_pct
    ends = [r for r in end_of_cycle_assessments if r.assessment.end_of_cycle is not None]
    for earlier, later in pairwise(ends):
        if (later.assessment.end_of_cycle or 0) <= (earlier.assessment.end_of_cycle or 0):
            raise DomainError(
                f"end-of-cycle assessments out of order: cycle {later.assessment.end_of_cycle} "
                f"after cycle {earlier.assessment.end_of_cycle}",
                field="end_of_cycle",
            )
    if not ends:
        return PlateauResult(False, None, 0, None, ("no end-of-cycle response assessments",))
    last_cycle = ends[-1].assessment.end_of_cycle
    assert last_cycle is not None

    # The unbroken stretch at the end of the series: (cycle, M-spike) pairs, newest last.
    stretch: list[tuple[int, Decimal]] = []
    broken_by: str | None = None
    for result in reversed(end_of_cycle_assessments):
        a = result.assessment
        cycle = a.end_of_cycle
        if result.category is ResponseCategory.PD:
            where = f"end of cycle {cycle}" if cycle is not None else f"{a.assessed_on}"
            broken_by = f"progression (PD) at the {where}: no plateau with progression"
            break
        if cycle is None:
            continue
        if stretch and cycle != stretch[0][0] - 1:
            broken_by = (
                f"no end-of-cycle assessment for {_cycles(cycle + 1, stretch[0][0] - 1)}: "
                "the run restarts after the gap"
            )
            break
        if a.serum_m_protein_g_dl is None:
            broken_by = f"serum M-spike not measured at the end of cycle {cycle}: run broken"
            break
        stretch.insert(0, (cycle, a.serum_m_protein_g_dl))

    reasons: list[str] = []
    if not stretch:
        assert broken_by is not None
        return PlateauResult(False, None, 0, last_cycle, (broken_by,))

    # The earliest first value that keeps every later value within the tolerance.
    start = next(
        i
        for i in range(len(stretch))
        if all(_within(stretch[i][1], v, tolerance) for _, v in stretch[i + 1 :])
    )
    run = stretch[start:]
    first_cycle, first = run[0]
    low = first * (_HUNDRED - tolerance) / _HUNDRED
    high = first * (_HUNDRED + tolerance) / _HUNDRED
    band = f"{format_number(low)}-{_g(high)}"
    values = ", ".join(format_number(v) for _, v in run)
    reached = len(run) >= criteria.required
    summary = (
        f"serum M-spike {values} g/dL at the end of {_cycles(first_cycle, last_cycle)}, "
        f"all within ±{format_number(tolerance)} % of {_g(first)} ({band})"
    )
    if reached:
        reasons.append(summary)
    else:
        reasons.append(
            f"{summary}: {len(run)} of the {criteria.required} consecutive end-of-cycle "
            "assessments a plateau needs"
        )
    if start > 0:
        # Why the run does not reach further back: the value it would have to start from.
        prev_cycle, prev = stretch[start - 1]
        outlier_cycle, outlier = next(
            (c, v) for c, v in stretch[start:] if not _within(prev, v, tolerance)
        )
        change = (outlier - prev) * _HUNDRED / prev if prev else None
        size = abs(change) if change else Decimal(0)
        figure = size.quantize(Decimal("0.1"), ROUND_HALF_UP)
        if figure <= tolerance:
            # Beyond the tolerance, so never shown as at it: 25.04 % reads 25.1 %, not 25 %.
            figure = shown_up(size)
        shown = f"{format_number(figure)} % " if change else ""
        direction = "above" if outlier > prev else "below"
        reasons.append(
            f"cycle {outlier_cycle} M-spike {_g(outlier)} is {shown}{direction} "
            f"{_g(prev)} at cycle {prev_cycle} (beyond ±{format_number(tolerance)} %)"
        )
    elif broken_by is not None:
        reasons.append(broken_by)
    return PlateauResult(reached, first_cycle, len(run), last_cycle, tuple(reasons), first)
