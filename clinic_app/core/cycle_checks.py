"""The pure rules a cycle's day 1 is checked against (rules §1 and §2), on plain data.

``check_start`` takes the facts (:class:`StartContext`) and what the start form holds
(:class:`StartRequest`) and returns a :class:`StartCheck`: the treatment conditions, the
weight-change flag, BSA and CrCl, the day-by-day plan, the modifications carried over, the phase
and options, the delay, and every reason the cycle cannot start. ``services.cycle_start``
gathers the record, calls it for the form and re-checks inside the write transaction; the same
functions say the same thing wherever a start is judged.

>>> from datetime import date
>>> earliest_next_start(date(2024, 1, 1), 28)  # rules §1: planned for start + 28
datetime.date(2024, 1, 29)
>>> older_than_window(date(2024, 1, 26), date(2024, 1, 29), 3)  # 3 days: still usable
False
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from clinic_app.core import labs
from clinic_app.core.cycles import CycleRow, CycleStatus
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
from clinic_app.core.options import cycle_option_keys, decided_options
from clinic_app.core.plan import CyclePlan, default_phase, plan_cycle
from clinic_app.core.protocol import PhaseEntry, Protocol, ProtocolOption, TreatmentCondition
from clinic_app.core.records import (
    BodyMeasurement,
    DoseModification,
    Enrolment,
    LabResult,
    Patient,
)

CREATININE_TEST = "creatinine"
CONSENT_GATE = "consent"
"""The gate every protocol has: signed informed consent (rules §1)."""

_Refuse = Callable[[str, str], None]


def earliest_next_start(previous_start: date, cycle_length_days: int) -> date:
    """Rules §1: the next cycle is planned for the previous day 1 + the cycle length."""
    return previous_start + timedelta(days=cycle_length_days)


def delay_days(start: date, planned_start: date | None) -> int:
    """Days day 1 falls after its planned date (0 when on time, early or never planned)."""
    return max(0, (start - planned_start).days) if planned_start is not None else 0


def age_days(measured_on: date, day_1: date) -> int:
    """How many days before day 1 a result or measurement was taken."""
    return (day_1 - measured_on).days


def older_than_window(measured_on: date, day_1: date, max_age_days: int) -> bool:
    """Rules §2: a result older than the protocol's window (``lab_max_age_days``) counts as
    missing; the window holds for the labs and for the weight behind the doses."""
    return age_days(measured_on, day_1) > max_age_days


def latest_result(results: Iterable[LabResult], test: str, day_1: date) -> LabResult | None:
    """The latest result of ``test`` collected on or before day 1 (a day-1 draw counts)."""
    found = sorted(
        (r for r in results if r.test == test and r.collected_on <= day_1),
        key=lambda r: (r.collected_at, r.id or 0),
    )
    return found[-1] if found else None


def usable_result(
    results: Iterable[LabResult], test: str, day_1: date, max_age_days: int
) -> LabResult | None:
    """The latest result of ``test`` inside the window, else None (too old counts as missing)."""
    latest = latest_result(results, test, day_1)
    if latest is None or older_than_window(latest.collected_on, day_1, max_age_days):
        return None
    return latest


def condition_met(condition: TreatmentCondition, value: Decimal | None) -> bool:
    """Rules §2: the drug needs the test at or above the minimum (in the condition's unit);
    no usable value is not met (missing, never assumed)."""
    return value is not None and value >= condition.minimum


def missing_gates(required: Sequence[tuple[str, str]], recorded: Collection[str]) -> list[str]:
    """The labels of the enrolment gates not recorded (rules §1: nothing is scheduled until
    they are), in the protocol's order."""
    return [label for key, label in required if key not in recorded]


def required_gates(protocol: Protocol) -> list[tuple[str, str]]:
    """(key, label) of every gate a start needs recorded: signed consent, then the protocol's
    gates and eligibility items in its order."""
    items = [(g.key, g.label) for g in (*protocol.gates, *protocol.eligibility)]
    if CONSENT_GATE not in {key for key, _ in items}:
        items.insert(0, (CONSENT_GATE, "Signed informed consent"))
    return items


# -- the start of a cycle: its facts, the form, the pure check -----------------------------------
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
    target: CycleRow | None
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
    target_version: int | None = None
    """The version of ``target`` that was read (the write refuses an older one)."""


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
    for label in missing_gates(required_gates(protocol), enrolment.gates):
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
        planned_start = context.target.planned_start
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
