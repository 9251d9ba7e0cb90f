"""A BPD cycle-1 dose reduction counts as a DLT item by what it was for (clinical rules §5):
haematological toxicity and other toxicity are different items; a reduction not for toxicity is
not one; and a reduction whose cause the record does not hold is said, never guessed."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from clinic_app.core.dlt import DltRule
from clinic_app.core.records import DoseModification, ReductionCause
from clinic_app.services.dlt_review import dlt_review_view
from clinic_app.storage.database import Record

from .test_dlt_review import PROTOCOLS, TODAY, level_two_patient


def reduce(record: Record, cause: ReductionCause | None) -> int:
    pid = level_two_patient(record, None)  # no AE: only the reduction can fire
    (enrolment,) = record.repos.enrolments.for_patient(pid)
    assert enrolment.id is not None
    # Day 12 of cycle 1 (C1 = 2024-02-01): pomalidomide 4 mg -> 3 mg from cycle 2.
    record.repos.modifications.add(
        enrolment.id,
        DoseModification(
            "pomalidomide",
            Decimal(4),
            Decimal(3),
            "platelets 40 on day 12",
            2,
            "Dr Ray",
            date(2024, 2, 12),
            cause=cause,
        ),
        reason="test",
    )
    return pid


@pytest.mark.parametrize(
    ("cause", "rule"),
    [
        (ReductionCause.HAEMATOLOGICAL, DltRule.HAEM_DOSE_REDUCTION),
        (ReductionCause.NON_HAEMATOLOGICAL, DltRule.NONHAEM_DOSE_REDUCTION),
    ],
)
def test_a_cycle_1_reduction_for_toxicity_is_proposed_as_a_dlt(
    record: Record, cause: ReductionCause, rule: DltRule
) -> None:
    view = dlt_review_view(record, reduce(record, cause), TODAY, PROTOCOLS)
    assert view.proposal is not None and view.proposal.dlt is True
    assert [f.rule for f in view.proposal.fired] == [rule]
    (finding,) = view.proposal.fired
    assert "4 mg" in " ".join(finding.evidence) and "3 mg" in " ".join(finding.evidence)
    assert not any("does not say" in line for line in view.evidence())


def test_a_reduction_not_for_toxicity_is_no_dlt_item(record: Record) -> None:
    view = dlt_review_view(record, reduce(record, ReductionCause.NOT_TOXICITY), TODAY, PROTOCOLS)
    assert view.proposal is not None and view.proposal.dlt is False
    assert view.proposal.fired == ()


def test_a_reduction_without_its_cause_is_said_not_guessed(record: Record) -> None:
    view = dlt_review_view(record, reduce(record, None), TODAY, PROTOCOLS)
    assert view.proposal is not None
    assert view.proposal.fired == ()
    assert any(
        "pomalidomide reduction of 2024-02-12 is not assessed" in line
        and "does not say whether it was for haematological toxicity" in line
        for line in (*view.missing, *view.evidence())
    )
