"""Enrolment rules: gates, caps, the BPD level from the 3+3 engine, BSA and CrCl, one transaction.

Every expected number is worked by hand in a comment next to it.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from clinic_app.core.cycles import CycleStatus
from clinic_app.core.decisions import DltReview
from clinic_app.core.escalation import DltStatus, EscalationPatient
from clinic_app.core.protocol import Protocol
from clinic_app.core.records import Patient, PatientStatus, Sex
from clinic_app.services.enrolment import (
    EnrolmentContext,
    EnrolmentRefused,
    EnrolmentRequest,
    check_enrolment,
    dlt_status,
    enrol,
    escalation_design,
    gather_context,
    uses_escalation,
)
from clinic_app.storage.database import Record

TODAY = date(2025, 3, 10)
P = EscalationPatient


def patient(sex: Sex = Sex.MALE, mrn: str = "T-1", pid: int | None = 1) -> Patient:
    # Born 1965-03-10: 60 on 2025-03-10 exactly, 59 the day before (age in whole years).
    return Patient(mrn, "Dvořák", "Antonín", date(1965, 3, 10), sex, id=pid)


def request(protocol: str, **changes: object) -> EnrolmentRequest:
    gates = {
        "consent": date(2025, 3, 3),
        "rems_lenalidomide": date(2025, 3, 4),
        "rems_thalidomide": date(2025, 3, 4),
        "rems_pomalidomide": date(2025, 3, 4),
        "prior_thalidomide": date(2025, 3, 3),
        "prior_lenalidomide": date(2025, 3, 3),
    }
    values: dict[str, object] = {
        "protocol": protocol,
        "enrolled_on": date(2025, 3, 5),
        "cycle1_start": date(2025, 3, 12),
        "gates": gates,
        "height_cm": Decimal(170),
        "weight_kg": Decimal(72),
        "measured_on": date(2025, 3, 5),
        "creatinine": Decimal("88.4"),
        "creatinine_unit": "µmol/L",
        "creatinine_on": TODAY,
        "dose_level": 1 if protocol == "bpd" else None,
    }
    values.update(changes)
    return EnrolmentRequest(**values)  # type: ignore[arg-type]


def fields(check: object) -> set[str]:
    return {p.field for p in check.problems}  # type: ignore[attr-defined]


# -- BSA and CrCl ------------------------------------------------------------------------------
def test_bsa_and_crcl_worked_by_hand(protocols: dict[str, Protocol]) -> None:
    check = check_enrolment(
        protocols["dextr"], patient(), request("dextr"), EnrolmentContext(0), TODAY
    )
    assert check.ok, check.problems
    assert check.bsa is not None and check.crcl is not None
    # Mosteller: sqrt(170 * 72 / 3600) = sqrt(3.4) = 1.8439 -> 1.84 m²
    assert check.bsa.m2 == Decimal("1.84")
    # Cockcroft-Gault: 88.4 µmol/L / 88.4 = 1 mg/dL; age 60 on 2025-03-10;
    # (140 - 60) * 72 / (72 * 1) = 80.0 mL/min (male)
    assert check.crcl.ml_min == Decimal("80.0")
    assert check.crcl.age_years == 60


def test_crcl_female_and_age_on_the_lab_day(protocols: dict[str, Protocol]) -> None:
    # Drawn the day before the 60th birthday: age 59. (140 - 59) * 72 / 72 = 81, * 0.85 = 68.85
    # mL/min, kept exact for the renal rules (shown cut to one decimal: 68.8).
    req = request("dextr", creatinine_on=date(2025, 3, 9), creatinine=Decimal(1))
    req = EnrolmentRequest(**{**req.__dict__, "creatinine_unit": "mg/dL"})
    check = check_enrolment(
        protocols["dextr"], patient(Sex.FEMALE), req, EnrolmentContext(0), TODAY
    )
    assert check.crcl is not None
    assert check.crcl.age_years == 59
    assert check.crcl.ml_min == Decimal("68.85")


def test_missing_and_implausible_body_values_are_named(protocols: dict[str, Protocol]) -> None:
    check = check_enrolment(
        protocols["dextr"],
        patient(),
        request("dextr", height_cm=None, creatinine=Decimal("0.5")),
        EnrolmentContext(0),
        TODAY,
    )
    # 0.5 µmol/L is below the catalogue's refuse_below of 1 µmol/L: a typing error.
    assert {"height_cm", "creatinine"} <= fields(check)
    assert check.bsa is None and check.crcl is None and check.plan is None
    heavy = check_enrolment(
        protocols["dextr"],
        patient(),
        request("dextr", weight_kg=Decimal(301)),  # input limits: weight 25-300 kg
        EnrolmentContext(0),
        TODAY,
    )
    assert "weight_kg" in fields(heavy)
    # A height typed in metres is named even while the weight is not a number yet: every
    # wrong field says so at once (input limits: height 100-250 cm).
    both = check_enrolment(
        protocols["dextr"],
        patient(),
        request(
            "dextr", height_cm=Decimal("1.65"), weight_kg=None, not_numbers={"weight_kg": "abc"}
        ),
        EnrolmentContext(0),
        TODAY,
    )
    assert {"height_cm", "weight_kg"} <= fields(both)
    said = {p.field: p.message for p in both.problems}
    assert "Height 1.65 cm is outside the plausible range" in said["height_cm"]


def test_letters_in_a_number_field_are_not_a_number(protocols: dict[str, Protocol]) -> None:
    # Issue 14: "abc" in creatinine is not a missing creatinine.
    typed = request(
        "dextr",
        creatinine=None,
        weight_kg=None,
        not_numbers={"creatinine": "abc", "weight_kg": "7o"},
    )
    check = check_enrolment(protocols["dextr"], patient(), typed, EnrolmentContext(0), TODAY)
    said = {p.field: p.message for p in check.problems}
    assert said["creatinine"] == (
        "'abc' is not a number: type the serum creatinine in µmol/L in digits, e.g. 85."
    )
    assert said["weight_kg"] == "'7o' is not a number: type the weight in kg in digits, e.g. 68.5."
    assert check.crcl is None and not check.ok
    mg = request("dextr", creatinine=None, creatinine_unit="mg/dL", not_numbers={"creatinine": "x"})
    check = check_enrolment(protocols["dextr"], patient(), mg, EnrolmentContext(0), TODAY)
    assert {p.field: p.message for p in check.problems}["creatinine"] == (
        "'x' is not a number: type the serum creatinine in mg/dL in digits, e.g. 0.96."
    )
    # Nothing typed: the field is asked for.
    empty = request("dextr", creatinine=None)
    check = check_enrolment(protocols["dextr"], patient(), empty, EnrolmentContext(0), TODAY)
    assert {p.field: p.message for p in check.problems}["creatinine"] == (
        "Enter the serum creatinine in µmol/L."
    )


# -- gates (rules §1) --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "gate",
    ["consent", "rems_lenalidomide", "rems_thalidomide", "prior_thalidomide", "prior_lenalidomide"],
)
def test_dextr_needs_every_gate(protocols: dict[str, Protocol], gate: str) -> None:
    gates = dict(request("dextr").gates)
    del gates[gate]
    check = check_enrolment(
        protocols["dextr"], patient(), request("dextr", gates=gates), EnrolmentContext(0), TODAY
    )
    assert fields(check) == {f"gate:{gate}"}
    assert "Not recorded" in check.messages(f"gate:{gate}")[0]


def test_bpd_needs_consent_and_pomalidomide_rems_only(protocols: dict[str, Protocol]) -> None:
    gates = {"consent": date(2025, 3, 3), "rems_pomalidomide": date(2025, 3, 4)}
    check = check_enrolment(
        protocols["bpd"], patient(), request("bpd", gates=gates), EnrolmentContext(0), TODAY
    )
    assert check.ok, check.problems
    del gates["rems_pomalidomide"]
    check = check_enrolment(
        protocols["bpd"], patient(), request("bpd", gates=gates), EnrolmentContext(0), TODAY
    )
    assert fields(check) == {"gate:rems_pomalidomide"}


def test_gate_dates_at_and_after_enrolment(protocols: dict[str, Protocol]) -> None:
    base = request("dextr")
    on_the_day = {**base.gates, "consent": base.enrolled_on}
    after = {**base.gates, "consent": date(2025, 3, 6)}  # one day after enrolment on 03-05
    future = {**base.gates, "consent": date(2025, 3, 11)}  # the day after TODAY
    ctx = EnrolmentContext(0)
    dextr = protocols["dextr"]
    assert check_enrolment(dextr, patient(), request("dextr", gates=on_the_day), ctx, TODAY).ok
    late = check_enrolment(dextr, patient(), request("dextr", gates=after), ctx, TODAY)
    assert "after the enrolment date" in late.messages("gate:consent")[0]
    ahead = check_enrolment(dextr, patient(), request("dextr", gates=future), ctx, TODAY)
    assert "in the future" in ahead.messages("gate:consent")[0]


def test_cycle1_cannot_start_before_enrolment(protocols: dict[str, Protocol]) -> None:
    ctx = EnrolmentContext(0)
    same_day = request("dextr", cycle1_start=date(2025, 3, 5))
    day_before = request("dextr", cycle1_start=date(2025, 3, 4))
    assert check_enrolment(protocols["dextr"], patient(), same_day, ctx, TODAY).ok
    early = check_enrolment(protocols["dextr"], patient(), day_before, ctx, TODAY)
    assert fields(early) == {"cycle1_start"}


# -- caps (rules §1) ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("enrolled", "refused"), [(43, False), (44, False), (45, True), (46, True)]
)
def test_dextr_cap_45(protocols: dict[str, Protocol], enrolled: int, refused: bool) -> None:
    # DexTR: at most 45 patients; the 45th may enrol when 44 are in, not when 45 are.
    check = check_enrolment(
        protocols["dextr"], patient(), request("dextr"), EnrolmentContext(enrolled), TODAY
    )
    assert ("protocol" in fields(check)) is refused
    if refused:
        assert "cap of 45" in check.messages("protocol")[0]


def test_bpd_total_cap_56(protocols: dict[str, Protocol]) -> None:
    ctx55 = EnrolmentContext(55)
    ctx56 = EnrolmentContext(56)
    assert "protocol" not in fields(
        check_enrolment(protocols["bpd"], patient(), request("bpd"), ctx55, TODAY)
    )
    check = check_enrolment(protocols["bpd"], patient(), request("bpd"), ctx56, TODAY)
    assert "cap of 56" in check.messages("protocol")[0]


def test_bpd_escalation_cap_24(protocols: dict[str, Protocol]) -> None:
    # Level 1: 3 evaluable, no DLT -> escalate to 2. Then non-evaluable patients at level 2 are
    # replaced but still count as enrolled in escalation: 3 + 20 = 23 < 24 leaves one place,
    # 3 + 21 = 24 reaches the escalation cap (rules §1: up to 24 in escalation).
    cleared = [P(f"a{i}", 1, True, DltStatus.NO) for i in range(3)]
    for n_replaced, open_ in ((20, True), (21, False)):
        replaced = [P(f"r{i}", 2, False, DltStatus.NO) for i in range(n_replaced)]
        ctx = EnrolmentContext(3 + n_replaced, escalation_patients=tuple(cleared + replaced))
        check = check_enrolment(
            protocols["bpd"], patient(), request("bpd", dose_level=2), ctx, TODAY
        )
        assert (check.allowed_levels == (2,)) is open_
        if not open_:
            assert "escalation cap of 24" in check.messages("dose_level")[0]


# -- BPD dose levels from the 3+3 engine (rules §6) --------------------------------------------
def test_bpd_first_patient_only_level_1(protocols: dict[str, Protocol]) -> None:
    check = check_enrolment(protocols["bpd"], patient(), request("bpd"), EnrolmentContext(0), TODAY)
    assert check.ok, check.problems
    assert check.allowed_levels == (1,)
    assert [c.level for c in check.levels] == [-1, 1, 2, 3, 4]
    closed = {c.level: c.reason for c in check.levels if not c.allowed}
    assert "de-escalation" in closed[-1]
    assert "not reached yet" in closed[3]
    assert check.cohort == "escalation"
    level4 = next(c for c in check.levels if c.level == 4)
    assert level4.doses == "Bendamustine 180 mg/m², Pomalidomide 4 mg, Dexamethasone 40 mg"


def test_bpd_refuses_a_closed_level(protocols: dict[str, Protocol]) -> None:
    check = check_enrolment(
        protocols["bpd"], patient(), request("bpd", dose_level=2), EnrolmentContext(0), TODAY
    )
    assert fields(check) == {"dose_level"}
    assert "Dose level 2 is not allowed now" in check.messages("dose_level")[0]


def test_bpd_after_clean_cohort_escalates(protocols: dict[str, Protocol]) -> None:
    # 0 of 3 DLT at level 1 -> escalate: only level 2 is open.
    ctx = EnrolmentContext(
        3, escalation_patients=tuple(P(f"p{i}", 1, True, DltStatus.NO) for i in range(3))
    )
    check = check_enrolment(protocols["bpd"], patient(), request("bpd", dose_level=2), ctx, TODAY)
    assert check.ok, check.problems
    assert check.allowed_levels == (2,)
    assert check.plan is not None and check.plan.dose_level == 2


def test_bpd_pending_dlt_blocks_everyone(protocols: dict[str, Protocol]) -> None:
    ctx = EnrolmentContext(
        3,
        escalation_patients=(
            P("a", 1, True, DltStatus.NO),
            P("b", 1, True, DltStatus.NO),
            P("c", 1, None, DltStatus.PENDING),
        ),
    )
    check = check_enrolment(protocols["bpd"], patient(), request("bpd"), ctx, TODAY)
    assert check.allowed_levels == ()
    assert "pending" in check.messages("dose_level")[0]


def test_dextr_takes_no_dose_level(protocols: dict[str, Protocol]) -> None:
    check = check_enrolment(
        protocols["dextr"], patient(), request("dextr", dose_level=1), EnrolmentContext(0), TODAY
    )
    assert fields(check) == {"dose_level"}


def test_a_protocol_without_escalation_has_none(protocols: dict[str, Protocol]) -> None:
    # No [escalation] table: no 3+3 design is assumed (not BPD's), so no dose level is taken.
    assert protocols["dextr"].escalation is None
    assert escalation_design(protocols["dextr"]) is None
    assert not uses_escalation(protocols["dextr"])
    check = check_enrolment(
        protocols["dextr"], patient(), request("dextr", dose_level=1), EnrolmentContext(0), TODAY
    )
    messages = [p.message for p in check.problems if p.field == "dose_level"]
    assert messages[0] == "DexTR has no dose escalation, so no dose level."
    # BPD's is its file's: levels -1, 1-4, start 1, cohorts of 3, caps 24 / 38 / 56
    bpd = escalation_design(protocols["bpd"])
    assert bpd is not None and (bpd.levels, bpd.start_level, bpd.cohort_size) == (
        (-1, 1, 2, 3, 4),
        1,
        3,
    )
    assert (bpd.escalation_cap, bpd.expansion_cap, bpd.total_cap) == (24, 38, 56)


def test_bpd_plan_rounds_bendamustine(protocols: dict[str, Protocol]) -> None:
    check = check_enrolment(
        protocols["bpd"],
        patient(),
        request("bpd", weight_kg=Decimal(70)),
        EnrolmentContext(0),
        TODAY,
    )
    assert check.plan is not None
    # BSA sqrt(170 * 70 / 3600) = 1.8181 -> 1.82; 120 mg/m² * 1.82 = 218.4 -> 220 mg (5 mg steps)
    day1 = check.plan.days[0]
    benda = next(d for d in day1.doses if d.drug == "bendamustine")
    assert benda.dose_mg == Decimal(220)


@pytest.mark.parametrize(
    ("reviews", "expected"),
    [
        ((), (None, DltStatus.PENDING)),
        ((DltReview(1, proposed=True),), (None, DltStatus.PENDING)),
        ((DltReview(1, proposed=True, confirmed=True, evaluable=True),), (True, DltStatus.YES)),
        ((DltReview(1, proposed=False, confirmed=False, evaluable=True),), (True, DltStatus.NO)),
        ((DltReview(1, proposed=False, evaluable=False),), (False, DltStatus.NO)),
        (
            (
                DltReview(1, proposed=False, confirmed=False, evaluable=True),
                DltReview(1, proposed=True, confirmed=True, evaluable=True),
            ),
            (True, DltStatus.YES),
        ),
    ],
)
def test_dlt_status_from_reviews(
    reviews: tuple[DltReview, ...], expected: tuple[bool | None, DltStatus]
) -> None:
    assert dlt_status(reviews) == expected


# -- writing to the record ---------------------------------------------------------------------
def count(record: Record, table: str) -> int:
    return int(record.sql.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_enrol_dextr_writes_everything(record: Record, protocols: dict[str, Protocol]) -> None:
    pid = record.repos.patients.add(patient(pid=None))
    result = enrol(record, protocols["dextr"], pid, request("dextr"), TODAY)
    enrolment = record.repos.enrolments.get(result.enrolment_id).value
    assert enrolment.protocol == "dextr" and enrolment.status is PatientStatus.ACTIVE
    assert enrolment.consent_on == date(2025, 3, 3)
    assert enrolment.gates["prior_lenalidomide"] == date(2025, 3, 3)
    cycle = record.repos.cycles.get(result.cycle_id).value
    assert cycle.number == 1 and cycle.status is CycleStatus.PLANNED
    assert cycle.planned_start == date(2025, 3, 12)
    assert cycle.bsa_m2 == Decimal("1.84") and cycle.crcl_ml_min == Decimal("80.0")
    assert cycle.measurement_id == result.measurement_id
    assert cycle.crcl_lab_id == result.creatinine_lab_id
    lab = record.repos.labs.get(result.creatinine_lab_id).value
    assert (lab.test, lab.value, lab.unit, lab.value_si) == (
        "creatinine",
        Decimal("88.4"),
        "umol/L",
        Decimal("88.4"),
    )
    assert lab.collected_on == TODAY
    doses = record.repos.doses.for_cycle(result.cycle_id)
    # dexamethasone days 1-4, 9-12, 17-20 = 12; thalidomide 1-28 = 28; lenalidomide 1-21 = 21
    assert len(doses) == 12 + 28 + 21
    thal = {d.day: d.dose_mg for d in doses if d.drug == "thalidomide"}
    assert thal[7] == Decimal(50) and thal[8] == Decimal(100)  # cycle 1: 50 mg d1-7, 100 mg d8-28


def test_enrol_bpd_at_the_allowed_level(record: Record, protocols: dict[str, Protocol]) -> None:
    pid = record.repos.patients.add(patient(pid=None))
    result = enrol(record, protocols["bpd"], pid, request("bpd", weight_kg=Decimal(70)), TODAY)
    enrolment = record.repos.enrolments.get(result.enrolment_id).value
    assert (enrolment.dose_level, enrolment.cohort) == (1, "escalation")
    doses = record.repos.doses.for_cycle(result.cycle_id)
    # bendamustine day 1 = 1; pomalidomide days 1-21 = 21; dexamethasone 1, 8, 15, 22 = 4
    assert len(doses) == 1 + 21 + 4
    assert [d.dose_mg for d in doses if d.drug == "bendamustine"] == [Decimal(220)]
    assert {d.dose_mg for d in doses if d.drug == "pomalidomide"} == {Decimal(3)}
    # the next patient: level 1 still needs 2 more, so level 1 is still the only level open
    other = record.repos.patients.add(patient(mrn="T-2", pid=None))
    ctx = gather_context(record, protocols["bpd"], other)
    assert ctx.enrolled_on_protocol == 1
    assert ctx.escalation_patients == (P(str(result.enrolment_id), 1, None, DltStatus.PENDING),)


def test_refused_enrolment_changes_nothing(record: Record, protocols: dict[str, Protocol]) -> None:
    pid = record.repos.patients.add(patient(pid=None))
    before = {t: count(record, t) for t in ("body_measurements", "labs", "enrolments", "cycles")}
    audit_before = count(record, "audit_log")
    gates = dict(request("dextr").gates)
    del gates["prior_thalidomide"]
    with pytest.raises(EnrolmentRefused) as caught:
        enrol(record, protocols["dextr"], pid, request("dextr", gates=gates), TODAY)
    assert caught.value.field == "gate:prior_thalidomide"
    assert "Prior treatment with thalidomide" in str(caught.value)
    assert {t: count(record, t) for t in before} == before
    assert count(record, "audit_log") == audit_before


def test_second_open_enrolment_refused(record: Record, protocols: dict[str, Protocol]) -> None:
    pid = record.repos.patients.add(patient(pid=None))
    enrol(record, protocols["dextr"], pid, request("dextr"), TODAY)
    # The protocol as the nurse knows it, not its file's key.
    with pytest.raises(EnrolmentRefused, match="already enrolled on DexTR since"):
        enrol(record, protocols["bpd"], pid, request("bpd"), TODAY)
