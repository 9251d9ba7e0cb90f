"""Lab entry: check a panel as it is typed, save it in one transaction, correct or void a result.

No Qt here: the lab form (``clinic_app.gui.lab_entry``) calls :func:`check_panel` on every
keystroke and :func:`save_panel` on Save; the trend plot reads :func:`lab_trend`.

- Values are kept as typed, with the unit and the exact SI value (rules §3).
- A value that cannot be real (negative, letters, potassium 45, ANC above the WBC of the same
  sample) is refused at its field with the reason (``core.labs``); one that is possible but
  unusual is saved only once the user has confirmed it.
- The CTCAE grade comes from ``core.ctcae.grade_lab`` with the LLN/ULN on the form, which are
  pre-filled from :class:`ReferenceRanges` (``resources/lab_reference_ranges.toml``, replaced
  per clinic by the ``lab_reference_ranges`` setting in the record).

>>> check = check_entry(LabEntry("anc", "0.4", "10^9/L", "1.8", "7.5"))
>>> check.status.value, check.grade_text
('ok', '⚠ Neutrophil count decreased: grade 4 (ANC 0.4 ×10⁹/L < 0.5)')
>>> check_entry(LabEntry("potassium", "45", "mmol/L")).errors["value"][:30]
'Potassium 45 mmol/L is not pos'
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from functools import cache
from pathlib import Path

from clinic_app.core import labs
from clinic_app.core.baselines import baseline_in_unit, lab_baseline, treatment_start
from clinic_app.core.ctcae import (
    LAB_FACTS,
    LLN,
    ULN,
    BaselineState,
    GradingTable,
    LabGrade,
    default_grading_table,
    grade_lab,
)
from clinic_app.core.errors import DomainError, ProtocolError
from clinic_app.core.ismp import format_number
from clinic_app.core.records import LabResult
from clinic_app.core.resources import resources_dir
from clinic_app.storage.database import Record
from clinic_app.storage.rows import Stored

SETTING_KEY = "lab_reference_ranges"
"""The record setting that holds a clinic's own limits (same shape as the TOML file)."""

# The panel as the form shows it: sections in the order a lab report lists them.
PANEL: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("CBC with differential", ("wbc", "anc", "lymphocytes", "hemoglobin", "platelets")),
    ("Electrolytes", ("sodium", "potassium", "magnesium")),
    ("Kidney and calcium", ("creatinine", "calcium_corrected")),
    ("Liver tests", ("alt", "ast", "bilirubin")),
    (
        "M-protein studies",
        ("serum_m_protein", "urine_m_protein", "flc_involved", "flc_uninvolved"),
    ),
)
PANEL_TESTS: tuple[str, ...] = tuple(test for _, tests in PANEL for test in tests)

WARNING_SIGN = "⚠"
# Plain decimal as people type it: digits with at most one point. No exponents, signs are
# handled separately so "-1" gets the "cannot be negative" sentence.
_DECIMAL_TEXT = re.compile(r"^-?(\d+(\.\d*)?|\.\d+)$")


# -- reference ranges -------------------------------------------------------------------------
@dataclass(frozen=True)
class ReferenceRange:
    """One laboratory's LLN and ULN for one test in one unit; ``None`` where it has none."""

    lln: Decimal | None = None
    uln: Decimal | None = None


@dataclass(frozen=True)
class ReferenceRanges:
    """LLN/ULN per (test, unit).

    TOML / setting shape: ``{test: {unit: {"lln": "1.8", "uln": "7.5"}}}``, decimals written
    as strings; test and unit keys from ``resources/ctcae/lab_tests.toml``.
    """

    ranges: Mapping[tuple[str, str], ReferenceRange] = field(default_factory=dict)

    def get(self, test: str, unit: str) -> ReferenceRange:
        return self.ranges.get((test, unit), ReferenceRange())

    def overridden_by(self, other: ReferenceRanges) -> ReferenceRanges:
        return ReferenceRanges({**self.ranges, **other.ranges})

    def to_mapping(self) -> dict[str, dict[str, dict[str, str]]]:
        table: dict[str, dict[str, dict[str, str]]] = {}
        for (test, unit), limits in self.ranges.items():
            entry = {
                name: str(value)
                for name, value in (("lln", limits.lln), ("uln", limits.uln))
                if value is not None
            }
            table.setdefault(test, {})[unit] = entry
        return table

    @classmethod
    def from_mapping(cls, table: Mapping[str, object], source: str) -> ReferenceRanges:
        ranges: dict[tuple[str, str], ReferenceRange] = {}
        for test, units in table.items():
            try:
                entry = labs.lab_test(test)
            except DomainError:
                raise ProtocolError(source, test, "unknown lab test") from None
            if not isinstance(units, Mapping):
                raise ProtocolError(source, test, "must be a table of units")
            for unit, limits in units.items():
                where = f"{test}.{unit}"
                if unit not in entry.units:
                    offered = ", ".join(entry.units)
                    raise ProtocolError(source, where, f"unit not offered (use {offered})")
                if not isinstance(limits, Mapping):
                    raise ProtocolError(source, where, "must be a table with lln and/or uln")
                unknown = set(limits) - {"lln", "uln"}
                if unknown:
                    raise ProtocolError(
                        source, where, f"unknown keys: {', '.join(sorted(unknown))}"
                    )
                lln = _limit(limits.get("lln"), source, f"{where}.lln")
                uln = _limit(limits.get("uln"), source, f"{where}.uln")
                if lln is not None and uln is not None and lln >= uln:
                    raise ProtocolError(source, where, "lln must be below uln")
                ranges[test, unit] = ReferenceRange(lln, uln)
        return cls(ranges)


def _limit(raw: object, source: str, key: str) -> Decimal | None:
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise ProtocolError(source, key, 'must be a decimal written as a string, e.g. "1.8"')
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ProtocolError(source, key, f"{raw!r} is not a number") from None
    if not value.is_finite() or value < 0:
        raise ProtocolError(source, key, "must be a number >= 0")
    return value


def load_reference_ranges(path: Path | None = None) -> ReferenceRanges:
    """The default limits; the bundled ``resources/lab_reference_ranges.toml`` by default."""
    path = path or resources_dir() / "lab_reference_ranges.toml"
    with path.open("rb") as handle:
        return ReferenceRanges.from_mapping(tomllib.load(handle), str(path))


@cache
def default_reference_ranges() -> ReferenceRanges:
    return load_reference_ranges()


def reference_ranges(record: Record) -> ReferenceRanges:
    """The defaults, with the clinic's own limits (kept in the record) taking precedence."""
    stored = record.repos.settings.value(SETTING_KEY)
    if stored is None:
        return default_reference_ranges()
    if not isinstance(stored, Mapping):
        raise ProtocolError(f"setting {SETTING_KEY}", "(value)", "must be a table of tests")
    override = ReferenceRanges.from_mapping(stored, f"setting {SETTING_KEY}")
    return default_reference_ranges().overridden_by(override)


def set_reference_range(
    record: Record,
    test: str,
    unit: str,
    lln: Decimal | None,
    uln: Decimal | None,
    *,
    reason: str,
) -> None:
    """Store the clinic's own limits for one test and unit (audited, with ``reason``)."""
    with record.transaction(reason=reason):
        stored = record.repos.settings.value(SETTING_KEY) or {}
        current = ReferenceRanges.from_mapping(stored, f"setting {SETTING_KEY}")
        changed = current.overridden_by(ReferenceRanges({(test, unit): ReferenceRange(lln, uln)}))
        try:
            table = changed.to_mapping()
            ReferenceRanges.from_mapping(table, "the new limits")
        except ProtocolError as error:
            raise DomainError(
                f"{labs.lab_test(test).name} {unit}: {error.problem}.", field="lln"
            ) from None
        record.repos.settings.set(SETTING_KEY, table, reason=reason)


# -- checking a panel as it is typed ----------------------------------------------------------
@dataclass(frozen=True)
class LabEntry:
    """One row of the form, as typed."""

    test: str
    value: str
    unit: str
    lln: str = ""
    uln: str = ""
    facts: tuple[tuple[str, bool], ...] = ()
    """CTCAE clinical facts ticked on the form (``core.ctcae.LAB_FACTS`` keys); a fact not
    listed was not asked or is not known."""

    @property
    def is_empty(self) -> bool:
        return not self.value.strip()


def facts_asked(test: str, *, table: GradingTable | None = None) -> tuple[str, ...]:
    """The clinical facts CTCAE v5.0 uses for ``test`` (``LAB_FACTS`` order), for the form.

    >>> facts_asked("calcium_corrected")
    ('symptomatic', 'hospitalisation_indicated', 'life_threatening')
    >>> facts_asked("anc")
    ()
    """
    used = {
        c.requires
        for rule in (table or default_grading_table()).terms_for(test)
        for c in rule.criteria
        if c.requires is not None
    }
    return tuple(fact for fact in LAB_FACTS if fact in used)


class EntryStatus(StrEnum):
    EMPTY = "empty"
    """Nothing typed: the test is not part of this panel."""
    OK = "ok"
    UNUSUAL = "unusual"
    """Possible but outside the usual range: saved only once confirmed."""
    REFUSED = "refused"
    """Cannot be stored; ``errors`` says why, per field."""


@dataclass(frozen=True)
class EntryCheck:
    test: str
    status: EntryStatus
    errors: Mapping[str, str] = field(default_factory=dict)
    """Field (``value``, ``unit``, ``lln``, ``uln``) -> the sentence to show beside it."""
    warning: str = ""
    """For ``UNUSUAL``: what to confirm."""
    result: LabResult | None = None
    """The result to store (``collected_at`` is a placeholder until the panel is saved)."""
    grade: LabGrade | None = None
    grade_text: str = ""
    """What the form shows beside the value: the CTCAE term and grade, or why there is none."""

    @property
    def severe(self) -> bool:
        """Grade 3 or more (or at least 3 for certain when the grade is open)."""
        return self.grade is not None and self.grade.severe


def parse_decimal(text: str, what: str) -> Decimal | None:
    """A typed number, ``None`` when blank; DomainError with a sentence otherwise.

    >>> parse_decimal(" 1.50 ", "value")
    Decimal('1.50')
    >>> parse_decimal("1,5", "value")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    clinic_app.core.errors.DomainError: '1,5' is not a number: write digits with a decimal point ...
    """
    cleaned = text.strip()
    if not cleaned:
        return None
    if not _DECIMAL_TEXT.match(cleaned):
        # A comma is a decimal comma in some hands and a thousands separator in others
        # (platelets typed as 150,000): refuse both and say how to write either.
        hint = "write digits with a decimal point and no thousands separator, e.g. 1.5 or 150"
        if cleaned[:1] in "<>":
            hint = "enter the number only; note '<' results in the comment of the lab report"
        raise DomainError(f"{cleaned!r} is not a number: {hint}.", field=what)
    return Decimal(cleaned)


def check_entry(
    entry: LabEntry, *, table: GradingTable | None = None, at: datetime | None = None
) -> EntryCheck:
    """Check one row on its own: the value, the unit, the limits; then grade it."""
    if entry.is_empty:
        return EntryCheck(entry.test, EntryStatus.EMPTY)
    test = labs.lab_test(entry.test)
    errors: dict[str, str] = {}
    values: dict[str, Decimal | None] = {}
    for name, text in (("value", entry.value), ("lln", entry.lln), ("uln", entry.uln)):
        try:
            values[name] = parse_decimal(text, name)
        except DomainError as error:
            errors[name] = error.message
    if entry.unit not in test.units:
        offered = ", ".join(labs.unit_label(u) for u in test.units)
        errors["unit"] = f"Choose the unit for {test.name} ({offered})."
    for name in ("lln", "uln"):
        limit = values.get(name)
        if limit is not None and limit < 0:
            errors[name] = f"The {name.upper()} cannot be negative."
    lln, uln = values.get("lln"), values.get("uln")
    if lln is not None and uln is not None and lln >= uln and "lln" not in errors:
        errors["lln"] = (
            f"The LLN {format_number(lln)} must be below the ULN {format_number(uln)}; "
            "check the reference range."
        )
    value = values.get("value")
    if errors or value is None:
        return EntryCheck(entry.test, EntryStatus.REFUSED, errors)
    plausible = labs.check_plausible(entry.test, value, entry.unit)
    if plausible.refused:
        return EntryCheck(entry.test, EntryStatus.REFUSED, {"value": plausible.reason})
    result = LabResult(
        test=entry.test,
        value=value,
        unit=entry.unit,
        collected_at=at or datetime.min.replace(tzinfo=UTC),
        value_si=test.to_si(value, entry.unit),
        lln=lln,
        uln=uln,
        facts=entry.facts,
    )
    grade, grade_text = _grade(result, table)
    status = (
        EntryStatus.UNUSUAL if plausible.status is labs.Plausibility.UNUSUAL else EntryStatus.OK
    )
    return EntryCheck(entry.test, status, {}, plausible.reason, result, grade, grade_text)


def _grade(result: LabResult, table: GradingTable | None) -> tuple[LabGrade | None, str]:
    grading = table or default_grading_table()
    if not grading.terms_for(result.test):
        return None, "No CTCAE lab grade (a response study)"
    graded = grade_lab(
        result.test,
        result.value,
        result.unit,
        result.lln,
        result.uln,
        table=grading,
        facts=result.fact_map,
    )
    return graded, describe_grade(graded)


def describe_grade(graded: LabGrade) -> str:
    """The term and grade in words, saying what is missing when the value cannot settle it."""
    _, _, reason = graded.explanation.rpartition(": ")
    detail = graded.explanation
    if graded.grade is not None:
        # "ANC 0.4 ×10⁹/L < 0.5: grade 4" -> "... grade 4 (ANC 0.4 ×10⁹/L < 0.5)"
        detail = graded.explanation.removesuffix(f": {reason}")
        text = f"{graded.term}: grade {graded.grade} ({detail})"
    else:
        text = f"{graded.term}: {detail.split(': ', 1)[1]}"
    if graded.raisable_by:
        text += "; higher if " + ", or ".join(str(fact) for fact in graded.raisable_by)
    if graded.severe:
        text = f"{WARNING_SIGN} {text}"
    return text


@dataclass(frozen=True)
class PanelCheck:
    entries: Mapping[str, EntryCheck]
    collected_error: str = ""

    @property
    def entered(self) -> tuple[EntryCheck, ...]:
        return tuple(c for c in self.entries.values() if c.status is not EntryStatus.EMPTY)

    @property
    def unusual(self) -> tuple[str, ...]:
        return tuple(c.test for c in self.entered if c.status is EntryStatus.UNUSUAL)

    def problems(self, confirmed: Collection[str] = ()) -> dict[str, str]:
        """``"<test>.<field>"`` (or ``"collected_at"``/``"panel"``) -> what stops the save."""
        found: dict[str, str] = {}
        if self.collected_error:
            found["collected_at"] = self.collected_error
        for check in self.entered:
            for name, message in check.errors.items():
                found[f"{check.test}.{name}"] = message
            if check.status is EntryStatus.UNUSUAL and check.test not in confirmed:
                found[f"{check.test}.confirm"] = check.warning
        if not self.entered:
            found["panel"] = "Enter at least one value."
        return found


def check_panel(
    entries: Sequence[LabEntry],
    collected_at: datetime | None,
    now: datetime,
    *,
    table: GradingTable | None = None,
) -> PanelCheck:
    """Check every row, then the counts of the same sample against each other."""
    checks = {e.test: check_entry(e, table=table, at=collected_at) for e in entries}
    _cross_check_differential(checks)
    return PanelCheck(checks, _collected_problem(collected_at, now))


def _collected_problem(collected_at: datetime | None, now: datetime) -> str:
    if collected_at is None:
        return "Enter the date and time the sample was collected."
    if collected_at.tzinfo is None:
        raise ValueError("collected_at must carry a timezone")
    if collected_at > now:
        return "The collection time is in the future; check the date and time."
    return ""


def _cross_check_differential(checks: dict[str, EntryCheck]) -> None:
    """Refuse ANC or lymphocytes above the WBC of the same sample (``core.labs``)."""
    wbc = checks.get("wbc")
    if wbc is None or wbc.result is None:
        return
    parts = {t: checks[t].result for t in ("anc", "lymphocytes") if t in checks}
    anc = parts.get("anc")
    lymph = parts.get("lymphocytes")
    verdict = labs.check_differential(
        wbc.result.value_si,
        None if anc is None else anc.value_si,
        None if lymph is None else lymph.value_si,
    )
    if not verdict.refused:
        return
    wbc_si = wbc.result.value_si
    at_fault = [t for t, r in parts.items() if r is not None and r.value_si > wbc_si]
    if not at_fault:  # neither alone is above the WBC: their sum is
        at_fault = [t for t, r in parts.items() if r is not None]
    for test in at_fault:
        checks[test] = EntryCheck(test, EntryStatus.REFUSED, {"value": verdict.reason})


# -- writing ----------------------------------------------------------------------------------
def _refuse(problems: Mapping[str, str]) -> DomainError:
    key, message = next(iter(problems.items()))
    return DomainError(message, field=key)


def save_panel(
    record: Record,
    patient_id: int,
    entries: Sequence[LabEntry],
    collected_at: datetime,
    *,
    now: datetime,
    confirmed_unusual: Collection[str] = (),
) -> tuple[int, ...]:
    """Write every entered row of the panel in one transaction; returns the new lab ids.

    Checks again first and writes nothing if any row is refused or an unusual value is not in
    ``confirmed_unusual`` (DomainError whose ``field`` is ``"<test>.<field>"``).
    """
    panel = check_panel(entries, collected_at, now)
    problems = panel.problems(confirmed_unusual)
    if problems:
        raise _refuse(problems)
    record.repos.patients.get(patient_id)  # RowNotFoundError for a patient not in the record
    ids: list[int] = []
    with record.transaction(reason="lab panel entered"):
        for check in panel.entered:
            assert check.result is not None
            ids.append(record.repos.labs.add(patient_id, check.result))
    return tuple(ids)


def correct_lab(
    record: Record,
    patient_id: int,
    lab_id: int,
    entry: LabEntry,
    collected_at: datetime,
    *,
    expected_version: int,
    reason: str,
    now: datetime,
    confirmed_unusual: bool = False,
) -> Stored[LabResult]:
    """Correct a saved result (audited with ``reason``); checked like a new one.

    The corrected count is cross-checked against the other counts of the same sample.
    """
    if not reason.strip():
        raise DomainError("Say why the result is corrected.", field="reason")
    stored = record.repos.labs.get(lab_id)
    if entry.test != stored.value.test:
        raise DomainError("A correction cannot change which test this is.", field="test")
    same_sample = [
        LabEntry(lab.test, str(lab.value), lab.unit, facts=lab.facts)
        for lab in record.repos.labs.for_patient(patient_id)
        if lab.collected_at == collected_at and lab.id != lab_id and lab.test != entry.test
    ]
    panel = check_panel([entry, *same_sample], collected_at, now)
    problems = panel.problems([entry.test] if confirmed_unusual else [])
    if problems:
        raise _refuse(problems)
    check = panel.entries[entry.test]
    assert check.result is not None
    return record.repos.labs.update(
        lab_id, check.result, expected_version=expected_version, reason=reason
    )


def void_lab(record: Record, lab_id: int, *, expected_version: int, reason: str) -> None:
    """Mark a result entered in error; it stays in the record and the audit trail."""
    if not reason.strip():
        raise DomainError("Say why the result is voided.", field="reason")
    record.repos.labs.void(lab_id, expected_version=expected_version, reason=reason)


# -- trends -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrendPoint:
    collected_at: datetime
    value_si: Decimal
    grade: int | None
    """``None`` when the stored limits cannot settle it (or the test has no CTCAE grade)."""
    lab_id: int | None


@dataclass(frozen=True)
class ThresholdLine:
    """A CTCAE grade boundary drawn across the plot, in the test's SI unit."""

    grade: int
    value_si: Decimal
    term: str
    label: str


@dataclass(frozen=True)
class CycleMark:
    number: int
    start: date
    label: str


@dataclass(frozen=True)
class LabTrend:
    test: str
    name: str
    unit_si: str
    points: tuple[TrendPoint, ...]
    thresholds: tuple[ThresholdLine, ...]
    cycles: tuple[CycleMark, ...]
    notes: tuple[str, ...] = ()
    """What the plot cannot show and why (e.g. a boundary that needs a missing ULN)."""


def lab_trend(
    record: Record, patient_id: int, test: str, *, table: GradingTable | None = None
) -> LabTrend:
    """Every live result of ``test`` over the whole treatment, with the grade boundaries.

    Boundaries relative to LLN/ULN use the most recent result's own limits (else the
    reference range on file for the SI unit). Baseline-relative boundaries are not drawn.
    """
    entry = labs.lab_test(test)
    grading = table or default_grading_table()
    results = record.repos.labs.for_patient(patient_id, test=test)
    # Graded against the pre-treatment baseline as the chart grades them (core.baselines).
    baseline = lab_baseline(results, test, _treatment_start(record, patient_id))
    points = tuple(
        TrendPoint(r.collected_at, r.value_si, _point_grade(r, grading, baseline), r.id)
        for r in results
    )
    notes: list[str] = []
    limits = _latest_limits_si(results) or _range_si(reference_ranges(record), entry)
    references = {LLN: limits[0], ULN: limits[1]}
    lines: dict[tuple[int, Decimal], ThresholdLine] = {}
    for rule in grading.terms_for(test):
        for criterion in rule.criteria:
            bound = criterion.bound
            if bound is None or criterion.requires is not None:
                continue
            if criterion.baseline is BaselineState.ABNORMAL or bound.reference == "baseline":
                continue
            level = bound.resolve(references)
            if level is None:
                notes.append(
                    f"Grade {criterion.grade} ({rule.name}) needs the {bound.reference}, "
                    "which no result or reference range gives: not drawn."
                )
                continue
            symbol = rule.symbol(inclusive=criterion.inclusive)
            label = f"G{criterion.grade} {symbol} {format_number(level)}"
            lines.setdefault(
                (criterion.grade, level), ThresholdLine(criterion.grade, level, rule.name, label)
            )
    if not grading.terms_for(test):
        notes.append(f"{entry.name} has no CTCAE lab grade.")
    return LabTrend(
        test=test,
        name=entry.name,
        unit_si=entry.si_unit,
        points=points,
        thresholds=tuple(sorted(lines.values(), key=lambda t: (t.term, t.grade))),
        cycles=_cycle_marks(record, patient_id),
        notes=tuple(dict.fromkeys(notes)),
    )


def _treatment_start(record: Record, patient_id: int) -> date | None:
    """Cycle 1 day 1 of the latest enrolment (the one the chart shows)."""
    enrolments = record.repos.enrolments.for_patient(patient_id)
    if not enrolments or enrolments[-1].id is None:
        return None
    return treatment_start(record.repos.cycles.for_enrolment(enrolments[-1].id))


def _point_grade(
    result: LabResult, grading: GradingTable, baseline: LabResult | None
) -> int | None:
    if not grading.terms_for(result.test):
        return None
    try:
        base = baseline_in_unit(baseline, result)
    except DomainError:
        return None  # a baseline in a unit that cannot be converted: the grade stays open
    graded = grade_lab(
        result.test,
        result.value,
        result.unit,
        result.lln,
        result.uln,
        base,
        table=grading,
        facts=result.fact_map,
    )
    return graded.grade


def _latest_limits_si(results: Sequence[LabResult]) -> tuple[Decimal | None, Decimal | None] | None:
    for result in reversed(results):
        if result.lln is not None or result.uln is not None:
            entry = labs.lab_test(result.test)
            return (
                None if result.lln is None else entry.to_si(result.lln, result.unit),
                None if result.uln is None else entry.to_si(result.uln, result.unit),
            )
    return None


def _range_si(
    ranges: ReferenceRanges, entry: labs.LabTest
) -> tuple[Decimal | None, Decimal | None]:
    limits = ranges.get(entry.key, entry.si_unit)
    return limits.lln, limits.uln


def _cycle_marks(record: Record, patient_id: int) -> tuple[CycleMark, ...]:
    marks: list[CycleMark] = []
    for enrolment in record.repos.enrolments.for_patient(patient_id):
        assert enrolment.id is not None
        for cycle in record.repos.cycles.for_enrolment(enrolment.id):
            if cycle.start_date is not None:
                marks.append(CycleMark(cycle.number, cycle.start_date, f"C{cycle.number}"))
    return tuple(sorted(marks, key=lambda m: m.start))
