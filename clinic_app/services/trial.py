"""The trial board, built from the record: 3+3 escalation, enrolment and the endpoints.

What the investigator and the trial coordinator look at (issue 8). Nothing is stored here; every
figure is recomputed from the record on the day given. No Qt, no reportlab.

- **Escalation board** (rules §6): the engine's input is the one the enrolment service builds
  (:func:`clinic_app.services.enrolment.gather_context`), so the board and the enrolment dialog
  can never disagree about where the next patient goes. Each patient's DLT status is read from
  the DLT reviews: a proposal the investigator has not confirmed or rejected is *pending*.
- **Enrolment** (rules §1): live enrolments against each cap, the cap inconsistency note,
  patients in screening, patients taken off study before cycle 1 started, and the active /
  maintenance / off-study counts with the off-study reasons.
- **Endpoints** (rules §7): IMWG categories from :func:`clinic_app.core.response.classify_series`
  and rates, CIs and Kaplan-Meier estimates from :mod:`clinic_app.core.endpoints` and
  :mod:`clinic_app.core.survival`. How the record is read is spelled out in docs/cli-trial.md
  ("How the endpoints are read from the record").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date

from clinic_app.core.baselines import on_treatment, response_baseline, treatment_start
from clinic_app.core.cycles import CycleRow, CycleStatus
from clinic_app.core.decisions import DecisionKind, DltReview, EndpointKind
from clinic_app.core.endpoints import (
    DOR_LABEL,
    PFS_LABEL,
    TTNT_LABEL,
    EfficacyPatient,
    Exclusion,
    duration_of_response,
    progression_free_survival,
    response_rates,
    time_to_next_therapy,
)
from clinic_app.core.errors import DomainError
from clinic_app.core.escalation import (
    DltStatus,
    EscalationDecision,
    EscalationPatient,
    decide,
)
from clinic_app.core.ismp import format_number
from clinic_app.core.phase_decision import maintenance_phase
from clinic_app.core.protocol import Protocol
from clinic_app.core.records import (
    Enrolment,
    OffStudyReason,
    Patient,
    PatientStatus,
    ResponseAssessment,
)
from clinic_app.core.response import (
    AssessedResponse,
    ResponseCategory,
    best_confirmed,
    classify_series,
    confirmed_at,
    light_chain_of,
    met_twice,
)
from clinic_app.core.response import progression as imwg_progression
from clinic_app.core.survival import EventTime, kaplan_meier
from clinic_app.reports.trial_models import (
    BoardLevel,
    BoardPatient,
    CapLine,
    EndpointSummary,
    EnrolmentSummary,
    EscalationBoard,
    Excluded,
    OffBeforeTreatment,
    PatientResponse,
    SurvivalCurve,
    TrialOverview,
)
from clinic_app.services.enrolment import (
    dlt_status,
    escalation_design,
    gather_context,
    uses_escalation,
)
from clinic_app.storage.database import Record

# Candidate spacings (days) for the numbers-at-risk columns: the smallest that gives at most
# _MAX_AT_RISK_COLUMNS columns after day 0.
_AT_RISK_STEPS = (7, 14, 30, 60, 90, 180, 365, 730)
_MAX_AT_RISK_COLUMNS = 6


# -- escalation board --------------------------------------------------------------------------
def _dlt_text(evaluable: bool | None, dlt: DltStatus, reviews: Sequence[DltReview]) -> str:
    # The words follow the engine: "no DLT" counts only for a toxicity-evaluable patient.
    if dlt is DltStatus.YES:
        return "confirmed yes"
    if evaluable is False:
        return "not evaluable (replaced)"
    if dlt is DltStatus.NO and evaluable is True:
        return "confirmed no"
    if not reviews:
        return "pending: no DLT review recorded yet"
    if any(r.confirmed is None for r in reviews):
        return "pending: the proposal awaits the investigator"
    return "pending: toxicity evaluability not recorded"


def _level_doses(protocol: Protocol, level: int) -> str:
    try:
        dose_level = protocol.dose_level(level)
    except DomainError:
        return "not in the protocol"
    parts = []
    for key, dose in dose_level.doses.items():
        drug = protocol.drugs.get(key)
        name = drug.name if drug is not None else key
        unit = drug.basis.unit if drug is not None else ""
        parts.append(f"{name} {format_number(dose)} {unit}".strip())
    return ", ".join(parts)


def _escalation_patients(
    record: Record, protocol: Protocol, as_of: date | None
) -> tuple[EscalationPatient, ...]:
    if as_of is None:
        # The same engine input the enrolment service checks against (patient id 0: nobody
        # is being enrolled, so the "open enrolment" part of the context is not used).
        return gather_context(record, protocol, 0).escalation_patients
    # As gather_context builds it, from what was known on as_of.
    patients: list[EscalationPatient] = []
    for enrolment, _ in _enrolments_on(record, protocol, as_of):
        assert enrolment.id is not None
        if enrolment.dose_level is None:
            continue
        reviews = _reviews_as_of(record.repos.dlt_reviews.for_enrolment(enrolment.id), as_of)
        evaluable, dlt = dlt_status(reviews)
        patients.append(EscalationPatient(str(enrolment.id), enrolment.dose_level, evaluable, dlt))
    return tuple(patients)


def build_escalation_board(
    record: Record, protocol: Protocol, as_of: date | None = None
) -> EscalationBoard:
    """The 3+3 board of a protocol with an escalation design, from what the record knew on
    ``as_of`` (everything it holds when ``None``)."""
    design = escalation_design(protocol)
    if design is None:
        raise DomainError(f"{protocol.name} has no dose escalation.", field="protocol")
    escalation_patients = _escalation_patients(record, protocol, as_of)
    problem: str | None = None
    decision: EscalationDecision | None = None
    try:
        decision = decide(escalation_patients, design)
    except DomainError as exc:
        problem = f"The escalation record cannot be read: {exc.message}"

    repos = record.repos
    by_level: dict[int, list[BoardPatient]] = {level: [] for level in design.levels}
    for entry in escalation_patients:
        enrolment = repos.enrolments.get(int(entry.patient_id)).value
        patient = repos.patients.get(enrolment.patient_id).value
        reviews = _reviews_as_of(repos.dlt_reviews.for_enrolment(int(entry.patient_id)), as_of)
        by_level.setdefault(entry.level, []).append(
            BoardPatient(
                enrolment_id=int(entry.patient_id),
                patient_id=enrolment.patient_id,
                mrn=patient.mrn,
                full_name=patient.full_name,
                level=entry.level,
                enrolled_on=enrolment.enrolled_on,
                evaluable=entry.evaluable,
                dlt=entry.dlt,
                status_text=_dlt_text(entry.evaluable, entry.dlt, reviews),
                cohort=enrolment.cohort,
            )
        )
    levels: list[BoardLevel] = []
    if decision is not None:
        closed = {c.level: c.reason for c in decision.closed_levels}
        for row in decision.table:
            levels.append(
                BoardLevel(
                    level=row.level,
                    doses=_level_doses(protocol, row.level),
                    row=row,
                    closed_reason=closed.get(row.level),
                    patients=tuple(by_level.get(row.level, ())),
                )
            )
    return EscalationBoard(
        protocol_key=protocol.key,
        protocol_name=protocol.name,
        design=design,
        decision=decision,
        problem=problem,
        levels=tuple(levels),
        cap_note=protocol.caps.inconsistency or design.cap_inconsistency,
    )


# -- reading the record --------------------------------------------------------------------------
@dataclass(frozen=True)
class _Course:
    """One enrolment with what the endpoint rules read from the record."""

    enrolment: Enrolment
    patient: Patient
    cycles: tuple[CycleRow, ...]
    assessments: tuple[ResponseAssessment, ...]
    next_therapy_on: date | None
    death_on: date | None


def record_version(record: Record) -> str:
    """The record's state (storage's data version), as every printout shows it."""
    return record.data_version()


# -- the record as it stood on a day ---------------------------------------------------------------
# ``as_of=None`` reads everything the record holds. With a date, only what was dated on or before
# it counts: enrolments (enrolled on), cycles (started on), response assessments (assessed on),
# endpoint events (event on), DLT verdicts (reviewed on), off study and maintenance (their dates).
# What has no date to filter by is listed by :func:`undated_notes`, never silently guessed.


def _known(day: date | None, as_of: date | None) -> bool:
    return as_of is None or (day is not None and day <= as_of)


def _enrolments_on(
    record: Record, protocol: Protocol, as_of: date | None = None
) -> list[tuple[Enrolment, Patient]]:
    found: list[tuple[Enrolment, Patient]] = []
    maintenance = maintenance_phase(protocol.decision_params)
    for patient in record.repos.patients.all():
        assert patient.id is not None
        found.extend(
            (_enrolment_as_of(record, e, as_of, maintenance), patient)
            for e in record.repos.enrolments.for_patient(patient.id)
            if e.protocol == protocol.key and _known(e.enrolled_on, as_of)
        )
    return sorted(found, key=lambda pair: (pair[0].enrolled_on, pair[0].id or 0))


def _maintenance_since(
    record: Record, enrolment: Enrolment, maintenance: str | None
) -> date | None:
    """The first dated sign of maintenance (``maintenance``: the protocol's maintenance phase
    key): a maintenance cycle started, or the end-of-cycle decision moving the patient to
    maintenance. ``None`` when nothing dates it."""
    assert enrolment.id is not None
    days = [
        c.start_date
        for c in record.repos.cycles.for_enrolment(enrolment.id)
        if c.phase == maintenance and _started(c) and c.start_date is not None
    ]
    days.extend(
        d.decided_on
        for d in record.repos.decisions.for_enrolment(enrolment.id, DecisionKind.PHASE)
        if maintenance is not None and d.payload.get("to") == maintenance
    )
    return min(days, default=None)


def _enrolment_as_of(
    record: Record, enrolment: Enrolment, as_of: date | None, maintenance: str | None
) -> Enrolment:
    """The enrolment's status on ``as_of``: not yet off study, not yet in maintenance."""
    if as_of is None:
        return enrolment
    off_on = enrolment.off_study_on
    if enrolment.status is PatientStatus.OFF_STUDY and off_on is not None and off_on > as_of:
        # enrol() writes "active"; maintenance only when it is dated by then
        since = _maintenance_since(record, enrolment, maintenance)
        status = PatientStatus.MAINTENANCE if _known(since, as_of) else PatientStatus.ACTIVE
        return replace(enrolment, status=status, off_study_on=None, off_study_reason=None)
    if enrolment.status is PatientStatus.MAINTENANCE:
        since = _maintenance_since(record, enrolment, maintenance)
        if since is not None and since > as_of:
            return replace(enrolment, status=PatientStatus.ACTIVE)
        # undated maintenance stays as recorded; undated_notes says so
    return enrolment


def _completion_dated(
    cycle: CycleRow,
    cycles: Sequence[CycleRow],
    assessments: Sequence[ResponseAssessment],
    enrolment: Enrolment,
    as_of: date,
) -> bool:
    """Is a cycle marked completed shown completed by something dated on or before ``as_of``:
    a later cycle started, its end-of-cycle assessment, or the patient's off-study date?"""
    return (
        any(c.number > cycle.number and _started(c) and _known(c.start_date, as_of) for c in cycles)
        or any(a.end_of_cycle == cycle.number and a.assessed_on <= as_of for a in assessments)
        or _known(enrolment.off_study_on, as_of)
    )


def _cycles_as_of(
    cycles: Sequence[CycleRow],
    assessments: Sequence[ResponseAssessment],
    enrolment: Enrolment,
    as_of: date | None,
) -> tuple[CycleRow, ...]:
    """Cycles as they stood on ``as_of``: one started later was still planned; one marked
    completed with nothing dating the completion by then was still running (see
    :func:`undated_notes`)."""
    if as_of is None:
        return tuple(cycles)
    out: list[CycleRow] = []
    for cycle in cycles:
        if _started(cycle) and not _known(cycle.start_date, as_of):
            cycle = replace(cycle, status=CycleStatus.PLANNED, start_date=None)
        elif cycle.status is CycleStatus.COMPLETED and not _completion_dated(
            cycle, cycles, assessments, enrolment, as_of
        ):
            cycle = replace(cycle, status=CycleStatus.STARTED)
        out.append(cycle)
    return tuple(out)


def _undated_verdict(review: DltReview) -> bool:
    return review.reviewed_on is None and (
        review.confirmed is not None or review.evaluable is not None
    )


def _reviews_as_of(reviews: Sequence[DltReview], as_of: date | None) -> list[DltReview]:
    """DLT reviews known on ``as_of``. A verdict dated later was not known yet (the patient
    was pending then). An open proposal has no date and says only "pending", so it is kept;
    a verdict without a date is kept too, and named by :func:`undated_notes`."""
    if as_of is None:
        return list(reviews)
    return [r for r in reviews if r.reviewed_on is None or r.reviewed_on <= as_of]


def undated_notes(record: Record, protocol: Protocol, as_of: date | None) -> tuple[str, ...]:
    """What the record holds with no date to filter by on ``as_of``, and how it was read.

    Empty when ``as_of`` is ``None`` (the whole record is read as it stands).
    """
    if as_of is None:
        return ()
    notes: list[str] = []
    for enrolment, patient in _enrolments_on(record, protocol, as_of):
        assert enrolment.id is not None and patient.id is not None
        who = f"{patient.full_name} (MRN {patient.mrn})"
        if enrolment.status is PatientStatus.OFF_STUDY and enrolment.off_study_on is None:
            notes.append(f"{who} is off study with no off-study date: counted as off study")
        if (
            enrolment.status is PatientStatus.MAINTENANCE
            and _maintenance_since(record, enrolment, maintenance_phase(protocol.decision_params))
            is None
        ):
            notes.append(
                f"{who} is in maintenance with no maintenance cycle or decision to date it: "
                "counted as in maintenance"
            )
        for review in record.repos.dlt_reviews.for_enrolment(enrolment.id):
            if _undated_verdict(review):
                notes.append(
                    f"{who}: a DLT verdict has no review date: counted as the record holds it now"
                )
        cycles = record.repos.cycles.for_enrolment(enrolment.id)
        assessments = [
            a for a in record.repos.responses.for_patient(patient.id) if a.assessed_on <= as_of
        ]
        for cycle in cycles:
            if (
                cycle.status is CycleStatus.COMPLETED
                and _known(cycle.start_date, as_of)
                and not _completion_dated(cycle, cycles, assessments, enrolment, as_of)
            ):
                notes.append(
                    f"{who}: cycle {cycle.number} is marked completed, but no later cycle, "
                    "end-of-cycle assessment or off-study date by then dates the completion: "
                    "counted as still running"
                )
    return tuple(notes)


def build_enrolment_summary(
    record: Record,
    protocol: Protocol,
    board: EscalationBoard | None = None,
    as_of: date | None = None,
) -> EnrolmentSummary:
    """Enrolment against the caps and by status (rules §1), as the record stood on ``as_of``
    (pass the board built for the same day)."""
    pairs = _enrolments_on(record, protocol, as_of)
    caps: list[CapLine] = []
    decision = board.decision if board is not None else None
    if decision is not None and protocol.caps.escalation is not None:
        caps.append(
            CapLine("escalation", decision.caps.escalation_enrolled, protocol.caps.escalation)
        )
    if decision is not None and protocol.caps.expansion is not None:
        caps.append(CapLine("expansion", decision.caps.expansion_enrolled, protocol.caps.expansion))
    caps.append(CapLine("total", len(pairs), protocol.caps.total))

    counts = dict.fromkeys(PatientStatus, 0)
    reasons: dict[str, int] = {}
    before: list[OffBeforeTreatment] = []
    for enrolment, patient in pairs:
        counts[enrolment.status] += 1
        if enrolment.status is not PatientStatus.OFF_STUDY:
            continue
        reason = _reason_text(enrolment.off_study_reason)
        reasons[reason] = reasons.get(reason, 0) + 1
        assert enrolment.id is not None
        cycles = record.repos.cycles.for_enrolment(enrolment.id)
        started = [c for c in cycles if _started(c) and _known(c.start_date, as_of)]
        if not started:
            before.append(
                OffBeforeTreatment(patient.mrn, patient.full_name, enrolment.off_study_on, reason)
            )
    return EnrolmentSummary(
        protocol_key=protocol.key,
        protocol_name=protocol.name,
        caps=tuple(caps),
        cap_note=protocol.caps.inconsistency,
        screening=counts[PatientStatus.SCREENING],
        active=counts[PatientStatus.ACTIVE],
        maintenance=counts[PatientStatus.MAINTENANCE],
        off_study=counts[PatientStatus.OFF_STUDY],
        off_study_reasons=tuple(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
        off_before_treatment=tuple(before),
    )


def _reason_text(reason: OffStudyReason | None) -> str:
    return "reason not recorded" if reason is None else reason.value


def _started(cycle: CycleRow) -> bool:
    return cycle.start_date is not None and cycle.status in (
        CycleStatus.STARTED,
        CycleStatus.COMPLETED,
    )


def cycles_completed(cycles: Sequence[CycleRow], assessments: Sequence[ResponseAssessment]) -> int:
    """Cycles finished: marked completed, followed by a started cycle, or closed by an
    end-of-cycle assessment. A cycle still running, or stopped early, does not count."""
    started = {c.number for c in cycles if _started(c)}
    evaluated = {a.end_of_cycle for a in assessments if a.end_of_cycle is not None}
    done = 0
    for cycle in cycles:
        if not _started(cycle):
            continue
        later_started = any(n > cycle.number for n in started)
        if cycle.status is CycleStatus.COMPLETED or later_started or cycle.number in evaluated:
            done += 1
    return done


def _course(
    record: Record, enrolment: Enrolment, patient: Patient, as_of: date | None = None
) -> _Course:
    """One course as the record stood on ``as_of`` (``enrolment`` already read as of then)."""
    repos = record.repos
    assert enrolment.id is not None and patient.id is not None
    events = repos.endpoints.for_patient(patient.id)
    after = [e for e in events if e.event_on >= enrolment.enrolled_on and _known(e.event_on, as_of)]
    next_therapy = min(
        (e.event_on for e in after if e.kind is EndpointKind.NEXT_THERAPY), default=None
    )
    death = min((e.event_on for e in after if e.kind is EndpointKind.DEATH), default=None)
    if death is None and enrolment.off_study_reason is OffStudyReason.DEATH:
        death = enrolment.off_study_on
    assessments = [
        a for a in repos.responses.for_patient(patient.id) if _known(a.assessed_on, as_of)
    ]
    cycles = _cycles_as_of(repos.cycles.for_enrolment(enrolment.id), assessments, enrolment, as_of)
    return _Course(
        enrolment=enrolment,
        patient=patient,
        cycles=cycles,
        assessments=tuple(assessments),
        next_therapy_on=next_therapy,
        death_on=death,
    )


@dataclass(frozen=True)
class _Reading:
    """What the endpoint rules take from one course of treatment."""

    start_on: date | None
    results: tuple[AssessedResponse, ...]
    problem: str | None
    """Why no response could be assessed, when none could."""
    notes: tuple[str, ...]


def _read_responses(course: _Course) -> _Reading:
    # Cycle 1 day 1 and the IMWG baseline as the chart and the printouts read them.
    start = treatment_start(c for c in course.cycles if _started(c))
    if start is None:
        return _Reading(None, (), "not treated yet: cycle 1 has not started", ())
    baseline = response_baseline(course.assessments, start)
    if baseline is None:
        return _Reading(start, (), "no baseline response assessment on or before cycle 1 day 1", ())
    notes: list[str] = []
    later = on_treatment(course.assessments, start)
    if course.next_therapy_on is not None:
        # Assessments after the next therapy began measure that therapy, not this one.
        kept = [a for a in later if a.assessed_on <= course.next_therapy_on]
        if len(kept) < len(later):
            notes.append(
                f"{len(later) - len(kept)} assessment(s) after the next therapy "
                f"({course.next_therapy_on.isoformat()}) are not counted"
            )
        later = kept
    try:
        results = classify_series(baseline, later, light_chain=light_chain_of([course.enrolment]))
    except DomainError as exc:
        return _Reading(start, (), f"responses cannot be assessed: {exc.message}", tuple(notes))
    return _Reading(start, tuple(results), None, tuple(notes))


def _progression(
    course: _Course, results: Sequence[AssessedResponse], notes: list[str]
) -> date | None:
    """IMWG progression as core.response.progression reads it, with its note."""
    enrolment = course.enrolment
    found = imwg_progression(
        results,
        off_for_progression=enrolment.off_study_reason is OffStudyReason.PROGRESSION,
        off_study_on=enrolment.off_study_on,
    )
    if found.note is not None:
        notes.append(found.note)
    return found.on


def _last_assessment(results: Sequence[AssessedResponse]) -> date | None:
    return results[-1].assessment.assessed_on if results else None


def _last_follow_up(course: _Course, results: Sequence[AssessedResponse]) -> date | None:
    days = [d for d in (_last_assessment(results), course.enrolment.off_study_on) if d]
    days.extend(c.start_date for c in course.cycles if c.start_date is not None)
    if course.death_on is not None:
        days.append(course.death_on)
    return max(days, default=None)


def at_risk_times(max_days: int) -> tuple[int, ...]:
    """Day 0 and evenly spaced days for the numbers-at-risk table, up to ``max_days``.

    >>> at_risk_times(200)  # 200 // 30 = 6 columns after day 0
    (0, 30, 60, 90, 120, 150, 180)
    >>> at_risk_times(400)  # 400 // 60 = 6
    (0, 60, 120, 180, 240, 300, 360)
    >>> at_risk_times(0)
    (0,)
    """
    step = next(
        (s for s in _AT_RISK_STEPS if max_days // s <= _MAX_AT_RISK_COLUMNS), _AT_RISK_STEPS[-1]
    )
    return tuple(range(0, max_days + 1, step))


def _curve(
    key: str, label: str, origin: str, times: Sequence[EventTime], excluded: Sequence[Excluded]
) -> SurvivalCurve:
    if not times:
        return SurvivalCurve(key, label, origin, None, (), (), tuple(excluded))
    km = kaplan_meier(times)
    ticks = at_risk_times(max(t.time_days for t in times))
    return SurvivalCurve(key, label, origin, km, ticks, km.at_risk_at(ticks), tuple(excluded))


def build_endpoints(
    record: Record, protocol: Protocol, as_of: date | None = None
) -> EndpointSummary:
    """Response rates, best responses and the three Kaplan-Meier curves (rules §7), from what
    the record knew on ``as_of``: follow-up ends on that day at the latest.

    The rates and curves follow the protocol's ``[endpoints]`` definitions; a protocol without
    them has none (the patients' IMWG responses are still listed)."""
    definitions = protocol.endpoints
    initial_cycle = None if definitions is None else definitions.initial_response_cycle
    efficacy: list[EfficacyPatient] = []
    rows: list[PatientResponse] = []
    problems: dict[str, str] = {}
    unconfirmed_reasons: dict[str, str] = {}
    initial_reasons: dict[str, str] = {}
    pfs: list[EventTime] = []
    dor: list[EventTime] = []
    ttnt: list[EventTime] = []
    left_out: dict[str, list[Excluded]] = {"pfs": [], "dor": [], "ttnt": []}
    names: dict[str, tuple[str, str]] = {}

    for enrolment, patient in _enrolments_on(record, protocol, as_of):
        course = _course(record, enrolment, patient, as_of)
        assert enrolment.id is not None and patient.id is not None
        key = str(enrolment.id)
        names[key] = (patient.mrn, patient.full_name)
        reading = _read_responses(course)
        notes = list(reading.notes)
        results = reading.results
        done = cycles_completed(course.cycles, course.assessments)

        index_initial = next(
            (
                i
                for i, r in enumerate(results)
                if initial_cycle is not None and r.assessment.end_of_cycle == initial_cycle
            ),
            None,
        )
        initial = None if index_initial is None else results[index_initial]
        best = best_confirmed(results)
        seen = min((r.category for r in results if r.evaluable), key=lambda c: c.rank, default=None)
        unconfirmed = seen if seen is not None and (best is None or seen.rank < best.rank) else None
        start = reading.start_on
        progression = None if start is None else _progression(course, results, notes)
        if best is None and reading.problem is None and progression is not None:
            # Off study for progression after a single PD (or none assessed): the PFS curve
            # counts the progression, so the rates count a non-responder, never leave the
            # patient out of the denominator (that raised the ORR, e.g. 11/11 for 11/12).
            best = ResponseCategory.PD
        if reading.problem is not None:
            problems[key] = reading.problem
        elif best is None and definitions is not None and done >= definitions.efficacy_min_cycles:
            # IMWG: a category needs two consecutive assessments; one is not enough
            seen_text = f" (seen once: {seen.value})" if seen is not None else ""
            unconfirmed_reasons[key] = (
                f"no response confirmed on two consecutive assessments yet{seen_text}"
            )
        if initial is not None and not initial.evaluable:
            # IMWG: "not evaluable" is no category; the initial rate leaves the patient out.
            initial_reasons[key] = (
                f"assessment closing cycle {initial_cycle} {initial.explanation} (left out of "
                "the initial response rate)"
            )
        efficacy.append(
            EfficacyPatient(
                key,
                done,
                None if initial is None or not initial.evaluable else initial.category.value,
                None if best is None else best.value,
            )
        )

        if definitions is None:
            pass  # no endpoints defined: no time-to-event curves
        elif start is None:
            for name in left_out:
                left_out[name].append(
                    Excluded(patient.mrn, patient.full_name, reading.problem or "")
                )
        else:
            last = _last_assessment(results)
            try:
                pfs.append(progression_free_survival(start, last, progression, course.death_on))
            except DomainError as exc:
                left_out["pfs"].append(Excluded(patient.mrn, patient.full_name, exc.message))
            try:
                ttnt.append(
                    time_to_next_therapy(
                        start, _last_follow_up(course, results), course.next_therapy_on
                    )
                )
            except DomainError as exc:
                left_out["ttnt"].append(Excluded(patient.mrn, patient.full_name, exc.message))
            # first of two consecutive PR-or-better assessments
            responses = [on for cat, on in met_twice(results) if cat.is_pr_or_better]
            if not responses:
                left_out["dor"].append(
                    Excluded(patient.mrn, patient.full_name, "no confirmed response (PR or better)")
                )
            else:
                try:
                    dor.append(duration_of_response(responses[0], last, progression))
                except DomainError as exc:
                    left_out["dor"].append(Excluded(patient.mrn, patient.full_name, exc.message))

        rows.append(
            PatientResponse(
                enrolment_id=enrolment.id,
                patient_id=patient.id,
                mrn=patient.mrn,
                full_name=patient.full_name,
                dose_level=enrolment.dose_level,
                cycles_completed=done,
                initial_response=None if initial is None else initial.category,
                initial_response_confirmed=index_initial is not None
                and confirmed_at(results, index_initial),
                best_response=best,
                best_unconfirmed=unconfirmed,
                notes=tuple(notes),
            )
        )

    if definitions is None:
        return EndpointSummary(
            protocol_key=protocol.key,
            protocol_name=protocol.name,
            definitions=None,
            rates=None,
            patients=tuple(rows),
            not_evaluable=(),
            curves=(),
        )
    rates = response_rates(efficacy, definitions)
    not_evaluable = []
    for item in rates.not_evaluable:
        mrn, name = names[item.patient_id]
        reason = item.reason
        if item.patient_id in problems and item.why is not Exclusion.TOO_FEW_CYCLES:
            reason = problems[item.patient_id]  # the cause behind both missing categories
        elif item.patient_id in unconfirmed_reasons and item.why is Exclusion.NO_BEST_RESPONSE:
            reason = f"{unconfirmed_reasons[item.patient_id]}: left out of both overall rates"
        elif item.patient_id in initial_reasons and item.why is Exclusion.NO_INITIAL_RESPONSE:
            reason = initial_reasons[item.patient_id]
        not_evaluable.append(Excluded(mrn, name, reason))
    curves = (
        _curve("pfs", PFS_LABEL, "from the start of therapy (cycle 1 day 1)", pfs, left_out["pfs"]),
        _curve("dor", DOR_LABEL, "from the first confirmed response", dor, left_out["dor"]),
        _curve(
            "ttnt", TTNT_LABEL, "from the start of therapy (cycle 1 day 1)", ttnt, left_out["ttnt"]
        ),
    )
    return EndpointSummary(
        protocol_key=protocol.key,
        protocol_name=protocol.name,
        definitions=definitions,
        rates=rates,
        patients=tuple(rows),
        not_evaluable=_dedupe(not_evaluable),
        curves=curves,
    )


def _dedupe(items: Sequence[Excluded]) -> tuple[Excluded, ...]:
    seen: set[Excluded] = set()
    out: list[Excluded] = []
    for item in items:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return tuple(out)


def build_overview(record: Record, protocol: Protocol, as_of: date) -> TrialOverview:
    """The whole trial board of one protocol from what the record knew on ``as_of``.

    Only entries dated on or before ``as_of`` count (see "Data as of a date" in
    docs/cli-trial.md); anything with no date to filter by is listed in ``undated``.
    """
    board = build_escalation_board(record, protocol, as_of) if uses_escalation(protocol) else None
    return TrialOverview(
        as_of=as_of,
        record_version=record_version(record),
        board=board,
        enrolment=build_enrolment_summary(record, protocol, board, as_of),
        endpoints=build_endpoints(record, protocol, as_of),
        protocol_key=protocol.key,
        protocol_name=protocol.name,
        undated=undated_notes(record, protocol, as_of),
    )
