"""Repositories: one small class per aggregate of the record, returning core objects.

Reads return live (not voided) rows as core objects; ``get(id)`` returns a
:class:`~clinic_app.storage.rows.Stored` with the ``version`` an editor must pass back to
``update``/``void``. Every write is one transaction.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from clinic_app.storage.database import Record
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
    from clinic_app.storage.repositories.observations import (
        GcsfRepository,
        TemperatureRepository,
    )
    from clinic_app.storage.repositories.patients import MeasurementRepository, PatientRepository
    from clinic_app.storage.repositories.responses import ResponseRepository
    from clinic_app.storage.repositories.settings import SettingRepository
    from clinic_app.storage.signatures import DraftRepository, SignatureRepository
    from clinic_app.storage.users import UserRepository

# Each repository's module and class. A repository is built, and its module imported, the
# first time it is used: the window's start reads users and settings only, and importing every
# repository (and the clinical records they decode) cost ~90 ms before its first paint (issue 16).
_REPOSITORIES = {
    "patients": ("clinic_app.storage.repositories.patients", "PatientRepository"),
    "measurements": ("clinic_app.storage.repositories.patients", "MeasurementRepository"),
    "enrolments": ("clinic_app.storage.repositories.enrolments", "EnrolmentRepository"),
    "cycles": ("clinic_app.storage.repositories.cycles", "CycleRepository"),
    "doses": ("clinic_app.storage.repositories.cycles", "DoseEventRepository"),
    "labs": ("clinic_app.storage.repositories.labs", "LabRepository"),
    "adverse_events": ("clinic_app.storage.repositories.adverse_events", "AdverseEventRepository"),
    "responses": ("clinic_app.storage.repositories.responses", "ResponseRepository"),
    "modifications": ("clinic_app.storage.repositories.modifications", "ModificationRepository"),
    "decisions": ("clinic_app.storage.repositories.decisions", "DecisionRepository"),
    "dlt_reviews": ("clinic_app.storage.repositories.decisions", "DltReviewRepository"),
    "endpoints": ("clinic_app.storage.repositories.decisions", "EndpointRepository"),
    "temperatures": ("clinic_app.storage.repositories.observations", "TemperatureRepository"),
    "gcsf": ("clinic_app.storage.repositories.observations", "GcsfRepository"),
    "settings": ("clinic_app.storage.repositories.settings", "SettingRepository"),
    "users": ("clinic_app.storage.users", "UserRepository"),
    "signatures": ("clinic_app.storage.signatures", "SignatureRepository"),
    "drafts": ("clinic_app.storage.signatures", "DraftRepository"),
}


class Repositories:
    """Every repository over one :class:`Record` (``record.repos.patients.add(...)``), each
    built on first use."""

    if TYPE_CHECKING:
        patients: PatientRepository
        measurements: MeasurementRepository
        enrolments: EnrolmentRepository
        cycles: CycleRepository
        doses: DoseEventRepository
        labs: LabRepository
        adverse_events: AdverseEventRepository
        responses: ResponseRepository
        modifications: ModificationRepository
        decisions: DecisionRepository
        dlt_reviews: DltReviewRepository
        endpoints: EndpointRepository
        temperatures: TemperatureRepository
        gcsf: GcsfRepository
        settings: SettingRepository
        users: UserRepository
        signatures: SignatureRepository
        drafts: DraftRepository

    def __init__(self, record: Record) -> None:
        self._record = record

    def all(self) -> list[Any]:
        """Every repository, each built now if it was not yet."""
        return [getattr(self, name) for name in _REPOSITORIES]

    def __getattr__(self, name: str) -> Any:
        # Called only for an attribute not set yet: the first use of that repository.
        try:
            module, class_name = _REPOSITORIES[name]
        except KeyError:
            raise AttributeError(name) from None
        repository = getattr(importlib.import_module(module), class_name)(self._record)
        setattr(self, name, repository)
        return repository
