"""The rows of the patient list and the Today view, and the list as names alone.

Kept apart from ``services.patient_state`` (which computes the rows with the clinical rules)
so that the window can show who is in the record before those rules are imported: at a cold
start the names are painted first and the checks follow (issue 16). Nothing here imports
``core``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING

from clinic_app.storage import queries
from clinic_app.storage.database import Record

if TYPE_CHECKING:
    from clinic_app.core.records import PatientStatus


@dataclass(frozen=True)
class PatientRow:
    """One line of the patient list."""

    patient_id: int
    mrn: str
    family_name: str
    given_name: str
    date_of_birth: date
    protocol_key: str | None
    """``None`` when the patient has no enrolment."""
    protocol_name: str | None
    phase: str | None
    status: PatientStatus | None
    cycle: int | None
    day: int | None
    dose_level: int | None
    severe_toxicity: bool
    """Grade >= 3 toxicity this cycle."""
    dlt_review_pending: bool
    bsa_recheck: bool
    overdue_labs: bool
    notes: tuple[str, ...] = ()
    """One sentence per raised flag, and any data the row could not be computed from."""
    checked_out: str | None = None
    """Why this chart cannot be changed in this record: out on a laptop (issue 19)."""
    checked: bool = True
    """False for a row of ``names_only``: the enrolment, cycle and flags are not read yet, so
    nothing may be said of them (not "not enrolled", not "no flags")."""

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}".strip()

    @property
    def status_text(self) -> str:
        if not self.checked:
            return "still being read"
        if self.status is None:
            return "not enrolled"
        text = self.status.value.replace("_", " ")
        if self.cycle is not None:
            text += f", cycle {self.cycle}"
            if self.day is not None:
                text += f" day {self.day}"
        return text


class DueKind(StrEnum):
    CYCLE_START = "cycle_start"
    OVERDUE_CYCLE_START = "overdue_cycle_start"
    LAB_DAY = "lab_day"
    EVALUATION = "evaluation"
    IV_DOSE = "iv_dose"


@dataclass(frozen=True)
class DueItem:
    """Something the clinic has to do for one patient today: what, and why."""

    patient_id: int
    mrn: str
    full_name: str
    kind: DueKind
    what: str
    why: str
    cycle: int | None = None
    day: int | None = None


def names_only(record: Record) -> list[PatientRow]:
    """Every live patient's identity, with nothing computed: one query, no clinical rules.
    The window shows these while ``patient_state.list_patient_rows`` computes the real rows."""
    return [
        PatientRow(
            patient_id=int(row["patient_id"]),
            mrn=str(row["mrn"]),
            family_name=str(row["family_name"]),
            given_name=str(row["given_name"]),
            date_of_birth=date.fromisoformat(str(row["date_of_birth"])),
            protocol_key=None,
            protocol_name=None,
            phase=None,
            status=None,
            cycle=None,
            day=None,
            dose_level=None,
            severe_toxicity=False,
            dlt_review_pending=False,
            bsa_recheck=False,
            overdue_labs=False,
            checked=False,
        )
        for row in queries.patient_names(record)
    ]
