"""A stored column as a chart says it, for the history screen, the review of laptop changes
and the commands that print the same (one list of words, no Qt)."""

from __future__ import annotations

import json
from datetime import date, datetime

from clinic_app.core.day_words import day_text
from clinic_app.core.errors import DomainError
from clinic_app.core.labs import lab_test, unit_label

_UNIT_SUFFIXES = {
    "_g_dl": "g/dL",
    "_mg_l": "mg/L",
    "_mg_dl": "mg/dL",
    "_umol_l": "µmol/L",
    "_pct": "%",
    "_cm": "cm",
    "_kg": "kg",
    "_m2": "m²",
    "_ml_min": "mL/min",
    "_mg": "mg",
}
_WORDS = {"m_protein": "M-protein", "flc": "FLC", "ae": "adverse event", "dlt": "DLT"}
_NAMES = {"lln": "lower limit of normal", "uln": "upper limit of normal", "test": "test"}


def field_label(key: str) -> str:
    """A column as a chart says it: ``serum_m_protein_g_dl`` -> ``serum M-protein (g/dL)``."""
    if key in _NAMES:
        return _NAMES[key]
    unit = ""
    for suffix, text in _UNIT_SUFFIXES.items():
        if key.endswith(suffix):
            key, unit = key[: -len(suffix)], text
            break
    for word, text in _WORDS.items():
        key = key.replace(word, text)
    words = key.replace("_", " ").strip()
    return f"{words} ({unit})" if unit else words


def when_text(value: object) -> str:
    """A stored time (ISO, UTC) in local time as ``2 Dec 2026 05:54``; a day as ``2 Dec 2026``."""
    text = str(value)
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return day_text(day)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    if moment.tzinfo is not None:
        moment = moment.astimezone()
    return f"{day_text(moment.date())} {moment:%H:%M}"


def value_text(key: str, value: object) -> str:
    """A stored value as a chart says it: times in local time, a lab's unit and test by their
    names, a stored list or mapping as its items ("—" when there is nothing)."""
    if value is None or value == "":
        return "—"
    if key.endswith(("_at", "_on", "_date")) or key in ("date", "start_date", "planned_start"):
        return when_text(value)
    if key == "unit":
        return unit_label(str(value))
    if key == "test":
        return test_name(str(value))
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return _items_text(json.loads(value))
        except ValueError:
            return value
    return str(value)


def _items_text(items: object) -> str:
    if isinstance(items, dict):
        said = [f"{field_label(str(k))} {v}" for k, v in items.items()]
    elif isinstance(items, list):
        said = [str(v) for v in items]
    else:
        return str(items)
    return ", ".join(said) if said else "—"


def test_name(key: str) -> str:
    """A lab test as a nurse names it (its abbreviation), or the key when unknown."""
    try:
        test = lab_test(key)
    except (KeyError, DomainError):
        return key
    return test.abbreviation or test.name
