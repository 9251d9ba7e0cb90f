"""Recorded clinical decisions and DLT reviews, and the dated events the endpoints need.

Domain objects (moved here from storage, issue 17) so that the rules in core can take them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

# Here too, where the decisions' readers look for it.
from clinic_app.core.decision_kinds import DecisionKind as DecisionKind


@dataclass(frozen=True)
class Decision:
    """A recorded clinical decision: who decided what, when and why."""

    enrolment_id: int
    kind: DecisionKind
    decided_by: str
    decided_on: date
    payload: dict[str, Any] = field(default_factory=dict)
    """JSON-able details (e.g. ``{"from": "induction", "to": "maintenance"}``)."""
    reason: str = ""
    id: int | None = None


@dataclass(frozen=True)
class DltReview:
    """The review of a proposed dose-limiting toxicity (BPD escalation, cycle 1)."""

    enrolment_id: int
    proposed: bool | None
    """What the rules proposed when the review was recorded; None: they could not decide."""
    confirmed: bool | None = None
    evaluable: bool | None = None
    reviewer: str | None = None
    reviewed_on: date | None = None
    reason: str = ""
    cycle_id: int | None = None
    adverse_event_id: int | None = None
    id: int | None = None


class EndpointKind(StrEnum):
    NEXT_THERAPY = "next_therapy"
    DEATH = "death"


@dataclass(frozen=True)
class EndpointEvent:
    """Dates the survival endpoints need that are not part of treatment (rules: endpoints)."""

    patient_id: int
    kind: EndpointKind
    event_on: date
    details: str = ""
    id: int | None = None
