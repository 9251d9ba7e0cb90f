"""services.ae_entry: field checks, protocol drugs, save / correct / void on a real record."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from clinic_app.core.ae_terms import ae_term
from clinic_app.core.errors import DomainError
from clinic_app.core.protocol import Protocol
from clinic_app.core.records import AdverseEvent, Attribution
from clinic_app.services.ae_entry import (
    AeForm,
    ProtocolDrug,
    correct_ae,
    form_from_event,
    grade_choices,
    is_severe,
    protocol_drugs,
    save_ae,
    severity_label,
    validate_ae,
    void_ae,
)
from clinic_app.storage.database import Record
from clinic_app.storage.errors import StaleRecordError
from tests.services import helpers

TODAY = date(2025, 3, 10)
BPD = (
    ProtocolDrug("bendamustine", "Bendamustine"),
    ProtocolDrug("pomalidomide", "Pomalidomide"),
    ProtocolDrug("dexamethasone", "Dexamethasone"),
)
ALL_POSSIBLE = {d.key: Attribution.POSSIBLE for d in BPD}


def form(**changes: object) -> AeForm:
    base = AeForm(
        term="Nausea",
        grade=3,
        onset=date(2025, 3, 3),
        resolved=date(2025, 3, 8),
        attribution=ALL_POSSIBLE,
        despite_maximal_therapy=True,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_valid_form_builds_the_event() -> None:
    event, errors = validate_ae(form(notes="  antiemetics x3 "), BPD, TODAY)
    assert errors == {}
    assert event == AdverseEvent(
        term="Nausea",
        grade=3,
        onset=date(2025, 3, 3),
        resolved=date(2025, 3, 8),
        attribution=ALL_POSSIBLE,
        despite_maximal_therapy=True,
        notes="antiemetics x3",
    )
    # Unanswered DLT facts stay unknown, never "no".
    assert event.with_bleeding is None and event.steroids_given is None


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"term": " "}, "term", "Choose the CTCAE term"),
        ({"term": "Headache-ish"}, "term", "not a CTCAE term"),
        ({"grade": None}, "grade", "Choose the grade"),
        # CTCAE v5.0 Nausea defines grades 1-3 only.
        ({"grade": 4}, "grade", "has no grade 4"),
        ({"onset": None}, "onset", "Enter the onset"),
        ({"onset": date(2025, 3, 11), "resolved": None}, "onset", "in the future"),
        # Resolution one day before onset: refused; the same day is fine (next test).
        ({"resolved": date(2025, 3, 2)}, "resolved", "before the onset"),
        ({"resolved": date(2025, 3, 11)}, "resolved", "in the future"),
        ({"attribution": {"bendamustine": Attribution.POSSIBLE}}, "attribution.pomalidomide",
         "Choose how likely Pomalidomide"),
        ({"attribution": {**ALL_POSSIBLE, "aspirin": Attribution.UNLIKELY}}, "attribution",
         "aspirin"),
    ],
)  # fmt: skip
def test_each_refusal_is_at_its_field(changes: dict[str, object], field: str, words: str) -> None:
    event, errors = validate_ae(form(**changes), BPD, TODAY)
    assert event is None
    assert words in errors[field]


def test_boundaries_of_the_dates() -> None:
    same_day = form(onset=date(2025, 3, 3), resolved=date(2025, 3, 3))
    assert validate_ae(same_day, BPD, TODAY)[1] == {}
    today = form(onset=TODAY, resolved=TODAY)
    assert validate_ae(today, BPD, TODAY)[1] == {}
    death = form(term="Thromboembolic event", grade=5, resolved=date(2025, 3, 8))
    assert "no resolution" in validate_ae(death, BPD, TODAY)[1]["resolved"]
    assert validate_ae(replace(death, resolved=None), BPD, TODAY)[1] == {}


def test_grade_choices_are_the_terms_own() -> None:
    assert [g for g, _ in grade_choices(ae_term("Nausea"))] == [1, 2, 3]
    assert all(text for _, text in grade_choices(ae_term("Nausea")))


def test_severity_is_words_and_sign_not_colour() -> None:
    assert severity_label(3).startswith("⚠ Grade 3")
    assert severity_label(4) == "⚠ Grade 4: life-threatening"
    assert not severity_label(2).startswith("⚠")
    assert (is_severe(2), is_severe(3), is_severe(None)) == (False, True, False)


def test_protocol_drugs_follow_the_enrolment(
    record: Record, protocols: dict[str, Protocol]
) -> None:
    pid = helpers.patient(record, "A-1", "Horak")
    assert protocol_drugs(record, pid, protocols) == ()
    helpers.enrol(record, pid, "bpd", date(2025, 1, 6), dose_level=2, cohort="escalation")
    keys = [d.key for d in protocol_drugs(record, pid, protocols)]
    assert sorted(keys) == ["bendamustine", "dexamethasone", "pomalidomide"]
    with pytest.raises(DomainError, match="not among the loaded protocols"):
        protocol_drugs(record, pid, {})


def test_save_correct_void(record: Record) -> None:
    pid = helpers.patient(record, "A-2", "Horak")
    with pytest.raises(DomainError) as caught:
        save_ae(record, pid, form(grade=4), BPD, today=TODAY)
    assert caught.value.field == "grade"
    assert record.repos.adverse_events.for_patient(pid) == []
    ae_id = save_ae(record, pid, form(), BPD, today=TODAY)
    stored = record.repos.adverse_events.get(ae_id)
    assert stored.value.grade == 3 and stored.value.attribution == ALL_POSSIBLE
    assert form_from_event(stored.value).term == "Nausea"
    with pytest.raises(DomainError, match="Say why"):
        correct_ae(record, ae_id, form(grade=2), BPD, expected_version=stored.version,
                   reason="", today=TODAY)  # fmt: skip
    with pytest.raises(DomainError, match="before the onset"):
        correct_ae(record, ae_id, form(resolved=date(2025, 3, 1)), BPD,
                   expected_version=stored.version, reason="dates", today=TODAY)  # fmt: skip
    assert record.repos.adverse_events.get(ae_id).value.grade == 3
    fixed = correct_ae(record, ae_id, form(grade=2), BPD, expected_version=stored.version,
                       reason="regraded by investigator", today=TODAY)  # fmt: skip
    assert fixed.value.grade == 2
    reasons = [e.reason for e in record.repos.adverse_events.history(ae_id)]
    assert "regraded by investigator" in reasons
    with pytest.raises(StaleRecordError):
        void_ae(record, ae_id, expected_version=stored.version, reason="dup")
    void_ae(record, ae_id, expected_version=fixed.version, reason="entered twice")
    assert record.repos.adverse_events.for_patient(pid) == []
