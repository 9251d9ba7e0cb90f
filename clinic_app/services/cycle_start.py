"""Starting a cycle: everything day 1 needs, checked, then written in one transaction.

``gather_start`` reads the facts from the record (enrolment, cycles, labs, measurements,
modifications, decisions). ``check_start`` (``clinic_app.core.cycle_checks``, re-exported here)
is pure and instant: given those facts and what the form holds it returns the treatment
conditions (met / not met / missing, with value and date), the weight-change flag, BSA and CrCl,
the day-by-day plan with unit counts, the modifications carried over, the maintenance switch or
elected options, the delay, and every reason the start cannot go ahead. ``start_cycle``
re-reads and re-checks inside one write transaction and writes the measurement, the cycle row,
its planned doses, the decisions (condition override, elected option) and closes the previous
cycle, or writes nothing.

Sources: clinical rules §1 (day 1 is the day the cycle actually starts; the next cycle is
planned for start + the previous cycle's length, 28 days in BPD and DexTR; a delay is recorded
in days), §2 (BSA, Cockcroft-Gault, weight-change flag, mg/m² rounding, unit counts, ladders
carried over, treatment conditions, lab age window).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from clinic_app.core.cycle_checks import (
    ConditionStatus,
    LabLine,
    OptionChoice,
    Problem,
    StartCheck,
    StartContext,
    StartRequest,
    check_start,
)
from clinic_app.core.cycles import CycleRow, CycleStatus, DoseDetails
from clinic_app.core.decisions import Decision, DecisionKind
from clinic_app.core.errors import DomainError
from clinic_app.core.options import elected_entries
from clinic_app.core.plan import CyclePlan
from clinic_app.core.protocol import Protocol
from clinic_app.core.records import (
    BodyMeasurement,
    DoseEvent,
    DoseStatus,
    Enrolment,
    PatientStatus,
)
from clinic_app.services.context import record_protocols
from clinic_app.storage.database import Record
from clinic_app.storage.rows import Stored


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
        target=None if target is None else target.value,
        target_version=None if target is None else target.version,
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
            assert context.target.id is not None and context.target_version is not None
            cycle_id = context.target.id
            repos.cycles.update(cycle_id, row, expected_version=context.target_version, reason=why)
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
                    units=dose.stored_units(),
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
