"""Enrolments of a patient on a protocol."""

from __future__ import annotations

from typing import Any

from clinic_app.core.errors import DomainError
from clinic_app.core.records import Enrolment, OffStudyReason, PatientStatus
from clinic_app.core.response import LightChain
from clinic_app.storage.repositories import _codec as c
from clinic_app.storage.repositories._base import Row, TableRepository

LIGHT_CHAINS: tuple[str, ...] = tuple(chain.value for chain in LightChain)


def _light_chain(value: str | None) -> str | None:
    if value is None:
        return None
    if value not in LIGHT_CHAINS:
        raise DomainError(
            f"involved light chain must be one of {', '.join(LIGHT_CHAINS)}, got {value!r}",
            field="light_chain",
        )
    return value


class EnrolmentRepository(TableRepository[Enrolment]):
    table = "enrolments"
    noun = "enrolment"

    def encode(self, value: Enrolment) -> dict[str, Any]:
        return {
            "protocol": value.protocol,
            "enrolled_on": c.day(value.enrolled_on),
            "consent_on": c.day(value.consent_on),
            "gates": c.dump({gate: c.day(on) for gate, on in value.gates.items()}),
            "dose_level": value.dose_level,
            "cohort": value.cohort,
            "status": PatientStatus(value.status).value,
            "off_study_on": c.day(value.off_study_on),
            "off_study_reason": (
                None if value.off_study_reason is None else OffStudyReason(value.off_study_reason)
            ),
            "light_chain": _light_chain(value.light_chain),
        }

    def decode(self, row: Row) -> Enrolment:
        gates = c.load(row["gates"]) or {}
        return Enrolment(
            patient_id=int(row["patient_id"]),
            protocol=row["protocol"],
            enrolled_on=c.need_day(row["enrolled_on"]),
            consent_on=c.need_day(row["consent_on"]),
            gates={gate: c.need_day(on) for gate, on in gates.items()},
            dose_level=row["dose_level"],
            cohort=row["cohort"],
            status=PatientStatus(row["status"]),
            off_study_on=c.to_day(row["off_study_on"]),
            off_study_reason=(
                None if row["off_study_reason"] is None else OffStudyReason(row["off_study_reason"])
            ),
            id=int(row["id"]),
            light_chain=row["light_chain"],
        )

    def add(self, enrolment: Enrolment, *, reason: str | None = None) -> int:
        return self._insert({"patient_id": enrolment.patient_id, **self.encode(enrolment)}, reason)

    def for_patient(self, patient_id: int) -> list[Enrolment]:
        return self._live("patient_id = ?", [patient_id], "enrolled_on, id")
