"""A planned BPD cycle whose bendamustine dose needs the BSA confirmed at cycle start is refused
with a sentence that says what to do (not "record height and weight", which the patient has)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from clinic_app.core.errors import MissingDataError
from clinic_app.services.demo import generate_demo
from clinic_app.services.documents import build_dosing_card
from clinic_app.storage.database import open_database


def test_planned_bpd_cycle_card_says_start_the_cycle_first(tmp_path: Path) -> None:
    with open_database(tmp_path / "demo.sqlite3") as record:
        generate_demo(record, patients=40, seed=2, today=date(2026, 11, 21))
        planned = [
            (patient, cycle)
            for patient in record.repos.patients.all()
            for enrolment in record.repos.enrolments.for_patient(patient.id or 0)
            if enrolment.protocol == "bpd"
            for cycle in record.repos.cycles.for_enrolment(enrolment.id or 0)
            if cycle.start_date is None and cycle.bsa_m2 is None and cycle.phase == "treatment"
        ]
        assert planned, "the demo record should hold a planned BPD treatment cycle"
        patient, cycle = planned[0]
        with pytest.raises(MissingDataError, match="planned but not started") as caught:
            build_dosing_card(record, patient.mrn, cycle.number)
        assert "Start next cycle" in caught.value.message
