"""Adverse-event entry: check the AE form field by field, save, correct or void an event.

No Qt here: ``clinic_app.gui.ae_entry`` shows each message of :func:`validate_ae` beside its
field and calls :func:`save_ae` on Save.

- The term comes from the CTCAE catalogue (``core.ae_terms``) and the grade must be one the
  term defines (Nausea has no grade 4).
- Attribution is asked for every drug of the patient's protocol: the BPD DLT rules (rules §5)
  need at least "possible" for each drug, so a missing one is a question left open.
- The DLT facts (despite maximal therapy, bleeding, pain, steroids) stay ``None`` until
  someone answers them: "not assessed" is never stored as "no".

>>> severity_label(3)
'⚠ Grade 3: severe or medically significant'
>>> severity_label(2)
'Grade 2: moderate'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date

from clinic_app.core.ae_terms import AeTerm, ae_term
from clinic_app.core.ctcae import is_severe
from clinic_app.core.errors import DomainError
from clinic_app.core.protocol import Protocol
from clinic_app.core.records import AdverseEvent, Attribution
from clinic_app.storage.database import Record
from clinic_app.storage.rows import Stored

WARNING_SIGN = "⚠"

# CTCAE v5.0 general grade meanings (the term's own description is shown beside them).
GRADE_MEANINGS: Mapping[int, str] = {
    1: "mild",
    2: "moderate",
    3: "severe or medically significant",
    4: "life-threatening",
    5: "death related to the adverse event",
}

FIELDS = (
    "term",
    "grade",
    "onset",
    "resolved",
    "attribution",
    "serious",
    "attributed_to_progression",
    "despite_maximal_therapy",
    "with_bleeding",
    "with_pain",
    "steroids_given",
    "required_dose_reduction",
    "notes",
)


def severity_label(grade: int) -> str:
    """The grade in words, with a warning sign from grade 3 (never colour alone)."""
    text = f"Grade {grade}: {GRADE_MEANINGS.get(grade, 'not a CTCAE grade')}"
    return f"{WARNING_SIGN} {text}" if is_severe(grade) else text


@dataclass(frozen=True)
class AeForm:
    """What the AE form holds; ``None`` where nothing has been chosen or answered."""

    term: str
    grade: int | None
    onset: date | None
    resolved: date | None = None
    serious: bool = False
    attribution: Mapping[str, Attribution | None] = field(default_factory=dict)
    """Per drug key of the patient's protocol; ``None`` while not chosen."""
    attributed_to_progression: bool = False
    despite_maximal_therapy: bool | None = None
    with_bleeding: bool | None = None
    with_pain: bool | None = None
    steroids_given: bool | None = None
    required_dose_reduction: bool = False
    notes: str = ""


@dataclass(frozen=True)
class ProtocolDrug:
    key: str
    name: str


def protocol_drugs(
    record: Record, patient_id: int, protocols: Mapping[str, Protocol]
) -> tuple[ProtocolDrug, ...]:
    """The drugs of the patient's current protocol (latest enrolment), in protocol order.

    Empty when the patient is not enrolled; DomainError when the protocol is not loaded.
    """
    enrolments = record.repos.enrolments.for_patient(patient_id)
    if not enrolments:
        return ()
    key = enrolments[-1].protocol
    protocol = protocols.get(key)
    if protocol is None:
        raise DomainError(
            f"The patient is enrolled on {key!r}, which is not among the loaded protocols.",
            field="attribution",
        )
    return tuple(ProtocolDrug(drug.key, drug.name) for drug in protocol.drugs.values())


def grade_choices(term: AeTerm) -> tuple[tuple[int, str], ...]:
    """Each grade the term defines with its CTCAE description, for the grade list."""
    return tuple((grade, term.grades[grade]) for grade in term.grades_defined)


def validate_ae(
    form: AeForm, drugs: Sequence[ProtocolDrug], today: date
) -> tuple[AdverseEvent | None, dict[str, str]]:
    """The event the form describes, or the sentence for each field that is wrong.

    Error keys are field names from :data:`FIELDS`, and ``attribution.<drug>`` per drug.
    """
    errors: dict[str, str] = {}
    term: AeTerm | None = None
    if not form.term.strip():
        errors["term"] = "Choose the CTCAE term from the list."
    else:
        try:
            term = ae_term(form.term)
        except DomainError:
            errors["term"] = f"{form.term!r} is not a CTCAE term in the list; choose one from it."
    if form.grade is None:
        errors["grade"] = "Choose the grade."
    elif term is not None:
        try:
            term.validate_grade(form.grade)
        except DomainError as error:
            errors["grade"] = error.message
    if form.onset is None:
        errors["onset"] = "Enter the onset date."
    elif form.onset > today:
        errors["onset"] = f"The onset {form.onset.isoformat()} is in the future."
    if form.resolved is not None:
        if form.onset is not None and form.resolved < form.onset:
            errors["resolved"] = (
                f"Resolution {form.resolved.isoformat()} is before the onset "
                f"{form.onset.isoformat()}; check both dates."
            )
        elif form.resolved > today:
            errors["resolved"] = f"The resolution {form.resolved.isoformat()} is in the future."
    attribution: dict[str, Attribution] = {}
    for drug in drugs:
        chosen = form.attribution.get(drug.key)
        if chosen is None:
            errors[f"attribution.{drug.key}"] = (
                f"Choose how likely {drug.name} caused it (unrelated to definite)."
            )
        else:
            attribution[drug.key] = chosen
    unknown = set(form.attribution) - {d.key for d in drugs}
    if unknown:
        errors["attribution"] = f"Not drugs of this protocol: {', '.join(sorted(unknown))}."
    if form.grade is not None and form.grade == 5 and form.resolved is not None:
        errors["resolved"] = "A grade 5 event (death) has no resolution date."
    if errors:
        return None, errors
    assert term is not None and form.grade is not None and form.onset is not None
    event = AdverseEvent(
        term=term.name,
        grade=form.grade,
        onset=form.onset,
        resolved=form.resolved,
        serious=form.serious,
        attribution=attribution,
        attributed_to_progression=form.attributed_to_progression,
        despite_maximal_therapy=form.despite_maximal_therapy,
        with_bleeding=form.with_bleeding,
        with_pain=form.with_pain,
        steroids_given=form.steroids_given,
        required_dose_reduction=form.required_dose_reduction,
        notes=form.notes.strip(),
    )
    return event, {}


def form_from_event(event: AdverseEvent) -> AeForm:
    """The form filled with a saved event (for a correction)."""
    return AeForm(
        term=event.term,
        grade=event.grade,
        onset=event.onset,
        resolved=event.resolved,
        serious=event.serious,
        attribution=dict(event.attribution),
        attributed_to_progression=event.attributed_to_progression,
        despite_maximal_therapy=event.despite_maximal_therapy,
        with_bleeding=event.with_bleeding,
        with_pain=event.with_pain,
        steroids_given=event.steroids_given,
        required_dose_reduction=event.required_dose_reduction,
        notes=event.notes,
    )


def _checked(form: AeForm, drugs: Sequence[ProtocolDrug], today: date) -> AdverseEvent:
    event, errors = validate_ae(form, drugs, today)
    if event is None:
        key, message = next(iter(errors.items()))
        raise DomainError(message, field=key)
    return event


def save_ae(
    record: Record,
    patient_id: int,
    form: AeForm,
    drugs: Sequence[ProtocolDrug],
    *,
    today: date,
) -> int:
    """Check the form again and write the event (one transaction); returns its id."""
    event = _checked(form, drugs, today)
    record.repos.patients.get(patient_id)  # RowNotFoundError for a patient not in the record
    return record.repos.adverse_events.add(patient_id, event, reason="adverse event entered")


def correct_ae(
    record: Record,
    ae_id: int,
    form: AeForm,
    drugs: Sequence[ProtocolDrug],
    *,
    expected_version: int,
    reason: str,
    today: date,
) -> Stored[AdverseEvent]:
    """Correct a saved event (audited with ``reason``); its grade history is kept."""
    if not reason.strip():
        raise DomainError("Say why the event is corrected.", field="reason")
    event = _checked(form, drugs, today)
    stored = record.repos.adverse_events.get(ae_id)
    event = replace(event, grade_history=stored.value.grade_history)
    return record.repos.adverse_events.update(
        ae_id, event, expected_version=expected_version, reason=reason
    )


def void_ae(record: Record, ae_id: int, *, expected_version: int, reason: str) -> None:
    """Mark an event entered in error; it stays in the record and the audit trail."""
    if not reason.strip():
        raise DomainError("Say why the event is voided.", field="reason")
    record.repos.adverse_events.void(ae_id, expected_version=expected_version, reason=reason)
