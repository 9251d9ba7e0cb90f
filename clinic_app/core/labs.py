"""The lab test catalogue: which tests the lab form offers, their units and LOINC codes.

Values are kept as entered; grading works in the test's SI unit. Conversion factors are exact
``Decimal`` values from ``resources/ctcae/lab_tests.toml`` (rules §3), so converting to SI and
back gives the entered value again.

>>> to_si("creatinine", Decimal("1.2"), "mg/dL")
Decimal('106.08')
>>> to_si("anc", Decimal("1.5"), "10^3/uL")
Decimal('1.5')
>>> convert(Decimal("9.5"), "g/dL", "g/L")
Decimal('95')
>>> lab_test("potassium").loinc
'2823-3'
>>> lab_test("creatinine").loinc, lab_test("creatinine").loinc_for("mg/dL")
('14682-9', '2160-0')
>>> check_plausible("potassium", Decimal("45"), "mmol/L").status.value
'refused'
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation, localcontext
from enum import StrEnum
from functools import cache
from pathlib import Path

from clinic_app.core.errors import DomainError, ProtocolError
from clinic_app.core.ismp import format_number
from clinic_app.core.resources import resources_dir as core_resources_dir

# ASCII-safe canonical unit keys (stored in the record) and the label shown to people.
UNIT_LABELS: Mapping[str, str] = {
    "10^9/L": "×10⁹/L",
    "10^3/uL": "×10³/µL",
    "g/L": "g/L",
    "g/dL": "g/dL",
    "umol/L": "µmol/L",
    "mg/dL": "mg/dL",
    "mmol/L": "mmol/L",
    "mEq/L": "mEq/L",
    "U/L": "U/L",
    "mg/L": "mg/L",
    "mg/24h": "mg/24 h",
    "g/24h": "g/24 h",
}

# What LOINC calls each unit's kind of quantity (the "property" in a code's long name), so a
# code for mass concentration is never given to a value in mmol/L (issue 13).
UNIT_PROPERTIES: Mapping[str, str] = {
    "10^9/L": "#/volume",
    "10^3/uL": "#/volume",
    "g/L": "Mass/volume",
    "g/dL": "Mass/volume",
    "mg/dL": "Mass/volume",
    "mg/L": "Mass/volume",
    "umol/L": "Moles/volume",
    "mmol/L": "Moles/volume",
    "mEq/L": "Moles/volume",  # potassium and sodium are monovalent: mEq/L == mmol/L
    "U/L": "Enzymatic activity/volume",
    "mg/24h": "Mass/time",
    "g/24h": "Mass/time",
}

# Conversions that hold whatever the analyte is (factor: one `from` unit in `to` units).
# mEq/L <-> mmol/L is NOT here: it depends on the ion's charge, so it needs the test.
_GENERIC_FACTORS: Mapping[tuple[str, str], Decimal] = {
    ("10^3/uL", "10^9/L"): Decimal(1),
    ("g/dL", "g/L"): Decimal(10),
    ("mg/dL", "mg/L"): Decimal(10),
    ("g/24h", "mg/24h"): Decimal(1000),
}

# Enough digits that multiplying an entered value by a factor is never rounded.
_EXACT_PRECISION = 60


def unit_label(unit: str) -> str:
    """The display label of a canonical unit key (``"10^9/L"`` -> ``"×10⁹/L"``)."""
    try:
        return UNIT_LABELS[unit]
    except KeyError:
        raise DomainError(f"Unknown unit {unit!r}.", field="unit") from None


class Plausibility(StrEnum):
    OK = "ok"
    UNUSUAL = "unusual"
    """Possible but outside the usual range: the form asks the user to confirm."""
    REFUSED = "refused"
    """Impossible (negative, or beyond anything a living patient shows): not stored."""


@dataclass(frozen=True)
class PlausibilityCheck:
    status: Plausibility
    reason: str = ""

    @property
    def refused(self) -> bool:
        return self.status is Plausibility.REFUSED


@dataclass(frozen=True)
class LabTest:
    """One test the lab form offers. Limits are in ``si_unit``."""

    key: str
    name: str
    abbreviation: str
    loinc_codes: Mapping[str, str]
    """Unit -> LOINC code for a value in that unit; a unit is missing when not known for sure."""
    si_unit: str
    units: Mapping[str, Decimal]
    """Each unit offered and the exact factor to SI: ``value_si = value * factor``."""
    refuse_below: Decimal
    refuse_above: Decimal
    usual_low: Decimal
    usual_high: Decimal

    @property
    def loinc(self) -> str:
        """The LOINC code of the stored SI value (``value_si``); empty when not known."""
        return self.loinc_codes.get(self.si_unit, "")

    def loinc_for(self, unit: str) -> str:
        """The LOINC code of a value as entered in ``unit``; empty when not known."""
        self.factor(unit)
        return self.loinc_codes.get(unit, "")

    def factor(self, unit: str) -> Decimal:
        if unit not in UNIT_LABELS:
            raise DomainError(f"Unknown unit {unit!r}.", field="unit")
        try:
            return self.units[unit]
        except KeyError:
            offered = ", ".join(self.units)
            raise DomainError(
                f"Unit {unit!r} is not used for {self.name}; use one of: {offered}.",
                field="unit",
            ) from None

    def to_si(self, value: Decimal, unit: str) -> Decimal:
        factor = self.factor(unit)
        with localcontext(prec=_EXACT_PRECISION):
            return _tidy(value * factor)

    def convert(self, value: Decimal, from_unit: str, to_unit: str) -> Decimal:
        from_factor = self.factor(from_unit)
        to_factor = self.factor(to_unit)
        with localcontext(prec=_EXACT_PRECISION):
            return _tidy(value * from_factor / to_factor)

    @classmethod
    def from_mapping(cls, table: Mapping[str, object], source: str) -> LabTest:
        key = _text(table, "key", source, "test")
        where = f"test.{key}"
        units_raw = table.get("units")
        if not isinstance(units_raw, Mapping) or not units_raw:
            raise ProtocolError(source, f"{where}.units", "must be a non-empty table")
        units: dict[str, Decimal] = {}
        for unit, factor in units_raw.items():
            if unit not in UNIT_LABELS:
                raise ProtocolError(source, f"{where}.units", f"unknown unit {unit!r}")
            units[unit] = _decimal(factor, source, f"{where}.units.{unit}")
            if units[unit] <= 0:
                raise ProtocolError(source, f"{where}.units.{unit}", "factor must be > 0")
        si_unit = _text(table, "si_unit", source, where)
        if units.get(si_unit) != 1:
            raise ProtocolError(source, f"{where}.si_unit", "must be offered with factor 1")
        limits = {
            name: _decimal(table.get(name), source, f"{where}.{name}")
            for name in ("refuse_below", "refuse_above", "usual_low", "usual_high")
        }
        if not (
            limits["refuse_below"]
            <= limits["usual_low"]
            < limits["usual_high"]
            <= limits["refuse_above"]
        ):
            raise ProtocolError(
                source, where, "needs refuse_below <= usual_low < usual_high <= refuse_above"
            )
        raw_loinc = table.get("loinc")
        if isinstance(raw_loinc, str):  # one code for every unit (or "" = not known)
            codes = {unit: raw_loinc for unit in units} if raw_loinc else {}
        elif isinstance(raw_loinc, Mapping) and all(
            isinstance(u, str) and isinstance(v, str) and v for u, v in raw_loinc.items()
        ):
            codes = dict(raw_loinc)
        else:
            raise ProtocolError(
                source, f"{where}.loinc", 'must be a table like { "mmol/L" = "2823-3" }'
            )
        for unit in codes:
            if unit not in units:
                raise ProtocolError(source, f"{where}.loinc", f"unit {unit!r} is not offered")
        known = {"key", "name", "abbreviation", "loinc", "si_unit", "units", *limits}
        unknown = set(table) - known
        if unknown:
            raise ProtocolError(source, where, f"unknown keys: {', '.join(sorted(unknown))}")
        return cls(
            key=key,
            name=_text(table, "name", source, where),
            abbreviation=_text(table, "abbreviation", source, where),
            loinc_codes=codes,
            si_unit=si_unit,
            units=units,
            **limits,
        )


def _tidy(value: Decimal) -> Decimal:
    """Drop trailing zeros so equal values print alike (``106.080`` -> ``106.08``)."""
    normal = value.normalize()
    exponent = normal.as_tuple().exponent
    # normalize() turns 100 into 1E+2; quantize back to a plain integer.
    if isinstance(exponent, int) and exponent > 0:
        return normal.quantize(Decimal(1))
    return normal


def _text(
    table: Mapping[str, object], name: str, source: str, where: str, *, allow_empty: bool = False
) -> str:
    value = table.get(name)
    if not isinstance(value, str) or (not value and not allow_empty):
        raise ProtocolError(source, f"{where}.{name}", "must be a non-empty string")
    return value


def _decimal(value: object, source: str, key: str) -> Decimal:
    # Numbers are written as strings in the TOML so that 0.2495 stays exact.
    if not isinstance(value, str):
        raise ProtocolError(source, key, 'must be a decimal written as a string, e.g. "1.5"')
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise ProtocolError(source, key, f"{value!r} is not a number") from None
    if not number.is_finite():
        raise ProtocolError(source, key, "must be finite")
    return number


def _check_loinc(test: LabTest, unit: str, code: str, name: object, source: str) -> None:
    """The code's LOINC long name must be known and fit the unit (mass vs substance ...)."""
    where = f"test.{test.key}.loinc.{unit}"
    if not isinstance(name, str):
        raise ProtocolError(source, where, f"LOINC {code} has no long name in [loinc_names]")
    wanted = f"[{UNIT_PROPERTIES[unit]}]"
    if wanted not in name:
        raise ProtocolError(
            source, where, f"LOINC {code} is {name!r}, which does not fit a value in {unit}"
        )


def resources_dir() -> Path:
    """The app's ``resources`` folder (kept here for callers that import it from labs)."""
    return core_resources_dir()


def load_lab_tests(path: Path | None = None) -> tuple[LabTest, ...]:
    """Read a lab catalogue file; the default is the bundled ``ctcae/lab_tests.toml``."""
    path = path or resources_dir() / "ctcae" / "lab_tests.toml"
    source = str(path)
    with path.open("rb") as handle:
        data = tomllib.load(handle)
    rows = data.get("test")
    if not isinstance(rows, list) or not rows:
        raise ProtocolError(source, "test", "needs at least one [[test]] table")
    names = data.get("loinc_names", {})
    if not isinstance(names, Mapping):
        raise ProtocolError(source, "loinc_names", "must be a table of code = long name")
    tests: list[LabTest] = []
    for row in rows:
        if not isinstance(row, Mapping):
            raise ProtocolError(source, "test", "each entry must be a table")
        test = LabTest.from_mapping(row, source)
        for unit, code in test.loinc_codes.items():
            _check_loinc(test, unit, code, names.get(code), source)
        tests.append(test)
    keys = [t.key for t in tests]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise ProtocolError(source, "test", f"duplicate keys: {', '.join(duplicates)}")
    return tuple(tests)


@cache
def lab_tests() -> tuple[LabTest, ...]:
    """The bundled catalogue, in form order."""
    return load_lab_tests()


def lab_test(key: str) -> LabTest:
    """The catalogue entry for ``key``; DomainError naming the key when there is none."""
    for test in lab_tests():
        if test.key == key:
            return test
    raise DomainError(f"Unknown lab test {key!r}.", field="test")


def to_si(test: str, value: Decimal, unit: str) -> Decimal:
    """``value`` in ``unit`` converted exactly to the test's SI unit."""
    return lab_test(test).to_si(value, unit)


def convert(value: Decimal, from_unit: str, to_unit: str, test: str | None = None) -> Decimal:
    """Convert between two units.

    Without ``test`` only analyte-independent conversions work (×10³/µL and ×10⁹/L, g/dL and
    g/L ...); mg/dL to µmol/L depends on the molecule and needs the test.
    """
    if test is not None:
        return lab_test(test).convert(value, from_unit, to_unit)
    for unit in (from_unit, to_unit):
        unit_label(unit)
    if from_unit == to_unit:
        return value
    with localcontext(prec=_EXACT_PRECISION):
        if (from_unit, to_unit) in _GENERIC_FACTORS:
            return _tidy(value * _GENERIC_FACTORS[from_unit, to_unit])
        if (to_unit, from_unit) in _GENERIC_FACTORS:
            return _tidy(value / _GENERIC_FACTORS[to_unit, from_unit])
    raise DomainError(
        f"Converting {from_unit} to {to_unit} depends on the test; name the test.", field="unit"
    )


def check_plausible(test: str, value: Decimal, unit: str) -> PlausibilityCheck:
    """Whether an entered value can be stored: refused, unusual (confirm) or fine."""
    entry = lab_test(test)
    si = entry.to_si(value, unit)
    shown = f"{entry.name} {format_number(value)} {unit_label(unit)}"
    if value < 0:
        return PlausibilityCheck(Plausibility.REFUSED, f"{shown}: a lab value cannot be negative.")
    si_label = unit_label(entry.si_unit)
    if si < entry.refuse_below or si > entry.refuse_above:
        return PlausibilityCheck(
            Plausibility.REFUSED,
            f"{shown} is not possible (accepted {format_number(entry.refuse_below)}–"
            f"{format_number(entry.refuse_above)} {si_label}); check the value and the unit.",
        )
    if si < entry.usual_low or si > entry.usual_high:
        return PlausibilityCheck(
            Plausibility.UNUSUAL,
            f"{shown} is outside the usual {format_number(entry.usual_low)}–"
            f"{format_number(entry.usual_high)} {si_label}; confirm it is correct.",
        )
    return PlausibilityCheck(Plausibility.OK)


def check_differential(
    wbc_si: Decimal, anc_si: Decimal | None = None, lymphocytes_si: Decimal | None = None
) -> PlausibilityCheck:
    """Cross-check counts from the same collection (all in ×10⁹/L).

    Neutrophils and lymphocytes are subsets of the white cells, so neither (nor their sum)
    can exceed the WBC.
    """
    parts = {"ANC": anc_si, "lymphocytes": lymphocytes_si}
    for name, part in parts.items():
        if part is not None and part > wbc_si:
            return PlausibilityCheck(
                Plausibility.REFUSED,
                f"{name} {format_number(part)} ×10⁹/L is above the WBC "
                f"{format_number(wbc_si)} ×10⁹/L of the same sample; check both values.",
            )
    if anc_si is not None and lymphocytes_si is not None and anc_si + lymphocytes_si > wbc_si:
        return PlausibilityCheck(
            Plausibility.REFUSED,
            f"ANC + lymphocytes {format_number(anc_si + lymphocytes_si)} ×10⁹/L is above the "
            f"WBC {format_number(wbc_si)} ×10⁹/L of the same sample; check the values.",
        )
    return PlausibilityCheck(Plausibility.OK)
