"""The cycle plan: what each day of one cycle holds for one patient.

``plan_cycle`` turns a protocol plus the patient's facts (dose level, modifications, BSA,
creatinine clearance, elected options) into an exact day-by-day plan with unit counts,
monitoring events, reminders and totals. It refuses, with a sentence, anything it would
otherwise have to guess.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from clinic_app.core.dosing import (
    Bsa,
    RoundedDose,
    format_crcl,
    round_bsa_dose,
    split_into_units,
)
from clinic_app.core.errors import DomainError, MissingDataError
from clinic_app.core.ismp import format_number, format_quantity, shown_up
from clinic_app.core.protocol import (
    DoseBasis,
    DoseForm,
    DoseRule,
    DoseTier,
    Drug,
    MonitoringEvent,
    OrganTest,
    PhaseEntry,
    PhaseSpec,
    Protocol,
    Reminder,
    Route,
    worst_tier,
)
from clinic_app.core.records import DoseModification

MAX_CYCLE = 200  # a guard against typing errors, far beyond any regimen's length


@dataclass(frozen=True)
class PlannedDose:
    drug: str
    drug_name: str
    dose_mg: Decimal
    route: Route
    form: DoseForm
    units: tuple[tuple[Decimal, int], ...]
    """(strength mg, count) pairs; empty for measured forms (infusion, injection, vial)."""
    frequency: str
    in_clinic: bool = False
    """The clinic gives this dose (the protocol file's ``given_in_clinic`` for the route)."""

    def stored_units(self) -> dict[str, str]:
        """The units as a dose record keeps them: strength in mg (ISMP number) to count."""
        return {format_number(strength): str(count) for strength, count in self.units}

    def describe_units(self) -> str:
        if not self.units:
            return "given in clinic" if self.in_clinic else ""
        noun = self.form.value
        parts = [
            f"{count} × {format_quantity(strength, 'mg')} {noun}{'s' if count > 1 else ''}"
            for strength, count in self.units
        ]
        return " + ".join(parts)

    def describe(self) -> str:
        text = f"{self.drug_name} {format_quantity(self.dose_mg, 'mg')} {self.route.value}"
        units = self.describe_units()
        return f"{text} ({units})" if units else text


@dataclass(frozen=True)
class PlanDay:
    day: int
    date: date
    doses: tuple[PlannedDose, ...]
    events: tuple[MonitoringEvent, ...]


@dataclass(frozen=True)
class DoseBasisNote:
    """How a drug's dose for this cycle was reached, for the screen and the card."""

    drug: str
    protocol_dose: Decimal
    unit: str
    applied_dose: Decimal
    reasons: tuple[str, ...]
    rounding: RoundedDose | None = None


@dataclass(frozen=True)
class CyclePlan:
    protocol_key: str
    protocol_name: str
    protocol_version: str
    cycle: int
    phase: str
    phase_name: str
    start: date
    dose_level: int | None
    bsa: Bsa | None
    crcl_ml_min: Decimal | None
    days: tuple[PlanDay, ...]
    reminders: tuple[Reminder, ...]
    dose_notes: tuple[DoseBasisNote, ...]
    options: tuple[str, ...] = ()
    drug_names: Mapping[str, str] = field(default_factory=dict)
    bilirubin_x_uln: Decimal | None = None

    @property
    def cycle_length_days(self) -> int:
        return len(self.days)

    @property
    def end(self) -> date:
        return self.days[-1].date

    @property
    def next_planned_start(self) -> date:
        return self.days[-1].date + timedelta(days=1)

    def doses(self) -> list[tuple[PlanDay, PlannedDose]]:
        return [(day, dose) for day in self.days for dose in day.doses]

    @property
    def totals_mg(self) -> dict[str, Decimal]:
        totals: dict[str, Decimal] = {}
        for _, dose in self.doses():
            totals[dose.drug] = totals.get(dose.drug, Decimal(0)) + dose.dose_mg
        return totals

    @property
    def unit_totals(self) -> dict[str, dict[Decimal, int]]:
        """Capsules or tablets of each strength to dispense for the cycle, per drug."""
        totals: dict[str, dict[Decimal, int]] = {}
        for _, dose in self.doses():
            per_drug = totals.setdefault(dose.drug, {})
            for strength, count in dose.units:
                per_drug[strength] = per_drug.get(strength, 0) + count
        return totals

    def dosing_days(self, drug: str) -> tuple[int, ...]:
        return tuple(day.day for day in self.days if any(d.drug == drug for d in day.doses))


def default_phase(protocol: Protocol, cycle: int) -> PhaseSpec:
    """The phase a cycle falls in without any recorded decision."""
    automatic = [
        p for p in protocol.phases if p.entry is not PhaseEntry.DECISION and p.contains(cycle)
    ]
    if not automatic:
        raise DomainError(f"{protocol.name} has no phase for cycle {cycle}.", field="cycle")
    return max(automatic, key=lambda p: p.first_cycle)


def plan_cycle(
    protocol: Protocol,
    *,
    cycle: int,
    start: date,
    phase: str | None = None,
    dose_level: int | None = None,
    modifications: Sequence[DoseModification] = (),
    bsa: Bsa | None = None,
    crcl_ml_min: Decimal | None = None,
    bilirubin_x_uln: Decimal | None = None,
    options: Collection[str] = (),
    routes: Mapping[str, Route] | None = None,
    strengths: Mapping[str, Sequence[Decimal]] | None = None,
    max_rounding_pct: Decimal | None = None,
) -> CyclePlan:
    """The day-by-day plan of one cycle (rules §1 and §2).

    ``modifications`` are every recorded dose modification of the patient; each caps its drug
    from its effective cycle and day on, so a reduced dose carries into later cycles and into
    maintenance. ``options`` are the keys of elected protocol options (a recorded decision).
    ``routes`` picks a route where a drug has more than one; ``strengths`` overrides the
    strengths on hand. ``bilirubin_x_uln`` is total bilirubin as a multiple of its upper limit
    of normal, needed only where a dose has hepatic tiers. The cycle lasts the phase's cycle
    length (the protocol's where the phase sets none).
    """
    if isinstance(cycle, bool) or not isinstance(cycle, int) or not 1 <= cycle <= MAX_CYCLE:
        raise DomainError(
            f"Cycle {cycle} does not exist; cycles are numbered from 1.", field="cycle"
        )
    spec = protocol.phase(phase) if phase is not None else default_phase(protocol, cycle)
    if not spec.contains(cycle):
        last = f"-{spec.last_cycle}" if spec.last_cycle else " on"
        raise DomainError(
            f"{protocol.name} {spec.name.lower()} covers cycles {spec.first_cycle}{last}, "
            f"not cycle {cycle}.",
            field="phase",
        )
    level = _resolve_level(protocol, dose_level)
    elected = _resolve_options(protocol, options, cycle)
    max_pct = (
        max_rounding_pct if max_rounding_pct is not None else protocol.settings.rounding_max_pct
    )
    route_choice = dict(routes or {})
    for drug_key, route in route_choice.items():
        if drug_key not in protocol.drugs or route not in protocol.drugs[drug_key].routes:
            raise DomainError(
                f"{route} is not a route for {drug_key} in {protocol.name}.", field="route"
            )

    length = spec.cycle_length_days or protocol.cycle_length_days
    per_day: dict[int, list[PlannedDose]] = {d: [] for d in range(1, length + 1)}
    notes: dict[tuple[str, Decimal], DoseBasisNote] = {}
    for rule in spec.doses:
        if cycle not in rule.cycles:
            continue
        drug = protocol.drugs[rule.drug]
        for day in rule.days:
            note = _dose_for(
                protocol,
                rule,
                drug,
                cycle,
                day,
                level,
                modifications,
                elected,
                bsa,
                crcl_ml_min,
                bilirubin_x_uln,
                max_pct,
            )
            notes.setdefault((drug.key, note.applied_dose), note)
            dose_mg = note.rounding.rounded_mg if note.rounding else note.applied_dose
            route = route_choice.get(drug.key) or rule.route or drug.routes[0]
            units: tuple[tuple[Decimal, int], ...] = ()
            if drug.form.counted:
                on_hand = (strengths or {}).get(drug.key, drug.strengths)
                try:
                    units = split_into_units(dose_mg, on_hand)
                except DomainError as exc:
                    raise DomainError(f"{drug.name}: {exc.message}", field="strengths") from None
            per_day[day].append(
                PlannedDose(
                    drug.key,
                    drug.name,
                    dose_mg,
                    route,
                    drug.form,
                    units,
                    drug.frequency,
                    in_clinic=drug.given_in_clinic(route),
                )
            )

    days = tuple(
        PlanDay(
            day=d,
            date=start + timedelta(days=d - 1),  # rules §1: day d falls on start + (d - 1)
            doses=tuple(sorted(per_day[d], key=lambda x: list(protocol.drugs).index(x.drug))),
            events=tuple(
                e for e in protocol.monitoring if e.applies(cycle, spec.key) and d in e.days
            ),
        )
        for d in per_day
    )
    in_plan = {dose.drug for day in days for dose in day.doses}
    reminders = tuple(r for r in protocol.reminders if not r.drugs or in_plan & set(r.drugs))
    return CyclePlan(
        protocol_key=protocol.key,
        protocol_name=protocol.name,
        protocol_version=protocol.version,
        cycle=cycle,
        phase=spec.key,
        phase_name=spec.name,
        start=start,
        dose_level=level,
        bsa=bsa,
        crcl_ml_min=crcl_ml_min,
        days=days,
        reminders=reminders,
        dose_notes=tuple(notes.values()),
        options=tuple(sorted(elected)),
        drug_names={k: d.name for k, d in protocol.drugs.items()},
        bilirubin_x_uln=bilirubin_x_uln,
    )


def _resolve_level(protocol: Protocol, dose_level: int | None) -> int | None:
    if not protocol.dose_levels:
        if dose_level is not None:
            raise DomainError(
                f"{protocol.name} has no dose levels; leave the dose level empty.",
                field="dose_level",
            )
        return None
    if dose_level is None:
        raise MissingDataError(
            f"{protocol.name} needs the patient's dose level.", field="dose_level"
        )
    protocol.dose_level(dose_level)  # raises with the known levels
    return dose_level


def _resolve_options(protocol: Protocol, options: Collection[str], cycle: int) -> set[str]:
    known = {o.key: o for o in protocol.options}
    elected = set(options)
    for key in elected:
        if key not in known:
            raise DomainError(f"{protocol.name} has no option {key!r}.", field="options")
        if cycle < known[key].from_cycle:
            raise DomainError(
                f"{known[key].label} is available from cycle {known[key].from_cycle}, "
                f"not cycle {cycle}.",
                field="options",
            )
    return elected


def _modification_cap(
    modifications: Sequence[DoseModification], drug: str, cycle: int, day: int
) -> DoseModification | None:
    """The latest modification of ``drug`` in force on this cycle day, if any."""
    in_force = [
        m
        for m in modifications
        if m.drug == drug and (m.effective_cycle, m.effective_day) <= (cycle, day)
    ]
    if not in_force:
        return None
    # Later effective point wins; among equals, the one recorded last.
    return max(
        enumerate(in_force), key=lambda im: (im[1].effective_cycle, im[1].effective_day, im[0])
    )[1]


def _dose_for(
    protocol: Protocol,
    rule: DoseRule,
    drug: Drug,
    cycle: int,
    day: int,
    level: int | None,
    modifications: Sequence[DoseModification],
    elected: set[str],
    bsa: Bsa | None,
    crcl: Decimal | None,
    bilirubin: Decimal | None,
    max_pct: Decimal,
) -> DoseBasisNote:
    unit = drug.basis.unit
    if rule.dose is not None:
        base = rule.dose
        reasons = [f"protocol dose {format_number(base)} {unit}"]
    else:
        assert level is not None  # loader guarantees dose levels exist for "level" rules
        level_doses = protocol.dose_level(level).doses
        if drug.key not in level_doses:
            raise DomainError(
                f"Dose level {level} of {protocol.name} gives no dose for {drug.name}."
            )
        base = level_doses[drug.key]
        reasons = [f"dose level {level}: {format_number(base)} {unit}"]
    dose = base
    tiers: list[tuple[DoseTier, Decimal]] = []
    for rule_tiers, value in ((rule.renal, crcl), (rule.hepatic, bilirubin)):
        for tier in _chosen_tier(drug, rule_tiers, value):
            assert value is not None  # a tier is chosen only from a known value
            tiers.append((tier, value))
    for tier, value in tiers:
        if tier.dose is not None and tier.dose != dose:
            dose = tier.dose
            reasons.append(f"{_tier_reason(tier, value)}: {format_quantity(dose, unit)}")
    for option in protocol.options:
        if option.key in elected and option.drug == drug.key and option.dose < dose:
            dose = option.dose
            reasons.append(f"{option.label}: {format_number(dose)} {unit}")
    modification = _modification_cap(modifications, drug.key, cycle, day)
    if modification is not None and modification.new_dose < dose:
        dose = modification.new_dose
        reasons.append(
            f"reduced to {format_number(dose)} {unit} from cycle {modification.effective_cycle}"
            f" day {modification.effective_day} ({modification.reason})"
        )
    for tier, value in tiers:
        if tier.max_dose is not None and tier.max_dose < dose:
            dose = tier.max_dose
            reasons.append(f"{_tier_reason(tier, value)}: at most {format_quantity(dose, unit)}")
    rounding = None
    if drug.basis is DoseBasis.PER_M2:
        if bsa is None:
            raise MissingDataError(
                f"{drug.name} is dosed per m² of body-surface area; "
                "record height and weight first.",
                field="bsa",
            )
        assert drug.rounding_increment is not None  # loader requires it for mg/m² drugs
        rounding = round_bsa_dose(dose, bsa.m2, drug.rounding_increment, max_pct)
    return DoseBasisNote(drug.key, base, unit, dose, tuple(reasons), rounding)


def _chosen_tier(
    drug: Drug, tiers: Sequence[DoseTier], value: Decimal | None
) -> tuple[DoseTier, ...]:
    """The tier that applies (none, or the most severe), refusing to guess a missing value."""
    if not tiers:
        return ()
    test = tiers[0].test
    if value is None:
        steps = "; ".join(_describe_tier(t, drug.basis.unit) for t in tiers)
        if test is OrganTest.CRCL:
            raise MissingDataError(
                f"{drug.name} in this phase depends on creatinine clearance ({steps}); "
                "record a creatinine first.",
                field="crcl_ml_min",
            )
        raise MissingDataError(
            f"{drug.name} in this phase depends on bilirubin ({steps}); "
            "record a total bilirubin with its upper limit of normal first.",
            field="bilirubin",
        )
    tier = worst_tier(tiers, value)
    return () if tier is None else (tier,)


def _tier_reason(tier: DoseTier, value: Decimal) -> str:
    # The figure shown is cut towards the side the exact value is on (rules §2).
    if tier.test is OrganTest.CRCL:
        return f"CrCl {format_crcl(value)} < {format_quantity(tier.limit, 'mL/min')}"
    return f"bilirubin {format_number(shown_up(value))} × ULN > {format_number(tier.limit)} × ULN"


def _describe_tier(tier: DoseTier, unit: str) -> str:
    if tier.test is OrganTest.CRCL:
        limit = f"below {format_quantity(tier.limit, 'mL/min')}"
    else:
        limit = f"above {format_number(tier.limit)} × ULN"
    if tier.dose is not None:
        return f"{limit} the dose is {format_quantity(tier.dose, unit)}"
    assert tier.max_dose is not None  # the loader requires one of the two
    return f"{limit} the dose is at most {format_quantity(tier.max_dose, unit)}"
