"""How numbers and doses are written, following ISMP and Joint Commission rules (rules §8).

- never a trailing zero (``5 mg``, not ``5.0 mg``);
- always a leading zero (``0.5 mg``);
- a space between number and unit;
- a thousands separator at 1,000 and above;
- no error-prone abbreviations: micrograms are ``mcg``, never ``µg``.

>>> format_number(Decimal("5.0"))
'5'
>>> format_number(Decimal(".5"))
'0.5'
>>> format_number(Decimal("2450"))
'2,450'
>>> format_quantity(Decimal("2.50"), "mg")
'2.5 mg'
>>> format_quantity(Decimal("250"), "µg")
'250 mcg'
>>> plain_number(Decimal("2450.00"))
'2450'
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_UP, Decimal

_ONE_PLACE = Decimal("0.1")

# ISMP list of error-prone abbreviations: the written form that replaces each.
_UNIT_SPELLING = {"µg": "mcg", "ug": "mcg", "μg": "mcg", "U": "units", "IU": "units", "cc": "mL"}


def plain_number(value: Decimal) -> str:
    """The value without trailing zeros or exponent, and no thousands separator (for data)."""
    if value == 0:
        return "0"
    text = format(value.normalize(), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def format_number(value: Decimal) -> str:
    """The value as printed for people: leading zero, no trailing zero, thousands separator."""
    text = plain_number(value)
    negative = text.startswith("-")
    digits = text.lstrip("-")
    whole, _, fraction = digits.partition(".")
    grouped = f"{int(whole):,}"
    out = grouped + (f".{fraction}" if fraction else "")
    return f"-{out}" if negative else out


def spell_unit(unit: str) -> str:
    """The unit as ISMP wants it written."""
    return _UNIT_SPELLING.get(unit, unit)


def format_quantity(value: Decimal, unit: str) -> str:
    """A number and its unit with one space between them."""
    return f"{format_number(value)} {spell_unit(unit)}"


def shown_down(value: Decimal, places: Decimal = _ONE_PLACE) -> Decimal:
    """``value`` cut (not rounded) to ``places``: for a figure beside an "at least" or "below"
    threshold, so it is never on the other side of it (39.96 -> 39.9 beside "below 40")."""
    return value.quantize(places, ROUND_DOWN)


def shown_up(value: Decimal, places: Decimal = _ONE_PLACE) -> Decimal:
    """``value`` rounded away from zero to ``places``: for a figure beside a "more than"
    threshold that it exceeds (10.04 % -> 10.1 % beside "more than 10 %")."""
    return value.quantize(places, ROUND_UP)
