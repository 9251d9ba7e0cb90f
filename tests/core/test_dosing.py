"""BSA, Cockcroft-Gault, mg/m² rounding, unit counts and the weight-change flag (rules §2)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinic_app.core.dosing import (
    body_surface_area,
    cockcroft_gault,
    round_bsa_dose,
    split_into_units,
    step_down,
    weight_change,
)
from clinic_app.core.errors import DomainError
from clinic_app.core.ismp import format_number, format_quantity
from clinic_app.core.records import Patient, Sex

D = Decimal


def test_mosteller_by_hand() -> None:
    # sqrt(180 * 90 / 3600) = sqrt(4.5) = 2.12132 -> 2.12; no cap at 2.0 m² (ASCO)
    bsa = body_surface_area(D(180), D(90))
    assert bsa.m2 == D("2.12")
    assert abs(bsa.exact_m2 - D("2.121320343559642573202533086")) < D("1e-20")
    assert "Mosteller" in bsa.describe() and "180 cm" in bsa.describe()


def test_dubois_by_hand() -> None:
    # 0.007184 * 70^0.425 * 170^0.725 = 0.007184 * 6.08354 * 41.4125 = 1.80990 -> 1.81
    bsa = body_surface_area(D(170), D(70), "dubois")
    assert abs(bsa.exact_m2 - D("1.8099")) < D("0.0002")
    assert bsa.m2 == D("1.81")


def test_bsa_rounds_half_up_at_two_decimals() -> None:
    # sqrt(h * w / 3600) = 1.825 exactly when h * w = 1.825^2 * 3600 = 11990.25; h = 159.87, w = 75
    assert body_surface_area(D("159.87"), D(75)).m2 == D("1.83")


@pytest.mark.parametrize(
    ("height", "weight", "field", "text"),
    [
        (D(-170), D(70), "height_cm", "positive"),
        (D(170), D(0), "weight_kg", "positive"),
        (D(170), D(-70), "weight_kg", "positive"),
        (D(17), D(70), "height_cm", "plausible range 100-250 cm"),
        (D(1700), D(70), "height_cm", "plausible range"),
        (D(170), D(700), "weight_kg", "plausible range 25-300 kg"),
    ],
)
def test_bsa_refuses_absurd_body_measurements(
    height: Decimal, weight: Decimal, field: str, text: str
) -> None:
    with pytest.raises(DomainError, match=text) as caught:
        body_surface_area(height, weight)
    assert caught.value.field == field


def test_cockcroft_gault_by_hand() -> None:
    # (140 - 70) * 60 / (72 * 1.2) = 4200 / 86.4 = 48.611... mL/min, kept exact; shown 48.6
    male = cockcroft_gault(70, D(60), D("1.2"), Sex.MALE)
    assert male.ml_min == D(4200) / D("86.4") and male.shown_ml_min == D("48.6")
    # female: 48.611 * 0.85 = 41.319 -> shown 41.3
    female = cockcroft_gault(70, D(60), D("1.2"), Sex.FEMALE)
    assert female.ml_min == D(4200) / D("86.4") * D("0.85") and female.shown_ml_min == D("41.3")
    # µmol/L: 106.08 / 88.4 = 1.2 mg/dL -> the same 48.611...
    assert cockcroft_gault(70, D(60), D("106.08"), Sex.MALE, "umol/L").ml_min == male.ml_min


def test_crcl_near_the_dextr_maintenance_threshold() -> None:
    # (140 - 75) * 55 / (72 * 1.24) = 3575 / 89.28 = 40.04 (not < 40), shown 40
    above = cockcroft_gault(75, D(55), D("1.24"), Sex.MALE)
    assert not above.ml_min < 40 and above.shown_ml_min == D("40.0")
    # (140 - 75) * 55 / (72 * 1.25) = 3575 / 90 = 39.72 (< 40), shown 39.7
    below = cockcroft_gault(75, D(55), D("1.25"), Sex.MALE)
    assert below.ml_min < 40 and below.shown_ml_min == D("39.7")


def test_age_in_whole_years_on_the_lab_day() -> None:
    patient = Patient("M1", "Test", "Ann", date(1960, 6, 15), Sex.FEMALE)
    assert patient.age_on(date(2026, 6, 14)) == 65
    assert patient.age_on(date(2026, 6, 15)) == 66


@pytest.mark.parametrize(
    ("age", "weight", "scr", "unit", "field"),
    [
        (15, D(60), D(1), "mg/dL", "age_years"),
        (130, D(60), D(1), "mg/dL", "age_years"),
        (60, D(60), D(0), "mg/dL", "creatinine"),
        (60, D(60), D(-1), "mg/dL", "creatinine"),
        (60, D(60), D(50), "mg/dL", "creatinine_mg_dl"),  # 50 mg/dL: surely µmol/L typed as mg/dL
        (60, D(60), D(1), "mmol/L", "creatinine_unit"),
        (60, D(-60), D(1), "mg/dL", "weight_kg"),
    ],
)
def test_crcl_refuses_bad_input(
    age: int, weight: Decimal, scr: Decimal, unit: str, field: str
) -> None:
    with pytest.raises(DomainError) as caught:
        cockcroft_gault(age, weight, scr, Sex.MALE, unit)
    assert caught.value.field == field


def test_rounding_at_and_beyond_ten_percent() -> None:
    # 100 mg/m² x 1 m² = 100 mg; increment 110 -> 110 mg: +10 % exactly, allowed
    assert round_bsa_dose(D(100), D(1), D(110), D(10)).rounded_mg == D(110)
    # 99.9 mg -> 110 mg: +10.11 %, refused
    with pytest.raises(DomainError, match="more than the 10 % allowed"):
        round_bsa_dose(D("99.9"), D(1), D(110), D(10))


def test_rounding_half_up_to_the_increment() -> None:
    # 120 x 1.85 = 222 -> 220; 120 x 1.875 = 225 exactly stays; 150 x 1.75 = 262.5 -> 265 (half up)
    assert round_bsa_dose(D(120), D("1.85"), D(5), D(10)).rounded_mg == D(220)
    assert round_bsa_dose(D(150), D("1.75"), D(5), D(10)).rounded_mg == D(265)


def test_fewest_units() -> None:
    lenalidomide = [D("2.5"), D(5), D(10), D(15), D(20), D(25)]
    assert split_into_units(D(25), lenalidomide) == ((D(25), 1),)
    assert split_into_units(D(35), lenalidomide) == ((D(25), 1), (D(10), 1))
    thalidomide = [D(50), D(100), D(150), D(200)]
    assert split_into_units(D(300), thalidomide) == ((D(200), 1), (D(100), 1))
    # 12 mg from 4 and 20 is impossible? 4 x 3 = 12: three tablets
    assert split_into_units(D(12), [D(4), D(20)]) == ((D(4), 3),)
    with pytest.raises(DomainError, match="cannot be made"):
        split_into_units(D(3), [D(2), D(4)])


@given(st.integers(min_value=1, max_value=60))
def test_units_always_add_up_to_the_dose(steps: int) -> None:
    dose = D(steps) * D("2.5")  # every multiple of the smallest capsule can be made
    units = split_into_units(dose, [D("2.5"), D(5), D(10), D(15), D(20), D(25)])
    assert sum(s * n for s, n in units) == dose


def test_weight_change_flag_at_ten_percent() -> None:
    assert weight_change(D(80), D(88), D(10)).needs_recalculation  # +10 % exactly
    assert not weight_change(D(80), D("87.9"), D(10)).needs_recalculation  # +9.875 %
    change = weight_change(D(80), D(72), D(10))  # -10 %
    assert change.needs_recalculation
    assert (
        change.describe()
        == "Weight 72 kg is 10 % down from 80 kg behind the last BSA; recalculate the BSA."
    )


def test_reduction_ladder() -> None:
    ladder = [D(25), D(20), D(15), D(10), D(5), D("2.5")]
    assert step_down(ladder, D(20), unit="mg") == D(15)
    assert step_down(ladder, D(5), unit="mg") == D("2.5")
    with pytest.raises(DomainError, match=r"2\.5 mg is already at or below the lowest step"):
        step_down(ladder, D("2.5"), unit="mg")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (D("5.0"), "5"),
        (D("0.5"), "0.5"),
        (D(".5"), "0.5"),
        (D(1000), "1,000"),
        (D("2450.00"), "2,450"),
        (D("999.90"), "999.9"),
        (D("1E+3"), "1,000"),
        (D(0), "0"),
        (D("12345.678"), "12,345.678"),
    ],
)
def test_ismp_numbers(value: Decimal, text: str) -> None:
    assert format_number(value) == text


def test_ismp_units() -> None:
    assert format_quantity(D("0.50"), "mg") == "0.5 mg"
    assert format_quantity(D(250), "µg") == "250 mcg"


def test_printed_bsa_has_no_trailing_zero() -> None:
    # rules §8: never a trailing zero; sqrt(170 * 61.2 / 3600) = sqrt(2.89) = 1.70 exactly
    bsa = body_surface_area(D(170), D("61.2"))
    assert bsa.m2 == D("1.70")
    assert bsa.describe().startswith("BSA 1.7 m² (Mosteller")
    dose = round_bsa_dose(D(180), bsa.m2, D(5), D(10))
    assert dose.describe() == "180 mg/m² × 1.7 m² = 306 mg, rounded to 305 mg (-0.3 %)"
