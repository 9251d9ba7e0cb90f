"""What the cycle timeline shows, as plain data (no Qt): built from core objects, unit-testable.

``build_timeline`` places every cycle on the calendar (rules §1: day ``d`` of a cycle falls on
``start + (d - 1)``; a delay moves the cycle's start, and the gap before it is shown with the
recorded delay in days), sorts the doses into one lane per drug, grades each lab result by
CTCAE v5.0 and keeps the worst grade per lab day, and classifies the response assessments by
IMWG. Contradictions and missing data are listed in ``TimelineData.problems``; nothing is
guessed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal

from clinic_app.core.baselines import (
    baseline_in_unit,
    lab_baseline,
    on_treatment,
    response_baseline,
    treatment_start,
)
from clinic_app.core.ctcae import GradingTable, LabGrade, grade_lab, is_severe
from clinic_app.core.cycles import CycleRow, CycleStatus
from clinic_app.core.errors import DomainError
from clinic_app.core.ismp import format_number
from clinic_app.core.records import (
    AdverseEvent,
    DoseEvent,
    DoseModification,
    DoseStatus,
    LabResult,
    ResponseAssessment,
)
from clinic_app.core.response import ImwgCriteria, LightChain, classify_series

# The "today" line stays on the axis when it is this close after the last recorded day, so an
# active patient's chart always shows where today falls; a long-finished one is not stretched.
TODAY_MARGIN_DAYS = 28

BASELINE_LABEL = "baseline"


@dataclass(frozen=True)
class CycleSpan:
    """One cycle on the calendar: ``start`` is day 1, ``end`` the last day (inclusive)."""

    id: int | None
    number: int
    phase: str
    """The protocol phase key."""
    start: date
    end: date
    status: CycleStatus
    planned_start: date
    delay_days: int = 0
    delay_reason: str | None = None
    gap_start: date | None = None
    """First day of the gap before this cycle (the day after the previous cycle's end), when
    the cycle started later than that."""
    maintenance: bool = False
    """The phase is the one the end-of-cycle decision moves to (the protocol's maintenance)."""
    phase_name: str = ""
    """The phase's name in the protocol file; the key when it is not known."""

    @property
    def is_maintenance(self) -> bool:
        return self.maintenance

    @property
    def length_days(self) -> int:
        return (self.end - self.start).days + 1

    def date_of(self, day: int) -> date:
        # Rules §1: day d of a cycle falls on start + (d - 1).
        return self.start + timedelta(days=day - 1)

    @property
    def label(self) -> str:
        return f"Cycle {self.number} · {self.phase_name or self.phase.capitalize()}"


@dataclass(frozen=True)
class DoseMark:
    id: int | None
    cycle_id: int
    cycle_number: int
    day: int
    on: date
    drug: str
    dose_mg: Decimal
    status: DoseStatus
    reason: str | None = None

    def describe(self) -> str:
        text = f"{self.status.value}: {format_number(self.dose_mg)} mg"
        return f"{text} ({self.reason})" if self.reason else text


@dataclass(frozen=True)
class DrugLane:
    drug: str
    label: str
    doses: tuple[DoseMark, ...]


@dataclass(frozen=True)
class GradedLab:
    """One lab result with its CTCAE reading (``grade`` None when it cannot be settled)."""

    result: LabResult
    term: str | None
    grade: int | None
    lowest_grade: int
    explanation: str
    missing: tuple[str, ...] = ()

    @property
    def graded(self) -> bool:
        return self.grade is not None

    @property
    def severe(self) -> bool:
        """Grade 3 or worse for certain (core.ctcae: the lowest grade the value supports)."""
        return self.term is not None and is_severe(self.lowest_grade)

    @property
    def grade_text(self) -> str:
        if self.term is None:
            return "not graded"
        if self.grade is None:
            return f"≥ {self.lowest_grade} (needs {', '.join(self.missing)})"
        return str(self.grade)


@dataclass(frozen=True)
class LabDay:
    """Every result collected on one day and the worst CTCAE grade among them.

    ``worst_grade`` counts a result that cannot be fully graded at its lowest certain grade;
    ``uncertain`` then says the true worst grade may be higher.
    """

    on: date
    results: tuple[GradedLab, ...]
    worst_grade: int
    uncertain: bool
    worst_id: int | None
    """The id of the result that sets the worst grade (what a click opens)."""

    @property
    def grade_label(self) -> str:
        return f"G{self.worst_grade}{'+' if self.uncertain else ''}"

    @property
    def severe(self) -> bool:
        return is_severe(self.worst_grade)


@dataclass(frozen=True)
class AeMark:
    id: int | None
    term: str
    grade: int
    onset: date
    resolved: date | None
    serious: bool

    @property
    def severe(self) -> bool:
        return is_severe(self.grade)


@dataclass(frozen=True)
class ResponseMark:
    id: int | None
    on: date
    category: str | None
    """An IMWG category ("PR"), ``"baseline"`` for the first assessment, None if unclassified."""
    confirmed: bool
    explanation: str

    @property
    def label(self) -> str:
        if self.category is None:
            return "?"
        if self.category == BASELINE_LABEL:
            return "Baseline"
        return f"{self.category} ✓" if self.confirmed else self.category


@dataclass(frozen=True)
class ModificationMark:
    id: int | None
    on: date | None
    """The calendar day it takes effect, when that cycle is on the chart."""
    drug: str
    old_dose: Decimal
    new_dose: Decimal
    unit: str
    reason: str
    effective_cycle: int
    effective_day: int
    decided_by: str
    decided_on: date

    @property
    def label(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        return f"{format_number(self.new_dose)}{unit}"


@dataclass(frozen=True)
class TimelineData:
    cycles: tuple[CycleSpan, ...]
    lanes: tuple[DrugLane, ...]
    lab_days: tuple[LabDay, ...]
    adverse_events: tuple[AeMark, ...]
    responses: tuple[ResponseMark, ...]
    modifications: tuple[ModificationMark, ...]
    today: date
    first_day: date
    last_day: date
    problems: tuple[str, ...] = ()

    @property
    def total_days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    def offset(self, day: date) -> int:
        """Days from the first day on the axis (0 for ``first_day``)."""
        return (day - self.first_day).days

    @property
    def today_on_axis(self) -> bool:
        return self.first_day <= self.today <= self.last_day

    def cycle(self, cycle_id: int) -> CycleSpan | None:
        return next((c for c in self.cycles if c.id == cycle_id), None)


def empty_timeline(today: date) -> TimelineData:
    return TimelineData((), (), (), (), (), (), today, today, today)


def build_timeline(
    *,
    cycles: Sequence[CycleRow],
    doses: Sequence[DoseEvent] = (),
    labs: Sequence[LabResult] = (),
    adverse_events: Sequence[AdverseEvent] = (),
    responses: Sequence[ResponseAssessment] = (),
    modifications: Sequence[DoseModification] = (),
    cycle_length_days: int | Callable[[str], int],
    today: date,
    drug_order: Sequence[str] = (),
    drug_names: Mapping[str, str] | None = None,
    drug_units: Mapping[str, str] | None = None,
    grading: GradingTable | None = None,
    imwg: ImwgCriteria | None = None,
    light_chain: LightChain | None = None,
    maintenance_phase: str | None = None,
    phase_names: Mapping[str, str] | None = None,
) -> TimelineData:
    """The timeline of one enrolment.

    ``light_chain`` (the clone's involved free light chain) reads the FLC ratio for sCR.

    ``drug_order`` fixes the lane order (protocol order); drugs not in it follow by name.
    ``drug_units`` gives each drug's prescribing unit for dose modifications (mg or mg/m²).
    ``maintenance_phase`` is the protocol's maintenance phase key (drawn as maintenance) and
    ``phase_names`` its phase names by key.

    ``cycle_length_days`` is the days in a cycle of a phase: ``Protocol.cycle_length`` (a phase
    may set its own length, e.g. VRd's 21-day induction and 28-day maintenance), or one number
    for every cycle.
    """
    if isinstance(cycle_length_days, int):
        if cycle_length_days < 1:
            raise DomainError("a cycle lasts at least one day", field="cycle_length_days")
        every_cycle = cycle_length_days
        length_of: Callable[[str], int] = lambda _phase: every_cycle  # noqa: E731
    else:
        length_of = cycle_length_days
    problems: list[str] = []
    spans = tuple(
        replace(
            s,
            maintenance=s.phase == maintenance_phase,
            phase_name=(phase_names or {}).get(s.phase, ""),
        )
        for s in _place_cycles(cycles, length_of, problems)
    )
    by_id = {s.id: s for s in spans if s.id is not None}
    lanes = _lanes(doses, by_id, drug_order, drug_names or {}, problems)
    # Cycle 1 day 1 as it happened (core.baselines): the labs and the responses are compared
    # with what was measured before it.
    first_start = treatment_start(cycles)
    lab_days = _lab_days(labs, first_start, grading)
    ae_marks = tuple(
        AeMark(a.id, a.term, a.grade, a.onset, a.resolved, a.serious)
        for a in sorted(adverse_events, key=lambda a: (a.onset, a.id or 0))
    )
    response_marks = _responses(responses, first_start, imwg, problems, light_chain)
    by_number = {s.number: s for s in spans}
    mod_marks = tuple(
        ModificationMark(
            m.id,
            by_number[m.effective_cycle].date_of(m.effective_day)
            if m.effective_cycle in by_number
            else None,
            m.drug,
            m.old_dose,
            m.new_dose,
            (drug_units or {}).get(m.drug, ""),
            m.reason,
            m.effective_cycle,
            m.effective_day,
            m.decided_by,
            m.decided_on,
        )
        for m in modifications
    )

    days: list[date] = [s.start for s in spans] + [s.end for s in spans]
    days += [lane_dose.on for lane in lanes for lane_dose in lane.doses]
    days += [d.on for d in lab_days] + [a.onset for a in ae_marks]
    days += [a.resolved for a in ae_marks if a.resolved is not None]
    days += [r.on for r in response_marks] + [m.on for m in mod_marks if m.on is not None]
    if not days:
        first = last = today
    else:
        first, last = min(days), max(days)
        if last < today <= last + timedelta(days=TODAY_MARGIN_DAYS):
            last = today
    return TimelineData(
        cycles=spans,
        lanes=lanes,
        lab_days=lab_days,
        adverse_events=ae_marks,
        responses=response_marks,
        modifications=mod_marks,
        today=today,
        first_day=first,
        last_day=last,
        problems=tuple(problems),
    )


def _place_cycles(
    cycles: Sequence[CycleRow], length_of: Callable[[str], int], problems: list[str]
) -> tuple[CycleSpan, ...]:
    ordered = sorted(
        (c for c in cycles if c.status is not CycleStatus.CANCELLED), key=lambda c: c.number
    )
    spans: list[CycleSpan] = []
    for index, row in enumerate(ordered):
        # Rules §1: a cycle starts when day 1 is actually given; until then it is planned.
        start = row.start_date or row.planned_start
        # The cycle's own phase length (Protocol.cycle_length): a maintenance cycle may be
        # longer than an induction cycle.
        length = length_of(row.phase)
        if length < 1:
            raise DomainError("a cycle lasts at least one day", field="cycle_length_days")
        end = start + timedelta(days=length - 1)
        if index + 1 < len(ordered):
            following = ordered[index + 1]
            next_start = following.start_date or following.planned_start
            if next_start <= end:
                problems.append(
                    f"Cycle {following.number} starts on {next_start.isoformat()}, before cycle "
                    f"{row.number} ends ({end.isoformat()}); cycle {row.number} is shown "
                    "shortened."
                )
                end = max(start, next_start - timedelta(days=1))
        gap_start: date | None = None
        if spans:
            previous_end = spans[-1].end
            gap = (start - previous_end).days - 1
            if gap > 0:
                gap_start = previous_end + timedelta(days=1)
            if gap != row.delay_days and (gap > 0 or row.delay_days > 0):
                problems.append(
                    f"Cycle {row.number}: the record says a delay of {row.delay_days} d but it "
                    f"starts {max(gap, 0)} d after cycle {spans[-1].number} ended."
                )
        elif row.delay_days > 0:
            gap_start = start - timedelta(days=row.delay_days)
        spans.append(
            CycleSpan(
                id=row.id,
                number=row.number,
                phase=row.phase,
                start=start,
                end=end,
                status=row.status,
                planned_start=row.planned_start,
                delay_days=row.delay_days,
                delay_reason=row.delay_reason,
                gap_start=gap_start,
            )
        )
    return tuple(spans)


def _lanes(
    doses: Sequence[DoseEvent],
    cycles: Mapping[int, CycleSpan],
    order: Sequence[str],
    names: Mapping[str, str],
    problems: list[str],
) -> tuple[DrugLane, ...]:
    per_drug: dict[str, list[DoseMark]] = {}
    orphans = 0
    for dose in doses:
        span = cycles.get(dose.cycle_id)
        if span is None:
            orphans += 1
            continue
        mark = DoseMark(
            dose.id,
            dose.cycle_id,
            span.number,
            dose.day,
            span.date_of(dose.day),
            dose.drug,
            dose.dose_mg,
            dose.status,
            dose.reason,
        )
        per_drug.setdefault(dose.drug, []).append(mark)
    if orphans:
        problems.append(f"{orphans} dose(s) belong to a cycle that is not on the chart.")
    rank = {drug: i for i, drug in enumerate(order)}
    # Protocol order for every drug (a lane with nothing recorded yet still shows).
    drugs = sorted(set(per_drug) | set(order), key=lambda d: (rank.get(d, len(rank)), d))
    return tuple(
        DrugLane(
            drug,
            names.get(drug, drug.capitalize()),
            tuple(sorted(per_drug.get(drug, []), key=lambda m: (m.on, m.id or 0))),
        )
        for drug in drugs
    )


def grade_result(
    lab: LabResult, baseline: Decimal | None = None, grading: GradingTable | None = None
) -> GradedLab:
    """The CTCAE v5.0 reading of one result (``baseline`` in the result's unit)."""
    try:
        graded: LabGrade = grade_lab(
            lab.test,
            lab.value,
            lab.unit,
            lab.lln,
            lab.uln,
            baseline,
            table=grading,
            facts=lab.fact_map,
        )
    except DomainError as exc:
        # Tests without a CTCAE lab term (M-protein, FLC ...) and unknown tests are listed,
        # not graded.
        return GradedLab(lab, None, None, 0, exc.message)
    return GradedLab(
        lab, graded.term, graded.grade, graded.lowest_grade, graded.explanation, graded.missing
    )


def _lab_days(
    labs: Sequence[LabResult], first_cycle_start: date | None, grading: GradingTable | None
) -> tuple[LabDay, ...]:
    ordered = sorted(labs, key=lambda r: (r.collected_at, r.id or 0))
    # CTCAE "baseline": core.baselines.lab_baseline, as the patient list, the summary and the
    # toxicity summary read it.
    baselines = {
        test: lab_baseline(ordered, test, first_cycle_start) for test in {r.test for r in ordered}
    }
    per_day: dict[date, list[GradedLab]] = {}
    for lab in ordered:
        try:
            base_value = baseline_in_unit(baselines[lab.test], lab)
        except DomainError as exc:
            graded = GradedLab(lab, None, None, 0, f"not graded: {exc.message}")
        else:
            graded = grade_result(lab, base_value, grading)
        per_day.setdefault(lab.collected_on, []).append(graded)
    days: list[LabDay] = []
    for on in sorted(per_day):
        results = tuple(per_day[on])
        worst = max((r.grade if r.grade is not None else r.lowest_grade) for r in results)
        uncertain = any(r.term is not None and r.grade is None for r in results)
        worst_result = next(
            r for r in results if (r.grade if r.grade is not None else r.lowest_grade) == worst
        )
        days.append(LabDay(on, results, worst, uncertain, worst_result.result.id))
    return tuple(days)


def _pre_treatment_mark(
    a: ResponseAssessment, baseline: ResponseAssessment, first_day: date
) -> ResponseMark:
    if a is baseline:
        return ResponseMark(a.id, a.assessed_on, BASELINE_LABEL, False, "pre-treatment")
    if a.end_of_cycle is not None:
        # Dated before cycle 1 day 1 yet closing a cycle (of an earlier course): neither the
        # baseline nor a response to this course; shown, not classified.
        return ResponseMark(
            a.id,
            a.assessed_on,
            None,
            False,
            f"not classified: dated before cycle 1 day 1 ({first_day.isoformat()}) but "
            f"recorded as closing cycle {a.end_of_cycle}",
        )
    return ResponseMark(a.id, a.assessed_on, BASELINE_LABEL, False, "earlier pre-treatment study")


def _responses(
    assessments: Sequence[ResponseAssessment],
    first_day: date | None,
    imwg: ImwgCriteria | None,
    problems: list[str],
    light_chain: LightChain | None = None,
) -> tuple[ResponseMark, ...]:
    ordered = sorted(assessments, key=lambda a: (a.assessed_on, a.id or 0))
    if not ordered:
        return ()
    # IMWG: each assessment is compared with the pre-treatment baseline, chosen as everywhere
    # else in the app (core.baselines.response_baseline).
    baseline = response_baseline(ordered, first_day)
    if baseline is None:
        problems.append(
            "Responses are not classified: no pre-treatment assessment on or before cycle 1 day 1."
        )
        return tuple(
            ResponseMark(a.id, a.assessed_on, None, False, "not classified: no baseline")
            for a in ordered
        )
    assert first_day is not None  # a baseline exists only once treatment has started
    rest = on_treatment(ordered, first_day)
    marks = [_pre_treatment_mark(a, baseline, first_day) for a in ordered if a not in rest]
    try:
        assessed = classify_series(baseline, rest, imwg, light_chain=light_chain)
    except DomainError as exc:
        problems.append(f"Responses could not be classified: {exc.message}")
        marks += [
            ResponseMark(a.id, a.assessed_on, None, False, f"not classified: {exc.message}")
            for a in rest
        ]
        return tuple(marks)
    for result in assessed:
        explanation = result.explanation
        if result.limited_by:
            explanation += "; limited by " + ", ".join(result.limited_by)
        marks.append(
            ResponseMark(
                result.assessment.id,
                result.assessment.assessed_on,
                result.category.value,
                result.confirmed,
                explanation,
            )
        )
    return tuple(marks)
