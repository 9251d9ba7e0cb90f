"""Dose arithmetic: body-surface area, creatinine clearance, mg/m² rounding, unit counts.

All arithmetic is exact ``Decimal``; a result is rounded only where a rule says so, and the
rounding is shown beside the unrounded value. A threshold compares the exact value, never a
figure rounded for the screen; and a figure shown next to a threshold is cut, not rounded,
towards the side the exact value is on (39.96 mL/min shows as 39.9, never as 40 beside a
"below 40" rule).
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, localcontext
from enum import StrEnum
from functools import cache

from clinic_app.core.errors import DomainError
from clinic_app.core.ismp import format_number, format_quantity, shown_down, shown_up
from clinic_app.core.records import Sex
from clinic_app.core.resources import resources_dir

TWO_PLACES = Decimal("0.01")
ONE_PLACE = Decimal("0.1")
MG_PER_DL_PER_UMOL_PER_L = Decimal("88.4")  # rules §2/§3: creatinine 1 mg/dL = 88.4 µmol/L


class BsaFormula(StrEnum):
    MOSTELLER = "mosteller"
    DUBOIS = "dubois"


@dataclass(frozen=True)
class Bsa:
    """A body-surface area with what it was computed from (rules §2: show all of it)."""

    m2: Decimal
    """Rounded to 2 decimals; this is the value doses are computed from."""
    exact_m2: Decimal
    formula: BsaFormula
    height_cm: Decimal
    weight_kg: Decimal
    measured_on: date | None = None

    def describe(self) -> str:
        when = f" on {self.measured_on.isoformat()}" if self.measured_on else ""
        return (
            f"BSA {format_number(self.m2)} m² ({self.formula.value.capitalize()}, height "
            f"{format_number(self.height_cm)} cm, weight {format_number(self.weight_kg)} kg{when})"
        )


@dataclass(frozen=True)
class Limits:
    low: Decimal
    high: Decimal


@cache
def input_limits() -> dict[str, Limits]:
    raw = tomllib.loads((resources_dir() / "input_limits.toml").read_text(encoding="utf-8"))
    return {k: Limits(Decimal(v["min"]), Decimal(v["max"])) for k, v in raw.items()}


def _check(name: str, value: Decimal, label: str, unit: str) -> None:
    limits = input_limits()[name]
    if not value.is_finite() or value <= 0:
        raise DomainError(
            f"{label} must be a positive number; {value} {unit} was given.", field=name
        )
    if not limits.low <= value <= limits.high:
        raise DomainError(
            f"{label} {format_number(value)} {unit} is outside the plausible range "
            f"{format_number(limits.low)}-{format_number(limits.high)} {unit}; check the entry.",
            field=name,
        )


check_input = _check
"""The plausibility check of one body or kidney fact (used by storage and import too)."""


def body_surface_area(
    height_cm: Decimal,
    weight_kg: Decimal,
    formula: BsaFormula | str = BsaFormula.MOSTELLER,
    measured_on: date | None = None,
) -> Bsa:
    """BSA from actual weight, with no cap at 2.0 m² (rules §2, ASCO guideline for obesity).

    >>> body_surface_area(Decimal(170), Decimal(70)).m2  # sqrt(170 * 70 / 3600) = 1.8181
    Decimal('1.82')
    >>> body_surface_area(Decimal(170), Decimal(70), "dubois").m2  # 0.007184 * 70^0.425 * 170^0.725
    Decimal('1.81')
    """
    _check("height_cm", height_cm, "Height", "cm")
    _check("weight_kg", weight_kg, "Weight", "kg")
    chosen = BsaFormula(formula)
    with localcontext() as ctx:
        ctx.prec = 28
        if chosen is BsaFormula.MOSTELLER:
            # Mosteller 1987: sqrt(height_cm * weight_kg / 3600)
            exact = (height_cm * weight_kg / Decimal(3600)).sqrt()
        else:
            # DuBois & DuBois 1916: 0.007184 * W^0.425 * H^0.725
            exact = (
                Decimal("0.007184") * weight_kg ** Decimal("0.425") * height_cm ** Decimal("0.725")
            )
    return Bsa(
        m2=exact.quantize(TWO_PLACES, ROUND_HALF_UP),
        exact_m2=exact,
        formula=chosen,
        height_cm=height_cm,
        weight_kg=weight_kg,
        measured_on=measured_on,
    )


def format_crcl(ml_min: Decimal) -> str:
    """A creatinine clearance as the screens and cards show it (one decimal, cut).

    >>> format_crcl(Decimal("39.958333"))
    '39.9 mL/min'
    """
    return format_quantity(shown_down(ml_min), "mL/min")


@dataclass(frozen=True)
class CreatinineClearance:
    ml_min: Decimal
    """Exact: the renal rules compare this (a CrCl of 39.96 mL/min is below 40)."""
    age_years: int
    weight_kg: Decimal
    creatinine_mg_dl: Decimal
    """Converted for the formula; exact, so never shown (see ``creatinine_value``)."""
    sex: Sex
    measured_on: date | None = None
    creatinine_value: Decimal | None = None
    """The creatinine as entered, in ``creatinine_unit`` (None: it was mg/dL, see above)."""
    creatinine_unit: str = "mg/dL"
    """As written for people: "mg/dL" or "µmol/L"."""

    @property
    def shown_ml_min(self) -> Decimal:
        """One decimal, cut: never rounded up across a "below" threshold."""
        return shown_down(self.ml_min)

    @property
    def sex_word(self) -> str:
        return "female" if self.sex is Sex.FEMALE else "male"

    def describe(self) -> str:
        when = f" on {self.measured_on.isoformat()}" if self.measured_on else ""
        entered = self.creatinine_mg_dl if self.creatinine_value is None else self.creatinine_value
        creatinine = format_quantity(entered, self.creatinine_unit)
        return (
            f"CrCl {format_crcl(self.ml_min)} (Cockcroft-Gault: age {self.age_years}, "
            f"weight {format_number(self.weight_kg)} kg, creatinine {creatinine}, "
            f"{self.sex_word}{when})"
        )


def format_dose_change(drug: str, old: Decimal, new: Decimal, unit: str | None) -> str:
    """A dose change in a sentence, the unit on both doses (rules §8).

    ``unit`` is the drug's prescribing unit (``DoseBasis.unit``: "mg", or "mg/m²" for a
    body-surface-area drug). None says the unit is not known rather than guessing one.

    >>> format_dose_change("pomalidomide", Decimal(3), Decimal(2), "mg")
    'pomalidomide 3 mg → 2 mg'
    """
    if unit is None:
        return f"{drug} {format_number(old)} → {format_number(new)} (unit not given)"
    return f"{drug} {format_quantity(old, unit)} → {format_quantity(new, unit)}"


def creatinine_to_mg_dl(value: Decimal, unit: str) -> Decimal:
    """Serum creatinine in mg/dL from mg/dL or µmol/L (rules §2: divide µmol/L by 88.4)."""
    if unit == "mg/dL":
        return value
    if unit in ("umol/L", "µmol/L", "μmol/L"):
        return value / MG_PER_DL_PER_UMOL_PER_L
    raise DomainError(
        f"Creatinine unit {unit!r} is not known; use mg/dL or µmol/L.", field="creatinine_unit"
    )


def cockcroft_gault(
    age_years: int,
    weight_kg: Decimal,
    creatinine: Decimal,
    sex: Sex,
    creatinine_unit: str = "mg/dL",
    measured_on: date | None = None,
) -> CreatinineClearance:
    """Creatinine clearance (rules §2): (140 - age) * weight / (72 * SCr), * 0.85 for females.

    Actual weight, age in whole years on the day of the lab.

    >>> cockcroft_gault(60, Decimal(72), Decimal(1), Sex.MALE).ml_min  # 80 * 72 / 72
    Decimal('80')
    >>> cockcroft_gault(60, Decimal(72), Decimal("88.4"), Sex.FEMALE, "umol/L").ml_min  # 80 * 0.85
    Decimal('68.00')
    """
    if not creatinine.is_finite() or creatinine <= 0:
        raise DomainError("Serum creatinine must be a positive number.", field="creatinine")
    scr = creatinine_to_mg_dl(creatinine, creatinine_unit)
    limits = input_limits()
    age = Decimal(age_years)
    if not limits["age_years"].low <= age <= limits["age_years"].high:
        raise DomainError(
            f"Age {age_years} years is outside {format_number(limits['age_years'].low)}-"
            f"{format_number(limits['age_years'].high)}; check the date of birth.",
            field="age_years",
        )
    _check("weight_kg", weight_kg, "Weight", "kg")
    _check("creatinine_mg_dl", scr, "Serum creatinine", "mg/dL")
    value = (Decimal(140) - age) * weight_kg / (Decimal(72) * scr)
    if sex is Sex.FEMALE:
        value *= Decimal("0.85")
    return CreatinineClearance(
        ml_min=value,
        age_years=age_years,
        weight_kg=weight_kg,
        creatinine_mg_dl=scr,
        sex=sex,
        measured_on=measured_on,
        creatinine_value=creatinine,
        creatinine_unit="mg/dL" if creatinine_unit == "mg/dL" else "µmol/L",
    )


@dataclass(frozen=True)
class RoundedDose:
    """A mg/m² dose: calculated, rounded to the drug's increment, and the difference."""

    per_m2: Decimal
    bsa_m2: Decimal
    calculated_mg: Decimal
    rounded_mg: Decimal
    increment_mg: Decimal

    @property
    def difference_pct(self) -> Decimal:
        return ((self.rounded_mg - self.calculated_mg) / self.calculated_mg * 100).quantize(
            ONE_PLACE, ROUND_HALF_UP
        )

    def describe(self) -> str:
        return (
            f"{format_number(self.per_m2)} mg/m² × {format_number(self.bsa_m2)} m² = "
            f"{format_number(self.calculated_mg)} mg, "
            f"rounded to {format_number(self.rounded_mg)} mg "
            f"({format_number(self.difference_pct)} %)"
        )


def round_bsa_dose(
    per_m2: Decimal, bsa_m2: Decimal, increment_mg: Decimal, max_difference_pct: Decimal
) -> RoundedDose:
    """Dose = per_m2 * BSA, rounded to the nearest increment (half up).

    Refused when the rounding moves the dose by more than ``max_difference_pct`` (rules §2,
    HOPA position on dose rounding: 10 %).

    >>> round_bsa_dose(Decimal(120), Decimal("1.82"), Decimal(5), Decimal(10)).describe()
    '120 mg/m² × 1.82 m² = 218.4 mg, rounded to 220 mg (0.7 %)'
    """
    calculated = per_m2 * bsa_m2
    steps = (calculated / increment_mg).quantize(Decimal(1), ROUND_HALF_UP)
    rounded = steps * increment_mg
    dose = RoundedDose(per_m2, bsa_m2, calculated, rounded, increment_mg)
    if rounded <= 0 or abs(rounded - calculated) * 100 > max_difference_pct * calculated:
        # Rounded away from zero, so a refused 10.04 % never reads as an allowed "10 %".
        shown = shown_up(abs(rounded - calculated) * 100 / calculated)
        raise DomainError(
            f"Rounding {format_number(calculated)} mg to {format_number(rounded)} mg changes the "
            f"dose by {format_number(shown)} %, more than the "
            f"{format_number(max_difference_pct)} % allowed; prescribe the dose by hand.",
            field="dose",
        )
    return dose


def split_into_units(
    dose_mg: Decimal, strengths: Sequence[Decimal]
) -> tuple[tuple[Decimal, int], ...]:
    """The fewest capsules or tablets that make ``dose_mg`` exactly (rules §2).

    Returns ``(strength, count)`` pairs, largest strength first. Among equally few units the
    one using larger strengths wins, so the answer is always the same.

    >>> split_into_units(Decimal(10), [Decimal(2), Decimal(4), Decimal(20)])
    ((Decimal('4'), 2), (Decimal('2'), 1))
    >>> split_into_units(Decimal("7.5"), [Decimal("2.5"), Decimal(5), Decimal(25)])
    ((Decimal('5'), 1), (Decimal('2.5'), 1))
    """
    if not strengths:
        raise DomainError(
            "No capsule or tablet strengths are set for this drug.", field="strengths"
        )
    # A cycle plan asks the same question up to 28 times per drug: remember the answers.
    return _split_into_units(dose_mg, tuple(sorted(set(strengths))))


@cache
def _split_into_units(
    dose_mg: Decimal, strengths: tuple[Decimal, ...]
) -> tuple[tuple[Decimal, int], ...]:
    # Work in whole hundredths of a mg so the search is exact integer arithmetic.
    scale = Decimal(100)
    target = dose_mg * scale
    units = sorted({s * scale for s in strengths}, reverse=True)
    if target != target.to_integral_value() or any(u != u.to_integral_value() for u in units):
        raise DomainError(f"{format_number(dose_mg)} mg cannot be measured in hundredths of a mg.")
    goal = int(target)
    coins = [int(u) for u in units]
    best: list[int | None] = [0] + [None] * goal
    choice: list[int] = [0] * (goal + 1)
    for amount in range(1, goal + 1):
        for coin in coins:  # largest first: ties keep the larger strength
            if coin <= amount and best[amount - coin] is not None:
                candidate = best[amount - coin] + 1  # type: ignore[operator]
                current = best[amount]
                if current is None or candidate < current:
                    best[amount] = candidate
                    choice[amount] = coin
    if best[goal] is None:
        have = ", ".join(f"{format_number(s)} mg" for s in sorted(strengths))
        raise DomainError(
            f"{format_number(dose_mg)} mg cannot be made from the strengths on hand ({have}).",
            field="strengths",
        )
    counts: dict[int, int] = {}
    amount = goal
    while amount:
        coin = choice[amount]
        counts[coin] = counts.get(coin, 0) + 1
        amount -= coin
    return tuple((Decimal(c) / scale, n) for c, n in sorted(counts.items(), reverse=True))


@dataclass(frozen=True)
class WeightChange:
    previous_kg: Decimal
    current_kg: Decimal
    threshold_pct: Decimal

    @property
    def change_pct(self) -> Decimal:
        """Exact; only the displayed figure is rounded."""
        return (self.current_kg - self.previous_kg) / self.previous_kg * 100

    @property
    def needs_recalculation(self) -> bool:
        return abs(self.change_pct) >= self.threshold_pct

    @property
    def shown_pct(self) -> Decimal:
        """The size of the change to one decimal, cut: 9.96 % reads 9.9 %, not the 10 % that
        would flag it (the flag itself compares the exact change)."""
        return shown_down(abs(self.change_pct))

    def describe(self) -> str:
        direction = "up" if self.change_pct > 0 else "down"
        shown = self.shown_pct
        return (
            f"Weight {format_number(self.current_kg)} kg is {format_number(shown)} % "
            f"{direction} from {format_number(self.previous_kg)} kg behind the last BSA"
            + ("; recalculate the BSA." if self.needs_recalculation else ".")
        )


def weight_change(
    previous_kg: Decimal, current_kg: Decimal, threshold_pct: Decimal
) -> WeightChange:
    """Flag a change of ``threshold_pct`` or more against the weight behind the last BSA (rules §2).

    >>> weight_change(Decimal(70), Decimal(63), Decimal(10)).needs_recalculation  # -10 % exactly
    True
    >>> weight_change(Decimal(70), Decimal("63.1"), Decimal(10)).needs_recalculation  # -9.857 %
    False
    """
    _check("weight_kg", previous_kg, "Previous weight", "kg")
    _check("weight_kg", current_kg, "Weight", "kg")
    return WeightChange(previous_kg, current_kg, threshold_pct)


def step_down(ladder: Sequence[Decimal], current: Decimal, *, unit: str) -> Decimal:
    """The next dose down the reduction ladder from ``current`` (rules §2).

    ``unit`` is the ladder's (the drug's prescribing unit, "mg" or "mg/m²"), for the refusal.

    >>> step_down([Decimal(25), Decimal(20), Decimal(15)], Decimal(25), unit="mg")
    Decimal('20')
    """
    lower = [d for d in ladder if d < current]
    if not lower:
        raise DomainError(
            f"{format_quantity(current, unit)} is already at or below the lowest step of the "
            "reduction ladder.",
            field="dose",
        )
    return max(lower)
