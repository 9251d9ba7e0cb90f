"""Lab catalogue: LOINC codes, exact unit conversion and plausibility checks."""

from __future__ import annotations

import tomllib
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clinic_app.core.errors import DomainError, ProtocolError
from clinic_app.core.labs import (
    UNIT_PROPERTIES,
    Plausibility,
    check_differential,
    check_plausible,
    convert,
    lab_test,
    lab_tests,
    load_lab_tests,
    resources_dir,
    to_si,
    unit_label,
)

D = Decimal


def test_catalogue_holds_the_form_tests() -> None:
    keys = {t.key for t in lab_tests()}
    assert {
        "anc",
        "platelets",
        "wbc",
        "lymphocytes",
        "hemoglobin",
        "creatinine",
        "alt",
        "ast",
        "bilirubin",
        "calcium_corrected",
        "potassium",
        "sodium",
        "magnesium",
        "serum_m_protein",
        "urine_m_protein",
        "flc_involved",
        "flc_uninvolved",
    } <= keys


# Each code checked by hand against LOINC for what is stored: the SI value_si and the value
# as entered. Mass and substance concentration have different codes (issue 13), and
# corrected calcium is not total calcium (17861-6 is "Calcium [Mass/volume] in S/P").
@pytest.mark.parametrize(
    ("key", "unit", "loinc"),
    [
        ("anc", "10^9/L", "751-8"),  # Neutrophils [#/volume] in Blood by Automated count
        ("anc", "10^3/uL", "751-8"),
        ("platelets", "10^9/L", "777-3"),
        ("wbc", "10^9/L", "6690-2"),
        ("lymphocytes", "10^9/L", "731-0"),
        ("hemoglobin", "g/L", "718-7"),  # Hemoglobin [Mass/volume] in Blood
        ("hemoglobin", "g/dL", "718-7"),
        ("creatinine", "umol/L", "14682-9"),  # Creatinine [Moles/volume] in S/P
        ("creatinine", "mg/dL", "2160-0"),  # Creatinine [Mass/volume] in S/P
        ("alt", "U/L", "1742-6"),
        ("ast", "U/L", "1920-8"),
        ("bilirubin", "umol/L", "14631-6"),  # Bilirubin.total [Moles/volume]
        ("bilirubin", "mg/dL", "1975-2"),  # Bilirubin.total [Mass/volume]
        ("calcium_corrected", "mmol/L", "29265-6"),  # Calcium [Moles/volume] corrected ...
        ("calcium_corrected", "mg/dL", "46099-8"),  # Calcium [Mass/volume] corrected ...
        ("potassium", "mmol/L", "2823-3"),  # Potassium [Moles/volume] in S/P
        ("potassium", "mEq/L", "2823-3"),
        ("sodium", "mmol/L", "2951-2"),
        ("magnesium", "mmol/L", "2601-3"),  # Magnesium [Moles/volume] in S/P
        ("magnesium", "mg/dL", "19123-9"),  # Magnesium [Mass/volume] in S/P
        # not known for certain: left empty rather than guessed
        ("serum_m_protein", "g/L", ""),
    ],
)
def test_loinc_codes(key: str, unit: str, loinc: str) -> None:
    assert lab_test(key).loinc_for(unit) == loinc


def test_loinc_of_the_stored_si_value() -> None:
    assert lab_test("creatinine").loinc == "14682-9"
    assert lab_test("calcium_corrected").loinc == "29265-6"
    assert lab_test("magnesium").loinc == "2601-3"


def test_every_code_fits_its_unit() -> None:
    # Loading checks it; here every code of every test is read back against its long name.
    names = tomllib.loads((resources_dir() / "ctcae" / "lab_tests.toml").read_text())["loinc_names"]
    for test in lab_tests():
        for unit, code in test.loinc_codes.items():
            assert f"[{UNIT_PROPERTIES[unit]}]" in names[code], (test.key, unit, code)
            if test.key == "calcium_corrected":
                assert "corrected for albumin" in names[code]


def test_a_mass_code_on_a_molar_unit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "tests.toml"
    path.write_text(
        '[[test]]\nkey = "x"\nname = "X"\nabbreviation = "X"\n'
        'loinc = { "mmol/L" = "19123-9" }\nsi_unit = "mmol/L"\nunits = { "mmol/L" = "1" }\n'
        'refuse_below = "0"\nrefuse_above = "10"\nusual_low = "0"\nusual_high = "5"\n'
        '[loinc_names]\n"19123-9" = "Magnesium [Mass/volume] in Serum or Plasma"\n'
    )
    with pytest.raises(ProtocolError, match="does not fit a value in mmol/L"):
        load_lab_tests(path)


@pytest.mark.parametrize(
    ("test", "value", "unit", "si"),
    [
        ("anc", "1.5", "10^3/uL", "1.5"),  # x10^3/uL == x10^9/L
        ("hemoglobin", "9.5", "g/dL", "95"),  # 9.5 x 10 = 95 g/L
        ("creatinine", "1.2", "mg/dL", "106.08"),  # 1.2 x 88.4 = 106.08 umol/L
        ("calcium_corrected", "10", "mg/dL", "2.495"),  # 10 x 0.2495 = 2.495 mmol/L
        ("calcium_corrected", "12", "mg/dL", "2.994"),  # 12 x 0.2495 = 2.994
        ("bilirubin", "2", "mg/dL", "34.2"),  # 2 x 17.1 = 34.2 umol/L
        ("magnesium", "1.2", "mg/dL", "0.49368"),  # 1.2 x 0.4114 = 0.49368 mmol/L
        ("potassium", "4.1", "mEq/L", "4.1"),  # monovalent: mEq/L == mmol/L
        ("sodium", "140", "mEq/L", "140"),
        ("serum_m_protein", "2.5", "g/dL", "25"),  # 2.5 x 10 = 25 g/L
        ("urine_m_protein", "0.35", "g/24h", "350"),  # 0.35 x 1000 = 350 mg/24 h
        ("alt", "57", "U/L", "57"),
    ],
)
def test_to_si_is_exact(test: str, value: str, unit: str, si: str) -> None:
    result = to_si(test, D(value), unit)
    assert result == D(si)
    assert str(result) == si  # no float noise, no trailing zeros


def test_convert_back_to_conventional() -> None:
    # 106.08 / 88.4 = 1.2 mg/dL
    assert convert(D("106.08"), "umol/L", "mg/dL", test="creatinine") == D("1.2")
    # 25 g/L / 10 = 2.5 g/dL (analyte-independent, no test needed)
    assert convert(D("25"), "g/L", "g/dL") == D("2.5")
    assert convert(D("3"), "10^9/L", "10^3/uL") == D("3")


def test_convert_that_depends_on_the_analyte_needs_the_test() -> None:
    with pytest.raises(DomainError, match="depends on the test"):
        convert(D("1"), "mg/dL", "umol/L")
    # mEq/L -> mmol/L is 1:1 only for monovalent ions, so it needs the test too.
    with pytest.raises(DomainError, match="depends on the test"):
        convert(D("1"), "mEq/L", "mmol/L")


def test_unknown_unit_is_named() -> None:
    with pytest.raises(DomainError, match="'mg%'") as error:
        to_si("creatinine", D("1"), "mg%")
    assert error.value.field == "unit"


def test_unit_of_another_test_is_refused_with_its_name() -> None:
    with pytest.raises(DomainError, match="'mg/dL' is not used for Potassium"):
        to_si("potassium", D("4"), "mg/dL")


def test_unknown_test() -> None:
    with pytest.raises(DomainError, match="'troponin'"):
        lab_test("troponin")


def test_unit_labels() -> None:
    assert unit_label("10^9/L") == "×10⁹/L"
    assert unit_label("umol/L") == "µmol/L"
    for test in lab_tests():
        for unit in test.units:
            assert unit_label(unit)


@pytest.mark.parametrize(
    ("test", "value", "unit", "status"),
    [
        ("potassium", "45", "mmol/L", Plausibility.REFUSED),  # brief: impossible
        ("potassium", "-1", "mmol/L", Plausibility.REFUSED),  # negative
        ("potassium", "7.5", "mmol/L", Plausibility.UNUSUAL),  # possible, above usual 7
        ("potassium", "4.2", "mmol/L", Plausibility.OK),
        ("anc", "0", "10^9/L", Plausibility.OK),  # aplasia: ANC 0 is real
        ("anc", "45", "10^9/L", Plausibility.UNUSUAL),
        ("hemoglobin", "95", "g/dL", Plausibility.REFUSED),  # g/L typed as g/dL: 950 g/L
        ("hemoglobin", "9.5", "g/dL", Plausibility.OK),
        ("sodium", "14", "mmol/L", Plausibility.REFUSED),
    ],
)
def test_plausibility(test: str, value: str, unit: str, status: Plausibility) -> None:
    check = check_plausible(test, D(value), unit)
    assert check.status is status
    assert (check.reason == "") is (status is Plausibility.OK)


def test_refusal_says_why() -> None:
    check = check_plausible("potassium", D("45"), "mmol/L")
    assert check.refused
    assert "Potassium 45 mmol/L is not possible" in check.reason
    assert "negative" in check_plausible("anc", D("-0.1"), "10^9/L").reason


def test_anc_above_wbc_is_refused() -> None:
    assert check_differential(D("3.0"), anc_si=D("3.1")).refused
    assert "above the WBC" in check_differential(D("3.0"), anc_si=D("3.1")).reason
    assert check_differential(D("3.0"), lymphocytes_si=D("3.5")).refused
    # 2.0 + 1.5 = 3.5 > 3.0
    assert check_differential(D("3.0"), D("2.0"), D("1.5")).refused
    # equal is possible (every white cell a neutrophil): not refused
    assert check_differential(D("3.0"), anc_si=D("3.0")).status is Plausibility.OK
    assert check_differential(D("3.0"), D("2.0"), D("0.9")).status is Plausibility.OK


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(
        [(t.key, u) for t in lab_tests() for u in t.units],
    ),
    st.decimals(min_value=0, max_value=100000, places=3, allow_nan=False, allow_infinity=False),
)
def test_conversion_round_trips_exactly(pair: tuple[str, str], value: Decimal) -> None:
    test, unit = pair
    entry = lab_test(test)
    si = entry.to_si(value, unit)
    assert entry.convert(si, entry.si_unit, unit) == value
    assert convert(value, unit, entry.si_unit, test=test) == si


def test_bad_catalogue_file_names_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "labs.toml"
    bad.write_text(
        '[[test]]\nkey = "x"\nname = "X"\nabbreviation = "X"\nloinc = ""\nsi_unit = "g/L"\n'
        'units = { "g/L" = 1 }\nrefuse_below = "0"\nrefuse_above = "9"\n'
        'usual_low = "1"\nusual_high = "2"\n',
        encoding="utf-8",
    )
    with pytest.raises(ProtocolError) as error:
        load_lab_tests(bad)
    assert error.value.key == "test.x.units.g/L"
    assert "string" in error.value.problem
