"""The pure rules a cycle's day 1 is checked against (rules §1 and §2), on plain data.

``services.cycle_start`` gathers the record, calls these and re-checks inside the write
transaction; the same functions say the same thing wherever a start is judged.

>>> from datetime import date
>>> earliest_next_start(date(2024, 1, 1), 28)  # rules §1: planned for start + 28
datetime.date(2024, 1, 29)
>>> older_than_window(date(2024, 1, 26), date(2024, 1, 29), 3)  # 3 days: still usable
False
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import date, timedelta
from decimal import Decimal

from clinic_app.core.protocol import TreatmentCondition
from clinic_app.core.records import LabResult


def earliest_next_start(previous_start: date, cycle_length_days: int) -> date:
    """Rules §1: the next cycle is planned for the previous day 1 + the cycle length."""
    return previous_start + timedelta(days=cycle_length_days)


def delay_days(start: date, planned_start: date | None) -> int:
    """Days day 1 falls after its planned date (0 when on time, early or never planned)."""
    return max(0, (start - planned_start).days) if planned_start is not None else 0


def age_days(measured_on: date, day_1: date) -> int:
    """How many days before day 1 a result or measurement was taken."""
    return (day_1 - measured_on).days


def older_than_window(measured_on: date, day_1: date, max_age_days: int) -> bool:
    """Rules §2: a result older than the protocol's window (``lab_max_age_days``) counts as
    missing; the window holds for the labs and for the weight behind the doses."""
    return age_days(measured_on, day_1) > max_age_days


def latest_result(results: Iterable[LabResult], test: str, day_1: date) -> LabResult | None:
    """The latest result of ``test`` collected on or before day 1 (a day-1 draw counts)."""
    found = sorted(
        (r for r in results if r.test == test and r.collected_on <= day_1),
        key=lambda r: (r.collected_at, r.id or 0),
    )
    return found[-1] if found else None


def usable_result(
    results: Iterable[LabResult], test: str, day_1: date, max_age_days: int
) -> LabResult | None:
    """The latest result of ``test`` inside the window, else None (too old counts as missing)."""
    latest = latest_result(results, test, day_1)
    if latest is None or older_than_window(latest.collected_on, day_1, max_age_days):
        return None
    return latest


def condition_met(condition: TreatmentCondition, value: Decimal | None) -> bool:
    """Rules §2: the drug needs the test at or above the minimum (in the condition's unit);
    no usable value is not met (missing, never assumed)."""
    return value is not None and value >= condition.minimum


def missing_gates(required: Sequence[tuple[str, str]], recorded: Collection[str]) -> list[str]:
    """The labels of the enrolment gates not recorded (rules §1: nothing is scheduled until
    they are), in the protocol's order."""
    return [label for key, label in required if key not in recorded]
