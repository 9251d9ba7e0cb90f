"""The investigator's review of the cycle-1 DLT proposal (BPD, rules §5) and what it feeds.

The proposal is the chart's (:func:`clinic_app.services.patient_state.patient_summary` builds the
engine's input from the record and runs :func:`clinic_app.core.dlt.propose_dlt`); nothing here
rebuilds it. The investigator either *confirms* it (the verdict is the proposal's) or
*overrides* it (the other verdict, which needs a reason); either way one ``dlt_reviews`` row
records the verdict (``confirmed`` = DLT yes/no), toxicity evaluability, who and when. The 3+3
board (:mod:`clinic_app.services.trial`, through :func:`clinic_app.services.enrolment.dlt_status`)
then counts the patient.

A proposal that cannot be decided yet (``dlt is None``: the window is still open, or a fact is
missing) can still be reviewed, but only with a reason: the investigator is then deciding on
what the engine could not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date

from clinic_app.core.cycles import CycleRow
from clinic_app.core.decisions import DltReview
from clinic_app.core.dlt import DltProposal
from clinic_app.core.errors import DomainError
from clinic_app.core.protocol import Protocol
from clinic_app.core.records import Enrolment, Patient
from clinic_app.services.context import record_protocols
from clinic_app.services.patient_state import patient_summary
from clinic_app.storage.database import Record
from clinic_app.storage.errors import NOTHING_LOST, StaleRecordError
from clinic_app.storage.rows import Stored


@dataclass(frozen=True)
class DltReviewView:
    patient: Patient
    protocol: Protocol | None
    enrolment: Enrolment | None
    cycle: CycleRow | None
    """The DLT cycle (cycle 1)."""
    proposal: DltProposal | None
    reviews: tuple[Stored[DltReview], ...]
    """Live reviews already recorded for this enrolment."""
    missing: tuple[str, ...]

    @property
    def open_review(self) -> Stored[DltReview] | None:
        """A recorded proposal still awaiting the investigator's verdict, if any."""
        return next((r for r in self.reviews if r.value.confirmed is None), None)

    @property
    def decided(self) -> Stored[DltReview] | None:
        return next((r for r in self.reviews if r.value.confirmed is not None), None)

    def evidence(self) -> tuple[str, ...]:
        """The proposal's reasoning, one line each: evaluability, rules fired, gaps, notes."""
        return self.missing if self.proposal is None else self.proposal.evidence_lines()


def dlt_review_view(
    record: Record,
    patient_id: int,
    today: date,
    protocols: Mapping[str, Protocol] | None = None,
) -> DltReviewView:
    protocols = record_protocols(record) if protocols is None else protocols
    summary = patient_summary(record, patient_id, today, protocols)
    enrolment = summary.enrolment
    protocol = protocols.get(enrolment.protocol) if enrolment is not None else None
    missing = list(summary.dlt_missing)
    if enrolment is None or enrolment.id is None:
        return DltReviewView(summary.patient, protocol, None, None, None, (), tuple(missing))
    if protocol is None or (protocol.dlt_criteria is None and "dlt" not in protocol.rule_tables):
        missing.append("the protocol has no DLT rules")
    table = protocol.rule_tables.get("dlt", {}) if protocol is not None else {}
    dlt_cycle = table.get("cycle", 1)
    cycle = next(
        (c for c in record.repos.cycles.for_enrolment(enrolment.id) if c.number == dlt_cycle),
        None,
    )
    reviews = tuple(
        record.repos.dlt_reviews.get(r.id)
        for r in record.repos.dlt_reviews.for_enrolment(enrolment.id)
        if r.id is not None
    )
    return DltReviewView(
        summary.patient, protocol, enrolment, cycle, summary.dlt, reviews, tuple(missing)
    )


def record_review(
    record: Record,
    view: DltReviewView,
    *,
    dlt: bool,
    evaluable: bool,
    reviewer: str,
    reviewed_on: date,
    today: date,
    reason: str = "",
) -> int:
    """Record the investigator's verdict; returns the review's id.

    Confirming the proposal needs no reason; overriding it (or deciding where the engine could
    not) does. Refused when a verdict is already recorded: correct that review instead.
    """
    if view.enrolment is None or view.enrolment.id is None or view.cycle is None:
        raise DomainError("The patient has no DLT cycle to review.", field="verdict")
    if view.proposal is None:
        raise DomainError(
            "There is no DLT proposal to review: " + "; ".join(view.missing or ("none",)),
            field="verdict",
        )
    if view.decided is not None:
        d = view.decided.value
        raise DomainError(
            f"A DLT verdict is already recorded ({d.reviewer}, {d.reviewed_on}); correct or void "
            "that review in its history instead.",
            field="verdict",
        )
    if not reviewer.strip():
        raise DomainError("Enter the reviewing investigator.", field="reviewer")
    if reviewed_on > today:
        raise DomainError("The review date is in the future.", field="reviewed_on")
    start = view.cycle.start_date
    if start is None or reviewed_on < start:
        raise DomainError(
            f"The review date is before cycle {view.cycle.number} started ({start}).",
            field="reviewed_on",
        )
    proposal = view.proposal
    overrides = proposal.dlt is None or proposal.dlt != dlt
    overrides = overrides or evaluable != proposal.evaluable_for_toxicity
    if overrides and not reason.strip():
        what = (
            "The rules could not decide yet"
            if proposal.dlt is None
            else "The verdict differs from the proposal"
        )
        raise DomainError(
            f"{what}: give the reason for the verdict (it is kept in the record).", field="reason"
        )
    if dlt and not evaluable:
        raise DomainError(
            "A DLT counts for the cohort, so the patient is toxicity-evaluable; tick evaluable "
            "or record no DLT.",
            field="evaluable",
        )
    words = "confirmed" if not overrides else "overridden"
    why = reason.strip() or f"proposal {words}"
    review = DltReview(
        enrolment_id=view.enrolment.id,
        proposed=proposal.dlt,
        confirmed=dlt,
        evaluable=evaluable,
        reviewer=reviewer.strip(),
        reviewed_on=reviewed_on,
        reason=why,
        cycle_id=view.cycle.id,
    )
    open_review = view.open_review
    with record.transaction(reason=why):
        # Re-read inside the write: another window may have recorded a verdict since the view
        # was read; a second verdict would give the 3+3 board two answers for one patient.
        reviews = record.repos.dlt_reviews.for_enrolment(view.enrolment.id)
        done = [r for r in reviews if r.confirmed is not None]
        if done:
            d = done[0]
            raise StaleRecordError(
                f"A DLT verdict was recorded after this review was opened ({d.reviewer}, "
                f"{d.reviewed_on}: {'DLT' if d.confirmed else 'no DLT'}), so {NOTHING_LOST}. "
                "Reopen the review."
            )
        if open_review is not None:
            # A stored proposal awaiting the verdict is completed, not duplicated.
            record.repos.dlt_reviews.update(
                open_review.id,
                replace(review, adverse_event_id=open_review.value.adverse_event_id),
                expected_version=open_review.version,
                reason=why,
            )
            return open_review.id
        return record.repos.dlt_reviews.add(review, reason=why)
