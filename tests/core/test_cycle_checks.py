"""The pure day-1 rules (core.cycle_checks, rules §1 and §2), worked by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from clinic_app.core.cycle_checks import (
    age_days,
    condition_met,
    delay_days,
    earliest_next_start,
    latest_result,
    missing_gates,
    older_than_window,
    usable_result,
)
from clinic_app.core.protocol import TreatmentCondition
from clinic_app.core.records import LabResult

DAY_1 = date(2024, 3, 4)
ANC_1 = TreatmentCondition("bendamustine", "anc", Decimal("1.0"), "10^9/L", "BPD protocol")


def anc(value: str, on: date, hour: int = 8) -> LabResult:
    at = datetime(on.year, on.month, on.day, hour, tzinfo=UTC)
    return LabResult("anc", Decimal(value), "10^9/L", at, Decimal(value))


def test_the_next_cycle_and_its_delay() -> None:
    # 28-day cycles: cycle 1 on 5 Feb 2024 (leap year), cycle 2 planned for 4 March
    assert earliest_next_start(date(2024, 2, 5), 28) == DAY_1
    assert earliest_next_start(date(2024, 2, 5), 21) == date(2024, 2, 26)
    assert delay_days(date(2024, 3, 11), DAY_1) == 7
    assert delay_days(DAY_1, DAY_1) == 0
    assert delay_days(date(2024, 3, 1), DAY_1) == 0  # early: no delay (refused elsewhere)
    assert delay_days(DAY_1, None) == 0


def test_the_window_counts_whole_days_before_day_1() -> None:
    # window 3 days: 1 March (3 days before 4 March) is usable, 29 February (4) is missing
    assert age_days(date(2024, 3, 1), DAY_1) == 3
    assert not older_than_window(date(2024, 3, 1), DAY_1, 3)
    assert older_than_window(date(2024, 2, 29), DAY_1, 3)
    assert not older_than_window(DAY_1, DAY_1, 0)


def test_the_latest_usable_result_includes_day_1_and_ignores_later_ones() -> None:
    results = [
        anc("1.4", date(2024, 3, 1)),
        anc("0.9", DAY_1, hour=7),
        anc("1.2", DAY_1, hour=15),  # the later draw of day 1 is the latest
        anc("2.0", date(2024, 3, 5)),  # after day 1: not the one the start was judged on
    ]
    latest = latest_result(results, "anc", DAY_1)
    assert latest is not None and latest.value == Decimal("1.2")
    assert usable_result(results[:1], "anc", DAY_1, 3) is results[0]
    assert usable_result(results[:1], "anc", DAY_1, 2) is None  # 3 days old, window 2
    assert latest_result(results, "platelets", DAY_1) is None


def test_a_condition_is_met_at_or_above_its_minimum_and_never_without_a_value() -> None:
    assert condition_met(ANC_1, Decimal("1.0"))  # "at or above": 1.0 meets >= 1.0
    assert not condition_met(ANC_1, Decimal("0.99"))
    assert not condition_met(ANC_1, None)


def test_missing_gates_in_the_protocols_order() -> None:
    required = [("consent", "Signed informed consent"), ("rems", "Pomalidomide REMS")]
    assert missing_gates(required, {"consent"}) == ["Pomalidomide REMS"]
    assert missing_gates(required, set()) == ["Signed informed consent", "Pomalidomide REMS"]
    assert missing_gates(required, {"consent", "rems"}) == []
