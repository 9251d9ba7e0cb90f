"""Small texts every screen writes the same way: a patient's title, a typed number."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # a type only: the window's start does not import the records' rules
    from clinic_app.core.records import Patient


def patient_title(patient: Patient) -> str:
    """Full name, date of birth and MRN, so a patient switch is never ambiguous."""
    return f"{patient.full_name} (born {patient.date_of_birth.isoformat()}, MRN {patient.mrn})"


def parse_decimal(text: str) -> Decimal | None:
    """A typed number (comma or point as decimal mark), or None when empty or not a number."""
    cleaned = text.strip().replace(",", ".")
    if not cleaned:
        return None
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None
