"""Small texts every screen writes the same way: a patient's title, a typed number."""

from __future__ import annotations

from typing import TYPE_CHECKING

from clinic_app.core.day_words import day_text

if TYPE_CHECKING:  # types only: the window's start imports neither (issue 16)
    from decimal import Decimal

    from clinic_app.core.records import Patient


def patient_title(patient: Patient) -> str:
    """Full name, date of birth and MRN, so a patient switch is never ambiguous."""
    return f"{patient.full_name} (born {day_text(patient.date_of_birth)}, MRN {patient.mrn})"


def parse_decimal(text: str) -> Decimal | None:
    """A typed number (comma or point as decimal mark), or None when empty or not a number."""
    from decimal import Decimal, InvalidOperation  # a form's, not the window's start

    cleaned = text.strip().replace(",", ".")
    if not cleaned:
        return None
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None
