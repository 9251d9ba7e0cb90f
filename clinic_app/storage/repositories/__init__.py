"""Repositories: one small class per aggregate of the record, returning core objects.

Reads return live (not voided) rows as core objects; ``get(id)`` returns a
:class:`~clinic_app.storage.rows.Stored` with the ``version`` an editor must pass back to
``update``/``void``. Every write is one transaction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from clinic_app.storage.repositories.adverse_events import AdverseEventRepository
from clinic_app.storage.repositories.cycles import CycleRepository, DoseEventRepository
from clinic_app.storage.repositories.decisions import (
    DecisionRepository,
    DltReviewRepository,
    EndpointRepository,
)
from clinic_app.storage.repositories.enrolments import EnrolmentRepository
from clinic_app.storage.repositories.labs import LabRepository
from clinic_app.storage.repositories.modifications import ModificationRepository
from clinic_app.storage.repositories.observations import GcsfRepository, TemperatureRepository
from clinic_app.storage.repositories.patients import MeasurementRepository, PatientRepository
from clinic_app.storage.repositories.responses import ResponseRepository
from clinic_app.storage.repositories.settings import SettingRepository
from clinic_app.storage.signatures import DraftRepository, SignatureRepository
from clinic_app.storage.users import UserRepository

if TYPE_CHECKING:
    from clinic_app.storage.database import Record

__all__ = [
    "AdverseEventRepository",
    "CycleRepository",
    "DecisionRepository",
    "DltReviewRepository",
    "DoseEventRepository",
    "EndpointRepository",
    "EnrolmentRepository",
    "GcsfRepository",
    "LabRepository",
    "MeasurementRepository",
    "ModificationRepository",
    "PatientRepository",
    "Repositories",
    "ResponseRepository",
    "SettingRepository",
    "TemperatureRepository",
]


class Repositories:
    """Every repository over one :class:`Record` (``record.repos.patients.add(...)``)."""

    def __init__(self, record: Record) -> None:
        self.patients = PatientRepository(record)
        self.measurements = MeasurementRepository(record)
        self.enrolments = EnrolmentRepository(record)
        self.cycles = CycleRepository(record)
        self.doses = DoseEventRepository(record)
        self.labs = LabRepository(record)
        self.adverse_events = AdverseEventRepository(record)
        self.responses = ResponseRepository(record)
        self.modifications = ModificationRepository(record)
        self.decisions = DecisionRepository(record)
        self.dlt_reviews = DltReviewRepository(record)
        self.endpoints = EndpointRepository(record)
        self.temperatures = TemperatureRepository(record)
        self.gcsf = GcsfRepository(record)
        self.settings = SettingRepository(record)
        self.users = UserRepository(record)
        self.signatures = SignatureRepository(record)
        self.drafts = DraftRepository(record)
