"""Laboratory results, kept as entered plus the SI value used for grading."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from clinic_app.core import labs
from clinic_app.core.errors import DomainError
from clinic_app.core.records import LabResult
from clinic_app.storage.repositories import _codec as c
from clinic_app.storage.repositories._base import Row, TableRepository
from clinic_app.storage.schema import LAB_FACT_COLUMNS


def _facts(row: Row) -> tuple[tuple[str, bool], ...]:
    found: list[tuple[str, bool]] = []
    for name in LAB_FACT_COLUMNS:
        value = c.to_flag(row.get(name))
        if value is not None:
            found.append((name, value))
    return tuple(found)


class LabRepository(TableRepository[LabResult]):
    table = "labs"
    noun = "lab result"

    def encode(self, value: LabResult) -> dict[str, Any]:
        # A known test in one of its units, and a value that can be real (the lab form's own
        # check, core.labs): negative or 10^6 ANC is refused whatever path writes it.
        test = labs.lab_test(value.test)
        test.factor(value.unit)
        check = labs.check_plausible(value.test, value.value, value.unit)
        if check.refused:
            raise DomainError(check.reason, field="value")
        unknown = {name for name, _ in value.facts} - set(LAB_FACT_COLUMNS)
        if unknown:
            raise DomainError(f"Unknown clinical fact {sorted(unknown)[0]!r}.", field="facts")
        return {
            "test": value.test,
            "value": c.dec(value.value, "value"),
            "unit": value.unit,
            "value_si": c.dec(value.value_si, "value_si"),
            "lln": c.dec(value.lln, "lln"),
            "uln": c.dec(value.uln, "uln"),
            "collected_at": c.instant(value.collected_at, "collected_at"),
            # CTCAE clinical facts (migration 0009): 1/0, NULL when not asked or not known.
            **{name: c.flag(dict(value.facts).get(name)) for name in LAB_FACT_COLUMNS},
        }

    def decode(self, row: Row) -> LabResult:
        collected = c.to_instant(row["collected_at"])
        assert collected is not None  # NOT NULL in the schema
        return LabResult(
            test=row["test"],
            value=c.need_dec(row["value"]),
            unit=row["unit"],
            collected_at=collected,
            value_si=c.need_dec(row["value_si"]),
            lln=c.to_dec(row["lln"]),
            uln=c.to_dec(row["uln"]),
            id=int(row["id"]),
            facts=_facts(row),
        )

    def add(self, patient_id: int, lab: LabResult, *, reason: str | None = None) -> int:
        return self._insert({"patient_id": patient_id, **self.encode(lab)}, reason)

    def for_patient(
        self, patient_id: int, *, test: str | None = None, since: datetime | None = None
    ) -> list[LabResult]:
        """Oldest first. ``since`` is inclusive."""
        where, params = "patient_id = ?", [patient_id]
        results = self._live(
            where + (" AND test = ?" if test else ""),
            [*params, test] if test else params,
            "collected_at, id",
        )
        # Sort on the instant itself: rows written outside the app may use another ISO spelling.
        results.sort(key=lambda r: r.collected_at)
        return [r for r in results if since is None or r.collected_at >= since]
