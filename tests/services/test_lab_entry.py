"""services.lab_entry: live checks, one-transaction panel save, corrections, limits, trends."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from clinic_app.core.errors import DomainError, ProtocolError
from clinic_app.services.lab_entry import (
    PANEL_TESTS,
    EntryStatus,
    LabEntry,
    ReferenceRange,
    ReferenceRanges,
    check_entry,
    check_panel,
    correct_lab,
    default_reference_ranges,
    lab_trend,
    reference_ranges,
    save_panel,
    set_reference_range,
    void_lab,
)
from clinic_app.storage.database import Record
from clinic_app.storage.errors import StaleRecordError
from tests.services import helpers

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
AT = datetime(2025, 3, 10, 8, 30, tzinfo=UTC)


def count(record: Record, table: str) -> int:
    return int(record.sql.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def anc(value: str, lln: str = "1.8", uln: str = "7.5", unit: str = "10^9/L") -> LabEntry:
    return LabEntry("anc", value, unit, lln, uln)


# -- grading as typed ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "grade"),
    [
        # CTCAE v5.0 Neutrophil count decreased, LLN 1.8: G1 <LLN-1.5, G2 <1.5-1.0,
        # G3 <1.0-0.5, G4 <0.5 (all "<", so a value AT a boundary is the milder grade).
        ("1.8", 0),  # at the LLN: not below it
        ("1.79", 1),
        ("1.5", 1),  # at 1.5: not < 1.5
        ("1.49", 2),
        ("1.0", 2),
        ("0.99", 3),
        ("0.5", 3),
        ("0.49", 4),
    ],
)
def test_anc_grade_at_and_around_each_boundary(value: str, grade: int) -> None:
    check = check_entry(anc(value))
    assert check.status is EntryStatus.OK
    assert check.grade is not None and check.grade.grade == grade
    assert f"grade {grade}" in check.grade_text
    assert check.severe is (grade >= 3)
    assert check.grade_text.startswith("⚠") is (grade >= 3)


def test_conventional_units_are_converted_exactly_before_grading() -> None:
    # Creatinine 2.0 mg/dL x 88.4 = 176.8 umol/L; ULN 1.2 mg/dL = 106.08 umol/L.
    # 176.8 / 106.08 = 1.667 x ULN: > 1.5 x ULN (159.12) and <= 3.0 x ULN (318.24) -> grade 2.
    check = check_entry(LabEntry("creatinine", "2.0", "mg/dL", "0.6", "1.2"))
    assert check.result is not None
    assert check.result.value == Decimal("2.0") and check.result.unit == "mg/dL"
    assert check.result.value_si == Decimal("176.8")
    assert check.grade is not None and check.grade.lowest_grade == 2
    # Calcium 12 mg/dL x 0.2495 = 2.994 mmol/L: > 2.9 and <= 3.1 -> hypercalcemia grade 2.
    calcium = check_entry(LabEntry("calcium_corrected", "12", "mg/dL", "8.6", "10.2"))
    assert calcium.result is not None and calcium.result.value_si == Decimal("2.994")
    assert calcium.grade is not None and calcium.grade.grade == 2
    assert "Hypercalcemia" in calcium.grade_text


def test_missing_lln_is_said_not_guessed() -> None:
    # ANC 1.7 with no LLN: below 1.5 it would be certain; at 1.7 it is grade 0 or 1.
    check = check_entry(anc("1.7", lln="", uln=""))
    assert check.grade is not None and check.grade.grade is None
    assert "needs the lab's LLN" in check.grade_text
    assert "grade 0 or 1" in check.grade_text


def test_raising_facts_are_offered() -> None:
    # Hypokalemia: 2.9 < 3.0 -> grade 3 by value ("<3.0-2.5"); potassium 3.2 (LLN 3.5) is
    # grade 1, and grade 2 needs symptoms (rules §3 table: "symptomatic with <LLN-3.0").
    check = check_entry(LabEntry("potassium", "3.2", "mmol/L", "3.5", "5.1"))
    assert check.grade is not None and check.grade.grade == 1
    assert "higher if" in check.grade_text


def test_m_protein_has_no_ctcae_grade() -> None:
    check = check_entry(LabEntry("serum_m_protein", "2.1", "g/dL"))
    assert check.status is EntryStatus.OK and check.grade is None
    assert "No CTCAE lab grade" in check.grade_text
    assert check.result is not None and check.result.value_si == Decimal("21")  # 2.1 x 10


@pytest.mark.parametrize(
    ("entry", "field", "words"),
    [
        (anc("-0.5"), "value", "cannot be negative"),
        (anc("abc"), "value", "is not a number"),
        (anc("1,5"), "value", "decimal point"),
        # Platelets as some reports print them per microlitre: a separator, never guessed at.
        (LabEntry("platelets", "150,000", "10^9/L"), "value", "no thousands separator"),
        (anc("<0.1"), "value", "number only"),
        (anc("1e3"), "value", "is not a number"),
        # Potassium 45 mmol/L: above the catalogue's refuse_above for potassium.
        (LabEntry("potassium", "45", "mmol/L", "3.5", "5.1"), "value", "not possible"),
        (anc("1.0", lln="7.5", uln="1.8"), "lln", "must be below the ULN"),
        (anc("1.0", lln="1.8", uln="1.8"), "lln", "must be below the ULN"),
        (anc("1.0", lln="x"), "lln", "is not a number"),
        (anc("1.0", lln="-1"), "lln", "cannot be negative"),
        (anc("1.0", unit="g/L"), "unit", "Choose the unit"),
    ],
)
def test_impossible_input_is_refused_at_its_field(entry: LabEntry, field: str, words: str) -> None:
    check = check_entry(entry)
    assert check.status is EntryStatus.REFUSED
    assert words in check.errors[field]


def test_unusual_value_asks_for_confirmation() -> None:
    # Platelets usual 1-1000 x10^9/L, refused above 5000: 1200 is possible but unusual.
    check = check_entry(LabEntry("platelets", "1200", "10^9/L", "150", "400"))
    assert check.status is EntryStatus.UNUSUAL
    assert "confirm" in check.warning
    panel = check_panel([check_entry_entry("platelets", "1200")], AT, NOW)
    assert panel.problems() == {"platelets.confirm": check.warning}
    assert panel.problems(confirmed=["platelets"]) == {}


def check_entry_entry(test: str, value: str) -> LabEntry:
    return LabEntry(test, value, "10^9/L", "150", "400")


def test_anc_above_wbc_of_the_same_sample_is_refused() -> None:
    wbc = LabEntry("wbc", "3.0", "10^9/L", "4.0", "11.0")
    # 3.1 > 3.0: ANC is a part of the WBC.
    panel = check_panel([wbc, anc("3.1")], AT, NOW)
    assert panel.entries["anc"].status is EntryStatus.REFUSED
    assert "above the WBC" in panel.entries["anc"].errors["value"]
    assert panel.entries["wbc"].status is EntryStatus.OK
    # ANC equal to the WBC is possible (every white cell a neutrophil): not refused.
    assert check_panel([wbc, anc("3.0")], AT, NOW).entries["anc"].status is EntryStatus.OK
    # 2.0 + 1.5 = 3.5 > 3.0: each is below the WBC but their sum is not.
    lymph = LabEntry("lymphocytes", "1.5", "10^9/L", "1.0", "4.0")
    summed = check_panel([wbc, anc("2.0"), lymph], AT, NOW)
    assert summed.entries["anc"].status is EntryStatus.REFUSED
    assert summed.entries["lymphocytes"].status is EntryStatus.REFUSED
    # Units mixed: WBC 3.0 x10^3/uL = 3.0 x10^9/L; ANC 3.1 x10^9/L is still above it.
    mixed = check_panel([LabEntry("wbc", "3.0", "10^3/uL"), anc("3.1")], AT, NOW)
    assert mixed.entries["anc"].status is EntryStatus.REFUSED


def test_collection_time_is_required_and_not_in_the_future() -> None:
    assert "Enter the date" in check_panel([anc("1.0")], None, NOW).problems()["collected_at"]
    later = NOW + timedelta(minutes=1)
    assert "future" in check_panel([anc("1.0")], later, NOW).problems()["collected_at"]
    assert check_panel([anc("1.0")], NOW, NOW).problems() == {}
    assert check_panel([anc("")], AT, NOW).problems() == {"panel": "Enter at least one value."}


# -- saving ---------------------------------------------------------------------------------
def panel_entries() -> list[LabEntry]:
    return [
        LabEntry("wbc", "2.4", "10^3/uL", "4.0", "11.0"),
        anc("0.4"),
        LabEntry("hemoglobin", "9.1", "g/dL", "12.0", "16.0"),
        LabEntry("platelets", "", "10^9/L", "150", "400"),
        LabEntry("creatinine", "1.1", "mg/dL", "0.6", "1.2"),
    ]


def test_panel_saved_in_one_transaction_as_entered(record: Record) -> None:
    pid = helpers.patient(record, "L-1", "Novak")
    ids = save_panel(record, pid, panel_entries(), AT, now=NOW)
    assert len(ids) == 4  # the empty platelet row is not a result
    stored = record.repos.labs.for_patient(pid)
    by_test = {lab.test: lab for lab in stored}
    assert set(by_test) == {"wbc", "anc", "hemoglobin", "creatinine"}
    hgb = by_test["hemoglobin"]
    # 9.1 g/dL x 10 = 91 g/L; limits kept in the unit entered.
    assert (hgb.value, hgb.unit, hgb.value_si) == (Decimal("9.1"), "g/dL", Decimal("91"))
    assert (hgb.lln, hgb.uln) == (Decimal("12.0"), Decimal("16.0"))
    assert by_test["creatinine"].value_si == Decimal("97.24")  # 1.1 x 88.4
    assert all(lab.collected_at == AT for lab in stored)
    # One transaction: one audit reason for all four rows.
    reasons = record.sql.execute(
        "SELECT DISTINCT reason FROM audit_log WHERE table_name = 'labs'"
    ).fetchall()
    assert [r[0] for r in reasons] == ["lab panel entered"]


def test_a_refused_row_saves_nothing(record: Record) -> None:
    pid = helpers.patient(record, "L-2", "Novak")
    rows = [*panel_entries(), LabEntry("potassium", "45", "mmol/L", "3.5", "5.1")]
    with pytest.raises(DomainError) as caught:
        save_panel(record, pid, rows, AT, now=NOW)
    assert caught.value.field == "potassium.value"
    assert count(record, "labs") == 0


def test_unconfirmed_unusual_value_saves_nothing(record: Record) -> None:
    pid = helpers.patient(record, "L-3", "Novak")
    rows = [anc("35")]  # ANC usual up to 30 x10^9/L, refused above 500: unusual
    with pytest.raises(DomainError) as caught:
        save_panel(record, pid, rows, AT, now=NOW)
    assert caught.value.field == "anc.confirm"
    assert count(record, "labs") == 0
    save_panel(record, pid, rows, AT, now=NOW, confirmed_unusual=["anc"])
    assert count(record, "labs") == 1


def test_correction_is_audited_and_checked(record: Record) -> None:
    pid = helpers.patient(record, "L-4", "Novak")
    wbc_id, anc_id = save_panel(
        record, pid, [LabEntry("wbc", "3.0", "10^9/L", "4.0", "11.0"), anc("0.4")], AT, now=NOW
    )
    stored = record.repos.labs.get(anc_id)
    # 3.5 is above the stored WBC 3.0 of the same sample: refused, nothing changed.
    with pytest.raises(DomainError, match="above the WBC"):
        correct_lab(
            record, pid, anc_id, anc("3.5"), AT, expected_version=stored.version,
            reason="typo", now=NOW,
        )  # fmt: skip
    with pytest.raises(DomainError, match="Say why"):
        correct_lab(
            record, pid, anc_id, anc("0.6"), AT, expected_version=stored.version, reason=" ",
            now=NOW,
        )  # fmt: skip
    assert record.repos.labs.get(anc_id).value.value == Decimal("0.4")
    fixed = correct_lab(
        record, pid, anc_id, anc("0.6"), AT, expected_version=stored.version,
        reason="transcription error", now=NOW,
    )  # fmt: skip
    assert fixed.value.value == Decimal("0.6") and fixed.version == stored.version + 1
    assert any("transcription error" in (e.reason or "") for e in record.repos.labs.history(anc_id))
    # The old version is stale now.
    with pytest.raises(StaleRecordError):
        void_lab(record, anc_id, expected_version=stored.version, reason="dup")
    with pytest.raises(DomainError, match="Say why"):
        void_lab(record, anc_id, expected_version=fixed.version, reason="")
    void_lab(record, anc_id, expected_version=fixed.version, reason="wrong patient")
    assert [lab.id for lab in record.repos.labs.for_patient(pid)] == [wbc_id]
    assert record.repos.labs.get(anc_id).void_reason == "wrong patient"


# -- reference ranges -------------------------------------------------------------------------
def test_default_ranges_cover_every_graded_unit() -> None:
    ranges = default_reference_ranges()
    assert ranges.get("anc", "10^9/L") == ReferenceRange(Decimal("1.8"), Decimal("7.5"))
    assert ranges.get("hemoglobin", "g/dL") == ReferenceRange(Decimal("12.0"), Decimal("16.0"))
    assert ranges.get("serum_m_protein", "g/L") == ReferenceRange()
    graded = [t for t in PANEL_TESTS if t not in {"serum_m_protein", "urine_m_protein"}]
    for test in graded:
        if test.startswith("flc"):
            continue
        assert ranges.get(test, _si(test)) != ReferenceRange(), test


def _si(test: str) -> str:
    from clinic_app.core.labs import lab_test

    return lab_test(test).si_unit


@pytest.mark.parametrize(
    ("table", "key", "problem"),
    [
        ({"nope": {}}, "nope", "unknown lab test"),
        ({"anc": {"g/L": {"lln": "1"}}}, "anc.g/L", "unit not offered"),
        ({"anc": {"10^9/L": {"lln": 1.8}}}, "anc.10^9/L.lln", "decimal written as a string"),
        ({"anc": {"10^9/L": {"lln": "a"}}}, "anc.10^9/L.lln", "is not a number"),
        ({"anc": {"10^9/L": {"lln": "-1"}}}, "anc.10^9/L.lln", ">= 0"),
        ({"anc": {"10^9/L": {"lln": "2", "uln": "2"}}}, "anc.10^9/L", "below uln"),
        ({"anc": {"10^9/L": {"low": "2"}}}, "anc.10^9/L", "unknown keys: low"),
        ({"anc": "1.8"}, "anc", "table of units"),
    ],
)
def test_reference_table_is_validated(table: dict[str, object], key: str, problem: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        ReferenceRanges.from_mapping(table, "test.toml")
    assert caught.value.key == key and problem in caught.value.problem


def test_clinic_override_is_stored_in_the_record_and_wins(record: Record) -> None:
    assert reference_ranges(record).get("anc", "10^9/L").lln == Decimal("1.8")
    set_reference_range(
        record, "anc", "10^9/L", Decimal("2.0"), Decimal("7.0"), reason="our lab's limits"
    )
    ranges = reference_ranges(record)
    assert ranges.get("anc", "10^9/L") == ReferenceRange(Decimal("2.0"), Decimal("7.0"))
    assert ranges.get("anc", "10^3/uL").lln == Decimal("1.8")  # other units keep the default
    with pytest.raises(DomainError, match="lln must be below uln"):
        set_reference_range(record, "anc", "10^9/L", Decimal("8"), Decimal("7"), reason="x")
    assert reference_ranges(record).get("anc", "10^9/L").lln == Decimal("2.0")


# -- trends ---------------------------------------------------------------------------------
def test_trend_has_points_grades_thresholds_and_cycle_starts(record: Record) -> None:
    pid = helpers.patient(record, "L-5", "Novak")
    eid = helpers.enrol(record, pid, "dextr", date(2025, 1, 6))
    helpers.cycle(record, eid, 1, "induction", date(2025, 1, 6), date(2025, 1, 6))
    helpers.cycle(record, eid, 2, "induction", date(2025, 2, 3), date(2025, 2, 5))
    helpers.cycle(record, eid, 3, "induction", date(2025, 3, 3))  # planned: not marked
    for day, value in ((date(2025, 1, 6), "2.5"), (date(2025, 1, 20), "0.8")):
        at = datetime(day.year, day.month, day.day, 8, tzinfo=UTC)
        save_panel(record, pid, [anc(value, lln="2.0")], at, now=NOW)
    trend = lab_trend(record, pid, "anc")
    assert [(p.value_si, p.grade) for p in trend.points] == [
        (Decimal("2.5"), 0),
        (Decimal("0.8"), 3),  # 0.8 < 1.0 and >= 0.5
    ]
    # G1 boundary is the latest result's LLN (2.0), the others are absolute.
    assert [(t.grade, t.value_si) for t in trend.thresholds] == [
        (1, Decimal("2.0")),
        (2, Decimal("1.5")),
        (3, Decimal("1.0")),
        (4, Decimal("0.5")),
    ]
    assert trend.thresholds[2].label == "G3 < 1"  # ISMP: no trailing zero
    assert [(c.label, c.start) for c in trend.cycles] == [
        ("C1", date(2025, 1, 6)),
        ("C2", date(2025, 2, 5)),
    ]


def test_trend_without_limits_says_which_line_is_missing(record: Record) -> None:
    pid = helpers.patient(record, "L-6", "Novak")
    save_panel(record, pid, [LabEntry("alt", "30", "U/L")], AT, now=NOW)
    # No ULN stored, but the reference range gives ULN 40 U/L: G1 > 40, G2 > 3 x 40 = 120,
    # G3 > 5 x 40 = 200, G4 > 20 x 40 = 800.
    trend = lab_trend(record, pid, "alt")
    values = sorted({t.value_si for t in trend.thresholds})
    assert values == [Decimal("40"), Decimal("120"), Decimal("200"), Decimal("800")]
    assert trend.points[0].grade is None  # no limit stored with the result itself
    # M-protein: no grading, said in the notes.
    assert lab_trend(record, pid, "serum_m_protein").notes == (
        "Serum M-protein has no CTCAE lab grade.",
    )


def test_trend_grades_creatinine_against_the_pre_treatment_baseline(record: Record) -> None:
    # Creatinine, ULN 100 umol/L: 60 at screening (3 Jan), cycle 1 day 1 on 6 Jan, then 200
    # on 20 Jan. Against the baseline 60: 200 > 3.0 x 60 = 180 -> grade 3 (the chart's
    # reading). Without it the point stayed open (grade 2 or 3) and was drawn ungraded.
    # The screening value itself is 1.0 x baseline and <= ULN: grade 0.
    pid = helpers.patient(record, "L-7", "Novak")
    eid = helpers.enrol(record, pid, "dextr", date(2025, 1, 2))
    helpers.cycle(record, eid, 1, "induction", date(2025, 1, 6), date(2025, 1, 6))
    for day, value in ((date(2025, 1, 3), "60"), (date(2025, 1, 20), "200")):
        at = datetime(day.year, day.month, day.day, 8, tzinfo=UTC)
        save_panel(record, pid, [LabEntry("creatinine", value, "umol/L", uln="100")], at, now=NOW)
    trend = lab_trend(record, pid, "creatinine")
    assert [(p.value_si, p.grade) for p in trend.points] == [
        (Decimal("60"), 0),
        (Decimal("200"), 3),
    ]
