"""Storage refuses impossible values whatever path writes them (issue 15, item 3).

The limits are the ones data entry uses (resources/input_limits.toml for the body,
resources/ctcae/lab_tests.toml for labs, core.records for dates, numbers and text), so the
form, the repositories and import agree.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from clinic_app.core.cycles import CycleRow
from clinic_app.core.errors import DomainError
from clinic_app.core.records import (
    BodyMeasurement,
    DoseEvent,
    DoseStatus,
    LabResult,
    Patient,
    Sex,
    TemperatureReading,
)
from clinic_app.storage.database import Record

from .conftest import make_patient

AT = datetime(2026, 1, 5, 8, tzinfo=UTC)


def anc(value: str, unit: str = "10^9/L", test: str = "anc") -> LabResult:
    return LabResult(test, Decimal(value), unit, AT, Decimal(value))


@pytest.mark.parametrize(
    ("lab", "message"),
    [
        (anc("-1"), "cannot be negative"),
        (anc("1000000"), "is not possible"),  # ANC 10^6 x10^9/L: refuse_above is 500
        (anc("1.5", unit="mg/dL"), "is not used for"),
        (anc("1.5", test="unobtainium"), "Unknown lab test"),
    ],
)
def test_impossible_labs_are_refused(record: Record, lab: LabResult, message: str) -> None:
    pid = record.repos.patients.add(make_patient())
    with pytest.raises(DomainError, match=message):
        record.repos.labs.add(pid, lab)
    assert record.repos.labs.for_patient(pid) == []


@pytest.mark.parametrize(
    ("weight", "height", "message"),
    [
        ("700", "170", "Weight 700 kg is outside the plausible range 25-300 kg"),
        ("70", "20", "Height 20 cm is outside the plausible range 100-250 cm"),
        ("-70", None, "Weight must be a positive number"),
    ],
)
def test_impossible_body_measurements_are_refused(
    record: Record, weight: str, height: str | None, message: str
) -> None:
    pid = record.repos.patients.add(make_patient())
    m = BodyMeasurement(
        date(2026, 1, 2), Decimal(weight), None if height is None else Decimal(height)
    )
    with pytest.raises(DomainError, match=message):
        record.repos.measurements.add(pid, m)


def test_a_correction_is_held_to_the_same_limits(record: Record) -> None:
    pid = record.repos.patients.add(make_patient())
    lab_id = record.repos.labs.add(pid, anc("1.5"))
    with pytest.raises(DomainError, match="is not possible"):
        record.repos.labs.update(lab_id, anc("1000000"), expected_version=1, reason="typo")
    assert record.repos.labs.get(lab_id).value.value == Decimal("1.5")


@pytest.mark.parametrize(
    ("patient", "message"),
    [
        (make_patient(mrn="MRN\x00-1"), "MRN holds a control character \\(U\\+0000\\)"),
        (make_patient(family="Nov\x1bak"), "family name holds a control character"),
        (make_patient(family="x" * 101), "at most 100 fit"),
        (make_patient(mrn="M" * 41), "at most 40 fit"),
    ],
)
def test_names_and_mrns_are_printable_and_bounded(
    record: Record, patient: Patient, message: str
) -> None:
    with pytest.raises(DomainError, match=message):
        record.repos.patients.add(patient)


def test_dates_and_numbers_beyond_anything_real_are_refused(record: Record) -> None:
    with pytest.raises(DomainError, match="9999-12-31 is not a possible date"):
        record.repos.patients.add(Patient("M-1", "A", "B", date(9999, 12, 31), Sex.FEMALE))
    pid = record.repos.patients.add(make_patient())
    from clinic_app.core.records import Enrolment

    eid = record.repos.enrolments.add(Enrolment(pid, "bpd", date(2026, 1, 5), date(2026, 1, 2)))
    with pytest.raises(DomainError, match="not a possible date"):
        record.repos.cycles.add(
            CycleRow(eid, 1, "induction", date(2026, 1, 5), start_date=date(9999, 12, 31))
        )
    cid = record.repos.cycles.add(CycleRow(eid, 1, "induction", date(2026, 1, 5)))
    with pytest.raises(DomainError, match="far too large"):
        record.repos.doses.add(
            DoseEvent(cid, 1, "dexamethasone", Decimal("1E+999999"), DoseStatus.PLANNED)
        )
    with pytest.raises(DomainError, match="Temperature 60 °C is outside"):
        record.repos.temperatures.add(pid, TemperatureReading(AT, Decimal("60")))


def test_settings_hold_bounded_printable_text(record: Record) -> None:
    # The clinic name is printed on every card: 120 kB of it cannot be laid out.
    with pytest.raises(DomainError, match="at most 200 fit"):
        record.repos.settings.set("clinic.name", "C" * 120_000, reason="test")
    with pytest.raises(DomainError, match="control character"):
        record.repos.settings.set("clinic.name", "Clinic\x00", reason="test")
    deep: object = "x"
    for _ in range(5000):  # json.dumps would hit Python's recursion limit
        deep = [deep]
    with pytest.raises(DomainError, match="nests more than 20 levels"):
        record.repos.settings.set("lab_reference_ranges", deep, reason="test")
    assert record.repos.settings.value("clinic.name") is None


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        (
            "INSERT INTO body_measurements (patient_id, measured_on, weight_kg) "
            "VALUES (1, '2026-01-02', '700')",
            "weight_kg is outside 25-300 kg",
        ),
        (
            "INSERT INTO body_measurements (patient_id, measured_on, weight_kg, height_cm) "
            "VALUES (1, '2026-01-02', '70', '20')",
            "height_cm is outside 100-250 cm",
        ),
        (
            "INSERT INTO labs (patient_id, test, value, unit, value_si, collected_at) "
            "VALUES (1, 'anc', '1000000', '10^9/L', '1.5', '2026-01-05T08:00:00Z')",
            "not a possible value",
        ),
        (
            "INSERT INTO labs (patient_id, test, value, unit, value_si, collected_at) "
            "VALUES (1, 'anc', '-1', '10^9/L', '-1', '2026-01-05T08:00:00Z')",
            "not a possible value",
        ),
        (
            "INSERT INTO labs (patient_id, test, value, unit, value_si, collected_at) "
            "VALUES (1, 'anc', '1.5', 'furlongs', '1.5', '2026-01-05T08:00:00Z')",
            "not a unit of this test",
        ),
        (
            "UPDATE labs SET value = '1000000', value_si = '1000000', version = version + 1",
            "not a possible value",
        ),
    ],
)
@pytest.mark.sqlite_only
def test_plain_sql_cannot_store_impossible_values_either(
    record: Record, sql: str, message: str
) -> None:
    import sqlite3

    pid = record.repos.patients.add(make_patient())
    record.repos.labs.add(pid, anc("1.5"))
    conn = sqlite3.connect(str(record.path))
    try:
        with pytest.raises(sqlite3.IntegrityError, match=message):
            conn.execute(sql)
    finally:
        conn.close()
    assert [lab.value for lab in record.repos.labs.for_patient(pid)] == [Decimal("1.5")]


@pytest.mark.sqlite_only
def test_an_old_row_outside_the_limits_can_still_be_voided(record: Record) -> None:
    import sqlite3

    pid = record.repos.patients.add(make_patient())
    conn = sqlite3.connect(str(record.path))
    conn.execute("DROP TRIGGER body_measurements_limits_insert")  # as in a record from before
    conn.execute(
        "INSERT INTO body_measurements (patient_id, measured_on, weight_kg) "
        f"VALUES ({pid}, '2026-01-02', '700')"
    )
    conn.commit()
    conn.close()
    (row,) = record.sql.execute("SELECT id, version FROM body_measurements").fetchall()
    record.repos.measurements.void(row[0], expected_version=row[1], reason="typed 700 for 70")
    assert record.repos.measurements.get(row[0]).voided
