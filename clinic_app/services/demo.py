"""Clearly fictitious demo patients across the loaded protocols and every stage of treatment.

Every patient's MRN starts with ``DEMO-`` and carries the alert "DEMO PATIENT - fictitious".
The same seed, count and ``today`` give the same record. Cycles and their planned doses come
from :func:`clinic_app.core.plan.plan_cycle`, BPD dose levels from the 3+3 engine
(:func:`clinic_app.core.escalation.decide` places every escalation patient), so the demo
record obeys the protocols. Writes go through the repositories (audited), one transaction per
chunk of patients, so a failure leaves whole chunks only.

Mix (per patient, drawn from the seed): about 45 % on the protocol with a 3+3 design (BPD:
escalation, placed by the 3+3 engine, then expansion at the recommended level within the caps)
and the rest on the other protocols (DexTR): the start phase, the phase the end-of-cycle
decision moves to (about a third of them with CrCl < 40 mL/min, so a renal cap applies) and off
study after progression. When the 3+3 caps are reached further patients go to the other
protocols; above a protocol's caps (45 DexTR, 56 BPD) the record is for benchmarks only and
every such patient's alerts say so. Phases, drugs and cycle counts come from the protocol files;
a protocol that is not loaded is skipped and the result says so (``DemoResult.skipped``).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from clinic_app.core.cycles import CycleRow, CycleStatus, DoseDetails
from clinic_app.core.decisions import Decision, DecisionKind, DltReview
from clinic_app.core.dosing import Bsa, body_surface_area, cockcroft_gault
from clinic_app.core.errors import DomainError
from clinic_app.core.escalation import (
    DltStatus,
    EscalationPatient,
    decide,
)
from clinic_app.core.phase_decision import DecisionScheme, maintenance_phase
from clinic_app.core.plan import CyclePlan, default_phase, plan_cycle
from clinic_app.core.protocol import DoseBasis, Drug, PhaseEntry, Protocol
from clinic_app.core.records import (
    AdverseEvent,
    Attribution,
    BodyMeasurement,
    DoseEvent,
    DoseModification,
    DoseStatus,
    Enrolment,
    Immunofixation,
    LabResult,
    OffStudyReason,
    Patient,
    PatientStatus,
    ReductionCause,
    ResponseAssessment,
    Sex,
    TemperatureReading,
)
from clinic_app.services.context import record_protocols
from clinic_app.services.dlt_review import dlt_review_view
from clinic_app.services.settings import CLINIC_NAME, CLINIC_PHONE
from clinic_app.storage import queries
from clinic_app.storage.database import Record
from clinic_app.storage.signatures import MEANINGS, Signer

MRN_PREFIX = "DEMO-"
DEMO_ALERT = "DEMO PATIENT - fictitious"
BEYOND_CAPS_ALERT = "DEMO: beyond the protocol's enrolment cap (benchmark data only)"
CHUNK = 200
ALL_DOSES_UP_TO = 1000
"""Above this many patients only each patient's latest cycle gets dose events (benchmarks)."""
REASON = "demo data"
# 555-01xx numbers are set aside for fiction: no patient can reach a real clinic by mistake.
DEMO_CLINIC_NAME = "Demonstration clinic (fictitious)"
DEMO_CLINIC_PHONE = "555-0100"

# Fictitious names, with diacritics and Greek, Cyrillic and CJK scripts: per culture, family
# names and (given name, sex) pairs; a patient's names come from one culture.
_NAMES: tuple[tuple[tuple[str, ...], tuple[tuple[str, Sex], ...]], ...] = (
    (
        ("Müller", "Schäfer", "Groß"),
        (("Jürgen", Sex.MALE), ("Jörg", Sex.MALE), ("Bärbel", Sex.FEMALE)),
    ),
    (("Øvergård", "Ødegård", "Åberg"), (("Åse", Sex.FEMALE), ("Bjørn", Sex.MALE))),
    (
        ("Nuñez", "Fernández-García", "Muñoz"),
        (("José", Sex.MALE), ("María José", Sex.FEMALE), ("Begoña", Sex.FEMALE)),
    ),
    (
        ("Lefèvre", "Bérubé", "Façon"),
        (("Hélène", Sex.FEMALE), ("François", Sex.MALE), ("Zoé", Sex.FEMALE)),
    ),
    (("Dvořák", "Šimková", "Čermák"), (("Bořivoj", Sex.MALE), ("Růžena", Sex.FEMALE))),
    (("Wiśniewska", "Łukaszewicz", "Żak"), (("Małgorzata", Sex.FEMALE), ("Wojciech", Sex.MALE))),
    (
        ("Παπαδόπουλος", "Οικονόμου", "Γεωργίου"),
        (("Γιώργος", Sex.MALE), ("Ελένη", Sex.FEMALE), ("Νίκος", Sex.MALE)),
    ),
    (
        ("Иванов", "Смирнова", "Кузнецов"),
        (("Сергей", Sex.MALE), ("Ольга", Sex.FEMALE), ("Наталья", Sex.FEMALE)),
    ),
    (
        ("王", "李", "张", "刘"),
        (("秀英", Sex.FEMALE), ("伟", Sex.MALE), ("芳", Sex.FEMALE), ("强", Sex.MALE)),
    ),
    (("佐藤", "鈴木", "高橋"), (("花子", Sex.FEMALE), ("健太", Sex.MALE))),
    (("김", "이", "박"), (("민준", Sex.MALE), ("서연", Sex.FEMALE))),
    (("O'Brien", "Ní Bhriain", "Ó Súilleabháin"), (("Siobhán", Sex.FEMALE), ("Seán", Sex.MALE))),
    (("Çelik", "Yılmaz", "Öztürk"), (("Ömer", Sex.MALE), ("Ayşe", Sex.FEMALE))),
    (("Nguyễn", "Trần", "Phạm"), (("Thị Lan", Sex.FEMALE), ("Văn Đức", Sex.MALE))),
    (("Okafor", "Adeyemi"), (("Chinedu", Sex.MALE), ("Ngozi", Sex.FEMALE))),
    (("Smith", "Jones", "Taylor"), (("John", Sex.MALE), ("Mary", Sex.FEMALE), ("Alex", Sex.MALE))),
)

# Reference ranges used for the demo labs (a typical adult laboratory), in SI units.
_RANGES: Mapping[str, tuple[str, Decimal, Decimal]] = {
    "anc": ("10^9/L", Decimal("1.8"), Decimal("7.5")),
    "platelets": ("10^9/L", Decimal("150"), Decimal("400")),
    "hemoglobin": ("g/L", Decimal("120"), Decimal("160")),
    "creatinine": ("umol/L", Decimal("45"), Decimal("90")),
}
_AE_TERMS = (
    "Fatigue",
    "Nausea",
    "Constipation",
    "Peripheral sensory neuropathy",
    "Rash maculo-papular",
    "Diarrhea",
)


@dataclass(frozen=True)
class DemoResult:
    patients: int
    counts: Mapping[str, int]
    """Demo patients per protocol key."""
    escalation_decision: str
    seconds: float
    skipped: tuple[str, ...] = ()
    """One sentence per kind of protocol the demo could not make patients for."""

    def describe(self, protocols: Mapping[str, Protocol]) -> str:
        parts = ", ".join(
            f"{n} {protocols[k].name if k in protocols else k}" for k, n in self.counts.items()
        )
        return f"{self.patients} demo patients ({parts})"


class DemoRefused(DomainError):
    """The record holds real (non-demo) patients and ``force`` was not given."""


def _q(value: float, places: str) -> Decimal:
    return Decimal(str(value)).quantize(Decimal(places))


def _at(day: date, hour: int = 8) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


class _Writer:
    """Writes one patient's story through the repositories (inside the caller's transaction)."""

    def __init__(self, record: Record, rng: random.Random, today: date, all_doses: bool) -> None:
        self.record = record
        self.repos = record.repos
        self.rng = rng
        self.today = today
        self.all_doses = all_doses
        self._plans: dict[tuple[object, ...], CyclePlan] = {}

    def plan(
        self,
        protocol: Protocol,
        number: int,
        start: date,
        phase: str,
        level: int | None,
        modifications: list[DoseModification],
        bsa: Bsa,
        crcl: Decimal,
    ) -> CyclePlan:
        """``plan_cycle``, remembered: the doses depend on the start date only through the
        dates, on the BSA only for mg/m² drugs and on CrCl only where a renal cap applies
        (``core.dosing.split_into_units`` is slow enough to dominate 10,000 patients)."""
        spec = protocol.phase(phase)
        per_m2 = any(protocol.drugs[r.drug].basis is DoseBasis.PER_M2 for r in spec.doses)
        # Only the doses are used, and CrCl changes a dose only by being under a renal cap.
        below_caps = tuple(crcl < tier.limit for r in spec.doses for tier in r.renal)
        key = (
            protocol.key,
            number,
            phase,
            level,
            # A modification caps its drug from its effective point; who, when and why only
            # go into the plan's notes.
            tuple((m.drug, m.new_dose, m.effective_cycle, m.effective_day) for m in modifications),
            bsa.m2 if per_m2 else None,
            below_caps,
        )
        plan = self._plans.get(key)
        if plan is None:
            plan = plan_cycle(
                protocol,
                cycle=number,
                start=start,
                phase=phase,
                dose_level=level,
                modifications=modifications,
                bsa=bsa,
                crcl_ml_min=crcl,
            )
            self._plans[key] = plan
        return plan

    def patient(self, number: int, beyond_caps: bool) -> tuple[int, Patient]:
        families, givens = self.rng.choice(_NAMES)
        family = self.rng.choice(families)
        given, sex = self.rng.choice(givens)
        born = self.today - timedelta(days=self.rng.randint(45 * 365, 82 * 365))
        alerts = (DEMO_ALERT, BEYOND_CAPS_ALERT) if beyond_caps else (DEMO_ALERT,)
        allergies = ("penicillin",) if self.rng.random() < 0.15 else ()
        p = Patient(f"{MRN_PREFIX}{number:05d}", family, given, born, sex, allergies, alerts)
        return self.repos.patients.add(p, reason=REASON), p

    def lab(self, pid: int, test: str, value: Decimal, on: date) -> int:
        unit, lln, uln = _RANGES[test]
        result = LabResult(test, value, unit, _at(on), value, lln, uln)
        return self.repos.labs.add(pid, result, reason=REASON)

    def cycle_labs(self, pid: int, start: date, depth: float, days: tuple[int, ...]) -> None:
        """Counts falling to a nadir around day 15 and recovering by day 22 and day 28."""
        base_anc, base_plt = self.rng.uniform(2.5, 5.0), self.rng.uniform(180, 320)
        for d in days:
            on = start + timedelta(days=d - 1)
            if on > self.today:
                break
            if d > 1 and self.rng.random() < 0.04:
                continue  # a missed blood draw: the patient list shows it as overdue
            fall = {1: 0.0, 8: 0.5, 15: 1.0, 22: 0.4}.get(d, 0.0) * depth
            self.lab(pid, "anc", _q(max(base_anc * (1 - fall), 0.2), "0.1"), on)
            self.lab(pid, "platelets", _q(max(base_plt * (1 - 0.8 * fall), 12), "1"), on)
            if d == 1:
                self.lab(pid, "hemoglobin", _q(self.rng.uniform(95, 135), "1"), on)

    def adverse_events(self, pid: int, start: date, drugs: tuple[str, ...]) -> None:
        for _ in range(self.rng.choice((0, 0, 1, 1, 2))):
            onset = start + timedelta(days=self.rng.randint(2, 20))
            if onset > self.today:
                continue
            grade = self.rng.choice((1, 1, 2, 2, 3))
            resolved = onset + timedelta(days=self.rng.randint(3, 14))
            ae = AdverseEvent(
                self.rng.choice(_AE_TERMS),
                grade,
                onset,
                resolved if resolved < self.today else None,
                attribution={self.rng.choice(drugs): Attribution.POSSIBLE},
            )
            self.repos.adverse_events.add(pid, ae, reason=REASON)

    def responses(
        self, pid: int, baseline_on: date, ends: list[tuple[int, date]], progress_at: int | None
    ) -> None:
        """Baseline M-spike, falling ~50-60 % and levelling off (a plateau); PD at the end."""
        spike = self.rng.uniform(2.0, 4.5)
        a = ResponseAssessment(
            baseline_on,
            serum_m_protein_g_dl=_q(spike, "0.01"),
            serum_ife=Immunofixation.POSITIVE,
            marrow_plasma_cells_pct=_q(self.rng.uniform(10, 60), "1"),
        )
        self.repos.responses.add(pid, a, reason=REASON)
        level = spike
        nadir = spike
        for number, on in ends:
            if progress_at is not None and number >= progress_at:
                level = max(level * 1.4, nadir + 0.8)  # IMWG PD: >= 25 % and >= 0.5 g/dL
            elif number <= 2:
                level *= self.rng.uniform(0.55, 0.7)
            else:
                level *= self.rng.uniform(0.92, 1.06)
            nadir = min(nadir, level)
            self.repos.responses.add(
                pid,
                ResponseAssessment(
                    on,
                    serum_m_protein_g_dl=_q(level, "0.01"),
                    serum_ife=Immunofixation.POSITIVE,
                    end_of_cycle=number,
                ),
                reason=REASON,
            )

    def doses(
        self,
        cycle_id: int,
        plan_doses: list[tuple[int, date, str, Decimal, str, dict[str, str]]],
    ) -> None:
        for day, on, drug, mg, route, units in plan_doses:
            if on < self.today:
                held = self.rng.random() < 0.03
                event = DoseEvent(
                    cycle_id,
                    day,
                    drug,
                    mg,
                    DoseStatus.HELD if held else DoseStatus.GIVEN,
                    None if held else _at(on, 9),
                    "nadir counts" if held else None,
                )
            else:
                event = DoseEvent(cycle_id, day, drug, mg, DoseStatus.PLANNED)
            # The tablets or capsules of each strength, as a real cycle start stores them.
            details = DoseDetails(route=route, units=units)
            self.repos.doses.add(event, details, reason=REASON)


@dataclass
class _Story:
    """What to write for one enrolment: its cycles and where it ends."""

    protocol: Protocol
    starts: list[date]
    phases: list[str]
    level: int | None = None
    cohort: str | None = None
    status: PatientStatus = PatientStatus.ACTIVE
    off_reason: OffStudyReason | None = None
    progress_at: int | None = None
    low_crcl: bool = False
    reduce_from: int | None = None
    dlt: bool | None = None


def _cycle_starts(
    rng: random.Random, today: date, count: int, length: int, current_day: int
) -> list[date]:
    """Day 1 of ``count`` cycles, the last on day ``current_day`` today; some delayed."""
    gaps = [length + (rng.choice((7, 14)) if rng.random() < 0.12 else 0) for _ in range(count - 1)]
    first = today - timedelta(days=current_day - 1 + sum(gaps))
    starts = [first]
    for gap in gaps:
        starts.append(starts[-1] + timedelta(days=gap))
    return starts


def _write_story(w: _Writer, number: int, story: _Story, beyond_caps: bool) -> None:
    rng, repos, protocol = w.rng, w.repos, story.protocol
    pid, person = w.patient(number, beyond_caps)
    first = story.starts[0]
    enrolled = first - timedelta(days=rng.randint(3, 10))
    off_on = None
    if story.status is PatientStatus.OFF_STUDY:
        off_on = min(story.starts[-1] + timedelta(days=protocol.cycle_length_days), w.today)
    gates = {g.key: enrolled - timedelta(days=1) for g in protocol.gates}
    eid = repos.enrolments.add(
        Enrolment(
            pid,
            protocol.key,
            enrolled,
            enrolled - timedelta(days=1),
            gates,
            dose_level=story.level,
            cohort=story.cohort,
            status=story.status,
            off_study_on=off_on,
            off_study_reason=story.off_reason,
            # About two in three myelomas make kappa; fixed per patient, no draw from rng,
            # so the rest of the demo stays as it was.
            light_chain="lambda" if number % 3 == 2 else "kappa",
        ),
        reason=REASON,
    )
    height = _q(rng.uniform(150, 190), "1")
    weight = _q(rng.uniform(52, 105), "0.1")
    m_id = repos.measurements.add(pid, BodyMeasurement(enrolled, weight, height), reason=REASON)
    bsa = body_surface_area(height, weight, protocol.settings.bsa_formula, enrolled)
    # Creatinine on the enrolment day: high enough for CrCl < 40 mL/min when asked for.
    scr = _q(rng.uniform(230, 320) if story.low_crcl else rng.uniform(60, 105), "1")
    scr_lab = w.lab(pid, "creatinine", scr, enrolled)
    crcl = cockcroft_gault(
        person.age_on(enrolled), weight, scr, person.sex, "umol/L", enrolled
    ).ml_min
    modifications: list[DoseModification] = []
    if story.reduce_from is not None and story.reduce_from <= len(story.starts):
        reduced = _reduced_drug(protocol)
        drug = reduced.key if reduced is not None else ""
        # The label's first step down (DexTR lenalidomide 25 -> 20 mg).
        old, new = (reduced.ladder[0], reduced.ladder[1]) if reduced else (Decimal(0), Decimal(0))
        if reduced is not None and story.level is not None:
            old = protocol.dose_level(story.level).doses.get(drug, old)
            new = max((s for s in reduced.ladder if s < old), default=old)
        if new < old:
            mod = DoseModification(
                drug,
                old,
                new,
                "neutropenia grade 3",
                story.reduce_from,
                "Dr Demo",
                story.starts[story.reduce_from - 1] - timedelta(days=1),
                cause=ReductionCause.HAEMATOLOGICAL,
            )
            _sign(w.record, "dose_modifications", repos.modifications.add(eid, mod, reason=REASON))
            modifications.append(mod)
    drugs = tuple(protocol.drugs)
    ends: list[tuple[int, date]] = []
    first_cycle: tuple[int, date, str] | None = None
    for index, (start, phase) in enumerate(zip(story.starts, story.phases, strict=True)):
        number = index + 1
        last = index == len(story.starts) - 1
        plan = w.plan(protocol, number, start, phase, story.level, modifications, bsa, crcl)
        planned = (
            start
            if index == 0
            else story.starts[index - 1] + timedelta(days=protocol.cycle_length_days)
        )
        delay = (start - planned).days
        finished = not last or story.status is PatientStatus.OFF_STUDY
        cid = repos.cycles.add(
            CycleRow(
                eid,
                number,
                phase,
                planned,
                status=CycleStatus.COMPLETED if finished else CycleStatus.STARTED,
                start_date=start,
                delay_days=delay,
                delay_reason="counts not recovered" if delay else None,
                dose_level=story.level,
                bsa_m2=bsa.m2,
                bsa_formula=bsa.formula.value,
                measurement_id=m_id,
                crcl_ml_min=crcl,
                crcl_lab_id=scr_lab,
            ),
            reason=REASON,
        )
        if w.all_doses or last:
            shift = start - plan.start
            w.doses(
                cid,
                [
                    (
                        day.day,
                        day.date + shift,
                        d.drug,
                        d.dose_mg,
                        d.route.value,
                        d.stored_units(),
                    )
                    for day, d in plan.doses()
                ],
            )
        w.cycle_labs(pid, start, rng.uniform(0.3, 0.85), (1, 8, 15, 22))
        w.adverse_events(pid, start, drugs)
        if number == 1:
            first_cycle = (cid, start, _first_drug(protocol, phase))
        end = start + timedelta(days=protocol.cycle_length_days - 1)
        if end <= w.today:
            ends.append((number, end))
    if story.status is not PatientStatus.OFF_STUDY:
        nxt = story.starts[-1] + timedelta(days=protocol.cycle_length_days)
        phase = story.phases[-1]
        if phase != maintenance_phase(protocol.decision_params):
            # The phase the plan gives the next cycle (BPD: maintenance from cycle 13).
            phase = default_phase(protocol, len(story.starts) + 1).key
        repos.cycles.add(
            CycleRow(eid, len(story.starts) + 1, phase, nxt, dose_level=story.level),
            reason=REASON,
        )
    if len(story.starts) > 1 and rng.random() < 0.1:
        # Weight lost since the BSA was computed: -8 % to -14 % (the list flags >= 10 %).
        later = story.starts[-1]
        lost = _q(float(weight) * rng.uniform(0.86, 0.92), "0.1")
        repos.measurements.add(pid, BodyMeasurement(later, lost, height), reason=REASON)
    w.responses(pid, enrolled, ends, story.progress_at)
    target = maintenance_phase(protocol.decision_params)
    if target in story.phases and protocol.phase(target).entry is PhaseEntry.DECISION:
        switch = story.phases.index(target)
        decision_id = repos.decisions.add(
            Decision(
                eid,
                DecisionKind.PHASE,
                "Dr Demo",
                story.starts[switch] - timedelta(days=1),
                {"from": story.phases[switch - 1], "to": target},
                _switch_reason(protocol),
            ),
            reason=REASON,
        )
        _sign(w.record, "decisions", decision_id)
    if story.dlt is not None:
        # Last, so the review stores what the rules propose from the whole cycle 1 record.
        assert first_cycle is not None  # every story has a first cycle
        cid, start, drug = first_cycle
        _write_dlt(w, protocol, (pid, eid, cid), start, story.dlt, drug)


def _start_phase(protocol: Protocol) -> str:
    return next(p.key for p in protocol.phases if p.entry is PhaseEntry.START)


def _switch_cycle(protocol: Protocol) -> int | None:
    """The last cycle before the decision's next phase (DexTR 4, BPD 12); None without one."""
    params = protocol.decision_params
    if params is None:
        return None
    return params.first_decision_cycle or params.after_cycle


def _switch_reason(protocol: Protocol) -> str:
    params = protocol.decision_params
    if params is not None and params.scheme is DecisionScheme.RESPONSE_GATED:
        assert params.plateau_min_cycles is not None
        return f"plateau for more than {params.plateau_min_cycles - 1} cycles"
    return f"{_switch_cycle(protocol)} cycles completed"


def _reduced_drug(protocol: Protocol) -> Drug | None:
    """The drug the demo reduces: the flat-dose drug with the longest reduction ladder
    (DexTR lenalidomide, BPD pomalidomide)."""
    flat = [d for d in protocol.drugs.values() if d.basis is DoseBasis.FLAT and len(d.ladder) > 1]
    return max(flat, key=lambda d: len(d.ladder), default=None)


def _first_drug(protocol: Protocol, phase: str) -> str:
    """The drug a demo DLT is attributed to: the phase's first (BPD bendamustine)."""
    return protocol.phase(phase).doses[0].drug


def _write_dlt(
    w: _Writer, protocol: Protocol, ids: tuple[int, int, int], start: date, dlt: bool, drug: str
) -> None:
    pid, eid, cid = ids
    reviewed = start + timedelta(days=29)
    if reviewed > w.today:
        return  # the cycle-1 window is still open: no review yet
    ae_id = None
    if dlt:
        # A DLT: febrile neutropenia (ANC < 1.0 with fever >= 38.5 °C), possibly related.
        onset = start + timedelta(days=11)
        w.lab(pid, "anc", Decimal("0.6"), onset)
        # The fever of that episode, six hours after the count: the rules can then decide.
        fever = TemperatureReading(_at(onset, 14), Decimal("38.7"), sustained_minutes=60)
        w.repos.temperatures.add(pid, fever, reason=REASON)
        ae = AdverseEvent(
            "Febrile neutropenia",
            3,
            onset,
            onset + timedelta(days=5),
            serious=True,
            attribution={drug: Attribution.POSSIBLE},
        )
        ae_id = w.repos.adverse_events.add(pid, ae, reason=REASON)
    # What the rules propose on the review day, as a real review stores it: an AE of cycle 1
    # with no attribution to a study drug leaves them undecided, and the investigator decides.
    proposal = dlt_review_view(w.record, pid, reviewed, {protocol.key: protocol}).proposal
    review_id = w.repos.dlt_reviews.add(
        DltReview(
            eid,
            proposed=proposal.dlt if proposal is not None else None,
            confirmed=dlt,
            evaluable=True,
            reviewer="Dr Demo",
            reviewed_on=reviewed,
            reason="febrile neutropenia in cycle 1" if dlt else "no DLT in cycle 1",
            cycle_id=cid,
            adverse_event_id=ae_id,
        ),
        reason=REASON,
    )
    _sign(w.record, "dlt_reviews", review_id)


def _dextr_story(rng: random.Random, today: date, protocol: Protocol) -> _Story:
    length = protocol.cycle_length_days
    first, target = _start_phase(protocol), maintenance_phase(protocol.decision_params)
    switch = _switch_cycle(protocol) or 4
    roll = rng.random()
    day = rng.randint(1, length)
    if roll < 0.45 or target is None:
        count = rng.randint(1, switch)
        starts = _cycle_starts(rng, today, count, length, day)
        story = _Story(protocol, starts, [first] * count)
    elif roll < 0.8:
        # DexTR: 4 induction cycles, then 1-4 in maintenance.
        count = rng.randint(switch + 1, switch + 4)
        starts = _cycle_starts(rng, today, count, length, day)
        phases = [first] * switch + [target] * (count - switch)
        story = _Story(protocol, starts, phases, low_crcl=rng.random() < 0.34)
    else:
        count = rng.randint(2, 5)
        starts = _cycle_starts(rng, today, count, length, length + rng.randint(20, 200))
        story = _Story(
            protocol,
            starts,
            [first] * count,
            status=PatientStatus.OFF_STUDY,
            off_reason=OffStudyReason.PROGRESSION,
            progress_at=count - 1 if count > 2 else count,
        )
    if rng.random() < 0.15 and len(story.starts) >= 2:
        story.reduce_from = rng.randint(2, len(story.starts))
    return story


def _bpd_story(
    rng: random.Random,
    today: date,
    protocol: Protocol,
    level: int,
    cohort: str,
    weeks_ago: int,
    dlt: bool | None,
) -> _Story:
    length = protocol.cycle_length_days
    first = today - timedelta(weeks=weeks_ago)
    # Cycles that could have started by today, at most the treatment cycles (BPD 12).
    count = min((today - first).days // length + 1, _switch_cycle(protocol) or 12)
    off = count >= 3 and rng.random() < 0.4
    if off:
        count = rng.randint(2, count - 1)
    starts = [first + timedelta(days=length * i) for i in range(count)]
    phases = [_start_phase(protocol)] * count
    story = _Story(protocol, starts, phases, level=level, cohort=cohort, dlt=dlt)
    if off:
        story.status = PatientStatus.OFF_STUDY
        story.off_reason = rng.choice((OffStudyReason.PROGRESSION, OffStudyReason.TOXICITY))
        if story.off_reason is OffStudyReason.PROGRESSION:
            story.progress_at = count - 1 if count > 2 else count
    if rng.random() < 0.12 and count >= 2:
        story.reduce_from = rng.randint(2, count)
    return story


def _dlt_probability(level: int) -> float:
    # Demo assumption: toxicity rises with the dose level (not protocol data).
    return {-1: 0.05, 1: 0.1, 2: 0.2, 3: 0.3, 4: 0.45}.get(level, 0.3)


DEMO_ACTOR = "demo data generator"
"""Who the audit trail names for demo rows written in open mode (no accounts)."""


def _sign(record: Record, table: str, row_id: int) -> None:
    """Sign a demo decision as the signed-in user (the record refuses unsigned decisions once
    it has accounts; in open mode there is nobody to sign)."""
    if not record.has_users():
        return
    user = record.repos.users.current()
    if user is not None:
        record.repos.signatures.sign(Signer(user, MEANINGS[table]), table, row_id)


def _set_demo_clinic(record: Record) -> None:
    """A clearly fictitious clinic, so a newcomer can print a card at once; a record that
    already names its clinic keeps its own."""
    for key, value in ((CLINIC_NAME, DEMO_CLINIC_NAME), (CLINIC_PHONE, DEMO_CLINIC_PHONE)):
        if not record.repos.settings.value(key):
            record.repos.settings.set(key, value, reason=REASON)


def generate_demo(
    record: Record,
    *,
    patients: int = 40,
    seed: int = 1,
    today: date | None = None,
    force: bool = False,
    protocols: Mapping[str, Protocol] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> DemoResult:
    """Add ``patients`` demo patients to the record (see the module text for the mix)."""
    started_at = time.perf_counter()
    if patients < 1:
        raise DomainError("the number of demo patients must be 1 or more", field="patients")
    today = today or date.today()
    protocols = record_protocols(record) if protocols is None else protocols
    # The 3+3 protocol (BPD) and the others (DexTR, a clinic's own), by what their files say.
    escalating = [p for p in protocols.values() if p.escalation is not None]
    others = [
        p
        for p in protocols.values()
        if p.escalation is None and any(e.entry is PhaseEntry.START for e in p.phases)
    ]
    if not escalating and not others:
        raise DemoRefused("No protocol is loaded, so there is nobody to make demo patients for.")
    skipped: list[str] = []
    if not escalating:
        skipped.append(
            "No protocol with a 3+3 escalation design is loaded, so no escalation patients were "
            "made."
        )
    if not others:
        skipped.append(
            "Only protocols with a 3+3 design are loaded: demo patients stop at its caps."
        )
    bpd = escalating[0] if escalating else None
    total, demo = queries.count_patients(record, MRN_PREFIX)
    if total > demo and not force:
        raise DemoRefused(
            f"The record already holds {total - demo} real (non-demo) patient(s); demo patients "
            "were not added. Use a separate database for demo data, or --force."
        )
    if demo and not force:
        # A second run would start a second 3+3 history at level 1 beside the first one, and
        # the escalation board would rightly refuse the record.
        raise DemoRefused(
            f"The record already holds {demo} demonstration patient(s); demo data is created "
            "once per record. Use a new database for another set."
        )
    rng = random.Random(seed)
    # Place every 3+3 patient with the engine first, so the record obeys the rules.
    wanted_bpd = sum(rng.random() < 0.45 for _ in range(patients))
    if bpd is None:
        wanted_bpd = 0
    elif not others:
        wanted_bpd = patients
    placed: list[EscalationPatient] = []
    cohorts: list[str] = []
    decision_text = "no escalation patients"
    while bpd is not None and bpd.escalation is not None and len(placed) < wanted_bpd:
        design = bpd.escalation
        decision = decide(placed, design)
        decision_text = decision.text()
        if not decision.allowed_levels:
            break
        level = decision.allowed_levels[0]
        expansion = decision.recommended_level is not None
        dlt = None if expansion else rng.random() < _dlt_probability(level)
        status = DltStatus.NO if dlt is None else (DltStatus.YES if dlt else DltStatus.NO)
        placed.append(EscalationPatient(f"p{len(placed)}", level, True, status))
        cohorts.append("expansion" if expansion else "escalation")
    if placed and bpd is not None and bpd.escalation is not None:
        decision_text = decide(placed, bpd.escalation).text()
    escalation_count = cohorts.count("escalation")

    writer = _Writer(record, rng, today, all_doses=patients <= ALL_DOSES_UP_TO)
    stories: list[tuple[_Story, bool]] = []
    counts: dict[str, int] = {p.key: 0 for p in (*escalating[:1], *others)}
    for i, (p, cohort) in enumerate(zip(placed, cohorts, strict=True)):
        assert bpd is not None
        # Escalation cohorts of 3 enrolled about 5 weeks apart; expansion in recent months.
        if cohort == "escalation":
            weeks = 6 + 5 * ((escalation_count - 1 - i) // 3)
        else:  # after the last escalation cohort (6 weeks ago): the 3+3 list order holds
            weeks = rng.randint(1, 5)
        if cohort == "escalation":
            dlt = p.dlt is DltStatus.YES
        else:
            dlt = rng.random() < _dlt_probability(p.level)
        stories.append((_bpd_story(rng, today, bpd, p.level, cohort, weeks, dlt), False))
        counts[bpd.key] += 1
    while others and len(stories) < patients:
        # The other protocols in turn (only DexTR among the built-in ones).
        protocol = others[(len(stories) - len(placed)) % len(others)]
        counts[protocol.key] += 1
        beyond = counts[protocol.key] > protocol.caps.total
        stories.append((_dextr_story(rng, today, protocol), beyond))
    if len(stories) < patients:
        skipped.append(
            f"{patients - len(stories)} of the {patients} patients were not made: the "
            "escalation caps are reached and no other protocol is loaded."
        )
    rng.shuffle(stories)

    number = demo
    written = 0
    if not record.has_users() and record.app_user is None:
        # Open mode: the audit trail names the demo generator, not a person.
        record.set_user(DEMO_ACTOR)
    with record.transaction(reason=REASON):
        _set_demo_clinic(record)
    for offset in range(0, len(stories), CHUNK):
        with record.transaction(reason=REASON):
            for story, beyond in stories[offset : offset + CHUNK]:
                number += 1
                _write_story(writer, number, story, beyond)
        written = min(offset + CHUNK, len(stories))
        if progress is not None:
            progress(written, len(stories))
    return DemoResult(
        patients=len(stories),
        counts=counts,
        escalation_decision=decision_text,
        seconds=time.perf_counter() - started_at,
        skipped=tuple(skipped),
    )
