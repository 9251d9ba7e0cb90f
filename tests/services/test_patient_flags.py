"""The patient list's "grade >= 3 toxicity this cycle" flag grades labs against the
pre-treatment baseline, as the chart, the ``patient`` command and the toxicity summary do.

Every expected grade is worked by hand below from the CTCAE v5.0 rows of rules §3.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from clinic_app.core.labs import lab_test
from clinic_app.core.protocol_loader import load_protocols
from clinic_app.core.records import LabResult
from clinic_app.services.patient_state import PatientRow, list_patient_rows, patient_summary
from clinic_app.storage.database import Record

from .helpers import cycle, enrol, patient

TODAY = date(2024, 3, 20)
PROTOCOLS = load_protocols()
ENROLLED = date(2024, 2, 26)
C1D1 = date(2024, 3, 4)
SCREENING = date(2024, 3, 1)  # before cycle 1 day 1: the baseline draw
IN_CYCLE = date(2024, 3, 12)  # cycle 1 day 9


def add_lab(
    record: Record,
    pid: int,
    test: str,
    value: str,
    unit: str,
    on: date,
    uln: str | None = None,
) -> int:
    v = Decimal(value)
    at = datetime(on.year, on.month, on.day, 8, 0, tzinfo=UTC)
    return record.repos.labs.add(
        pid,
        LabResult(
            test,
            v,
            unit,
            at,
            lab_test(test).to_si(v, unit),
            None,
            None if uln is None else Decimal(uln),
        ),
    )


def on_cycle_1(record: Record, mrn: str) -> int:
    """A DexTR patient whose cycle 1 started on Mar 4 (today, Mar 20, is day 17)."""
    pid = patient(record, mrn, f"Flag {mrn}")
    eid = enrol(record, pid, "dextr", ENROLLED)
    cycle(record, eid, 1, "induction", C1D1, C1D1)
    return pid


def rows(record: Record) -> dict[str, PatientRow]:
    return {r.mrn: r for r in list_patient_rows(record, TODAY, PROTOCOLS)}


def test_creatinine_above_three_times_baseline_flags_at_or_below_does_not(record: Record) -> None:
    # CTCAE v5.0 creatinine increased: grade 3 is > 3.0 x baseline; > 1.5-3.0 x baseline is
    # grade 2. Baseline 80 umol/L, so the grade 3 bound is 3.0 x 80 = 240 umol/L.
    cases = {
        "C-31": "248",  # 248 / 80 = 3.1 x baseline -> grade 3
        "C-2401": "240.1",  # just above 240 -> grade 3
        "C-30": "240",  # exactly 3.0 x baseline: not > 240 -> grade 2
        "C-29": "232",  # 232 / 80 = 2.9 x baseline -> grade 2
    }
    for mrn, value in cases.items():
        pid = on_cycle_1(record, mrn)
        add_lab(record, pid, "creatinine", "80", "umol/L", SCREENING)
        add_lab(record, pid, "creatinine", value, "umol/L", IN_CYCLE)
    found = rows(record)
    assert found["C-31"].severe_toxicity
    assert found["C-2401"].severe_toxicity
    assert not found["C-30"].severe_toxicity
    assert not found["C-29"].severe_toxicity
    assert any("Creatinine increased grade 3 on 2024-03-12" in n for n in found["C-31"].notes)


def test_without_a_baseline_the_same_creatinine_is_not_flagged(record: Record) -> None:
    # No ULN and no pre-treatment value: 248 umol/L could be grade 0 to 4, so nothing is
    # certain and the flag stays down (never guessed). A value drawn ON cycle 1 day 1 is not
    # pre-treatment (baseline_lab: collected before day 1), so it is no baseline either.
    pid = on_cycle_1(record, "C-NONE")
    add_lab(record, pid, "creatinine", "80", "umol/L", C1D1)
    add_lab(record, pid, "creatinine", "248", "umol/L", IN_CYCLE)
    assert not rows(record)["C-NONE"].severe_toxicity


def test_the_baseline_is_before_cycle_1_not_before_the_current_cycle(record: Record) -> None:
    # Baseline 80 (Mar 1). Cycle 1 value 200 (2.5 x). Cycle 2 value 248 = 3.1 x 80 -> grade 3.
    # Read against the last value before cycle 2 instead (200) it would be 1.24 x: grade 0-1.
    pid = patient(record, "C-C2", "Second cycle")
    eid = enrol(record, pid, "dextr", ENROLLED)
    cycle(record, eid, 1, "induction", C1D1, C1D1)
    cycle(record, eid, 2, "induction", date(2024, 4, 1), date(2024, 4, 1))
    add_lab(record, pid, "creatinine", "80", "umol/L", SCREENING)
    add_lab(record, pid, "creatinine", "200", "umol/L", IN_CYCLE)
    add_lab(record, pid, "creatinine", "248", "umol/L", date(2024, 4, 8))
    today = date(2024, 4, 10)
    row = {r.mrn: r for r in list_patient_rows(record, today, PROTOCOLS)}["C-C2"]
    assert row.cycle == 2
    assert row.severe_toxicity


def test_the_latest_pre_treatment_value_is_the_baseline(record: Record) -> None:
    # Two screening draws: 60 (Feb 27) then 90 (Mar 1). The baseline is the later one, 90:
    # 3.0 x 90 = 270, so 265 is grade 2 (against 60 it would be 4.4 x, grade 3).
    pid = on_cycle_1(record, "C-LAST")
    add_lab(record, pid, "creatinine", "60", "umol/L", date(2024, 2, 27))
    add_lab(record, pid, "creatinine", "90", "umol/L", SCREENING)
    add_lab(record, pid, "creatinine", "265", "umol/L", IN_CYCLE)
    assert not rows(record)["C-LAST"].severe_toxicity


def test_a_voided_baseline_is_not_used(record: Record) -> None:
    # Screening draws 90 (Feb 27) and 80 (Mar 1). While the Mar 1 draw is live it is the
    # baseline: 248 / 80 = 3.1 x -> grade 3. Once it is voided the baseline is 90:
    # 248 / 90 = 2.76 x -> grade 2 (> 1.5 x, not > 3.0 x), so the flag drops.
    pid = on_cycle_1(record, "C-VOID")
    add_lab(record, pid, "creatinine", "90", "umol/L", date(2024, 2, 27))
    voided = add_lab(record, pid, "creatinine", "80", "umol/L", SCREENING)
    add_lab(record, pid, "creatinine", "248", "umol/L", IN_CYCLE)
    assert rows(record)["C-VOID"].severe_toxicity  # 80 is the baseline while it is live
    version = record.repos.labs.get(voided).version
    record.repos.labs.void(voided, expected_version=version, reason="wrong patient")
    assert not rows(record)["C-VOID"].severe_toxicity


def test_a_baseline_in_mg_dl_is_converted_before_comparing(record: Record) -> None:
    # Baseline 1.0 mg/dL = 88.4 umol/L (rules §3: 1 mg/dL = 88.4 umol/L); 3.0 x 88.4 = 265.2.
    for mrn, value in (("C-266", "266"), ("C-265", "265")):
        pid = on_cycle_1(record, mrn)
        add_lab(record, pid, "creatinine", "1.0", "mg/dL", SCREENING)
        add_lab(record, pid, "creatinine", value, "umol/L", IN_CYCLE)
    found = rows(record)
    assert found["C-266"].severe_toxicity  # 266 > 265.2
    assert not found["C-265"].severe_toxicity  # 265 <= 265.2: grade 2


def test_alt_against_a_normal_and_an_abnormal_baseline(record: Record) -> None:
    # CTCAE v5.0 ALT increased, ULN 40 U/L.
    # Normal baseline (30 <= 40): grade 3 is > 5.0 x ULN = 200; 250 -> grade 3. Without the
    # baseline the value alone could be grade 0 to 4, which the flag never guessed up.
    # Abnormal baseline 100 (> 40): grade 3 is > 5.0 x baseline = 500; 510 -> grade 3,
    # 500 exactly -> grade 2 (> 3.0 x 100 = 300), although 500 is 12.5 x ULN.
    for mrn, base, value in (
        ("A-N250", "30", "250"),
        ("A-B510", "100", "510"),
        ("A-B500", "100", "500"),
    ):
        pid = on_cycle_1(record, mrn)
        add_lab(record, pid, "alt", base, "U/L", SCREENING, uln="40")
        add_lab(record, pid, "alt", value, "U/L", IN_CYCLE, uln="40")
    found = rows(record)
    assert found["A-N250"].severe_toxicity
    assert found["A-B510"].severe_toxicity
    assert not found["A-B500"].severe_toxicity


def test_bilirubin_against_an_abnormal_baseline(record: Record) -> None:
    # CTCAE v5.0 blood bilirubin increased, ULN 20 umol/L, abnormal baseline 25 (> 20):
    # grade 3 is > 3.0 x baseline = 75. 80 -> grade 3; 75 exactly -> grade 2 (> 1.5 x 25).
    for mrn, value in (("B-80", "80"), ("B-75", "75")):
        pid = on_cycle_1(record, mrn)
        add_lab(record, pid, "bilirubin", "25", "umol/L", SCREENING, uln="20")
        add_lab(record, pid, "bilirubin", value, "umol/L", IN_CYCLE, uln="20")
    found = rows(record)
    assert found["B-80"].severe_toxicity
    assert not found["B-75"].severe_toxicity


def test_one_patients_row_and_summary_agree_with_the_list(record: Record) -> None:
    # patient_summary reads the flags through list_patient_rows(patient_id=...): the one-patient
    # query must find the same baseline as the whole-list query.
    other = on_cycle_1(record, "C-OTHER")
    add_lab(record, other, "creatinine", "200", "umol/L", SCREENING)
    pid = on_cycle_1(record, "C-ONE")
    add_lab(record, pid, "creatinine", "80", "umol/L", SCREENING)
    add_lab(record, pid, "creatinine", "248", "umol/L", IN_CYCLE)  # 3.1 x 80: grade 3
    (one,) = list_patient_rows(record, TODAY, PROTOCOLS, patient_id=pid)
    assert one == rows(record)["C-ONE"]
    assert one.severe_toxicity
    summary = patient_summary(record, pid, TODAY, PROTOCOLS)
    assert summary.flags == one.notes
    creatinine = [w for w in summary.worst_lab_grades if w.term == "Creatinine increased"]
    assert [w.lowest_grade for w in creatinine] == [3]


def test_the_list_reads_baselines_with_a_fixed_number_of_queries(record: Record) -> None:
    # Set-based: the list of one patient and the list of four cost the same statements (no
    # query per patient), and the baselines of all four are still found.
    def statements() -> int:
        before = record.sql.statements
        found = rows(record)
        assert all(r.severe_toxicity for r in found.values())  # 3.1 x baseline each
        return record.sql.statements - before

    def add(mrn: str) -> None:
        pid = on_cycle_1(record, mrn)
        add_lab(record, pid, "creatinine", "80", "umol/L", SCREENING)
        add_lab(record, pid, "creatinine", "248", "umol/L", IN_CYCLE)

    add("Q-1")
    one = statements()
    for mrn in ("Q-2", "Q-3", "Q-4"):
        add(mrn)
    assert statements() == one
