"""Worst grade per term, count nadirs with time at grade >= 3, dose intensity (issue 20).

Every expected figure is worked out by hand in the comment above it.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from clinic_app.core.cycle_toxicity import (
    GIVEN,
    HELD,
    MISSED,
    NO_RECORD,
    PLANNED,
    CountNadir,
    DoseLine,
    GradedCount,
    GradeObservation,
    SevereSpell,
    ae_observations,
    count_nadir,
    dose_intensity,
    worst_grades,
)
from clinic_app.core.records import AdverseEvent

START = date(2026, 1, 5)
END = START + timedelta(days=27)  # day 28 = 1 Feb 2026


def day(n: int) -> date:
    return START + timedelta(days=n - 1)


# -- worst grade per term --------------------------------------------------------------------------
def test_ae_and_lab_of_one_term_meet_and_the_worst_wins() -> None:
    seen = [
        GradeObservation("Neutrophil count decreased", 2, day(8), "lab", "ANC 1.2 ×10⁹/L"),
        GradeObservation("Neutrophil count decreased", 4, day(15), "lab", "ANC 0.4 ×10⁹/L"),
        # the nurse also recorded it as an AE, grade 3, on day 16: grade 4 (lab) is worse
        GradeObservation("neutrophil count decreased", 3, day(16), "adverse event"),
        GradeObservation("Nausea", 2, day(3), "adverse event"),
    ]
    worst = worst_grades(seen)
    assert [(w.term, w.grade, w.on, w.source) for w in worst] == [
        ("Neutrophil count decreased", 4, day(15), "lab"),
        ("Nausea", 2, day(3), "adverse event"),
    ]
    assert worst[0].detail == "ANC 0.4 ×10⁹/L" and worst[0].severe
    assert worst[0].sources == ("adverse event", "lab") and not worst[1].severe


def test_ties_go_to_a_settled_grade_then_the_earliest_day_and_grade_0_is_left_out() -> None:
    seen = [
        # Hb 75 g/L supports grade 3 "at least" (transfusion could not raise it past 3, but
        # life-threatening consequences could make it 4): an AE graded 3 settles it.
        GradeObservation("Anemia", 3, day(10), "lab", "Hb 75 g/L", at_least=True),
        GradeObservation("Anemia", 3, day(12), "adverse event"),
        GradeObservation("Platelet count decreased", 3, day(20), "lab", "45"),
        GradeObservation("Platelet count decreased", 3, day(15), "lab", "40"),
        GradeObservation("Creatinine increased", 0, day(1), "lab", "80 µmol/L"),
    ]
    worst = {w.term: w for w in worst_grades(seen)}
    assert (worst["Anemia"].on, worst["Anemia"].at_least) == (day(12), False)
    assert worst["Platelet count decreased"].on == day(15)
    assert "Creatinine increased" not in worst


def test_ae_observations_inside_the_cycle_with_regrading() -> None:
    # Rash onset 3 days before day 1, still open: counted from day 1 at grade 2; re-graded to
    # 3 on day 6 and to 1 after the cycle (day 30): only the day-6 regrading is inside.
    rash = AdverseEvent(
        "Rash maculo-papular",
        2,
        START - timedelta(days=3),
        grade_history=((day(6), 3), (day(30), 1)),
    )
    seen = ae_observations(rash, START, END)
    assert [(o.grade, o.on) for o in seen] == [(2, START), (3, day(6))]
    assert worst_grades(seen)[0].grade == 3
    closed = AdverseEvent(
        "Nausea", 2, START - timedelta(days=9), resolved=START - timedelta(days=1)
    )
    assert ae_observations(closed, START, END) == []


# -- nadirs ---------------------------------------------------------------------------------
def anc(n: int, value: str, lowest_grade: int) -> GradedCount:
    v = Decimal(value)
    return GradedCount(day(n), v, "10^9/L", v, lowest_grade, lowest_grade)


def test_nadir_and_days_at_grade_3_or_worse() -> None:
    # CTCAE v5.0 ANC: < 1.0 is G3, < 0.5 G4. Results: d1 2.1 (G0/1), d8 0.9 (G3), d11 0.4 (G4),
    # d15 0.8 (G3), d22 1.2 (G2), d28 0.7 (G3).
    results = [
        anc(22, "1.2", 2),
        anc(1, "2.1", 0),
        anc(8, "0.9", 3),
        anc(11, "0.4", 4),
        anc(15, "0.8", 3),
        anc(28, "0.7", 3),
    ]
    nadir = count_nadir(results)
    assert nadir is not None
    assert (nadir.lowest.value, nadir.lowest.on, nadir.results) == (Decimal("0.4"), day(11), 6)
    # spell 1: days 8, 11, 15 -> first to last = 15 - 8 = 7 days, 3 results, recovered on d22;
    # spell 2: day 28 alone -> 0 days, 1 result, still at G3 at the last result.
    assert nadir.spells == (
        SevereSpell(day(8), day(15), 3, False),
        SevereSpell(day(28), day(28), 1, True),
    )
    assert [s.days for s in nadir.spells] == [7, 0]
    assert nadir.severe_days == 7  # 7 + 0


def test_nadir_ties_earliest_and_no_results() -> None:
    nadir = count_nadir([anc(15, "0.9", 3), anc(8, "0.9", 3)])
    # two equal lowest values: the earlier (day 8); one spell d8..d15 = 7 days, ongoing
    assert nadir == CountNadir(anc(8, "0.9", 3), 2, (SevereSpell(day(8), day(15), 2, True),))
    assert count_nadir([]) is None


# -- dose intensity -------------------------------------------------------------------------
def test_dose_intensity_mg_and_percent_with_every_exception() -> None:
    pom = "Pomalidomide"
    lines = [DoseLine(d, day(d), pom, Decimal(4), GIVEN, Decimal(4)) for d in range(1, 15)]
    lines += [
        DoseLine(15, day(15), pom, Decimal(4), HELD, None, "ANC 0.4"),
        DoseLine(16, day(16), pom, Decimal(4), MISSED, None, "forgot"),
        DoseLine(17, day(17), pom, Decimal(4), GIVEN, Decimal(3), "reduced"),
        DoseLine(18, day(18), pom, Decimal(4), NO_RECORD),
        DoseLine(19, day(19), pom, Decimal(4), PLANNED),
        DoseLine(20, day(20), pom, None, GIVEN, Decimal(2), "extra"),
    ]
    [i] = dose_intensity(lines)
    # planned: days 1-19 = 19 doses x 4 mg = 76 mg
    assert (i.planned, i.planned_mg) == (19, Decimal(76))
    # given: 14 x 4 + 3 (day 17) + 2 (day 20, not in the plan) = 61 mg, 16 doses
    assert (i.given, i.given_mg, i.unplanned) == (16, Decimal(61), 1)
    # 61 / 76 = 0.802631... -> 80.3 %
    assert i.percent == Decimal("80.3")
    assert (i.held, i.missed, i.not_recorded, i.not_recorded_mg) == (1, 1, 2, Decimal(8))
    # given + held + missed + not recorded = 16 + 1 + 1 + 2 = 20 = 19 planned + 1 unplanned
    assert [d.day for d in i.exceptions] == [15, 16, 17, 18, 19, 20]


def test_dose_intensity_half_up_and_given_without_amount() -> None:
    dex = "Dexamethasone"
    lines = [
        DoseLine(1, day(1), dex, Decimal(40), GIVEN),  # amount not recorded: counts as planned
        DoseLine(8, day(8), dex, Decimal(40), GIVEN, Decimal(40)),
        DoseLine(15, day(15), dex, Decimal(40), GIVEN, Decimal(20)),
        DoseLine(22, day(22), dex, Decimal(40), HELD),
        DoseLine(23, day(23), dex, Decimal(0), NO_RECORD),
    ]
    [i] = dose_intensity(lines)
    # given 40 + 40 + 20 = 100 of 160 planned: 62.5 % exactly (half up keeps 62.5)
    assert (i.given_mg, i.planned_mg, i.percent) == (Decimal(100), Decimal(160), Decimal("62.5"))
    # a 1/3 ratio: 1 of 3 mg = 33.333... -> 33.3 %; 2 of 3 = 66.666... -> 66.7 %
    third = [DoseLine(1, day(1), "X", Decimal(3), GIVEN, Decimal(1))]
    assert dose_intensity(third)[0].percent == Decimal("33.3")
    two = [DoseLine(1, day(1), "X", Decimal(3), GIVEN, Decimal(2))]
    assert dose_intensity(two)[0].percent == Decimal("66.7")
    none = [DoseLine(1, day(1), "X", None, GIVEN, Decimal(2))]
    assert dose_intensity(none)[0].percent is None  # nothing planned: no percentage


def test_planned_and_given_as_planned_is_no_exception() -> None:
    line = DoseLine(1, day(1), "X", Decimal(3), GIVEN, Decimal(3))
    assert not line.exception and not line.modified
    assert DoseLine(1, day(1), "X", Decimal(3), GIVEN).exception is False
