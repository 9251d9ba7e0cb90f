"""The end-of-cycle decision: the proposal, the maintenance dose, and recording what was decided.

The proposal is the one the chart shows (:func:`clinic_app.services.patient_state.patient_summary`
runs :func:`clinic_app.core.phase_decision.propose_next_step` with the protocol's decision and
plateau settings); this module adds what the engine leaves to the integrator and writes the
investigator's answer:

- **the next phase's doses** (DexTR maintenance): the next cycle is planned in the phase the
  protocol's decision moves to (its ``[decisions] next_phase``) with
  :func:`clinic_app.core.plan.plan_cycle`, so the lenalidomide dose is 25 mg capped by every
  recorded reduction (the dose induction ended on) and, when creatinine clearance is below
  40 mL/min, by 15 mg. CrCl is Cockcroft-Gault from the latest creatinine no older than the
  protocol's ``lab_max_age_days`` and the latest weight on or before it; without them the dose
  is reported as missing, never guessed.
- **accept or reject**: one ``decisions`` row (kind ``phase``) per cycle, saying what was
  proposed, whether it was accepted, who decided and why (a rejection needs a reason). Accepting
  the move to the next phase also sets the enrolment to maintenance and moves a planned next
  cycle to that phase, in the same transaction.
- **off study**: the enrolment's status, date and reason, plus an ``off_study`` decision.
- **investigator options** (the protocol's ``[[options]]``, e.g. BPD dexamethasone 20 mg after
  cycle 6): never automatic; an ``option`` decision (``{"option": key}``) names who decided and
  when, and a planned next cycle elects the option by its key (``core.options``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal

from clinic_app.core.cycles import CycleRow, CycleStatus
from clinic_app.core.decisions import Decision, DecisionKind
from clinic_app.core.dosing import CreatinineClearance, cockcroft_gault
from clinic_app.core.errors import DomainError, MissingDataError
from clinic_app.core.ismp import format_quantity
from clinic_app.core.options import elected_entries, option_payload
from clinic_app.core.phase_decision import NextStep, PhaseProposal
from clinic_app.core.plan import DoseBasisNote, plan_cycle
from clinic_app.core.protocol import Protocol
from clinic_app.core.records import (
    Enrolment,
    OffStudyReason,
    Patient,
    PatientStatus,
)
from clinic_app.services.context import record_protocols
from clinic_app.services.patient_state import patient_summary
from clinic_app.storage.database import Record
from clinic_app.storage.errors import NOTHING_LOST, StaleRecordError

CREATININE = "creatinine"


@dataclass(frozen=True)
class MaintenanceDose:
    """The doses of the first cycle of the next phase, or why they cannot be computed."""

    cycle: int
    lines: tuple[str, ...]
    """One line per drug: name, dose and how it was reached."""
    doses_mg: Mapping[str, Decimal]
    crcl: CreatinineClearance | None
    missing: tuple[str, ...] = ()
    phase_name: str = "Maintenance"
    """The protocol's name of the phase the cycle is planned in."""

    @property
    def note(self) -> str:
        if self.missing:
            return f"{self.phase_name} doses not computed: " + "; ".join(self.missing)
        return f"Cycle {self.cycle} in {self.phase_name.lower()}: " + "; ".join(self.lines)


@dataclass(frozen=True)
class EndOfCycleView:
    """What the end-of-cycle panel shows for one patient on one day."""

    patient: Patient
    protocol: Protocol | None
    enrolment: Enrolment | None
    cycle: CycleRow | None
    """The cycle whose end is decided (the latest started one)."""
    proposal: PhaseProposal | None
    maintenance: MaintenanceDose | None
    recorded: tuple[Decision, ...]
    """Live decisions already recorded for this cycle's end."""
    missing: tuple[str, ...]

    @property
    def can_decide(self) -> bool:
        return (
            self.proposal is not None
            and self.proposal.proposal is not NextStep.AWAIT_ASSESSMENT
            and not self.recorded
        )


def _latest_crcl(
    record: Record, patient: Patient, protocol: Protocol, today: date
) -> tuple[CreatinineClearance | None, str | None]:
    assert patient.id is not None
    found = [
        lab
        for lab in record.repos.labs.for_patient(patient.id, test=CREATININE)
        if lab.collected_on <= today
    ]
    max_age = protocol.settings.lab_max_age_days
    if not found:
        return None, "no creatinine is recorded, so creatinine clearance is unknown"
    lab = found[-1]
    # Rules §2: labs older than the configurable window count as missing.
    if (today - lab.collected_on).days > max_age:
        return None, (
            f"the latest creatinine ({lab.collected_on}) is more than {max_age} days old; "
            "record a current one"
        )
    weight = record.repos.measurements.latest_on_or_before(patient.id, lab.collected_on)
    if weight is None:
        return None, f"no weight is recorded on or before the creatinine of {lab.collected_on}"
    # Rules §2: Cockcroft-Gault with actual weight and age in whole years on the lab day.
    crcl = cockcroft_gault(
        patient.age_on(lab.collected_on),
        weight.weight_kg,
        lab.value,
        patient.sex,
        lab.unit,
        measured_on=lab.collected_on,
    )
    return crcl, None


def _line(note: DoseBasisNote, name: str) -> str:
    dose = note.rounding.rounded_mg if note.rounding else note.applied_dose
    return f"{name} {format_quantity(dose, 'mg')} ({'; '.join(note.reasons)})"


def maintenance_dose(
    record: Record,
    protocol: Protocol,
    patient: Patient,
    enrolment: Enrolment,
    cycle: CycleRow,
    today: date,
    phase: str,
) -> MaintenanceDose:
    """The doses of cycle ``cycle.number + 1`` planned in ``phase`` (a phase key)."""
    assert enrolment.id is not None and cycle.start_date is not None
    number = cycle.number + 1
    missing: list[str] = []
    crcl, problem = _latest_crcl(record, patient, protocol, today)
    spec = protocol.phase(phase)
    needs_crcl = any(rule.needs_crcl for rule in spec.doses)
    if needs_crcl and problem is not None:
        missing.append(problem)
        return MaintenanceDose(number, (), {}, crcl, tuple(missing), spec.name)
    try:
        plan = plan_cycle(
            protocol,
            cycle=number,
            # Rules §1: the next cycle is planned for start + this cycle's length.
            start=cycle.start_date + timedelta(days=protocol.cycle_length(str(cycle.phase))),
            phase=phase,
            dose_level=cycle.dose_level if protocol.dose_levels else None,
            modifications=record.repos.modifications.for_enrolment(enrolment.id),
            bsa=None,
            crcl_ml_min=crcl.ml_min if crcl is not None else None,
        )
    except (DomainError, MissingDataError) as exc:
        return MaintenanceDose(number, (), {}, crcl, (exc.message,), spec.name)
    lines: list[str] = []
    doses: dict[str, Decimal] = {}
    for note in plan.dose_notes:
        name = plan.drug_names.get(note.drug, note.drug)
        lines.append(_line(note, name))
        doses[note.drug] = note.rounding.rounded_mg if note.rounding else note.applied_dose
    if crcl is not None and needs_crcl:
        lines.append(crcl.describe())
    return MaintenanceDose(number, tuple(lines), doses, crcl, phase_name=spec.name)


def _decisions_for_cycle(record: Record, enrolment_id: int, number: int) -> tuple[Decision, ...]:
    return tuple(
        d
        for d in record.repos.decisions.for_enrolment(enrolment_id)
        if d.kind in (DecisionKind.PHASE, DecisionKind.OFF_STUDY)
        and d.payload.get("cycle") == number
    )


def end_of_cycle_view(
    record: Record,
    patient_id: int,
    today: date,
    protocols: Mapping[str, Protocol] | None = None,
) -> EndOfCycleView:
    """The proposal for the end of the patient's latest started cycle, with what it rests on."""
    protocols = record_protocols(record) if protocols is None else protocols
    summary = patient_summary(record, patient_id, today, protocols)
    enrolment = summary.enrolment
    protocol = protocols.get(enrolment.protocol) if enrolment is not None else None
    missing = list(summary.decision_missing)
    if enrolment is None or protocol is None or enrolment.id is None:
        return EndOfCycleView(
            summary.patient, protocol, enrolment, None, None, None, (), tuple(summary.missing)
        )
    # The same "current cycle" as the summary's proposal: the latest one with a day 1.
    started = [c for c in record.repos.cycles.for_enrolment(enrolment.id) if c.start_date]
    cycle = started[-1] if started else None
    proposal = summary.next_step
    if proposal is not None and (cycle is None or proposal.cycle_number != cycle.number):
        missing.append("the proposal does not close the latest started cycle")
        proposal = None
    maintenance = None
    if (
        proposal is not None
        and cycle is not None
        and proposal.proposal is NextStep.NEXT_PHASE
        and proposal.next_phase is not None
        and cycle.phase != proposal.next_phase
    ):
        maintenance = maintenance_dose(
            record, protocol, summary.patient, enrolment, cycle, today, proposal.next_phase
        )
        proposal = replace(proposal, maintenance_dose_note=maintenance.note)
    recorded = _decisions_for_cycle(record, enrolment.id, cycle.number) if cycle else ()
    if enrolment.status is PatientStatus.OFF_STUDY:
        missing.append(
            f"the patient went off study on {enrolment.off_study_on} "
            f"({enrolment.off_study_reason}); there is nothing to decide"
        )
    return EndOfCycleView(
        summary.patient, protocol, enrolment, cycle, proposal, maintenance, recorded, tuple(missing)
    )


# -- recording the decision ----------------------------------------------------------------------
def _check_who_when(view: EndOfCycleView, decided_by: str, decided_on: date, today: date) -> None:
    if not decided_by.strip():
        raise DomainError("Enter who made the decision.", field="decided_by")
    if decided_on > today:
        raise DomainError("The decision date is in the future.", field="decided_on")
    if view.cycle is not None and view.cycle.start_date and decided_on < view.cycle.start_date:
        raise DomainError(
            f"The decision date is before cycle {view.cycle.number} started "
            f"({view.cycle.start_date}).",
            field="decided_on",
        )


def _ready(view: EndOfCycleView) -> tuple[Enrolment, CycleRow, PhaseProposal]:
    if view.enrolment is None or view.enrolment.id is None or view.cycle is None:
        raise DomainError("The patient has no started cycle to close.", field="proposal")
    if view.enrolment.status is PatientStatus.OFF_STUDY:
        raise DomainError("The patient is already off study.", field="proposal")
    if view.proposal is None or view.proposal.proposal is NextStep.AWAIT_ASSESSMENT:
        raise DomainError(
            "There is no proposal to accept or reject yet: record the end-of-cycle response "
            "assessment first.",
            field="proposal",
        )
    if view.recorded:
        d = view.recorded[0]
        raise DomainError(
            f"A decision for the end of cycle {view.cycle.number} is already recorded "
            f"({d.decided_by}, {d.decided_on}); void it in its history to record another.",
            field="proposal",
        )
    return view.enrolment, view.cycle, view.proposal


def _still_current(record: Record, view: EndOfCycleView) -> None:
    """Inside the write transaction: refuse when the record moved on since ``view`` was read
    (another window took the patient off study or decided this cycle's end), so a decision
    made on an old screen never overwrites a newer one."""
    assert view.enrolment is not None and view.enrolment.id is not None
    assert view.cycle is not None
    decided = _decisions_for_cycle(record, view.enrolment.id, view.cycle.number)
    if len(decided) > len(view.recorded):
        d = decided[-1]
        raise StaleRecordError(
            f"A decision for the end of cycle {view.cycle.number} was recorded after the "
            f"panel was opened ({d.decided_by}, {d.decided_on}: {d.reason}), so "
            f"{NOTHING_LOST}. Reopen the end-of-cycle panel."
        )
    now = record.repos.enrolments.get(view.enrolment.id)
    if now.voided or now.value != view.enrolment:
        state = now.value.status.value.replace("_", " ")
        if now.value.off_study_on is not None:
            state += f" since {now.value.off_study_on}"
        raise StaleRecordError(
            f"Someone else changed this patient's enrolment after the panel was opened (it "
            f"is now {'voided' if now.voided else state}), so "
            f"{NOTHING_LOST}. Reopen the end-of-cycle panel and decide again."
        )


def _payload(
    cycle: CycleRow, proposal: PhaseProposal, accepted: bool, to: str | None
) -> dict[str, object]:
    payload: dict[str, object] = {
        "cycle": cycle.number,
        "proposal": proposal.proposal.value,
        "accepted": accepted,
        "from": cycle.phase,
        "to": to,
        "proposal_reasons": list(proposal.reasons),
    }
    if proposal.maintenance_dose_note:
        payload["maintenance_doses"] = proposal.maintenance_dose_note
    return payload


def _next_planned(record: Record, enrolment_id: int, number: int) -> tuple[int, int] | None:
    """(id, version) of the planned, not yet started, cycle ``number + 1``."""
    for c in record.repos.cycles.for_enrolment(enrolment_id):
        if c.number == number + 1 and c.status is CycleStatus.PLANNED and c.id is not None:
            return c.id, record.repos.cycles.get(c.id).version
    return None


def accept_proposal(
    record: Record,
    view: EndOfCycleView,
    *,
    decided_by: str,
    decided_on: date,
    today: date,
    reason: str = "",
    off_study_reason: OffStudyReason | None = None,
) -> int:
    """Record that the proposal is accepted; returns the decision's id.

    The next phase: the enrolment moves to maintenance and a planned next cycle to that phase.
    Off study: ``off_study_reason`` is required and the enrolment goes off study on
    ``decided_on``. Everything is one transaction.
    """
    enrolment, cycle, proposal = _ready(view)
    _check_who_when(view, decided_by, decided_on, today)
    assert enrolment.id is not None
    maintenance = view.maintenance
    if proposal.proposal is NextStep.NEXT_PHASE and maintenance is not None and maintenance.missing:
        raise MissingDataError(maintenance.note, field="maintenance")
    if proposal.proposal is NextStep.OFF_STUDY:
        if off_study_reason is None:
            raise DomainError("Choose why the patient goes off study.", field="off_study_reason")
        with record.transaction(reason=reason or "end-of-cycle proposal accepted"):
            _still_current(record, view)
            decision = record.repos.decisions.add(
                Decision(
                    enrolment.id,
                    DecisionKind.PHASE,
                    decided_by.strip(),
                    decided_on,
                    _payload(cycle, proposal, True, None),
                    reason.strip() or "proposal accepted",
                )
            )
            take_off_study(
                record,
                enrolment.patient_id,
                on=decided_on,
                why=off_study_reason,
                details=reason.strip() or "proposal accepted",
                decided_by=decided_by,
                today=today,
                cycle=cycle.number,
            )
        return decision
    to = proposal.next_phase
    with record.transaction(reason=reason.strip() or "end-of-cycle proposal accepted"):
        _still_current(record, view)
        decision = record.repos.decisions.add(
            Decision(
                enrolment.id,
                DecisionKind.PHASE,
                decided_by.strip(),
                decided_on,
                _payload(cycle, proposal, True, to),
                reason.strip() or "proposal accepted",
            )
        )
        if proposal.proposal is NextStep.NEXT_PHASE and to is not None and cycle.phase != to:
            # The phase the protocol's decision moves to is its maintenance (patient status).
            name = view.protocol.phase(to).name.lower() if view.protocol else to
            stored = record.repos.enrolments.get(enrolment.id)
            record.repos.enrolments.update(
                enrolment.id,
                replace(stored.value, status=PatientStatus.MAINTENANCE),
                expected_version=stored.version,
                reason=f"{name} from cycle {cycle.number + 1} (decision {decision})",
            )
            nxt = _next_planned(record, enrolment.id, cycle.number)
            if nxt is not None:
                row = record.repos.cycles.get(nxt[0]).value
                record.repos.cycles.update(
                    nxt[0],
                    replace(row, phase=to),
                    expected_version=nxt[1],
                    reason=f"{name} from cycle {row.number} (decision {decision})",
                )
    return decision


def reject_proposal(
    record: Record,
    view: EndOfCycleView,
    *,
    decided_by: str,
    decided_on: date,
    today: date,
    reason: str,
) -> int:
    """Record that the proposal is rejected, with the reason; nothing else changes."""
    enrolment, cycle, proposal = _ready(view)
    _check_who_when(view, decided_by, decided_on, today)
    if not reason.strip():
        raise DomainError(
            "Say why the proposal is rejected: the reason is kept in the record.", field="reason"
        )
    assert enrolment.id is not None
    with record.transaction(reason=reason.strip()):
        _still_current(record, view)
        return record.repos.decisions.add(
            Decision(
                enrolment.id,
                DecisionKind.PHASE,
                decided_by.strip(),
                decided_on,
                _payload(cycle, proposal, False, cycle.phase),
                reason.strip(),
            ),
            reason=reason.strip(),
        )


def take_off_study(
    record: Record,
    patient_id: int,
    *,
    on: date,
    why: OffStudyReason,
    details: str,
    decided_by: str,
    today: date,
    cycle: int | None = None,
) -> int:
    """Take the patient's open enrolment off study on ``on``; returns the decision's id."""
    if not decided_by.strip():
        raise DomainError("Enter who made the decision.", field="decided_by")
    if not details.strip():
        raise DomainError("Say why the patient goes off study.", field="reason")
    if on > today:
        raise DomainError("The off-study date is in the future.", field="off_study_on")
    open_ = [
        e
        for e in record.repos.enrolments.for_patient(patient_id)
        if e.status is not PatientStatus.OFF_STUDY
    ]
    if not open_:
        raise DomainError("The patient has no open enrolment.", field="off_study_on")
    enrolment = open_[-1]
    assert enrolment.id is not None
    if on < enrolment.enrolled_on:
        raise DomainError(
            f"The off-study date is before the enrolment ({enrolment.enrolled_on}).",
            field="off_study_on",
        )
    with record.transaction(reason=details.strip()):
        stored = record.repos.enrolments.get(enrolment.id)
        if stored.voided or stored.value.status is PatientStatus.OFF_STUDY:
            # Another window took the patient off study meanwhile: keep its date and reason.
            raise StaleRecordError(
                f"Someone else took this patient off study (or voided the enrolment) just "
                f"now; {NOTHING_LOST}. Reopen the patient to see their entry."
            )
        record.repos.enrolments.update(
            enrolment.id,
            replace(
                stored.value,
                status=PatientStatus.OFF_STUDY,
                off_study_on=on,
                off_study_reason=OffStudyReason(why),
            ),
            expected_version=stored.version,
            reason=details.strip(),
        )
        return record.repos.decisions.add(
            Decision(
                enrolment.id,
                DecisionKind.OFF_STUDY,
                decided_by.strip(),
                on,
                {"reason": OffStudyReason(why).value, "cycle": cycle},
                details.strip(),
            )
        )


def elect_option(
    record: Record,
    view: EndOfCycleView,
    option_key: str,
    *,
    decided_by: str,
    decided_on: date,
    today: date,
    reason: str,
) -> int:
    """The investigator elects one of the protocol's options from the next cycle (never
    automatic): one ``option`` decision, and a planned next cycle elects it by key."""
    if view.proposal is None or view.cycle is None or view.enrolment is None:
        raise DomainError("There is no end-of-cycle proposal.", field="option")
    if view.protocol is None:
        raise DomainError("The patient's protocol is not loaded.", field="option")
    offered = {o.key for o in view.proposal.protocol_options()}
    option = next((o for o in view.protocol.options if o.key == option_key), None)
    if option is None or option_key not in offered:
        label = option.label if option is not None else option_key
        raise DomainError(
            f"The protocol does not offer {label} at the end of cycle {view.cycle.number}.",
            field="option",
        )
    _check_who_when(view, decided_by, decided_on, today)
    if not reason.strip():
        raise DomainError(f"Say why: {option.label}.", field="reason")
    enrolment, cycle, protocol = view.enrolment, view.cycle, view.protocol
    assert enrolment.id is not None
    with record.transaction(reason=reason.strip()):
        decision = record.repos.decisions.add(
            Decision(
                enrolment.id,
                DecisionKind.OPTION,
                decided_by.strip(),
                decided_on,
                option_payload(option, cycle.number, cycle.number + 1),
                reason.strip(),
            )
        )
        nxt = _next_planned(record, enrolment.id, cycle.number)
        if nxt is not None:
            row = record.repos.cycles.get(nxt[0]).value
            options = {**row.elected_options, **elected_entries(protocol, [option.key])}
            record.repos.cycles.update(
                nxt[0],
                replace(row, elected_options=options),
                expected_version=nxt[1],
                reason=f"{option.label} (decision {decision})",
            )
    return decision
