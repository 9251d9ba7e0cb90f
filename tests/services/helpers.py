"""Small builders that write a realistic record through the real repositories."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from clinic_app.core.cycles import CycleRow, CycleStatus, DoseDetails
from clinic_app.core.records import (
    AdverseEvent,
    BodyMeasurement,
    DoseEvent,
    DoseStatus,
    Enrolment,
    LabResult,
    Patient,
    PatientStatus,
    Sex,
)
from clinic_app.storage.database import Record


def patient(record: Record, mrn: str, family: str, given: str = "Ana") -> int:
    return record.repos.patients.add(Patient(mrn, family, given, date(1955, 6, 1), Sex.FEMALE))


def enrol(
    record: Record,
    pid: int,
    protocol: str,
    on: date,
    *,
    status: PatientStatus = PatientStatus.ACTIVE,
    dose_level: int | None = None,
    cohort: str | None = None,
) -> int:
    return record.repos.enrolments.add(
        Enrolment(
            pid,
            protocol,
            on,
            on,
            {"consent": on},
            dose_level=dose_level,
            cohort=cohort,
            status=status,
        )
    )


def cycle(
    record: Record,
    eid: int,
    number: int,
    phase: str,
    planned: date,
    started: date | None = None,
    *,
    dose_level: int | None = None,
    bsa_m2: Decimal | None = None,
    measurement_id: int | None = None,
) -> int:
    return record.repos.cycles.add(
        CycleRow(
            eid,
            number,
            phase,
            planned,
            status=CycleStatus.STARTED if started else CycleStatus.PLANNED,
            start_date=started,
            dose_level=dose_level,
            bsa_m2=bsa_m2,
            bsa_formula="mosteller" if bsa_m2 else None,
            measurement_id=measurement_id,
        )
    )


def lab(
    record: Record, pid: int, test: str, value: str, unit: str, on: date, lln: str | None = None
) -> int:
    at = datetime(on.year, on.month, on.day, 8, 0, tzinfo=UTC)
    v = Decimal(value)
    return record.repos.labs.add(
        pid, LabResult(test, v, unit, at, v, None if lln is None else Decimal(lln))
    )


def weight(record: Record, pid: int, on: date, kg: str, cm: str | None = "170") -> int:
    return record.repos.measurements.add(
        pid, BodyMeasurement(on, Decimal(kg), None if cm is None else Decimal(cm))
    )


def adverse_event(
    record: Record, pid: int, term: str, grade: int, onset: date, resolved: date | None = None
) -> int:
    return record.repos.adverse_events.add(pid, AdverseEvent(term, grade, onset, resolved))


def planned_dose(
    record: Record, cycle_id: int, day: int, drug: str, mg: str, route: str | None
) -> int:
    return record.repos.doses.add(
        DoseEvent(cycle_id, day, drug, Decimal(mg), DoseStatus.PLANNED),
        DoseDetails(route=route),
    )
