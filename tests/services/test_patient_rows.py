"""The patient list and the Today view, on a real record, with every computed field by hand."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from clinic_app.core.decisions import DltReview
from clinic_app.core.protocol_loader import load_protocols
from clinic_app.core.records import PatientStatus
from clinic_app.services.patient_state import (
    DueKind,
    PatientRow,
    due_today,
    list_patient_rows,
    overdue_lab_days,
)
from clinic_app.storage.database import Record

from .helpers import adverse_event, cycle, enrol, lab, patient, planned_dose, weight

TODAY = date(2024, 3, 20)
PROTOCOLS = load_protocols()
DEXTR, BPD = PROTOCOLS["dextr"], PROTOCOLS["bpd"]


def rows_by_mrn(record: Record, today: date = TODAY) -> dict[str, PatientRow]:
    return {r.mrn: r for r in list_patient_rows(record, today, PROTOCOLS)}


def test_dextr_cycle_day_severe_ae_and_overdue_day_8_labs(record: Record) -> None:
    pid = patient(record, "A-1", "Alvarez")
    eid = enrol(record, pid, "dextr", date(2024, 3, 1))
    cycle(record, eid, 1, "induction", date(2024, 3, 4), date(2024, 3, 4))
    # DexTR cycle 1 lab days 1, 8, 15, 22 = Mar 4, 11, 18, 25 (start + d - 1).
    lab(record, pid, "anc", "2.1", "10^9/L", date(2024, 3, 4))
    lab(record, pid, "anc", "1.8", "10^9/L", date(2024, 3, 18))
    adverse_event(record, pid, "Fatigue", 3, date(2024, 3, 15))
    row = rows_by_mrn(record)["A-1"]
    # Mar 20 - Mar 4 = 16 days, so today is day 16 + 1 = 17.
    assert (row.cycle, row.day, row.phase, row.status) == (
        1,
        17,
        "induction",
        PatientStatus.ACTIVE,
    )
    assert (row.protocol_key, row.protocol_name, row.dose_level) == ("dextr", "DexTR", None)
    assert row.status_text == "active, cycle 1 day 17"
    assert row.severe_toxicity and not row.bsa_recheck and not row.dlt_review_pending
    # Day 8 (Mar 11): covered by a lab from Mar 8 (3 days before) to Mar 17; none -> overdue.
    # Day 15 (Mar 18): covered by the Mar 18 lab. Day 22 (Mar 25) is in the future.
    assert row.overdue_labs
    assert any("day 8 (2024-03-11)" in n for n in row.notes)
    assert not any("day 15" in n for n in row.notes)


def test_a_lab_three_days_early_covers_the_lab_day_four_days_does_not() -> None:
    start = date(2024, 3, 4)  # lab days Mar 4, 11, 18, 25
    labs_d1 = [date(2024, 3, 4), date(2024, 3, 18)]
    # Day 8 = Mar 11; lab_max_age_days = 3 -> earliest covering draw is Mar 8.
    at_boundary = overdue_lab_days(
        DEXTR, 1, "induction", start, [*labs_d1, date(2024, 3, 8)], TODAY
    )
    too_early = overdue_lab_days(DEXTR, 1, "induction", start, [*labs_d1, date(2024, 3, 7)], TODAY)
    late_draw = overdue_lab_days(DEXTR, 1, "induction", start, [*labs_d1, date(2024, 3, 17)], TODAY)
    assert at_boundary == [] and late_draw == []
    assert too_early == [date(2024, 3, 11)]
    # Today's lab day is due, not overdue: on Mar 11 with no lab since Mar 4, nothing is late.
    assert (
        overdue_lab_days(DEXTR, 1, "induction", start, [date(2024, 3, 4)], date(2024, 3, 11)) == []
    )
    assert overdue_lab_days(
        DEXTR, 1, "induction", start, [date(2024, 3, 4)], date(2024, 3, 12)
    ) == [date(2024, 3, 11)]
    # Cycle 2 of DexTR has no protocol lab days at all.
    assert overdue_lab_days(DEXTR, 2, "induction", start, [], TODAY) == []


def test_severe_lab_grade_at_the_boundary(record: Record) -> None:
    # CTCAE v5.0 neutrophil count decreased: G3 is < 1.0 down to 0.5, G2 is < 1.5 to 1.0.
    for mrn, value in (("N-099", "0.99"), ("N-100", "1.0"), ("N-050", "0.5")):
        pid = patient(record, mrn, f"Lab {mrn}")
        eid = enrol(record, pid, "dextr", date(2024, 3, 1))
        cycle(record, eid, 2, "induction", date(2024, 3, 4), date(2024, 3, 4))
        lab(record, pid, "anc", value, "10^9/L", date(2024, 3, 12))
    rows = rows_by_mrn(record)
    assert rows["N-099"].severe_toxicity  # 0.99 < 1.0: grade 3
    assert rows["N-050"].severe_toxicity  # 0.5 is still grade 3 (G4 is < 0.5)
    assert not rows["N-100"].severe_toxicity  # 1.0 is grade 2
    assert not any(r.overdue_labs for r in rows.values())  # cycle 2: no lab days


def test_ae_resolved_before_the_cycle_does_not_count(record: Record) -> None:
    pid = patient(record, "R-1", "Resolved")
    eid = enrol(record, pid, "dextr", date(2024, 1, 1))
    cycle(record, eid, 3, "induction", date(2024, 3, 4), date(2024, 3, 4))
    adverse_event(record, pid, "Nausea", 3, date(2024, 2, 20), resolved=date(2024, 3, 3))
    adverse_event(record, pid, "Rash maculo-papular", 2, date(2024, 3, 10))
    assert not rows_by_mrn(record)["R-1"].severe_toxicity
    adverse_event(record, pid, "Vomiting", 3, date(2024, 2, 28), resolved=date(2024, 3, 4))
    assert rows_by_mrn(record)["R-1"].severe_toxicity  # resolved on day 1: present this cycle


def test_bpd_bsa_recheck_at_ten_percent_and_dlt_review_due(record: Record) -> None:
    rows = {}
    for mrn, latest in (("B-63", "63"), ("B-631", "63.1")):
        pid = patient(record, mrn, f"Bpd {mrn}")
        eid = enrol(record, pid, "bpd", date(2024, 1, 25), dose_level=1, cohort="escalation")
        basis = weight(record, pid, date(2024, 1, 30), "70")
        cycle(
            record,
            eid,
            1,
            "treatment",
            date(2024, 2, 1),
            date(2024, 2, 1),
            dose_level=1,
            bsa_m2=Decimal("1.82"),
            measurement_id=basis,
        )
        cycle(record, eid, 2, "treatment", date(2024, 2, 29), date(2024, 2, 29), dose_level=1)
        weight(record, pid, date(2024, 3, 15), latest)
    rows = rows_by_mrn(record)
    # (63 - 70) / 70 = -10 % exactly: at the 10 % threshold -> recheck.
    assert rows["B-63"].bsa_recheck
    # (63.1 - 70) / 70 = -9.857 %: below the threshold.
    assert not rows["B-631"].bsa_recheck
    b = rows["B-63"]
    # 2024 is a leap year: Feb 29 -> Mar 20 is 20 days, so day 21.
    assert (b.cycle, b.day, b.dose_level, b.protocol_name) == (2, 21, 1, "BPD")
    # BPD [dlt] cycle 1, 28 days from Feb 1: the window ended Feb 28; no review -> pending.
    assert b.dlt_review_pending
    assert any("ended on 2024-02-28" in n for n in b.notes)


def test_dlt_window_still_open_then_unconfirmed_then_confirmed(record: Record) -> None:
    pid = patient(record, "D-1", "Dlt")
    eid = enrol(record, pid, "bpd", date(2024, 2, 20), dose_level=1)
    c1 = cycle(record, eid, 1, "treatment", date(2024, 2, 22), date(2024, 2, 22))
    # Feb 22 + 28 days = Mar 21: on Mar 20 the window is still open, on Mar 21 it has ended.
    assert not rows_by_mrn(record)["D-1"].dlt_review_pending
    assert rows_by_mrn(record, date(2024, 3, 21))["D-1"].dlt_review_pending
    review = record.repos.dlt_reviews.add(DltReview(eid, proposed=True, cycle_id=c1))
    assert rows_by_mrn(record)["D-1"].dlt_review_pending  # proposed, not confirmed
    stored = record.repos.dlt_reviews.get(review)
    confirmed = DltReview(
        eid,
        proposed=True,
        confirmed=True,
        reviewer="Dr X",
        reviewed_on=date(2024, 3, 19),
        cycle_id=c1,
    )
    record.repos.dlt_reviews.update(
        review, confirmed, expected_version=stored.version, reason="investigator review"
    )
    assert not rows_by_mrn(record, date(2024, 3, 21))["D-1"].dlt_review_pending


def test_not_enrolled_off_study_and_unknown_protocol(record: Record) -> None:
    patient(record, "Z-1", "Zeta")
    pid = patient(record, "O-1", "Off")
    eid = enrol(record, pid, "dextr", date(2023, 1, 1), status=PatientStatus.OFF_STUDY)
    cycle(record, eid, 1, "induction", date(2023, 1, 2), date(2023, 1, 2))
    pid = patient(record, "U-1", "Unknown")
    eid = enrol(record, pid, "vrd", date(2024, 3, 1))
    rows = list_patient_rows(record, TODAY, PROTOCOLS)
    assert [r.mrn for r in rows] == ["O-1", "U-1", "Z-1"]  # by family name
    off, unknown, none = rows
    assert none.status is None and none.status_text == "not enrolled" and none.day is None
    assert off.status is PatientStatus.OFF_STUDY and off.cycle == 1 and off.day is None
    assert not off.overdue_labs  # off study: no lab days are owed
    assert unknown.protocol_name == "vrd" and any("'vrd' is not loaded" in n for n in unknown.notes)


def test_due_today(record: Record) -> None:
    def person(mrn: str, protocol: str, level: int | None = None) -> tuple[int, int]:
        pid = patient(record, mrn, mrn)
        return pid, enrol(record, pid, protocol, date(2024, 1, 2), dose_level=level)

    _, e = person("E-start", "dextr")
    cycle(record, e, 1, "induction", TODAY)
    _, e = person("F-late", "dextr")
    cycle(record, e, 1, "induction", date(2024, 2, 16), date(2024, 2, 16))
    cycle(record, e, 2, "induction", date(2024, 3, 15))  # Feb 16 + 28 = Mar 15
    _, e = person("G-iv", "bpd", 3)
    c = cycle(record, e, 1, "treatment", TODAY, TODAY, dose_level=3)
    planned_dose(record, c, 1, "bendamustine", "270", "IV")
    planned_dose(record, c, 1, "pomalidomide", "4", "PO")
    planned_dose(record, c, 2, "pomalidomide", "4", "PO")
    _, e = person("H-eval", "dextr")
    # Feb 22 + 27 days = Mar 20: day 28, the end-of-cycle evaluation.
    cycle(record, e, 2, "induction", date(2024, 2, 22), date(2024, 2, 22))
    _, e = person("L-lab", "dextr")
    # Mar 6 + 14 days = Mar 20: cycle 1 day 15, a DexTR lab day.
    cycle(record, e, 1, "induction", date(2024, 3, 6), date(2024, 3, 6))
    items = due_today(record, TODAY, PROTOCOLS)
    got = [(i.mrn, i.kind, i.cycle, i.day) for i in items]
    assert got == [
        ("E-start", DueKind.CYCLE_START, 1, 1),
        ("F-late", DueKind.OVERDUE_CYCLE_START, 2, None),
        ("G-iv", DueKind.IV_DOSE, 1, 1),
        ("H-eval", DueKind.EVALUATION, 2, 28),
        ("L-lab", DueKind.LAB_DAY, 1, 15),
    ]
    late = items[1]
    assert "planned for 2024-03-15 (5 days ago)" in late.why  # Mar 20 - Mar 15 = 5
    assert items[2].what == "Bendamustine 270 mg IV"
