"""Entering one response assessment (the M-protein studies) and its IMWG category as it is typed.

:func:`check_response` turns the form's texts into a :class:`ResponseAssessment`, refusing each
bad value with a sentence for its field, and classifies it with
:func:`clinic_app.core.response.classify_series` against the patient's baseline (the last
assessment on or before cycle 1 day 1 that closes no cycle, as the chart reads it) and the
assessments before it. :func:`save_response` stores it (or corrects an existing one, with a
reason) in one transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from clinic_app.core.baselines import on_treatment, response_baseline, treatment_start
from clinic_app.core.errors import DomainError
from clinic_app.core.records import Immunofixation, ResponseAssessment
from clinic_app.core.response import (
    AssessedResponse,
    ResponseCategory,
    classify_series,
    light_chain_of,
)
from clinic_app.storage.database import Record
from clinic_app.storage.rows import Stored

NUMBER_FIELDS = (
    ("serum_m_protein_g_dl", "Serum M-protein", "g/dL"),
    ("urine_m_protein_mg_24h", "24-h urine M-protein", "mg/24 h"),
    ("involved_flc_mg_l", "Involved free light chain", "mg/L"),
    ("uninvolved_flc_mg_l", "Uninvolved free light chain", "mg/L"),
    ("marrow_plasma_cells_pct", "Marrow plasma cells", "%"),
    # IMWG 2016 (Kumar): % smaller than at baseline by SPD; PR needs >= 50 %, MR 25-49 %.
    ("plasmacytoma_shrinkage_pct", "Plasmacytoma shrinkage", "%"),
)


@dataclass(frozen=True)
class ResponseForm:
    """What the form holds: numbers as typed, choices as values (None = not done)."""

    assessed_on: date
    texts: Mapping[str, str] = field(default_factory=dict)
    """Typed numbers by field name (see ``NUMBER_FIELDS``); empty = not measured."""
    serum_ife: Immunofixation | None = None
    urine_ife: Immunofixation | None = None
    clonal_marrow_cells: bool | None = None
    soft_tissue_plasmacytoma: bool | None = None
    plasmacytoma_shrunk_50pct: bool | None = None
    """The yes/no "shrunk by >= 50 %" of an older entry being corrected (no longer asked).

    Kept unless a measured shrinkage is typed, which replaces it (the audit keeps the old)."""
    new_lesions: bool = False
    end_of_cycle: int | None = None


@dataclass(frozen=True)
class ResponseCheck:
    assessment: ResponseAssessment | None
    """None when a field is refused."""
    errors: Mapping[str, str]
    """Field name -> the sentence to show next to it."""
    result: AssessedResponse | None
    is_baseline: bool
    message: str
    """The IMWG category and its explanation, or why there is none."""

    @property
    def ok(self) -> bool:
        return self.assessment is not None and not self.errors


def _number(text: str, label: str, unit: str, name: str, errors: dict[str, str]) -> Decimal | None:
    cleaned = text.strip().replace(",", ".")
    if not cleaned:
        return None
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        errors[name] = f"{label} must be a number in {unit} (got {text.strip()!r})."
        return None
    if not value.is_finite():
        errors[name] = f"{label} must be a number in {unit}."
        return None
    if name == "plasmacytoma_shrinkage_pct":
        # Negative = larger than at baseline; more than 100 % smaller is impossible.
        if value > 100:
            errors[name] = (
                "The plasmacytoma cannot be more than 100 % smaller (100 % = gone); "
                "enter how much smaller it is than at baseline."
            )
            return None
        return value
    if value < 0:
        errors[name] = f"{label} cannot be negative."
        return None
    if name == "marrow_plasma_cells_pct" and value > 100:
        errors[name] = "Marrow plasma cells are a percentage: 0 to 100."
        return None
    if name.endswith("flc_mg_l") and value == 0:
        errors[name] = f"{label} of 0 mg/L cannot be right; leave it empty if not measured."
        return None
    return value


def _first_day(record: Record, patient_id: int) -> date | None:
    """Cycle 1 day 1 of the latest enrolment that has started treatment (core.baselines)."""
    for enrolment in reversed(record.repos.enrolments.for_patient(patient_id)):
        assert enrolment.id is not None
        started = treatment_start(record.repos.cycles.for_enrolment(enrolment.id))
        if started is not None:
            return started
    return None


def check_response(
    record: Record,
    patient_id: int,
    form: ResponseForm,
    today: date,
    *,
    replacing_id: int | None = None,
) -> ResponseCheck:
    """Validate the form and classify the assessment it describes (nothing is written)."""
    errors: dict[str, str] = {}
    values: dict[str, Decimal | None] = {
        name: _number(form.texts.get(name, ""), label, unit, name, errors)
        for name, label, unit in NUMBER_FIELDS
    }
    if form.assessed_on > today:
        errors["assessed_on"] = "The assessment date is in the future."
    others = [
        a
        for a in record.repos.responses.for_patient(patient_id)
        if replacing_id is None or a.id != replacing_id
    ]
    if any(a.assessed_on == form.assessed_on for a in others):
        errors["assessed_on"] = (
            f"An assessment of {form.assessed_on} is already recorded; correct that one instead."
        )
    if form.end_of_cycle is not None:
        closing = [a for a in others if a.end_of_cycle == form.end_of_cycle]
        if closing:
            errors["end_of_cycle"] = (
                f"Cycle {form.end_of_cycle} is already closed by the assessment of "
                f"{closing[0].assessed_on}; correct that one instead."
            )
    if errors:
        return ResponseCheck(None, errors, None, False, "Correct the marked fields.")
    nothing = (
        all(v is None for v in values.values())
        and form.serum_ife is None
        and not (form.new_lesions or form.urine_ife is not None)
    )
    if nothing:
        return ResponseCheck(None, {}, None, False, "Enter the studies: nothing is entered yet.")
    assessment = ResponseAssessment(
        assessed_on=form.assessed_on,
        serum_ife=form.serum_ife,
        urine_ife=form.urine_ife,
        clonal_marrow_cells=form.clonal_marrow_cells,
        soft_tissue_plasmacytoma=form.soft_tissue_plasmacytoma,
        # A measurement replaces the older yes/no answer; without one the old fact stays.
        plasmacytoma_shrunk_50pct=(
            form.plasmacytoma_shrunk_50pct if values["plasmacytoma_shrinkage_pct"] is None else None
        ),
        new_lesions=form.new_lesions,
        end_of_cycle=form.end_of_cycle,
        **values,  # type: ignore[arg-type]
    )
    first_day = _first_day(record, patient_id)
    # IMWG: the baseline is the pre-treatment study (on or before cycle 1 day 1, closing no cycle).
    is_baseline = form.end_of_cycle is None and (first_day is None or form.assessed_on <= first_day)
    if is_baseline:
        return ResponseCheck(
            assessment,
            {},
            None,
            True,
            "Baseline (pre-treatment) assessment: later assessments are measured against it.",
        )
    baseline = response_baseline(others, first_day)
    if baseline is None or first_day is None:
        return ResponseCheck(
            assessment,
            {},
            None,
            False,
            "No baseline assessment is recorded (on or before cycle 1 day 1): the IMWG category "
            "cannot be computed until one is.",
        )
    earlier = [a for a in on_treatment(others, first_day) if a.assessed_on < form.assessed_on]
    try:
        results = classify_series(
            baseline,
            [*earlier, assessment],
            light_chain=light_chain_of(record.repos.enrolments.for_patient(patient_id)),
        )
    except DomainError as exc:
        name = exc.field or "serum_m_protein_g_dl"
        return ResponseCheck(None, {name: exc.message}, None, False, exc.message)
    result = results[-1]
    return ResponseCheck(assessment, {}, result, False, "\n".join(result_lines(result)))


def result_lines(result: AssessedResponse) -> list[str]:
    """The category as the screens show it, then each reason a better one was not assessable."""
    if result.category is ResponseCategory.NE:
        # "not evaluable: nothing measured" is the whole category; nothing to confirm.
        lines = [result.explanation[0].upper() + result.explanation[1:] + "."]
    else:
        status = "confirmed" if result.confirmed else "not confirmed yet (IMWG needs two in a row)"
        lines = [f"{result.category.value} ({status}): {result.explanation}"]
    return lines + [f"Limited by: {text}" for text in result.limited_by]


def save_response(
    record: Record,
    patient_id: int,
    check: ResponseCheck,
    *,
    replacing: Stored[ResponseAssessment] | None = None,
    reason: str = "",
) -> int:
    """Store the checked assessment, or correct ``replacing`` (a reason is required)."""
    if not check.ok or check.assessment is None:
        raise DomainError("The assessment has errors; correct them first.", field="assessed_on")
    if replacing is None:
        return record.repos.responses.add(patient_id, check.assessment, reason=reason or None)
    if not reason.strip():
        raise DomainError("Say why the assessment is corrected.", field="reason")
    record.repos.responses.update(
        replacing.id, check.assessment, expected_version=replacing.version, reason=reason
    )
    return replacing.id
