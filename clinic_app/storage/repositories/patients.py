"""Patients and their dated body measurements."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from clinic_app.core.dosing import check_input
from clinic_app.core.errors import DomainError
from clinic_app.core.records import LINE_MAX, BodyMeasurement, Patient, Sex, check_text
from clinic_app.storage.engines import ConstraintError
from clinic_app.storage.errors import NOTHING_LOST
from clinic_app.storage.repositories import _codec as c
from clinic_app.storage.repositories._base import Row, TableRepository
from clinic_app.storage.rows import Stored


class PatientRepository(TableRepository[Patient]):
    table = "patients"
    noun = "patient"

    def encode(self, value: Patient) -> dict[str, Any]:
        mrn = value.mrn.strip()
        if not mrn:
            raise DomainError("the MRN is empty", field="mrn")
        for name, items in (("allergies", value.allergies), ("alerts", value.alerts)):
            for item in items:
                check_text(item, name, f"An entry of {name}", limit=LINE_MAX)
        return {
            "mrn": mrn,
            "family_name": value.family_name,
            "given_name": value.given_name,
            "date_of_birth": c.day(value.date_of_birth),
            "sex": Sex(value.sex).value,
            "allergies": c.dump(list(value.allergies)),
            "alerts": c.dump(list(value.alerts)),
        }

    def decode(self, row: Row) -> Patient:
        return Patient(
            mrn=row["mrn"],
            family_name=row["family_name"],
            given_name=row["given_name"],
            date_of_birth=c.need_day(row["date_of_birth"]),
            sex=Sex(row["sex"]),
            allergies=tuple(c.load(row["allergies"])),
            alerts=tuple(c.load(row["alerts"])),
            id=int(row["id"]),
        )

    def _integrity_problem(self, exc: ConstraintError, columns: Mapping[str, Any]) -> Exception:
        if "patients.mrn" in str(exc):
            return DomainError(
                f"MRN {columns.get('mrn')} is already used by another patient; {NOTHING_LOST}.",
                field="mrn",
            )
        return super()._integrity_problem(exc, columns)

    def add(self, patient: Patient, *, reason: str | None = None) -> int:
        return self._insert(self.encode(patient), reason)

    def by_mrn(self, mrn: str) -> Stored[Patient] | None:
        rows = self._rows("mrn = ? AND voided_at IS NULL", [mrn.strip()], "id")
        return self._stored(rows[0]) if rows else None

    def all(self) -> list[Patient]:
        """Every patient not voided, by family then given name."""
        return self._live("TRUE", [], "family_name, given_name, id")


class MeasurementRepository(TableRepository[BodyMeasurement]):
    table = "body_measurements"
    noun = "body measurement"

    def encode(self, value: BodyMeasurement) -> dict[str, Any]:
        # The same plausible ranges as the BSA calculation (resources/input_limits.toml).
        check_input("weight_kg", value.weight_kg, "Weight", "kg")
        if value.height_cm is not None:
            check_input("height_cm", value.height_cm, "Height", "cm")
        return {
            "measured_on": c.day(value.measured_on),
            "weight_kg": c.dec(value.weight_kg, "weight_kg"),
            "height_cm": c.dec(value.height_cm, "height_cm"),
        }

    def decode(self, row: Row) -> BodyMeasurement:
        return BodyMeasurement(
            measured_on=c.need_day(row["measured_on"]),
            weight_kg=c.need_dec(row["weight_kg"]),
            height_cm=c.to_dec(row["height_cm"]),
            id=int(row["id"]),
        )

    def add(
        self, patient_id: int, measurement: BodyMeasurement, *, reason: str | None = None
    ) -> int:
        return self._insert({"patient_id": patient_id, **self.encode(measurement)}, reason)

    def for_patient(self, patient_id: int) -> list[BodyMeasurement]:
        """Oldest first; several on one day keep the order they were entered."""
        return self._live("patient_id = ?", [patient_id], "measured_on, id")

    def latest_on_or_before(self, patient_id: int, day: date) -> BodyMeasurement | None:
        rows = [m for m in self.for_patient(patient_id) if m.measured_on <= day]
        return rows[-1] if rows else None
