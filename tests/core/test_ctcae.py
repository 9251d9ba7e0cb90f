"""CTCAE v5.0 lab grading (rules §3), boundaries worked by hand, and febrile neutropenia."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clinic_app.core.ctcae import (
    FebrileNeutropeniaCriteria,
    GradingTable,
    RaisingFact,
    default_grading_table,
    grade_febrile_neutropenia,
    grade_lab,
)
from clinic_app.core.errors import DomainError, MissingDataError, ProtocolError
from clinic_app.core.records import TemperatureReading

D = Decimal
X9 = "10^9/L"


def grade_of(test: str, value: str, unit: str, **limits: str) -> int | None:
    return grade_lab(test, D(value), unit, **{k: D(v) for k, v in limits.items()}).grade


# CTCAE v5.0: Neutrophil count decreased. G1 <LLN-1.5, G2 <1.5-1.0, G3 <1.0-0.5, G4 <0.5.
# With LLN 2.0: 2.0 is not below LLN (G0); 1.5 is not < 1.5 (G1); 1.0 is not < 1.0 (G2) ...
@pytest.mark.parametrize(
    ("value", "grade"),
    [
        ("2.0", 0),
        ("1.99", 1),
        ("1.5", 1),
        ("1.49", 2),
        ("1.0", 2),
        ("0.99", 3),
        ("0.5", 3),
        ("0.49", 4),
        ("0", 4),
    ],
)
def test_neutrophils(value: str, grade: int) -> None:
    assert grade_of("anc", value, X9, lln="2.0") == grade


def test_neutrophil_explanation() -> None:
    result = grade_lab("anc", D("0.4"), X9)
    assert result.term == "Neutrophil count decreased"
    assert result.explanation == "ANC 0.4 ×10⁹/L < 0.5: grade 4"
    assert grade_lab("anc", D("1.7"), X9, lln=D("2")).explanation == (
        "ANC 1.7 ×10⁹/L < LLN 2: grade 1"
    )


def test_without_lln_grade_2_is_still_known_but_grade_0_or_1_is_not() -> None:
    # 1.2 < 1.5: grade 2 whatever the LLN.
    assert grade_of("anc", "1.2", X9) == 2
    # 1.7 is >= 1.5: grade 1 if below the LLN, else 0 - unknown without it.
    result = grade_lab("anc", D("1.7"), X9)
    assert result.grade is None
    assert not result.is_graded
    assert result.lowest_grade == 0
    assert result.missing == ("LLN",)
    assert "needs the lab's LLN" in result.explanation


# CTCAE v5.0: Platelet count decreased. G1 <LLN-75, G2 <75-50, G3 <50-25, G4 <25.
@pytest.mark.parametrize(
    ("value", "grade"),
    [("150", 0), ("149", 1), ("75", 1), ("74", 2), ("50", 2), ("49", 3), ("25", 3), ("24", 4)],
)
def test_platelets(value: str, grade: int) -> None:
    assert grade_of("platelets", value, X9, lln="150") == grade


def test_platelets_in_conventional_units() -> None:
    # 24 x10^3/uL == 24 x10^9/L < 25: grade 4
    assert grade_of("platelets", "24", "10^3/uL", lln="150") == 4


# CTCAE v5.0: White blood cell decreased. G1 <LLN-3.0, G2 <3.0-2.0, G3 <2.0-1.0, G4 <1.0.
@pytest.mark.parametrize(
    ("value", "grade"),
    [("4.0", 0), ("3.0", 1), ("2.99", 2), ("2.0", 2), ("1.99", 3), ("1.0", 3), ("0.99", 4)],
)
def test_white_cells(value: str, grade: int) -> None:
    assert grade_of("wbc", value, X9, lln="4.0") == grade


# CTCAE v5.0: Lymphocyte count decreased. G1 <LLN-0.8, G2 <0.8-0.5, G3 <0.5-0.2, G4 <0.2.
@pytest.mark.parametrize(
    ("value", "grade"),
    [("1.0", 0), ("0.8", 1), ("0.79", 2), ("0.5", 2), ("0.49", 3), ("0.2", 3), ("0.19", 4)],
)
def test_lymphocytes(value: str, grade: int) -> None:
    assert grade_of("lymphocytes", value, X9, lln="1.0") == grade


# CTCAE v5.0: Anemia. G1 <LLN-100 g/L, G2 <100-80, G3 <80 or transfusion indicated,
# G4 life-threatening (clinical only).
@pytest.mark.parametrize(
    ("value", "grade"),
    [("120", 0), ("119", 1), ("100", 1), ("99", 2), ("80", 2), ("79", 3), ("30", 3)],
)
def test_anemia(value: str, grade: int) -> None:
    assert grade_of("hemoglobin", value, "g/L", lln="120") == grade


def test_anemia_in_g_dl_and_what_can_raise_it() -> None:
    # 9.5 g/dL x 10 = 95 g/L: < 100 -> grade 2; transfusion would make it 3, life-threat 4.
    result = grade_lab("hemoglobin", D("9.5"), "g/dL", lln=D("12"))
    assert (result.grade, result.value_si, result.unit_si) == (2, D("95"), "g/L")
    assert result.raisable_by == (
        RaisingFact("transfusion indicated", 3),
        RaisingFact("life-threatening consequences; urgent intervention indicated", 4),
    )
    assert result.explanation == "Hgb 9.5 g/dL (95 g/L) < 100: grade 2"
    # 7.9 g/dL = 79 g/L < 80 -> grade 3; only the grade-4 fact can still raise it.
    severe = grade_lab("hemoglobin", D("7.9"), "g/dL", lln=D("12"))
    assert severe.grade == 3
    assert [f.grade for f in severe.raisable_by] == [4]
    # Within limits: not anemia at all, nothing to ask.
    assert grade_lab("hemoglobin", D("13"), "g/dL", lln=D("12")).raisable_by == ()


# CTCAE v5.0: Creatinine increased. G1 >ULN-1.5xULN; G2 >1.5-3.0xULN or >1.5-3.0x baseline;
# G3 >3.0x baseline or >3.0-6.0xULN; G4 >6.0xULN. ULN 100, baseline 100 (so both agree):
# 1.5x = 150, 3x = 300, 6x = 600.
@pytest.mark.parametrize(
    ("value", "grade"),
    [
        ("100", 0),
        ("101", 1),
        ("150", 1),
        ("151", 2),
        ("300", 2),
        ("301", 3),
        ("600", 3),
        ("601", 4),
    ],
)
def test_creatinine_by_uln(value: str, grade: int) -> None:
    assert grade_of("creatinine", value, "umol/L", uln="100", baseline="100") == grade


def test_creatinine_takes_the_higher_of_uln_and_baseline_grades() -> None:
    # Baseline 50: 1.5 x 50 = 75, 3 x 50 = 150. ULN 100.
    # 80 > 75 -> G2 by baseline, although under the ULN (CTCAE v5.0 as written).
    assert grade_of("creatinine", "80", "umol/L", uln="100", baseline="50") == 2
    # 151 > 150 = 3 x baseline -> G3; by ULN alone (151 > 150 = 1.5 x ULN) it is G2.
    result = grade_lab("creatinine", D("151"), "umol/L", uln=D("100"), baseline=D("50"))
    assert result.grade == 3
    assert result.explanation == "Creatinine 151 µmol/L > 3 × baseline (150): grade 3"
    # mg/dL: 1.2 x 88.4 = 106.08; 1.5 x 0.7 x 88.4 = 92.82 -> 106.08 > 92.82 -> G2.
    converted = grade_lab("creatinine", D("1.2"), "mg/dL", uln=D("1.1"), baseline=D("0.7"))
    assert (converted.grade, converted.value_si) == (2, D("106.08"))


def test_creatinine_without_baseline() -> None:
    # 120 > ULN 100 is at least G1; 1.5 x baseline could make it G2 or G3: unknown.
    result = grade_lab("creatinine", D("120"), "umol/L", uln=D("100"))
    assert result.grade is None
    assert (result.lowest_grade, result.missing) == (1, ("baseline",))
    # 601 > 6 x 100: grade 4 whatever the baseline.
    assert grade_of("creatinine", "601", "umol/L", uln="100") == 4


# CTCAE v5.0: ALT increased, baseline normal: G1 >ULN-3.0xULN, G2 >3.0-5.0, G3 >5.0-20.0,
# G4 >20.0 x ULN. ULN 40 -> 3x = 120, 5x = 200, 20x = 800. Baseline 30 <= 40: normal.
@pytest.mark.parametrize("test", ["alt", "ast"])
@pytest.mark.parametrize(
    ("value", "grade"),
    [
        ("40", 0),
        ("41", 1),
        ("120", 1),
        ("121", 2),
        ("200", 2),
        ("201", 3),
        ("800", 3),
        ("801", 4),
    ],
)
def test_transaminases_normal_baseline(test: str, value: str, grade: int) -> None:
    assert grade_of(test, value, "U/L", uln="40", baseline="30") == grade


# CTCAE v5.0, baseline abnormal: G1 1.5-3.0 x baseline (1.5 itself included, no ">" in the
# text), G2 >3.0-5.0, G3 >5.0-20.0, G4 >20.0 x baseline. Baseline 60 > ULN 40:
# 1.5x = 90, 3x = 180, 5x = 300, 20x = 1200.
@pytest.mark.parametrize("test", ["alt", "ast"])
@pytest.mark.parametrize(
    ("value", "grade"),
    [
        ("89", 0),
        ("90", 1),
        ("180", 1),
        ("181", 2),
        ("300", 2),
        ("301", 3),
        ("1200", 3),
        ("1201", 4),
    ],
)
def test_transaminases_abnormal_baseline(test: str, value: str, grade: int) -> None:
    assert grade_of(test, value, "U/L", uln="40", baseline="60") == grade


def test_transaminase_without_baseline_says_so() -> None:
    result = grade_lab("alt", D("130"), "U/L", uln=D("40"))
    assert result.grade is None
    assert result.missing == ("baseline",)
    # 130 > 3 x 40 = 120: grade 2 if the baseline was normal.
    assert "grade 2 if the baseline was within limits" in result.explanation
    # At or below the ULN it is grade 0 whatever the baseline.
    assert grade_of("alt", "35", "U/L", uln="40") == 0
    # Without the ULN nothing can be said.
    assert grade_lab("alt", D("35"), "U/L").missing == ("ULN",)


# CTCAE v5.0: Blood bilirubin increased. Baseline normal: G1 >ULN-1.5xULN, G2 >1.5-3.0,
# G3 >3.0-10.0, G4 >10.0 x ULN; ULN 20 -> 30, 60, 200.
@pytest.mark.parametrize(
    ("value", "grade"),
    [("20", 0), ("21", 1), ("30", 1), ("31", 2), ("60", 2), ("61", 3), ("200", 3), ("201", 4)],
)
def test_bilirubin_normal_baseline(value: str, grade: int) -> None:
    assert grade_of("bilirubin", value, "umol/L", uln="20", baseline="10") == grade


# Baseline abnormal: G1 >1.0-1.5, G2 >1.5-3.0, G3 >3.0-10.0, G4 >10.0 x baseline.
# Baseline 30 > ULN 20 -> 30, 45, 90, 300.
@pytest.mark.parametrize(
    ("value", "grade"),
    [("30", 0), ("31", 1), ("45", 1), ("46", 2), ("90", 2), ("91", 3), ("300", 3), ("301", 4)],
)
def test_bilirubin_abnormal_baseline(value: str, grade: int) -> None:
    assert grade_of("bilirubin", value, "umol/L", uln="20", baseline="30") == grade


def test_bilirubin_in_mg_dl() -> None:
    # 2 mg/dL x 17.1 = 34.2 umol/L; ULN 1.2 mg/dL = 20.52; 1.5 x 20.52 = 30.78 < 34.2 <= 61.56
    assert grade_of("bilirubin", "2", "mg/dL", uln="1.2", baseline="0.8") == 2


# Corrected calcium, LLN 2.1, ULN 2.6 mmol/L. Hypercalcemia: G1 >ULN-2.9, G2 >2.9-3.1,
# G3 >3.1-3.4, G4 >3.4. Hypocalcemia: G1 <LLN-2.0, G2 <2.0-1.75, G3 <1.75-1.5, G4 <1.5.
@pytest.mark.parametrize(
    ("value", "term", "grade"),
    [
        ("2.6", "Hypercalcemia / Hypocalcemia", 0),
        ("2.61", "Hypercalcemia", 1),
        ("2.9", "Hypercalcemia", 1),
        ("2.91", "Hypercalcemia", 2),
        ("3.1", "Hypercalcemia", 2),
        ("3.11", "Hypercalcemia", 3),
        ("3.4", "Hypercalcemia", 3),
        ("3.41", "Hypercalcemia", 4),
        ("2.1", "Hypercalcemia / Hypocalcemia", 0),
        ("2.09", "Hypocalcemia", 1),
        ("2.0", "Hypocalcemia", 1),
        ("1.99", "Hypocalcemia", 2),
        ("1.75", "Hypocalcemia", 2),
        ("1.74", "Hypocalcemia", 3),
        ("1.5", "Hypocalcemia", 3),
        ("1.49", "Hypocalcemia", 4),
    ],
)
def test_calcium(value: str, term: str, grade: int) -> None:
    result = grade_lab("calcium_corrected", D(value), "mmol/L", lln=D("2.1"), uln=D("2.6"))
    assert (result.term, result.grade) == (term, grade)


def test_calcium_in_mg_dl() -> None:
    # 12 mg/dL x 0.2495 = 2.994 mmol/L > 2.9: hypercalcemia grade 2 (limits not needed).
    result = grade_lab("calcium_corrected", D("12"), "mg/dL")
    assert (result.term, result.grade, result.value_si) == ("Hypercalcemia", 2, D("2.994"))
    # 2.4 mmol/L without limits: could be normal, or grade 1 either way.
    unknown = grade_lab("calcium_corrected", D("2.4"), "mmol/L")
    assert unknown.grade is None
    assert set(unknown.missing) == {"LLN", "ULN"}


# Potassium, LLN 3.5, ULN 5.1. Hyperkalemia: G1 >ULN-5.5, G2 >5.5-6.0, G3 >6.0-7.0, G4 >7.0.
# Hypokalemia: G1 <LLN-3.0, G2 symptomatic with <LLN-3.0, G3 <3.0-2.5, G4 <2.5.
@pytest.mark.parametrize(
    ("value", "term", "grade"),
    [
        ("5.5", "Hyperkalemia", 1),
        ("5.51", "Hyperkalemia", 2),
        ("6.0", "Hyperkalemia", 2),
        ("6.01", "Hyperkalemia", 3),
        ("7.0", "Hyperkalemia", 3),
        ("7.01", "Hyperkalemia", 4),
        ("3.4", "Hypokalemia", 1),
        ("3.0", "Hypokalemia", 1),
        ("2.99", "Hypokalemia", 3),
        ("2.5", "Hypokalemia", 3),
        ("2.49", "Hypokalemia", 4),
    ],
)
def test_potassium(value: str, term: str, grade: int) -> None:
    result = grade_lab("potassium", D(value), "mmol/L", lln=D("3.5"), uln=D("5.1"))
    assert (result.term, result.grade) == (term, grade)


def test_hypokalemia_symptoms_raise_grade_1_to_2_only() -> None:
    # CTCAE v5.0: G2 "symptomatic with <LLN-3.0; intervention indicated", G3 "hospitalization
    # indicated", G4 "life-threatening consequences".
    mild = grade_lab("potassium", D("3.2"), "mEq/L", lln=D("3.5"), uln=D("5.1"))
    assert mild.raisable_by == (
        RaisingFact("symptomatic", 2),
        RaisingFact("intervention_indicated", 2),
        RaisingFact("hospitalisation_indicated", 3),
        RaisingFact("life_threatening", 4),
    )
    severe = grade_lab("potassium", D("2.8"), "mmol/L", lln=D("3.5"), uln=D("5.1"))
    assert severe.raisable_by == (RaisingFact("life_threatening", 4),)


# Sodium, LLN 135, ULN 145. Hypernatremia: G1 >ULN-150, G2 >150-155, G3 >155-160, G4 >160.
# Hyponatremia: G1 <LLN-130, G2 125-129 asymptomatic, G3 125-129 symptomatic or 120-124,
# G4 <120.
@pytest.mark.parametrize(
    ("value", "term", "grade"),
    [
        ("150", "Hypernatremia", 1),
        ("151", "Hypernatremia", 2),
        ("155", "Hypernatremia", 2),
        ("156", "Hypernatremia", 3),
        ("160", "Hypernatremia", 3),
        ("161", "Hypernatremia", 4),
        ("134", "Hyponatremia", 1),
        ("130", "Hyponatremia", 1),
        ("129", "Hyponatremia", 2),
        ("125", "Hyponatremia", 2),
        ("124", "Hyponatremia", 3),
        ("120", "Hyponatremia", 3),
        ("119", "Hyponatremia", 4),
    ],
)
def test_sodium(value: str, term: str, grade: int) -> None:
    result = grade_lab("sodium", D(value), "mmol/L", lln=D("135"), uln=D("145"))
    assert (result.term, result.grade) == (term, grade)


def test_hyponatremia_125_to_129_is_raisable_by_symptoms() -> None:
    result = grade_lab("sodium", D("127"), "mmol/L", lln=D("135"), uln=D("145"))
    assert result.grade == 2
    assert result.raisable_by == (RaisingFact("symptomatic", 3), RaisingFact("life_threatening", 4))
    # 130-134 is grade 1: symptoms do not change it by the table (only life-threatening, G4).
    only_g4 = (RaisingFact("life_threatening", 4),)
    assert grade_lab("sodium", D("132"), "mmol/L", lln=D("135")).raisable_by == only_g4
    # 120-124 is grade 3 already.
    assert grade_lab("sodium", D("122"), "mmol/L").raisable_by == only_g4


# CTCAE v5.0: Hypomagnesemia. G1 <LLN-0.5, G2 <0.5-0.4, G3 <0.4-0.3, G4 <0.3 mmol/L.
@pytest.mark.parametrize(
    ("value", "grade"),
    [("0.7", 0), ("0.5", 1), ("0.49", 2), ("0.4", 2), ("0.39", 3), ("0.3", 3), ("0.29", 4)],
)
def test_hypomagnesemia(value: str, grade: int) -> None:
    assert grade_of("magnesium", value, "mmol/L", lln="0.7") == grade


def test_magnesium_in_mg_dl() -> None:
    # CTCAE's mg/dL column: G1 <LLN-1.2, so 1.2 mg/dL is grade 1 (its exact conversion,
    # 0.49368 mmol/L, would read grade 2 in the mmol/L column).
    assert grade_of("magnesium", "1.2", "mg/dL", lln="1.7") == 1
    assert grade_of("magnesium", "1.19", "mg/dL", lln="1.7") == 2


def test_contradictory_or_unusable_input_is_refused() -> None:
    with pytest.raises(DomainError, match="must be below the ULN") as error:
        grade_lab("sodium", D("140"), "mmol/L", lln=D("145"), uln=D("135"))
    assert error.value.field == "lln"
    with pytest.raises(DomainError, match="no CTCAE lab grading"):
        grade_lab("serum_m_protein", D("2"), "g/dL")
    with pytest.raises(DomainError, match="'mg/dL' is not used for Sodium"):
        grade_lab("sodium", D("140"), "mg/dL")
    with pytest.raises(DomainError, match="LLN"):
        grade_lab("anc", D("1"), X9, lln=D("-1"))


def test_every_rules_table_term_is_graded() -> None:
    names = {term.name for term in default_grading_table().terms}
    assert names == {
        "Neutrophil count decreased",
        "Platelet count decreased",
        "White blood cell decreased",
        "Lymphocyte count decreased",
        "Anemia",
        "Creatinine increased",
        "Alanine aminotransferase increased",
        "Aspartate aminotransferase increased",
        "Blood bilirubin increased",
        "Hypercalcemia",
        "Hypocalcemia",
        "Hyperkalemia",
        "Hypokalemia",
        "Hypernatremia",
        "Hyponatremia",
        "Hypomagnesemia",
    }


def test_grading_table_errors_name_the_key() -> None:
    table = {
        "term": [
            {
                "name": "Neutrophil count decreased",
                "test": "anc",
                "direction": "low",
                "criteria": [{"grade": 1, "bound": "LLN"}, {"grade": 2, "bound": "one"}],
            }
        ]
    }
    with pytest.raises(ProtocolError) as error:
        GradingTable.from_mapping(table, "grading.toml")
    assert error.value.key == "term[Neutrophil count decreased].criteria[1].bound"
    bad_grade = {"term": [{**table["term"][0], "criteria": [{"grade": 5, "bound": "1"}]}]}
    with pytest.raises(ProtocolError, match="1 to 4"):
        GradingTable.from_mapping(bad_grade, "grading.toml")


def test_a_clinic_can_change_a_boundary() -> None:
    table = {
        "term": [
            {
                "name": "Neutrophil count decreased",
                "test": "anc",
                "direction": "low",
                "criteria": [{"grade": 4, "bound": "0.2"}],
            }
        ]
    }
    custom = GradingTable.from_mapping(table, "custom.toml")
    assert grade_lab("anc", D("0.4"), X9, table=custom).grade == 0
    assert grade_lab("anc", D("0.1"), X9, table=custom).grade == 4


# --- monotonicity ---------------------------------------------------------------------------

LIMITS = {
    # test: (unit, lln, uln, baseline), all plausible adult values
    "anc": (X9, "2.0", "7.5", None),
    "platelets": (X9, "150", "400", None),
    "wbc": (X9, "4.0", "11", None),
    "lymphocytes": (X9, "1.0", "4.0", None),
    "hemoglobin": ("g/L", "120", "160", None),
    "creatinine": ("umol/L", "60", "110", "90"),
    "alt": ("U/L", "5", "40", "60"),
    "ast": ("U/L", "5", "35", "20"),
    "bilirubin": ("umol/L", "3", "21", "30"),
    "calcium_corrected": ("mmol/L", "2.1", "2.6", None),
    "potassium": ("mmol/L", "3.5", "5.1", None),
    "sodium": ("mmol/L", "135", "145", None),
    "magnesium": ("mmol/L", "0.7", "1.0", None),
}


def signed_grade(test: str, value: Decimal) -> int:
    """+grade for an increased/hyper term, -grade for a decreased/hypo term."""
    unit, lln, uln, baseline = LIMITS[test]
    result = grade_lab(test, value, unit, D(lln), D(uln), None if baseline is None else D(baseline))
    assert result.grade is not None  # every limit given: always decidable
    low = any(w in result.term for w in ("decreased", "Hypo", "Anemia"))
    return -result.grade if low and result.grade else result.grade


@settings(max_examples=80, deadline=None)
@given(
    st.sampled_from(sorted(LIMITS)),
    st.decimals(min_value=0, max_value=2000, places=2),
    st.decimals(min_value=0, max_value=2000, places=2),
)
def test_grade_is_monotone_in_the_value(test: str, a: Decimal, b: Decimal) -> None:
    low, high = sorted((a, b))
    # Decreased terms: grade does not rise as the value rises; increased terms: it does not
    # fall. One signed scale covers both, and the hyper/hypo pairs.
    assert signed_grade(test, low) <= signed_grade(test, high)


# --- febrile neutropenia --------------------------------------------------------------------

AT = datetime(2025, 3, 4, 8, 0, tzinfo=UTC)


def temp(celsius: str, minutes: int = 0) -> TemperatureReading:
    return TemperatureReading(AT, D(celsius), minutes)


@pytest.mark.parametrize(
    ("anc", "readings", "grade"),
    [
        ("0.9", [temp("38.4")], 3),  # 38.4 > 38.3
        ("0.9", [temp("38.3")], 0),  # 38.3 is not > 38.3, and not sustained
        ("0.9", [temp("38.0", 61)], 3),  # >= 38.0 for 61 min > 60
        ("0.9", [temp("38.0", 60)], 0),  # exactly one hour is not "more than"
        ("0.9", [temp("37.9", 180)], 0),  # below 38.0
        ("1.0", [temp("39.5")], 0),  # ANC 1.0 is not < 1.0
        ("0.99", [temp("37.0"), temp("38.5")], 3),
    ],
)
def test_febrile_neutropenia(anc: str, readings: list[TemperatureReading], grade: int) -> None:
    assert grade_febrile_neutropenia(D(anc), readings).grade == grade


def test_febrile_neutropenia_explains_and_can_be_raised() -> None:
    result = grade_febrile_neutropenia(D("0.4"), [temp("37.2"), temp("38.9")])
    assert result.reading == temp("38.9")
    assert result.explanation == "ANC 0.4 ×10⁹/L < 1 with 38.9 °C > 38.3 °C: grade 3"
    assert [f.grade for f in result.raisable_by] == [4]


def test_febrile_neutropenia_without_temperatures() -> None:
    with pytest.raises(MissingDataError, match="no temperature") as error:
        grade_febrile_neutropenia(D("0.4"), [])
    assert error.value.field == "temperatures"
    # With a normal ANC it is not febrile neutropenia whatever the temperature.
    assert grade_febrile_neutropenia(D("2.0"), []).grade == 0


def test_febrile_neutropenia_criteria_from_protocol_table() -> None:
    default = FebrileNeutropeniaCriteria.from_mapping({}, "p.toml")
    assert default == FebrileNeutropeniaCriteria()
    assert default == default_grading_table().febrile_neutropenia
    stricter = FebrileNeutropeniaCriteria.from_mapping({"anc_below": "0.5"}, "p.toml")
    assert grade_febrile_neutropenia(D("0.9"), [temp("39")], stricter).grade == 0
    with pytest.raises(ProtocolError) as error:
        FebrileNeutropeniaCriteria.from_mapping({"anc_under": "0.5"}, "p.toml")
    assert "anc_under" in error.value.problem
    with pytest.raises(ProtocolError) as error:
        FebrileNeutropeniaCriteria.from_mapping({"sustained_longer_than_minutes": "60"}, "p.toml")
    assert error.value.key == "febrile_neutropenia.sustained_longer_than_minutes"


def test_negative_value_is_refused_not_graded() -> None:
    # A count cannot be below 0: -1 ×10⁹/L is a typing error. Graded, it would read
    # "-1 < 0.5: grade 4" (a false grade 4 neutropenia); it must be refused, naming the field.
    with pytest.raises(DomainError, match="cannot be negative") as error:
        grade_lab("anc", D("-1"), X9, lln=D("1.8"))
    assert error.value.field == "value"
    # 0 is possible (agranulocytosis) and stays grade 4: 0 < 0.5.
    assert grade_of("anc", "0", X9, lln="1.8") == 4


def test_febrile_neutropenia_refuses_a_negative_anc() -> None:
    fever = TemperatureReading(datetime(2024, 1, 5, 8, tzinfo=UTC), D("39.0"))
    with pytest.raises(DomainError, match="cannot be negative") as error:
        grade_febrile_neutropenia(D("-0.2"), [fever])
    assert error.value.field == "anc"
