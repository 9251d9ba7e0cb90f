"""DLT review (BPD cycle 1): a dose-level-2 patient's proposal confirmed or overridden by the
investigator, stored in dlt_reviews and counted by the 3+3 board; refusals leave no trace."""

from __future__ import annotations

from datetime import date

import pytest

from clinic_app.core.decisions import DltReview
from clinic_app.core.errors import DomainError
from clinic_app.core.protocol_loader import load_protocols
from clinic_app.core.records import AdverseEvent, Attribution
from clinic_app.services.dlt_review import dlt_review_view, record_review
from clinic_app.services.trial import build_escalation_board
from clinic_app.storage.database import Record
from clinic_app.storage.errors import StaleRecordError

from .helpers import cycle, enrol, lab, patient

PROTOCOLS = load_protocols()
BPD = PROTOCOLS["bpd"]
C1 = date(2024, 2, 1)
C2 = date(2024, 2, 29)  # C1 + 28 days (2024 is a leap year)
TODAY = date(2024, 3, 1)


def reviewed(record: Record, mrn: str, level: int, dlt: bool) -> None:
    pid = patient(record, mrn, f"Cohort{mrn}")
    eid = enrol(record, pid, "bpd", date(2023, 6, 1), dose_level=level, cohort="escalation")
    cid = cycle(record, eid, 1, "treatment", date(2023, 6, 5), date(2023, 6, 5))
    record.repos.dlt_reviews.add(
        DltReview(eid, dlt, dlt, True, "Dr Ray", date(2023, 7, 5), "review", cid)
    )


def level_two_patient(record: Record, rash_grade: int | None) -> int:
    # Level 1: 0 of 3 DLT -> escalate; level 2 already has 2 patients without DLT.
    for n in range(3):
        reviewed(record, f"L1-{n}", 1, False)
    for n in range(2):
        reviewed(record, f"L2-{n}", 2, False)
    pid = patient(record, "B-2", "Leveltwo", "Bea")
    eid = enrol(record, pid, "bpd", date(2024, 1, 25), dose_level=2, cohort="escalation")
    cycle(record, eid, 1, "treatment", C1, C1, dose_level=2)
    cycle(record, eid, 2, "treatment", C2, C2, dose_level=2)
    lab(record, pid, "anc", "2.0", "10^9/L", date(2024, 1, 30))
    lab(record, pid, "platelets", "180", "10^9/L", date(2024, 1, 30))
    lab(record, pid, "anc", "1.6", "10^9/L", date(2024, 2, 15))
    if rash_grade is not None:
        # BPD: "any Grade 4 rash" at least possibly related to a study drug is a DLT.
        record.repos.adverse_events.add(
            pid,
            AdverseEvent(
                "Rash maculo-papular",
                rash_grade,
                date(2024, 2, 10),
                attribution={"pomalidomide": Attribution.POSSIBLE},
            ),
        )
    return pid


def board_text(record: Record) -> str:
    return build_escalation_board(record, BPD).decision_text


def test_before_review_the_board_waits(record: Record) -> None:
    pid = level_two_patient(record, 4)
    view = dlt_review_view(record, pid, TODAY, PROTOCOLS)
    assert view.proposal is not None and view.proposal.dlt is True
    assert "DLT rules that fired:" in view.evidence()
    assert board_text(record) == "wait for pending DLT results"


def test_confirming_a_proposed_dlt_expands_level_2(record: Record) -> None:
    pid = level_two_patient(record, 4)
    view = dlt_review_view(record, pid, TODAY, PROTOCOLS)
    record_review(
        record, view, dlt=True, evaluable=True, reviewer="Dr Ray", reviewed_on=TODAY, today=TODAY
    )
    [review] = dlt_review_view(record, pid, TODAY, PROTOCOLS).reviews
    assert (review.value.proposed, review.value.confirmed, review.value.evaluable) == (
        True,
        True,
        True,
    )
    assert review.value.reason == "proposal confirmed"
    # 3+3: 1 DLT in 3 at level 2 -> 3 more at the same level.
    assert board_text(record) == "expand 2 to 6"


def test_overriding_needs_a_reason_then_counts_as_no_dlt(record: Record) -> None:
    pid = level_two_patient(record, 4)
    view = dlt_review_view(record, pid, TODAY, PROTOCOLS)
    with pytest.raises(DomainError) as refused:
        record_review(
            record,
            view,
            dlt=False,
            evaluable=True,
            reviewer="Dr Ray",
            reviewed_on=TODAY,
            today=TODAY,
        )
    assert refused.value.field == "reason"
    assert dlt_review_view(record, pid, TODAY, PROTOCOLS).reviews == ()
    record_review(
        record,
        view,
        dlt=False,
        evaluable=True,
        reviewer="Dr Ray",
        reviewed_on=TODAY,
        today=TODAY,
        reason="rash from co-trimoxazole, not the study drugs",
    )
    [review] = dlt_review_view(record, pid, TODAY, PROTOCOLS).reviews
    assert (review.value.proposed, review.value.confirmed) == (True, False)
    # 0 DLT in 3 at level 2 -> escalate to 3.
    assert board_text(record) == "enrol at 3"


def test_no_dlt_proposal_confirmed_without_reason(record: Record) -> None:
    pid = level_two_patient(record, None)
    view = dlt_review_view(record, pid, TODAY, PROTOCOLS)
    assert view.proposal is not None and view.proposal.dlt is False
    record_review(
        record, view, dlt=False, evaluable=True, reviewer="Dr Ray", reviewed_on=TODAY, today=TODAY
    )
    assert board_text(record) == "enrol at 3"


def test_refusals_store_nothing(record: Record) -> None:
    pid = level_two_patient(record, 4)
    view = dlt_review_view(record, pid, TODAY, PROTOCOLS)
    bad = [
        ({"reviewer": " "}, "reviewer"),
        ({"reviewed_on": date(2024, 3, 2)}, "reviewed_on"),  # after today
        ({"reviewed_on": date(2024, 1, 31)}, "reviewed_on"),  # before cycle 1
        ({"evaluable": False, "reason": "x"}, "evaluable"),  # a DLT makes the patient evaluable
    ]
    for change, field in bad:
        args = {"dlt": True, "evaluable": True, "reviewer": "Dr Ray", "reviewed_on": TODAY}
        args.update(change)
        with pytest.raises(DomainError) as refused:
            record_review(record, view, today=TODAY, **args)  # type: ignore[arg-type]
        assert refused.value.field == field
    assert dlt_review_view(record, pid, TODAY, PROTOCOLS).reviews == ()
    record_review(
        record, view, dlt=True, evaluable=True, reviewer="Dr Ray", reviewed_on=TODAY, today=TODAY
    )
    with pytest.raises(DomainError, match="already recorded"):
        record_review(
            record,
            dlt_review_view(record, pid, TODAY, PROTOCOLS),
            dlt=True,
            evaluable=True,
            reviewer="Dr Ray",
            reviewed_on=TODAY,
            today=TODAY,
        )


def test_an_open_proposal_row_is_completed_not_duplicated(record: Record) -> None:
    pid = level_two_patient(record, 4)
    view = dlt_review_view(record, pid, TODAY, PROTOCOLS)
    assert view.enrolment is not None and view.enrolment.id is not None and view.cycle
    record.repos.dlt_reviews.add(DltReview(view.enrolment.id, True, cycle_id=view.cycle.id))
    view = dlt_review_view(record, pid, TODAY, PROTOCOLS)
    assert view.open_review is not None
    record_review(
        record, view, dlt=True, evaluable=True, reviewer="Dr Ray", reviewed_on=TODAY, today=TODAY
    )
    [review] = dlt_review_view(record, pid, TODAY, PROTOCOLS).reviews
    assert review.version == 2 and review.value.confirmed is True


def test_window_still_open_can_only_be_decided_with_a_reason(record: Record) -> None:
    pid = level_two_patient(record, None)
    early = date(2024, 2, 20)  # cycle 1 day 20: the 28-day window is still open
    view = dlt_review_view(record, pid, early, PROTOCOLS)
    assert view.proposal is not None and view.proposal.dlt is None
    with pytest.raises(DomainError) as refused:
        record_review(
            record, view, dlt=False, evaluable=True, reviewer="Dr R", reviewed_on=early, today=early
        )
    assert refused.value.field == "reason" and "could not decide" in str(refused.value)
    assert record.repos.dlt_reviews.for_enrolment(view.enrolment.id or 0) == []
    # With a reason it is stored as it was: the rules could not decide (not "no DLT").
    review_id = record_review(
        record,
        view,
        dlt=False,
        evaluable=True,
        reviewer="Dr R",
        reviewed_on=early,
        reason="counts recovered; judged no DLT",
        today=early,
    )
    stored = record.repos.dlt_reviews.get(review_id).value
    assert (stored.proposed, stored.confirmed) == (None, False)


def test_two_windows_cannot_both_record_a_verdict(record: Record) -> None:
    # Two investigators open the review; the first confirms the DLT (grade 4 rash), the
    # second, on the old screen, overrides to "no DLT". One patient must have one verdict.
    pid = level_two_patient(record, 4)
    first = dlt_review_view(record, pid, TODAY, PROTOCOLS)
    second = dlt_review_view(record, pid, TODAY, PROTOCOLS)
    record_review(
        record, first, dlt=True, evaluable=True, reviewer="Dr Ray", reviewed_on=TODAY, today=TODAY
    )
    with pytest.raises(StaleRecordError, match="recorded after this review was opened"):
        record_review(
            record,
            second,
            dlt=False,
            evaluable=True,
            reviewer="Dr Lee",
            reviewed_on=TODAY,
            today=TODAY,
            reason="rash judged unrelated",
        )
    [review] = dlt_review_view(record, pid, TODAY, PROTOCOLS).reviews
    assert (review.value.reviewer, review.value.confirmed) == ("Dr Ray", True)
    # 3+3: 1 DLT in 3 at level 2 -> 3 more at the same level (not escalate to 3).
    assert board_text(record) == "expand 2 to 6"


def test_the_view_lists_near_misses_under_their_heading(record: Record) -> None:
    # A G3 arterial thromboembolism possibly related to pomalidomide: no clause fires (the
    # general clause excepts thrombotic events; only VTE is named), so it is for judgement.
    from clinic_app.core.dlt import NEAR_MISS_HEADING

    pid = level_two_patient(record, None)
    record.repos.adverse_events.add(
        pid,
        AdverseEvent(
            "Arterial thromboembolism",
            3,
            date(2024, 2, 12),
            attribution={"pomalidomide": Attribution.POSSIBLE},
        ),
    )
    view = dlt_review_view(record, pid, TODAY, PROTOCOLS)
    assert view.proposal is not None and view.proposal.dlt is False
    assert view.proposal.summary.startswith("Proposed DLT: no by the rules, but 1 finding")
    lines = view.evidence()
    at = lines.index(NEAR_MISS_HEADING)
    assert "thrombotic event other than venous thromboembolism" in lines[at + 1]
