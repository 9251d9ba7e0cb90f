"""Adverse events (CTCAE term, grade, attribution per drug)."""

from __future__ import annotations

from typing import Any

from clinic_app.core.errors import DomainError
from clinic_app.core.records import AdverseEvent, Attribution
from clinic_app.storage.repositories import _codec as c
from clinic_app.storage.repositories._base import Row, TableRepository


class AdverseEventRepository(TableRepository[AdverseEvent]):
    table = "adverse_events"
    noun = "adverse event"

    def encode(self, value: AdverseEvent) -> dict[str, Any]:
        # CTCAE v5.0 grades run 1 to 5; anything else is a data-entry mistake.
        if not 1 <= value.grade <= 5:
            raise DomainError(f"grade {value.grade} is not a CTCAE grade (1-5)", field="grade")
        return {
            "term": value.term,
            "grade": value.grade,
            "onset": c.day(value.onset),
            "resolved": c.day(value.resolved),
            "serious": int(value.serious),
            "attribution": c.dump({d: Attribution(a).value for d, a in value.attribution.items()}),
            "attributed_to_progression": int(value.attributed_to_progression),
            "despite_maximal_therapy": c.flag(value.despite_maximal_therapy),
            "with_bleeding": c.flag(value.with_bleeding),
            "with_pain": c.flag(value.with_pain),
            "steroids_given": c.flag(value.steroids_given),
            "required_dose_reduction": int(value.required_dose_reduction),
            "grade_history": c.dump([[c.day(d), g] for d, g in value.grade_history]),
            "notes": value.notes,
        }

    def decode(self, row: Row) -> AdverseEvent:
        return AdverseEvent(
            term=row["term"],
            grade=int(row["grade"]),
            onset=c.need_day(row["onset"]),
            resolved=c.to_day(row["resolved"]),
            serious=bool(row["serious"]),
            attribution={d: Attribution(a) for d, a in (c.load(row["attribution"]) or {}).items()},
            attributed_to_progression=bool(row["attributed_to_progression"]),
            despite_maximal_therapy=c.to_flag(row["despite_maximal_therapy"]),
            with_bleeding=c.to_flag(row["with_bleeding"]),
            with_pain=c.to_flag(row["with_pain"]),
            steroids_given=c.to_flag(row["steroids_given"]),
            required_dose_reduction=bool(row["required_dose_reduction"]),
            grade_history=tuple(
                (c.need_day(d), int(g)) for d, g in (c.load(row["grade_history"]) or [])
            ),
            notes=row["notes"],
            id=int(row["id"]),
        )

    def add(self, patient_id: int, event: AdverseEvent, *, reason: str | None = None) -> int:
        return self._insert({"patient_id": patient_id, **self.encode(event)}, reason)

    def for_patient(self, patient_id: int) -> list[AdverseEvent]:
        return self._live("patient_id = ?", [patient_id], "onset, id")
