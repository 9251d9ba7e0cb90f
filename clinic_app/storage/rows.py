"""Storage-side records that ``clinic_app.core.records`` does not (yet) define, and ``Stored``.

``Stored`` wraps any core object read from the record with what an editor needs to write it
back: the row id and the ``version`` it read (an update based on an older version is refused).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any, Generic, TypeVar

from clinic_app.core.records import Phase

T = TypeVar("T")


@dataclass(frozen=True)
class Stored(Generic[T]):
    value: T
    id: int
    version: int
    created_at: str
    created_by: str
    voided_at: str | None = None
    void_reason: str | None = None

    @property
    def voided(self) -> bool:
        return self.voided_at is not None


class CycleStatus(StrEnum):
    PLANNED = "planned"
    STARTED = "started"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class CycleRow:
    """One cycle of one enrolment as recorded: when it was planned and started, and on what
    basis its doses were computed (BSA from a measurement, CrCl from a lab)."""

    enrolment_id: int
    number: int
    phase: Phase
    planned_start: date
    status: CycleStatus = CycleStatus.PLANNED
    start_date: date | None = None
    delay_days: int = 0
    delay_reason: str | None = None
    dose_level: int | None = None
    bsa_m2: Decimal | None = None
    bsa_formula: str | None = None
    measurement_id: int | None = None
    crcl_ml_min: Decimal | None = None
    crcl_lab_id: int | None = None
    elected_options: dict[str, str] = field(default_factory=dict)
    """Options elected for this cycle, e.g. ``{"dexamethasone": "20 mg"}`` (BPD dex-20)."""
    id: int | None = None


@dataclass(frozen=True)
class DoseDetails:
    """Parts of a planned dose that ``DoseEvent`` does not carry."""

    route: str | None = None
    units: dict[str, str] = field(default_factory=dict)
    """Free-form unit notes (e.g. ``{"prescribed": "mg/m2"}``), kept as JSON."""


class DecisionKind(StrEnum):
    PHASE = "phase"
    OFF_STUDY = "off_study"
    BPD_DEX_20 = "bpd_dex_20"
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
