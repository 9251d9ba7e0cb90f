"""Decisions, DLT reviews and endpoint dates: what the escalation and endpoint rules read."""

from __future__ import annotations

from typing import Any

from clinic_app.core.decisions import Decision, DecisionKind, DltReview, EndpointEvent, EndpointKind
from clinic_app.storage.repositories import _codec as c
from clinic_app.storage.repositories._base import Row, TableRepository


class DecisionRepository(TableRepository[Decision]):
    table = "decisions"
    noun = "decision"

    def encode(self, value: Decision) -> dict[str, Any]:
        return {
            "kind": DecisionKind(value.kind).value,
            "payload": c.dump(value.payload),
            "decided_by": value.decided_by,
            "decided_on": c.day(value.decided_on),
            "reason": value.reason,
        }

    def decode(self, row: Row) -> Decision:
        return Decision(
            enrolment_id=int(row["enrolment_id"]),
            kind=DecisionKind(row["kind"]),
            decided_by=row["decided_by"],
            decided_on=c.need_day(row["decided_on"]),
            payload=dict(c.load(row["payload"]) or {}),
            reason=row["reason"],
            id=int(row["id"]),
        )

    def add(self, decision: Decision, *, reason: str | None = None) -> int:
        columns = {"enrolment_id": decision.enrolment_id, **self.encode(decision)}
        return self._insert(columns, reason or decision.reason or None)

    def for_enrolment(self, enrolment_id: int, kind: DecisionKind | None = None) -> list[Decision]:
        if kind is None:
            return self._live("enrolment_id = ?", [enrolment_id], "decided_on, id")
        return self._live(
            "enrolment_id = ? AND kind = ?",
            [enrolment_id, DecisionKind(kind).value],
            "decided_on, id",
        )


class DltReviewRepository(TableRepository[DltReview]):
    table = "dlt_reviews"
    noun = "DLT review"

    def encode(self, value: DltReview) -> dict[str, Any]:
        return {
            "cycle_id": value.cycle_id,
            "adverse_event_id": value.adverse_event_id,
            "proposed": c.flag(value.proposed),
            "confirmed": c.flag(value.confirmed),
            "evaluable": c.flag(value.evaluable),
            "reviewer": value.reviewer,
            "reviewed_on": c.day(value.reviewed_on),
            "reason": value.reason,
        }

    def decode(self, row: Row) -> DltReview:
        return DltReview(
            enrolment_id=int(row["enrolment_id"]),
            proposed=c.to_flag(row["proposed"]),
            confirmed=c.to_flag(row["confirmed"]),
            evaluable=c.to_flag(row["evaluable"]),
            reviewer=row["reviewer"],
            reviewed_on=c.to_day(row["reviewed_on"]),
            reason=row["reason"],
            cycle_id=row["cycle_id"],
            adverse_event_id=row["adverse_event_id"],
            id=int(row["id"]),
        )

    def add(self, review: DltReview, *, reason: str | None = None) -> int:
        return self._insert({"enrolment_id": review.enrolment_id, **self.encode(review)}, reason)

    def for_enrolment(self, enrolment_id: int) -> list[DltReview]:
        return self._live("enrolment_id = ?", [enrolment_id], "id")


class EndpointRepository(TableRepository[EndpointEvent]):
    table = "endpoint_events"
    noun = "endpoint date"

    def encode(self, value: EndpointEvent) -> dict[str, Any]:
        return {
            "kind": EndpointKind(value.kind).value,
            "event_on": c.day(value.event_on),
            "details": value.details,
        }

    def decode(self, row: Row) -> EndpointEvent:
        return EndpointEvent(
            patient_id=int(row["patient_id"]),
            kind=EndpointKind(row["kind"]),
            event_on=c.need_day(row["event_on"]),
            details=row["details"],
            id=int(row["id"]),
        )

    def add(self, event: EndpointEvent, *, reason: str | None = None) -> int:
        return self._insert({"patient_id": event.patient_id, **self.encode(event)}, reason)

    def for_patient(self, patient_id: int) -> list[EndpointEvent]:
        return self._live("patient_id = ?", [patient_id], "event_on, id")
