"""Plain domain objects for what the clinical record holds.

These are the objects every layer passes around: storage returns them, the rules engines and
the reports take them. Frozen dataclasses, exact ``Decimal`` quantities whose unit is in the
field name, ``date`` for days and timezone-aware UTC ``datetime`` for instants.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from clinic_app.core.errors import DomainError


class Sex(StrEnum):
    FEMALE = "F"
    MALE = "M"


@dataclass(frozen=True)
class Patient:
    mrn: str
    family_name: str
    given_name: str
    date_of_birth: date
    sex: Sex
    allergies: tuple[str, ...] = ()
    alerts: tuple[str, ...] = ()
    id: int | None = None

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}".strip()

    def age_on(self, day: date) -> int:
        """Age in whole years on ``day`` (Cockcroft-Gault uses whole years on the lab date)."""
        before_birthday = (day.month, day.day) < (self.date_of_birth.month, self.date_of_birth.day)
        return day.year - self.date_of_birth.year - int(before_birthday)


@dataclass(frozen=True)
class BodyMeasurement:
    """Height and weight as measured on one day: dated rows, never overwritten."""

    measured_on: date
    weight_kg: Decimal
    height_cm: Decimal | None = None
    id: int | None = None


class PatientStatus(StrEnum):
    SCREENING = "screening"
    ACTIVE = "active"
    MAINTENANCE = "maintenance"
    OFF_STUDY = "off_study"


class OffStudyReason(StrEnum):
    PROGRESSION = "progression"
    TOXICITY = "toxicity"
    WITHDRAWAL = "withdrawal"
    TRANSPLANT = "transplant"
    DEATH = "death"
    OTHER = "other"


@dataclass(frozen=True)
class Enrolment:
    patient_id: int
    protocol: str
    enrolled_on: date
    consent_on: date
    gates: dict[str, date] = field(default_factory=dict)
    """Each recorded gate (consent, REMS agreements, eligibility items) and its date."""
    dose_level: int | None = None
    cohort: str | None = None
    """BPD: ``"escalation"`` or ``"expansion"``."""
    status: PatientStatus = PatientStatus.ACTIVE
    off_study_on: date | None = None
    off_study_reason: OffStudyReason | None = None
    id: int | None = None
    light_chain: str | None = None
    """The clone's involved free light chain, ``"kappa"`` or ``"lambda"``; None = not known.

    IMWG reads the FLC ratio (sCR) as kappa/lambda, so the involved chain says which way up."""


class DoseStatus(StrEnum):
    PLANNED = "planned"
    GIVEN = "given"
    HELD = "held"
    MISSED = "missed"


@dataclass(frozen=True)
class DoseEvent:
    """What happened to one planned dose of one drug on one day of a cycle."""

    cycle_id: int
    day: int
    drug: str
    dose_mg: Decimal
    status: DoseStatus
    given_at: datetime | None = None
    reason: str | None = None
    id: int | None = None


class ReductionCause(StrEnum):
    """What a dose reduction was for: the BPD cycle-1 DLT rules count a reduction for
    haematological and for other toxicity under different items (clinical rules §5)."""

    HAEMATOLOGICAL = "haematological"
    NON_HAEMATOLOGICAL = "non-haematological"
    NOT_TOXICITY = "not-toxicity"


@dataclass(frozen=True)
class DoseModification:
    """A change of one drug's dose: from ``effective_cycle`` (and day) on, the drug is capped.

    Doses are in the drug's prescribing unit: mg, or mg/m² for body-surface-area drugs.
    """

    drug: str
    old_dose: Decimal
    new_dose: Decimal
    reason: str
    effective_cycle: int
    decided_by: str
    decided_on: date
    effective_day: int = 1
    cause: ReductionCause | None = None
    """None: not recorded (modifications recorded before the cause was asked)."""
    id: int | None = None


@dataclass(frozen=True)
class LabResult:
    """One measured value, kept as entered and converted to the SI unit used for grading."""

    test: str
    value: Decimal
    unit: str
    collected_at: datetime
    value_si: Decimal
    lln: Decimal | None = None
    uln: Decimal | None = None
    """Reference limits, in the same unit as ``value``."""
    id: int | None = None
    facts: tuple[tuple[str, bool], ...] = ()
    """Clinical facts recorded with the result, as (``core.ctcae.LAB_FACTS`` key, yes/no);
    a fact not listed was not asked or is not known (CTCAE v5.0 electrolytes, rules §3)."""

    @property
    def collected_on(self) -> date:
        return self.collected_at.date()

    @property
    def fact_map(self) -> dict[str, bool | None]:
        """The facts as ``core.ctcae.grade_lab(facts=...)`` takes them."""
        return dict(self.facts)


class Attribution(StrEnum):
    """CTCAE attribution scale; DLT rules need at least ``POSSIBLE``."""

    UNRELATED = "unrelated"
    UNLIKELY = "unlikely"
    POSSIBLE = "possible"
    PROBABLE = "probable"
    DEFINITE = "definite"

    @property
    def at_least_possible(self) -> bool:
        return self in (Attribution.POSSIBLE, Attribution.PROBABLE, Attribution.DEFINITE)


@dataclass(frozen=True)
class AdverseEvent:
    term: str
    grade: int
    onset: date
    resolved: date | None = None
    serious: bool = False
    attribution: dict[str, Attribution] = field(default_factory=dict)
    """Attribution per drug (generic name in lower case)."""
    attributed_to_progression: bool = False
    despite_maximal_therapy: bool | None = None
    with_bleeding: bool | None = None
    with_pain: bool | None = None
    steroids_given: bool | None = None
    required_dose_reduction: bool = False
    grade_history: tuple[tuple[date, int], ...] = ()
    """Dated grade re-assessments after onset (for "resolved to < G2 within 10 days")."""
    notes: str = ""
    id: int | None = None


class Immunofixation(StrEnum):
    POSITIVE = "positive"
    NEGATIVE = "negative"


@dataclass(frozen=True)
class ResponseAssessment:
    """The M-protein studies of one assessment (IMWG inputs, rules §4)."""

    assessed_on: date
    serum_m_protein_g_dl: Decimal | None = None
    urine_m_protein_mg_24h: Decimal | None = None
    serum_ife: Immunofixation | None = None
    urine_ife: Immunofixation | None = None
    involved_flc_mg_l: Decimal | None = None
    uninvolved_flc_mg_l: Decimal | None = None
    marrow_plasma_cells_pct: Decimal | None = None
    clonal_marrow_cells: bool | None = None
    soft_tissue_plasmacytoma: bool | None = None
    new_lesions: bool = False
    end_of_cycle: int | None = None
    """The cycle this assessment closes, when it is an end-of-cycle evaluation."""
    id: int | None = None
    plasmacytoma_shrunk_50pct: bool | None = None
    """Has a soft-tissue plasmacytoma present at baseline shrunk by >= 50 %? None = not assessed.

    IMWG PR (and VGPR) need it when there was a plasmacytoma at baseline (rules §4). Kept for
    entries made before ``plasmacytoma_shrinkage_pct``; new entries record the measurement."""
    plasmacytoma_shrinkage_pct: Decimal | None = None
    """How much smaller (in %) the soft-tissue plasmacytoma present at baseline is than at
    baseline, by the sum of the products of its perpendicular diameters; negative = larger.
    None = not assessed. IMWG 2016: PR needs >= 50 %, MR 25-49 % (rules §4)."""


@dataclass(frozen=True)
class TemperatureReading:
    measured_at: datetime
    celsius: Decimal
    sustained_minutes: int = 0
    """How long the temperature stayed at this level, where known (febrile neutropenia)."""


@dataclass(frozen=True)
class GcsfDose:
    given_on: date


# -- limits every stored value keeps (issue 15, item 3) -------------------------------------
# One implementation, used by the forms (through the services), the repositories and import.
# Body and lab plausibility live with their facts: ``dosing.input_limits`` (resources/
# input_limits.toml) and ``labs.check_plausible`` (resources/ctcae/lab_tests.toml).

EARLIEST_DAY = date(1900, 1, 1)
LATEST_DAY = date(2199, 12, 31)
"""Days outside these are typing errors; beyond them date arithmetic (a cycle 28 days after
9999-12-31) would not even be possible."""

MAX_INTEGER_DIGITS = 9
MAX_FRACTION_DIGITS = 40
"""A stored quantity has at most this many digits before and after the point (1E+999999 is
finite, and no dose, count or measurement needs more; unrounded results such as a CrCl
carry about 26 decimals)."""

MRN_MAX = 40
NAME_MAX = 100
LINE_MAX = 200
"""One line of text: a term, a drug, a reason chosen from a list, a setting."""
NOTE_MAX = 4000
"""Free text (notes, reasons typed out)."""


def check_day(value: date, field: str, label: str = "The date") -> None:
    if not EARLIEST_DAY <= value <= LATEST_DAY:
        raise DomainError(
            f"{label} {value.isoformat()} is not a possible date (use "
            f"{EARLIEST_DAY.isoformat()} to {LATEST_DAY.isoformat()}).",
            field=field,
        )


def check_quantity(value: Decimal, field: str, label: str = "The number") -> None:
    """Finite, with at most MAX_INTEGER_DIGITS before and MAX_FRACTION_DIGITS after the point."""
    if not isinstance(value, Decimal) or not value.is_finite():
        raise DomainError(f"{label} must be a number.", field=field)
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)  # finite
    if value and value.adjusted() >= MAX_INTEGER_DIGITS:
        raise DomainError(f"{label} {value} is far too large to be real.", field=field)
    if -exponent > MAX_FRACTION_DIGITS:
        raise DomainError(
            f"{label} {value} has more than {MAX_FRACTION_DIGITS} decimal places.", field=field
        )


def check_text(
    value: str, field: str, label: str, *, limit: int = LINE_MAX, multiline: bool = False
) -> None:
    """Printable text of at most ``limit`` characters; line breaks and tabs only if
    ``multiline``. NUL and other control characters are refused (they hide text on screen,
    cut it short in other programs and break printing)."""
    if not isinstance(value, str):
        raise DomainError(f"{label} must be text.", field=field)
    if len(value) > limit:
        raise DomainError(
            f"{label} is {len(value)} characters long; at most {limit} fit.", field=field
        )
    allowed = "\n\r\t" if multiline else ""
    for index, char in enumerate(value):
        if (ord(char) < 32 or 0x7F <= ord(char) < 0xA0) and char not in allowed:
            raise DomainError(
                f"{label} holds a control character (U+{ord(char):04X}) at position "
                f"{index + 1}; retype it without it.",
                field=field,
            )
