"""Dates between Python and Qt, in one place (date edits, date-time edits)."""

from __future__ import annotations

from datetime import date, datetime

from PySide6.QtCore import QDate, QDateTime, QTime

# The display format of every date edit: ISO, the same order in every locale.
DATE_FORMAT = "yyyy-MM-dd"


def to_qdate(day: date) -> QDate:
    return QDate(day.year, day.month, day.day)


def from_qdate(value: QDate) -> date:
    return date(value.year(), value.month(), value.day())


def to_qdatetime(moment: datetime) -> QDateTime:
    """A naive local ``datetime`` as the QDateTime a QDateTimeEdit shows."""
    return QDateTime(
        QDate(moment.year, moment.month, moment.day),
        QTime(moment.hour, moment.minute, moment.second),
    )


def parse_day(text: str) -> date:
    """An ISO date (YYYY-MM-DD); raises ValueError with a sentence for anything else.

    >>> parse_day(" 1951-03-14 ")
    datetime.date(1951, 3, 14)
    """
    cleaned = text.strip()
    parts = cleaned.split("-")
    if len(parts) != 3 or not all(p.isdigit() for p in parts) or len(parts[0]) != 4:
        raise ValueError(f"'{cleaned}' is not a date; write it as YYYY-MM-DD, e.g. 1951-03-14.")
    try:
        return date(int(parts[0]), int(parts[1]), int(parts[2]))
    except ValueError:
        problem = f"{cleaned} does not exist in the calendar; check day and month."
        raise ValueError(problem) from None
