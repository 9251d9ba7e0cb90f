"""Treatment cycles as recorded: status, dates, dose level and the basis of the doses.

Domain objects (moved here from storage, issue 17) so that the cycle rules in core can take them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum


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
    phase: str
    """The key of the protocol phase the cycle belongs to (``[[phases]] key``)."""
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
    """Options elected for this cycle: option key -> the dose it gives, e.g.
    ``{"dexamethasone_20": "20 mg"}`` (older rows may say ``"elected"``, or name the drug:
    :func:`clinic_app.core.options.cycle_option_keys` reads them all)."""
    id: int | None = None


@dataclass(frozen=True)
class DoseDetails:
    """Parts of a planned dose that ``DoseEvent`` does not carry."""

    route: str | None = None
    units: dict[str, str] = field(default_factory=dict)
    """Free-form unit notes (e.g. ``{"prescribed": "mg/m2"}``), kept as JSON."""
