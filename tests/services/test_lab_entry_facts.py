"""services.lab_entry: the CTCAE clinical facts from the form reach the grade and the record
(issue 13)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from clinic_app.services.lab_entry import LabEntry, check_entry, facts_asked, save_panel
from clinic_app.storage.database import Record
from tests.services import helpers

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
AT = datetime(2025, 3, 10, 8, 30, tzinfo=UTC)
D = Decimal


def test_the_form_asks_the_facts_ctcae_uses_per_test() -> None:
    assert facts_asked("potassium") == (
        "symptomatic",
        "intervention_indicated",
        "hospitalisation_indicated",
        "life_threatening",
    )
    assert facts_asked("sodium") == (
        "symptomatic",
        "intervention_indicated",
        "hospitalisation_indicated",
        "life_threatening",
    )
    assert facts_asked("magnesium") == ("life_threatening",)
    assert facts_asked("platelets") == ()


def test_hypercalcaemia_with_hospitalisation_is_saved_as_grade_3(record: Record) -> None:
    # CTCAE v5.0 Hypercalcemia G3: ">3.1-3.4 mmol/L; hospitalization indicated". 2.7 with ULN
    # 2.55 is grade 1 by the value; hospitalisation indicated makes it grade 3.
    entry = LabEntry(
        "calcium_corrected", "2.7", "mmol/L", "2.15", "2.55", (("hospitalisation_indicated", True),)
    )
    check = check_entry(entry)
    assert check.grade is not None and check.grade.grade == 3 and check.severe
    assert "hospitalisation indicated" in check.grade_text
    pid = helpers.patient(record, "MRN-1", "Novak", "Jana")
    (lab_id,) = save_panel(record, pid, [entry], AT, now=NOW)
    stored = record.repos.labs.get(lab_id).value
    assert stored.fact_map == {"hospitalisation_indicated": True}


def test_printed_and_charted_grades_read_the_stored_facts(record: Record) -> None:
    from clinic_app.core.ctcae import default_grading_table
    from clinic_app.services.documents import lab_grade

    entry = LabEntry(
        "calcium_corrected", "2.7", "mmol/L", "2.15", "2.55", (("hospitalisation_indicated", True),)
    )
    pid = helpers.patient(record, "MRN-1", "Novak", "Jana")
    (lab_id,) = save_panel(record, pid, [entry], AT, now=NOW)
    stored = record.repos.labs.get(lab_id).value
    graded = lab_grade(stored, None, default_grading_table())
    # CTCAE v5.0 Hypercalcemia G3: hospitalization indicated (the value alone is grade 1).
    assert not isinstance(graded, str) and graded is not None and graded.grade == 3


def test_patient_list_flags_hypercalcaemia_with_hospitalisation(record: Record) -> None:
    from datetime import date

    from clinic_app.core.protocol_loader import load_protocols
    from clinic_app.core.records import LabResult
    from clinic_app.services.patient_state import list_patient_rows

    pid = helpers.patient(record, "MRN-CA", "Flag", "Calcium")
    eid = helpers.enrol(record, pid, "dextr", date(2024, 2, 26))
    helpers.cycle(record, eid, 1, "induction", date(2024, 3, 4), date(2024, 3, 4))
    at = datetime(2024, 3, 12, 8, 0, tzinfo=UTC)
    two_seven = LabResult(
        "calcium_corrected", D("2.7"), "mmol/L", at, D("2.7"), D("2.15"), D("2.55")
    )
    with record.transaction(reason="test"):
        record.repos.labs.add(pid, two_seven)

    def flagged() -> bool:
        (row,) = list_patient_rows(record, date(2024, 3, 20), load_protocols())
        return row.severe_toxicity

    # 2.7 > ULN 2.55, <= 2.9: grade 1 by the value alone, no flag.
    assert not flagged()
    with record.transaction(reason="test"):
        record.repos.labs.add(pid, replace(two_seven, facts=(("hospitalisation_indicated", True),)))
    # CTCAE v5.0 Hypercalcemia G3: hospitalization indicated -> grade 3, flagged.
    assert flagged()
