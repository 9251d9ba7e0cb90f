"""Starting a cycle on a real record: conditions, weight flag, BSA/CrCl, carried reductions,
delays, overrides, the maintenance switch, BPD dose level 2 and dexamethasone 20 mg.

Every expected number is worked by hand in a comment next to it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from clinic_app.core.cycles import CycleRow, CycleStatus
from clinic_app.core.decisions import Decision, DecisionKind
from clinic_app.core.protocol import Protocol
from clinic_app.core.protocol_loader import load_protocols
from clinic_app.core.records import (
    BodyMeasurement,
    DoseModification,
    DoseStatus,
    Enrolment,
    LabResult,
    Patient,
    Sex,
)
from clinic_app.services.cycle_start import (
    StartRefused,
    StartRequest,
    check_start,
    gather_start,
    start_cycle,
)
from clinic_app.services.enrolment import EnrolmentRequest, enrol
from clinic_app.storage.database import Record

ENROLLED = date(2025, 3, 3)
C1 = date(2025, 3, 10)
C2 = date(2025, 4, 7)  # rules §1: 2025-03-10 + 28 days


@pytest.fixture(scope="module")
def protocols() -> dict[str, Protocol]:
    return load_protocols()


def count(record: Record, table: str) -> int:
    return int(record.sql.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def add_lab(record: Record, pid: int, test: str, value: str, unit: str, on: date) -> int:
    v = Decimal(value)
    from clinic_app.core import labs

    return record.repos.labs.add(
        pid,
        LabResult(
            test,
            v,
            unit,
            datetime(on.year, on.month, on.day, 8, tzinfo=UTC),
            labs.to_si(test, v, unit),
        ),
    )


def dextr_patient(record: Record, protocols: dict[str, Protocol]) -> int:
    """Antonín Dvořák, male, born 1965-03-10, enrolled on DexTR 2025-03-03 (170 cm, 72 kg,
    creatinine 88.4 µmol/L = 1 mg/dL on 2025-03-03), cycle 1 planned for 2025-03-10."""
    pid = record.repos.patients.add(
        Patient("D-1", "Dvořák", "Antonín", date(1965, 3, 10), Sex.MALE)
    )
    gates = {
        k: ENROLLED
        for k in (
            "consent",
            "rems_lenalidomide",
            "rems_thalidomide",
            "prior_thalidomide",
            "prior_lenalidomide",
        )
    }
    enrol(
        record,
        protocols["dextr"],
        pid,
        EnrolmentRequest(
            protocol="dextr",
            enrolled_on=ENROLLED,
            cycle1_start=C1,
            gates=gates,
            height_cm=Decimal(170),
            weight_kg=Decimal(72),
            measured_on=ENROLLED,
            creatinine=Decimal("88.4"),
            creatinine_unit="µmol/L",
            creatinine_on=ENROLLED,
        ),
        ENROLLED,
    )
    return pid


def good_counts(record: Record, pid: int, on: date) -> None:
    add_lab(record, pid, "anc", "1.5", "10^9/L", on)
    add_lab(record, pid, "platelets", "150", "10^9/L", on)


def req(start: date, **changes: object) -> StartRequest:
    values: dict[str, object] = {
        "start": start,
        "height_cm": Decimal(170),
        "weight_kg": Decimal(71),
    }
    values.update(changes)
    return StartRequest(**values)  # type: ignore[arg-type]


def fields(check: object) -> set[str]:
    return {p.field for p in check.problems}  # type: ignore[attr-defined]


def test_cycle1_start_shows_everything_and_writes_one_transaction(
    record: Record, protocols: dict[str, Protocol]
) -> None:
    pid = dextr_patient(record, protocols)
    good_counts(record, pid, date(2025, 3, 9))
    context = gather_start(record, pid, protocols)
    assert context.number == 1 and context.target is not None
    check = check_start(context, req(C1), C1)
    assert check.ok, check.problems
    # Weight 71 kg vs 72 kg behind the enrolment BSA: -1/72 = -1.39 % < 10 %: BSA kept.
    assert check.weight_change is not None and not check.weight_change.needs_recalculation
    # kept BSA: sqrt(170 * 72 / 3600) = sqrt(3.4) = 1.8439 -> 1.84; new one 1.83 (71 kg)
    assert check.bsa is not None and check.bsa.m2 == Decimal("1.84")
    assert check.new_bsa is not None and check.new_bsa.m2 == Decimal("1.83")
    # CrCl: age 59 on 2025-03-03 (birthday 03-10), (140 - 59) * 71 / (72 * 1) = 79.875 exact
    assert check.crcl is not None and check.crcl.ml_min == Decimal("79.875")
    assert all(c.met for c in check.conditions) and len(check.conditions) == 2
    assert {line.test: line.age_days for line in check.labs} == {
        "anc": 1,
        "platelets": 1,
        "creatinine": 7,  # 2025-03-03 -> 2025-03-10
    }
    assert check.delay_days == 0 and check.phase == "induction"
    plan = check.plan
    assert plan is not None
    # dex 12 days (1-4, 9-12, 17-20) + thal 28 + len 21 = 61 doses
    assert len(plan.doses()) == 61
    day1 = {d.drug: d for d in plan.days[0].doses}
    assert day1["dexamethasone"].units == ((Decimal(20), 2),)  # 40 mg = 2 x 20 mg
    assert day1["thalidomide"].dose_mg == Decimal(50)
    assert day1["lenalidomide"].units == ((Decimal(25), 1),)

    before_doses = count(record, "dose_events")
    result = start_cycle(record, pid, req(C1), C1, protocols)
    cycle = record.repos.cycles.get(result.cycle_id).value
    assert cycle.status is CycleStatus.STARTED and cycle.start_date == C1
    assert cycle.number == 1 and cycle.bsa_m2 == Decimal("1.84")
    assert cycle.crcl_ml_min == Decimal("79.875")  # stored exact (the renal rule's value)
    live = record.repos.doses.for_cycle(result.cycle_id)
    assert len(live) == 61 and all(d.status is DoseStatus.PLANNED for d in live)
    # the enrolment's 61 planned doses were voided (kept in the record), 61 new ones added
    assert count(record, "dose_events") == before_doses + 61
    assert count(record, "body_measurements") == 2


def test_refusals_leave_the_record_unchanged(
    record: Record, protocols: dict[str, Protocol]
) -> None:
    pid = dextr_patient(record, protocols)
    good_counts(record, pid, date(2025, 3, 9))
    before = {t: count(record, t) for t in ("cycles", "dose_events", "body_measurements")}
    with pytest.raises(StartRefused) as info:
        start_cycle(record, pid, req(date(2025, 3, 11)), C1, protocols)  # tomorrow
    assert "future" in str(info.value)
    with pytest.raises(StartRefused):
        start_cycle(record, pid, req(C1, weight_kg=None), C1, protocols)
    with pytest.raises(StartRefused):
        start_cycle(record, pid, req(C1, weight_kg=Decimal(-3)), C1, protocols)
    assert {t: count(record, t) for t in before} == before
    cycle = record.repos.cycles.for_enrolment(1)[0]
    assert cycle.status is CycleStatus.PLANNED


def test_cycle2_refused_before_cycle1_is_over(
    record: Record, protocols: dict[str, Protocol]
) -> None:
    pid = dextr_patient(record, protocols)
    good_counts(record, pid, date(2025, 3, 9))
    start_cycle(record, pid, req(C1), C1, protocols)
    good_counts(record, pid, date(2025, 4, 5))
    # cycle 1 day 28 is 2025-04-06, so 2025-04-06 is too early and 2025-04-07 is on time
    early = check_start(gather_start(record, pid, protocols), req(date(2025, 4, 6)), C2)
    assert "start" in fields(early)
    assert "2025-04-07 at the earliest" in " ".join(early.messages("start"))
    on_time = check_start(gather_start(record, pid, protocols), req(C2), C2)
    assert on_time.ok and on_time.number == 2 and on_time.delay_days == 0


def test_delay_needs_a_reason_and_is_recorded(
    record: Record, protocols: dict[str, Protocol]
) -> None:
    pid = dextr_patient(record, protocols)
    good_counts(record, pid, date(2025, 3, 9))
    start_cycle(record, pid, req(C1), C1, protocols)
    late = date(2025, 4, 9)  # planned 2025-04-07: 2 days late
    good_counts(record, pid, late)
    check = check_start(gather_start(record, pid, protocols), req(late), late)
    assert check.delay_days == 2 and fields(check) == {"delay_reason"}
    result = start_cycle(
        record, pid, req(late, delay_reason="counts not recovered"), late, protocols
    )
    cycle = record.repos.cycles.get(result.cycle_id).value
    assert (cycle.planned_start, cycle.start_date) == (C2, late)
    assert (cycle.delay_days, cycle.delay_reason) == (2, "counts not recovered")
    first = record.repos.cycles.for_enrolment(1)[0]
    assert first.status is CycleStatus.COMPLETED


@pytest.mark.parametrize(
    ("anc", "met"),
    [("1.0", True), ("1.01", True), ("0.99", False)],  # lenalidomide label: ANC >= 1.0
)
def test_anc_condition_at_the_boundary(
    record: Record, protocols: dict[str, Protocol], anc: str, met: bool
) -> None:
    pid = dextr_patient(record, protocols)
    add_lab(record, pid, "anc", anc, "10^9/L", C1)
    add_lab(record, pid, "platelets", "30", "10^9/L", C1)  # exactly the minimum: met
    check = check_start(gather_start(record, pid, protocols), req(C1), C1)
    by_test = {c.condition.test: c for c in check.conditions}
    assert by_test["platelets"].met
    assert by_test["anc"].met is met
    assert ("override_reason" in fields(check)) is not met


@pytest.mark.parametrize(
    ("drawn", "missing"), [(date(2025, 3, 7), False), (date(2025, 3, 6), True)]
)
def test_lab_older_than_three_days_counts_as_missing(
    record: Record, protocols: dict[str, Protocol], drawn: date, missing: bool
) -> None:
    # 2025-03-07 -> 2025-03-10 is 3 days (inside the window); 2025-03-06 is 4 days: missing
    pid = dextr_patient(record, protocols)
    good_counts(record, pid, drawn)
    check = check_start(gather_start(record, pid, protocols), req(C1), C1)
    assert all(c.missing is missing for c in check.conditions)
    if missing:
        assert "MISSING" in check.conditions[0].describe()
        assert "2025-03-06" in check.conditions[0].describe()


def test_failed_anc_needs_an_override_reason_recorded_as_a_decision(
    record: Record, protocols: dict[str, Protocol]
) -> None:
    pid = dextr_patient(record, protocols)
    add_lab(record, pid, "anc", "0.8", "10^9/L", date(2025, 3, 9))
    add_lab(record, pid, "platelets", "120", "10^9/L", date(2025, 3, 9))
    check = check_start(gather_start(record, pid, protocols), req(C1), C1)
    assert fields(check) == {"override_reason"}
    (failed,) = check.failed_conditions
    assert "NOT MET" in failed.describe() and "0.8" in failed.describe()
    assert "2025-03-09" in failed.describe()
    with pytest.raises(StartRefused):
        start_cycle(record, pid, req(C1), C1, protocols)
    no_who = check_start(
        gather_start(record, pid, protocols), req(C1, override_reason="investigator"), C1
    )
    assert fields(no_who) == {"decided_by"}
    start_cycle(
        record,
        pid,
        req(C1, override_reason="ANC recovering, investigator agrees", decided_by="Dr Novák"),
        C1,
        protocols,
    )
    (decision,) = record.repos.decisions.for_enrolment(1, DecisionKind.CONDITION_OVERRIDE)
    assert decision.decided_by == "Dr Novák"
    assert decision.payload["conditions"][0]["value"] == "0.8"
    assert decision.payload["cycle"] == 1


@pytest.mark.parametrize(
    ("kg", "flagged"),
    [("64.8", True), ("64.9", False), ("79.2", True), ("79.1", False)],
    # against 72 kg: 64.8 = -10 % exactly; 64.9 = -9.86 %; 79.2 = +10 %; 79.1 = +9.86 %
)
def test_weight_change_of_ten_percent_must_be_acknowledged(
    record: Record, protocols: dict[str, Protocol], kg: str, flagged: bool
) -> None:
    pid = dextr_patient(record, protocols)
    good_counts(record, pid, C1)
    check = check_start(gather_start(record, pid, protocols), req(C1, weight_kg=Decimal(kg)), C1)
    assert ("weight_ack" in fields(check)) is flagged
    if flagged:
        acked = check_start(
            gather_start(record, pid, protocols),
            req(C1, weight_kg=Decimal(kg), weight_change_acknowledged=True),
            C1,
        )
        assert acked.ok
        assert acked.bsa is acked.new_bsa  # recalculated from the new weight
        result = start_cycle(
            record,
            pid,
            req(C1, weight_kg=Decimal(kg), weight_change_acknowledged=True),
            C1,
            protocols,
        )
        cycle = record.repos.cycles.get(result.cycle_id).value
        assert cycle.measurement_id == result.measurement_id


def test_reduction_carries_into_cycle_2(record: Record, protocols: dict[str, Protocol]) -> None:
    pid = dextr_patient(record, protocols)
    good_counts(record, pid, C1)
    start_cycle(record, pid, req(C1), C1, protocols)
    record.repos.modifications.add(
        1,
        DoseModification(
            "lenalidomide", Decimal(25), Decimal(20), "grade 4 neutropenia", 2, "Dr Novák", C1
        ),
    )
    good_counts(record, pid, C2)
    check = check_start(gather_start(record, pid, protocols), req(C2), C2)
    assert check.ok
    assert [m.new_dose for m in check.carried] == [Decimal(20)]
    assert check.plan is not None
    day1 = {d.drug: d for d in check.plan.days[0].doses}
    assert day1["lenalidomide"].dose_mg == Decimal(20)
    assert day1["lenalidomide"].units == ((Decimal(20), 1),)
    assert day1["thalidomide"].dose_mg == Decimal(100)  # cycle 2 on: 100 mg days 1-28


def test_missing_gate_or_enrolment_refuses(record: Record, protocols: dict[str, Protocol]) -> None:
    pid = record.repos.patients.add(Patient("D-2", "Roe", "Ann", date(1960, 1, 1), Sex.FEMALE))
    none = check_start(gather_start(record, pid, protocols), req(C1), C1)
    assert fields(none) == {"enrolment"} and "not enrolled" in none.problems[0].message
    record.repos.enrolments.add(Enrolment(pid, "dextr", ENROLLED, ENROLLED, {"consent": ENROLLED}))
    gated = check_start(gather_start(record, pid, protocols), req(C1), C1)
    assert any("REMS patient agreement for lenalidomide" in m for m in gated.messages("enrolment"))


def dextr_after_four_cycles(record: Record, protocols: dict[str, Protocol]) -> int:
    """The DexTR patient through induction cycles 1-4 (2025-03-10 ... 2025-06-02) with an
    accepted switch to maintenance; cycle 5 can start on 2025-06-30."""
    pid = dextr_patient(record, protocols)
    repos = record.repos
    (c1,) = repos.cycles.for_enrolment(1)
    assert c1.id is not None
    starts = [date(2025, 3, 10), date(2025, 4, 7), date(2025, 5, 5), date(2025, 6, 2)]
    stored = repos.cycles.get(c1.id)
    repos.cycles.update(
        c1.id,
        CycleRow(**{**c1.__dict__, "status": CycleStatus.COMPLETED, "start_date": starts[0]}),
        expected_version=stored.version,
        reason="test",
    )
    for n, on in enumerate(starts[1:], start=2):
        repos.cycles.add(
            CycleRow(
                1,
                n,
                "induction",
                on,
                CycleStatus.STARTED,
                on,
                bsa_m2=c1.bsa_m2,
                bsa_formula="mosteller",
                measurement_id=c1.measurement_id,
            )
        )
    repos.decisions.add(
        Decision(
            1,
            DecisionKind.PHASE,
            "Dr Novák",
            date(2025, 6, 29),
            {"from": "induction", "to": "maintenance", "cycle": 4},
            "plateau > 2 cycles",
        )
    )
    return pid


def test_dextr_maintenance_switch_from_an_accepted_decision(
    record: Record, protocols: dict[str, Protocol]
) -> None:
    pid = dextr_after_four_cycles(record, protocols)
    c5 = date(2025, 6, 30)  # 2025-06-02 + 28
    good_counts(record, pid, c5)
    # Maintenance lenalidomide depends on CrCl (rules §1), so a current creatinine is needed.
    add_lab(record, pid, "creatinine", "1.0", "mg/dL", c5)
    check = check_start(gather_start(record, pid, protocols), req(c5), c5)
    assert check.ok, check.problems
    assert check.number == 5 and check.phase == "maintenance"
    assert "Dr Novák" in check.phase_note
    assert check.plan is not None
    drugs = {d.drug for _, d in check.plan.doses()}
    assert drugs == {"dexamethasone", "lenalidomide"}  # thalidomide stops
    assert check.plan.dosing_days("dexamethasone") == (1, 8, 15, 22)


def test_maintenance_start_refuses_a_stale_creatinine(
    record: Record, protocols: dict[str, Protocol]
) -> None:
    # Rules §2: labs older than the window (3 days) count as missing; DexTR maintenance
    # lenalidomide is capped at 15 mg below CrCl 40 mL/min, so the dose needs a current one.
    pid = dextr_after_four_cycles(record, protocols)
    c5 = date(2025, 6, 30)
    good_counts(record, pid, c5)
    # Only the enrolment creatinine of 2025-03-03: 2025-06-30 - 2025-03-03 = 119 days old.
    check = check_start(gather_start(record, pid, protocols), req(c5), c5)
    assert "creatinine" in fields(check)
    assert any("119 days old" in m for m in check.messages("creatinine"))
    with pytest.raises(StartRefused):
        start_cycle(record, pid, req(c5), c5, protocols)
    assert len(record.repos.cycles.for_enrolment(1)) == 4  # nothing written

    # Just above the window: 2025-06-26 is 4 days before day 1 -> still refused.
    add_lab(record, pid, "creatinine", "3.0", "mg/dL", date(2025, 6, 26))
    check = check_start(gather_start(record, pid, protocols), req(c5), c5)
    assert any("4 days old" in m for m in check.messages("creatinine"))

    # At the window: 2025-06-27 is 3 days before day 1 -> used.
    add_lab(record, pid, "creatinine", "3.0", "mg/dL", date(2025, 6, 27))
    check = check_start(gather_start(record, pid, protocols), req(c5), c5)
    assert check.ok, check.problems
    # Age 60 on 2025-06-27 (born 1965-03-10): (140 - 60) * 71 / (72 * 3.0) = 5680 / 216
    # = 26.296 mL/min (shown 26.2) < 40 -> lenalidomide min(15, 25) = 15 mg.
    assert check.crcl is not None and check.crcl.ml_min == Decimal(5680) / Decimal(216)
    assert check.plan is not None
    day1 = {d.drug: d for d in check.plan.days[0].doses}
    assert day1["lenalidomide"].dose_mg == Decimal(15)


def test_induction_start_keeps_an_older_creatinine(
    record: Record, protocols: dict[str, Protocol]
) -> None:
    # Induction doses do not depend on CrCl: the 7-day-old enrolment creatinine is shown with
    # its age but does not block cycle 1 (see the first test: creatinine age 7).
    pid = dextr_patient(record, protocols)
    good_counts(record, pid, date(2025, 3, 9))
    check = check_start(gather_start(record, pid, protocols), req(C1), C1)
    assert "creatinine" not in fields(check)


def bpd_level2_patient(record: Record, weight: str = "80") -> int:
    repos = record.repos
    pid = repos.patients.add(Patient("B-1", "Nowak", "Ewa", date(1958, 5, 20), Sex.FEMALE))
    repos.enrolments.add(
        Enrolment(
            pid,
            "bpd",
            ENROLLED,
            ENROLLED,
            {"consent": ENROLLED, "rems_pomalidomide": ENROLLED},
            dose_level=2,
            cohort="escalation",
        )
    )
    repos.measurements.add(pid, BodyMeasurement(ENROLLED, Decimal(weight), Decimal(165)))
    add_lab(record, pid, "creatinine", "1.0", "mg/dL", ENROLLED)
    return pid


def test_bpd_dose_level_2_start_with_bsa_rounding(
    record: Record, protocols: dict[str, Protocol]
) -> None:
    pid = bpd_level2_patient(record)
    good_counts(record, pid, C1)
    request = req(C1, height_cm=Decimal(165), weight_kg=Decimal(80))
    check = check_start(gather_start(record, pid, protocols), request, C1)
    assert check.ok, check.problems
    # BSA sqrt(165 * 80 / 3600) = sqrt(3.6667) = 1.9149 -> 1.91 m² (no earlier BSA)
    assert check.bsa is not None and check.bsa.m2 == Decimal("1.91")
    assert check.plan is not None and check.plan.dose_level == 2
    (note,) = [n for n in check.plan.dose_notes if n.drug == "bendamustine"]
    assert note.rounding is not None
    # 120 mg/m² x 1.91 = 229.2 mg -> nearest 5 mg = 230 mg (+0.8 / 229.2 = +0.3 %)
    assert note.rounding.calculated_mg == Decimal("229.20")
    assert note.rounding.rounded_mg == Decimal(230)
    assert note.rounding.difference_pct == Decimal("0.3")
    day1 = {d.drug: d for d in check.plan.days[0].doses}
    assert day1["pomalidomide"].units == ((Decimal(4), 1),)  # level 2: 4 mg
    assert day1["dexamethasone"].dose_mg == Decimal(40)
    result = start_cycle(record, pid, request, C1, protocols)
    cycle = record.repos.cycles.get(result.cycle_id).value
    assert (cycle.number, cycle.dose_level, cycle.bsa_m2) == (1, 2, Decimal("1.91"))
    assert cycle.measurement_id == result.measurement_id
    benda = [d for d in record.repos.doses.for_cycle(result.cycle_id) if d.drug == "bendamustine"]
    assert [d.dose_mg for d in benda] == [Decimal(230)]


def test_bpd_dexamethasone_20_is_a_recorded_decision_from_cycle_7(
    record: Record, protocols: dict[str, Protocol]
) -> None:
    pid = bpd_level2_patient(record)
    m_id = record.repos.measurements.for_patient(pid)[0].id
    on = C1  # cycles 1-6 from 2025-03-10, 28 days apart: cycle 7 on 2025-08-25
    for n in range(1, 7):
        record.repos.cycles.add(
            CycleRow(
                1,
                n,
                "treatment",
                on,
                CycleStatus.COMPLETED if n < 6 else CycleStatus.STARTED,
                on,
                dose_level=2,
                bsa_m2=Decimal("1.91"),
                bsa_formula="mosteller",
                measurement_id=m_id,
            )
        )
        last = on
        on = date.fromordinal(on.toordinal() + 28)
    c7 = on
    assert last == date(2025, 7, 28) and c7 == date(2025, 8, 25)
    good_counts(record, pid, c7)
    base = req(c7, height_cm=Decimal(165), weight_kg=Decimal(80))
    plain = check_start(gather_start(record, pid, protocols), base, c7)
    assert plain.ok and plain.number == 7
    assert [c.available for c in plain.options] == [True]
    no_who = check_start(
        gather_start(record, pid, protocols),
        req(
            c7,
            height_cm=Decimal(165),
            weight_kg=Decimal(80),
            elect_options=frozenset({"dexamethasone_20"}),
        ),
        c7,
    )
    assert fields(no_who) == {"decided_by"}
    elect = req(
        c7,
        height_cm=Decimal(165),
        weight_kg=Decimal(80),
        elect_options=frozenset({"dexamethasone_20"}),
        decided_by="Dr Kim",
    )
    result = start_cycle(record, pid, elect, c7, protocols)
    doses = {d.drug: d.dose_mg for d in record.repos.doses.for_cycle(result.cycle_id)}
    assert doses["dexamethasone"] == Decimal(20)
    # One encoding: an "option" decision naming the option's key.
    (decision,) = record.repos.decisions.for_enrolment(1, DecisionKind.OPTION)
    assert (decision.decided_by, decision.decided_on) == ("Dr Kim", c7)
    assert decision.payload["option"] == "dexamethasone_20"
    assert record.repos.cycles.get(result.cycle_id).value.elected_options == {
        "dexamethasone_20": "20 mg"
    }
