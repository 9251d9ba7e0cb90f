"""CTCAE v5.0 electrolytes: clinical facts raise the grade, CTCAE's own mg/dL column, and a
result with no value (issue 13, rules §3). Every boundary is worked by hand from the CTCAE
v5.0 text in the comment above it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from clinic_app.core.ctcae import RaisingFact, grade_lab
from clinic_app.core.errors import DomainError

D = Decimal
CA = "calcium_corrected"


# CTCAE v5.0 Hypercalcemia: G2 "symptomatic", G3 "hospitalization indicated",
# G4 "life-threatening consequences". 2.7 mmol/L with ULN 2.6 is > ULN, <= 2.9: grade 1 by
# the value; each fact lifts it to its grade (BPD DLT: grade 3 non-haematological).
@pytest.mark.parametrize(
    ("fact", "grade"),
    [("symptomatic", 2), ("hospitalisation_indicated", 3), ("life_threatening", 4)],
)
def test_hypercalcaemia_facts_raise_the_grade(fact: str, grade: int) -> None:
    result = grade_lab(CA, D("2.7"), "mmol/L", D("2.1"), D("2.6"), facts={fact: True})
    assert (result.term, result.grade, result.lowest_grade) == ("Hypercalcemia", grade, grade)


def test_hospitalisation_indicated_hypercalcaemia_is_grade_3_and_says_why() -> None:
    result = grade_lab(
        CA, D("2.7"), "mmol/L", D("2.1"), D("2.6"), facts={"hospitalisation_indicated": True}
    )
    assert result.grade == 3
    assert "hospitalisation indicated: grade 3" in result.explanation
    # Still unknown: life-threatening (grade 4) is offered; a fact answered "no" is not.
    assert result.raisable_by == (RaisingFact("life_threatening", 4),)
    answered = grade_lab(
        CA,
        D("2.7"),
        "mmol/L",
        D("2.1"),
        D("2.6"),
        facts={"hospitalisation_indicated": True, "life_threatening": False},
    )
    assert answered.raisable_by == ()


def test_a_fact_never_lowers_the_grade_nor_makes_a_normal_value_a_grade() -> None:
    # 3.5 mmol/L > 3.4: grade 4 by the value; "symptomatic" (grade 2) leaves it at 4.
    severe = grade_lab(CA, D("3.5"), "mmol/L", D("2.1"), D("2.6"), facts={"symptomatic": True})
    assert severe.grade == 4
    # 2.5 mmol/L is within 2.1-2.6: grade 0 whatever the facts (the term needs the value).
    normal = grade_lab(CA, D("2.5"), "mmol/L", D("2.1"), D("2.6"), facts={"life_threatening": True})
    assert normal.grade == 0


# Hypocalcemia: G2 symptomatic, G3 hospitalization indicated, G4 life-threatening.
# 2.05 mmol/L < LLN 2.1, >= 2.0: grade 1 by the value.
def test_hypocalcaemia_facts() -> None:
    base = grade_lab(CA, D("2.05"), "mmol/L", D("2.1"), D("2.6"))
    assert base.grade == 1
    assert base.raisable_by == (
        RaisingFact("symptomatic", 2),
        RaisingFact("hospitalisation_indicated", 3),
        RaisingFact("life_threatening", 4),
    )
    raised = grade_lab(
        CA, D("2.05"), "mmol/L", D("2.1"), D("2.6"), facts={"hospitalisation_indicated": True}
    )
    assert raised.grade == 3


# Hyperkalemia: G2 ">5.5-6.0; intervention initiated", G3 "hospitalization indicated",
# G4 "life-threatening". 5.3 > ULN 5.1, <= 5.5: grade 1.
# Hypokalemia: G2 "symptomatic with <LLN-3.0; intervention indicated", G3 "<3.0-2.5;
# hospitalization indicated", G4 life-threatening. 3.2 < LLN 3.5, >= 3.0: grade 1.
@pytest.mark.parametrize(
    ("value", "fact", "term", "grade"),
    [
        ("5.3", "intervention_indicated", "Hyperkalemia", 2),
        ("5.3", "hospitalisation_indicated", "Hyperkalemia", 3),
        ("5.3", "life_threatening", "Hyperkalemia", 4),
        ("3.2", "symptomatic", "Hypokalemia", 2),
        ("3.2", "intervention_indicated", "Hypokalemia", 2),
        ("3.2", "hospitalisation_indicated", "Hypokalemia", 3),
        ("3.2", "life_threatening", "Hypokalemia", 4),
        # Hyperkalemia has no "symptomatic" criterion: stays grade 1.
        ("5.3", "symptomatic", "Hyperkalemia", 1),
    ],
)
def test_potassium_facts(value: str, fact: str, term: str, grade: int) -> None:
    result = grade_lab("potassium", D(value), "mmol/L", D("3.5"), D("5.1"), facts={fact: True})
    assert (result.term, result.grade) == (term, grade)


# Hypernatremia: G2 ">150-155; intervention initiated", G3 "hospitalization indicated",
# G4 life-threatening. 148 > ULN 145, <= 150: grade 1.
# Hyponatremia: G2 "125-129 and asymptomatic", G3 "125-129 symptomatic", G4 "<120;
# life-threatening". 127: grade 2, symptomatic -> 3. 132 (<LLN-130): grade 1, and
# "symptomatic" has no criterion there, so it stays 1; life-threatening -> 4.
@pytest.mark.parametrize(
    ("value", "fact", "term", "grade"),
    [
        ("148", "intervention_indicated", "Hypernatremia", 2),
        ("148", "hospitalisation_indicated", "Hypernatremia", 3),
        ("148", "life_threatening", "Hypernatremia", 4),
        ("127", "symptomatic", "Hyponatremia", 3),
        ("132", "symptomatic", "Hyponatremia", 1),
        ("132", "life_threatening", "Hyponatremia", 4),
        ("132", "hospitalisation_indicated", "Hyponatremia", 1),
    ],
)
def test_sodium_facts(value: str, fact: str, term: str, grade: int) -> None:
    result = grade_lab("sodium", D(value), "mmol/L", D("135"), D("145"), facts={fact: True})
    assert (result.term, result.grade) == (term, grade)


def test_hyponatraemia_answered_asymptomatic_is_grade_2_for_certain() -> None:
    result = grade_lab(
        "sodium", D("127"), "mmol/L", D("135"), D("145"), facts={"symptomatic": False}
    )
    assert result.grade == 2
    assert result.raisable_by == (RaisingFact("life_threatening", 4),)


# Hypomagnesemia: G4 "<0.3 mmol/L; life-threatening consequences". 0.6 < LLN 0.7: grade 1.
def test_hypomagnesaemia_life_threatening() -> None:
    result = grade_lab(
        "magnesium", D("0.6"), "mmol/L", D("0.7"), D("1.0"), facts={"life_threatening": True}
    )
    assert result.grade == 4


# --- CTCAE's own mg/dL column (not an exact conversion of the SI one) ------------------------
# Hypercalcemia mg/dL: G1 >ULN-11.5, G2 >11.5-12.5, G3 >12.5-13.5, G4 >13.5 (ULN 10.2).
# Converted (x 0.2495) these would read: 11.6 -> 2.8942 (<= 2.9: G1), 12.5 -> 3.11875
# (> 3.1: G3), 13.5 -> 3.36825 (G3), 13.6 -> 3.3932 (<= 3.4: G3).
@pytest.mark.parametrize(
    ("value", "grade"),
    [
        ("10.2", 0),
        ("10.3", 1),
        ("11.5", 1),
        ("11.6", 2),
        ("12.5", 2),
        ("12.6", 3),
        ("13.5", 3),
        ("13.6", 4),
    ],
)
def test_hypercalcaemia_in_mg_dl_uses_the_mg_dl_column(value: str, grade: int) -> None:
    result = grade_lab(CA, D(value), "mg/dL", D("8.6"), D("10.2"))
    assert result.grade == grade


def test_13_6_mg_dl_is_grade_4_but_its_si_conversion_is_grade_3() -> None:
    mg = grade_lab(CA, D("13.6"), "mg/dL", D("8.6"), D("10.2"))
    # 13.6 x 0.2495 = 3.3932 mmol/L; 3.1 < 3.3932 <= 3.4: grade 3 in the SI column.
    si = grade_lab(CA, D("3.3932"), "mmol/L", D("2.15"), D("2.55"))
    assert (mg.grade, si.grade) == (4, 3)
    assert mg.value_si == D("3.3932")
    assert "> 13.5" in mg.explanation


# Hypocalcemia mg/dL: G1 <LLN-8.0, G2 <8.0-7.0, G3 <7.0-6.0, G4 <6.0 (LLN 8.6).
# Converted: 8.0 -> 1.996 (< 2.0: G2), 7.0 -> 1.7465 (< 1.75: G3), 6.0 -> 1.497 (G4).
@pytest.mark.parametrize(
    ("value", "grade"),
    [
        ("8.6", 0),
        ("8.5", 1),
        ("8.0", 1),
        ("7.9", 2),
        ("7.0", 2),
        ("6.9", 3),
        ("6.0", 3),
        ("5.9", 4),
    ],
)
def test_hypocalcaemia_in_mg_dl_uses_the_mg_dl_column(value: str, grade: int) -> None:
    assert grade_lab(CA, D(value), "mg/dL", D("8.6"), D("10.2")).grade == grade


# Hypomagnesemia mg/dL: G1 <LLN-1.2, G2 <1.2-0.9, G3 <0.9-0.7, G4 <0.7 (LLN 1.7).
# Converted (x 0.4114): 1.2 -> 0.49368 (< 0.5: G2), 0.9 -> 0.37026 (< 0.4: G3),
# 0.7 -> 0.28798 (< 0.3: G4).
@pytest.mark.parametrize(
    ("value", "grade"),
    [
        ("1.7", 0),
        ("1.6", 1),
        ("1.2", 1),
        ("1.1", 2),
        ("0.9", 2),
        ("0.8", 3),
        ("0.7", 3),
        ("0.6", 4),
    ],
)
def test_hypomagnesaemia_in_mg_dl_uses_the_mg_dl_column(value: str, grade: int) -> None:
    assert grade_lab("magnesium", D(value), "mg/dL", D("1.7"), D("2.4")).grade == grade


# The SI column keeps its own boundaries: 0.5 mmol/L is not < 0.5 (G1), 0.49 is (G2).
@pytest.mark.parametrize(("value", "grade"), [("0.5", 1), ("0.49", 2), ("0.4", 2), ("0.39", 3)])
def test_hypomagnesaemia_in_mmol_l_uses_the_si_column(value: str, grade: int) -> None:
    assert grade_lab("magnesium", D(value), "mmol/L", D("0.7"), D("1.0")).grade == grade


# --- a result with no value -----------------------------------------------------------------
def test_grading_no_value_names_the_field() -> None:
    with pytest.raises(DomainError) as error:
        grade_lab("potassium", None, "mmol/L", D("3.5"), D("5.1"))
    assert error.value.field == "value"
    assert "Potassium" in error.value.message
