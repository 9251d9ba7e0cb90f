"""Cycles of an enrolment and the planned/given doses of each cycle."""

from __future__ import annotations

from typing import Any

from clinic_app.core.cycles import CycleRow, CycleStatus, DoseDetails
from clinic_app.core.errors import DomainError
from clinic_app.core.records import DoseEvent, DoseStatus
from clinic_app.storage.repositories import _codec as c
from clinic_app.storage.repositories._base import Row, TableRepository


class CycleRepository(TableRepository[CycleRow]):
    table = "cycles"
    noun = "cycle"

    def encode(self, value: CycleRow) -> dict[str, Any]:
        if not str(value.phase).strip():
            raise DomainError("a cycle needs the key of its protocol phase", field="phase")
        if value.delay_days < 0:
            raise DomainError("a delay cannot be negative", field="delay_days")
        return {
            "number": value.number,
            "phase": str(value.phase),
            "planned_start": c.day(value.planned_start),
            "start_date": c.day(value.start_date),
            "delay_days": value.delay_days,
            "delay_reason": value.delay_reason,
            "dose_level": value.dose_level,
            "bsa_m2": c.dec(value.bsa_m2, "bsa_m2"),
            "bsa_formula": value.bsa_formula,
            "measurement_id": value.measurement_id,
            "crcl_ml_min": c.dec(value.crcl_ml_min, "crcl_ml_min"),
            "crcl_lab_id": value.crcl_lab_id,
            "elected_options": c.dump(value.elected_options),
            "status": CycleStatus(value.status).value,
        }

    def decode(self, row: Row) -> CycleRow:
        return CycleRow(
            enrolment_id=int(row["enrolment_id"]),
            number=int(row["number"]),
            phase=str(row["phase"]),
            planned_start=c.need_day(row["planned_start"]),
            status=CycleStatus(row["status"]),
            start_date=c.to_day(row["start_date"]),
            delay_days=int(row["delay_days"]),
            delay_reason=row["delay_reason"],
            dose_level=row["dose_level"],
            bsa_m2=c.to_dec(row["bsa_m2"]),
            bsa_formula=row["bsa_formula"],
            measurement_id=row["measurement_id"],
            crcl_ml_min=c.to_dec(row["crcl_ml_min"]),
            crcl_lab_id=row["crcl_lab_id"],
            elected_options=dict(c.load(row["elected_options"]) or {}),
            id=int(row["id"]),
        )

    def add(self, cycle: CycleRow, *, reason: str | None = None) -> int:
        return self._insert({"enrolment_id": cycle.enrolment_id, **self.encode(cycle)}, reason)

    def for_enrolment(self, enrolment_id: int) -> list[CycleRow]:
        return self._live("enrolment_id = ?", [enrolment_id], "number")


class DoseEventRepository(TableRepository[DoseEvent]):
    table = "dose_events"
    noun = "dose"

    def encode(self, value: DoseEvent) -> dict[str, Any]:
        status = DoseStatus(value.status)
        if status is DoseStatus.GIVEN and value.given_at is None:
            raise DomainError("a given dose needs the time it was given", field="given_at")
        if value.dose_mg < 0:
            raise DomainError("a dose cannot be negative", field="dose_mg")
        return {
            "day": value.day,
            "drug": value.drug,
            "dose_mg": c.dec(value.dose_mg, "dose_mg"),
            "status": status.value,
            "given_at": c.instant(value.given_at, "given_at"),
            "reason": value.reason,
        }

    def decode(self, row: Row) -> DoseEvent:
        return DoseEvent(
            cycle_id=int(row["cycle_id"]),
            day=int(row["day"]),
            drug=row["drug"],
            dose_mg=c.need_dec(row["dose_mg"]),
            status=DoseStatus(row["status"]),
            given_at=c.to_instant(row["given_at"]),
            reason=row["reason"],
            id=int(row["id"]),
        )

    def add(
        self,
        event: DoseEvent,
        details: DoseDetails | None = None,
        *,
        reason: str | None = None,
    ) -> int:
        extra = details or DoseDetails()
        return self._insert(
            {
                "cycle_id": event.cycle_id,
                **self.encode(event),
                "route": extra.route,
                "units": c.dump(extra.units),
            },
            reason,
        )

    def add_many(
        self, events: list[tuple[DoseEvent, DoseDetails | None]], *, reason: str
    ) -> list[int]:
        """A cycle's whole plan in one transaction: all doses are recorded, or none."""
        with self.record.transaction(reason=reason):
            return [self.add(event, details, reason=reason) for event, details in events]

    def details(self, dose_id: int) -> DoseDetails:
        rows = self._rows("id = ?", [dose_id], "id")
        if not rows:
            self.get(dose_id)  # raises the not-found error
        return DoseDetails(route=rows[0]["route"], units=dict(c.load(rows[0]["units"]) or {}))

    def for_cycle(self, cycle_id: int) -> list[DoseEvent]:
        return self._live("cycle_id = ?", [cycle_id], "day, drug, id")

    def for_enrolment(self, enrolment_id: int) -> list[DoseEvent]:
        """Every live dose of the enrolment's live cycles in one statement (a chart over a
        network costs the same round trips for 2 cycles or 20), by cycle, day and drug."""
        return self._live(
            "cycle_id IN (SELECT id FROM cycles WHERE enrolment_id = ? AND voided_at IS NULL)",
            [enrolment_id],
            "(SELECT number FROM cycles WHERE cycles.id = dose_events.cycle_id), day, drug, id",
        )
