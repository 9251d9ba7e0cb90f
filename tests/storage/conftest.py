"""Fixtures for storage tests: a real SQLite file under tmp_path, never the user's record."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from clinic_app.core.records import Patient, Sex


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "record.sqlite3"


def make_patient(mrn: str = "MRN-0001", family: str = "Nováková") -> Patient:
    return Patient(
        mrn=mrn,
        family_name=family,
        given_name="Zoë",
        date_of_birth=date(1951, 3, 14),
        sex=Sex.FEMALE,
        allergies=("penicillin",),
    )
