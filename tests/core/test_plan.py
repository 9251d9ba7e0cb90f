"""Cycle plans reproduce the protocol's worked examples, computed by hand in each test."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from clinic_app.core.dosing import body_surface_area
from clinic_app.core.errors import DomainError, MissingDataError
from clinic_app.core.plan import CyclePlan, plan_cycle
from clinic_app.core.protocol import Protocol
from clinic_app.core.protocol_loader import load_protocols
from clinic_app.core.records import DoseModification

D = Decimal
START = date(2026, 1, 5)  # a Monday


@pytest.fixture(scope="module")
def protocols() -> dict[str, Protocol]:
    return load_protocols()


def mod(drug: str, old: str, new: str, cycle: int, day: int = 1) -> DoseModification:
    return DoseModification(drug, D(old), D(new), "toxicity", cycle, "Dr Test", START, day)


def doses_on(plan: CyclePlan, day: int) -> dict[str, Decimal]:
    return {d.drug: d.dose_mg for d in plan.days[day - 1].doses}


def test_dextr_cycle_1_totals_and_thalidomide_step(protocols: dict[str, Protocol]) -> None:
    plan = plan_cycle(protocols["dextr"], cycle=1, start=START)
    # dexamethasone 40 mg x 12 days (1-4, 9-12, 17-20) = 480 mg
    # thalidomide 50 mg x 7 (days 1-7) + 100 mg x 21 (days 8-28) = 350 + 2,100 = 2,450 mg
    # lenalidomide 25 mg x 21 (days 1-21) = 525 mg
    assert plan.totals_mg == {
        "dexamethasone": D(480),
        "thalidomide": D(2450),
        "lenalidomide": D(525),
    }
    assert doses_on(plan, 7)["thalidomide"] == D(50)
    assert doses_on(plan, 8)["thalidomide"] == D(100)
    assert plan.dosing_days("dexamethasone") == (1, 2, 3, 4, 9, 10, 11, 12, 17, 18, 19, 20)
    assert plan.dosing_days("lenalidomide") == tuple(range(1, 22))
    # fewest units: 40 mg = 2 x 20 mg tablets; 12 days -> 24 tablets
    assert plan.unit_totals["dexamethasone"] == {D(20): 24}
    assert plan.unit_totals["thalidomide"] == {D(50): 7, D(100): 21}
    assert plan.days[0].date == START and plan.days[27].date == date(2026, 2, 1)
    assert plan.next_planned_start == date(2026, 2, 2)  # start + 28
    assert doses_on(plan, 28) == {"thalidomide": D(100)}
    assert doses_on(plan, 5) == {"thalidomide": D(50), "lenalidomide": D(25)}


def test_dextr_cycle_1_weekly_labs_and_later_cycles_without(protocols: dict[str, Protocol]) -> None:
    plan = plan_cycle(protocols["dextr"], cycle=1, start=START)
    lab_days = [d.day for d in plan.days if any(e.kind == "labs" for e in d.events)]
    assert lab_days == [1, 8, 15, 22]
    assert [d.day for d in plan.days if any(e.kind == "evaluation" for e in d.events)] == [28]
    later = plan_cycle(protocols["dextr"], cycle=2, start=START)
    assert not any(e.kind == "labs" for d in later.days for e in d.events)


def test_dextr_cycle_2_thalidomide_100_mg_all_28_days(protocols: dict[str, Protocol]) -> None:
    plan = plan_cycle(protocols["dextr"], cycle=2, start=START)
    assert plan.totals_mg["thalidomide"] == D(2800)  # 100 mg x 28 days
    assert plan.phase == "induction"


def test_dextr_reminders(protocols: dict[str, Protocol]) -> None:
    plan = plan_cycle(protocols["dextr"], cycle=1, start=START)
    assert {r.key for r in plan.reminders} == {"thromboprophylaxis", "rems", "call_us"}


def test_dextr_maintenance_full_dose_with_good_kidneys(protocols: dict[str, Protocol]) -> None:
    plan = plan_cycle(
        protocols["dextr"], cycle=5, phase="maintenance", start=START, crcl_ml_min=D(55)
    )
    # dexamethasone 20 mg x 4 (days 1, 8, 15, 22) = 80; lenalidomide 25 x 21 = 525; no thalidomide
    assert plan.totals_mg == {"dexamethasone": D(80), "lenalidomide": D(525)}


@pytest.mark.parametrize(
    ("crcl", "reduced_to", "expected"),
    [
        (D("39.9"), None, D(15)),  # CrCl < 40: lower of 15 and 25 -> 15
        (D(40), None, D(25)),  # exactly 40 is not < 40: full 25
        (D("39.9"), "10", D(10)),  # reduced to 10 in induction: lower of 15 and 10 -> 10
        (D("39.9"), "20", D(15)),  # reduced to 20: lower of 15 and 20 -> 15
        (D(60), "20", D(20)),  # good kidneys: the induction dose carries over, 20
    ],
)
def test_dextr_maintenance_lenalidomide_rule(
    protocols: dict[str, Protocol], crcl: Decimal, reduced_to: str | None, expected: Decimal
) -> None:
    mods = [mod("lenalidomide", "25", reduced_to, cycle=3)] if reduced_to else []
    plan = plan_cycle(
        protocols["dextr"],
        cycle=6,
        phase="maintenance",
        start=START,
        crcl_ml_min=crcl,
        modifications=mods,
    )
    assert doses_on(plan, 1)["lenalidomide"] == expected
    assert plan.totals_mg["lenalidomide"] == expected * 21


def test_dextr_maintenance_without_crcl_says_so(protocols: dict[str, Protocol]) -> None:
    with pytest.raises(MissingDataError, match="creatinine clearance") as caught:
        plan_cycle(protocols["dextr"], cycle=5, phase="maintenance", start=START)
    assert caught.value.field == "crcl_ml_min"


def test_maintenance_is_never_the_default_for_dextr(protocols: dict[str, Protocol]) -> None:
    # Maintenance needs a recorded decision: cycle 9 without one stays induction.
    assert plan_cycle(protocols["dextr"], cycle=9, start=START).phase == "induction"
    with pytest.raises(DomainError, match="cycles 5 on, not cycle 4"):
        plan_cycle(protocols["dextr"], cycle=4, phase="maintenance", start=START, crcl_ml_min=D(60))


def test_mid_cycle_reduction_applies_from_its_day(protocols: dict[str, Protocol]) -> None:
    mods = [mod("lenalidomide", "25", "20", cycle=2, day=8)]
    plan = plan_cycle(protocols["dextr"], cycle=2, start=START, modifications=mods)
    # 25 mg x 7 (days 1-7) + 20 mg x 14 (days 8-21) = 175 + 280 = 455 mg
    assert plan.totals_mg["lenalidomide"] == D(455)
    # and the reduction carries into the next cycle: 20 mg x 21 = 420 mg
    nxt = plan_cycle(protocols["dextr"], cycle=3, start=START, modifications=mods)
    assert nxt.totals_mg["lenalidomide"] == D(420)
    # but not backwards into the cycle before it
    assert plan_cycle(protocols["dextr"], cycle=1, start=START, modifications=mods).totals_mg[
        "lenalidomide"
    ] == D(525)


def test_thalidomide_reduced_to_50_caps_the_cycle_1_step(protocols: dict[str, Protocol]) -> None:
    plan = plan_cycle(
        protocols["dextr"], cycle=1, start=START, modifications=[mod("thalidomide", "100", "50", 1)]
    )
    assert plan.totals_mg["thalidomide"] == D(1400)  # 50 mg x 28


def test_dexamethasone_10_mg_in_fewest_tablets(protocols: dict[str, Protocol]) -> None:
    plan = plan_cycle(
        protocols["dextr"],
        cycle=2,
        start=START,
        modifications=[mod("dexamethasone", "40", "10", 2)],
    )
    dose = plan.days[0].doses[0]
    assert dose.drug == "dexamethasone" and dose.dose_mg == D(10)
    assert dose.units == ((D(4), 2), (D(2), 1))  # 4 + 4 + 2: three tablets, the fewest
    assert plan.unit_totals["dexamethasone"] == {D(4): 24, D(2): 12}  # 12 dosing days


def test_lenalidomide_2_5_mg(protocols: dict[str, Protocol]) -> None:
    plan = plan_cycle(
        protocols["dextr"], cycle=2, start=START, modifications=[mod("lenalidomide", "5", "2.5", 2)]
    )
    assert plan.days[0].doses[2].units == ((D("2.5"), 1),)
    assert plan.totals_mg["lenalidomide"] == D("52.5")  # 2.5 x 21


def test_bpd_level_1_totals(protocols: dict[str, Protocol]) -> None:
    bsa = body_surface_area(D(170), D(70))  # sqrt(170*70/3600) = sqrt(3.30556) = 1.8181 -> 1.82
    plan = plan_cycle(protocols["bpd"], cycle=1, start=START, dose_level=1, bsa=bsa)
    # pomalidomide 3 mg x 21 = 63; dexamethasone 40 mg x 4 (1, 8, 15, 22) = 160
    # bendamustine 120 mg/m² x 1.82 = 218.4 mg -> nearest 5 mg = 220 mg, once on day 1
    assert plan.totals_mg == {
        "bendamustine": D(220),
        "pomalidomide": D(63),
        "dexamethasone": D(160),
    }
    day1 = plan.days[0].doses[0]
    assert day1.drug == "bendamustine" and day1.in_clinic and day1.units == ()
    note = next(n for n in plan.dose_notes if n.drug == "bendamustine")
    assert note.rounding is not None
    assert note.rounding.calculated_mg == D("218.40")
    assert note.rounding.difference_pct == D("0.7")  # (220 - 218.4) / 218.4 = 0.73 %
    assert plan.days[0].events[0].kind == "visit"


def test_bpd_level_3_rounds_down(protocols: dict[str, Protocol]) -> None:
    bsa = body_surface_area(D(165), D(80))  # sqrt(165*80/3600) = sqrt(3.6667) = 1.9149 -> 1.91
    plan = plan_cycle(protocols["bpd"], cycle=2, start=START, dose_level=3, bsa=bsa)
    # 150 x 1.91 = 286.5 mg -> 286.5 / 5 = 57.3 -> 57 x 5 = 285 mg; (285 - 286.5) / 286.5 = -0.52 %
    assert plan.totals_mg["bendamustine"] == D(285)
    assert plan.totals_mg["pomalidomide"] == D(84)  # 4 mg x 21
    note = next(n for n in plan.dose_notes if n.drug == "bendamustine")
    assert note.rounding is not None and note.rounding.difference_pct == D("-0.5")


def test_bpd_bendamustine_reduction_steps_through_level_values(
    protocols: dict[str, Protocol],
) -> None:
    bsa = body_surface_area(D(170), D(70))
    plan = plan_cycle(
        protocols["bpd"],
        cycle=2,
        start=START,
        dose_level=4,
        bsa=bsa,
        modifications=[mod("bendamustine", "180", "150", 2)],
    )
    assert plan.totals_mg["bendamustine"] == D(275)  # 150 x 1.82 = 273 -> 275


def test_bpd_maintenance_from_cycle_13_drops_bendamustine(protocols: dict[str, Protocol]) -> None:
    plan = plan_cycle(protocols["bpd"], cycle=13, start=START, dose_level=2)
    assert plan.phase == "maintenance"
    assert plan.totals_mg == {"pomalidomide": D(84), "dexamethasone": D(160)}
    with pytest.raises(DomainError, match="covers cycles 1-12, not cycle 13"):
        plan_cycle(protocols["bpd"], cycle=13, phase="treatment", start=START, dose_level=2)


def test_bpd_dexamethasone_20_is_an_elected_option_from_cycle_7(
    protocols: dict[str, Protocol],
) -> None:
    bsa = body_surface_area(D(170), D(70))
    plain = plan_cycle(protocols["bpd"], cycle=7, start=START, dose_level=1, bsa=bsa)
    assert plain.totals_mg["dexamethasone"] == D(160)  # never automatic
    elected = plan_cycle(
        protocols["bpd"], cycle=7, start=START, dose_level=1, bsa=bsa, options=["dexamethasone_20"]
    )
    assert elected.totals_mg["dexamethasone"] == D(80)  # 20 mg x 4
    with pytest.raises(DomainError, match="available from cycle 7, not cycle 6"):
        plan_cycle(
            protocols["bpd"],
            cycle=6,
            start=START,
            dose_level=1,
            bsa=bsa,
            options=["dexamethasone_20"],
        )


def test_bpd_needs_bsa_and_dose_level(protocols: dict[str, Protocol]) -> None:
    with pytest.raises(MissingDataError, match="height and weight"):
        plan_cycle(protocols["bpd"], cycle=1, start=START, dose_level=1)
    with pytest.raises(MissingDataError, match="dose level"):
        plan_cycle(protocols["bpd"], cycle=1, start=START, bsa=body_surface_area(D(170), D(70)))


@pytest.mark.parametrize("cycle", [0, -1, 201])
def test_cycle_that_does_not_exist(protocols: dict[str, Protocol], cycle: int) -> None:
    with pytest.raises(DomainError, match=f"Cycle {cycle} does not exist") as caught:
        plan_cycle(protocols["dextr"], cycle=cycle, start=START)
    assert caught.value.field == "cycle"


@pytest.mark.parametrize("level", [0, 5, -2])
def test_dose_level_that_does_not_exist(protocols: dict[str, Protocol], level: int) -> None:
    with pytest.raises(DomainError, match=f"no dose level {level}; its levels are -1, 1, 2, 3, 4"):
        plan_cycle(
            protocols["bpd"],
            cycle=1,
            start=START,
            dose_level=level,
            bsa=body_surface_area(D(170), D(70)),
        )


def test_dextr_refuses_a_dose_level(protocols: dict[str, Protocol]) -> None:
    with pytest.raises(DomainError, match="has no dose levels"):
        plan_cycle(protocols["dextr"], cycle=1, start=START, dose_level=1)


def test_dose_that_cannot_be_made_from_strengths_on_hand(protocols: dict[str, Protocol]) -> None:
    with pytest.raises(
        DomainError,
        match=r"Dexamethasone: 10 mg cannot be made from the strengths on hand \(4 mg, 20 mg\)",
    ):
        plan_cycle(
            protocols["dextr"],
            cycle=2,
            start=START,
            modifications=[mod("dexamethasone", "40", "10", 2)],
            strengths={"dexamethasone": [D(4), D(20)]},
        )
