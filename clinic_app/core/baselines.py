"""The pre-treatment baselines every screen, printout and command compares with (issue 17).

One definition of each, here:

- *treatment start* (cycle 1 day 1): day 1 of the lowest-numbered cycle that has started.
- *lab baseline* (CTCAE v5.0 grades creatinine, ALT, AST and bilirubin against it): the last
  live result of the test collected **before** treatment start. A day-1 draw is not the
  baseline: it may already follow the first dose.
- *entry count* (the DLT exemption for a patient who "starts with low counts", rules §5): the
  last ANC or platelet count collected on or before day 1, the counts the patient entered
  the cycle with.
- *response baseline* (IMWG): the last assessment on or before treatment start, when it closes
  no cycle (a study closing a cycle of an earlier course ends the pre-treatment window); the
  assessments after treatment start are classified against it.

>>> from datetime import UTC, datetime
>>> def lab(value: str, day: int) -> LabResult:
...     at = datetime(2024, 1, day, 8, tzinfo=UTC)
...     return LabResult("creatinine", Decimal(value), "umol/L", at, Decimal(value))
>>> history = [lab("60", 2), lab("90", 4), lab("250", 5)]  # cycle 1 day 1 is 5 January
>>> lab_baseline(history, "creatinine", date(2024, 1, 5)).value
Decimal('90')
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from clinic_app.core import labs as lab_catalogue
from clinic_app.core.cycles import CycleRow, CycleStatus
from clinic_app.core.records import LabResult, ResponseAssessment


def treatment_start(cycles: Iterable[CycleRow]) -> date | None:
    """Cycle 1 day 1 as it happened: day 1 of the lowest-numbered started cycle, else None.

    A cancelled cycle never started treatment; a planned date is not a start (rules §1: day 1
    is the day the cycle actually starts).
    """
    started = [
        c for c in cycles if c.start_date is not None and c.status is not CycleStatus.CANCELLED
    ]
    if not started:
        return None
    first = min(started, key=lambda c: c.number)
    return first.start_date


def _ordered(labs: Iterable[LabResult], test: str) -> list[LabResult]:
    return sorted(
        (lab for lab in labs if lab.test == test), key=lambda r: (r.collected_at, r.id or 0)
    )


def lab_baseline(labs: Iterable[LabResult], test: str, first_day: date | None) -> LabResult | None:
    """The CTCAE baseline of ``test``: the last result collected before ``first_day``.

    None without a treatment start or without such a result (the grade then says the
    baseline is needed, never guesses it).
    """
    if first_day is None:
        return None
    earlier = [lab for lab in _ordered(labs, test) if lab.collected_on < first_day]
    return earlier[-1] if earlier else None


def entry_count(labs: Iterable[LabResult], test: str, first_day: date) -> LabResult | None:
    """The count the patient entered treatment with: the last result on or before day 1.

    BPD DLT exemption ("a patient who starts with low counts", rules §5): the day-1 count
    taken before dosing is the one the start was decided on.
    """
    found = [lab for lab in _ordered(labs, test) if lab.collected_on <= first_day]
    return found[-1] if found else None


def baseline_in_unit(baseline: LabResult | None, lab: LabResult) -> Decimal | None:
    """The baseline value in ``lab``'s unit (grading compares like with like).

    Raises DomainError when the two units cannot be converted.
    """
    if baseline is None:
        return None
    return lab_catalogue.convert(baseline.value, baseline.unit, lab.unit, lab.test)


def response_baseline(
    assessments: Iterable[ResponseAssessment], first_day: date | None
) -> ResponseAssessment | None:
    """IMWG: the pre-treatment study, the last on or before ``first_day`` that closes no cycle.

    An assessment recorded as closing a cycle measures treatment, whatever its date says; when
    the last study before ``first_day`` is one (the end of an earlier course), the studies
    before it precede that treatment, not this one: there is no baseline, none is guessed.
    """
    if first_day is None:
        return None
    ordered = sorted(assessments, key=lambda a: (a.assessed_on, a.id or 0))
    before = [a for a in ordered if a.assessed_on <= first_day]
    if not before or before[-1].end_of_cycle is not None:
        return None
    return before[-1]


def on_treatment(
    assessments: Iterable[ResponseAssessment], first_day: date
) -> list[ResponseAssessment]:
    """The assessments classified against the baseline: those after cycle 1 day 1, by date.

    A study dated before treatment started measures no response to it, even one recorded as
    closing a cycle (e.g. of an earlier course): it is never classified as this course's.
    """
    ordered = sorted(assessments, key=lambda a: (a.assessed_on, a.id or 0))
    return [a for a in ordered if a.assessed_on > first_day]
