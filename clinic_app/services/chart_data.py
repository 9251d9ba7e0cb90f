"""Everything the patient chart shows about one patient, read through the repositories.

No Qt and no SQL here: the chart (``clinic_app.gui.chart``) turns a :class:`ChartData` into its
header, timeline and tabs. The current enrolment is the most recent one; its protocol gives
the cycle length, the drug order and the drugs' names and prescribing units.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from clinic_app.core.cycles import CycleRow, CycleStatus
from clinic_app.core.phase_decision import maintenance_phase as decided_phase
from clinic_app.core.protocol import Protocol
from clinic_app.core.records import (
    AdverseEvent,
    DoseEvent,
    DoseModification,
    Enrolment,
    LabResult,
    Patient,
    ResponseAssessment,
)
from clinic_app.services.context import record_protocols
from clinic_app.storage.database import Record


@dataclass(frozen=True)
class ChartData:
    patient: Patient
    enrolment: Enrolment | None
    protocol: Protocol | None
    cycles: tuple[CycleRow, ...] = ()
    doses: tuple[DoseEvent, ...] = ()
    labs: tuple[LabResult, ...] = ()
    adverse_events: tuple[AdverseEvent, ...] = ()
    responses: tuple[ResponseAssessment, ...] = ()
    modifications: tuple[DoseModification, ...] = ()
    problems: tuple[str, ...] = ()
    drug_names: Mapping[str, str] = field(default_factory=dict)
    drug_units: Mapping[str, str] = field(default_factory=dict)
    """Each drug's prescribing unit (mg or mg/m²), for dose modifications."""

    @property
    def cycle_length_days(self) -> int | None:
        """The protocol's cycle length; a phase may set its own (``Protocol.cycle_length``),
        which the timeline uses for each cycle."""
        return self.protocol.cycle_length_days if self.protocol else None

    @property
    def drug_order(self) -> tuple[str, ...]:
        return tuple(self.protocol.drugs) if self.protocol else ()

    @property
    def current_cycle(self) -> CycleRow | None:
        """The latest started (or completed) cycle, else the first planned one."""
        started = [
            c for c in self.cycles if c.status in (CycleStatus.STARTED, CycleStatus.COMPLETED)
        ]
        if started:
            return max(started, key=lambda c: c.number)
        planned = [c for c in self.cycles if c.status is CycleStatus.PLANNED]
        return min(planned, key=lambda c: c.number) if planned else None

    @property
    def maintenance_phase(self) -> str | None:
        """The phase key the protocol's end-of-cycle decision moves to (maintenance)."""
        return decided_phase(self.protocol.decision_params) if self.protocol else None

    @property
    def phase_names(self) -> Mapping[str, str]:
        return {p.key: p.name for p in self.protocol.phases} if self.protocol else {}

    @property
    def current_phase(self) -> str | None:
        cycle = self.current_cycle
        return cycle.phase if cycle else None

    def protocol_name(self) -> str:
        if self.enrolment is None:
            return "not enrolled"
        return self.protocol.name if self.protocol else self.enrolment.protocol

    def cycle_days(self, cycle_id: int) -> tuple[DoseEvent, ...]:
        return tuple(d for d in self.doses if d.cycle_id == cycle_id)


def load_chart(
    record: Record,
    patient_id: int,
    *,
    protocols: Mapping[str, Protocol] | None = None,
) -> ChartData:
    """The chart of one patient (raises ``RowNotFoundError`` for an unknown patient).

    ``protocols`` defaults to the record's own (its settings applied, as the app uses them).
    """
    repos = record.repos
    patient = repos.patients.get(patient_id).value
    enrolments = repos.enrolments.for_patient(patient_id)
    labs = tuple(repos.labs.for_patient(patient_id))
    adverse_events = tuple(repos.adverse_events.for_patient(patient_id))
    responses = tuple(repos.responses.for_patient(patient_id))
    problems: list[str] = []
    from clinic_app.storage.checkout.guard import chart_note  # not needed for the start

    out = chart_note(record, patient_id)  # out on a laptop: read only here (issue 19)
    if out is not None:
        problems.append(out)
    if not enrolments:
        return ChartData(
            patient,
            None,
            None,
            labs=labs,
            adverse_events=adverse_events,
            responses=responses,
            problems=tuple(problems),
        )
    if len(enrolments) > 1:
        problems.append(
            f"{len(enrolments)} enrolments are recorded; the chart shows the latest "
            f"({enrolments[-1].protocol}, {enrolments[-1].enrolled_on.isoformat()})."
        )
    enrolment = enrolments[-1]
    known = protocols if protocols is not None else record_protocols(record)
    protocol = known.get(enrolment.protocol)
    if protocol is None:
        problems.append(
            f"Protocol {enrolment.protocol!r} is not installed: the cycle length and drug "
            "names are unknown, so the timeline cannot be drawn."
        )
    assert enrolment.id is not None  # read from the record
    cycles = tuple(repos.cycles.for_enrolment(enrolment.id))
    doses = tuple(repos.doses.for_enrolment(enrolment.id))
    modifications = tuple(repos.modifications.for_enrolment(enrolment.id))
    names = {k: d.name for k, d in protocol.drugs.items()} if protocol else {}
    units = {k: d.basis.unit for k, d in protocol.drugs.items()} if protocol else {}
    return ChartData(
        patient=patient,
        enrolment=enrolment,
        protocol=protocol,
        cycles=cycles,
        doses=doses,
        labs=labs,
        adverse_events=adverse_events,
        responses=responses,
        modifications=modifications,
        problems=tuple(problems),
        drug_names=names,
        drug_units=units,
    )
