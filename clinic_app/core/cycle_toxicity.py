"""One cycle's toxicity in figures: the worst CTCAE grade per term, the count nadirs with the
time spent at grade >= 3, and the dose intensity of each drug (issue 20).

Pure arithmetic over facts other modules already settled: the grades come from
:mod:`clinic_app.core.ctcae` (labs) and from the recorded adverse events; the doses from the
cycle plan matched with the recorded dose events. The toxicity summary prints these figures
and nothing else computes them.

>>> from datetime import date
>>> lines = [DoseLine(1, date(2026, 1, 5), "Pomalidomide", Decimal(3), GIVEN, Decimal(3)),
...          DoseLine(2, date(2026, 1, 6), "Pomalidomide", Decimal(3), HELD, None, "ANC 0.4")]
>>> pom = dose_intensity(lines)[0]
>>> pom.given_mg, pom.planned_mg, pom.percent
(Decimal('3'), Decimal('6'), Decimal('50.0'))
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from clinic_app.core.ctcae import is_severe
from clinic_app.core.records import AdverseEvent

# Dose outcomes as the summary names them: a recorded DoseStatus value, or "no record".
GIVEN = "given"
HELD = "held"
MISSED = "missed"
PLANNED = "planned"
NO_RECORD = "no record"


# -- worst grade per term ------------------------------------------------------------------------
@dataclass(frozen=True)
class GradeObservation:
    """One grade of one CTCAE term on one day, from an adverse event or a lab result."""

    term: str
    grade: int
    on: date
    source: str
    """``adverse event`` or ``lab``."""
    detail: str = ""
    """What was seen: ``ANC 0.4 ×10⁹/L`` for a lab; empty for an adverse event."""
    at_least: bool = False
    """The value supports this grade for certain, and clinical facts could raise it."""


@dataclass(frozen=True)
class WorstGrade:
    """The worst grade a term reached in the cycle, where and when it was first seen."""

    term: str
    grade: int
    on: date
    source: str
    detail: str
    at_least: bool
    sources: tuple[str, ...]
    """Every kind of record that graded the term (``adverse event``, ``lab``)."""

    @property
    def severe(self) -> bool:
        return is_severe(self.grade)  # the summary marks grade >= 3 (CTCAE v5.0 "severe")


def ae_observations(ae: AdverseEvent, start: date, end: date) -> list[GradeObservation]:
    """The grades an adverse event had inside ``start``..``end``: its grade from onset (or
    from ``start`` when it began earlier and was still open) and each dated re-grading."""
    seen: list[GradeObservation] = []
    if ae.onset <= end and (ae.resolved is None or ae.resolved >= start):
        seen.append(GradeObservation(ae.term, ae.grade, max(ae.onset, start), "adverse event"))
    for on, grade in ae.grade_history:
        if start <= on <= end:
            seen.append(GradeObservation(ae.term, grade, on, "adverse event"))
    return seen


def worst_grades(observations: Iterable[GradeObservation]) -> tuple[WorstGrade, ...]:
    """Per term (case-insensitive, so an AE and a lab grading the same term meet), the highest
    grade; a tie goes to a settled grade over an "at least" one, then to the earliest day.
    Grade 0 is not a toxicity and is left out. Worst first, then by term.
    """
    by_term: dict[str, list[GradeObservation]] = {}
    for seen in observations:
        if seen.grade >= 1:
            by_term.setdefault(seen.term.strip().casefold(), []).append(seen)
    worst: list[WorstGrade] = []
    for group in by_term.values():
        top = min(group, key=lambda o: (-o.grade, o.at_least, o.on))
        kinds = tuple(sorted({o.source for o in group}))
        worst.append(
            WorstGrade(top.term, top.grade, top.on, top.source, top.detail, top.at_least, kinds)
        )
    return tuple(sorted(worst, key=lambda w: (-w.grade, w.term.casefold())))


# -- nadirs and time at grade >= 3 --------------------------------------------------------------
@dataclass(frozen=True)
class GradedCount:
    """One count result (ANC, platelets, haemoglobin) with the grade its value supports."""

    on: date
    value: Decimal
    unit: str
    value_si: Decimal
    grade: int | None
    """None when the value alone cannot settle the grade."""
    lowest_grade: int
    """The grade the value supports for certain (ctcae.LabGrade.lowest_grade)."""


@dataclass(frozen=True)
class SevereSpell:
    """Consecutive results at grade >= 3."""

    first: date
    last: date
    results: int
    ongoing: bool
    """The last result of the cycle is in the spell: it had not recovered when last measured."""

    @property
    def days(self) -> int:
        # Clinical rules §5: a duration counts from the first to the last consecutive
        # measurement at that grade.
        return (self.last - self.first).days


@dataclass(frozen=True)
class CountNadir:
    lowest: GradedCount
    results: int
    spells: tuple[SevereSpell, ...]

    @property
    def severe_days(self) -> int:
        return sum(spell.days for spell in self.spells)


def count_nadir(results: Sequence[GradedCount]) -> CountNadir | None:
    """The lowest result (by SI value; the earliest of equal ones) and the spells at grade >= 3.

    A result counts as grade >= 3 when its value supports grade 3 for certain
    (``lowest_grade``); results are taken in date order.
    """
    if not results:
        return None
    ordered = sorted(results, key=lambda r: r.on)
    lowest = min(ordered, key=lambda r: r.value_si)
    spells: list[SevereSpell] = []
    run: list[GradedCount] = []
    for result in [*ordered, None]:
        if result is not None and is_severe(result.lowest_grade):
            run.append(result)
            continue
        if run:
            spells.append(SevereSpell(run[0].on, run[-1].on, len(run), result is None))
            run = []
    return CountNadir(lowest, len(ordered), tuple(spells))


# -- dose intensity -------------------------------------------------------------------------------
@dataclass(frozen=True)
class DoseLine:
    """One planned or recorded dose: planned versus what happened."""

    day: int
    on: date
    drug_name: str
    planned_mg: Decimal | None
    """None when a dose was recorded that the plan does not hold."""
    status: str
    """``given``, ``held``, ``missed``, ``planned`` or ``no record``."""
    recorded_mg: Decimal | None = None
    reason: str = ""

    @property
    def not_recorded(self) -> bool:
        """No outcome recorded yet (no record, or still only planned)."""
        return self.status in (NO_RECORD, PLANNED)

    @property
    def modified(self) -> bool:
        """Given at a dose other than the plan's, or given though the plan holds none."""
        return self.status == GIVEN and (
            self.planned_mg is None
            or (self.recorded_mg is not None and self.recorded_mg != self.planned_mg)
        )

    @property
    def exception(self) -> bool:
        """Anything but a planned dose given as planned."""
        return self.status in (HELD, MISSED) or self.not_recorded or self.modified


@dataclass(frozen=True)
class DoseIntensity:
    """One drug over the cycle. ``planned`` counts the plan's doses; the others count what was
    recorded, so given + held + missed + not_recorded = planned + unplanned."""

    drug_name: str
    planned: int
    planned_mg: Decimal
    given: int
    given_mg: Decimal
    """Recorded given doses in mg (a dose given without its amount counts as planned)."""
    held: int
    missed: int
    not_recorded: int
    not_recorded_mg: Decimal
    unplanned: int
    """Doses recorded that the plan does not hold."""
    exceptions: tuple[DoseLine, ...]
    """Held, missed, not recorded and modified doses, in day order."""

    @property
    def percent(self) -> Decimal | None:
        """Given ÷ planned mg as a percentage to one decimal (half up); None with no plan."""
        if self.planned_mg == 0:
            return None
        ratio = self.given_mg / self.planned_mg * 100
        return ratio.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def _given_mg(line: DoseLine) -> Decimal:
    if line.recorded_mg is not None:
        return line.recorded_mg
    return line.planned_mg or Decimal(0)


def dose_intensity(doses: Sequence[DoseLine]) -> tuple[DoseIntensity, ...]:
    """Per drug, in the order the drugs first appear."""
    by_drug: dict[str, list[DoseLine]] = {}
    for line in doses:
        by_drug.setdefault(line.drug_name, []).append(line)
    out: list[DoseIntensity] = []
    for name, lines in by_drug.items():
        planned = [d for d in lines if d.planned_mg is not None]
        given = [d for d in lines if d.status == GIVEN]
        waiting = [d for d in lines if d.not_recorded]
        out.append(
            DoseIntensity(
                drug_name=name,
                planned=len(planned),
                planned_mg=sum((d.planned_mg or Decimal(0) for d in planned), Decimal(0)),
                given=len(given),
                given_mg=sum((_given_mg(d) for d in given), Decimal(0)),
                held=sum(1 for d in lines if d.status == HELD),
                missed=sum(1 for d in lines if d.status == MISSED),
                not_recorded=len(waiting),
                not_recorded_mg=sum((d.planned_mg or Decimal(0) for d in waiting), Decimal(0)),
                unplanned=len(lines) - len(planned),
                exceptions=tuple(sorted((d for d in lines if d.exception), key=lambda d: d.day)),
            )
        )
    return tuple(out)
