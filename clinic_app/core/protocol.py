"""A treatment protocol as data: drugs, phases, per-day dose rules, dose levels and the rest.

Built by :mod:`clinic_app.core.protocol_loader` from one TOML file per protocol; nothing here
knows about a particular regimen, so a new regimen needs a new file, not new code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from pathlib import Path

from clinic_app.core.dlt import DltCriteria
from clinic_app.core.endpoints import EndpointDefinitions
from clinic_app.core.errors import DomainError
from clinic_app.core.escalation import EscalationDesign
from clinic_app.core.phase_decision import PhaseDecisionParams
from clinic_app.core.plateau import PlateauCriteria


class Route(StrEnum):
    """The routes a protocol file may name; a new route is one line here and its words below."""

    PO = "PO"
    IV = "IV"
    SC = "SC"
    IM = "IM"

    @property
    def spelled(self) -> str:
        """The route in the words a nurse reads on the screen and the card."""
        return _ROUTE_WORDS[self]


_ROUTE_WORDS = {
    Route.PO: "by mouth",
    Route.IV: "intravenous infusion",
    Route.SC: "subcutaneous injection",
    Route.IM: "intramuscular injection",
}


class DoseBasis(StrEnum):
    FLAT = "flat"  # mg
    PER_M2 = "per_m2"  # mg/m² of body-surface area

    @property
    def unit(self) -> str:
        return "mg" if self is DoseBasis.FLAT else "mg/m²"


class DoseForm(StrEnum):
    TABLET = "tablet"
    CAPSULE = "capsule"
    INFUSION = "infusion"
    INJECTION = "injection"
    VIAL = "vial"

    @property
    def counted(self) -> bool:
        """Tablets and capsules are counted out by strength; the others are measured doses."""
        return self in (DoseForm.TABLET, DoseForm.CAPSULE)


class PhaseEntry(StrEnum):
    START = "start"  # the phase a patient starts in
    CYCLE = "cycle"  # entered automatically at its first cycle
    DECISION = "decision"  # entered only by a recorded end-of-cycle decision


@dataclass(frozen=True)
class Drug:
    key: str
    name: str
    form: DoseForm
    basis: DoseBasis
    routes: tuple[Route, ...]
    frequency: str
    strengths: tuple[Decimal, ...] = ()
    """Capsule or tablet strengths in mg; empty for infusions."""
    rounding_increment: Decimal | None = None
    """mg/m² drugs: the calculated mg dose is rounded to a multiple of this."""
    ladder: tuple[Decimal, ...] = ()
    """Dose-reduction steps, highest first, in the drug's prescribing unit."""
    rems: bool = False
    clinic_routes: tuple[Route, ...] = ()
    """The routes on which the clinic gives the dose (the file's ``given_in_clinic``); on any
    other route the patient takes it at home."""

    @property
    def unit_noun(self) -> str:
        return self.form.value

    def given_in_clinic(self, route: Route) -> bool:
        return route in self.clinic_routes


@dataclass(frozen=True)
class CycleRange:
    first: int
    last: int | None = None

    def __contains__(self, cycle: object) -> bool:
        if not isinstance(cycle, int):
            return False
        return cycle >= self.first and (self.last is None or cycle <= self.last)

    def overlaps(self, other: CycleRange) -> bool:
        hi_self = self.last if self.last is not None else 10**9
        hi_other = other.last if other.last is not None else 10**9
        return self.first <= hi_other and other.first <= hi_self

    def describe(self) -> str:
        if self.last is None:
            return f"cycle {self.first} on"
        if self.last == self.first:
            return f"cycle {self.first}"
        return f"cycles {self.first}-{self.last}"


ALL_CYCLES = CycleRange(1, None)


class OrganTest(StrEnum):
    """What an organ-function tier is measured by."""

    CRCL = "crcl"  # creatinine clearance, mL/min (Cockcroft-Gault)
    BILIRUBIN = "bilirubin"  # total bilirubin as a multiple of its upper limit of normal

    @property
    def spelled(self) -> str:
        return "creatinine clearance" if self is OrganTest.CRCL else "bilirubin"

    @property
    def unit(self) -> str:
        return "mL/min" if self is OrganTest.CRCL else "× ULN"


@dataclass(frozen=True)
class DoseTier:
    """One tier of a renal or hepatic adjustment.

    CrCl tiers apply *below* ``limit`` mL/min; bilirubin tiers apply *above* ``limit`` × ULN.
    Exactly one of ``dose`` (the dose becomes this; later reductions still apply) and
    ``max_dose`` (the dose is at most this) is set.
    """

    test: OrganTest
    limit: Decimal
    dose: Decimal | None = None
    max_dose: Decimal | None = None

    def applies(self, value: Decimal) -> bool:
        # The exact value against the limit (a CrCl of 39.96 is below 40).
        return value < self.limit if self.test is OrganTest.CRCL else value > self.limit

    @property
    def severity(self) -> Decimal:
        """Higher is worse: a lower CrCl limit, a higher bilirubin limit."""
        return -self.limit if self.test is OrganTest.CRCL else self.limit


def worst_tier(tiers: Sequence[DoseTier], value: Decimal) -> DoseTier | None:
    """The most severe tier ``value`` falls in (CrCl 25 with tiers < 60 and < 30: the < 30)."""
    applying = [t for t in tiers if t.applies(value)]
    return max(applying, key=lambda t: t.severity) if applying else None


@dataclass(frozen=True)
class DoseRule:
    drug: str
    days: tuple[int, ...]
    dose: Decimal | None
    """The dose in the drug's prescribing unit, or None when it comes from the dose level."""
    cycles: CycleRange = ALL_CYCLES
    route: Route | None = None
    renal: tuple[DoseTier, ...] = ()
    """Creatinine-clearance tiers (the file's ``renal``)."""
    hepatic: tuple[DoseTier, ...] = ()
    """Bilirubin × ULN tiers (the file's ``hepatic``)."""

    @property
    def needs_crcl(self) -> bool:
        return bool(self.renal)

    @property
    def needs_bilirubin(self) -> bool:
        return bool(self.hepatic)


@dataclass(frozen=True)
class PhaseSpec:
    key: str
    name: str
    first_cycle: int
    last_cycle: int | None
    entry: PhaseEntry
    doses: tuple[DoseRule, ...]
    cycle_length_days: int | None = None
    """This phase's cycle length where it differs from the protocol's."""

    def contains(self, cycle: int) -> bool:
        return cycle in CycleRange(self.first_cycle, self.last_cycle)


@dataclass(frozen=True)
class DoseLevel:
    level: int
    doses: Mapping[str, Decimal]


@dataclass(frozen=True)
class MonitoringEvent:
    kind: str  # "labs", "visit", "evaluation"
    label: str
    days: tuple[int, ...]
    cycles: CycleRange = ALL_CYCLES
    phases: tuple[str, ...] = ()
    """Empty means every phase."""

    def applies(self, cycle: int, phase: str) -> bool:
        return cycle in self.cycles and (not self.phases or phase in self.phases)


@dataclass(frozen=True)
class Reminder:
    key: str
    text: str
    drugs: tuple[str, ...] = ()
    """The reminder applies when any of these drugs is in the plan; empty means always."""


@dataclass(frozen=True)
class TreatmentCondition:
    """Before day 1, ``drug`` needs ``test`` at or above ``minimum`` (rules §2)."""

    drug: str
    test: str
    minimum: Decimal
    unit: str
    source: str


@dataclass(frozen=True)
class Gate:
    key: str
    label: str
    drug: str | None = None


@dataclass(frozen=True)
class ProtocolOption:
    """A dose change the investigator may elect (a recorded decision, never automatic)."""

    key: str
    label: str
    drug: str
    dose: Decimal
    from_cycle: int
    legacy_kind: str | None = None
    """The decision kind older records elected this option with (``[[options]]``
    ``legacy_kind``), read as this option; ``None``: no record predates this option."""


@dataclass(frozen=True)
class EnrolmentCaps:
    total: int
    escalation: int | None = None
    expansion: int | None = None

    @property
    def inconsistency(self) -> str | None:
        """The caps contradict each other (BPD: 24 + 38 > 56); all three are still enforced."""
        if self.escalation is None or self.expansion is None:
            return None
        combined = self.escalation + self.expansion
        if combined <= self.total:
            return None
        return (
            f"The protocol allows up to {self.escalation} patients in escalation and "
            f"{self.expansion} in expansion ({combined} together) but {self.total} in total; "
            f"all three caps are enforced."
        )


@dataclass(frozen=True)
class ProtocolSettings:
    bsa_formula: str = "mosteller"
    weight_change_pct: Decimal = Decimal(10)
    rounding_max_pct: Decimal = Decimal(10)
    lab_max_age_days: int = 3


@dataclass(frozen=True)
class Protocol:
    key: str
    name: str
    title: str
    version: str
    source_file: Path
    seed: str
    cycle_length_days: int
    drugs: Mapping[str, Drug]
    phases: tuple[PhaseSpec, ...]
    caps: EnrolmentCaps
    settings: ProtocolSettings = field(default_factory=ProtocolSettings)
    dose_levels: tuple[DoseLevel, ...] = ()
    start_level: int | None = None
    gates: tuple[Gate, ...] = ()
    eligibility: tuple[Gate, ...] = ()
    monitoring: tuple[MonitoringEvent, ...] = ()
    reminders: tuple[Reminder, ...] = ()
    conditions: tuple[TreatmentCondition, ...] = ()
    options: tuple[ProtocolOption, ...] = ()
    rule_tables: Mapping[str, Mapping[str, object]] = field(default_factory=dict)
    """Raw tables for the rules engines ([decisions], [escalation], [dlt]), validated by them."""
    decision_params: PhaseDecisionParams | None = None
    """The end-of-cycle decision settings ([decisions])."""
    plateau: PlateauCriteria | None = None
    """How plateau is detected ([plateau]); None where the protocol has no plateau rule."""
    dlt_criteria: DltCriteria | None = None
    """The DLT thresholds ([dlt]); None where the protocol has no DLT rules."""
    escalation: EscalationDesign | None = None
    """The 3+3 design ([escalation]); None where the protocol does not escalate."""
    endpoints: EndpointDefinitions | None = None
    """The efficacy endpoint definitions ([endpoints]); None where the protocol has none."""
    readings: tuple[str, ...] = ()
    """How the app reads ambiguous protocol text, shown in the protocol view."""

    def phase(self, key: str) -> PhaseSpec:
        for phase in self.phases:
            if phase.key == key:
                return phase
        known = ", ".join(p.key for p in self.phases)
        raise DomainError(
            f"{self.name} has no phase {key!r}; its phases are {known}.", field="phase"
        )

    def cycle_length(self, phase: str | None = None) -> int:
        """Days in a cycle of ``phase`` (the protocol's length where the phase sets none, or
        for a phase key this file does not have)."""
        for spec in self.phases:
            if spec.key == phase and spec.cycle_length_days is not None:
                return spec.cycle_length_days
        return self.cycle_length_days

    @property
    def longest_cycle_days(self) -> int:
        return max(
            [self.cycle_length_days]
            + [p.cycle_length_days for p in self.phases if p.cycle_length_days is not None]
        )

    def dose_level(self, level: int) -> DoseLevel:
        for candidate in self.dose_levels:
            if candidate.level == level:
                return candidate
        if not self.dose_levels:
            raise DomainError(f"{self.name} has no dose levels.", field="dose_level")
        known = ", ".join(str(d.level) for d in self.dose_levels)
        raise DomainError(
            f"{self.name} has no dose level {level}; its levels are {known}.", field="dose_level"
        )

    @property
    def notes(self) -> tuple[str, ...]:
        """Readings of the protocol text a user should see in the protocol view."""
        notes: list[str] = list(self.readings)
        if self.caps.inconsistency:
            notes.append(self.caps.inconsistency)
        return tuple(notes)
