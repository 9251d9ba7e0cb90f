"""What the trial board window and the trial report show: plain frozen dataclasses.

``services.trial`` builds them from the record; the report renderer and the board read them.
They live here, below both, so the reports never import a service (issue 17).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from clinic_app.core.endpoints import EndpointDefinitions, ResponseRates
from clinic_app.core.escalation import DltStatus, EscalationDecision, EscalationDesign, LevelRow
from clinic_app.core.response import ResponseCategory
from clinic_app.core.survival import KaplanMeier


# -- escalation board --------------------------------------------------------------------------
@dataclass(frozen=True)
class BoardPatient:
    """One patient treated at a dose level, as the board lists them."""

    enrolment_id: int
    patient_id: int
    mrn: str
    full_name: str
    level: int
    enrolled_on: date
    evaluable: bool | None
    """Toxicity-evaluable, from the DLT reviews; ``None`` while not known."""
    dlt: DltStatus
    status_text: str
    """``confirmed yes``, ``confirmed no``, ``pending ...`` or ``not evaluable (replaced)``."""
    cohort: str | None = None
    """The enrolment's stored cohort (``"escalation"`` or ``"expansion"``); ``None`` when
    the enrolment did not record one."""


@dataclass(frozen=True)
class BoardLevel:
    level: int
    doses: str
    row: LevelRow
    """The engine's counts and state for the level."""
    closed_reason: str | None
    """Why nobody may be enrolled at this level now; ``None`` when it is open."""
    patients: tuple[BoardPatient, ...]


@dataclass(frozen=True)
class EscalationBoard:
    protocol_key: str
    protocol_name: str
    design: EscalationDesign
    decision: EscalationDecision | None
    """``None`` when the record cannot be read by the 3+3 rules (see ``problem``)."""
    problem: str | None
    levels: tuple[BoardLevel, ...]
    cap_note: str | None

    @property
    def decision_text(self) -> str:
        if self.decision is None:
            return "the escalation record cannot be read"
        return self.decision.text()

    @property
    def reason(self) -> str:
        if self.decision is None:
            return f"{self.problem}; correct the record before anyone else is enrolled."
        return self.decision.reason

    @property
    def next_patient(self) -> str:
        """Where the next patient goes, in one sentence."""
        if self.decision is None or not self.decision.allowed_levels:
            return "Nobody may be enrolled now."
        level = self.decision.allowed_levels[0]
        doses = next((b.doses for b in self.levels if b.level == level), "")
        return f"The next patient goes to level {level} ({doses}), {self.decision.phase.value}."

    def to_json(self) -> dict[str, Any]:
        d = self.decision
        return {
            "protocol": self.protocol_key,
            "decision": self.decision_text,
            "decision_kind": None if d is None else d.kind.value,
            "decision_level": None if d is None else d.level,
            "reason": self.reason,
            "next_patient": self.next_patient,
            "allowed_levels": [] if d is None else list(d.allowed_levels),
            "phase": None if d is None else d.phase.value,
            "recommended_level": None if d is None else d.recommended_level,
            "caps": None
            if d is None
            else {
                "escalation": [d.caps.escalation_enrolled, d.caps.escalation_cap],
                "expansion": [d.caps.expansion_enrolled, d.caps.expansion_cap],
                "total": [d.caps.total_enrolled, d.caps.total_cap],
            },
            "cap_note": self.cap_note,
            "levels": [
                {
                    "level": b.level,
                    "doses": b.doses,
                    "state": b.row.state.value,
                    "treated": b.row.treated,
                    "evaluable": b.row.evaluable,
                    "dlt_yes": b.row.dlt_yes,
                    "dlt_no": b.row.dlt_no,
                    "dlt_pending": b.row.dlt_pending,
                    "not_evaluable": b.row.not_evaluable,
                    "expansion": b.row.expansion,
                    "closed_reason": b.closed_reason,
                    "patients": [
                        {
                            "enrolment_id": p.enrolment_id,
                            "mrn": p.mrn,
                            "name": p.full_name,
                            "enrolled_on": p.enrolled_on.isoformat(),
                            "evaluable": p.evaluable,
                            "dlt": p.dlt.value,
                            "status": p.status_text,
                        }
                        for p in b.patients
                    ],
                }
                for b in self.levels
            ],
        }


# -- enrolment -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class CapLine:
    label: str
    enrolled: int
    cap: int

    @property
    def text(self) -> str:
        state = "cap reached" if self.enrolled >= self.cap else f"{self.cap - self.enrolled} left"
        return f"{self.enrolled} of {self.cap} ({state})"


@dataclass(frozen=True)
class OffBeforeTreatment:
    mrn: str
    full_name: str
    off_study_on: date | None
    reason: str


@dataclass(frozen=True)
class EnrolmentSummary:
    protocol_key: str
    protocol_name: str
    caps: tuple[CapLine, ...]
    cap_note: str | None
    screening: int
    active: int
    maintenance: int
    off_study: int
    off_study_reasons: tuple[tuple[str, int], ...]
    """(reason, patients) for every off-study reason recorded, most frequent first."""
    off_before_treatment: tuple[OffBeforeTreatment, ...]
    """Taken off study before cycle 1 started (screen failures, as far as the record says)."""


# -- endpoints -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class PatientResponse:
    """One row of the best-response table."""

    enrolment_id: int
    patient_id: int
    mrn: str
    full_name: str
    dose_level: int | None
    cycles_completed: int
    initial_response: ResponseCategory | None
    """At the assessment closing the protocol's initial-response cycle (None: none defined)."""
    initial_response_confirmed: bool
    best_response: ResponseCategory | None
    """The best category met on two consecutive assessments (IMWG confirmation)."""
    best_unconfirmed: ResponseCategory | None
    """A better category seen once only, awaiting confirmation; ``None`` when there is none."""
    notes: tuple[str, ...]


@dataclass(frozen=True)
class Excluded:
    mrn: str
    full_name: str
    reason: str


@dataclass(frozen=True)
class SurvivalCurve:
    key: str
    """``pfs``, ``dor`` or ``ttnt``."""
    label: str
    origin: str
    """What day 0 is for this endpoint."""
    km: KaplanMeier | None
    """``None`` when no patient has usable data."""
    at_risk_times: tuple[int, ...]
    at_risk: tuple[int, ...]
    excluded: tuple[Excluded, ...]


@dataclass(frozen=True)
class EndpointSummary:
    protocol_key: str
    protocol_name: str
    definitions: EndpointDefinitions | None
    """The protocol's [endpoints]; ``None``: it defines none (no rates and no curves)."""
    rates: ResponseRates | None
    patients: tuple[PatientResponse, ...]
    not_evaluable: tuple[Excluded, ...]
    """Patients left out of a rate, each with the reason."""
    curves: tuple[SurvivalCurve, ...]


@dataclass(frozen=True)
class TrialOverview:
    """Everything the board window and the trial report show."""

    as_of: date
    record_version: str
    board: EscalationBoard | None
    enrolment: EnrolmentSummary
    endpoints: EndpointSummary
    protocol_key: str
    protocol_name: str
    undated: tuple[str, ...] = ()
    """Entries with no date to filter by on ``as_of``, each with how it was read."""
