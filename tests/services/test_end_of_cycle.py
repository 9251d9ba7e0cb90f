"""End of cycle: DexTR plateau -> maintenance with the right lenalidomide dose; recording
the decision (accept, reject, off study) and the BPD dexamethasone option, on a real record."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from clinic_app.core.decisions import Decision, DecisionKind
from clinic_app.core.errors import DomainError, MissingDataError
from clinic_app.core.phase_decision import NextStep
from clinic_app.core.protocol_loader import load_protocols
from clinic_app.core.records import (
    DoseModification,
    OffStudyReason,
    PatientStatus,
    ResponseAssessment,
)
from clinic_app.services.end_of_cycle import (
    accept_proposal,
    elect_option,
    end_of_cycle_view,
    reject_proposal,
    take_off_study,
)
from clinic_app.storage.database import Record
from clinic_app.storage.errors import StaleRecordError

from .helpers import cycle, enrol, lab, patient, weight

PROTOCOLS = load_protocols()
# Cycles of 28 days: Jan 2, Jan 30, Feb 27, Mar 26 (2024 is a leap year); cycle 5 is planned
# for Mar 26 + 28 = Apr 23.
STARTS = [date(2024, 1, 2), date(2024, 1, 30), date(2024, 2, 27), date(2024, 3, 26)]
END_OF_C4 = date(2024, 4, 22)  # cycle 4 day 28


def assess(record: Record, pid: int, on: date, serum: str, end_of_cycle: int | None) -> None:
    record.repos.responses.add(
        pid, ResponseAssessment(on, serum_m_protein_g_dl=Decimal(serum), end_of_cycle=end_of_cycle)
    )


def dextr_four_cycles(
    record: Record,
    creatinine_mg_dl: str | None = "1.0",
    reduced: bool = True,
    *,
    cycles: int = 4,
    assessed: int = 4,
) -> tuple[int, int]:
    # Patient born 1955-06-01, female (helpers.patient): 68 years old on 2024-04-22.
    pid = patient(record, "D-1", "Plateau")
    eid = enrol(record, pid, "dextr", date(2023, 12, 28))
    for n, s in enumerate(STARTS[:cycles], 1):
        cycle(record, eid, n, "induction", s, s)
    if cycles == 4:
        cycle(record, eid, 5, "induction", date(2024, 4, 23))  # planned, not started
    if reduced:
        record.repos.modifications.add(
            eid,
            DoseModification(
                "lenalidomide",
                Decimal(25),
                Decimal(20),
                "grade 4 neutropenia",
                2,
                "Dr A",
                date(2024, 1, 25),
            ),
        )
    weight(record, pid, date(2024, 4, 20), "72")
    if creatinine_mg_dl is not None:
        lab(record, pid, "creatinine", creatinine_mg_dl, "mg/dL", date(2024, 4, 21))
    assess(record, pid, date(2024, 1, 1), "3.0", None)  # baseline
    # End of cycle 1: 2.0 (33 % below baseline: MR). Cycles 2-4: 1.4, 1.2, 1.3.
    # Plateau from cycle 2: |1.2 - 1.4| = 0.2 and |1.3 - 1.4| = 0.1 are within 25 % of 1.4
    # (0.35); from cycle 1 it is not: |1.4 - 2.0| = 0.6 > 25 % of 2.0 (0.5).
    ends = [(date(2024, 1, 29), "2.0"), (date(2024, 2, 26), "1.4"), (date(2024, 3, 25), "1.2")]
    ends.append((END_OF_C4, "1.3"))
    for n, (on, serum) in enumerate(ends[:assessed], 1):
        assess(record, pid, on, serum, n)
    return pid, eid


def test_plateau_after_four_cycles_proposes_maintenance_at_the_reduced_dose(
    record: Record,
) -> None:
    pid, _eid = dextr_four_cycles(record, "1.0")
    view = end_of_cycle_view(record, pid, END_OF_C4, PROTOCOLS)
    assert view.cycle is not None and view.cycle.number == 4
    assert view.proposal is not None and view.proposal.proposal is NextStep.NEXT_PHASE
    assert "Plateau for more than 2 cycles from cycle 2" in view.proposal.reasons[0]
    m = view.maintenance
    assert m is not None and not m.missing and m.cycle == 5
    # CrCl (female, 68 y, 72 kg, SCr 1.0): (140 - 68) * 72 / (72 * 1.0) * 0.85 = 61.2 mL/min,
    # not below 40: lenalidomide = the dose induction ended on (25 reduced to 20) = 20 mg.
    assert m.crcl is not None and m.crcl.ml_min == Decimal("61.2")
    assert m.doses_mg == {"dexamethasone": Decimal(20), "lenalidomide": Decimal(20)}
    assert "Lenalidomide 20 mg" in view.proposal.maintenance_dose_note  # type: ignore[operator]
    assert view.can_decide


@pytest.mark.parametrize(
    ("scr", "crcl", "lenalidomide"),
    [
        # 61.2 / 1.53 = 40.0 exactly: not below 40, so the induction dose (20 mg) stays.
        ("1.53", "40.0", Decimal(20)),
        # 61.2 / 1.52 = 40.26, shown cut to 40.2: 20 mg.
        ("1.52", "40.2", Decimal(20)),
        # 61.2 / 1.54 = 39.74 -> 39.7 < 40: the lower of 15 mg and 20 mg = 15 mg.
        ("1.54", "39.7", Decimal(15)),
    ],
)
def test_maintenance_lenalidomide_renal_cap_at_its_boundary(
    record: Record, scr: str, crcl: str, lenalidomide: Decimal
) -> None:
    pid, _ = dextr_four_cycles(record, scr)
    m = end_of_cycle_view(record, pid, END_OF_C4, PROTOCOLS).maintenance
    assert m is not None and m.crcl is not None
    assert m.crcl.shown_ml_min == Decimal(crcl)  # the rule itself reads the exact ml_min
    assert m.doses_mg["lenalidomide"] == lenalidomide


def test_without_a_reduction_maintenance_lenalidomide_is_25_mg(record: Record) -> None:
    pid, _ = dextr_four_cycles(record, "1.0", reduced=False)
    m = end_of_cycle_view(record, pid, END_OF_C4, PROTOCOLS).maintenance
    assert m is not None and m.doses_mg["lenalidomide"] == Decimal(25)


def test_missing_creatinine_is_said_and_blocks_acceptance(record: Record) -> None:
    pid, _ = dextr_four_cycles(record, None)
    view = end_of_cycle_view(record, pid, END_OF_C4, PROTOCOLS)
    assert view.maintenance is not None and view.maintenance.doses_mg == {}
    assert "no creatinine is recorded" in view.maintenance.note
    with pytest.raises(MissingDataError):
        accept_proposal(record, view, decided_by="Dr A", decided_on=END_OF_C4, today=END_OF_C4)
    assert record.repos.decisions.for_enrolment(view.enrolment.id or 0) == []  # type: ignore[union-attr]


def test_stale_creatinine_counts_as_missing(record: Record) -> None:
    pid, _ = dextr_four_cycles(record, None)
    # DexTR lab_max_age_days = 3: a creatinine of Apr 18 is 4 days old on Apr 22.
    lab(record, pid, "creatinine", "1.0", "mg/dL", date(2024, 4, 18))
    m = end_of_cycle_view(record, pid, END_OF_C4, PROTOCOLS).maintenance
    assert m is not None and "more than 3 days old" in m.note
    weight(record, pid, date(2024, 4, 19), "72")
    lab(record, pid, "creatinine", "1.0", "mg/dL", date(2024, 4, 19))  # 3 days: current
    m = end_of_cycle_view(record, pid, END_OF_C4, PROTOCOLS).maintenance
    assert m is not None and not m.missing


def test_accepting_maintenance_moves_enrolment_and_next_cycle_in_one_go(record: Record) -> None:
    pid, eid = dextr_four_cycles(record, "1.54")
    view = end_of_cycle_view(record, pid, END_OF_C4, PROTOCOLS)
    decision_id = accept_proposal(
        record, view, decided_by="Dr A", decided_on=END_OF_C4, today=END_OF_C4
    )
    decision = record.repos.decisions.get(decision_id).value
    assert decision.kind is DecisionKind.PHASE
    assert decision.payload["accepted"] is True
    assert (decision.payload["from"], decision.payload["to"]) == ("induction", "maintenance")
    assert "Lenalidomide 15 mg" in decision.payload["maintenance_doses"]
    assert record.repos.enrolments.get(eid).value.status is PatientStatus.MAINTENANCE
    c5 = next(c for c in record.repos.cycles.for_enrolment(eid) if c.number == 5)
    assert c5.phase == "maintenance"
    # A second decision for the same cycle is refused.
    again = end_of_cycle_view(record, pid, END_OF_C4, PROTOCOLS)
    assert not again.can_decide
    with pytest.raises(DomainError, match="already recorded"):
        reject_proposal(
            record, again, decided_by="Dr B", decided_on=END_OF_C4, today=END_OF_C4, reason="x"
        )


def test_rejecting_needs_a_reason_and_changes_nothing_else(record: Record) -> None:
    pid, eid = dextr_four_cycles(record)
    view = end_of_cycle_view(record, pid, END_OF_C4, PROTOCOLS)
    with pytest.raises(DomainError) as refused:
        reject_proposal(
            record, view, decided_by="Dr A", decided_on=END_OF_C4, today=END_OF_C4, reason=" "
        )
    assert refused.value.field == "reason"
    with pytest.raises(DomainError) as future:
        reject_proposal(
            record,
            view,
            decided_by="Dr A",
            decided_on=date(2024, 4, 23),
            today=END_OF_C4,
            reason="x",
        )
    assert future.value.field == "decided_on"
    with pytest.raises(DomainError) as nobody:
        reject_proposal(
            record, view, decided_by="", decided_on=END_OF_C4, today=END_OF_C4, reason="x"
        )
    assert nobody.value.field == "decided_by"
    assert record.repos.decisions.for_enrolment(eid) == []
    reject_proposal(
        record,
        view,
        decided_by="Dr A",
        decided_on=END_OF_C4,
        today=END_OF_C4,
        reason="M-spike trend still falling; one more induction cycle",
    )
    [d] = record.repos.decisions.for_enrolment(eid)
    assert d.payload["accepted"] is False and d.reason.startswith("M-spike trend")
    assert record.repos.enrolments.get(eid).value.status is PatientStatus.ACTIVE


def test_before_cycle_4_induction_continues_and_no_assessment_means_waiting(
    record: Record,
) -> None:
    pid, _ = dextr_four_cycles(record, cycles=3, assessed=3)
    view = end_of_cycle_view(record, pid, date(2024, 3, 25), PROTOCOLS)
    assert view.cycle is not None and view.cycle.number == 3
    assert view.proposal is not None
    assert view.proposal.proposal is NextStep.CONTINUE
    assert view.maintenance is None


def test_without_the_closing_assessment_nothing_can_be_decided(record: Record) -> None:
    pid, _ = dextr_four_cycles(record, assessed=3)
    # Day 27 of cycle 4: the cycle-4 assessment is not recorded yet.
    waiting = end_of_cycle_view(record, pid, date(2024, 4, 21), PROTOCOLS)
    assert waiting.proposal is not None
    assert waiting.proposal.proposal is NextStep.AWAIT_ASSESSMENT
    assert not waiting.can_decide
    with pytest.raises(DomainError, match="record the end-of-cycle response"):
        accept_proposal(
            record,
            waiting,
            decided_by="Dr A",
            decided_on=date(2024, 4, 21),
            today=date(2024, 4, 21),
        )


def test_progression_proposes_off_study_and_acceptance_records_date_and_reason(
    record: Record,
) -> None:
    pid, eid = dextr_four_cycles(record)
    # Nadir 1.2 (cycle 3); 1.8 at cycle 4 is +50 % and +0.6 g/dL (>= 25 % and >= 0.5): PD;
    # a second PD (2.0) confirms it.
    stored = record.repos.responses.for_patient(pid)[-1]
    assert stored.id is not None
    record.repos.responses.void(stored.id, expected_version=1, reason="entered in error")
    assess(record, pid, date(2024, 4, 15), "1.8", None)
    assess(record, pid, END_OF_C4, "2.0", 4)
    view = end_of_cycle_view(record, pid, END_OF_C4, PROTOCOLS)
    assert view.proposal is not None and view.proposal.proposal is NextStep.OFF_STUDY
    with pytest.raises(DomainError) as no_reason:
        accept_proposal(record, view, decided_by="Dr A", decided_on=END_OF_C4, today=END_OF_C4)
    assert no_reason.value.field == "off_study_reason"
    accept_proposal(
        record,
        view,
        decided_by="Dr A",
        decided_on=END_OF_C4,
        today=END_OF_C4,
        reason="confirmed progression",
        off_study_reason=OffStudyReason.PROGRESSION,
    )
    e = record.repos.enrolments.get(eid).value
    assert (e.status, e.off_study_on, e.off_study_reason) == (
        PatientStatus.OFF_STUDY,
        END_OF_C4,
        OffStudyReason.PROGRESSION,
    )
    kinds = [d.kind for d in record.repos.decisions.for_enrolment(eid)]
    assert kinds == [DecisionKind.PHASE, DecisionKind.OFF_STUDY]


def test_off_study_any_time_refuses_bad_dates(record: Record) -> None:
    pid, eid = dextr_four_cycles(record)
    with pytest.raises(DomainError) as early:
        take_off_study(
            record,
            pid,
            on=date(2023, 12, 1),
            why=OffStudyReason.WITHDRAWAL,
            details="withdrew consent",
            decided_by="Dr A",
            today=END_OF_C4,
        )
    assert early.value.field == "off_study_on"
    with pytest.raises(DomainError):
        take_off_study(
            record,
            pid,
            on=date(2024, 5, 1),
            why=OffStudyReason.WITHDRAWAL,
            details="withdrew consent",
            decided_by="Dr A",
            today=END_OF_C4,
        )
    assert record.repos.enrolments.get(eid).value.status is PatientStatus.ACTIVE
    take_off_study(
        record,
        pid,
        on=date(2024, 4, 2),
        why=OffStudyReason.WITHDRAWAL,
        details="withdrew consent",
        decided_by="Dr A",
        today=END_OF_C4,
    )
    assert record.repos.enrolments.get(eid).value.off_study_on == date(2024, 4, 2)


def bpd_patient(record: Record, cycles: int) -> tuple[int, int]:
    pid = patient(record, "B-7", "Seven")
    eid = enrol(record, pid, "bpd", date(2023, 6, 1), dose_level=2, cohort="escalation")
    start = date(2023, 6, 5)
    for n in range(1, cycles + 1):
        s = date.fromordinal(start.toordinal() + 28 * (n - 1))
        cycle(record, eid, n, "treatment", s, s, dose_level=2)
    nxt = date.fromordinal(start.toordinal() + 28 * cycles)
    cycle(record, eid, cycles + 1, "treatment", nxt, dose_level=2)
    assess(record, pid, date(2023, 6, 2), "2.0", None)
    for n in range(1, cycles + 1):
        end = date.fromordinal(start.toordinal() + 28 * n - 1)
        assess(record, pid, end, "0.9", n)  # 55 % below 2.0: PR
    return pid, eid


def test_bpd_after_cycle_6_offers_the_dexamethasone_option(record: Record) -> None:
    pid, eid = bpd_patient(record, 6)
    # Cycle 6 started 2023-06-05 + 140 days = 2023-10-23; day 28 = 2023-11-19.
    today = date(2023, 11, 19)
    view = end_of_cycle_view(record, pid, today, PROTOCOLS)
    assert view.proposal is not None and view.proposal.proposal is NextStep.CONTINUE
    # The option as the file gives it (bpd.toml [[options]], from cycle 7): key and label.
    [option] = view.proposal.protocol_options()
    assert (option.key, option.label) == (
        "dexamethasone_20",
        "Dexamethasone 20 mg (investigator's decision, after 6 cycles)",
    )
    with pytest.raises(DomainError):
        elect_option(
            record,
            view,
            "dexamethasone_20",
            decided_by="Dr B",
            decided_on=today,
            today=today,
            reason="",
        )
    elect_option(
        record,
        view,
        "dexamethasone_20",
        decided_by="Dr B",
        decided_on=today,
        today=today,
        reason="steroid myopathy",
    )
    # One encoding: an "option" decision naming the key; cycle 7 elects it by key.
    [d] = record.repos.decisions.for_enrolment(eid, DecisionKind.OPTION)
    assert (d.decided_by, d.decided_on) == ("Dr B", today)
    assert d.payload == {"option": "dexamethasone_20", "cycle": 6, "from_cycle": 7}
    c7 = next(c for c in record.repos.cycles.for_enrolment(eid) if c.number == 7)
    assert c7.elected_options == {"dexamethasone_20": "20 mg"}
    # Once taken, the option is no longer offered.
    again = end_of_cycle_view(record, pid, today, PROTOCOLS)
    assert again.proposal is not None
    assert again.proposal.protocol_options() == ()


def test_an_old_bpd_dex_20_decision_still_counts_as_the_option(record: Record) -> None:
    # Records written before options were data hold a "bpd_dex_20" decision: it is read as
    # the dexamethasone_20 option of BPD, and stays as it was written.
    pid, eid = bpd_patient(record, 7)
    with record.transaction(reason="test"):
        record.repos.decisions.add(
            Decision(eid, DecisionKind.LEGACY_OPTION, "Dr B", date(2023, 11, 19), {"cycle": 6})
        )
    today = date(2023, 12, 17)  # cycle 7 day 28: 2023-06-05 + 168 + 27
    view = end_of_cycle_view(record, pid, today, PROTOCOLS)
    assert view.proposal is not None and view.proposal.protocol_options() == ()
    kinds = [d.kind for d in record.repos.decisions.for_enrolment(eid)]
    assert kinds == [DecisionKind.LEGACY_OPTION]


def test_bpd_before_cycle_6_has_no_dexamethasone_option(record: Record) -> None:
    pid, _ = bpd_patient(record, 5)
    today = date(2023, 10, 22)  # cycle 5 day 28: 2023-06-05 + 112 + 27
    view = end_of_cycle_view(record, pid, today, PROTOCOLS)
    assert view.proposal is not None and view.proposal.options == ()
    with pytest.raises(DomainError, match="does not offer Dexamethasone 20 mg"):
        elect_option(
            record,
            view,
            "dexamethasone_20",
            decided_by="Dr B",
            decided_on=today,
            today=today,
            reason="x",
        )


def test_bpd_after_cycle_12_proposes_maintenance(record: Record) -> None:
    pid, eid = bpd_patient(record, 12)
    # Cycle 12 starts 2023-06-05 + 308 = 2024-04-08; day 28 = 2024-05-05.
    today = date(2024, 5, 5)
    view = end_of_cycle_view(record, pid, today, PROTOCOLS)
    assert view.proposal is not None and view.proposal.proposal is NextStep.NEXT_PHASE
    m = view.maintenance
    # BPD maintenance at dose level 2: pomalidomide 4 mg, dexamethasone 40 mg; no bendamustine.
    assert m is not None and not m.missing
    assert m.doses_mg == {"pomalidomide": Decimal(4), "dexamethasone": Decimal(40)}
    accept_proposal(record, view, decided_by="Dr B", decided_on=today, today=today)
    c13 = next(c for c in record.repos.cycles.for_enrolment(eid) if c.number == 13)
    assert c13.phase == "maintenance"


def test_a_decision_from_an_old_panel_never_overwrites_off_study(record: Record) -> None:
    # Two windows open the end-of-cycle panel; in one the patient is taken off study
    # (withdrawal); the other then accepts the maintenance proposal it still shows.
    pid, eid = dextr_four_cycles(record, "1.54")
    old_view = end_of_cycle_view(record, pid, END_OF_C4, PROTOCOLS)
    assert old_view.can_decide
    take_off_study(
        record,
        pid,
        on=END_OF_C4,
        why=OffStudyReason.WITHDRAWAL,
        details="withdrew consent",
        decided_by="Dr B",
        today=END_OF_C4,
    )
    audit_rows = record.sql.execute("SELECT count(*) FROM audit_log").fetchone()[0]
    for act in (accept_proposal, reject_proposal):
        with pytest.raises(StaleRecordError, match="off study since 2024-04-22"):
            act(
                record,
                old_view,
                decided_by="Dr A",
                decided_on=END_OF_C4,
                today=END_OF_C4,
                reason="plateau",
            )
    e = record.repos.enrolments.get(eid).value
    assert (e.status, e.off_study_reason) == (PatientStatus.OFF_STUDY, OffStudyReason.WITHDRAWAL)
    c5 = next(c for c in record.repos.cycles.for_enrolment(eid) if c.number == 5)
    assert c5.phase == "induction"
    assert [d.kind for d in record.repos.decisions.for_enrolment(eid)] == [DecisionKind.OFF_STUDY]
    assert record.sql.execute("SELECT count(*) FROM audit_log").fetchone()[0] == audit_rows


def test_two_panels_cannot_both_decide_one_cycle_end(record: Record) -> None:
    pid, eid = dextr_four_cycles(record, "1.54")
    first = end_of_cycle_view(record, pid, END_OF_C4, PROTOCOLS)
    second = end_of_cycle_view(record, pid, END_OF_C4, PROTOCOLS)
    accept_proposal(record, first, decided_by="Dr A", decided_on=END_OF_C4, today=END_OF_C4)
    with pytest.raises(StaleRecordError, match="recorded after the panel was opened"):
        reject_proposal(
            record, second, decided_by="Dr B", decided_on=END_OF_C4, today=END_OF_C4, reason="no"
        )
    assert len(record.repos.decisions.for_enrolment(eid, DecisionKind.PHASE)) == 1
