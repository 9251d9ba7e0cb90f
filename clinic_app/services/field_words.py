"""A stored column as a chart says it, for the history screen, the review of laptop changes
and the commands that print the same (one list of words, no Qt)."""

from __future__ import annotations

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
