"""Dose modifications of an enrolment (from a cycle and day on, a drug is capped)."""

from __future__ import annotations

from typing import Any

from clinic_app.core.records import DoseModification, ReductionCause
from clinic_app.storage.repositories import _codec as c
from clinic_app.storage.repositories._base import Row, TableRepository


class ModificationRepository(TableRepository[DoseModification]):
    table = "dose_modifications"
    noun = "dose modification"

    def encode(self, value: DoseModification) -> dict[str, Any]:
        return {
            "drug": value.drug,
            "old_dose": c.dec(value.old_dose, "old_dose"),
            "new_dose": c.dec(value.new_dose, "new_dose"),
            "reason": value.reason,
            "effective_cycle": value.effective_cycle,
            "effective_day": value.effective_day,
            "decided_by": value.decided_by,
            "decided_on": c.day(value.decided_on),
            "cause": value.cause.value if value.cause is not None else None,
        }

    def decode(self, row: Row) -> DoseModification:
        return DoseModification(
            drug=row["drug"],
            old_dose=c.need_dec(row["old_dose"]),
            new_dose=c.need_dec(row["new_dose"]),
            reason=row["reason"],
            effective_cycle=int(row["effective_cycle"]),
            decided_by=row["decided_by"],
            decided_on=c.need_day(row["decided_on"]),
            effective_day=int(row["effective_day"]),
            cause=ReductionCause(row["cause"]) if row["cause"] is not None else None,
            id=int(row["id"]),
        )

    def add(
        self, enrolment_id: int, modification: DoseModification, *, reason: str | None = None
    ) -> int:
        return self._insert({"enrolment_id": enrolment_id, **self.encode(modification)}, reason)

    def for_enrolment(self, enrolment_id: int) -> list[DoseModification]:
        return self._live("enrolment_id = ?", [enrolment_id], "effective_cycle, effective_day, id")
