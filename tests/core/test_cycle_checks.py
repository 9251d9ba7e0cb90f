"""The pure day-1 rules (core.cycle_checks, rules §1 and §2), worked by hand."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from clinic_app.core import labs
from clinic_app.core.cycle_checks import (
    StartContext,
    StartRequest,
    age_days,
    check_start,
    condition_met,
    delay_days,
    earliest_next_start,
    latest_result,
    missing_gates,
    older_than_window,
    required_gates,
    usable_result,
)
from clinic_app.core.cycles import CycleRow
from clinic_app.core.protocol import TreatmentCondition
from clinic_app.core.protocol_loader import load_protocol
from clinic_app.core.records import Enrolment, LabResult, Patient, Sex

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


# --- check_start on plain data: no record, no storage ------------------------------------------

VRD = load_protocol(Path(__file__).parents[1] / "fixtures" / "protocols" / "vrd.toml")
V_DAY_1 = date(2026, 1, 5)


def lab(test: str, value: str, unit: str, on: date) -> LabResult:
    at = datetime(on.year, on.month, on.day, 8, tzinfo=UTC)
    return LabResult(test, Decimal(value), unit, at, labs.to_si(test, Decimal(value), unit))


def vrd_context(gates: dict[str, date], results: tuple[LabResult, ...]) -> StartContext:
    """Cycle 1 of VRd as enrolment planned it; male, 60 on day 1."""
    patient = Patient("V-1", "Verdi", "Giuseppe", date(1966, 1, 1), Sex.MALE)
    enrolment = Enrolment(1, "vrd", V_DAY_1, V_DAY_1, gates=gates, id=1)
    planned = CycleRow(1, 1, "induction", V_DAY_1, id=1)
    return StartContext(
        patient=patient,
        protocol=VRD,
        enrolment=enrolment,
        cycles=(planned,),
        target=planned,
        number=1,
        previous=None,
        labs=results,
        last_bsa_measurement=None,
        latest_height_cm=None,
        modifications=(),
        decisions=(),
        target_version=1,
    )


def test_check_start_is_pure_and_plans_cycle_1() -> None:
    results = (
        lab("anc", "1.5", "10^9/L", V_DAY_1),
        lab("platelets", "150", "10^9/L", V_DAY_1),
        lab("creatinine", "1.6", "mg/dL", V_DAY_1),
    )
    context = vrd_context({"consent": V_DAY_1, "rems_lenalidomide": V_DAY_1}, results)
    request = StartRequest(start=V_DAY_1, height_cm=Decimal(170), weight_kg=Decimal(72))
    check = check_start(context, request, V_DAY_1)
    assert check.ok, check.problems
    # BSA sqrt(170 * 72 / 3600) = 1.84 m²; CrCl (140 - 60) * 72 / (72 * 1.6) = 50 mL/min
    assert check.bsa is not None and check.bsa.m2 == Decimal("1.84")
    assert check.crcl is not None and check.crcl.ml_min == Decimal(50)
    # 21-day induction cycle from 5 Jan: day 21 is 25 Jan
    assert check.plan is not None and check.plan.end == date(2026, 1, 25)
    assert [c.met for c in check.conditions] == [True, True]  # ANC 1.5 >= 1.0, plt 150 >= 30


def test_check_start_names_every_gate_not_recorded() -> None:
    context = vrd_context({}, ())
    request = StartRequest(start=V_DAY_1, height_cm=Decimal(170), weight_kg=Decimal(72))
    check = check_start(context, request, V_DAY_1)
    # VRd's two gates, in the file's order (rules §1: nothing is scheduled without them)
    assert check.messages("enrolment") == [
        "Not recorded at enrolment: Signed informed consent.",
        "Not recorded at enrolment: REMS patient agreement for lenalidomide (Lenalidomide REMS).",
    ]
    # No creatinine and no ANC or platelets: CrCl is refused, the conditions are missing.
    assert check.messages("creatinine")
    assert all(c.missing for c in check.conditions)


def test_signed_consent_is_required_even_where_a_file_does_not_list_it() -> None:
    without = replace(VRD, gates=VRD.gates[1:])
    assert required_gates(without) == [
        ("consent", "Signed informed consent"),
        ("rems_lenalidomide", "REMS patient agreement for lenalidomide (Lenalidomide REMS)"),
    ]
