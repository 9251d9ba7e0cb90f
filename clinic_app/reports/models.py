"""What a printed document holds: small frozen dataclasses the services fill from the record.

The renderers take these and nothing else (no storage, no SQL), so a document can be built in
a test from plain values and its content checked without a database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from clinic_app.core.cycle_toxicity import DoseIntensity, DoseLine, SevereSpell, WorstGrade
from clinic_app.core.dosing import WeightChange
from clinic_app.core.plan import CyclePlan
from clinic_app.reports.paper import PaperSize

__all__ = [
    "DoseIntensity",
    "DoseLine",
    "PaperSize",
    "SevereSpell",
    "WorstGrade",
]  # core types the documents hold, and the paper size (its own module, for the settings)


@dataclass(frozen=True)
class PatientIdentity:
    """The two identifiers (full name, date of birth) plus the MRN (rules §8)."""

    full_name: str
    date_of_birth: date
    mrn: str


@dataclass(frozen=True)
class PrintStamp:
    """Who printed the document, when, and from which state of the record."""

    printed_at: datetime
    printed_by: str
    record_version: str
    paper: PaperSize = PaperSize.A4


@dataclass(frozen=True)
class Clinic:
    name: str
    phone: str


@dataclass(frozen=True)
class WeightSinceBsa:
    """A weight recorded after the one behind the cycle's BSA and CrCl, changed by the
    protocol's threshold or more (rules §2): the card's doses used the earlier weight."""

    change: WeightChange
    behind_on: date
    latest_on: date


@dataclass(frozen=True)
class DosingCard:
    """One patient, one cycle (rules §8)."""

    patient: PatientIdentity
    stamp: PrintStamp
    clinic: Clinic
    plan: CyclePlan
    crcl_measured_on: date | None = None
    """The date of the creatinine behind ``plan.crcl_ml_min``."""
    show_crcl: bool = False
    """A dose in this phase depends on creatinine clearance (e.g. DexTR maintenance)."""
    weight_since: WeightSinceBsa | None = None


@dataclass(frozen=True)
class ModificationLine:
    drug_name: str
    old_dose: Decimal
    new_dose: Decimal
    unit: str
    reason: str
    effective_cycle: int
    effective_day: int
    decided_by: str
    decided_on: date


@dataclass(frozen=True)
class AeLine:
    term: str
    grade: int
    attribution: str
    onset: date
    resolved: date | None
    serious: bool
    dlt_status: str


@dataclass(frozen=True)
class LabLine:
    collected_at: datetime
    test_name: str
    value: Decimal
    unit: str
    grade: int | None
    """None when the value alone cannot settle it (see ``grade_note``) or is not graded."""
    grade_note: str
    """The CTCAE term, or why there is no grade."""


@dataclass(frozen=True)
class NadirLine:
    """The lowest result of one count in the cycle (core.cycle_toxicity.count_nadir)."""

    test_name: str
    value: Decimal | None
    """None when the count was not measured in the cycle."""
    unit: str
    on: date | None
    grade: int | None
    grade_note: str
    results: int = 1
    spells: tuple[SevereSpell, ...] = ()
    """Consecutive results at grade >= 3."""


@dataclass(frozen=True)
class ChartSeries:
    """One count over the cycle with its CTCAE grade-3 and grade-4 boundaries."""

    label: str
    unit: str
    points: tuple[tuple[int, Decimal], ...]
    """(cycle day, value in the SI unit)."""
    grade3_below: Decimal
    grade4_below: Decimal | None
    """None when grade 4 is not a value (haemoglobin: life-threatening, a clinical grade)."""


@dataclass(frozen=True)
class ResponseLine:
    assessed_on: date | None
    category: str | None
    confirmed: bool
    explanation: str
    """Why, or what is missing when there is no category."""
    limited_by: tuple[str, ...] = ()
    """What kept the category from being better (a study not done or recorded), one line each."""


@dataclass(frozen=True)
class DltSection:
    """BPD cycle 1: the engine's proposal with evidence, and the investigator's review."""

    proposal: str
    evidence: tuple[str, ...]
    review: str
    signatures: tuple[str, ...] = ()
    """The investigator's signature on each review: printed name, UTC date-time, meaning."""


@dataclass(frozen=True)
class ToxicitySummary:
    patient: PatientIdentity
    stamp: PrintStamp
    protocol_name: str
    cycle: int
    phase_name: str
    dose_level: int | None
    start: date
    end: date
    """The last day the summary covers (the day before the next cycle, or day 28)."""
    delay_days: int
    delay_reason: str | None
    doses: tuple[DoseLine, ...]
    modifications: tuple[ModificationLine, ...]
    adverse_events: tuple[AeLine, ...]
    labs: tuple[LabLine, ...]
    nadirs: tuple[NadirLine, ...]
    chart: tuple[ChartSeries, ...]
    response: ResponseLine
    dlt: DltSection | None = None
    notes: tuple[str, ...] = ()
    worst: tuple[WorstGrade, ...] = ()
    """The worst CTCAE grade of each term in the cycle, adverse events and labs together."""
    ungraded_results: int = 0
    """Lab results the value alone cannot grade (the lab table says what is missing)."""
    intensity: tuple[DoseIntensity, ...] = ()
    """Per drug: given ÷ planned mg, and every held, missed, not recorded or modified dose."""
    carried: tuple[ModificationLine, ...] = ()
    """Per drug, the latest modification of an earlier cycle: the dose still in force."""
