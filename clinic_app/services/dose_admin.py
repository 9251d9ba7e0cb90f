"""Dose administration and dose modifications of the current cycle.

- ``cycle_doses`` lists one cycle's day grid: each planned dose with its date, units and what
  was recorded (given with the time, held or missed with the reason) and the row version.
- ``record_dose_outcome`` records given / held / missed on one planned dose (an update with the
  version the editor read, audited); changing an outcome already recorded needs a reason.
- ``modification_choices`` offers, per drug of the current cycle, the dose in force and the
  lower steps of the protocol's ladder (rules §2; bendamustine steps through the dose-level
  mg/m² values). ``record_modification`` writes the ``DoseModification`` and, when it takes
  effect on a day of the current cycle, re-plans that drug's remaining planned doses (void and
  re-add with the new dose and unit counts) in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from clinic_app.core.cycles import CycleRow, CycleStatus, DoseDetails
from clinic_app.core.dosing import step_down
from clinic_app.core.errors import DomainError
from clinic_app.core.ismp import format_quantity
from clinic_app.core.plan import CyclePlan
from clinic_app.core.protocol import DoseBasis, Protocol
from clinic_app.core.records import (
    DoseEvent,
    DoseModification,
    DoseStatus,
    Enrolment,
    Patient,
    ReductionCause,
)
from clinic_app.services.context import record_protocols
from clinic_app.services.cycle_start import open_enrolment
from clinic_app.services.documents import CycleRef, cycle_plan
from clinic_app.storage.database import Record
from clinic_app.storage.rows import Stored

OUTCOMES = (DoseStatus.GIVEN, DoseStatus.HELD, DoseStatus.MISSED)


@dataclass(frozen=True)
class DoseRow:
    """One line of a cycle's day grid."""

    id: int
    version: int
    cycle_id: int
    day: int
    on: date
    drug: str
    drug_name: str
    dose_mg: Decimal
    units: str
    route: str
    status: DoseStatus
    given_at: datetime | None
    reason: str | None

    def describe(self) -> str:
        return (
            f"{self.drug_name} {format_quantity(self.dose_mg, 'mg')} on day {self.day} "
            f"({self.on.isoformat()})"
        )

    def outcome_text(self) -> str:
        if self.status is DoseStatus.GIVEN and self.given_at is not None:
            return f"given {self.given_at.astimezone().strftime('%Y-%m-%d %H:%M')}"
        if self.status in (DoseStatus.HELD, DoseStatus.MISSED):
            return f"{self.status.value}: {self.reason or ''}".rstrip(": ")
        return self.status.value


@dataclass(frozen=True)
class CycleView:
    """The cycle a day grid or a modification works on."""

    patient: Patient
    enrolment: Enrolment
    protocol: Protocol
    cycle: Stored[CycleRow]

    @property
    def start(self) -> date:
        row = self.cycle.value
        return row.start_date or row.planned_start

    @property
    def length_days(self) -> int:
        """Days in this cycle (its phase may set its own length)."""
        return self.protocol.cycle_length(str(self.cycle.value.phase))

    @property
    def number(self) -> int:
        return self.cycle.value.number

    def day_date(self, day: int) -> date:
        return self.start + timedelta(days=day - 1)  # rules §1: day d is start + (d - 1)

    def plan(self, record: Record) -> CyclePlan:
        return cycle_plan(
            record, CycleRef(self.patient, self.enrolment, self.cycle.value, self.protocol)
        )


def current_cycle(
    record: Record,
    patient_id: int,
    cycle_id: int | None = None,
    protocols: Mapping[str, Protocol] | None = None,
) -> CycleView:
    """The given cycle, or the open enrolment's current one: the latest cycle that has started
    (doses are given and modified there), else the planned first cycle."""
    repos = record.repos
    patient = repos.patients.get(patient_id).value
    known = protocols if protocols is not None else record_protocols(record)
    if cycle_id is not None:
        stored = repos.cycles.get(cycle_id)
        enrolment = repos.enrolments.get(stored.value.enrolment_id).value
        if enrolment.patient_id != patient_id:
            raise DomainError(f"Cycle {cycle_id} is not {patient.full_name}'s.", field="cycle")
    else:
        found = open_enrolment(record, patient_id)
        if found is None:
            raise DomainError(
                f"{patient.full_name} is not enrolled on a protocol (or is off study).",
                field="enrolment",
            )
        enrolment = found
        assert enrolment.id is not None
        cycles = [
            c
            for c in repos.cycles.for_enrolment(enrolment.id)
            if c.status is not CycleStatus.CANCELLED
        ]
        if not cycles:
            raise DomainError(f"{patient.full_name} has no cycle yet.", field="cycle")
        started = [c for c in cycles if c.start_date is not None]
        latest = max(started or cycles, key=lambda c: c.number)
        assert latest.id is not None
        stored = repos.cycles.get(latest.id)
    protocol = known.get(enrolment.protocol)
    if protocol is None:
        raise DomainError(f"Protocol {enrolment.protocol!r} is not loaded.", field="protocol")
    return CycleView(patient, enrolment, protocol, stored)


# -- the day grid ----------------------------------------------------------------------------------
def cycle_doses(record: Record, view: CycleView) -> list[DoseRow]:
    repos = record.repos
    rows: list[DoseRow] = []
    for event in repos.doses.for_cycle(view.cycle.id):
        assert event.id is not None
        stored = repos.doses.get(event.id)
        details = repos.doses.details(event.id)
        drug = view.protocol.drugs.get(event.drug)
        rows.append(
            DoseRow(
                id=event.id,
                version=stored.version,
                cycle_id=event.cycle_id,
                day=event.day,
                on=view.day_date(event.day),
                drug=event.drug,
                drug_name=drug.name if drug else event.drug,
                dose_mg=event.dose_mg,
                units=_units_text(details, drug.form.value if drug else "unit"),
                route=details.route or "",
                status=event.status,
                given_at=event.given_at,
                reason=event.reason,
            )
        )
    order = list(view.protocol.drugs)
    return sorted(rows, key=lambda r: (r.day, order.index(r.drug) if r.drug in order else 99))


def _units_text(details: DoseDetails, noun: str) -> str:
    parts = []
    for strength, count in details.units.items():
        try:
            n = int(count)
        except ValueError:
            continue
        parts.append(f"{n} × {strength} mg {noun}{'s' if n > 1 else ''}")
    return " + ".join(parts)


# -- recording an outcome ---------------------------------------------------------------------
@dataclass(frozen=True)
class DoseOutcome:
    status: DoseStatus
    given_at: datetime | None = None
    reason: str = ""
    correction_reason: str = ""
    """Needed when the dose already has an outcome recorded."""


def check_outcome(
    view: CycleView, dose: DoseRow, outcome: DoseOutcome, now: datetime
) -> dict[str, str]:
    """Field -> message for each reason the outcome cannot be recorded (empty when fine)."""
    problems: dict[str, str] = {}
    cycle = view.cycle.value
    if cycle.status is CycleStatus.PLANNED:
        problems["status"] = (
            f"Cycle {cycle.number} has not started; start it before recording doses."
        )
    if outcome.status not in OUTCOMES:
        problems["status"] = "Choose given, held or missed."
        return problems
    day_date = dose.on
    if outcome.status is DoseStatus.GIVEN:
        if outcome.given_at is None or outcome.given_at.tzinfo is None:
            problems["given_at"] = "Enter the date and time the dose was given."
        else:
            if outcome.given_at > now:
                problems["given_at"] = "The time given is in the future."
            elif outcome.given_at.astimezone(now.tzinfo).date() < view.start:
                problems["given_at"] = (
                    f"The time given is before day 1 of cycle {cycle.number} "
                    f"({view.start.isoformat()})."
                )
    elif not outcome.reason.strip():
        problems["reason"] = f"Say why the dose was {outcome.status.value}."
    if outcome.status in (DoseStatus.GIVEN, DoseStatus.MISSED) and day_date > now.date():
        problems["status"] = (
            f"Day {dose.day} is {day_date.isoformat()}, still to come; only a hold can be "
            "recorded in advance."
        )
    if dose.status is not DoseStatus.PLANNED and not outcome.correction_reason.strip():
        problems["correction_reason"] = (
            f"This dose is already recorded as {dose.outcome_text()}; give the reason for the "
            "correction."
        )
    return problems


def record_dose_outcome(
    record: Record, view: CycleView, dose: DoseRow, outcome: DoseOutcome, now: datetime
) -> Stored[DoseEvent]:
    """Update the planned dose with ``dose.version`` (StaleRecordError if someone changed it)."""
    problems = check_outcome(view, dose, outcome, now)
    if problems:
        name, message = next(iter(problems.items()))
        raise DomainError(message, field=name)
    event = DoseEvent(
        cycle_id=dose.cycle_id,
        day=dose.day,
        drug=dose.drug,
        dose_mg=dose.dose_mg,
        status=outcome.status,
        given_at=outcome.given_at if outcome.status is DoseStatus.GIVEN else None,
        reason=outcome.reason.strip() or None,
    )
    why = outcome.correction_reason.strip() or (
        f"cycle {view.number} day {dose.day} {dose.drug}: {outcome.status.value}"
    )
    return record.repos.doses.update(dose.id, event, expected_version=dose.version, reason=why)


# -- dose modifications ----------------------------------------------------------------------
@dataclass(frozen=True)
class LadderChoice:
    """One drug of the current cycle: its dose in force and the lower ladder steps."""

    drug: str
    drug_name: str
    unit: str
    current: Decimal
    steps: tuple[Decimal, ...]
    """Lower steps of the ladder, highest first; the first is the next step down."""

    @property
    def next_step(self) -> Decimal | None:
        return self.steps[0] if self.steps else None


def modification_choices(record: Record, view: CycleView, from_day: int = 1) -> list[LadderChoice]:
    """Per drug in the cycle's plan: the dose in force from ``from_day`` and the steps below."""
    plan = view.plan(record)
    choices: list[LadderChoice] = []
    for key, drug in view.protocol.drugs.items():
        current = _dose_in_force(plan, key, drug.basis, from_day)
        if current is None:
            continue
        steps: list[Decimal] = []
        remaining = current
        while True:
            try:
                # rules §2: protocol ladders
                remaining = step_down(drug.ladder, remaining, unit=drug.basis.unit)
            except DomainError:
                break
            steps.append(remaining)
        choices.append(LadderChoice(key, drug.name, drug.basis.unit, current, tuple(steps)))
    return choices


def _dose_in_force(plan: CyclePlan, drug: str, basis: DoseBasis, from_day: int) -> Decimal | None:
    """The prescribing-unit dose of ``drug`` on its first dosing day from ``from_day`` (else its
    last dosing day), as the plan computed it."""
    doses = [(day.day, d) for day, d in plan.doses() if d.drug == drug]
    if not doses:
        return None
    later = [item for item in doses if item[0] >= from_day]
    _, dose = later[0] if later else doses[-1]
    if basis is DoseBasis.FLAT:
        return dose.dose_mg
    for note in plan.dose_notes:  # mg/m²: the note whose rounded mg is this dose
        if note.drug == drug and note.rounding and note.rounding.rounded_mg == dose.dose_mg:
            return note.applied_dose
    raise DomainError(f"The plan has no mg/m² basis for {drug}.", field="drug")


@dataclass(frozen=True)
class ModificationRequest:
    drug: str
    new_dose: Decimal | None
    reason: str
    decided_by: str
    effective_day: int | None
    """A day of the current cycle, or None for day 1 of the next cycle."""
    cause: ReductionCause | None = None
    """What the reduction was for; required (the BPD DLT rules count it by it)."""


@dataclass(frozen=True)
class ModificationResult:
    modification_id: int
    replanned: tuple[int, ...]
    """New planned dose ids of the current cycle (empty when effective next cycle)."""
    kept: tuple[str, ...]
    """Doses on or after the effective day already recorded, left as they were."""


def check_modification(
    record: Record, view: CycleView, request: ModificationRequest, today: date
) -> dict[str, str]:
    problems: dict[str, str] = {}
    length = view.length_days
    day = request.effective_day
    if day is not None:
        if not 1 <= day <= length:
            problems["effective_day"] = f"Choose a day from 1 to {length}."
        elif view.cycle.value.status is not CycleStatus.PLANNED and view.day_date(day) < today:
            problems["effective_day"] = (
                f"Day {day} ({view.day_date(day).isoformat()}) has passed; a modification takes "
                "effect from today or later."
            )
    choices = {c.drug: c for c in modification_choices(record, view, day or length)}
    choice = choices.get(request.drug)
    if choice is None:
        problems["drug"] = f"{request.drug} is not given in cycle {view.number}."
    elif request.new_dose is None:
        problems["new_dose"] = "Choose the new dose from the ladder."
    elif not choice.steps:
        problems["new_dose"] = (
            f"{choice.drug_name} is at {format_quantity(choice.current, choice.unit)}, the "
            "lowest step of the ladder; it cannot be reduced further."
        )
    elif request.new_dose not in choice.steps:
        offered = ", ".join(format_quantity(s, choice.unit) for s in choice.steps)
        problems["new_dose"] = (
            f"{format_quantity(request.new_dose, choice.unit)} is not a lower step of the "
            f"ladder from {format_quantity(choice.current, choice.unit)}; choose {offered}."
        )
    if not request.reason.strip():
        problems["reason"] = "Give the reason for the modification."
    if not request.decided_by.strip():
        problems["decided_by"] = "Say who decided the modification."
    if request.cause is None:
        # Clinical rules §5: a cycle-1 reduction is a haematological or a non-haematological
        # DLT item by the toxicity behind it; the record must say, never guess from the text.
        problems["cause"] = (
            "Say what the reduction is for: haematological toxicity, other toxicity, or not "
            "for toxicity."
        )
    return problems


def record_modification(
    record: Record, view: CycleView, request: ModificationRequest, today: date
) -> ModificationResult:
    """Write the modification and re-plan the rest of the current cycle in ONE transaction."""
    repos = record.repos
    number = view.number
    why = f"dose modification of {request.drug} in cycle {number}"
    with record.transaction(reason=why):
        # Re-read inside the write lock: the cycle or its doses may have changed meanwhile.
        fresh = current_cycle(
            record, view.patient.id or 0, view.cycle.id, {view.protocol.key: view.protocol}
        )
        problems = check_modification(record, fresh, request, today)
        if problems:
            name, message = next(iter(problems.items()))
            raise DomainError(message, field=name)
        assert request.new_dose is not None
        day = request.effective_day
        choice = {c.drug: c for c in modification_choices(record, fresh, day or view.length_days)}[
            request.drug
        ]
        modification = DoseModification(
            drug=request.drug,
            old_dose=choice.current,
            new_dose=request.new_dose,
            reason=request.reason.strip(),
            effective_cycle=number if day is not None else number + 1,
            effective_day=day if day is not None else 1,
            decided_by=request.decided_by.strip(),
            decided_on=today,
            cause=request.cause,
        )
        assert fresh.enrolment.id is not None
        mod_id = repos.modifications.add(fresh.enrolment.id, modification, reason=why)
        replanned: list[int] = []
        kept: list[str] = []
        if day is not None:
            plan = fresh.plan(record)  # now includes the new modification
            new_doses = {d.day: dose for d, dose in plan.doses() if dose.drug == request.drug}
            for row in cycle_doses(record, fresh):
                if row.drug != request.drug or row.day < day:
                    continue
                if row.status is not DoseStatus.PLANNED:
                    kept.append(f"day {row.day}: {row.outcome_text()}")
                    continue
                repos.doses.void(row.id, expected_version=row.version, reason=f"{why}: re-planned")
                dose = new_doses.get(row.day)
                if dose is None:
                    continue
                replanned.append(
                    repos.doses.add(
                        DoseEvent(
                            row.cycle_id, row.day, dose.drug, dose.dose_mg, DoseStatus.PLANNED
                        ),
                        DoseDetails(
                            route=row.route or dose.route.value,
                            units=dose.stored_units(),
                        ),
                        reason=why,
                    )
                )
    return ModificationResult(mod_id, tuple(replanned), tuple(kept))
