"""The longest texts storage accepts still print (issue 15, item 3: a 120 kB clinic name
made printing fail; storage now bounds it, and the bound must be one a card can lay out)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from clinic_app.core.errors import DomainError
from clinic_app.core.records import LINE_MAX, NAME_MAX
from clinic_app.reports.dosing_card import render_dosing_card
from clinic_app.services import documents
from clinic_app.services.demo import generate_demo
from clinic_app.storage import queries
from clinic_app.storage.database import Record, open_database
from tests.reports.conftest import pdf_pages


def test_a_card_prints_with_the_longest_clinic_name_and_patient_names(tmp_path: Path) -> None:
    with open_database(tmp_path / "r.sqlite3") as record:
        _print_longest(record)


def _print_longest(record: Record) -> None:
    generate_demo(record, patients=2, seed=1, today=date(2026, 5, 4))
    row = next(r for r in queries.patient_overview(record) if r["cycle_number"])
    record.repos.settings.set(documents.CLINIC_NAME, "W" * LINE_MAX, reason="test")
    record.repos.settings.set(documents.CLINIC_PHONE, "0" * LINE_MAX, reason="test")
    with pytest.raises(DomainError):
        record.repos.settings.set(documents.CLINIC_NAME, "W" * (LINE_MAX + 1), reason="test")
    stored = record.repos.patients.get(row["patient_id"])
    longest = replace(stored.value, family_name="W" * NAME_MAX, given_name="M" * NAME_MAX)
    record.repos.patients.update(stored.id, longest, expected_version=stored.version, reason="test")
    card = documents.build_dosing_card(record, row["mrn"], row["cycle_number"])
    text = " ".join(pdf_pages(render_dosing_card(card)))
    assert "WWWWWWWWWW" in text and "MMMMMMMMMM" in text
