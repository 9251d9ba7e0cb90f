"""The demonstration record obeys the 3+3 rules when read back in enrolment order.

Regression: expansion patients were once dated before the last escalation cohort, so the board
read a seventh patient at a level that was not yet the MTD and refused the whole record.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from clinic_app.core.escalation import decide
from clinic_app.core.protocol_loader import load_protocols
from clinic_app.services.demo import generate_demo
from clinic_app.services.enrolment import gather_context
from clinic_app.storage.database import open_database


@pytest.mark.parametrize("seed", [1, 2, 4])
def test_demo_escalation_reads_back_as_generated(tmp_path: Path, seed: int) -> None:
    protocols = load_protocols()
    bpd = protocols["bpd"]
    assert bpd.escalation is not None
    with open_database(tmp_path / "demo.sqlite3") as record:
        result = generate_demo(record, patients=40, seed=seed, today=date(2026, 11, 21))
        patients = gather_context(record, bpd, 0).escalation_patients
        assert len(patients) == result.counts["bpd"]
        # the record, read in enrolment order, leads the engine to the decision the demo made
        assert decide(patients, bpd.escalation).text() == result.escalation_decision


def test_demo_is_created_once_per_record(tmp_path: Path) -> None:
    from clinic_app.services.demo import DemoRefused

    with open_database(tmp_path / "demo.sqlite3") as record:
        generate_demo(record, patients=6, seed=1, today=date(2026, 11, 21))
        with pytest.raises(DemoRefused, match="already holds 6 demonstration patient"):
            generate_demo(record, patients=6, seed=2, today=date(2026, 11, 21))
        assert len(record.repos.patients.all()) == 6  # nothing was added


def test_demo_enrolments_record_a_light_chain(tmp_path: Path) -> None:
    with open_database(tmp_path / "demo.sqlite3") as record:
        generate_demo(record, patients=6, seed=1, today=date(2026, 11, 21))
        chains = [
            e.light_chain
            for p in record.repos.patients.all()
            for e in record.repos.enrolments.for_patient(p.id or 0)
        ]
    assert chains and set(chains) == {"kappa", "lambda"}  # both ways up of the FLC ratio
