"""Build the printed documents' models from the record: the only reader behind the reports.

Each builder reads one patient's cycle through the storage repositories, runs the core rules
(plan, lab grading, response, DLT proposal) and returns a frozen document model from
:mod:`clinic_app.reports.models`. Nothing here draws; nothing in the reports reads storage.
Missing facts are said, never guessed: the dosing card refuses (the patient would take it
home), the toxicity summary prints what is missing in place of the value.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal

from clinic_app.core import labs as lab_catalogue
from clinic_app.core.baselines import (
    baseline_in_unit,
    lab_baseline,
    on_treatment,
    response_baseline,
    treatment_start,
)
from clinic_app.core.ctcae import (
    Direction,
    GradingTable,
    LabGrade,
    default_grading_table,
    grade_lab,
)
from clinic_app.core.cycle_toxicity import (
    GradedCount,
    GradeObservation,
    ae_observations,
    count_nadir,
    dose_intensity,
    worst_grades,
)
from clinic_app.core.cycles import CycleRow, CycleStatus
from clinic_app.core.day_words import dates_in_words, day_text
from clinic_app.core.decisions import DltReview
from clinic_app.core.dlt import DltProposal
from clinic_app.core.dosing import Bsa, body_surface_area, weight_change
from clinic_app.core.errors import DomainError, MissingDataError, ProtocolError
from clinic_app.core.ismp import format_number, plain_number
from clinic_app.core.options import cycle_option_keys
from clinic_app.core.plan import CyclePlan, plan_cycle
from clinic_app.core.protocol import Protocol, Route
from clinic_app.core.records import (
    AdverseEvent,
    DoseEvent,
    DoseModification,
    Enrolment,
    LabResult,
    Patient,
    ResponseAssessment,
)
from clinic_app.core.response import classify_series, light_chain_of
from clinic_app.reports.errors import FontCoverageError, FontMissingError
from clinic_app.reports.models import (
    AeLine,
    ChartSeries,
    Clinic,
    DltSection,
    DoseLine,
    DosingCard,
    LabLine,
    ModificationLine,
    NadirLine,
    PaperSize,
    PatientIdentity,
    PrintStamp,
    ResponseLine,
    ToxicitySummary,
    WeightSinceBsa,
)
from clinic_app.services.context import record_protocols
from clinic_app.services.patient_state import patient_summary
from clinic_app.storage.database import Record

# Settings (the record's settings table) the documents read.
CLINIC_NAME = "clinic.name"
CLINIC_PHONE = "clinic.phone"
PAPER_SIZE = "print.paper_size"

CHART_TESTS = ("anc", "platelets", "hemoglobin")  # the counts over the cycle (issues 5, 20)
NADIR_TESTS = ("anc", "platelets", "hemoglobin")  # issue 20: the nadirs a reviewer asks for


@dataclass(frozen=True)
class CycleRef:
    """One cycle of one patient, as found in the record."""

    patient: Patient
    enrolment: Enrolment
    cycle: CycleRow
    protocol: Protocol

    @property
    def start(self) -> date:
        """Day 1: the day it actually started, else the day it is planned to."""
        return self.cycle.start_date or self.cycle.planned_start


# -- reading the record --------------------------------------------------------------------------
def record_version(record: Record) -> str:
    """The state of the record printed from (storage's data version)."""
    return record.data_version()


def clinic(record: Record) -> Clinic:
    phone = record.repos.settings.value(CLINIC_PHONE)
    if not isinstance(phone, str) or not phone.strip():
        raise MissingDataError(
            "The clinic's telephone number is not set, and every card must show it; enter "
            "it under Settings ▸ Printing ▸ Clinic telephone first.",
            field=CLINIC_PHONE,
        )
    name = record.repos.settings.value(CLINIC_NAME)
    return Clinic(name.strip() if isinstance(name, str) and name.strip() else "the clinic", phone)


def paper_size(record: Record) -> PaperSize:
    raw = record.repos.settings.value(PAPER_SIZE, PaperSize.A4.value)
    for size in PaperSize:
        if isinstance(raw, str) and raw.strip().lower() == size.value.lower():
            return size
    raise DomainError(
        f"The paper size setting {PAPER_SIZE} is {raw!r}; it must be A4 or Letter.",
        field=PAPER_SIZE,
    )


def stamp(record: Record, printed_by: str | None, printed_at: datetime | None) -> PrintStamp:
    return PrintStamp(
        printed_at=printed_at or datetime.now().astimezone(),
        printed_by=printed_by or record.actor,
        record_version=record_version(record),
        paper=paper_size(record),
    )


def find_cycle(
    record: Record, mrn: str, number: int, protocols: Mapping[str, Protocol] | None = None
) -> CycleRef:
    """The patient's cycle ``number``, from the latest enrolment that has it."""
    protocols = protocols if protocols is not None else record_protocols(record)
    repos = record.repos
    stored = repos.patients.by_mrn(mrn)
    if stored is None:
        raise DomainError(f"No patient has MRN {mrn!r} in this record.", field="mrn")
    patient = stored.value
    assert patient.id is not None
    enrolments = sorted(
        repos.enrolments.for_patient(patient.id), key=lambda e: (e.enrolled_on, e.id or 0)
    )
    if not enrolments:
        raise DomainError(f"Patient {mrn} is not enrolled on a protocol.", field="mrn")
    for enrolment in reversed(enrolments):
        assert enrolment.id is not None
        for cycle in repos.cycles.for_enrolment(enrolment.id):
            if cycle.number == number and cycle.status is not CycleStatus.CANCELLED:
                return CycleRef(patient, enrolment, cycle, _protocol(enrolment, protocols))
    raise DomainError(f"Patient {mrn} has no cycle {number} in this record.", field="cycle")


def cycles_starting_on(
    record: Record, day: date, protocols: Mapping[str, Protocol] | None = None
) -> list[CycleRef]:
    """Every cycle that starts on ``day`` (started, or planned and not yet started)."""
    protocols = protocols if protocols is not None else record_protocols(record)
    found: list[CycleRef] = []
    repos = record.repos
    for patient in repos.patients.all():
        assert patient.id is not None
        for enrolment in repos.enrolments.for_patient(patient.id):
            assert enrolment.id is not None
            for cycle in repos.cycles.for_enrolment(enrolment.id):
                if cycle.status is CycleStatus.CANCELLED:
                    continue
                if (cycle.start_date or cycle.planned_start) == day:
                    found.append(
                        CycleRef(patient, enrolment, cycle, _protocol(enrolment, protocols))
                    )
    return sorted(found, key=lambda ref: (ref.patient.family_name, ref.patient.given_name))


def _protocol(enrolment: Enrolment, protocols: Mapping[str, Protocol]) -> Protocol:
    protocol = protocols.get(enrolment.protocol)
    if protocol is None:
        raise DomainError(
            f"The enrolment names protocol {enrolment.protocol!r}, which is not loaded.",
            field="protocol",
        )
    return protocol


def identity(patient: Patient) -> PatientIdentity:
    return PatientIdentity(patient.full_name, patient.date_of_birth, patient.mrn)


# -- the plan of a recorded cycle ------------------------------------------------------------------
def _bsa(record: Record, cycle: CycleRow) -> Bsa | None:
    if cycle.bsa_m2 is None:
        return None
    if cycle.measurement_id is None:
        raise MissingDataError(
            f"Cycle {cycle.number} records a BSA of {plain_number(cycle.bsa_m2)} m² but not the "
            "measurement it came from; record the height and weight it was computed from.",
            field="bsa",
        )
    measured = record.repos.measurements.get(cycle.measurement_id).value
    if measured.height_cm is None:
        raise MissingDataError(
            f"The measurement of {measured.measured_on.isoformat()} behind cycle "
            f"{cycle.number}'s BSA has no height.",
            field="height_cm",
        )
    bsa = body_surface_area(
        measured.height_cm, measured.weight_kg, cycle.bsa_formula or "mosteller"
    )
    if bsa.m2 != cycle.bsa_m2:  # contradictory record: say so rather than pick one
        raise DomainError(
            f"Cycle {cycle.number} records a BSA of {plain_number(cycle.bsa_m2)} m², but its "
            f"measurement gives {plain_number(bsa.m2)} m²; correct the cycle before printing.",
            field="bsa",
        )
    return replace(bsa, measured_on=measured.measured_on)


def _options(protocol: Protocol, elected: Mapping[str, str]) -> list[str]:
    """Option keys from a cycle's ``elected_options`` (core.options reads every encoding)."""
    keys = cycle_option_keys(protocol, elected)
    return [o.key for o in protocol.options if o.key in keys]


def _routes(record: Record, cycle: CycleRow, protocol: Protocol) -> dict[str, Route]:
    """Routes recorded with the cycle's planned doses (BPD dexamethasone may be IV)."""
    assert cycle.id is not None
    routes: dict[str, Route] = {}
    for event in record.repos.doses.for_cycle(cycle.id):
        assert event.id is not None
        route = record.repos.doses.details(event.id).route
        if route in {r.value for r in Route} and event.drug in protocol.drugs:
            routes.setdefault(event.drug, Route(str(route)))
    return routes


def cycle_plan(record: Record, ref: CycleRef) -> CyclePlan:
    cycle = ref.cycle
    assert ref.enrolment.id is not None
    modifications = record.repos.modifications.for_enrolment(ref.enrolment.id)
    try:
        return _plan(record, ref, modifications)
    except MissingDataError as exc:
        if cycle.start_date is not None or exc.field not in ("bsa", "crcl_ml_min"):
            raise
        # BSA and CrCl are confirmed when day 1 is: a planned cycle cannot print those doses.
        raise MissingDataError(
            f"Cycle {cycle.number} is planned but not started, and its doses depend on the "
            "BSA or creatinine clearance confirmed when day 1 is given; start the cycle first "
            "(Patient ▸ Start next cycle).",
            field=exc.field,
        ) from None


def _plan(record: Record, ref: CycleRef, modifications: Sequence[DoseModification]) -> CyclePlan:
    cycle = ref.cycle
    return plan_cycle(
        ref.protocol,
        cycle=cycle.number,
        start=ref.start,
        phase=cycle.phase,
        dose_level=cycle.dose_level if ref.protocol.dose_levels else None,
        modifications=modifications,
        bsa=_bsa(record, cycle),
        crcl_ml_min=cycle.crcl_ml_min,
        options=_options(ref.protocol, cycle.elected_options),
        routes=_routes(record, cycle, ref.protocol),
    )


# -- the dosing card ----------------------------------------------------------------------------
def build_dosing_card(
    record: Record,
    mrn: str,
    cycle: int,
    *,
    printed_by: str | None = None,
    printed_at: datetime | None = None,
    protocols: Mapping[str, Protocol] | None = None,
) -> DosingCard:
    """The dosing card of one patient's cycle; raises ``DomainError`` for what is missing."""
    return dosing_card_for(
        record, find_cycle(record, mrn, cycle, protocols), printed_by, printed_at
    )


def dosing_card_for(
    record: Record, ref: CycleRef, printed_by: str | None, printed_at: datetime | None
) -> DosingCard:
    plan = cycle_plan(record, ref)
    crcl_on = None
    if ref.cycle.crcl_lab_id is not None:
        crcl_on = record.repos.labs.get(ref.cycle.crcl_lab_id).value.collected_on
    phase = ref.protocol.phase(plan.phase)
    renal = any(rule.needs_crcl for rule in phase.doses)
    printed = stamp(record, printed_by, printed_at)
    return DosingCard(
        patient=identity(ref.patient),
        stamp=printed,
        clinic=clinic(record),
        plan=plan,
        crcl_measured_on=crcl_on,
        show_crcl=renal,
        weight_since=weight_since_bsa(record, ref, printed.printed_at.date()),
    )


def weight_since_bsa(record: Record, ref: CycleRef, on: date) -> WeightSinceBsa | None:
    """The latest weight up to ``on``, when it is newer than the one behind the cycle's BSA
    and changed by the protocol's threshold or more (rules §2, as the patient list flags it):
    the card then says its doses used the earlier weight."""
    behind_id = ref.cycle.measurement_id
    if behind_id is None or ref.patient.id is None:
        return None
    measured = record.repos.measurements.for_patient(ref.patient.id)
    weights = [m for m in measured if m.measured_on <= on]
    ids = [m.id for m in weights]
    if behind_id not in ids or ids[-1] == behind_id:
        return None  # nothing weighed since (for_patient is in the order measured)
    behind, latest = weights[ids.index(behind_id)], weights[-1]
    change = weight_change(
        behind.weight_kg, latest.weight_kg, ref.protocol.settings.weight_change_pct
    )
    if not change.needs_recalculation:
        return None
    return WeightSinceBsa(change, behind.measured_on, latest.measured_on)


# -- the toxicity summary -----------------------------------------------------------------------
def _summary_end(record: Record, ref: CycleRef) -> date:
    """The day before the next cycle started, else the cycle's last planned day."""
    assert ref.enrolment.id is not None
    for other in record.repos.cycles.for_enrolment(ref.enrolment.id):
        if other.number == ref.cycle.number + 1 and other.start_date is not None:
            return other.start_date - timedelta(days=1)
    return ref.start + timedelta(days=ref.protocol.cycle_length(str(ref.cycle.phase)) - 1)


def dose_lines(
    plan: CyclePlan | None, events: Sequence[DoseEvent], names: Mapping[str, str]
) -> list[DoseLine]:
    """Planned doses matched with what was recorded for them (by cycle day and drug)."""
    recorded = {(e.day, e.drug): e for e in events}
    used: set[tuple[int, str]] = set()
    lines: list[DoseLine] = []
    if plan is not None:
        for day, dose in plan.doses():
            event = recorded.get((day.day, dose.drug))
            used.add((day.day, dose.drug))
            lines.append(
                DoseLine(
                    day=day.day,
                    on=day.date,
                    drug_name=dose.drug_name,
                    planned_mg=dose.dose_mg,
                    status="no record" if event is None else event.status.value,
                    recorded_mg=None if event is None else event.dose_mg,
                    reason="" if event is None or event.reason is None else event.reason,
                )
            )
    start = plan.start if plan is not None else None
    for event in events:
        if (event.day, event.drug) in used:
            continue
        on = start + timedelta(days=event.day - 1) if start else date.min
        lines.append(
            DoseLine(
                day=event.day,
                on=on,
                drug_name=names.get(event.drug, event.drug),
                planned_mg=None,
                status=event.status.value,
                recorded_mg=event.dose_mg,
                reason=event.reason or "",
            )
        )
    return sorted(lines, key=lambda line: (line.day, line.drug_name))


def _test_name(test: str) -> str:
    try:
        return lab_catalogue.lab_test(test).name
    except DomainError:
        return test


def lab_grade(
    lab: LabResult, baseline: LabResult | None, table: GradingTable
) -> LabGrade | str | None:
    """The CTCAE grade of one result; a sentence when it cannot be graded; None when the test
    has no CTCAE lab term."""
    if not table.terms_for(lab.test):
        return None
    try:
        base = baseline_in_unit(baseline, lab)
        return grade_lab(
            lab.test, lab.value, lab.unit, lab.lln, lab.uln, base, table=table, facts=lab.fact_map
        )
    except DomainError as exc:
        return exc.message


def grade_line(lab: LabResult, graded: LabGrade | str | None) -> LabLine:
    name = _test_name(lab.test)
    if graded is None:
        return LabLine(lab.collected_at, name, lab.value, lab.unit, None, "no CTCAE lab grade")
    if isinstance(graded, str):
        return LabLine(lab.collected_at, name, lab.value, lab.unit, None, graded)
    if graded.grade is None:
        needs = ", ".join(graded.missing) or "clinical facts"
        note = f"{graded.term}: at least grade {graded.lowest_grade}; needs {needs}"
        return LabLine(lab.collected_at, name, lab.value, lab.unit, None, note)
    return LabLine(lab.collected_at, name, lab.value, lab.unit, graded.grade, graded.term)


def lab_observation(lab: LabResult, graded: LabGrade | str | None) -> GradeObservation | None:
    """The lab's grade as one observation of its CTCAE term (None when ungraded)."""
    if not isinstance(graded, LabGrade):
        return None
    grade = graded.grade if graded.grade is not None else graded.lowest_grade
    detail = (
        f"{_short_name(lab.test)} {format_number(lab.value)} {lab_catalogue.unit_label(lab.unit)}"
    )
    return GradeObservation(
        graded.term,
        grade,
        lab.collected_on,
        "lab",
        detail,
        at_least=graded.grade is None,
    )


def _short_name(test: str) -> str:
    try:
        entry = lab_catalogue.lab_test(test)
    except DomainError:
        return test
    return entry.abbreviation or entry.name


def _low_terms(table: GradingTable, test: str) -> bool:
    return any(rule.direction is Direction.LOW for rule in table.terms_for(test))


def nadir_lines(
    window: Sequence[LabResult], graded: Mapping[int, LabGrade | str | None]
) -> list[NadirLine]:
    """ANC, platelets and haemoglobin: the lowest result of the cycle and the spells at grade
    >= 3 (core.cycle_toxicity); a count not measured says so."""
    lines: list[NadirLine] = []
    for test in NADIR_TESTS:
        counts: list[GradedCount] = []
        for index, lab in enumerate(window):
            if lab.test != test:
                continue
            grade = graded[index]
            known = grade if isinstance(grade, LabGrade) else None
            counts.append(
                GradedCount(
                    lab.collected_on,
                    lab.value,
                    lab.unit,
                    lab.value_si,
                    None if known is None else known.grade,
                    0 if known is None else known.lowest_grade,
                )
            )
        nadir = count_nadir(counts)
        name = _test_name(test)
        if nadir is None:
            unit = lab_catalogue.lab_test(test).si_unit
            lines.append(NadirLine(name, None, unit, None, None, "not measured in this cycle", 0))
            continue
        low = nadir.lowest
        lab = next(
            lab
            for lab in window
            if lab.test == test and lab.collected_on == low.on and lab.value_si == low.value_si
        )
        note = grade_line(lab, graded[window.index(lab)]).grade_note
        lines.append(
            NadirLine(
                name, low.value, low.unit, low.on, low.grade, note, nadir.results, nadir.spells
            )
        )
    return lines


def chart_series(
    window: Sequence[LabResult], start: date, table: GradingTable
) -> list[ChartSeries]:
    """The counts by cycle day, with the CTCAE grade 3 and 4 bounds from the grading data
    (haemoglobin has no grade 4 value: it is a clinical grade)."""
    series: list[ChartSeries] = []
    for test in CHART_TESTS:
        bounds: dict[int, Decimal] = {}
        for rule in table.terms_for(test):
            if rule.direction is not Direction.LOW:
                continue
            for criterion in rule.criteria:
                if criterion.bound is not None and criterion.bound.reference is None:
                    bounds[criterion.grade] = criterion.bound.factor
        if 3 not in bounds:
            continue  # the grading data has no absolute grade 3 bound to draw
        entry = lab_catalogue.lab_test(test)
        points = tuple(
            ((lab.collected_on - start).days + 1, lab.value_si)
            for lab in window
            if lab.test == test
        )
        series.append(ChartSeries(entry.name, entry.si_unit, points, bounds[3], bounds.get(4)))
    return series


def _attribution(ae: AdverseEvent) -> str:
    if not ae.attribution:
        return "not recorded"
    return "; ".join(f"{drug}: {value.value}" for drug, value in sorted(ae.attribution.items()))


def _signature_text(printed_name: str, username: str, signed_at: str, meaning: str) -> str:
    """A signature line with its UTC instant in the printed date style."""
    moment = datetime.fromisoformat(signed_at.replace("Z", "+00:00"))
    when = f"{day_text(moment.date())} {moment:%H:%M}"
    return f"Signed by {printed_name} ({username}) on {when} UTC: {meaning}"


def _verdict_text(review: DltReview) -> str:
    """The investigator's decision: ``DLT confirmed by Dr A on 4 Feb 2026``."""
    who = review.reviewer or "the investigator"
    when = f" on {day_text(review.reviewed_on)}" if review.reviewed_on else ""
    if review.confirmed is None:
        return "awaiting the investigator's verdict"
    return f"DLT {'confirmed' if review.confirmed else 'ruled out'} by {who}{when}"


def _review_text(review: DltReview, proposal: DltProposal | None = None) -> str:
    """One review in words: the decision, its reason, and evaluability.

    ``review.proposed`` is what the rules proposed when the review was recorded (None: they
    could not decide). Beside a verdict it is said only where it differs from ``proposal``,
    the rules' proposal printed above it, so the two never read as one contradicting the
    other; awaiting a verdict, it is all there is to say.
    """
    then = {
        True: "the rules proposed a DLT",
        False: "the rules did not propose a DLT",
        None: "the rules could not decide whether it was a DLT",
    }[review.proposed]
    extra = f" ({review.reason})" if review.reason else ""
    if review.evaluable is False:
        extra += "; not evaluable for toxicity"
    if review.confirmed is None:
        return f"{_verdict_text(review)}; {then}{extra}"
    text = _verdict_text(review) + extra
    # A "no" stored before undecided proposals were kept (migration 0015) may have meant
    # "could not decide": beside an undecided proposal it is not called a difference.
    stored_no_now_open = review.proposed is False and proposal is not None and proposal.dlt is None
    if proposal is not None and review.proposed != proposal.dlt and not stored_no_now_open:
        text += (
            f". When reviewed, {then}; the proposal above reads the record as it is on the day "
            "of printing."
        )
    return text


def response_line(
    assessments: Sequence[ResponseAssessment],
    first_start: date | None,
    cycle: int,
    enrolments: Sequence[Enrolment] = (),
) -> ResponseLine:
    # IMWG: against the pre-treatment study, chosen as everywhere (core.baselines).
    baseline = response_baseline(assessments, first_start)
    closing = [a for a in assessments if a.end_of_cycle == cycle]
    if not closing:
        return ResponseLine(
            None, None, False, f"No end-of-cycle response assessment is recorded for cycle {cycle}."
        )
    if baseline is None or first_start is None:
        return ResponseLine(
            closing[-1].assessed_on,
            None,
            False,
            "No pre-treatment (baseline) assessment is recorded: response cannot be classified.",
        )
    target = closing[-1]
    series = [
        a for a in on_treatment(assessments, first_start) if a.assessed_on <= target.assessed_on
    ]
    try:
        results = classify_series(baseline, series, light_chain=light_chain_of(enrolments))
    except DomainError as exc:
        return ResponseLine(target.assessed_on, None, False, exc.message)
    last = results[-1]
    return ResponseLine(
        target.assessed_on,
        last.category.value,
        last.confirmed,
        last.explanation,
        limited_by=last.limited_by,
    )


def _dlt_section(record: Record, ref: CycleRef, assessed_on: date) -> DltSection:
    """The DLT proposal as the DLT review screen shows it (one builder: services.patient_state),
    judged on what is known on ``assessed_on``, with the investigator's reviews."""
    cycle = ref.cycle
    assert ref.patient.id is not None and cycle.id is not None and ref.enrolment.id is not None
    reviews = [
        r
        for r in record.repos.dlt_reviews.for_enrolment(ref.enrolment.id)
        if r.cycle_id in (None, cycle.id)
    ]
    signed = tuple(
        _signature_text(s.printed_name, s.username, s.signed_at, s.meaning)
        for r in reviews
        if r.id is not None
        for s in record.repos.signatures.for_row("dlt_reviews", r.id)
    )
    summary = patient_summary(record, ref.patient.id, assessed_on, {ref.protocol.key: ref.protocol})
    proposal = summary.dlt
    review = (
        "; ".join(_review_text(r, proposal) for r in reviews)
        or "Not yet reviewed by the investigator."
    )
    if proposal is None:
        why = "; ".join(summary.dlt_missing) or "no cycle-1 data"
        return DltSection(f"The DLT proposal cannot be computed: {why}.", (), review, signed)
    evidence = tuple(dates_in_words(line) for line in proposal.evidence_lines())
    # Once the investigator has decided, the line says the rules' proposal and the decision
    # together (issue: "cannot decide yet" printed beside "DLT confirmed").
    decided = next((r.confirmed for r in reviews if r.confirmed is not None), None)
    line = proposal.summary if decided is None else proposal.summary_with_verdict(decided)
    return DltSection(dates_in_words(line), evidence, review, signed)


def build_toxicity_summary(
    record: Record,
    mrn: str,
    cycle: int,
    *,
    printed_by: str | None = None,
    printed_at: datetime | None = None,
    protocols: Mapping[str, Protocol] | None = None,
    table: GradingTable | None = None,
) -> ToxicitySummary:
    """The toxicity summary of one patient's cycle (issue 5).

    It covers cycle day 1 to the day before the next cycle started (a delay is part of the
    cycle it followed), or to the last planned day when there is no next cycle yet.
    """
    ref = find_cycle(record, mrn, cycle, protocols)
    repos = record.repos
    table = table or default_grading_table()
    the_stamp = stamp(record, printed_by, printed_at)
    patient_id, row = ref.patient.id, ref.cycle
    assert patient_id is not None and row.id is not None and ref.enrolment.id is not None
    notes: list[str] = []
    plan: CyclePlan | None
    try:
        plan = cycle_plan(record, ref)
    except DomainError as exc:
        plan = None
        notes.append(f"Planned doses could not be computed: {exc.message}")
    start, end = ref.start, _summary_end(record, ref)
    names = {key: drug.name for key, drug in ref.protocol.drugs.items()}
    doses = dose_lines(plan, repos.doses.for_cycle(row.id), names)

    def line(m: DoseModification) -> ModificationLine:
        return ModificationLine(
            names.get(m.drug, m.drug),
            m.old_dose,
            m.new_dose,
            ref.protocol.drugs[m.drug].basis.unit if m.drug in ref.protocol.drugs else "mg",
            m.reason,
            m.effective_cycle,
            m.effective_day,
            m.decided_by,
            m.decided_on,
        )

    all_modifications = repos.modifications.for_enrolment(ref.enrolment.id)
    this_cycle = [
        m
        for m in all_modifications
        if m.effective_cycle == row.number or start <= m.decided_on <= end
    ]
    modifications = [line(m) for m in this_cycle]
    # A reduction of an earlier cycle still sets this cycle's dose: the latest one per drug.
    in_force: dict[str, DoseModification] = {}
    for m in all_modifications:
        if m.effective_cycle < row.number and m not in this_cycle:
            kept = in_force.get(m.drug)
            if kept is None or (m.effective_cycle, m.effective_day, m.decided_on) >= (
                kept.effective_cycle,
                kept.effective_day,
                kept.decided_on,
            ):
                in_force[m.drug] = m
    changed_now = {m.drug for m in this_cycle}  # its row above says from and to
    carried = [line(m) for drug, m in sorted(in_force.items()) if drug not in changed_now]

    all_aes = repos.adverse_events.for_patient(patient_id)
    in_cycle = [
        ae for ae in all_aes if ae.onset <= end and (ae.resolved is None or ae.resolved >= start)
    ]
    reviews = repos.dlt_reviews.for_enrolment(ref.enrolment.id)
    has_dlt_rules = ref.protocol.dlt_criteria is not None
    dlt_applies = has_dlt_rules and row.number == 1
    events = {ae.id: ae for ae in all_aes if ae.id is not None}
    ae_lines = [
        AeLine(
            ae.term,
            ae.grade,
            _attribution(ae),
            ae.onset,
            ae.resolved,
            ae.serious,
            _ae_dlt_status(ae, reviews, row.id, has_dlt_rules, dlt_applies, events),
        )
        for ae in in_cycle
    ]

    all_labs = repos.labs.for_patient(patient_id)
    window = [lab for lab in all_labs if start <= lab.collected_on <= end]
    first_start = _first_start(record, ref)
    graded = {
        index: lab_grade(lab, lab_baseline(all_labs, lab.test, first_start), table)
        for index, lab in enumerate(window)
    }
    lab_lines = [grade_line(lab, graded[i]) for i, lab in enumerate(window)]
    observed = [o for ae in in_cycle for o in ae_observations(ae, start, end)]
    observed += [
        seen
        for i, lab in enumerate(window)
        if (seen := lab_observation(lab, graded[i])) is not None
    ]
    ungraded = sum(
        1 for i in range(len(window)) if lab_lines[i].grade is None and graded[i] is not None
    )
    dlt = None
    if dlt_applies:
        # The DLT engine judges what is known on the day of printing.
        dlt = _dlt_section(record, ref, the_stamp.printed_at.date())
    phase = ref.protocol.phase(row.phase)
    return ToxicitySummary(
        patient=identity(ref.patient),
        stamp=the_stamp,
        protocol_name=ref.protocol.name,
        cycle=row.number,
        phase_name=phase.name,
        dose_level=row.dose_level,
        start=start,
        end=end,
        delay_days=row.delay_days,
        delay_reason=row.delay_reason,
        doses=tuple(doses),
        modifications=tuple(modifications),
        carried=tuple(carried),
        adverse_events=tuple(ae_lines),
        labs=tuple(lab_lines),
        nadirs=tuple(nadir_lines(window, graded)),
        chart=tuple(chart_series(window, start, table)),
        response=response_line(
            repos.responses.for_patient(patient_id),
            first_start,
            row.number,
            repos.enrolments.for_patient(patient_id),
        ),
        dlt=dlt,
        notes=tuple(notes),
        worst=worst_grades(observed),
        ungraded_results=ungraded,
        intensity=dose_intensity(doses),
    )


def _first_start(record: Record, ref: CycleRef) -> date | None:
    """Cycle 1 day 1 of the enrolment (core.baselines): what is measured before it is the
    baseline. None before treatment has started: there is no baseline yet, none is guessed."""
    assert ref.enrolment.id is not None
    return treatment_start(record.repos.cycles.for_enrolment(ref.enrolment.id))


def _ae_dlt_status(
    ae: AdverseEvent,
    reviews: Sequence[DltReview],
    cycle_id: int,
    has_rules: bool,
    applies: bool,
    events: Mapping[int, AdverseEvent],
) -> str:
    """The AE's DLT status: its own review, else its cycle's review, else why there is none.

    The investigator reviews the cycle (rules §5); a review names the AE it is about, if any.
    An AE of a reviewed cycle is reviewed with it, never "not reviewed".
    """
    mine = [r for r in reviews if ae.id is not None and r.adverse_event_id == ae.id]
    if mine:
        return "; ".join(_review_text(r) for r in mine)
    if not has_rules:
        return "no DLT assessment in this protocol"
    if not applies:
        return "not assessed: DLTs are assessed in cycle 1 only"
    cycle = [r for r in reviews if r.cycle_id in (None, cycle_id)]
    decided = next((r for r in cycle if r.confirmed is not None), None)
    if decided is None:
        if cycle:
            return "cycle 1 awaiting the investigator's DLT verdict"
        return "cycle 1 not yet reviewed for DLT"
    named = events.get(decided.adverse_event_id) if decided.adverse_event_id else None
    if decided.confirmed and named is not None:
        return f"cycle 1 reviewed: the DLT confirmed is {named.term} of {day_text(named.onset)}"
    return f"cycle 1 reviewed: {_verdict_text(decided)}"


# -- what printing says and names (the commands and the GUI print the same way) ---------------
DOCUMENT_PROBLEMS = (DomainError, ProtocolError, FontMissingError, FontCoverageError)
"""What stops one document being printed: said in a sentence, the rest of a batch goes on."""


def card_file_name(mrn: str, cycle: int) -> str:
    """A file name from the MRN that no MRN can turn into a path (``../x`` or ``a/b``).

    When characters had to be replaced, a short digest of the exact MRN is added, so two
    MRNs that read alike once cleaned (``MRN/0002`` and ``MRN 0002``) never share a file.

    >>> card_file_name("MRN-0002", 1)
    'MRN-0002-cycle1-card.pdf'
    >>> card_file_name("MRN/0002", 1) != card_file_name("MRN 0002", 1)
    True
    """
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", mrn).lstrip(".") or "patient"
    if safe != mrn:
        safe += "-" + hashlib.sha256(mrn.encode("utf-8")).hexdigest()[:8]
    return f"{safe}-cycle{cycle}-card.pdf"


def unique_card_name(mrn: str, cycle: int, used: set[str]) -> str:
    """:func:`card_file_name`, numbered when a batch already used it: a case-insensitive disk
    (Windows, macOS) holds ``a-1`` and ``A-1`` as one file."""
    name = card_file_name(mrn, cycle)
    stem, n = name.removesuffix(".pdf"), 1
    while name.casefold() in used:
        n += 1
        name = f"{stem}-{n}.pdf"
    used.add(name.casefold())
    return name
