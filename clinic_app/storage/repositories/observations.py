"""Temperatures and G-CSF doses (febrile-neutropenia and growth-factor rules read these)."""

from __future__ import annotations

from typing import Any

from clinic_app.core.dosing import check_input
from clinic_app.core.errors import DomainError
from clinic_app.core.records import GcsfDose, TemperatureReading
from clinic_app.storage.repositories import _codec as c
from clinic_app.storage.repositories._base import Row, TableRepository


class TemperatureRepository(TableRepository[TemperatureReading]):
    table = "temperatures"
    noun = "temperature"

    def encode(self, value: TemperatureReading) -> dict[str, Any]:
        if value.sustained_minutes < 0:
            raise DomainError("a duration cannot be negative", field="sustained_minutes")
        check_input("celsius", value.celsius, "Temperature", "°C")
        return {
            "measured_at": c.instant(value.measured_at, "measured_at"),
            "celsius": c.dec(value.celsius, "celsius"),
            "sustained_minutes": value.sustained_minutes,
        }

    def decode(self, row: Row) -> TemperatureReading:
        measured = c.to_instant(row["measured_at"])
        assert measured is not None  # NOT NULL in the schema
        return TemperatureReading(
            measured_at=measured,
            celsius=c.need_dec(row["celsius"]),
            sustained_minutes=int(row["sustained_minutes"]),
        )

    def add(
        self, patient_id: int, reading: TemperatureReading, *, reason: str | None = None
    ) -> int:
        return self._insert({"patient_id": patient_id, **self.encode(reading)}, reason)

    def for_patient(self, patient_id: int) -> list[TemperatureReading]:
        readings = self._live("patient_id = ?", [patient_id], "measured_at, id")
        return sorted(readings, key=lambda r: r.measured_at)


class GcsfRepository(TableRepository[GcsfDose]):
    table = "gcsf_doses"
    noun = "G-CSF dose"

    def encode(self, value: GcsfDose) -> dict[str, Any]:
        return {"given_on": c.day(value.given_on)}

    def decode(self, row: Row) -> GcsfDose:
        return GcsfDose(given_on=c.need_day(row["given_on"]))

    def add(self, patient_id: int, dose: GcsfDose, *, reason: str | None = None) -> int:
        return self._insert({"patient_id": patient_id, **self.encode(dose)}, reason)

    def for_patient(self, patient_id: int) -> list[GcsfDose]:
        return self._live("patient_id = ?", [patient_id], "given_on, id")
