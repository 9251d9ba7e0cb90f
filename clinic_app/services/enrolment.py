"""Enrolling a patient on a protocol: the gates, the caps, the BPD dose level, BSA and CrCl.

``check_enrolment`` is pure: it takes the protocol, the patient, what the form holds and the
facts read from the record (``EnrolmentContext``) and says, item by item, what stops the
enrolment. The dialog calls it on every keystroke. ``enrol`` re-reads the facts inside one
write transaction (so two windows cannot both take the last place under a cap), checks again
and writes the measurement, the creatinine, the enrolment and the planned cycle 1 together, or
nothing at all.

Sources: clinical rules §1 (gates, caps, DexTR prior thalidomide and lenalidomide), §2 (BSA,
Cockcroft-Gault), §6 (3+3 escalation decides the BPD level).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal

from clinic_app.core import labs
from clinic_app.core.cycle_checks import CONSENT_GATE, required_gates
from clinic_app.core.cycles import CycleRow, CycleStatus, DoseDetails
from clinic_app.core.decisions import DltReview
from clinic_app.core.dosing import (
    Bsa,
    CreatinineClearance,
    body_surface_area,
    check_input,
    cockcroft_gault,
)
from clinic_app.core.errors import DomainError
from clinic_app.core.escalation import (
    DltStatus,
    EscalationDecision,
    EscalationDesign,
    EscalationPatient,
    decide,
)
from clinic_app.core.ismp import format_number
from clinic_app.core.plan import CyclePlan, plan_cycle
from clinic_app.core.protocol import Protocol
from clinic_app.core.records import (
    BodyMeasurement,
    DoseEvent,
    DoseStatus,
    Enrolment,
    LabResult,
    Patient,
    PatientStatus,
)
from clinic_app.services.context import record_protocols
from clinic_app.storage.database import Record

CREATININE_TEST = "creatinine"
# The form offers the two units of rules §2; the lab catalogue spells micromol as "umol/L".
CREATININE_UNITS = ("µmol/L", "mg/dL")
_LAB_UNIT = {"µmol/L": "umol/L", "umol/L": "umol/L", "μmol/L": "umol/L", "mg/dL": "mg/dL"}
# A lab drawn on a known day at an unknown time is stored at noon UTC, so its date reads the
# same in every time zone from UTC-11 to UTC+11.
_UNKNOWN_TIME = time(12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class EnrolmentRequest:
    """What the enrolment form holds. ``gates`` maps each gate and eligibility key to the date
    it was recorded (consent date under ``"consent"``); a missing key is not recorded."""

    protocol: str
    enrolled_on: date
    cycle1_start: date
    gates: Mapping[str, date] = field(default_factory=dict)
    height_cm: Decimal | None = None
    weight_kg: Decimal | None = None
    measured_on: date | None = None
    creatinine: Decimal | None = None
    creatinine_unit: str = "µmol/L"
    creatinine_on: date | None = None
    dose_level: int | None = None
    light_chain: str | None = None
    """The involved free light chain, ``"kappa"`` or ``"lambda"``; None = not known."""
    not_numbers: Mapping[str, str] = field(default_factory=dict)
    """Text typed in a number field (``height_cm``, ``weight_kg``, ``creatinine``) that is not a
    number, by field: its value is None and the refusal says so instead of "enter the …"."""


@dataclass(frozen=True)
class Problem:
    """One reason the enrolment cannot go ahead; ``field`` names the form item at fault."""

    field: str
    message: str
    not_recorded: bool = False
    """Only "not recorded yet" (what an unticked box already shows), not a wrong entry."""


@dataclass(frozen=True)
class LevelChoice:
    """One BPD dose level as the dialog offers it: allowed now, or closed with the reason."""

    level: int
    allowed: bool
    reason: str
    doses: str


@dataclass(frozen=True)
class EnrolmentContext:
    """Facts from the record that the rules need."""

    enrolled_on_protocol: int
    """Everyone ever enrolled on this protocol (off-study patients still count for the cap)."""
    open_enrolment: Enrolment | None = None
    """The patient's current enrolment on any protocol, if not off study."""
    open_protocol_name: str | None = None
    """That enrolment's protocol as the nurse knows it ("DexTR"), when its file is loaded."""
    escalation_patients: tuple[EscalationPatient, ...] = ()


@dataclass(frozen=True)
class EnrolmentCheck:
    problems: tuple[Problem, ...]
    bsa: Bsa | None = None
    crcl: CreatinineClearance | None = None
    levels: tuple[LevelChoice, ...] = ()
    escalation: EscalationDecision | None = None
    cohort: str | None = None
    plan: CyclePlan | None = None
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    def messages(self, field_name: str, *, with_not_recorded: bool = True) -> list[str]:
        return [
            p.message
            for p in self.problems
            if p.field == field_name and (with_not_recorded or not p.not_recorded)
        ]

    @property
    def allowed_levels(self) -> tuple[int, ...]:
        return tuple(choice.level for choice in self.levels if choice.allowed)


class EnrolmentRefused(DomainError):
    """The enrolment was not written; ``problems`` lists every reason."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        first = problems[0]
        text = "Not enrolled: " + " ".join(p.message for p in problems)
        super().__init__(text, field=first.field)
        self.problems = tuple(problems)


@dataclass(frozen=True)
class EnrolmentResult:
    enrolment_id: int
    cycle_id: int
    measurement_id: int
    creatinine_lab_id: int
    plan: CyclePlan


_Refuse = Callable[[str, str], None]


# -- protocol facts ----------------------------------------------------------------------------
def uses_escalation(protocol: Protocol) -> bool:
    """A protocol with an escalation design ([escalation], which the loader requires beside
    [[dose_levels]]) places each patient by the 3+3 engine (rules §6)."""
    return protocol.escalation is not None


def escalation_design(protocol: Protocol) -> EscalationDesign | None:
    """The 3+3 design the protocol file declares ([escalation]); ``None``: the protocol has no
    escalation (no design is assumed for it)."""
    return protocol.escalation


def gate_items(protocol: Protocol) -> list[tuple[str, str]]:
    """(key, label) of every gate and eligibility item, in the protocol's order."""
    return [(g.key, g.label) for g in (*protocol.gates, *protocol.eligibility)]


def _level_doses(protocol: Protocol, level: int) -> str:
    parts = []
    for drug_key, dose in protocol.dose_level(level).doses.items():
        drug = protocol.drugs[drug_key]
        parts.append(f"{drug.name} {format_number(dose)} {drug.basis.unit}")
    return ", ".join(parts)


# -- the pure check ----------------------------------------------------------------------------
def check_enrolment(
    protocol: Protocol,
    patient: Patient,
    request: EnrolmentRequest,
    context: EnrolmentContext,
    today: date,
) -> EnrolmentCheck:
    """Every reason the enrolment cannot go ahead, plus BSA, CrCl, levels and the cycle-1 plan."""
    problems: list[Problem] = []
    notes = list(protocol.notes)

    def refuse(field_name: str, message: str) -> None:
        problems.append(Problem(field_name, message))

    if request.protocol != protocol.key:
        refuse("protocol", f"The form is for {request.protocol}, not {protocol.name}.")
    if context.open_enrolment is not None:
        e = context.open_enrolment
        refuse(
            "protocol",
            f"{patient.full_name} is already enrolled on "
            f"{context.open_protocol_name or e.protocol} since "
            f"{e.enrolled_on.isoformat()} ({e.status.value.replace('_', ' ')}); "
            "take them off study first.",
        )

    # -- dates ---------------------------------------------------------------------------------
    if request.enrolled_on > today:
        refuse("enrolled_on", "The enrolment date is in the future.")
    if request.enrolled_on < patient.date_of_birth:
        refuse("enrolled_on", "The enrolment date is before the date of birth.")
    if request.cycle1_start < request.enrolled_on:
        refuse(
            "cycle1_start",
            f"Cycle 1 cannot start before the enrolment date ({request.enrolled_on.isoformat()}).",
        )

    # -- gates (rules §1: consent, REMS per immunomodulatory drug, DexTR prior IMiDs) -----------
    # Signed consent is always a gate, even if a protocol file forgot to list it (core's list).
    for key, label in required_gates(protocol):
        on = request.gates.get(key)
        if on is None:
            problems.append(Problem(f"gate:{key}", f"Not recorded: {label}.", not_recorded=True))
            continue
        if on > today:
            refuse(f"gate:{key}", f"{label}: the date {on.isoformat()} is in the future.")
        elif on > request.enrolled_on:
            refuse(
                f"gate:{key}",
                f"{label}: recorded on {on.isoformat()}, after the enrolment date; it must "
                "be in place before enrolment.",
            )
        elif on < patient.date_of_birth:
            refuse(f"gate:{key}", f"{label}: the date is before the date of birth.")

    # -- body size and kidney function (rules §2) -----------------------------------------------
    bsa = _bsa(protocol, request, today, refuse)
    crcl = _crcl(patient, request, today, refuse)

    # -- caps and the dose level ---------------------------------------------------------------
    levels: tuple[LevelChoice, ...] = ()
    decision: EscalationDecision | None = None
    cohort: str | None = None
    caps = protocol.caps
    # DexTR: at most 45 patients; BPD: 56 in total (rules §1).
    if context.enrolled_on_protocol >= caps.total:
        refuse(
            "protocol",
            f"{protocol.name} has reached its cap of {caps.total} patients "
            f"({context.enrolled_on_protocol} enrolled); no one more can be enrolled.",
        )
    design = escalation_design(protocol)
    if design is not None:
        try:
            decision = decide(context.escalation_patients, design)
        except DomainError as exc:
            refuse("dose_level", f"The escalation record cannot be read: {exc.message}")
        if decision is not None:
            cohort = decision.phase.value
            closed = {c.level: c.reason for c in decision.closed_levels}
            levels = tuple(
                LevelChoice(
                    level=d.level,
                    allowed=d.level in decision.allowed_levels,
                    reason=(
                        decision.reason
                        if d.level in decision.allowed_levels
                        else closed.get(d.level, "not allowed now")
                    ),
                    doses=_level_doses(protocol, d.level),
                )
                for d in sorted(protocol.dose_levels, key=lambda d: design.levels.index(d.level))
            )
            if not decision.allowed_levels:
                # rules §6 / caps: the engine says nobody may be enrolled now, and why.
                refuse("dose_level", f"No dose level is open: {decision.reason}")
            elif request.dose_level is None:
                refuse("dose_level", "Choose the dose level.")
            elif request.dose_level not in decision.allowed_levels:
                refuse(
                    "dose_level",
                    f"Dose level {request.dose_level} is not allowed now: "
                    f"{closed.get(request.dose_level, 'not one of the levels')}.",
                )
    elif request.dose_level is not None:
        refuse("dose_level", f"{protocol.name} has no dose escalation, so no dose level.")

    # -- the cycle-1 plan ----------------------------------------------------------------------
    plan: CyclePlan | None = None
    level_ok = not uses_escalation(protocol) or (
        decision is not None and request.dose_level in decision.allowed_levels
    )
    if bsa is not None and crcl is not None and level_ok:
        try:
            plan = plan_cycle(
                protocol,
                cycle=1,
                start=request.cycle1_start,
                dose_level=request.dose_level,
                bsa=bsa,
                crcl_ml_min=crcl.ml_min,
            )
        except DomainError as exc:
            refuse(exc.field or "plan", f"Cycle 1 cannot be planned: {exc.message}")

    return EnrolmentCheck(
        problems=tuple(problems),
        bsa=bsa,
        crcl=crcl,
        levels=levels,
        escalation=decision,
        cohort=cohort,
        plan=plan,
        notes=tuple(notes),
    )


def _not_a_number(request: EnrolmentRequest, name: str, what: str, example: str) -> str:
    """The sentence for a number field without a number: what was typed is "not a number";
    nothing typed is "Enter …" (issue 14: letters in creatinine are not a missing value)."""
    typed = request.not_numbers.get(name, "").strip()
    if typed:
        return f"'{typed}' is not a number: type {what} in digits, e.g. {example}."
    return f"Enter {what}."


def _bsa(
    protocol: Protocol,
    request: EnrolmentRequest,
    today: date,
    refuse: _Refuse,
) -> Bsa | None:
    missing = False
    if request.height_cm is None:
        refuse("height_cm", _not_a_number(request, "height_cm", "the height in cm", "172"))
        missing = True
    if request.weight_kg is None:
        refuse("weight_kg", _not_a_number(request, "weight_kg", "the weight in kg", "68.5"))
        missing = True
    if request.measured_on is None:
        refuse("measured_on", "Enter the date of the height and weight.")
        missing = True
    elif request.measured_on > today:
        refuse("measured_on", "The measurement date is in the future.")
        missing = True
    if missing:
        # What was typed is still checked, so every wrong field says so at once (a height
        # of 1.65 cm is not left for after the weight is corrected).
        for name, value, label, unit in (
            ("height_cm", request.height_cm, "Height", "cm"),
            ("weight_kg", request.weight_kg, "Weight", "kg"),
        ):
            if value is not None:
                try:
                    check_input(name, value, label, unit)
                except DomainError as exc:
                    refuse(name, exc.message)
        return None
    assert request.height_cm is not None and request.weight_kg is not None
    try:
        return body_surface_area(
            request.height_cm,
            request.weight_kg,
            protocol.settings.bsa_formula,
            measured_on=request.measured_on,
        )
    except DomainError as exc:
        refuse(exc.field or "weight_kg", exc.message)
        return None


def _crcl(
    patient: Patient, request: EnrolmentRequest, today: date, refuse: _Refuse
) -> CreatinineClearance | None:
    missing = False
    if request.creatinine is None:
        unit = request.creatinine_unit
        what = f"the serum creatinine in {unit}" if unit in _LAB_UNIT else "the serum creatinine"
        example = "0.96" if unit == "mg/dL" else "85"
        refuse("creatinine", _not_a_number(request, "creatinine", what, example))
        missing = True
    if request.creatinine_unit not in _LAB_UNIT:
        refuse("creatinine_unit", "Choose the creatinine unit: µmol/L or mg/dL.")
        missing = True
    if request.creatinine_on is None:
        refuse("creatinine_on", "Enter the date the creatinine was drawn.")
        missing = True
    elif request.creatinine_on > today:
        refuse("creatinine_on", "The creatinine date is in the future.")
        missing = True
    if missing or request.weight_kg is None:
        return None
    assert request.creatinine is not None and request.creatinine_on is not None
    unit = _LAB_UNIT[request.creatinine_unit]
    try:
        check = labs.check_plausible(CREATININE_TEST, request.creatinine, unit)
    except DomainError as exc:
        refuse("creatinine", exc.message)
        return None
    if check.refused:
        refuse("creatinine", check.reason)
        return None
    try:
        # rules §2: actual weight, age in whole years on the day of the lab
        return cockcroft_gault(
            patient.age_on(request.creatinine_on),
            request.weight_kg,
            request.creatinine,
            patient.sex,
            unit,
            measured_on=request.creatinine_on,
        )
    except DomainError as exc:
        field_name = "creatinine" if exc.field in ("creatinine_mg_dl", None) else exc.field
        refuse(field_name, exc.message)
        return None


# -- reading the record --------------------------------------------------------------------------
def dlt_status(reviews: Sequence[DltReview]) -> tuple[bool | None, DltStatus]:
    """(toxicity-evaluable, DLT) of one enrolment from its DLT reviews (rules §5, §6).

    A confirmed DLT counts whatever else is recorded. A review saying "not evaluable" takes
    the patient out of the cohort (replaced). Until every proposal is confirmed or rejected by
    the investigator, the result is pending; no review at all is pending too, since the app
    never assumes "no DLT".
    """
    if any(r.confirmed is True for r in reviews):
        return True, DltStatus.YES
    if any(r.evaluable is False for r in reviews):
        return False, DltStatus.NO
    evaluable = True if any(r.evaluable is True for r in reviews) else None
    if not reviews or any(r.confirmed is None for r in reviews):
        return evaluable, DltStatus.PENDING
    return evaluable, DltStatus.NO


def gather_context(record: Record, protocol: Protocol, patient_id: int) -> EnrolmentContext:
    """Read the facts ``check_enrolment`` needs from the record."""
    repos = record.repos
    on_protocol = _enrolments_on(record, protocol.key)
    open_enrolment = next(
        (
            e
            for e in repos.enrolments.for_patient(patient_id)
            if e.status is not PatientStatus.OFF_STUDY
        ),
        None,
    )
    escalation: list[EscalationPatient] = []
    if uses_escalation(protocol):
        for enrolment in on_protocol:
            assert enrolment.id is not None
            if enrolment.dose_level is None:
                continue
            evaluable, dlt = dlt_status(repos.dlt_reviews.for_enrolment(enrolment.id))
            escalation.append(
                EscalationPatient(str(enrolment.id), enrolment.dose_level, evaluable, dlt)
            )
    open_name = None
    if open_enrolment is not None:
        known = record_protocols(record).get(open_enrolment.protocol)
        open_name = None if known is None else known.name
    return EnrolmentContext(
        enrolled_on_protocol=len(on_protocol),
        open_enrolment=open_enrolment,
        open_protocol_name=open_name,
        escalation_patients=tuple(escalation),
    )


def _enrolments_on(record: Record, protocol_key: str) -> list[Enrolment]:
    """Every live enrolment on the protocol, in enrolment order (the 3+3 list order)."""
    by_protocol = getattr(record.repos.enrolments, "for_protocol", None)
    if by_protocol is not None:  # one query, when storage offers it
        found: list[Enrolment] = list(by_protocol(protocol_key))
    else:
        found = []
        for patient in record.repos.patients.all():
            assert patient.id is not None
            found.extend(
                e
                for e in record.repos.enrolments.for_patient(patient.id)
                if e.protocol == protocol_key
            )
    return sorted(found, key=lambda e: (e.enrolled_on, e.id or 0))


# -- writing ---------------------------------------------------------------------------------------
def enrol(
    record: Record,
    protocol: Protocol,
    patient_id: int,
    request: EnrolmentRequest,
    today: date,
    *,
    reason: str = "enrolment",
) -> EnrolmentResult:
    """Write the enrolment and everything it rests on in ONE transaction, or refuse.

    Writes the height/weight measurement, the creatinine lab result, the enrolment (with its
    gates, dose level and cohort) and cycle 1 with status planned and its planned doses.
    Raises :class:`EnrolmentRefused` listing every problem; the record is then unchanged.
    """
    repos = record.repos
    with record.transaction(reason=reason):
        patient = repos.patients.get(patient_id).value
        # Read inside the write lock: another window cannot take the last place meanwhile.
        context = gather_context(record, protocol, patient_id)
        check = check_enrolment(protocol, patient, request, context, today)
        if not check.ok:
            raise EnrolmentRefused(check.problems)
        assert check.bsa is not None and check.crcl is not None and check.plan is not None
        assert request.measured_on is not None and request.creatinine_on is not None
        assert request.creatinine is not None
        measurement_id = repos.measurements.add(
            patient_id,
            BodyMeasurement(
                measured_on=request.measured_on,
                weight_kg=check.bsa.weight_kg,
                height_cm=check.bsa.height_cm,
            ),
            reason=reason,
        )
        unit = _LAB_UNIT[request.creatinine_unit]
        lab_id = repos.labs.add(
            patient_id,
            LabResult(
                test=CREATININE_TEST,
                value=request.creatinine,
                unit=unit,
                collected_at=datetime.combine(request.creatinine_on, _UNKNOWN_TIME),
                value_si=labs.to_si(CREATININE_TEST, request.creatinine, unit),
            ),
            reason=reason,
        )
        gates = dict(request.gates)
        enrolment_id = repos.enrolments.add(
            Enrolment(
                patient_id=patient_id,
                protocol=protocol.key,
                enrolled_on=request.enrolled_on,
                consent_on=gates[CONSENT_GATE],
                gates=gates,
                dose_level=request.dose_level,
                cohort=check.cohort,
                status=PatientStatus.ACTIVE,
                light_chain=request.light_chain,
            ),
            reason=reason,
        )
        plan = check.plan
        cycle_id = repos.cycles.add(
            CycleRow(
                enrolment_id=enrolment_id,
                number=1,
                phase=plan.phase,
                planned_start=plan.start,
                status=CycleStatus.PLANNED,
                dose_level=plan.dose_level,
                bsa_m2=check.bsa.m2,
                bsa_formula=check.bsa.formula.value,
                measurement_id=measurement_id,
                crcl_ml_min=check.crcl.ml_min,
                crcl_lab_id=lab_id,
            ),
            reason=reason,
        )
        for day, dose in plan.doses():
            repos.doses.add(
                DoseEvent(
                    cycle_id=cycle_id,
                    day=day.day,
                    drug=dose.drug,
                    dose_mg=dose.dose_mg,
                    status=DoseStatus.PLANNED,
                ),
                DoseDetails(
                    route=dose.route.value,
                    units=dose.stored_units(),
                ),
                reason=reason,
            )
    return EnrolmentResult(enrolment_id, cycle_id, measurement_id, lab_id, plan)
