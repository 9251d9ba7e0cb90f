"""The computed state of each patient: the patient list, the Today view and one patient's summary.

Everything here is derived from the record on a given ``today``; nothing is stored. The list
and the Today view read the whole record through a few set-based queries
(:mod:`clinic_app.storage.queries`), so they stay fast for 10,000 patients.

Definitions (docs/data-format.md repeats them for the GUI):

- *current cycle*: the highest-numbered cycle of the patient's latest enrolment that has
  started; its *day* is ``today - day 1 + 1`` (rules §1), ``None`` before day 1, without a
  started cycle, or off study.
- *grade >= 3 toxicity this cycle*: an adverse event of CTCAE grade 3 or more that began by
  today and was not resolved before the current cycle started, or a lab value in the current
  cycle whose CTCAE grade is certainly 3 or more, graded against the pre-treatment baseline
  (``core.baselines.lab_baseline``) as the chart and the toxicity summary grade it.
- *pending DLT review*: a DLT review with no investigator confirmation yet, or (protocols
  with a ``[dlt]`` table) a DLT window that has ended with no review recorded.
- *BSA recheck*: the latest weight differs from the weight behind the last recorded BSA by the
  protocol's ``weight_change_pct`` or more (rules §2).
- *overdue labs*: a protocol lab day of the current cycle has passed with no lab result
  collected between ``lab_max_age_days`` before it and the day before the next lab day.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from clinic_app.core.ae_terms import dlt_categories
from clinic_app.core.baselines import (
    baseline_in_unit,
    entry_count,
    lab_baseline,
    on_treatment,
    response_baseline,
    treatment_start,
)
from clinic_app.core.ctcae import (
    BASELINE,
    SEVERE_GRADE,
    GradingTable,
    LabGrade,
    default_grading_table,
    grade_lab,
)
from clinic_app.core.cycles import CycleRow
from clinic_app.core.dlt import Cycle1DoseReduction, DltInputs, DltProposal, propose_dlt
from clinic_app.core.dosing import weight_change
from clinic_app.core.errors import DomainError, MissingDataError, ProtocolError
from clinic_app.core.ismp import format_number
from clinic_app.core.options import elected_so_far
from clinic_app.core.phase_decision import (
    PhaseDecisionParams,
    PhaseProposal,
    propose_next_step,
)
from clinic_app.core.protocol import Protocol
from clinic_app.core.records import (
    AdverseEvent,
    DoseStatus,
    Enrolment,
    LabResult,
    OffStudyReason,
    Patient,
    PatientStatus,
    ReductionCause,
    ResponseAssessment,
)
from clinic_app.core.response import AssessedResponse, classify_series, light_chain_of
from clinic_app.services.context import record_protocols
from clinic_app.services.patient_rows import DueItem, DueKind, PatientRow
from clinic_app.storage import queries
from clinic_app.storage.database import Record


def _day(text: Any) -> date | None:
    return None if text is None else date.fromisoformat(str(text))


def _collected_on(text: Any) -> date:
    return datetime.fromisoformat(str(text)).date()


def _cycle_day(start: date | None, today: date, status: PatientStatus | None) -> int | None:
    # Rules §1: day d of a cycle falls on start + (d - 1), so today is day (today - start) + 1.
    if start is None or status is PatientStatus.OFF_STUDY or start > today:
        return None
    return (today - start).days + 1


def _status(text: Any) -> PatientStatus | None:
    return None if text is None else PatientStatus(text)


def lab_days(protocol: Protocol, cycle: int, phase: str) -> tuple[int, ...]:
    """The cycle days the protocol asks for blood tests in this cycle and phase."""
    days = {
        d
        for event in protocol.monitoring
        if event.kind == "labs" and event.applies(cycle, phase)
        for d in event.days
    }
    return tuple(sorted(days))


def overdue_lab_days(
    protocol: Protocol, cycle: int, phase: str, start: date, collected: Iterable[date], today: date
) -> list[date]:
    """Lab days of this cycle that have passed with no lab result collected for them.

    A lab day is covered by a result collected from ``lab_max_age_days`` before it (rules §2:
    older labs count as missing) up to the day before the next lab day (a late draw still
    covers it). Today's lab day is due, not overdue.
    """
    max_age = timedelta(days=protocol.settings.lab_max_age_days)
    dates = [start + timedelta(days=d - 1) for d in lab_days(protocol, cycle, phase)]
    seen = sorted(collected)
    overdue: list[date] = []
    for index, lab_day in enumerate(dates):
        if lab_day >= today:
            break
        nxt = dates[index + 1] - timedelta(days=1) if index + 1 < len(dates) else today
        first, last = lab_day - max_age, min(nxt, today)
        if not any(first <= on <= last for on in seen):
            overdue.append(lab_day)
    return overdue


def _dlt_settings(protocol: Protocol) -> tuple[int, int] | None:
    """(DLT cycle, window days) for a protocol with DLT rules, else None (rules §5: cycle 1)."""
    if protocol.dlt_criteria is None:
        return None
    return 1, protocol.dlt_criteria.window_days


def _baseline_tests(table: GradingTable) -> tuple[str, ...]:
    """The tests whose CTCAE grade can depend on the patient's baseline value."""
    return tuple(
        sorted(
            {
                rule.test
                for rule in table.terms
                for c in rule.criteria
                if c.baseline is not None or (c.bound is not None and c.bound.reference == BASELINE)
            }
        )
    )


def _baselines(
    record: Record, table: GradingTable, patient_id: int | None
) -> dict[tuple[int, str], LabResult]:
    """(patient, test) -> pre-treatment result, for every listed patient in one query."""
    found: dict[tuple[int, str], LabResult] = {}
    for row in queries.baseline_labs_for_current_enrolment(
        record, _baseline_tests(table), patient_id
    ):
        candidate = record.repos.labs.decode(row)
        # The query picks the candidate; core.baselines.lab_baseline is still the one
        # definition of it.
        chosen = lab_baseline([candidate], candidate.test, _day(row["first_start"]))
        if chosen is not None:
            found[int(row["patient_id"]), chosen.test] = chosen
    return found


def list_patient_rows(
    record: Record,
    today: date,
    protocols: Mapping[str, Protocol] | None = None,
    *,
    patient_id: int | None = None,
) -> list[PatientRow]:
    """Every live patient with status and flags, ordered by family then given name
    (only ``patient_id``'s row when it is given)."""
    protocols = record_protocols(record) if protocols is None else protocols
    pid_only = patient_id
    overview = queries.patient_overview(record, pid_only)
    notes: dict[int, list[str]] = defaultdict(list)

    severe: set[int] = set()
    for ae in queries.severe_adverse_events_in_current_cycle(record, SEVERE_GRADE, today, pid_only):
        pid = int(ae["patient_id"])
        severe.add(pid)
        notes[pid].append(f"Grade {ae['grade']} {ae['term']} (onset {ae['onset']}).")

    from clinic_app.storage.checkout.guard import checked_out_patients, describe

    away = {pid: describe(item) for pid, item in checked_out_patients(record).items()}
    by_id = {int(r["patient_id"]): r for r in overview}
    max_age = max((p.settings.lab_max_age_days for p in protocols.values()), default=0)
    collected: dict[int, list[date]] = defaultdict(list)
    table = default_grading_table()
    baselines = _baselines(record, table, pid_only)
    grades: dict[tuple[Any, ...], LabGrade] = {}
    for lab in queries.labs_since_current_cycle(record, max_age, pid_only):
        pid = int(lab["patient_id"])
        on = _collected_on(lab["collected_at"])
        collected[pid].append(on)
        start = _day(by_id[pid]["cycle_start"]) if pid in by_id else None
        if start is None or not start <= on <= today or not table.terms_for(lab["test"]):
            continue
        baseline = baselines.get((pid, lab["test"]))
        try:
            # CTCAE v5.0 grades creatinine (> 3.0 x baseline is grade 3) and ALT, AST and
            # bilirubin (against an abnormal baseline) with the pre-treatment value, as the
            # chart and the toxicity summary do.
            base = (
                None
                if baseline is None
                else baseline_in_unit(baseline, record.repos.labs.decode(lab))
            )
        except DomainError as exc:
            notes[pid].append(f"Lab of {on} not graded: {exc.message}")
            continue
        # CTCAE clinical facts recorded with the result (hypercalcaemia with hospitalisation
        # indicated is grade 3).
        facts = record.repos.labs.decode(lab).facts
        # The grade is a pure function of these values, which repeat across patients.
        key = (lab["test"], lab["value"], lab["unit"], lab["lln"], lab["uln"], base, facts)
        graded = grades.get(key)
        if graded is None:
            try:
                graded = grade_lab(
                    lab["test"],
                    Decimal(lab["value"]),
                    lab["unit"],
                    None if lab["lln"] is None else Decimal(lab["lln"]),
                    None if lab["uln"] is None else Decimal(lab["uln"]),
                    base,
                    table=table,
                    facts=dict(facts),
                )
            except DomainError as exc:
                notes[pid].append(f"Lab of {on} not graded: {exc.message}")
                continue
            grades[key] = graded
        if graded.severe:
            severe.add(pid)
            notes[pid].append(f"{graded.term} grade {graded.lowest_grade} on {on}.")

    recheck: set[int] = set()
    for w in queries.weights_for_bsa_check(record, pid_only):
        pid = int(w["patient_id"])
        row = by_id.get(pid)
        protocol = protocols.get(row["protocol"]) if row is not None else None
        if protocol is None:
            continue
        try:
            change = weight_change(
                Decimal(w["bsa_weight_kg"]),
                Decimal(w["latest_weight_kg"]),
                protocol.settings.weight_change_pct,
            )
        except DomainError as exc:
            notes[pid].append(f"BSA recheck not assessed: {exc.message}")
            continue
        if change.needs_recalculation:
            recheck.add(pid)
            notes[pid].append(
                f"{change.describe()} (BSA {w['bsa_m2']} m² of cycle {w['bsa_cycle']}, "
                f"weight of {w['bsa_measured_on']}; latest weight {w['latest_measured_on']})"
            )

    dlt_pending: set[int] = set()
    for cycle_no in sorted({s[0] for p in protocols.values() if (s := _dlt_settings(p))}):
        for r in queries.dlt_review_state(record, cycle_no, pid_only):
            protocol = protocols.get(r["protocol"])
            settings = _dlt_settings(protocol) if protocol is not None else None
            if settings is None or settings[0] != cycle_no:
                continue
            pid = int(r["patient_id"])
            window_end = date.fromisoformat(r["dlt_cycle_start"]) + timedelta(days=settings[1])
            if int(r["unconfirmed"]):
                dlt_pending.add(pid)
                notes[pid].append("A DLT proposal awaits the investigator's confirmation.")
            elif not int(r["reviews"]) and today >= window_end:
                dlt_pending.add(pid)
                notes[pid].append(
                    f"The cycle-{cycle_no} DLT window ended on {window_end - timedelta(days=1)}"
                    " and no DLT review is recorded."
                )

    rows: list[PatientRow] = []
    for r in overview:
        pid = int(r["patient_id"])
        key = r["protocol"]
        protocol = protocols.get(key) if key is not None else None
        status = _status(r["enrolment_status"])
        start = _day(r["cycle_start"])
        cycle = r["cycle_number"]
        phase = None if r["cycle_phase"] is None else str(r["cycle_phase"])
        late: list[date] = []
        if key is not None and protocol is None:
            notes[pid].append(f"Protocol {key!r} is not loaded: its schedule is unknown.")
        if (
            protocol is not None
            and start is not None
            and phase is not None
            and status is not PatientStatus.OFF_STUDY
        ):
            late = overdue_lab_days(protocol, int(cycle), phase, start, collected[pid], today)
            if late:
                days = ", ".join(f"day {(d - start).days + 1} ({d})" for d in late)
                notes[pid].append(f"Labs overdue in cycle {cycle}: {days}.")
        level = r["cycle_dose_level"] if r["cycle_dose_level"] is not None else None
        if level is None:
            level = r["enrolment_dose_level"]
        rows.append(
            PatientRow(
                patient_id=pid,
                mrn=r["mrn"],
                family_name=r["family_name"],
                given_name=r["given_name"],
                date_of_birth=date.fromisoformat(r["date_of_birth"]),
                protocol_key=key,
                protocol_name=protocol.name if protocol is not None else key,
                phase=phase,
                status=status,
                cycle=cycle,
                day=_cycle_day(start, today, status),
                dose_level=level,
                severe_toxicity=pid in severe,
                dlt_review_pending=pid in dlt_pending,
                bsa_recheck=pid in recheck,
                overdue_labs=bool(late),
                notes=tuple(notes.get(pid, ()))
                + ((f"{away[pid][0].upper()}{away[pid][1:]}.",) if pid in away else ()),
                checked_out=away.get(pid),
            )
        )
    return rows


def _drug_text(protocol: Protocol | None, drug: str, dose_mg: Any, route: str | None) -> str:
    name = protocol.drugs[drug].name if protocol and drug in protocol.drugs else drug
    return f"{name} {format_number(Decimal(dose_mg))} mg {route or ''}".strip()


def _is_iv(protocol: Protocol | None, drug: str, route: str | None) -> bool:
    """The clinic gives this dose (the protocol file's ``given_in_clinic`` for the route)."""
    if protocol is None or drug not in protocol.drugs:
        return False
    spec = protocol.drugs[drug]
    if route is not None:
        return route in {r.value for r in spec.clinic_routes}
    # No route recorded: in clinic only when every route of the drug is given in clinic.
    return bool(spec.clinic_routes) and set(spec.routes) <= set(spec.clinic_routes)


def due_today(
    record: Record, today: date, protocols: Mapping[str, Protocol] | None = None
) -> list[DueItem]:
    """What is due today, per patient: cycle starts (and overdue ones), lab days, end-of-cycle
    evaluations and IV doses. Ordered by patient name, then kind."""
    protocols = record_protocols(record) if protocols is None else protocols
    overview = {int(r["patient_id"]): r for r in queries.patient_overview(record)}
    items: list[DueItem] = []

    def add(pid: int, kind: DueKind, what: str, why: str, cycle: Any, day: Any) -> None:
        r = overview[pid]
        full_name = f"{r['given_name']} {r['family_name']}".strip()
        items.append(DueItem(pid, r["mrn"], full_name, kind, what, why, cycle, day))

    for c in queries.planned_cycles_due(record, today):
        pid, planned = int(c["patient_id"]), date.fromisoformat(c["planned_start"])
        protocol = protocols.get(c["protocol"])
        name = protocol.name if protocol is not None else c["protocol"]
        if planned == today:
            add(
                pid,
                DueKind.CYCLE_START,
                f"Start {name} cycle {c['cycle_number']} (day 1)",
                f"Cycle {c['cycle_number']} is planned to start today.",
                c["cycle_number"],
                1,
            )
        else:
            late = (today - planned).days
            add(
                pid,
                DueKind.OVERDUE_CYCLE_START,
                f"{name} cycle {c['cycle_number']} has not started",
                f"It was planned for {planned} ({late} day{'s' if late != 1 else ''} ago) "
                "and no start is recorded: start it, or record the delay and its reason.",
                c["cycle_number"],
                None,
            )

    for pid, r in overview.items():
        protocol = protocols.get(r["protocol"]) if r["protocol"] is not None else None
        status = _status(r["enrolment_status"])
        start = _day(r["cycle_start"])
        if protocol is None or start is None or r["cycle_phase"] is None:
            continue
        day = _cycle_day(start, today, status)
        if day is None or day > protocol.cycle_length(str(r["cycle_phase"])):
            continue
        cycle = int(r["cycle_number"])
        for event in protocol.monitoring:
            if not event.applies(cycle, r["cycle_phase"]) or day not in event.days:
                continue
            if event.kind == "labs":
                add(
                    pid,
                    DueKind.LAB_DAY,
                    event.label,
                    f"Cycle {cycle} day {day} is a protocol lab day.",
                    cycle,
                    day,
                )
            elif event.kind == "evaluation":
                add(
                    pid,
                    DueKind.EVALUATION,
                    event.label,
                    f"Cycle {cycle} day {day} ends the cycle.",
                    cycle,
                    day,
                )

    for d in queries.planned_doses_on(record, today):
        pid = int(d["patient_id"])
        protocol = protocols.get(d["protocol"])
        if not _is_iv(protocol, d["drug"], d["route"]):
            continue
        add(
            pid,
            DueKind.IV_DOSE,
            _drug_text(protocol, d["drug"], d["dose_mg"], d["route"]),
            f"Planned for cycle {d['cycle_number']} day {d['day']}, given in clinic.",
            d["cycle_number"],
            d["day"],
        )

    order = list(DueKind)
    items.sort(
        key=lambda i: (
            overview[i.patient_id]["family_name"],
            overview[i.patient_id]["given_name"],
            i.patient_id,
            order.index(i.kind),
        )
    )
    return items


# --- one patient's summary ----------------------------------------------------------------


@dataclass(frozen=True)
class CycleSummary:
    number: int
    phase: str
    status: str
    planned_start: date
    start_date: date | None
    end_date: date | None
    """The last day of a started cycle: ``start + length - 1``, the length of the cycle's own
    phase; ``None`` before it starts, or when the protocol is not loaded (no length is
    guessed: ``missing`` says the protocol is unknown)."""
    delay_days: int
    delay_reason: str | None
    dose_level: int | None
    doses_planned: int
    doses_given: int
    doses_held: int
    """Held or missed."""
    held: tuple[str, ...]
    """One line per held or missed dose: day, drug, dose and reason."""


@dataclass(frozen=True)
class WorstLabGrade:
    """The worst CTCAE grade of one term over the enrolment, and the result behind it."""

    term: str
    grade: int | None
    """``None`` when the value alone cannot settle it (see ``lowest_grade`` and ``missing``)."""
    lowest_grade: int
    collected_on: date
    explanation: str
    missing: tuple[str, ...] = ()


@dataclass(frozen=True)
class ResponseLine:
    assessed_on: date
    end_of_cycle: int | None
    category: str
    confirmed: bool
    explanation: str
    limited_by: tuple[str, ...] = ()
    """Why a better category could not be assessed (core.response computes it)."""


@dataclass(frozen=True)
class PatientSummary:
    """The computed state of one patient on ``today``; what could not be computed is in
    ``missing``, never guessed."""

    patient: Patient
    today: date
    protocol_key: str | None
    protocol_name: str | None
    enrolment: Enrolment | None
    phase: str | None
    status: PatientStatus | None
    dose_level: int | None
    cycle: int | None
    day: int | None
    cycles: tuple[CycleSummary, ...]
    worst_lab_grades: tuple[WorstLabGrade, ...]
    adverse_events: tuple[AdverseEvent, ...]
    responses: tuple[ResponseLine, ...]
    dlt: DltProposal | None
    next_step: PhaseProposal | None
    flags: tuple[str, ...]
    """The patient list's notes for this patient (toxicity, labs, BSA, DLT review)."""
    missing: tuple[str, ...]
    decision_missing: tuple[str, ...] = ()
    """The part of ``missing`` the end-of-cycle decision rests on (response, baseline, next
    step), so that the decision panel selects by data, not by the words of each item."""
    dlt_missing: tuple[str, ...] = ()
    """The part of ``missing`` the DLT proposal rests on."""


def _decision_params(protocol: Protocol) -> PhaseDecisionParams:
    if protocol.decision_params is None:
        raise MissingDataError(f"{protocol.name} has no end-of-cycle decision rules ([decisions]).")
    return protocol.decision_params


def _cycle_summaries(
    record: Record, cycles: list[CycleRow], protocol: Protocol | None
) -> tuple[CycleSummary, ...]:
    out: list[CycleSummary] = []
    for c in cycles:
        assert c.id is not None
        doses = record.repos.doses.for_cycle(c.id)
        held = [d for d in doses if d.status in (DoseStatus.HELD, DoseStatus.MISSED)]
        out.append(
            CycleSummary(
                number=c.number,
                phase=c.phase,
                status=c.status.value,
                planned_start=c.planned_start,
                start_date=c.start_date,
                # Rules §1: day d falls on start + (d - 1), so the last day is start + length - 1.
                end_date=None
                if c.start_date is None or protocol is None
                else c.start_date + timedelta(days=protocol.cycle_length(c.phase) - 1),
                delay_days=c.delay_days,
                delay_reason=c.delay_reason,
                dose_level=c.dose_level,
                doses_planned=sum(d.status is DoseStatus.PLANNED for d in doses),
                doses_given=sum(d.status is DoseStatus.GIVEN for d in doses),
                doses_held=len(held),
                held=tuple(
                    f"day {d.day} {d.drug} {format_number(d.dose_mg)} mg {d.status.value}"
                    + (f": {d.reason}" if d.reason else "")
                    for d in held
                ),
            )
        )
    return tuple(out)


def _worst_lab_grades(
    labs: list[LabResult],
    missing: list[str],
    all_labs: list[LabResult] | None = None,
    first_day: date | None = None,
) -> tuple[WorstLabGrade, ...]:
    table = default_grading_table()
    worst: dict[str, WorstLabGrade] = {}
    history = labs if all_labs is None else all_labs
    for lab in labs:
        if not table.terms_for(lab.test):
            continue
        try:
            base = baseline_in_unit(lab_baseline(history, lab.test, first_day), lab)
            g = grade_lab(
                lab.test,
                lab.value,
                lab.unit,
                lab.lln,
                lab.uln,
                base,
                table=table,
                facts=lab.fact_map,  # CTCAE clinical facts recorded with the result
            )
        except DomainError as exc:
            missing.append(f"lab {lab.test} of {lab.collected_on} not graded: {exc.message}")
            continue
        if g.lowest_grade == 0 and g.grade == 0:
            continue
        line = WorstLabGrade(
            g.term, g.grade, g.lowest_grade, lab.collected_on, g.explanation, g.missing
        )
        current = worst.get(g.term)
        # The grade the value certainly supports decides; an ungraded result (missing LLN/ULN)
        # never hides a graded one with the same lowest grade.
        if current is None or (g.lowest_grade, g.grade is not None) > (
            current.lowest_grade,
            current.grade is not None,
        ):
            worst[g.term] = line
    return tuple(sorted(worst.values(), key=lambda w: (-w.lowest_grade, w.term)))


def _responses(
    assessments: list[ResponseAssessment],
    first_day: date | None,
    missing: list[str],
    enrolments: Sequence[Enrolment] = (),
) -> list[AssessedResponse]:
    if not assessments:
        missing.append("response assessments: none recorded")
        return []
    if first_day is None:
        missing.append("response: no cycle has started, so there is no baseline to compare with")
        return []
    baseline = response_baseline(assessments, first_day)
    if baseline is None:
        missing.append(
            f"baseline response assessment (on or before cycle 1 day 1, {first_day}): "
            "response cannot be classified without it"
        )
        return []
    later = on_treatment(assessments, first_day)
    try:
        # The involved light chain says which way up the FLC ratio is read (sCR).
        return classify_series(baseline, later, light_chain=light_chain_of(enrolments))
    except DomainError as exc:
        missing.append(f"response not classified: {exc.message}")
        return []


def _dlt_proposal(
    record: Record,
    protocol: Protocol,
    enrolment: Enrolment,
    cycles: list[CycleRow],
    labs: list[LabResult],
    aes: list[AdverseEvent],
    baseline_marrow: Decimal | None,
    today: date,
    missing: list[str],
) -> DltProposal | None:
    settings = _dlt_settings(protocol)
    if settings is None:
        return None
    dlt_cycle, window = settings
    first = next((c for c in cycles if c.number == dlt_cycle and c.start_date), None)
    if first is None or first.start_date is None or first.start_date > today:
        missing.append(f"DLT: cycle {dlt_cycle} has not started, so there is nothing to assess")
        return None
    start = first.start_date
    assert first.id is not None and enrolment.id is not None
    nxt = next((c for c in cycles if c.number == dlt_cycle + 1), None)
    c2_actual = nxt.start_date if nxt is not None and nxt.start_date is not None else None
    if c2_actual is not None and c2_actual > today:
        c2_actual = None

    pid = enrolment.patient_id
    reductions = [
        m
        for m in record.repos.modifications.for_enrolment(enrolment.id)
        if start <= m.decided_on < start + timedelta(days=window)
    ]
    for_toxicity: list[Cycle1DoseReduction] = []
    for m in reductions:
        # Clinical rules §5: a cycle-1 reduction counts by the toxicity it was for.
        if m.cause is None:
            missing.append(
                f"DLT: the {m.drug} reduction of {m.decided_on} is not assessed as a DLT item: "
                "the record does not say whether it was for haematological toxicity"
            )
        elif m.cause is not ReductionCause.NOT_TOXICITY:
            drug = protocol.drugs.get(m.drug)
            for_toxicity.append(
                Cycle1DoseReduction(
                    m,
                    haematological=m.cause is ReductionCause.HAEMATOLOGICAL,
                    unit=drug.basis.unit if drug is not None else None,
                )
            )
    off = enrolment.off_study_on
    in_window = off is not None and start <= off <= today
    reason = enrolment.off_study_reason
    inputs = DltInputs(
        cycle1_start=start,
        assessed_on=today,
        c2d1_planned=nxt.planned_start if nxt is not None else None,
        c2d1_actual=c2_actual,
        adverse_events=tuple(a for a in aes if start <= a.onset <= today),
        ae_categories=dlt_categories(),
        labs=tuple(lab for lab in labs if start <= lab.collected_on <= today),
        gcsf_doses=tuple(
            g for g in record.repos.gcsf.for_patient(pid) if start <= g.given_on <= today
        ),
        temperatures=tuple(
            t
            for t in record.repos.temperatures.for_patient(pid)
            if start <= t.measured_at.date() <= today
        ),
        dose_events=tuple(record.repos.doses.for_cycle(first.id)),
        dose_reductions=tuple(for_toxicity),
        baseline_marrow_plasma_cells_pct=baseline_marrow,
        baseline_anc=entry_count(labs, "anc", start),
        baseline_platelets=entry_count(labs, "platelets", start),
        withdrew_consent_on=off if in_window and reason is OffStudyReason.WITHDRAWAL else None,
        progressed_on=off if in_window and reason is OffStudyReason.PROGRESSION else None,
    )
    if protocol.dlt_criteria is None:
        missing.append(f"DLT not assessed: {protocol.name} has no DLT rules.")
        return None
    try:
        return propose_dlt(inputs, protocol.dlt_criteria)
    except DomainError as exc:
        missing.append(f"DLT not assessed: {exc.message}")
        return None


def patient_summary(
    record: Record,
    patient_id: int,
    today: date,
    protocols: Mapping[str, Protocol] | None = None,
) -> PatientSummary:
    """Everything the chart header and the ``patient`` command show for one patient.

    Raises ``RowNotFoundError`` for an unknown patient id.
    """
    protocols = record_protocols(record) if protocols is None else protocols
    patient = record.repos.patients.get(patient_id).value
    missing: list[str] = []
    enrolments = record.repos.enrolments.for_patient(patient_id)
    enrolment = enrolments[-1] if enrolments else None
    rows = list_patient_rows(record, today, protocols, patient_id=patient_id)
    row = rows[0] if rows else None
    aes = record.repos.adverse_events.for_patient(patient_id)
    all_labs = labs = record.repos.labs.for_patient(patient_id)
    assessments = record.repos.responses.for_patient(patient_id)
    protocol = protocols.get(enrolment.protocol) if enrolment is not None else None
    cycles: list[CycleRow] = []
    if enrolment is None:
        missing.append("enrolment: the patient is not enrolled on a protocol")
    else:
        assert enrolment.id is not None
        cycles = record.repos.cycles.for_enrolment(enrolment.id)
        if protocol is None:
            missing.append(f"protocol {enrolment.protocol!r} is not loaded")
        labs = [
            lab
            for lab in labs
            if lab.collected_on
            >= enrolment.enrolled_on
            - timedelta(days=protocol.settings.lab_max_age_days if protocol else 0)
        ]
    started = [c for c in cycles if c.start_date is not None]
    first_day = treatment_start(cycles)
    before = len(missing)
    series = _responses(assessments, first_day, missing, enrolments)
    decision_missing = missing[before:]
    dlt = None
    dlt_missing: list[str] = []
    next_step = None
    if protocol is not None and enrolment is not None:
        # The DLT exemption reads the marrow of the pre-treatment study (IMWG baseline).
        baseline = response_baseline(assessments, first_day)
        baseline_marrow = baseline.marrow_plasma_cells_pct if baseline is not None else None
        before = len(missing)
        dlt = _dlt_proposal(
            record, protocol, enrolment, cycles, labs, aes, baseline_marrow, today, missing
        )
        dlt_missing = missing[before:]
        before = len(missing)
        next_step = _next_step(record, protocol, enrolment, started, series, missing)
        decision_missing += missing[before:]
    return PatientSummary(
        patient=patient,
        today=today,
        protocol_key=enrolment.protocol if enrolment else None,
        protocol_name=protocol.name if protocol else (enrolment.protocol if enrolment else None),
        enrolment=enrolment,
        phase=row.phase if row else None,
        status=row.status if row else None,
        dose_level=row.dose_level if row else None,
        cycle=row.cycle if row else None,
        day=row.day if row else None,
        cycles=_cycle_summaries(record, cycles, protocol),
        worst_lab_grades=_worst_lab_grades(labs, missing, all_labs, first_day),
        adverse_events=tuple(aes),
        responses=tuple(
            ResponseLine(
                r.assessment.assessed_on,
                r.assessment.end_of_cycle,
                r.category.value,
                r.confirmed,
                r.explanation,
                r.limited_by,
            )
            for r in series
        ),
        dlt=dlt,
        next_step=next_step,
        flags=row.notes if row else (),
        missing=tuple(missing),
        decision_missing=tuple(decision_missing),
        dlt_missing=tuple(dlt_missing),
    )


def _next_step(
    record: Record,
    protocol: Protocol,
    enrolment: Enrolment,
    started: list[CycleRow],
    series: list[AssessedResponse],
    missing: list[str],
) -> PhaseProposal | None:
    if enrolment.status is PatientStatus.OFF_STUDY:
        return None
    if not started:
        missing.append("next step: no cycle has started yet")
        return None
    current = started[-1]
    assert enrolment.id is not None
    try:
        params = _decision_params(protocol)
        plateau = protocol.plateau.detect(series) if series and protocol.plateau else None
        elected = elected_so_far(
            protocol,
            record.repos.decisions.for_enrolment(enrolment.id),
            [c.elected_options for c in started],
        )
        return propose_next_step(
            params,
            current.number,
            current.phase,
            series,
            plateau,
            phase_names={p.key: p.name for p in protocol.phases},
            options=protocol.options,
            elected=elected,
        )
    except (DomainError, ProtocolError) as exc:
        missing.append(f"next step not proposed: {exc}")
        return None
