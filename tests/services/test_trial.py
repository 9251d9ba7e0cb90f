"""The trial board built from the record: 3+3 paths, enrolment, rates with exact CIs, KM curves.

Every cohort is written through the storage repositories (patients, BPD enrolments at dose
levels, cycles, DLT reviews, response assessments, endpoint dates); nothing sets a count by
hand. Expected numbers are worked by hand in the comments.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest

from clinic_app.core.cycles import CycleRow, CycleStatus
from clinic_app.core.decisions import DltReview, EndpointEvent, EndpointKind
from clinic_app.core.endpoints import EndpointDefinitions
from clinic_app.core.errors import DomainError
from clinic_app.core.escalation import DecisionKind, DltStatus, LevelState
from clinic_app.core.protocol import Protocol
from clinic_app.core.protocol_loader import load_protocols
from clinic_app.core.records import (
    Enrolment,
    OffStudyReason,
    Patient,
    PatientStatus,
    ResponseAssessment,
    Sex,
)
from clinic_app.core.response import ResponseCategory
from clinic_app.services.enrolment import EnrolmentRefused, EnrolmentRequest, enrol
from clinic_app.services.trial import (
    EscalationBoard,
    at_risk_times,
    build_endpoints,
    build_enrolment_summary,
    build_escalation_board,
    build_overview,
    cycles_completed,
)
from clinic_app.storage.database import Record

TODAY = date(2025, 3, 10)
START = date(2024, 1, 1)  # cycle 1 day 1 of every endpoint patient
BASELINE_M = Decimal("2.0")  # serum M-protein g/dL at baseline
# Serum M-protein per category against a 2.0 g/dL baseline (IMWG, rules §4):
#   PR: 0.8 is 60 % below baseline (>= 50 %, < 90 %); MR: 1.2 is 40 % below (25-49 %);
#   SD: 1.8 is 10 % below; PD: 2.6 is 0.6 g/dL (>= 0.5) and 44 % (>= 25 %) above a 1.8 nadir,
#   and 0.6 g/dL / 30 % above the 2.0 baseline.
SPIKE = {"PR": "0.8", "MR": "1.2", "SD": "1.8", "PD": "2.6"}


@pytest.fixture(scope="module")
def protocols() -> dict[str, Protocol]:
    return load_protocols()


@pytest.fixture
def bpd(protocols: dict[str, Protocol]) -> Protocol:
    return protocols["bpd"]


class Cohort:
    """Writes BPD patients into the record in enrolment order, one day apart."""

    def __init__(self, record: Record) -> None:
        self.record = record
        self.count = 0

    def add(self, level: int, dlt: str, cohort: str | None = "escalation") -> int:
        """``dlt``: yes / no (confirmed), pending (proposal not confirmed), none (no review),
        replaced (not toxicity-evaluable); ``cohort`` is stored with the enrolment.
        Returns the enrolment id."""
        self.count += 1
        repos = self.record.repos
        n = self.count
        pid = repos.patients.add(
            Patient(f"B-{n:03}", f"Family{n}", "Pat", date(1950, 1, 1), Sex.MALE)
        )
        on = date(2024, 1, 1) + timedelta(days=n)
        eid = repos.enrolments.add(
            Enrolment(pid, "bpd", on, on, {"consent": on}, dose_level=level, cohort=cohort)
        )
        cid = repos.cycles.add(
            CycleRow(eid, 1, "treatment", on, CycleStatus.STARTED, on, dose_level=level)
        )
        review = {
            "yes": DltReview(eid, True, True, True, "Dr Ray", on, cycle_id=cid),
            "no": DltReview(eid, False, False, True, "Dr Ray", on, cycle_id=cid),
            "pending": DltReview(eid, True, None, None, cycle_id=cid),
            "replaced": DltReview(eid, False, False, False, "Dr Ray", on, "withdrew", cid),
        }.get(dlt)
        if review is not None:
            repos.dlt_reviews.add(review)
        return eid

    def many(self, level: int, *dlts: str) -> list[int]:
        return [self.add(level, d) for d in dlts]


def board_of(record: Record, protocol: Protocol) -> EscalationBoard:
    board = build_escalation_board(record, protocol)
    assert board.decision is not None, board.problem
    return board


# -- 3+3 paths (rules §6) -------------------------------------------------------------------------
def test_empty_trial_starts_at_level_1(record: Record, bpd: Protocol) -> None:
    board = board_of(record, bpd)
    assert board.decision_text == "enrol at 1"
    assert board.next_patient.startswith("The next patient goes to level 1 (Bendamustine 120")
    assert [b.level for b in board.levels] == [-1, 1, 2, 3, 4]
    assert board.levels[2].closed_reason is not None  # level 2 is not reached yet


def test_zero_of_three_escalates(record: Record, bpd: Protocol) -> None:
    Cohort(record).many(1, "no", "no", "no")
    board = board_of(record, bpd)
    assert board.decision_text == "enrol at 2"
    level1 = board.levels[1]
    assert (level1.row.treated, level1.row.dlt_yes, level1.row.dlt_no) == (3, 0, 3)
    assert [p.status_text for p in level1.patients] == ["confirmed no"] * 3


def test_one_of_three_expands_then_one_of_six_escalates(record: Record, bpd: Protocol) -> None:
    cohort = Cohort(record)
    cohort.many(1, "no", "yes", "no")
    board = board_of(record, bpd)
    assert board.decision_text == "expand 1 to 6"
    assert board.decision is not None and board.decision.allowed_levels == (1,)
    cohort.many(1, "no", "no", "no")  # 1 DLT of 6
    assert board_of(record, bpd).decision_text == "enrol at 2"


def test_two_of_three_at_level_1_de_escalates_to_minus_1(record: Record, bpd: Protocol) -> None:
    cohort = Cohort(record)
    cohort.many(1, "yes", "no", "yes")
    board = board_of(record, bpd)
    assert board.decision_text == "enrol at -1"
    states = {b.level: b.row.state for b in board.levels}
    assert states[1] is LevelState.TOO_TOXIC
    assert {b.level for b in board.levels if b.closed_reason} == {1, 2, 3, 4}
    # 0 of 3 at -1: the MTD needs 6 there (level 1 above it is too toxic)
    cohort.many(-1, "no", "no", "no")
    assert board_of(record, bpd).decision_text == "expand -1 to 6"
    cohort.many(-1, "no", "yes", "no")  # 1 of 6 at -1
    board = board_of(record, bpd)
    assert board.decision_text == "MTD = -1"
    assert board.decision is not None and board.decision.allowed_levels == (-1,)  # expansion


def test_too_toxic_at_minus_1_stops(record: Record, bpd: Protocol) -> None:
    cohort = Cohort(record)
    cohort.many(1, "yes", "yes", "no")
    cohort.many(-1, "yes", "no", "yes")
    board = board_of(record, bpd)
    assert board.decision_text == "stop: no tolerable dose"
    assert board.next_patient == "Nobody may be enrolled now."


def test_top_level_clean_means_mtd_not_reached(record: Record, bpd: Protocol) -> None:
    cohort = Cohort(record)
    for level in (1, 2, 3):
        cohort.many(level, "no", "no", "no")
    cohort.many(4, "no", "no", "no")
    # 0 of 3 at the top level: "MTD not reached" needs 6 there
    assert board_of(record, bpd).decision_text == "expand 4 to 6"
    cohort.many(4, "yes", "no", "no")  # 1 of 6 at level 4
    board = board_of(record, bpd)
    assert board.decision_text == "MTD not reached (recommend 4)"
    assert board.decision is not None and board.decision.recommended_level == 4


def test_mtd_below_a_toxic_level_then_expansion(record: Record, bpd: Protocol) -> None:
    cohort = Cohort(record)
    cohort.many(1, "no", "no", "no")
    cohort.many(2, "no", "no", "no")
    cohort.many(3, "yes", "yes", "no")
    assert board_of(record, bpd).decision_text == "expand 2 to 6"
    cohort.many(2, "no", "no", "yes")  # 1 of 6 at level 2
    board = board_of(record, bpd)
    assert board.decision_text == "MTD = 2"
    cohort.add(2, "none")  # an expansion patient at the MTD
    board = board_of(record, bpd)
    assert board.decision is not None
    assert board.decision.caps.expansion_enrolled == 1
    # before it: 3 at level 1 + 6 at level 2 + 3 at level 3 = 12 in escalation
    assert board.decision.caps.escalation_enrolled == 12
    summary = build_enrolment_summary(record, bpd, board)
    assert [(c.label, c.enrolled, c.cap) for c in summary.caps] == [
        ("escalation", 12, 24),
        ("expansion", 1, 38),
        ("total", 13, 56),  # 12 + 1
    ]
    assert summary.cap_note is not None and "56" in summary.cap_note


def test_pending_review_holds_then_confirmation_updates_the_board(
    record: Record, bpd: Protocol
) -> None:
    cohort = Cohort(record)
    cohort.many(1, "no", "no")
    last = cohort.add(1, "pending")
    board = board_of(record, bpd)
    assert board.decision_text == "wait for pending DLT results"
    assert board.levels[1].patients[-1].status_text == (
        "pending: the proposal awaits the investigator"
    )
    # The investigator rejects the proposal: no DLT, evaluable.
    [review] = record.repos.dlt_reviews.for_enrolment(last)
    assert review.id is not None
    stored = record.repos.dlt_reviews.get(review.id)
    record.repos.dlt_reviews.update(
        review.id,
        DltReview(last, True, False, True, "Dr Ray", TODAY, cycle_id=review.cycle_id),
        expected_version=stored.version,
        reason="investigator review",
    )
    board = board_of(record, bpd)
    assert board.decision_text == "enrol at 2"
    assert board.levels[1].patients[-1].status_text == "confirmed no"


def test_unreviewed_patient_is_pending_and_replaced_patient_does_not_count(
    record: Record, bpd: Protocol
) -> None:
    cohort = Cohort(record)
    cohort.many(1, "no", "no", "replaced")
    board = board_of(record, bpd)
    # the replaced patient counts against the caps but not in the cohort: 2 of 3 evaluable
    assert board.decision_text == "enrol at 1"
    row = board.levels[1].row
    assert (row.treated, row.evaluable, row.not_evaluable) == (3, 2, 1)
    cohort.add(1, "none")
    board = board_of(record, bpd)
    assert board.decision_text == "wait for pending DLT results"
    assert board.levels[1].patients[-1].status_text == "pending: no DLT review recorded yet"
    assert board.levels[1].patients[-1].dlt is DltStatus.PENDING


def test_board_json_has_decision_reason_and_levels(record: Record, bpd: Protocol) -> None:
    Cohort(record).many(1, "no", "yes", "no")
    data = board_of(record, bpd).to_json()
    assert data["decision"] == "expand 1 to 6"
    assert data["decision_kind"] == DecisionKind.EXPAND_TO_SIX.value
    assert data["allowed_levels"] == [1]
    assert data["reason"].endswith(".")
    level1 = next(level for level in data["levels"] if level["level"] == 1)
    assert (level1["dlt_yes"], level1["dlt_no"], len(level1["patients"])) == (1, 2, 3)


def test_unplaceable_record_is_reported_not_guessed(record: Record, bpd: Protocol) -> None:
    cohort = Cohort(record)
    cohort.many(1, "no", "no", "no", "no", "no", "no", "no")  # a 7th patient at a non-MTD level
    board = build_escalation_board(record, bpd)
    assert board.decision is None
    assert board.problem is not None and "beyond the 6-patient cohort" in board.problem
    assert board.next_patient == "Nobody may be enrolled now."


def test_enrolment_service_refuses_a_closed_level(record: Record, bpd: Protocol) -> None:
    cohort = Cohort(record)
    cohort.many(1, "yes", "yes", "no")  # level 1 too toxic: only -1 is open
    pid = record.repos.patients.add(Patient("N-1", "New", "Nina", date(1960, 5, 5), Sex.FEMALE))
    request = EnrolmentRequest(
        protocol="bpd",
        enrolled_on=date(2025, 3, 5),
        cycle1_start=date(2025, 3, 12),
        gates={"consent": date(2025, 3, 3), "rems_pomalidomide": date(2025, 3, 4)},
        height_cm=Decimal(165),
        weight_kg=Decimal(60),
        measured_on=date(2025, 3, 5),
        creatinine=Decimal(70),
        creatinine_on=date(2025, 3, 5),
        dose_level=2,
    )
    with pytest.raises(EnrolmentRefused) as refused:
        enrol(record, bpd, pid, request, TODAY)
    assert "dose_level" in {p.field for p in refused.value.problems}
    assert "above level 1, which is too toxic" in str(refused.value)
    assert record.repos.enrolments.for_patient(pid) == []  # nothing was written
    # the level the board names is accepted
    board = board_of(record, bpd)
    assert board.decision is not None and board.decision.allowed_levels == (-1,)
    request = EnrolmentRequest(**{**request.__dict__, "dose_level": -1})
    enrol(record, bpd, pid, request, TODAY)
    assert board_of(record, bpd).levels[0].row.treated == 1


# -- enrolment summary (rules §1) ------------------------------------------------------------------
def test_enrolment_counts_by_status_and_off_before_treatment(
    record: Record, protocols: dict[str, Protocol]
) -> None:
    repos = record.repos
    dextr = protocols["dextr"]
    rows = [
        (PatientStatus.ACTIVE, None, True),
        (PatientStatus.ACTIVE, None, True),
        (PatientStatus.MAINTENANCE, None, True),
        (PatientStatus.OFF_STUDY, OffStudyReason.PROGRESSION, True),
        (PatientStatus.OFF_STUDY, OffStudyReason.PROGRESSION, True),
        (PatientStatus.OFF_STUDY, OffStudyReason.WITHDRAWAL, False),  # never started cycle 1
        (PatientStatus.SCREENING, None, False),
    ]
    for n, (status, reason, started) in enumerate(rows):
        pid = repos.patients.add(Patient(f"D-{n}", f"Fam{n}", "Dee", date(1950, 1, 1), Sex.FEMALE))
        off_on = date(2024, 3, 1) if reason else None
        eid = repos.enrolments.add(
            Enrolment(pid, "dextr", START, START, {}, None, None, status, off_on, reason)
        )
        if started:
            repos.cycles.add(CycleRow(eid, 1, "induction", START, CycleStatus.STARTED, START))
    summary = build_enrolment_summary(record, dextr)
    assert [(c.label, c.enrolled, c.cap) for c in summary.caps] == [("total", 7, 45)]
    assert summary.caps[0].text == "7 of 45 (38 left)"  # 45 - 7 = 38
    assert (summary.screening, summary.active, summary.maintenance, summary.off_study) == (
        1,
        2,
        1,
        3,
    )
    assert summary.off_study_reasons == (("progression", 2), ("withdrawal", 1))
    assert [(o.mrn, o.reason) for o in summary.off_before_treatment] == [("D-5", "withdrawal")]
    assert summary.cap_note is None


# -- endpoints (rules §7) --------------------------------------------------------------------------
def treated(
    record: Record,
    mrn: str,
    categories: list[str],
    *,
    protocol: str = "bpd",
    cycles: int | None = None,
    next_therapy: date | None = None,
    off: tuple[date, OffStudyReason] | None = None,
) -> int:
    """A patient starting cycle 1 on START with a baseline 3 days before and an end-of-cycle
    assessment on day 1 of each next cycle (START + 28 n days) in the given categories."""
    repos = record.repos
    pid = repos.patients.add(Patient(mrn, f"Fam-{mrn}", "Eve", date(1950, 1, 1), Sex.FEMALE))
    status, off_on, reason = PatientStatus.ACTIVE, None, None
    if off is not None:
        status, (off_on, reason) = PatientStatus.OFF_STUDY, off
    eid = repos.enrolments.add(
        Enrolment(pid, protocol, START, START, {}, None, None, status, off_on, reason)
    )
    count = len(categories) if cycles is None else cycles
    for number in range(1, count + 1):
        begins = START + timedelta(days=28 * (number - 1))
        repos.cycles.add(CycleRow(eid, number, "induction", begins, CycleStatus.COMPLETED, begins))
    repos.responses.add(
        pid, ResponseAssessment(START - timedelta(days=3), serum_m_protein_g_dl=BASELINE_M)
    )
    for number, category in enumerate(categories, start=1):
        repos.responses.add(
            pid,
            ResponseAssessment(
                START + timedelta(days=28 * number),
                serum_m_protein_g_dl=Decimal(SPIKE[category]),
                end_of_cycle=number,
            ),
        )
    if next_therapy is not None:
        repos.endpoints.add(EndpointEvent(pid, EndpointKind.NEXT_THERAPY, next_therapy))
    return pid


def test_rates_with_exact_cis_worked_by_hand(
    record: Record, protocols: dict[str, Protocol]
) -> None:
    for n in range(3):
        treated(record, f"PR{n}", ["PR", "PR"])
    for n in range(4):
        treated(record, f"SD{n}", ["SD", "SD"])
    for n in range(2):
        treated(record, f"MR{n}", ["MR", "MR"])
    treated(record, "PD0", ["SD", "PD", "PD"])
    treated(record, "ONE", ["PR"], cycles=1)  # 1 cycle: not evaluable for efficacy
    summary = build_endpoints(record, protocols["bpd"])
    rates = summary.rates
    # 10 evaluable. Standard ORR (PR or better): 3/10, Clopper-Pearson 95 %
    # [Beta(0.025; 3, 8), Beta(0.975; 4, 7)] = [0.0667, 0.6525].
    assert rates.orr_standard is not None
    assert (rates.orr_standard.ci.successes, rates.orr_standard.ci.n) == (3, 10)
    assert rates.orr_standard.ci.lower == pytest.approx(0.0667, abs=5e-5)
    assert rates.orr_standard.ci.upper == pytest.approx(0.6525, abs=5e-5)
    # ORR per protocol (SD or better, MR included): 3 + 4 + 2 = 9/10; upper = 0.975 ** (1/10)
    # = exp(ln 0.975 / 10) = exp(-0.0025318) = 0.99747; lower = 1 - upper(1/10) = 1 - 0.4450.
    per_protocol = rates.orr_per_protocol
    assert per_protocol is not None and "per protocol" in per_protocol.label
    assert (per_protocol.ci.successes, per_protocol.ci.n) == (9, 10)
    assert per_protocol.ci.lower == pytest.approx(0.5550, abs=5e-5)
    assert per_protocol.ci.upper == pytest.approx(0.99747, abs=5e-5)
    # Initial rate: the category at the end of cycle 2: PR for 3 of the 10 -> 3/10.
    assert rates.initial is not None and (rates.initial.ci.successes, rates.initial.ci.n) == (3, 10)
    assert [(e.mrn, e.reason) for e in summary.not_evaluable] == [
        ("ONE", "fewer than 2 cycles (1 completed)")
    ]
    best = {p.mrn: p.best_response for p in summary.patients}
    assert best["PR0"] is ResponseCategory.PR and best["MR1"] is ResponseCategory.MR
    assert best["PD0"] is ResponseCategory.PD  # PD on two consecutive assessments


def test_unconfirmed_best_response_is_shown_and_left_out(
    record: Record, protocols: dict[str, Protocol]
) -> None:
    treated(record, "UP", ["SD", "PR"])  # PR seen once; SD met on both assessments
    treated(record, "NB", ["PR", "PD"], cycles=2)  # no category met twice
    summary = build_endpoints(record, protocols["bpd"])
    rows = {p.mrn: p for p in summary.patients}
    assert rows["UP"].best_response is ResponseCategory.SD
    assert rows["UP"].best_unconfirmed is ResponseCategory.PR
    assert rows["UP"].initial_response is ResponseCategory.PR
    assert rows["UP"].initial_response_confirmed is False
    assert rows["NB"].best_response is None
    reasons = {e.mrn: e.reason for e in summary.not_evaluable}
    assert reasons["NB"].startswith("no response confirmed on two consecutive assessments yet")
    assert "seen once: PR" in reasons["NB"]


def test_kaplan_meier_curves_from_the_record(
    record: Record, protocols: dict[str, Protocol]
) -> None:
    # Assessments fall on days 28, 56, 84, 112 after START.
    treated(record, "P1", ["PR", "PR", "PD", "PD"])  # PD confirmed from day 84: PFS event 84
    # P2: no PD, censored at the last assessment, day 84; next therapy 2024-05-01:
    # Jan 31 + Feb 29 + Mar 31 + Apr 30 = 121 days after 2024-01-01.
    treated(record, "P2", ["SD", "SD", "SD"], next_therapy=date(2024, 5, 1))
    treated(record, "P3", ["PR", "PR", "PR", "PR"])  # censored at day 112
    treated(record, "P4", ["SD", "PD", "PD"])  # PD confirmed from day 56: PFS event 56
    treated(record, "P5", [], cycles=0)  # never started
    summary = build_endpoints(record, protocols["bpd"])
    pfs, dor, ttnt = summary.curves
    assert pfs.km is not None and dor.km is not None and ttnt.km is not None
    # PFS: 56 E, 84 E, 84 C, 112 C. Day 56: 4 at risk, 1 event -> 3/4. Day 84: 3 at risk,
    # 1 event (the censored one still at risk) -> 3/4 * 2/3 = 1/2 -> median 84 days.
    assert [(s.time_days, s.at_risk, s.events, s.censored) for s in pfs.km.steps] == [
        (56, 4, 1, 0),
        (84, 3, 1, 1),
        (112, 1, 0, 1),
    ]
    assert str(pfs.km.steps[1].survival_exact) == "1/2"
    assert pfs.km.median_days == 84
    # At-risk columns every 30 days up to 112 (112 // 30 = 3 <= 6): 0, 30, 60, 90.
    assert pfs.at_risk_times == (0, 30, 60, 90)
    assert pfs.at_risk == (4, 4, 3, 1)
    assert [e.mrn for e in pfs.excluded] == ["P5"]
    # Duration of response (the protocol's TTP): P1 from day 28 to 84 = 56 days, event;
    # P3 from day 28 to 112 = 84 days, censored. P2 and P4 never responded.
    assert dor.label == "duration of response (protocol's TTP)"
    assert [(s.time_days, s.events, s.censored) for s in dor.km.steps] == [(56, 1, 0), (84, 0, 1)]
    assert {e.mrn for e in dor.excluded} == {"P2", "P4", "P5"}
    # TTNT: P2 event at 121; P1, P3 censored at day 112 (their last assessment), P4 at 84.
    assert [(s.time_days, s.events, s.censored) for s in ttnt.km.steps] == [
        (84, 0, 1),
        (112, 0, 2),
        (121, 1, 0),
    ]


def test_single_pd_is_censored_and_said_so(record: Record, protocols: dict[str, Protocol]) -> None:
    treated(record, "Q1", ["SD", "SD", "PD"])
    summary = build_endpoints(record, protocols["bpd"])
    pfs = summary.curves[0]
    assert pfs.km is not None
    assert [(s.time_days, s.events, s.censored) for s in pfs.km.steps] == [(84, 0, 1)]
    assert any("not confirmed yet" in note for note in summary.patients[0].notes)


def test_off_study_for_progression_counts_the_first_pd(
    record: Record, protocols: dict[str, Protocol]
) -> None:
    # PD once on day 56, then off study for progression: PFS event at day 56.
    treated(record, "Q2", ["SD", "PD"], off=(date(2024, 3, 1), OffStudyReason.PROGRESSION))
    pfs = build_endpoints(record, protocols["bpd"]).curves[0]
    assert pfs.km is not None
    assert [(s.time_days, s.events) for s in pfs.km.steps] == [(56, 1)]


def test_missing_baseline_is_named(record: Record, protocols: dict[str, Protocol]) -> None:
    pid = treated(record, "NOB", ["SD", "SD"])
    [baseline, *_] = record.repos.responses.for_patient(pid)
    assert baseline.id is not None
    record.repos.responses.void(
        baseline.id, expected_version=record.repos.responses.get(baseline.id).version, reason="x"
    )
    summary = build_endpoints(record, protocols["bpd"])
    assert [e.reason for e in summary.not_evaluable] == [
        "no baseline response assessment on or before cycle 1 day 1"
    ]


def test_cycles_completed_rules() -> None:
    c1 = CycleRow(1, 1, "induction", START, CycleStatus.STARTED, START)
    c2 = CycleRow(1, 2, "induction", START, CycleStatus.STARTED, START + timedelta(28))
    c3 = CycleRow(1, 3, "induction", START, CycleStatus.PLANNED)
    # cycle 1 is followed by a started cycle 2; cycle 2 is still running; 3 is only planned
    assert cycles_completed([c1, c2, c3], []) == 1
    closing = ResponseAssessment(START + timedelta(56), end_of_cycle=2)
    assert cycles_completed([c1, c2, c3], [closing]) == 2


def test_at_risk_spacing() -> None:
    # 42 // 7 = 6 columns after day 0 -> weekly; 43 // 7 = 6 still; 50 // 7 = 7 -> fortnightly
    assert at_risk_times(42) == (0, 7, 14, 21, 28, 35, 42)
    assert at_risk_times(50) == (0, 14, 28, 42)


def test_overview_has_record_version_and_board(record: Record, bpd: Protocol) -> None:
    cohort = Cohort(record)
    cohort.many(1, "no", "no", "no")
    overview = build_overview(record, bpd, TODAY)
    assert overview.board is not None and overview.board.decision_text == "enrol at 2"

    def change(version: str) -> int:  # "schema 2 · change 27" -> 27
        return int(version.rsplit(" ", 1)[1])

    assert change(overview.record_version) > 0
    before = overview.record_version
    cohort.add(2, "none")
    assert change(build_overview(record, bpd, TODAY).record_version) > change(before)


def test_off_study_for_progression_without_a_confirmed_category_counts_as_non_responder(
    record: Record, protocols: dict[str, Protocol]
) -> None:
    # Two cycles, MR once then PD once, off study for progression: no category is met twice,
    # but the progression is counted (PFS event), so the patient is a non-responder in both
    # overall rates, not left out of them. 3 PR/PR + this patient: standard ORR 3/4,
    # per protocol 3/4 (PD is not SD or better); before the fix both read 3/3.
    for n in range(3):
        treated(record, f"PR{n}", ["PR", "PR"])
    treated(record, "MP", ["MR", "PD"], off=(date(2024, 3, 1), OffStudyReason.PROGRESSION))
    summary = build_endpoints(record, protocols["bpd"])
    rows = {p.mrn: p for p in summary.patients}
    assert rows["MP"].best_response is ResponseCategory.PD
    assert rows["MP"].best_unconfirmed is ResponseCategory.MR
    rates = summary.rates
    assert rates.orr_standard is not None and rates.orr_per_protocol is not None
    assert (rates.orr_standard.ci.successes, rates.orr_standard.ci.n) == (3, 4)
    assert (rates.orr_per_protocol.ci.successes, rates.orr_per_protocol.ci.n) == (3, 4)
    assert summary.not_evaluable == ()
    # Still active after PR then a single PD: the PD may yet be unconfirmed, so left out.
    treated(record, "NB", ["PR", "PD"], cycles=2)
    again = build_endpoints(record, protocols["bpd"])
    assert {e.mrn for e in again.not_evaluable} == {"NB"}


# -- data as of a date ---------------------------------------------------------------------------
def test_board_as_of_counts_only_enrolments_and_verdicts_dated_by_then(
    record: Record, bpd: Protocol
) -> None:
    cohort = Cohort(record)
    cohort.many(1, "no", "no", "no")  # enrolled and reviewed on 2024-01-02, -03, -04
    late = cohort.add(2, "pending")  # enrolled 2024-01-05, proposal open
    stored = record.repos.dlt_reviews.for_enrolment(late)[0]
    assert stored.id is not None
    record.repos.dlt_reviews.update(
        stored.id,
        DltReview(late, True, True, True, "Dr Ray", date(2024, 2, 1), cycle_id=stored.cycle_id),
        expected_version=record.repos.dlt_reviews.get(stored.id).version,
        reason="investigator's verdict",
    )
    # Now: 3 x no at level 1, 1 confirmed DLT at level 2 (reviewed 2024-02-01).
    now = build_escalation_board(record, bpd)
    level2 = next(b for b in now.levels if b.level == 2)
    assert level2.row.dlt_yes == 1 and level2.patients[0].status_text == "confirmed yes"
    # On 2024-01-03 only the first two were enrolled (01-02, 01-03), both confirmed no:
    # level 1 treated 2, no 2; nobody at level 2.
    early = build_escalation_board(record, bpd, date(2024, 1, 3))
    level1 = next(b for b in early.levels if b.level == 1)
    assert (level1.row.treated, level1.row.dlt_no, level1.row.dlt_pending) == (2, 2, 0)
    assert sum(len(b.patients) for b in early.levels) == 2
    # On 2024-01-20 the level-2 patient was enrolled but the DLT verdict (02-01) was not
    # recorded yet: pending, not "confirmed yes".
    mid = build_escalation_board(record, bpd, date(2024, 1, 20))
    level2 = next(b for b in mid.levels if b.level == 2)
    assert (level2.row.treated, level2.row.dlt_yes, level2.row.dlt_pending) == (1, 0, 1)
    assert level2.patients[0].status_text == "pending: no DLT review recorded yet"
    # The day of the verdict counts it (on or before).
    on_day = build_escalation_board(record, bpd, date(2024, 2, 1))
    assert next(b for b in on_day.levels if b.level == 2).row.dlt_yes == 1


def test_enrolment_and_endpoints_as_of_a_date(
    record: Record, protocols: dict[str, Protocol]
) -> None:
    dextr = protocols["bpd"]  # BPD defines the endpoints (bpd.toml [endpoints])
    # Assessments on days 28, 56, 84, 112 after START (2024-01-29, 02-26, 03-25, 04-22);
    # cycles start on days 0, 28, 56, 84.
    treated(record, "P1", ["PR", "PR", "PD", "PD"])
    # Off study for progression on 2024-03-01 (day 60), after PD once on day 56.
    treated(record, "Q2", ["SD", "PD"], off=(date(2024, 3, 1), OffStudyReason.PROGRESSION))
    full = build_overview(record, dextr, TODAY)
    assert (full.enrolment.active, full.enrolment.off_study) == (1, 1)
    pfs = full.endpoints.curves[0]
    assert pfs.km is not None
    # Whole record: Q2 PFS event day 56 (PD once, off for progression); P1 PD confirmed day 84.
    assert [(s.time_days, s.events, s.censored) for s in pfs.km.steps] == [(56, 1, 0), (84, 1, 0)]

    as_of = date(2024, 2, 27)  # day 57: Q2 not yet off study, P1's cycle 3 started day 56
    then = build_overview(record, dextr, as_of)
    assert (then.enrolment.active, then.enrolment.off_study) == (2, 0)
    assert then.enrolment.off_study_reasons == ()
    rows = {p.mrn: p for p in then.endpoints.patients}
    # P1: assessments day 28 PR, day 56 PR -> PR met twice; cycles 1, 2 completed (a later
    # cycle started by day 57); cycle 3 is marked completed but nothing dates that by then.
    assert rows["P1"].best_response is ResponseCategory.PR
    assert rows["P1"].cycles_completed == 2
    # Q2: SD day 28, PD day 56 once, still on study on day 57 -> PD unconfirmed, censored.
    assert rows["Q2"].best_response is None
    pfs = then.endpoints.curves[0]
    assert pfs.km is not None
    # Both censored at their last assessment by then, day 56: no events.
    assert [(s.time_days, s.events, s.censored) for s in pfs.km.steps] == [(56, 0, 2)]
    assert then.endpoints.rates.orr_standard is not None
    # Evaluable: P1 only (2 cycles, PR); Q2 has 2 cycles but no confirmed category -> out.
    assert (
        then.endpoints.rates.orr_standard.ci.successes,
        then.endpoints.rates.orr_standard.ci.n,
    ) == (1, 1)
    assert any("P1" in n and "cycle 3 is marked completed" in n for n in then.undated)
    assert full.undated == ()

    # Before anyone was enrolled: nothing counts.
    before = build_overview(record, dextr, START - timedelta(days=1))
    assert before.endpoints.patients == ()
    assert before.enrolment.caps[-1].enrolled == 0


def test_endpoints_follow_the_protocols_own_definitions(
    record: Record, protocols: dict[str, Protocol]
) -> None:
    """The same record read with BPD's [endpoints] (2, 2) and with a protocol evaluable after
    3 cycles whose initial response is read at the end of cycle 3."""
    treated(record, "P1", ["SD", "PR", "PR"])  # 3 cycles: SD, PR, PR at the ends of 1-3
    treated(record, "P2", ["PR", "PR"])  # 2 cycles
    bpd = protocols["bpd"]
    summary = build_endpoints(record, bpd)
    assert summary.rates is not None and summary.rates.initial is not None
    # BPD: both have 2 cycles; the end of cycle 2 is PR for both -> 2/2
    assert summary.rates.initial.ci.text().startswith("2/2 (100 %")
    assert summary.definitions == EndpointDefinitions(2, 2)

    later = replace(bpd, endpoints=EndpointDefinitions(3, 3))
    summary = build_endpoints(record, later)
    assert summary.rates is not None and summary.rates.initial is not None
    # Evaluable after 3 cycles: P1 only; its end-of-cycle-3 response is PR -> 1/1
    assert summary.rates.initial.label.endswith("after cycle 3)")
    assert summary.rates.initial.ci.text().startswith("1/1 (100 %")
    assert [(e.mrn, e.reason) for e in summary.not_evaluable] == [
        ("P2", "fewer than 3 cycles (2 completed)")
    ]
    rows = {p.mrn: p for p in summary.patients}
    # P1 cycle 3 PR: met with cycle 2's PR, so confirmed; P2 has no cycle-3 assessment
    assert rows["P1"].initial_response is ResponseCategory.PR
    assert rows["P1"].initial_response_confirmed is True
    assert rows["P2"].initial_response is None


def test_a_protocol_without_endpoints_has_no_rates_and_no_curves(
    record: Record, protocols: dict[str, Protocol]
) -> None:
    treated(record, "D1", ["PR", "PR", "PD", "PD"], protocol="dextr")
    summary = build_endpoints(record, protocols["dextr"])  # dextr.toml: no [endpoints]
    assert (summary.definitions, summary.rates, summary.curves) == (None, None, ())
    assert summary.not_evaluable == ()
    [row] = summary.patients
    # The IMWG reading is still shown: PR met twice (ends of cycles 1 and 2)
    assert row.best_response is ResponseCategory.PR and row.initial_response is None


def test_no_escalation_design_means_no_board(record: Record, bpd: Protocol) -> None:
    # A protocol without [escalation] has no escalation: no board, never a default design.
    without = replace(bpd, escalation=None)
    assert build_overview(record, without, TODAY).board is None
    with pytest.raises(DomainError, match="BPD has no dose escalation"):
        build_escalation_board(record, without)
