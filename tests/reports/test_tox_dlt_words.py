"""The toxicity summary's DLT words say one consistent thing, read back from the PDF.

Seen on the demo (DEMO-00027, BPD cycle 1): "Proposed DLT: cannot decide yet" printed beside
"Investigator's review: proposed DLT; DLT confirmed", an AE of that reviewed cycle read "not
reviewed for DLT", and DexTR (no DLT rules) read "DLT rules cover the protocol's DLT cycle
only". The seeded BPD patient (MRN-0002) has platelets 45 ×10⁹/L on 19 Jan 2026 and no
thrombocytopenia AE saying whether there was bleeding, so the rules cannot decide; Dr Okafor
ruled out a DLT for cycle 1 on 4 Feb 2026 (the review names no AE).
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta

from clinic_app.core.records import AdverseEvent, Attribution
from clinic_app.reports.toxicity_summary import render_toxicity_summary
from clinic_app.services import documents
from clinic_app.storage.database import Record
from tests.reports.conftest import PRINTED_AT, START, _lab, pdf_pages


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def printed(record: Record, mrn: str, cycle: int = 1) -> str:
    summary = documents.build_toxicity_summary(
        record, mrn, cycle, printed_by="nurse.k", printed_at=PRINTED_AT
    )
    return flat(" ".join(pdf_pages(render_toxicity_summary(summary))))


def patient_id(record: Record, mrn: str) -> int:
    stored = record.repos.patients.by_mrn(mrn)
    assert stored is not None
    return stored.id


def test_undecided_rules_and_a_verdict_read_as_one_decision(record: Record) -> None:
    text = printed(record, "MRN-0002")
    assert "cannot decide yet" not in text
    assert (
        "Proposed DLT: the rules could not decide; missing: a thrombocytopenia AE stating "
        "whether there was bleeding. The investigator decided: no DLT." in text
    )
    # the decision in words ("not confirmed" read as "awaiting confirmation")
    assert "Investigator's review: DLT ruled out by Dr Okafor on 4 Feb 2026" in text
    assert "no DLT proposed" not in text and "DLT not confirmed" not in text
    # the clause the rules could not decide is not listed as "Not a DLT by the rules"
    undecided = text.index("Not decided by the rules (a fact is missing) — for your judgement:")
    assert undecided < text.index("Platelets fell below 50 ×10⁹/L but no G3-4")
    # the nausea of the reviewed cycle is reviewed with it
    summary = documents.build_toxicity_summary(record, "MRN-0002", 1, printed_at=PRINTED_AT)
    (nausea,) = summary.adverse_events
    assert nausea.dlt_status == "cycle 1 reviewed: DLT ruled out by Dr Okafor on 4 Feb 2026"
    assert "not reviewed for DLT" not in text


def test_demo_27_confirmed_febrile_neutropenia_without_its_temperature(record: Record) -> None:
    # As the demo records DEMO-00027: a G3 febrile neutropenia AE possibly related to
    # bendamustine, ANC 0.6 on its onset and no temperature, reviewed as a proposed and
    # confirmed DLT naming that AE. With no temperature >= 38.5 °C the rules cannot decide.
    pid = patient_id(record, "MRN-0002")
    onset = START + timedelta(days=11)  # 16 Jan 2026
    record.repos.labs.add(pid, _lab("anc", "0.6", "10^9/L", onset, lln="1.8"))
    fn = record.repos.adverse_events.add(
        pid,
        AdverseEvent(
            "Febrile neutropenia",
            3,
            onset,
            onset + timedelta(days=5),
            serious=True,
            attribution={"bendamustine": Attribution.POSSIBLE},
        ),
    )
    (review,) = record.repos.dlt_reviews.for_enrolment(
        record.repos.enrolments.for_patient(pid)[0].id or 0
    )
    assert review.id is not None
    stored = record.repos.dlt_reviews.get(review.id)
    record.repos.dlt_reviews.update(
        review.id,
        replace(
            review,
            proposed=True,
            confirmed=True,
            reason="febrile neutropenia in cycle 1",
            adverse_event_id=fn,
        ),
        expected_version=stored.version,
        reason="test",
    )
    text = printed(record, "MRN-0002")
    assert "cannot decide yet" not in text
    assert (
        "Proposed DLT: the rules could not decide; missing: the ANC and temperature readings "
        "of that episode; a thrombocytopenia AE stating whether there was bleeding. The "
        "investigator decided: DLT." in text
    )
    # the review said the rules proposed a DLT; what they propose now is said above it
    assert (
        "Investigator's review: DLT confirmed by Dr Okafor on 4 Feb 2026 (febrile neutropenia "
        "in cycle 1). When reviewed, the rules proposed a DLT; the proposal above reads the "
        "record as it is on the day of printing." in text
    )
    summary = documents.build_toxicity_summary(record, "MRN-0002", 1, printed_at=PRINTED_AT)
    status = {ae.term: ae.dlt_status for ae in summary.adverse_events}
    assert status == {
        "Nausea": "cycle 1 reviewed: the DLT confirmed is Febrile neutropenia of 16 Jan 2026",
        "Febrile neutropenia": "DLT confirmed by Dr Okafor on 4 Feb 2026 (febrile neutropenia "
        "in cycle 1)",
    }
    assert "not reviewed for DLT" not in text


def test_a_protocol_without_dlt_rules_says_so(record: Record) -> None:
    # DexTR has no DLT rules: its AEs never read as if it had a DLT cycle.
    pid = patient_id(record, "MRN-0001")
    record.repos.adverse_events.add(
        pid,
        AdverseEvent(
            "Fatigue",
            2,
            START + timedelta(days=3),
            attribution={"lenalidomide": Attribution.POSSIBLE},
        ),
    )
    summary = documents.build_toxicity_summary(record, "MRN-0001", 1, printed_at=PRINTED_AT)
    (fatigue,) = summary.adverse_events
    assert fatigue.dlt_status == "no DLT assessment in this protocol"
    text = printed(record, "MRN-0001")
    assert "no DLT assessment in this protocol" in text
    assert "DLT cycle" not in text and "DLT rules cover" not in text


def test_a_later_bpd_cycle_names_the_dlt_cycle(record: Record) -> None:
    pid = patient_id(record, "MRN-0002")
    record.repos.adverse_events.add(
        pid,
        AdverseEvent(
            "Fatigue",
            2,
            START + timedelta(days=33),
            attribution={"bendamustine": Attribution.POSSIBLE},
        ),
    )
    summary = documents.build_toxicity_summary(record, "MRN-0002", 2, printed_at=PRINTED_AT)
    status = {ae.term: ae.dlt_status for ae in summary.adverse_events}
    assert status["Fatigue"] == "not assessed: DLTs are assessed in cycle 1 only"


def _restore_review(record: Record, **changes: object) -> None:
    pid = patient_id(record, "MRN-0002")
    (review,) = record.repos.dlt_reviews.for_enrolment(
        record.repos.enrolments.for_patient(pid)[0].id or 0
    )
    assert review.id is not None
    record.repos.dlt_reviews.update(
        review.id,
        replace(review, **changes),  # type: ignore[arg-type]
        expected_version=record.repos.dlt_reviews.get(review.id).version,
        reason="test",
    )


def test_an_undecided_proposal_awaiting_the_verdict_says_so(record: Record) -> None:
    # Stored when the rules could not decide (platelets 45 and no thrombocytopenia AE).
    _restore_review(record, confirmed=None, reviewer=None, reviewed_on=None, reason="")
    text = printed(record, "MRN-0002")
    assert (
        "Investigator's review: awaiting the investigator's verdict; the rules could not "
        "decide whether it was a DLT" in text
    )
    assert "did not propose" not in text


def test_an_older_stored_no_beside_an_undecided_proposal_is_not_called_a_difference(
    record: Record,
) -> None:
    # Before undecided proposals were stored as such, "could not decide" was stored as "no":
    # printing "When reviewed, the rules did not propose a DLT" could then be untrue.
    _restore_review(record, proposed=False)
    text = printed(record, "MRN-0002")
    assert "Investigator's review: DLT ruled out by Dr Okafor on 4 Feb 2026" in text
    assert "When reviewed" not in text and "did not propose" not in text
    # A stored "DLT" where the rules now cannot decide is still said.
    _restore_review(record, proposed=True)
    assert "When reviewed, the rules proposed a DLT" in printed(record, "MRN-0002")
