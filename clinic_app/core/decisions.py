"""Recorded clinical decisions and DLT reviews, and the dated events the endpoints need.

Domain objects (moved here from storage, issue 17) so that the rules in core can take them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any


class DecisionKind(StrEnum):
    PHASE = "phase"
    OFF_STUDY = "off_study"
    OPTION = "option"
    """An investigator option of the protocol file elected: ``{"option": key}`` in the payload."""
    # The one legacy mapping: the only decision kind written before options were data (it
    # elected an option by its kind). Old records keep it and are read, never rewritten; the
    # protocol option whose ``legacy_kind`` names this value is the one it elected.
    LEGACY_OPTION = "bpd_dex_20"
    """An option elected before options were data; never written any more."""
    CONDITION_OVERRIDE = "condition_override"
    ESCALATION = "escalation"
    OTHER = "other"


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
    proposed: bool
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
