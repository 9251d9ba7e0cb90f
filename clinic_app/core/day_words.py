"""How a date a person reads is written, on screen and in print, the same in every country."""

from __future__ import annotations

import re
from datetime import date

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")


def day_text(day: date) -> str:
    """A date nobody can misread in any country: ``5 Jan 2026``."""
    return f"{day_month_text(day)} {day.year}"


def day_month_text(day: date) -> str:
    """The day and month alone, where the year is plain from what is around it: ``5 Jan``.
    English month names whatever the machine's locale, as on the printouts."""
    return f"{day.day} {_MONTHS[day.month - 1]}"


def dates_in_words(text: str) -> str:
    """The engines' notes write ISO dates ("progression on 2026-10-07"); a printout writes
    every date one way: ``7 Oct 2026``."""

    def words(match: re.Match[str]) -> str:
        try:
            return day_text(date(int(match[1]), int(match[2]), int(match[3])))
        except ValueError:
            return match[0]

    return _ISO_DATE.sub(words, text)
