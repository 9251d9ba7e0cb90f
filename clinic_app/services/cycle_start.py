"""Starting a cycle: everything day 1 needs, checked, then written in one transaction.

``gather_start`` reads the facts from the record (enrolment, cycles, labs, measurements,
modifications, decisions). ``check_start`` is pure and instant: given those facts and what the
form holds it returns the treatment conditions (met / not met / missing, with value and date),
the weight-change flag, BSA and CrCl, the day-by-day plan with unit counts, the modifications
carried over, the maintenance switch or elected options, the delay, and every reason the start
cannot go ahead. ``start_cycle`` re-reads and re-checks inside one write transaction and writes
the measurement, the cycle row, its planned doses, the decisions (condition override, elected
option) and closes the previous cycle, or writes nothing.

Sources: clinical rules §1 (day 1 is the day the cycle actually starts; the next cycle is
planned for start + 28; a delay is recorded in days), §2 (BSA, Cockcroft-Gault, weight-change
flag, mg/m² rounding, unit counts, ladders carried over, treatment conditions, lab age window).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from clinic_app.core import labs
from clinic_app.core.cycle_checks import (
    age_days,
    condition_met,
    delay_days,
    earliest_next_start,
    latest_result,
    missing_gates,
    older_than_window,
)
from clinic_app.core.cycles import CycleRow, CycleStatus, DoseDetails
from clinic_app.core.decisions import Decision, DecisionKind
from clinic_app.core.dosing import (
    Bsa,
    CreatinineClearance,
    WeightChange,
    body_surface_area,
    cockcroft_gault,
    weight_change,
)
from clinic_app.core.errors import DomainError
from clinic_app.core.ismp import format_number
from clinic_app.core.options import cycle_option_keys, decided_options, elected_entries
from clinic_app.core.plan import CyclePlan, default_phase, plan_cycle
from clinic_app.core.protocol import PhaseEntry, Protocol, ProtocolOption, TreatmentCondition
from clinic_app.core.records import (
    BodyMeasurement,
    DoseEvent,
    DoseModification,
    DoseStatus,
    Enrolment,
    LabResult,
    Patient,
    PatientStatus,
)
from clinic_app.services.context import record_protocols
from clinic_app.services.enrolment import CONSENT_GATE, gate_items
from clinic_app.storage.database import Record
from clinic_app.storage.rows import Stored

CREATININE_TEST = "creatinine"

_Refuse = Callable[[str, str], None]


@dataclass(frozen=True)
class Problem:
    """One reason the cycle cannot start; ``field`` names the form item at fault."""

    field: str
    message: str


@dataclass(frozen=True)
class LabLine:
    """The latest result of one test on or before day 1, with its age in days."""

    test: str
    name: str
    value: Decimal
    unit: str
    collected_on: date
    age_days: int
    too_old: bool

    def describe(self) -> str:
        age = "today" if self.age_days == 0 else f"{self.age_days} d ago"
        stale = " (older than the lab window)" if self.too_old else ""
        return (
            f"{self.name} {format_number(self.value)} {labs.unit_label(self.unit)} "
            f"on {self.collected_on.isoformat()} ({age}){stale}"
        )


@dataclass(frozen=True)
class ConditionStatus:
    """One treatment condition before day 1 (rules §2), judged on the latest usable lab."""

    condition: TreatmentCondition
    drug_name: str
    test_name: str
    value: Decimal | None
    """In the condition's unit; None when there is no lab inside the age window."""
    collected_on: date | None
    latest_on: date | None
    """The latest result of the test at all (may be too old), for the message."""

    @property
    def met(self) -> bool:
        return condition_met(self.condition, self.value)

    @property
    def missing(self) -> bool:
        return self.value is None

    def describe(self) -> str:
        c = self.condition
        need = (
            f"{self.drug_name} needs {self.test_name} ≥ {format_number(c.minimum)} "
            f"{labs.unit_label(c.unit)} ({c.source})"
        )
        if self.value is None:
            seen = (
                f"the latest, of {self.latest_on.isoformat()}, is too old"
                if self.latest_on
                else "none is recorded"
            )
            return f"MISSING: {need}; no result inside the lab window ({seen})."
        assert self.collected_on is not None
        state = "met" if self.met else "NOT MET"
        return (
            f"{state}: {need}; {format_number(self.value)} {labs.unit_label(c.unit)} on "
            f"{self.collected_on.isoformat()}."
        )

    def payload(self) -> dict[str, str | None]:
        c = self.condition
        return {
            "drug": c.drug,
            "test": c.test,
            "minimum": str(c.minimum),
            "unit": c.unit,
            "value": None if self.value is None else str(self.value),
            "collected_on": None if self.collected_on is None else self.collected_on.isoformat(),
            "state": "missing" if self.missing else "not met",
        }


@dataclass(frozen=True)
class OptionChoice:
    """A protocol option (BPD dexamethasone 20 mg) as the form offers it."""

    option: ProtocolOption
    available: bool
    already_elected: str | None
    """When an earlier decision or cycle elected it: who and when, carried into this cycle."""


@dataclass(frozen=True)
class StartContext:
    """Facts from the record that ``check_start`` needs."""

    patient: Patient
    protocol: Protocol | None
    enrolment: Enrolment | None
    cycles: tuple[CycleRow, ...]
    target: Stored[CycleRow] | None
    """The cycle row already planned for this start (cycle 1 from enrolment), if any."""
    number: int
    previous: CycleRow | None
    labs: tuple[LabResult, ...]
    last_bsa_measurement: BodyMeasurement | None
    latest_height_cm: Decimal | None
    modifications: tuple[DoseModification, ...]
    decisions: tuple[Decision, ...]
    previous_undocumented: int = 0
    """Doses of the previous cycle still only planned (no given/held/missed recorded)."""
    latest_height_on: date | None = None
    """When ``latest_height_cm`` was measured (the form pre-fills it)."""
    target_recorded_doses: int = 0
    """Doses of the planned target row already recorded as given/held/missed."""
    blocking: tuple[Problem, ...] = ()


@dataclass(frozen=True)
class StartRequest:
    """What the start form holds."""

    start: date
    height_cm: Decimal | None
    weight_kg: Decimal | None
    measured_on: date | None = None
    """Defaults to the start date."""
    weight_change_acknowledged: bool = False
    delay_reason: str = ""
    override_reason: str = ""
    decided_by: str = ""
    elect_options: frozenset[str] = frozenset()


@dataclass(frozen=True)
class StartCheck:
    number: int
    problems: tuple[Problem, ...]
    planned_start: date | None = None
    delay_days: int = 0
    phase: str | None = None
    phase_note: str = ""
    labs: tuple[LabLine, ...] = ()
    conditions: tuple[ConditionStatus, ...] = ()
    weight_change: WeightChange | None = None
    new_bsa: Bsa | None = None
    """The BSA from the new measurement (always shown)."""
    bsa: Bsa | None = None
    """The BSA the doses use: the new one, or the last one kept when the weight is stable."""
    bsa_note: str = ""
    crcl: CreatinineClearance | None = None
    crcl_lab: LabResult | None = None
    plan: CyclePlan | None = None
    carried: tuple[DoseModification, ...] = ()
    options: tuple[OptionChoice, ...] = ()
    elected: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    height_note: str = ""
    """Set when the height is the one carried from a measurement older than the window."""

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def failed_conditions(self) -> tuple[ConditionStatus, ...]:
        return tuple(c for c in self.conditions if not c.met)

    def messages(self, field_name: str) -> list[str]:
        return [p.message for p in self.problems if p.field == field_name]


class StartRefused(DomainError):
    """The cycle was not started; ``problems`` lists every reason."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__(
            "Cycle not started: " + " ".join(p.message for p in problems),
            field=problems[0].field if problems else None,
        )
        self.problems = tuple(problems)


@dataclass(frozen=True)
class StartResult:
    cycle_id: int
    measurement_id: int
    dose_ids: tuple[int, ...]
    decision_ids: tuple[int, ...]
    plan: CyclePlan


# -- reading the record --------------------------------------------------------------------------
def open_enrolment(record: Record, patient_id: int) -> Enrolment | None:
    """The patient's latest enrolment that is not off study."""
    live = [
        e
        for e in record.repos.enrolments.for_patient(patient_id)
        if e.status is not PatientStatus.OFF_STUDY
    ]
    return live[-1] if live else None


def gather_start(
    record: Record,
    patient_id: int,
    protocols: Mapping[str, Protocol] | None = None,
) -> StartContext:
    """Read everything ``check_start`` needs; what blocks the start is in ``blocking``."""
    repos = record.repos
    patient = repos.patients.get(patient_id).value
    labs_ = tuple(repos.labs.for_patient(patient_id))
    measurements = repos.measurements.for_patient(patient_id)
    heights = [m.height_cm for m in measurements if m.height_cm is not None]
    height_days = [m.measured_on for m in measurements if m.height_cm is not None]
    enrolment = open_enrolment(record, patient_id)
    empty = StartContext(
        patient=patient,
        protocol=None,
        enrolment=enrolment,
        cycles=(),
        target=None,
        number=1,
        previous=None,
        labs=labs_,
        last_bsa_measurement=None,
        latest_height_cm=heights[-1] if heights else None,
        modifications=(),
        decisions=(),
        latest_height_on=height_days[-1] if height_days else None,
    )
    if enrolment is None:
        return _blocked(
            empty,
            Problem(
                "enrolment",
                f"{patient.full_name} is not enrolled on a protocol (or is off "
                "study); enrol them first.",
            ),
        )
    known = protocols if protocols is not None else record_protocols(record)
    protocol = known.get(enrolment.protocol)
    if protocol is None:
        return _blocked(
            empty,
            Problem(
                "enrolment",
                f"The enrolment names protocol {enrolment.protocol!r}, which is not loaded.",
            ),
        )
    assert enrolment.id is not None
    cycles = tuple(
        c for c in repos.cycles.for_enrolment(enrolment.id) if c.status is not CycleStatus.CANCELLED
    )
    planned = [c for c in cycles if c.status is CycleStatus.PLANNED]
    ran = [c for c in cycles if c.status in (CycleStatus.STARTED, CycleStatus.COMPLETED)]
    target: Stored[CycleRow] | None = None
    if planned:
        first = min(planned, key=lambda c: c.number)
        assert first.id is not None
        target = repos.cycles.get(first.id)
        number = first.number
    else:
        number = max((c.number for c in ran), default=0) + 1
    previous = max((c for c in ran if c.number < number), key=lambda c: c.number, default=None)
    undocumented = 0
    if previous is not None and previous.id is not None:
        undocumented = sum(
            1 for d in repos.doses.for_cycle(previous.id) if d.status is DoseStatus.PLANNED
        )
    recorded = 0
    if target is not None:
        recorded = sum(
            1 for d in repos.doses.for_cycle(target.id) if d.status is not DoseStatus.PLANNED
        )
    behind = next(
        (c.measurement_id for c in sorted(cycles, key=lambda c: -c.number) if c.measurement_id),
        None,
    )
    return StartContext(
        patient=patient,
        protocol=protocol,
        enrolment=enrolment,
        cycles=cycles,
        target=target,
        number=number,
        previous=previous,
        labs=labs_,
        last_bsa_measurement=None if behind is None else repos.measurements.get(behind).value,
        latest_height_cm=heights[-1] if heights else None,
        modifications=tuple(repos.modifications.for_enrolment(enrolment.id)),
        decisions=tuple(repos.decisions.for_enrolment(enrolment.id)),
        previous_undocumented=undocumented,
        target_recorded_doses=recorded,
        latest_height_on=height_days[-1] if height_days else None,
    )


def _blocked(context: StartContext, problem: Problem) -> StartContext:
    return StartContext(**{**context.__dict__, "blocking": (problem,)})


# -- the pure check ------------------------------------------------------------------------------
def check_start(context: StartContext, request: StartRequest, today: date) -> StartCheck:
    """Every fact day 1 needs and every reason the cycle cannot start now."""
    problems: list[Problem] = list(context.blocking)
    notes: list[str] = []
    protocol, enrolment = context.protocol, context.enrolment
    number = context.number
    if protocol is None or enrolment is None:
        return StartCheck(number=number, problems=tuple(problems))

    def refuse(field_name: str, message: str) -> None:
        problems.append(Problem(field_name, message))

    # -- enrolment gates (rules §1: nothing is scheduled until they are recorded) ---------------
    items = gate_items(protocol)
    if CONSENT_GATE not in {k for k, _ in items}:
        items.insert(0, (CONSENT_GATE, "Signed informed consent"))
    for label in missing_gates(items, enrolment.gates):
        refuse("enrolment", f"Not recorded at enrolment: {label}.")

    # -- the date, the previous cycle and the delay (rules §1) ------------------------------------
    start = request.start
    previous = context.previous
    # The previous cycle's own length (a phase may set its own, e.g. 28-day maintenance).
    length = protocol.cycle_length(None if previous is None else str(previous.phase))
    planned_start: date | None = None
    if start > today:
        refuse("start", "Day 1 is the day the cycle actually starts; it cannot be in the future.")
    if start < enrolment.enrolled_on:
        refuse("start", f"Day 1 cannot be before the enrolment ({enrolment.enrolled_on}).")
    if previous is not None:
        assert previous.start_date is not None
        # rules §1: the next cycle is planned for start + 28
        planned_start = earliest_next_start(previous.start_date, length)
        if start < planned_start:
            last_day = planned_start - timedelta(days=1)
            refuse(
                "start",
                f"Cycle {previous.number} is not finished: it started on "
                f"{previous.start_date.isoformat()} and its day {length} is "
                f"{last_day.isoformat()}, so cycle {number} can start on "
                f"{planned_start.isoformat()} at the earliest.",
            )
        if context.previous_undocumented:
            notes.append(
                f"Cycle {previous.number} still has {context.previous_undocumented} dose(s) "
                "with no given/held/missed recorded; record them in its day grid."
            )
    elif context.target is not None:
        planned_start = context.target.value.planned_start
    else:
        planned_start = start
    delay = delay_days(start, planned_start)
    if delay and not request.delay_reason.strip():
        refuse(
            "delay_reason",
            f"Day 1 is {delay} day(s) after the planned {planned_start}; give the reason for "
            "the delay.",
        )
    if context.target_recorded_doses:
        refuse(
            "start",
            f"Cycle {number} already has {context.target_recorded_doses} dose(s) recorded as "
            "given, held or missed; correct those before re-planning it.",
        )

    # -- the phase: maintenance switch by recorded decision (DexTR), by cycle (BPD) --------------
    phase_key, phase_note = _phase(protocol, context, number, refuse)

    # -- body size and kidney function (rules §2) -------------------------------------------------
    bsa, new_bsa, change, bsa_note = _body(protocol, context, request, today, refuse)
    crcl, crcl_lab = _crcl(context, request, start, protocol, phase_key, refuse)

    # -- options (BPD dexamethasone 20 mg from cycle 7; a recorded decision) ---------------------
    choices, elected = _options(protocol, context, number, request, refuse)

    # -- the plan --------------------------------------------------------------------------------
    plan: CyclePlan | None = None
    level = (previous.dose_level if previous else None) or enrolment.dose_level
    if phase_key is not None:
        try:
            plan = plan_cycle(
                protocol,
                cycle=number,
                start=start,
                phase=phase_key,
                dose_level=level if protocol.dose_levels else None,
                modifications=context.modifications,
                bsa=bsa,
                crcl_ml_min=crcl.ml_min if crcl else None,
                options=elected,
            )
        except DomainError as exc:
            refuse(exc.field or "plan", f"Cycle {number} cannot be planned: {exc.message}")
    carried = tuple(m for m in context.modifications if m.effective_cycle <= number)

    # -- treatment conditions before day 1 (rules §2) ---------------------------------------------
    in_plan = {d.drug for _, d in plan.doses()} if plan else set(protocol.drugs)
    conditions = tuple(
        _condition(protocol, c, context.labs, start)
        for c in protocol.conditions
        if c.drug in in_plan
    )
    failed = [c for c in conditions if not c.met]
    if failed:
        if not request.override_reason.strip():
            refuse(
                "override_reason",
                "A treatment condition is not met or has no recent lab; to start anyway give "
                "the override reason (it is recorded and audited).",
            )
        elif not request.decided_by.strip():
            refuse("decided_by", "Say who decided the override.")

    lab_lines = _lab_lines(context.labs, start, protocol.settings.lab_max_age_days)
    return StartCheck(
        number=number,
        problems=tuple(problems),
        planned_start=planned_start,
        delay_days=delay,
        phase=phase_key,
        phase_note=phase_note,
        labs=lab_lines,
        conditions=conditions,
        weight_change=change,
        new_bsa=new_bsa,
        bsa=bsa,
        bsa_note=bsa_note,
        crcl=crcl,
        crcl_lab=crcl_lab,
        plan=plan,
        carried=carried,
        options=choices,
        elected=tuple(sorted(elected)),
        notes=tuple(notes),
        height_note=_height_note(context, request, protocol.settings.lab_max_age_days),
    )


def _height_note(context: StartContext, request: StartRequest, max_age: int) -> str:
    """Name a height carried from a measurement older than the protocol's window (rules §2)."""
    on = context.latest_height_on
    if on is None or request.height_cm is None or request.height_cm != context.latest_height_cm:
        return ""
    age = age_days(on, request.start)
    if not older_than_window(on, request.start, max_age):
        return ""
    return (
        f"The height {format_number(request.height_cm)} cm is from {on.isoformat()}, {age} days "
        f"before day 1 (older than the protocol's {max_age}-day window): measure it again if it "
        "may have changed."
    )


def _phase(
    protocol: Protocol, context: StartContext, number: int, refuse: _Refuse
) -> tuple[str | None, str]:
    """The phase of the new cycle and, when it changes, why."""
    previous = context.previous
    decided = _decided_phase(context.decisions)
    try:
        automatic = default_phase(protocol, number)
    except DomainError as exc:
        refuse("phase", exc.message)
        return None, ""
    by_decision = {p.key for p in protocol.phases if p.entry is PhaseEntry.DECISION}
    if previous is not None and previous.phase in by_decision:
        return previous.phase, f"Continues {protocol.phase(previous.phase).name}."
    if decided is not None and decided[0] in by_decision:
        spec = protocol.phase(decided[0])
        if not spec.contains(number):
            refuse(
                "phase",
                f"A decision says {spec.name.lower()}, but it starts at cycle "
                f"{spec.first_cycle}, not cycle {number}.",
            )
            return None, ""
        return spec.key, f"Switch to {spec.name}: {decided[1]}"
    if previous is not None and previous.phase != automatic.key:
        return automatic.key, f"{automatic.name} from cycle {automatic.first_cycle} (protocol)."
    return automatic.key, ""


def _decided_phase(decisions: Sequence[Decision]) -> tuple[str, str] | None:
    """The latest accepted end-of-cycle phase decision: (phase, who/when/why)."""
    phase = [
        d
        for d in decisions
        if d.kind is DecisionKind.PHASE and d.payload.get("accepted", True) is not False
    ]
    if not phase:
        return None
    latest = max(phase, key=lambda d: (d.decided_on, d.id or 0))
    to = latest.payload.get("to")
    if not isinstance(to, str):
        return None
    why = f" ({latest.reason})" if latest.reason else ""
    return to, f"decided by {latest.decided_by} on {latest.decided_on.isoformat()}{why}."


def _body(
    protocol: Protocol,
    context: StartContext,
    request: StartRequest,
    today: date,
    refuse: _Refuse,
) -> tuple[Bsa | None, Bsa | None, WeightChange | None, str]:
    measured_on = request.measured_on or request.start
    if request.height_cm is None:
        refuse("height_cm", "Enter the height in cm.")
    if request.weight_kg is None:
        refuse("weight_kg", "Enter today's weight in kg.")
    if measured_on > today:
        refuse("measured_on", "The measurement date is in the future.")
    # Rules §2: results older than the protocol's window (lab_max_age_days, a clinic setting)
    # count as missing; the weight sets BSA and CrCl, hence the doses, so the same window holds.
    max_age = protocol.settings.lab_max_age_days
    weight_age = age_days(measured_on, request.start)
    if older_than_window(measured_on, request.start, max_age):
        refuse(
            "measured_on",
            f"The weight is dated {measured_on.isoformat()}, {weight_age} days before day 1: "
            f"older than the protocol's {max_age}-day window. Weigh the patient and enter "
            "today's date, or correct the date.",
        )
    if request.height_cm is None or request.weight_kg is None:
        return None, None, None, ""
    try:
        new_bsa = body_surface_area(
            request.height_cm,
            request.weight_kg,
            protocol.settings.bsa_formula,
            measured_on=measured_on,
        )
    except DomainError as exc:
        refuse(exc.field or "weight_kg", exc.message)
        return None, None, None, ""
    last = context.last_bsa_measurement
    if last is None or last.height_cm is None:
        return new_bsa, new_bsa, None, "BSA from this measurement (no earlier BSA)."
    # rules §2: flag a change >= the setting (10 %) against the weight behind the last BSA
    change = weight_change(last.weight_kg, request.weight_kg, protocol.settings.weight_change_pct)
    if change.needs_recalculation:
        if not request.weight_change_acknowledged:
            refuse(
                "weight_ack",
                f"Weight changed by {format_number(change.shown_pct)} %: acknowledge it before "
                "the doses are confirmed.",
            )
        return new_bsa, new_bsa, change, "BSA recalculated from this measurement."
    kept = body_surface_area(
        last.height_cm, last.weight_kg, protocol.settings.bsa_formula, last.measured_on
    )
    note = (
        f"BSA {kept.m2} m² kept from {last.measured_on.isoformat()}: the weight changed by less "
        f"than {format_number(protocol.settings.weight_change_pct)} %."
    )
    return kept, new_bsa, change, note


def _crcl(
    context: StartContext,
    request: StartRequest,
    start: date,
    protocol: Protocol,
    phase_key: str | None,
    refuse: _Refuse,
) -> tuple[CreatinineClearance | None, LabResult | None]:
    lab = latest_result(context.labs, CREATININE_TEST, start)
    if lab is None:
        refuse("creatinine", "No serum creatinine is recorded; enter one in the labs first.")
        return None, None
    max_age = protocol.settings.lab_max_age_days
    age = age_days(lab.collected_on, start)
    capped = _renal_capped_drugs(protocol, phase_key)
    if capped and older_than_window(lab.collected_on, start, max_age):
        # Rules §2: labs older than the window count as missing; here CrCl sets a dose
        # (DexTR maintenance: lenalidomide at most 15 mg below 40 mL/min).
        refuse(
            "creatinine",
            f"The latest serum creatinine ({lab.collected_on.isoformat()}) is {age} days old, "
            f"more than {max_age}; creatinine clearance decides the {', '.join(capped)} dose "
            "in this phase, so enter a current creatinine first.",
        )
        return None, lab
    if request.weight_kg is None:
        return None, lab
    try:
        # rules §2: actual weight, age in whole years on the day of the lab
        crcl = cockcroft_gault(
            context.patient.age_on(lab.collected_on),
            request.weight_kg,
            lab.value,
            context.patient.sex,
            lab.unit,
            measured_on=lab.collected_on,
        )
    except DomainError as exc:
        refuse("creatinine" if exc.field != "weight_kg" else "weight_kg", exc.message)
        return None, lab
    return crcl, lab


def _renal_capped_drugs(protocol: Protocol, phase_key: str | None) -> list[str]:
    """The drugs whose dose in this phase depends on creatinine clearance (a renal cap)."""
    if phase_key is None:
        return []
    try:
        phase = protocol.phase(phase_key)
    except DomainError:
        return []
    names = {key: drug.name for key, drug in protocol.drugs.items()}
    return sorted({names.get(r.drug, r.drug) for r in phase.doses if r.needs_crcl})


def _options(
    protocol: Protocol,
    context: StartContext,
    number: int,
    request: StartRequest,
    refuse: _Refuse,
) -> tuple[tuple[OptionChoice, ...], set[str]]:
    choices: list[OptionChoice] = []
    elected: set[str] = set()
    for option in protocol.options:
        earlier = _earlier_election(protocol, context, option)
        choices.append(OptionChoice(option, number >= option.from_cycle, earlier))
        if earlier is not None:
            elected.add(option.key)  # an elected option carries into later cycles
    for key in request.elect_options:
        match = [c for c in choices if c.option.key == key]
        if not match:
            refuse("options", f"{protocol.name} has no option {key!r}.")
        elif not match[0].available:
            refuse(
                "options",
                f"{match[0].option.label} is available from cycle {match[0].option.from_cycle}, "
                f"not cycle {number}.",
            )
        else:
            elected.add(key)
            if match[0].already_elected is None and not request.decided_by.strip():
                refuse("decided_by", f"Say who decided: {match[0].option.label}.")
    return tuple(choices), elected


def _earlier_election(
    protocol: Protocol, context: StartContext, option: ProtocolOption
) -> str | None:
    decision = decided_options(protocol, context.decisions).get(option.key)
    if decision is not None:
        return f"elected by {decision.decided_by} on {decision.decided_on.isoformat()}"
    for cycle in context.cycles:
        if cycle.status is not CycleStatus.PLANNED and option.key in cycle_option_keys(
            protocol, cycle.elected_options
        ):
            return f"elected from cycle {cycle.number}"
    return None


def _condition(
    protocol: Protocol, condition: TreatmentCondition, results: Sequence[LabResult], start: date
) -> ConditionStatus:
    test = labs.lab_test(condition.test)
    latest = latest_result(results, condition.test, start)
    max_age = protocol.settings.lab_max_age_days
    drug = protocol.drugs[condition.drug].name
    # rules §2: labs older than the window (default 3 days) count as missing
    if latest is None or older_than_window(latest.collected_on, start, max_age):
        return ConditionStatus(
            condition, drug, test.name, None, None, latest.collected_on if latest else None
        )
    value = labs.convert(latest.value_si, test.si_unit, condition.unit, condition.test)
    return ConditionStatus(
        condition, drug, test.name, value, latest.collected_on, latest.collected_on
    )


def _lab_lines(results: Sequence[LabResult], start: date, max_age: int) -> tuple[LabLine, ...]:
    latest: dict[str, LabResult] = {}
    for result in results:
        if result.collected_on <= start:
            latest[result.test] = result
    lines = []
    for result in latest.values():
        try:
            name = labs.lab_test(result.test).name
        except DomainError:
            name = result.test
        age = age_days(result.collected_on, start)
        lines.append(
            LabLine(
                result.test,
                name,
                result.value,
                result.unit,
                result.collected_on,
                age,
                older_than_window(result.collected_on, start, max_age),
            )
        )
    return tuple(sorted(lines, key=lambda line: line.name))


# -- writing -------------------------------------------------------------------------------------
def start_cycle(
    record: Record,
    patient_id: int,
    request: StartRequest,
    today: date,
    protocols: Mapping[str, Protocol] | None = None,
) -> StartResult:
    """Write the start of the next cycle in ONE transaction, or refuse with every reason.

    Writes the new height/weight row, the cycle row (updating the planned row enrolment made,
    else adding one) with status started, its planned doses (the old planned doses of that row
    are voided), a condition-override decision and an option decision where they apply, and
    marks the previous cycle completed. The record is unchanged when it raises.
    """
    repos = record.repos
    why = "start cycle"
    with record.transaction(reason=why):
        context = gather_start(record, patient_id, protocols)
        check = check_start(context, request, today)
        if not check.ok:
            raise StartRefused(check.problems)
        protocol, enrolment = context.protocol, context.enrolment
        assert protocol is not None and enrolment is not None and enrolment.id is not None
        assert check.plan is not None and check.bsa is not None and check.new_bsa is not None
        assert check.crcl is not None and check.crcl_lab is not None and check.phase
        why = f"start cycle {check.number}"
        measurement_id = repos.measurements.add(
            patient_id,
            BodyMeasurement(
                measured_on=request.measured_on or request.start,
                weight_kg=check.new_bsa.weight_kg,
                height_cm=check.new_bsa.height_cm,
            ),
            reason=why,
        )
        behind = measurement_id
        if check.bsa is not check.new_bsa:  # kept: point at the measurement it came from
            behind = next(
                c.measurement_id for c in reversed(_by_number(context)) if c.measurement_id
            )
        options = elected_entries(protocol, check.elected)
        row = CycleRow(
            enrolment_id=enrolment.id,
            number=check.number,
            phase=check.phase,
            planned_start=check.planned_start or request.start,
            status=CycleStatus.STARTED,
            start_date=request.start,
            delay_days=check.delay_days,
            delay_reason=request.delay_reason.strip() or None if check.delay_days else None,
            dose_level=check.plan.dose_level,
            bsa_m2=check.bsa.m2,
            bsa_formula=check.bsa.formula.value,
            measurement_id=behind,
            crcl_ml_min=check.crcl.ml_min,
            crcl_lab_id=check.crcl_lab.id,
            elected_options=options,
        )
        if context.target is not None:
            cycle_id = context.target.id
            repos.cycles.update(cycle_id, row, expected_version=context.target.version, reason=why)
            for dose in repos.doses.for_cycle(cycle_id):
                assert dose.id is not None
                stored = repos.doses.get(dose.id)
                repos.doses.void(
                    dose.id, expected_version=stored.version, reason=f"{why}: re-planned"
                )
        else:
            cycle_id = repos.cycles.add(row, reason=why)
        dose_ids = [
            repos.doses.add(
                DoseEvent(cycle_id, day.day, dose.drug, dose.dose_mg, DoseStatus.PLANNED),
                DoseDetails(
                    route=dose.route.value,
                    units={format_number(s): str(n) for s, n in dose.units},
                ),
                reason=why,
            )
            for day, dose in check.plan.doses()
        ]
        decisions: list[int] = []
        if check.failed_conditions:
            decisions.append(
                repos.decisions.add(
                    Decision(
                        enrolment_id=enrolment.id,
                        kind=DecisionKind.CONDITION_OVERRIDE,
                        decided_by=request.decided_by.strip(),
                        decided_on=today,
                        payload={
                            "cycle": check.number,
                            "conditions": [c.payload() for c in check.failed_conditions],
                        },
                        reason=request.override_reason.strip(),
                    ),
                    reason=f"{why}: condition override",
                )
            )
        for choice in check.options:
            if choice.option.key in request.elect_options and choice.already_elected is None:
                decisions.append(
                    repos.decisions.add(
                        Decision(
                            enrolment_id=enrolment.id,
                            kind=DecisionKind.OPTION,
                            decided_by=request.decided_by.strip(),
                            decided_on=today,
                            payload={
                                "cycle": check.number,
                                "option": choice.option.key,
                                "drug": choice.option.drug,
                                "dose": str(choice.option.dose),
                            },
                            reason=choice.option.label,
                        ),
                        reason=f"{why}: {choice.option.label}",
                    )
                )
        previous = context.previous
        if previous is not None and previous.status is CycleStatus.STARTED:
            assert previous.id is not None
            stored_prev = repos.cycles.get(previous.id)
            repos.cycles.update(
                previous.id,
                _completed(stored_prev.value),
                expected_version=stored_prev.version,
                reason=f"{why}: cycle {previous.number} completed",
            )
    return StartResult(cycle_id, measurement_id, tuple(dose_ids), tuple(decisions), check.plan)


def _by_number(context: StartContext) -> list[CycleRow]:
    return sorted(context.cycles, key=lambda c: c.number)


def _completed(row: CycleRow) -> CycleRow:
    return CycleRow(**{**row.__dict__, "status": CycleStatus.COMPLETED})


__all__ = [
    "ConditionStatus",
    "LabLine",
    "OptionChoice",
    "Problem",
    "StartCheck",
    "StartContext",
    "StartRefused",
    "StartRequest",
    "StartResult",
    "check_start",
    "gather_start",
    "open_enrolment",
    "start_cycle",
]
