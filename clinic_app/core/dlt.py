"""BPD cycle-1 dose-limiting toxicity (DLT): a proposal for the investigator (rules §5).

The engine reads what was recorded in the first 28 days of cycle 1 (adverse events, ANC and
platelet counts, temperatures, G-CSF, held doses, dose reductions, the cycle-2 day-1 date) and
proposes DLT yes / no / not yet, naming every rule that fired with its evidence, every rule
that came close but did not fire and why, and every item it could not assess. The
investigator confirms; this module never records a decision.

Readings of the protocol text (BPD seed 002), also shown in every proposal's ``notes``:

- The seed's "> Grade 3" is read as ">= Grade 3" (rules §5: a lost "≥"; otherwise "any
  Grade 4 rash" would be redundant).
- For nausea, vomiting and diarrhoea, neuropathy and rash, the specific clause wins over
  "any >= Grade 3": G3 nausea without maximal antiemetic therapy, G3 neuropathy without pain
  and a G3 rash back below G2 within 10 days are not DLTs.
- Thrombotic events other than venous thromboembolism are excluded from the general clause
  and named by no other clause, so they are not DLTs; the proposal says so.
- The marrow-involvement exemption covers the three items the seed attaches it to: febrile
  neutropenia, G4 neutropenia and G4 thrombocytopenia. "G3-4 thrombocytopenia with bleeding"
  stays assessed (the protocol wins over the rules page's shorter wording).

>>> from datetime import date, datetime, timezone
>>> from clinic_app.core.protocol_loader import load_protocols
>>> bpd = load_protocols()["bpd"].dlt_criteria
>>> start = date(2024, 3, 4)
>>> proposal = propose_dlt(DltInputs(cycle1_start=start, assessed_on=date(2024, 4, 1),
...                                  c2d1_actual=date(2024, 4, 1)), bpd)
>>> proposal.dlt, proposal.evaluable_for_toxicity
(False, True)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from clinic_app.core.dosing import format_dose_change
from clinic_app.core.errors import DomainError, MissingDataError, ProtocolError
from clinic_app.core.ismp import format_number
from clinic_app.core.labs import unit_label
from clinic_app.core.records import (
    AdverseEvent,
    DoseEvent,
    DoseModification,
    DoseStatus,
    GcsfDose,
    LabResult,
    TemperatureReading,
)

ANC = "anc"
PLATELETS = "platelets"
# CTCAE v5.0 febrile neutropenia: a single temperature > 38.3 °C or a sustained >= 38 °C.
# Below the protocol's 38.5 °C, a fever this high with a low ANC is for the investigator.
_CTCAE_SUSTAINED_FEVER = Decimal("38.0")


class AeCategory(StrEnum):
    """How the DLT rules treat an AE term. The AE term catalogue supplies the mapping."""

    NEUTROPENIA = "neutropenia"
    FEBRILE_NEUTROPENIA = "febrile_neutropenia"
    THROMBOCYTOPENIA = "thrombocytopenia"
    HAEMATOLOGICAL = "haematological"
    """Any other haematological term (anaemia, lymphopenia, ...)."""
    NON_HAEMATOLOGICAL = "non_haematological"
    NAUSEA_VOMITING_DIARRHOEA = "nausea_vomiting_diarrhoea"
    """Only nausea, vomiting and diarrhoea; other GI terms are ``non_haematological``."""
    NEUROPATHY = "neuropathy"
    RASH = "rash"
    VENOUS_THROMBOEMBOLISM = "venous_thromboembolism"
    THROMBOTIC = "thrombotic"
    """Thrombotic events that are not venous thromboembolism (e.g. arterial)."""

    @property
    def haematological(self) -> bool:
        return self in _HAEMATOLOGICAL

    @property
    def thrombotic(self) -> bool:
        return self in {AeCategory.VENOUS_THROMBOEMBOLISM, AeCategory.THROMBOTIC}


_HAEMATOLOGICAL = frozenset(
    {
        AeCategory.NEUTROPENIA,
        AeCategory.FEBRILE_NEUTROPENIA,
        AeCategory.THROMBOCYTOPENIA,
        AeCategory.HAEMATOLOGICAL,
    }
)


class DltRule(StrEnum):
    """One clause of the BPD DLT definition (seed 002, rules §5)."""

    FEBRILE_NEUTROPENIA = "haem.febrile_neutropenia"
    G4_NEUTROPENIA = "haem.g4_neutropenia_over_7_days_despite_gcsf"
    G4_THROMBOCYTOPENIA = "haem.g4_thrombocytopenia_over_7_days_despite_delay"
    THROMBOCYTOPENIA_WITH_BLEEDING = "haem.g3_4_thrombocytopenia_with_bleeding"
    HAEM_DOSE_REDUCTION = "haem.dose_reduction_in_cycle_1"
    NONHAEM_GRADE_3 = "nonhaem.any_grade_3_or_more"
    NAUSEA_VOMITING_DIARRHOEA = "nonhaem.g3_nausea_vomiting_diarrhoea_despite_maximal_therapy"
    NEUROPATHY_WITH_PAIN = "nonhaem.g3_neuropathy_with_pain"
    VENOUS_THROMBOEMBOLISM = "nonhaem.g3_venous_thromboembolism"
    RASH_GRADE_4 = "nonhaem.g4_rash"
    RASH_G3_NOT_RESOLVED = "nonhaem.g3_rash_not_below_g2_within_10_days_despite_steroids"
    NONHAEM_DOSE_REDUCTION = "nonhaem.dose_reduction_in_cycle_1"
    C2D1_DELAY = "c2d1_delay_over_14_days"


@dataclass(frozen=True)
class DltCriteria:
    """Every DLT threshold, defaults as on the rules page (§5) and the BPD seed.

    Counts are in 10^9/L, temperatures in °C. The protocol TOML table uses the field names as
    keys (see docs/api/dlt.md).
    """

    fever_celsius: Decimal = Decimal("38.5")  # BPD: fever of 38.5 C
    febrile_anc_below: Decimal = Decimal("1.0")  # BPD: ANC < 1.0
    febrile_episode_hours: int = 24  # our reading: fever within 24 h of the low ANC
    g4_anc_below: Decimal = Decimal("0.5")  # CTCAE v5.0 neutrophil count decreased G4
    g3_platelets_below: Decimal = Decimal("50")  # CTCAE v5.0 platelet count decreased G3
    g4_platelets_below: Decimal = Decimal("25")  # CTCAE v5.0 platelet count decreased G4
    cytopenia_days_over: int = 7  # BPD: "for more than 7 days"
    rash_resolution_days: int = 10  # BPD: "within a 10 day period"
    rash_resolved_below_grade: int = 2  # BPD: "resolved to < Grade 2"
    rash_any_grade: int = 4  # BPD: "any Grade 4 rash"
    c2d1_delay_days_over: int = 14  # BPD: "greater than 14 days"
    marrow_involvement_pct_over: Decimal = Decimal("30")  # BPD amendment: 50 % -> 30 %
    exemption_anc_below: Decimal = Decimal("1.0")  # BPD: enter with ANC < 1.0
    exemption_platelets_below: Decimal = Decimal("50")  # BPD: enter with platelets < 50
    window_days: int = 28  # BPD: first treatment cycle (28 days)
    gcsf_cover_days: int | None = None
    """Days a G-CSF dose supports the counts, from the day it is given (that day is day 1).

    The protocol file sets it (BPD: 14, one pegfilgrastim dose covers the following two
    weeks); without it only G-CSF given during the grade 4 run counts as support."""
    grade_threshold: int = 3  # BPD "> Grade 3" read as >= Grade 3 (rules §5)
    nonhaem_related_drugs: tuple[str, ...] = ()
    """Non-haematological DLTs must be at least possibly related to one of these (the file's
    list, BPD: pomalidomide, bendamustine); the loader requires it with [dlt]."""
    haem_related_drugs: tuple[str, ...] = ()
    """DLTs are at least possibly related to the study therapy: these drugs (the file's list);
    the loader requires it with [dlt]."""
    clauses: tuple[DltRule, ...] = tuple(DltRule)
    """The clauses this protocol's DLT definition has (the file's ``clauses`` list, which the
    loader requires with [dlt]); a clause not chosen is neither assessed nor reported."""
    cycle1_length_days: int | None = None
    """Days of cycle 1, so cycle 2 day 1 is planned on start + this when no planned date is
    recorded; the loader sets it from the protocol's cycle length (else ``window_days``)."""

    @classmethod
    def from_mapping(cls, table: Mapping[str, object], source: str) -> DltCriteria:
        """Criteria from a protocol TOML table; absent keys keep the rules-page default.

        >>> DltCriteria.from_mapping({"marrow_involvement_pct_over": 50}, "bpd.toml")
        ... # doctest: +ELLIPSIS
        DltCriteria(...marrow_involvement_pct_over=Decimal('50')...)
        >>> DltCriteria.from_mapping({"fever": 38}, "bpd.toml")
        Traceback (most recent call last):
        ...
        clinic_app.core.errors.ProtocolError: bpd.toml: fever: unknown key
        """
        kinds = {f.name: f.type for f in fields(cls)}
        values: dict[str, object] = {}
        for key, raw in table.items():
            if key not in kinds:
                raise ProtocolError(source, key, "unknown key")
            kind = kinds[key]
            if key == "clauses":
                values[key] = _clause_setting(source, key, raw)
            elif kind == "Decimal":
                values[key] = _decimal_setting(source, key, raw)
            elif kind in ("int", "int | None"):
                values[key] = _int_setting(source, key, raw)
            else:
                values[key] = _drug_list_setting(source, key, raw)
        criteria = cls(**values)  # type: ignore[arg-type]
        _check_ranges(criteria, source)
        return criteria


def _decimal_setting(source: str, key: str, raw: object) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise ProtocolError(source, key, f"expected a number, got {type(raw).__name__}")
    try:
        value = Decimal(str(raw))
    except ArithmeticError:
        raise ProtocolError(source, key, f"not a number: {raw!r}") from None
    if not value.is_finite() or value <= 0:
        raise ProtocolError(source, key, f"must be a positive number, got {raw!r}")
    return value


def _int_setting(source: str, key: str, raw: object) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise ProtocolError(source, key, f"expected a whole number, got {type(raw).__name__}")
    if raw <= 0:
        raise ProtocolError(source, key, f"must be positive, got {raw}")
    return raw


def _clause_setting(source: str, key: str, raw: object) -> tuple[DltRule, ...]:
    known = {rule.value: rule for rule in DltRule}
    if not isinstance(raw, list | tuple) or not raw:
        raise ProtocolError(source, key, "expected a non-empty list of DLT clauses")
    chosen: list[DltRule] = []
    for item in raw:
        if item not in known:
            allowed = ", ".join(known)
            raise ProtocolError(source, key, f"unknown DLT clause {item!r}; known: {allowed}")
        if known[item] in chosen:
            raise ProtocolError(source, key, f"DLT clause {item!r} is listed twice")
        chosen.append(known[item])
    return tuple(chosen)


def _drug_list_setting(source: str, key: str, raw: object) -> tuple[str, ...]:
    if not isinstance(raw, list | tuple) or not raw:
        raise ProtocolError(source, key, "expected a non-empty list of drug names")
    drugs: list[str] = []
    for item in raw:
        if not isinstance(item, str) or not item.strip():
            raise ProtocolError(source, key, f"drug names must be text, got {item!r}")
        drugs.append(item.strip().lower())
    return tuple(drugs)


def _check_ranges(criteria: DltCriteria, source: str) -> None:
    for key in ("grade_threshold", "rash_any_grade", "rash_resolved_below_grade"):
        if not 1 <= getattr(criteria, key) <= 5:
            raise ProtocolError(source, key, "a CTCAE grade must be 1 to 5")
    if criteria.marrow_involvement_pct_over >= 100:
        raise ProtocolError(source, "marrow_involvement_pct_over", "must be below 100 %")
    if criteria.g4_anc_below >= criteria.febrile_anc_below:
        raise ProtocolError(source, "g4_anc_below", "must be below febrile_anc_below")
    if criteria.g4_platelets_below >= criteria.g3_platelets_below:
        raise ProtocolError(source, "g4_platelets_below", "must be below g3_platelets_below")


@dataclass(frozen=True)
class Cycle1DoseReduction:
    """A dose reduction and whether the toxicity behind it was haematological."""

    modification: DoseModification
    haematological: bool
    unit: str | None = None
    """The drug's prescribing unit ("mg", or "mg/m²"), so the evidence says it; None: unknown."""


@dataclass(frozen=True)
class DltInputs:
    """What was recorded for one BPD patient's cycle 1.

    ``labs`` holds in-cycle results (``test`` ``"anc"`` or ``"platelets"``, ``value_si`` in
    10^9/L; other tests are ignored); baseline values go in ``baseline_anc`` and
    ``baseline_platelets``. ``dose_events`` are cycle-1 doses (their ``day`` is the cycle day).
    ``ae_categories`` maps each AE term to its category.
    """

    cycle1_start: date
    assessed_on: date
    """The day of this evaluation: what is in the future of it cannot be known yet."""
    c2d1_planned: date | None = None
    """Defaults to cycle-1 start + cycle 1's length (``DltCriteria.cycle1_length_days``)."""
    c2d1_actual: date | None = None
    c2d1_delay_due_to_toxicity: bool | None = None
    """Was a cycle-2 day-1 delay caused by drug-related toxicity persisting from cycle 1?"""
    adverse_events: tuple[AdverseEvent, ...] = ()
    ae_categories: Mapping[str, str] = field(default_factory=dict)
    """AE term -> ``AeCategory`` (or its value, as ``ae_terms.dlt_categories()`` gives)."""
    labs: tuple[LabResult, ...] = ()
    gcsf_doses: tuple[GcsfDose, ...] = ()
    temperatures: tuple[TemperatureReading, ...] = ()
    dose_events: tuple[DoseEvent, ...] = ()
    dose_reductions: tuple[Cycle1DoseReduction, ...] = ()
    baseline_marrow_plasma_cells_pct: Decimal | None = None
    baseline_anc: LabResult | None = None
    baseline_platelets: LabResult | None = None
    withdrew_consent_on: date | None = None
    progressed_on: date | None = None


@dataclass(frozen=True)
class RuleFinding:
    """A rule that fired (or came close and did not), in one sentence, with its evidence."""

    rule: DltRule
    sentence: str
    evidence: tuple[str, ...] = ()
    close: bool = True
    """For a clause that did not fire: whether it came close enough for the investigator's
    judgement (False only where the protocol's own exception plainly applied)."""


@dataclass(frozen=True)
class NotAssessed:
    """A rule the engine could not apply.

    ``needs`` names the missing fact; it is ``None`` when the protocol itself excludes the
    rule for this patient (the marrow-involvement exemption).
    """

    rule: DltRule
    reason: str
    needs: str | None = None
    evidence: tuple[str, ...] = ()
    still_running: str | None = None
    """What is still running at the end of cycle 1 (e.g. "G4 neutropenia"): its length is not
    known yet, so the proposal is "not decided" rather than "cannot decide"."""

    @property
    def blocks_decision(self) -> bool:
        return self.needs is not None


@dataclass(frozen=True)
class DltProposal:
    """The proposal the investigator confirms. ``dlt`` is ``None`` when it cannot be decided yet."""

    dlt: bool | None
    summary: str
    evaluable_for_toxicity: bool
    evaluability_reason: str
    fired: tuple[RuleFinding, ...]
    not_fired: tuple[RuleFinding, ...]
    not_assessed: tuple[NotAssessed, ...]
    pending: tuple[str, ...]
    notes: tuple[str, ...]
    close_calls: tuple[RuleFinding, ...] = ()
    """Clauses that did not fire but came close (a run that may have lasted longer than its
    counts show, G-CSF whose cover ended before the run); see ``near_misses``."""

    @property
    def near_misses(self) -> tuple[RuleFinding, ...]:
        """Every clause that did not fire but was close or could not be decided, with evidence.

        The investigator reads the clauses that could not be decided (a grade >= 3 event
        whose attribution or other fact is missing, a grade 4 run still going at the end of
        cycle 1) under UNDECIDED_HEADING, and the rest under NEAR_MISS_HEADING: the clause
        that did not fire for want of one fact (no G-CSF recorded, no bleeding, an arterial
        rather than venous thrombosis).
        """
        return (*self.undecided, *self.close_calls, *(f for f in self.not_fired if f.close))

    @property
    def undecided(self) -> tuple[RuleFinding, ...]:
        """The clauses the rules could not decide for want of a fact, with what is missing."""
        return tuple(
            RuleFinding(
                item.rule,
                f"{item.reason} Could not be decided: needs {item.needs.rstrip('?.')}.",
                item.evidence,
            )
            for item in self.not_assessed
            if item.needs is not None
        )

    def summary_with_verdict(self, dlt: bool) -> str:
        """The proposal once the investigator has decided ``dlt``: what the rules proposed and
        the decision, in one consistent sentence (never "cannot decide yet" beside a verdict).

        Where the rules could not decide, it says what was missing and that the investigator
        decided. The rules' proposal itself is unchanged.

        >>> from clinic_app.core.protocol_loader import load_protocols
        >>> bpd = load_protocols()["bpd"].dlt_criteria
        >>> fn = AdverseEvent("Febrile neutropenia", 3, date(2024, 3, 15))
        >>> p = propose_dlt(DltInputs(cycle1_start=date(2024, 3, 4), assessed_on=date(2024, 4, 2),
        ...     c2d1_actual=date(2024, 4, 1), adverse_events=(fn,),
        ...     ae_categories={"Febrile neutropenia": "febrile_neutropenia"}), bpd)
        >>> p.summary
        'Proposed DLT: cannot decide yet; needs: the ANC and temperature readings of that episode.'
        >>> p.summary_with_verdict(True)  # doctest: +NORMALIZE_WHITESPACE
        'Proposed DLT: the rules could not decide; missing: the ANC and temperature readings of
        that episode. The investigator decided: DLT.'
        """
        verdict = "DLT" if dlt else "no DLT"
        if self.dlt is None:
            blocking = [item for item in self.not_assessed if item.blocks_decision]
            running = [item.still_running for item in blocking if item.still_running]
            if running:
                what = "; ".join(f"{item} still running at the end of cycle 1" for item in running)
                why = f"could not decide: {what}"
            elif blocking:
                needs = "; ".join(dict.fromkeys(item.needs or "" for item in blocking))
                why = f"could not decide; missing: {needs}"
            else:
                pending = " ".join(self.pending)
                why = f"have not decided: {pending[:1].lower()}{pending[1:]}"
            end = "" if why.endswith(("?", ".")) else "."
            return f"Proposed DLT: the rules {why}{end} The investigator decided: {verdict}."
        if self.dlt == dlt:
            return f"{self.summary} The investigator agreed: {verdict}."
        return f"{self.summary} The investigator decided otherwise: {verdict}."

    def evidence_lines(self) -> tuple[str, ...]:
        """The reasoning as the review screen and the toxicity summary print it, one line each.

        This is the one builder of that text: both call it, so they tell the same story.
        """
        lines = [self.evaluability_reason]
        if self.fired:
            lines.append(FIRED_HEADING)
            for finding in self.fired:
                lines.append(f"• {finding.sentence}")
                lines += [f"    evidence: {item}" for item in finding.evidence]
        undecided = self.undecided
        # Under its own heading: "Not a DLT by the rules" over a clause the rules could not
        # decide would contradict the proposal's "could not decide".
        close = self.near_misses[len(undecided) :]
        for heading, findings in ((UNDECIDED_HEADING, undecided), (NEAR_MISS_HEADING, close)):
            if findings:
                lines.append(heading)
            for finding in findings:
                lines.append(f"• {finding.sentence}")
                lines += [f"    evidence: {item}" for item in finding.evidence]
        lines += [f"Not assessed: {item.reason}" for item in self.not_assessed if not item.needs]
        lines += [f"Pending: {text}" for text in self.pending]
        lines += [f"Note: {text}" for text in self.notes]
        return tuple(lines)


FIRED_HEADING = "DLT rules that fired:"
NEAR_MISS_HEADING = "Not a DLT by the rules — for your judgement:"
UNDECIDED_HEADING = "Not decided by the rules (a fact is missing) — for your judgement:"


# Shown to the investigator: protocol words, not the app's internal references.
READING_NOTES = (
    'The protocol\'s "> Grade 3" is read as "≥ Grade 3" (a lost "≥" sign: "any Grade 4 rash" '
    "would otherwise be redundant).",
    "For nausea/vomiting/diarrhoea, neuropathy and rash the specific clause wins over "
    '"any ≥ Grade 3".',
)


def propose_dlt(inputs: DltInputs, criteria: DltCriteria) -> DltProposal:
    """Apply every DLT clause, parameterised by the protocol's [dlt] table, to cycle 1 and
    propose DLT yes / no / not yet."""
    _validate(inputs)
    run = _Evaluation(inputs, criteria)
    run.evaluate()
    return run.proposal()


# --- validation -------------------------------------------------------------------------


def _validate(inputs: DltInputs) -> None:
    start = inputs.cycle1_start
    if inputs.assessed_on < start:
        raise DomainError("The evaluation date is before cycle 1 started.", field="assessed_on")
    if inputs.c2d1_planned is not None and inputs.c2d1_planned <= start:
        raise DomainError("Cycle 2 is planned before cycle 1 started.", field="c2d1_planned")
    if inputs.c2d1_actual is not None:
        if inputs.c2d1_actual <= start:
            raise DomainError("Cycle 2 day 1 is on or before cycle 1 day 1.", field="c2d1_actual")
        if inputs.c2d1_actual > inputs.assessed_on:
            raise DomainError(
                "Cycle 2 day 1 is recorded as given after the evaluation date.",
                field="c2d1_actual",
            )
    for name in ("withdrew_consent_on", "progressed_on"):
        day = getattr(inputs, name)
        if day is not None and (day < start or day > inputs.assessed_on):
            raise DomainError(
                f"{name} ({day.isoformat()}) must fall between cycle-1 day 1 and the "
                "evaluation date.",
                field=name,
            )
    for ae in inputs.adverse_events:
        _validate_ae(ae, inputs.assessed_on)
    for lab in inputs.labs:
        if lab.test not in (ANC, PLATELETS):
            continue
        if lab.collected_on < start:
            raise DomainError(
                f"{lab.test} of {lab.collected_on.isoformat()} is before cycle 1: "
                "pass it as the baseline value, not as an in-cycle result.",
                field="labs",
            )
        if lab.collected_on > inputs.assessed_on:
            raise DomainError(
                f"{lab.test} of {lab.collected_on.isoformat()} is after the evaluation date.",
                field="labs",
            )
        if lab.value_si < 0:
            raise DomainError(f"{lab.test} cannot be negative.", field="labs")
    for name, test in (("baseline_anc", ANC), ("baseline_platelets", PLATELETS)):
        baseline: LabResult | None = getattr(inputs, name)
        if baseline is None:
            continue
        if baseline.test != test:
            raise DomainError(f"{name} holds a {baseline.test!r} result.", field=name)
        if baseline.collected_on > start:
            raise DomainError(
                f"{name} was collected on {baseline.collected_on.isoformat()}, after cycle-1 "
                "day 1: a baseline is taken on or before day 1.",
                field=name,
            )
        if baseline.value_si < 0:
            raise DomainError(f"{name} cannot be negative.", field=name)
    marrow = inputs.baseline_marrow_plasma_cells_pct
    if marrow is not None and not 0 <= marrow <= 100:
        raise DomainError(
            "Marrow plasma cells must be 0 to 100 %.", field="baseline_marrow_plasma_cells_pct"
        )
    for dose in inputs.dose_events:
        if dose.day < 1:
            raise DomainError("A dose event's cycle day starts at 1.", field="dose_events")


def _validate_ae(ae: AdverseEvent, assessed_on: date) -> None:
    if not 1 <= ae.grade <= 5:
        raise DomainError(f"{ae.term}: CTCAE grade must be 1 to 5, got {ae.grade}.", field="grade")
    if ae.resolved is not None and ae.resolved < ae.onset:
        raise DomainError(f"{ae.term}: resolved before its onset.", field="resolved")
    if ae.onset > assessed_on:
        raise DomainError(f"{ae.term}: onset is after the evaluation date.", field="onset")
    for day, grade in ae.grade_history:
        if day < ae.onset:
            raise DomainError(
                f"{ae.term}: a grade re-assessment ({day.isoformat()}) is before the onset.",
                field="grade_history",
            )
        if not 0 <= grade <= 5:
            raise DomainError(
                f"{ae.term}: a re-assessed grade must be 0 to 5, got {grade}.",
                field="grade_history",
            )


# --- evaluation -------------------------------------------------------------------------


_COUNT_UNIT = "10^9/L"
"""ANC and platelets are counted in 10^9/L (``DltInputs.labs``, ``DltCriteria``)."""


def _count(value: Decimal) -> str:
    return f"{format_number(value)} {unit_label(_COUNT_UNIT)}"


def _written(value: Decimal) -> str:
    """A protocol threshold as the protocol writes it: ``1.0`` stays ``1.0`` (rules §5: "ANC <
    1.0"), otherwise as ``format_number`` prints (leading zero, no exponent, grouping)."""
    exponent = value.as_tuple().exponent
    places = -exponent if isinstance(exponent, int) else 0
    shown = format_number(value)
    if places > 0:
        whole, _, fraction = shown.partition(".")
        shown = f"{whole}.{fraction.ljust(places, '0')}"
    return shown


def _limit(value: Decimal) -> str:
    """A count threshold with its unit: ``1.0 ×10⁹/L``.

    >>> _limit(Decimal("1.0")), _limit(Decimal("0.5")), _limit(Decimal("25"))
    ('1.0 ×10⁹/L', '0.5 ×10⁹/L', '25 ×10⁹/L')
    """
    return f"{_written(value)} {unit_label(_COUNT_UNIT)}"


def _lab_text(lab: LabResult) -> str:
    label = "ANC" if lab.test == ANC else "platelets"
    return f"{label} {_count(lab.value_si)} on {lab.collected_on.isoformat()}"


def _runs_below(labs: Sequence[LabResult], limit: Decimal) -> list[list[LabResult]]:
    """Maximal runs of consecutive measurements (by time) below ``limit`` (rules §5)."""
    runs: list[list[LabResult]] = []
    current: list[LabResult] = []
    for lab in labs:
        if lab.value_si < limit:
            current.append(lab)
        elif current:
            runs.append(current)
            current = []
    if current:
        runs.append(current)
    return runs


def _run_days(run: Sequence[LabResult]) -> int:
    """Duration from the first to the last consecutive measurement (rules §5)."""
    return (run[-1].collected_on - run[0].collected_on).days


class _Exemption(StrEnum):
    EXEMPT = "exempt"
    NOT_EXEMPT = "not exempt"
    UNKNOWN = "unknown"


class _Evaluation:
    def __init__(self, inputs: DltInputs, criteria: DltCriteria) -> None:
        self.inputs = inputs
        self.criteria = criteria
        self.start = inputs.cycle1_start
        self.window_end = self.start + timedelta(days=criteria.window_days - 1)
        self.fired: list[RuleFinding] = []
        self.not_fired: list[RuleFinding] = []
        self.close_calls: list[RuleFinding] = []
        self.not_assessed: list[NotAssessed] = []
        self.pending: list[str] = []
        self.notes: list[str] = list(READING_NOTES)
        self.categories = {
            term.casefold(): _as_category(term, value)
            for term, value in inputs.ae_categories.items()
        }
        self.labs = sorted(
            (lab for lab in inputs.labs if lab.test in (ANC, PLATELETS)),
            key=lambda lab: lab.collected_at,
        )

    # helpers
    def in_window(self, day: date) -> bool:
        return self.start <= day <= self.window_end

    def window_labs(self, test: str) -> list[LabResult]:
        return [lab for lab in self.labs if lab.test == test and self.in_window(lab.collected_on)]

    def category(self, ae: AdverseEvent) -> AeCategory:
        found = self.categories.get(ae.term.casefold())
        if found is None:
            raise MissingDataError(
                f"No DLT category is given for the AE term {ae.term!r}.", field="ae_categories"
            )
        return found

    def worst_grade_in_window(self, ae: AdverseEvent) -> int:
        timeline = [(ae.onset, ae.grade), *ae.grade_history]
        return max(grade for day, grade in timeline if self.in_window(day))

    # the whole definition
    def evaluate(self) -> None:
        self.evaluate_febrile_neutropenia()
        self.evaluate_g4_neutropenia()
        self.evaluate_g4_thrombocytopenia()
        self.evaluate_adverse_events()
        self.evaluate_missing_thrombocytopenia_ae()
        self.evaluate_dose_reductions()
        self.evaluate_c2d1_delay()

    # -- exemption (BPD seed: > 30 % marrow involvement with low entry counts)
    def exemption(self, baseline: LabResult | None, below: Decimal) -> tuple[_Exemption, str]:
        marrow = self.inputs.baseline_marrow_plasma_cells_pct
        limit = self.criteria.marrow_involvement_pct_over
        if marrow is not None and marrow <= limit:
            return _Exemption.NOT_EXEMPT, ""
        if baseline is not None and baseline.value_si >= below:
            return _Exemption.NOT_EXEMPT, ""
        if baseline is None:
            return _Exemption.UNKNOWN, "the baseline count"
        if marrow is None:
            return _Exemption.UNKNOWN, "the baseline marrow plasma-cell %"
        reason = (
            f"Not assessed: baseline marrow plasma cells {format_number(marrow)} % "
            f"(> {format_number(limit)} %) with entry {_lab_text(baseline)} "
            f"(< {_limit(below)}): exempt by the protocol."
        )
        return _Exemption.EXEMPT, reason

    def exempt_or_fire(
        self,
        rule: DltRule,
        baseline: LabResult | None,
        below: Decimal,
        finding: RuleFinding | None,
    ) -> None:
        status, detail = self.exemption(baseline, below)
        if status is _Exemption.EXEMPT:
            self.not_assessed.append(NotAssessed(rule, detail))
        elif finding is None:
            return
        elif status is _Exemption.NOT_EXEMPT:
            self.fired.append(finding)
        else:
            self.not_assessed.append(
                NotAssessed(
                    rule,
                    f"{finding.sentence} The marrow-involvement exemption may apply.",
                    needs=detail,
                    evidence=finding.evidence,
                )
            )

    # -- haematological rules
    def evaluate_febrile_neutropenia(self) -> None:
        # BPD: febrile neutropenia, ANC < 1.0 with fever of 38.5 C. One episode = a temperature
        # >= 38.5 C measured within febrile_episode_hours of an ANC < 1.0 (our reading).
        c = self.criteria
        span = timedelta(hours=c.febrile_episode_hours)
        finding: RuleFinding | None = None
        for lab in self.window_labs(ANC):
            if lab.value_si >= c.febrile_anc_below:
                continue
            for temp in self.inputs.temperatures:
                if temp.celsius < c.fever_celsius or not self.in_window(temp.measured_at.date()):
                    continue
                if _apart(temp.measured_at, lab.collected_at) <= span:
                    finding = RuleFinding(
                        DltRule.FEBRILE_NEUTROPENIA,
                        f"Febrile neutropenia: ANC < {_limit(c.febrile_anc_below)} with "
                        f"fever ≥ {_written(c.fever_celsius)} °C within "
                        f"{c.febrile_episode_hours} h.",
                        (
                            _lab_text(lab),
                            f"temperature {format_number(temp.celsius)} °C at "
                            f"{temp.measured_at.isoformat(timespec='minutes')}",
                        ),
                    )
                    break
            if finding is not None:
                break
        status, _ = self.exemption(self.inputs.baseline_anc, c.exemption_anc_below)
        if finding is None and status is not _Exemption.EXEMPT:
            self.febrile_close_call()
            for ae in self.inputs.adverse_events:
                if self.in_window(ae.onset) and self.category(ae) is AeCategory.FEBRILE_NEUTROPENIA:
                    self.not_assessed.append(
                        NotAssessed(
                            DltRule.FEBRILE_NEUTROPENIA,
                            f"A febrile neutropenia AE began on {ae.onset.isoformat()}, but no "
                            f"temperature ≥ {_written(c.fever_celsius)} °C within "
                            f"{c.febrile_episode_hours} h of an ANC < "
                            f"{_limit(c.febrile_anc_below)} is recorded.",
                            needs="the ANC and temperature readings of that episode",
                        )
                    )
                    break
        self.exempt_or_fire(
            DltRule.FEBRILE_NEUTROPENIA, self.inputs.baseline_anc, c.exemption_anc_below, finding
        )

    def febrile_close_call(self) -> None:
        """ANC < 1.0 with a fever that missed the protocol's 38.5 °C or its 24 h, but not by much.

        Close: a temperature of at least 38.0 °C (CTCAE v5.0 febrile neutropenia counts a
        sustained >= 38 °C) within the episode, or >= 38.5 °C within twice its hours.
        """
        c = self.criteria
        span = timedelta(hours=c.febrile_episode_hours)
        for lab in self.window_labs(ANC):
            if lab.value_si >= c.febrile_anc_below:
                continue
            for temp in self.inputs.temperatures:
                if not self.in_window(temp.measured_at.date()):
                    continue
                apart = _apart(temp.measured_at, lab.collected_at)
                low_fever = _CTCAE_SUSTAINED_FEVER <= temp.celsius < c.fever_celsius
                if (low_fever and apart <= span) or (
                    temp.celsius >= c.fever_celsius and span < apart <= 2 * span
                ):
                    hours = int(apart.total_seconds() // 3600)
                    self.close_calls.append(
                        RuleFinding(
                            DltRule.FEBRILE_NEUTROPENIA,
                            f"ANC < {_limit(c.febrile_anc_below)} with a temperature of "
                            f"{format_number(temp.celsius)} °C {hours} h apart: the rule needs "
                            f"≥ {_written(c.fever_celsius)} °C within "
                            f"{c.febrile_episode_hours} h.",
                            (
                                _lab_text(lab),
                                f"temperature {format_number(temp.celsius)} °C at "
                                f"{temp.measured_at.isoformat(timespec='minutes')}",
                            ),
                        )
                    )
                    return

    def evaluate_g4_neutropenia(self) -> None:
        # BPD: Grade 4 neutropenia (ANC < 0.5) for more than 7 days despite G-CSF support.
        c = self.criteria
        finding: RuleFinding | None = None
        for run in _runs_below(self.window_labs(ANC), c.g4_anc_below):
            days = _run_days(run)
            if days <= c.cytopenia_days_over:
                self.short_run(run, DltRule.G4_NEUTROPENIA, "G4 neutropenia")
                continue
            first, last = run[0].collected_on, run[-1].collected_on
            evidence = tuple(_lab_text(lab) for lab in run) + self.still_running_evidence(run)
            sentence = (
                f"G4 neutropenia (ANC < {_limit(c.g4_anc_below)}) lasted {days} days "
                f"({first.isoformat()} to {last.isoformat()}), more than "
                f"{c.cytopenia_days_over}"
            )
            support, expired = self.gcsf_support(first, last)
            if support:
                finding = RuleFinding(
                    DltRule.G4_NEUTROPENIA, sentence + " days, despite G-CSF.", evidence + support
                )
                break
            why = (
                " days, but the only G-CSF recorded in cycle 1 no longer covered it"
                if expired
                else " days, but no G-CSF is recorded in cycle 1 before or during it"
            )
            self.not_fired.append(
                RuleFinding(
                    DltRule.G4_NEUTROPENIA,
                    sentence + why + ": the rule counts neutropenia that lasts despite G-CSF. "
                    "If G-CSF was given, record it.",
                    evidence + expired,
                )
            )
        self.exempt_or_fire(
            DltRule.G4_NEUTROPENIA, self.inputs.baseline_anc, c.exemption_anc_below, finding
        )

    def gcsf_support(self, first: date, last: date) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Evidence of G-CSF covering the run ``first``..``last``, and of doses whose cover ended.

        BPD "despite G-CSF support": a dose given in cycle 1 before or during the run supports
        it while its cover lasts (``gcsf_cover_days`` from the protocol file; a single
        pegfilgrastim dose covers two weeks). Without that setting only doses during the run
        count.
        """
        cover = self.criteria.gcsf_cover_days or 1
        support: list[str] = []
        expired: list[str] = []
        for dose in sorted(self.inputs.gcsf_doses, key=lambda g: g.given_on):
            given = dose.given_on
            if given > last or not self.in_window(given):
                continue
            covered_to = given + timedelta(days=cover - 1)
            cycle_day = (given - self.start).days + 1
            text = f"G-CSF dose given {given.isoformat()} (cycle 1 day {cycle_day})"
            if given >= first:
                support.append(f"{text}, during the run")
            elif covered_to >= first:
                support.append(
                    f"{text}, before the run; its {cover}-day cover lasts to "
                    f"{covered_to.isoformat()}"
                )
            else:
                expired.append(
                    f"{text}; its {cover}-day cover ended {covered_to.isoformat()}, before the "
                    f"run began {first.isoformat()}"
                )
        return tuple(support), tuple(expired)

    def evaluate_g4_thrombocytopenia(self) -> None:
        # BPD: Grade 4 thrombocytopenia (< 25) lasting > 7 days despite dose delay.
        c = self.criteria
        finding: RuleFinding | None = None
        for run in _runs_below(self.window_labs(PLATELETS), c.g4_platelets_below):
            days = _run_days(run)
            if days <= c.cytopenia_days_over:
                self.short_run(run, DltRule.G4_THROMBOCYTOPENIA, "G4 thrombocytopenia")
                continue
            first, last = run[0].collected_on, run[-1].collected_on
            held = [
                d
                for d in self.inputs.dose_events
                if d.status is DoseStatus.HELD
                and first <= self.start + timedelta(days=d.day - 1) <= last
            ]
            evidence = tuple(_lab_text(lab) for lab in run) + self.still_running_evidence(run)
            sentence = (
                f"G4 thrombocytopenia (platelets < {_limit(c.g4_platelets_below)}) "
                f"lasted {days} days ({first.isoformat()} to {last.isoformat()}), more than "
                f"{c.cytopenia_days_over}"
            )
            if held:
                finding = RuleFinding(
                    DltRule.G4_THROMBOCYTOPENIA,
                    sentence + " days, despite dose delay.",
                    (*evidence, *(f"{d.drug} held on cycle day {d.day}" for d in held)),
                )
                break
            self.not_fired.append(
                RuleFinding(
                    DltRule.G4_THROMBOCYTOPENIA,
                    sentence + " days, but no held dose is recorded during it: the rule counts "
                    "thrombocytopenia that lasts despite dose delay. If a dose was held, "
                    "record it.",
                    evidence,
                )
            )
        self.exempt_or_fire(
            DltRule.G4_THROMBOCYTOPENIA,
            self.inputs.baseline_platelets,
            c.exemption_platelets_below,
            finding,
        )

    def run_bounds(self, run: Sequence[LabResult]) -> tuple[LabResult | None, LabResult | None]:
        """The counts just before and just after a run (any day, after day 28 too)."""
        test, limit = run[0].test, self.g4_limit(run[0].test)
        same = [lab for lab in self.labs if lab.test == test]
        before = [lab for lab in same if lab.collected_at < run[0].collected_at]
        after = [lab for lab in same if lab.collected_at > run[-1].collected_at]
        prev = before[-1] if before and before[-1].value_si >= limit else None
        nxt = after[0] if after else None
        return prev, nxt

    def g4_limit(self, test: str) -> Decimal:
        return self.criteria.g4_anc_below if test == ANC else self.criteria.g4_platelets_below

    def still_running(self, run: Sequence[LabResult]) -> bool:
        """Still going at the end of cycle 1: the run holds the last count of the window and
        that count is on day 28, or the next count (after day 28) is still at grade 4."""
        if self.inputs.assessed_on <= self.window_end:
            return False  # the window is open; the proposal is pending anyway
        if run[-1] is not self.window_labs(run[0].test)[-1]:
            return False
        _, nxt = self.run_bounds(run)
        on_last_day = run[-1].collected_on == self.window_end
        return on_last_day or (nxt is not None and nxt.value_si < self.g4_limit(run[0].test))

    def still_running_evidence(self, run: Sequence[LabResult]) -> tuple[str, ...]:
        if not self.still_running(run):
            return ()
        _, nxt = self.run_bounds(run)
        later = f"; next count {_lab_text(nxt)}" if nxt is not None else ""
        return (f"still running at the end of cycle 1 (day {self.criteria.window_days}){later}",)

    def short_run(self, run: Sequence[LabResult], rule: DltRule, what: str) -> None:
        """A run whose counts span at most 7 days: still running, or may have lasted longer."""
        c = self.criteria
        if run[0].test == ANC:
            baseline, below = self.inputs.baseline_anc, c.exemption_anc_below
        else:
            baseline, below = self.inputs.baseline_platelets, c.exemption_platelets_below
        if self.exemption(baseline, below)[0] is _Exemption.EXEMPT:
            return  # the protocol does not assess this item for the patient
        days = _run_days(run)
        first, last = run[0].collected_on, run[-1].collected_on
        prev, nxt = self.run_bounds(run)
        lower = prev.collected_on if prev is not None else self.start
        evidence = tuple(_lab_text(lab) for lab in run)
        if prev is not None:
            evidence = (f"count before: {_lab_text(prev)}", *evidence)
        if nxt is not None:
            evidence = (*evidence, f"count after: {_lab_text(nxt)}")
        recovered = nxt is not None and nxt.value_si >= self.g4_limit(run[0].test)
        if (
            recovered
            and nxt is not None
            and (nxt.collected_on - lower).days <= c.cytopenia_days_over
        ):
            return  # bracketed by counts within 7 days: it cannot have lasted longer
        if self.still_running(run):
            # Issue 13: a run still going on day 28 is not "no"; its length is not known yet.
            self.not_assessed.append(
                NotAssessed(
                    rule,
                    f"{what} still running at the end of cycle 1: at grade 4 from "
                    f"{first.isoformat()}, {days} days by its last count "
                    f"({last.isoformat()}); the rule asks for more than "
                    f"{c.cytopenia_days_over} days.",
                    needs=f"a count showing when the {what} ended",
                    evidence=evidence,
                    still_running=what,
                )
            )
            return
        upper = (
            f"the next count ({nxt.collected_on.isoformat()}) is {(nxt.collected_on - lower).days} "
            "days after the last count before it"
            if nxt is not None
            else "no later count shows recovery"
        )
        self.close_calls.append(
            RuleFinding(
                rule,
                f"{what} counted {days} days ({first.isoformat()} to {last.isoformat()}), not "
                f"more than {c.cytopenia_days_over}, but {upper}: it may have lasted longer.",
                evidence,
            )
        )

    # -- adverse events
    def evaluate_adverse_events(self) -> None:
        for ae in self.inputs.adverse_events:
            category = self.category(ae)
            if not self.in_window(ae.onset):
                continue
            grade = self.worst_grade_in_window(ae)
            if category.haematological:
                self.evaluate_haem_ae(ae, category, grade)
            else:
                self.evaluate_nonhaem_ae(ae, category, grade)

    def relatedness(self, ae: AdverseEvent, drugs: Iterable[str]) -> bool | None:
        """At least possibly related to one of ``drugs``: True, False, or None if not recorded."""
        drugs = tuple(drugs)
        attribution = {drug.lower(): level for drug, level in ae.attribution.items()}
        if any(attribution[d].at_least_possible for d in drugs if d in attribution):
            return True
        if all(d in attribution for d in drugs):
            return False
        return None

    def eligible(self, ae: AdverseEvent, rule: DltRule, drugs: Iterable[str]) -> bool:
        """Progression and attribution gates shared by every AE clause."""
        label = f"{ae.term} G{self.worst_grade_in_window(ae)} from {ae.onset.isoformat()}"
        if ae.attributed_to_progression:
            # BPD: an event attributed to progressive disease is never a DLT.
            self.not_fired.append(
                RuleFinding(rule, f"{label} is attributed to progression: never a DLT.", (label,))
            )
            return False
        drugs = tuple(drugs)
        related = self.relatedness(ae, drugs)
        if related is None:
            self.not_assessed.append(
                NotAssessed(
                    rule,
                    f"{label}: attribution to {' / '.join(drugs)} is not recorded.",
                    needs=f"attribution of {ae.term} to {' and '.join(drugs)}",
                    evidence=(label,),
                )
            )
            return False
        if not related:
            self.not_fired.append(
                RuleFinding(
                    rule,
                    f"{label} is not at least possibly related to {' or '.join(drugs)}: not a DLT.",
                    (label,),
                )
            )
            return False
        return True

    def evaluate_haem_ae(self, ae: AdverseEvent, category: AeCategory, grade: int) -> None:
        c = self.criteria
        label = f"{ae.term} G{grade} from {ae.onset.isoformat()}"
        wants_bleeding = category is AeCategory.THROMBOCYTOPENIA and grade >= c.grade_threshold
        if wants_bleeding and self.eligible(ae, DltRule.THROMBOCYTOPENIA_WITH_BLEEDING, self.haem):
            # BPD: Grade 3-4 thrombocytopenia associated with bleeding (not exempted by the seed).
            if ae.with_bleeding is True:
                self.fired.append(
                    RuleFinding(
                        DltRule.THROMBOCYTOPENIA_WITH_BLEEDING,
                        f"G{grade} thrombocytopenia with bleeding.",
                        (label, "bleeding: yes"),
                    )
                )
            elif ae.with_bleeding is None:
                self.not_assessed.append(
                    NotAssessed(
                        DltRule.THROMBOCYTOPENIA_WITH_BLEEDING,
                        f"{label}: whether it came with bleeding is not recorded.",
                        needs="was there bleeding?",
                        evidence=(label,),
                    )
                )
            else:
                self.not_fired.append(
                    RuleFinding(
                        DltRule.THROMBOCYTOPENIA_WITH_BLEEDING,
                        f"{label} without bleeding: not a DLT by this rule.",
                        (label,),
                    )
                )
        if ae.required_dose_reduction and self.eligible(ae, DltRule.HAEM_DOSE_REDUCTION, self.haem):
            # BPD: any haematological toxicity requiring a dose reduction within cycle 1.
            self.fired.append(
                RuleFinding(
                    DltRule.HAEM_DOSE_REDUCTION,
                    "Haematological toxicity needed a dose reduction in cycle 1.",
                    (label, "required dose reduction: yes"),
                )
            )

    @property
    def haem(self) -> tuple[str, ...]:
        return self.criteria.haem_related_drugs

    def evaluate_nonhaem_ae(self, ae: AdverseEvent, category: AeCategory, grade: int) -> None:
        c = self.criteria
        label = f"{ae.term} G{grade} from {ae.onset.isoformat()}"
        drugs = c.nonhaem_related_drugs
        if ae.required_dose_reduction and self.eligible(ae, DltRule.NONHAEM_DOSE_REDUCTION, drugs):
            # BPD: any non-haematological toxicity requiring a dose reduction within cycle 1.
            self.fired.append(
                RuleFinding(
                    DltRule.NONHAEM_DOSE_REDUCTION,
                    "Non-haematological toxicity needed a dose reduction in cycle 1.",
                    (label, "required dose reduction: yes"),
                )
            )
        if grade < c.grade_threshold:
            return
        rule = _SPECIFIC_RULE.get(category, DltRule.NONHAEM_GRADE_3)
        if category is AeCategory.RASH and grade >= c.rash_any_grade:
            rule = DltRule.RASH_GRADE_4
        if not self.eligible(ae, rule, drugs):
            return
        if category is AeCategory.THROMBOTIC:
            # BPD: the general clause excepts thrombotic events; only VTE is named.
            self.not_fired.append(
                RuleFinding(
                    DltRule.NONHAEM_GRADE_3,
                    f"{label} is a thrombotic event other than venous thromboembolism: "
                    "thrombotic events are excepted from the general clause and no other "
                    "clause names them. Not a DLT by the protocol; the investigator judges.",
                    (label,),
                )
            )
        elif category is AeCategory.NAUSEA_VOMITING_DIARRHOEA:
            # BPD: >= G3 nausea, vomiting or diarrhoea despite maximal therapy.
            self.by_fact(
                rule,
                label,
                ae.despite_maximal_therapy,
                fired=f"G{grade} {ae.term} despite maximal antiemetic/antidiarrhoeal therapy.",
                not_fired="not despite maximal antiemetic/antidiarrhoeal therapy: the specific "
                "clause needs maximal therapy, so not a DLT",
                needs="was maximal therapy given?",
            )
        elif category is AeCategory.NEUROPATHY:
            # BPD: >= G3 neuropathy with pain.
            self.by_fact(
                rule,
                label,
                ae.with_pain,
                fired=f"G{grade} neuropathy with pain.",
                not_fired="without pain: the specific clause needs pain, so not a DLT",
                needs="was the neuropathy painful?",
            )
        elif category is AeCategory.RASH:
            self.evaluate_rash(ae, grade, label)
        elif category is AeCategory.VENOUS_THROMBOEMBOLISM:
            # BPD: >= G3 venous thromboembolic events.
            self.fired.append(RuleFinding(rule, f"G{grade} venous thromboembolism.", (label,)))
        else:
            # BPD: any >= G3 toxicity related to pomalidomide or bendamustine.
            self.fired.append(
                RuleFinding(
                    rule,
                    f"G{grade} non-haematological toxicity related to {' or '.join(drugs)}.",
                    (label,),
                )
            )

    def by_fact(
        self,
        rule: DltRule,
        label: str,
        fact: bool | None,
        *,
        fired: str,
        not_fired: str,
        needs: str,
        evidence: tuple[str, ...] = (),
    ) -> None:
        evidence = evidence or (label,)
        if fact is True:
            self.fired.append(RuleFinding(rule, fired, evidence))
        elif fact is False:
            self.not_fired.append(RuleFinding(rule, f"{label}: {not_fired}.", evidence))
        else:
            self.not_assessed.append(
                NotAssessed(rule, f"{label}: {needs}", needs=needs, evidence=evidence)
            )

    def evaluate_rash(self, ae: AdverseEvent, grade: int, label: str) -> None:
        c = self.criteria
        if grade >= c.rash_any_grade:
            # BPD: any Grade 4 rash related to the agents.
            self.fired.append(RuleFinding(DltRule.RASH_GRADE_4, f"G{grade} rash.", (label,)))
            return
        # BPD: a Grade 3 rash not resolved to < Grade 2 within 10 days despite steroids.
        rule = DltRule.RASH_G3_NOT_RESOLVED
        timeline = sorted([(ae.onset, ae.grade), *ae.grade_history])
        g3_from = next(d for d, g in timeline if g >= c.grade_threshold and self.in_window(d))
        better = [d for d, g in timeline if d > g3_from and g < c.rash_resolved_below_grade]
        if ae.resolved is not None:
            better.append(ae.resolved)
        deadline = g3_from + timedelta(days=c.rash_resolution_days)
        down_on = min(better) if better else None
        if down_on is not None and down_on <= deadline:
            self.not_fired.append(
                RuleFinding(
                    rule,
                    f"{label}: back below G{c.rash_resolved_below_grade} on "
                    f"{down_on.isoformat()}, {(down_on - g3_from).days} days after G3 began "
                    f"(within {c.rash_resolution_days}): not a DLT.",
                    (label,),
                    close=False,  # the protocol's own exception applied
                )
            )
            return
        if down_on is None and self.inputs.assessed_on <= deadline:
            self.pending.append(
                f"{label}: the {c.rash_resolution_days}-day resolution period runs to "
                f"{deadline.isoformat()}."
            )
            return
        self.by_fact(
            rule,
            label,
            ae.steroids_given,
            fired=f"G3 rash not back below G{c.rash_resolved_below_grade} within "
            f"{c.rash_resolution_days} days (from {g3_from.isoformat()}) despite steroids.",
            not_fired=f"not back below G{c.rash_resolved_below_grade} within "
            f"{c.rash_resolution_days} days, but no steroids were given: the clause needs "
            "steroid therapy, so not a DLT",
            needs="were steroids given for the rash?",
        )

    def evaluate_missing_thrombocytopenia_ae(self) -> None:
        # A G3-4 platelet count needs its AE, which records whether there was bleeding.
        c = self.criteria
        low = [lab for lab in self.window_labs(PLATELETS) if lab.value_si < c.g3_platelets_below]
        if not low:
            return
        recorded = any(
            self.in_window(ae.onset)
            and self.category(ae) is AeCategory.THROMBOCYTOPENIA
            and self.worst_grade_in_window(ae) >= c.grade_threshold
            for ae in self.inputs.adverse_events
        )
        if not recorded:
            self.not_assessed.append(
                NotAssessed(
                    DltRule.THROMBOCYTOPENIA_WITH_BLEEDING,
                    f"Platelets fell below {_limit(c.g3_platelets_below)} but no G3-4 "
                    "thrombocytopenia AE records whether there was bleeding.",
                    needs="a thrombocytopenia AE stating whether there was bleeding",
                    evidence=(_lab_text(low[0]),),
                )
            )

    # -- dose reductions and the cycle-2 day-1 delay
    def evaluate_dose_reductions(self) -> None:
        for item in self.inputs.dose_reductions:
            mod = item.modification
            if mod.new_dose >= mod.old_dose:
                continue
            change = format_dose_change(mod.drug, mod.old_dose, mod.new_dose, item.unit)
            text = f"{change} decided {mod.decided_on.isoformat()} ({mod.reason})"
            if mod.effective_cycle != 1 and not self.in_window(mod.decided_on):
                self.notes.append(
                    f"Dose reduction outside cycle 1 not counted: {text}. If it was for "
                    "cycle-1 toxicity, mark that AE as requiring a dose reduction."
                )
                continue
            if item.haematological:
                rule = DltRule.HAEM_DOSE_REDUCTION
                sentence = "Haematological toxicity needed a dose reduction in cycle 1."
            else:
                rule = DltRule.NONHAEM_DOSE_REDUCTION
                sentence = "Non-haematological toxicity needed a dose reduction in cycle 1."
            self.fired.append(RuleFinding(rule, sentence, (text,)))

    def evaluate_c2d1_delay(self) -> None:
        # BPD: C2D1 cannot be given because cycle-1 toxicity persisted > 14 days.
        c = self.criteria
        planned = self.planned_c2d1
        actual = self.inputs.c2d1_actual
        until = actual if actual is not None else self.inputs.assessed_on
        delay = (until - planned).days
        if delay <= c.c2d1_delay_days_over:
            return
        given = f"given {actual.isoformat()}" if actual else "not given yet"
        evidence = (f"C2D1 planned {planned.isoformat()}, {given}: {delay} days late",)
        self.by_fact(
            DltRule.C2D1_DELAY,
            f"Cycle 2 day 1 delayed {delay} days",
            self.inputs.c2d1_delay_due_to_toxicity,
            fired=f"Cycle 2 day 1 delayed {delay} days (more than {c.c2d1_delay_days_over}) by "
            "toxicity persisting from cycle 1.",
            not_fired="not because of cycle-1 toxicity, so not a DLT",
            needs="was the delay caused by drug-related toxicity persisting from cycle 1?",
            evidence=evidence,
        )

    @property
    def planned_c2d1(self) -> date:
        planned = self.inputs.c2d1_planned
        if planned is not None:
            return planned
        length = self.criteria.cycle1_length_days or self.criteria.window_days
        return self.start + timedelta(days=length)

    # -- the proposal
    def evaluability(self) -> tuple[bool, str]:
        # BPD: evaluable for toxicity unless cycle 1 could not be finished because of
        # withdrawn consent or progression. Finishing = reaching day 28.
        reasons = []
        if self.inputs.withdrew_consent_on is not None:
            reasons.append(("withdrew consent", self.inputs.withdrew_consent_on))
        if self.inputs.progressed_on is not None:
            reasons.append(("progressed", self.inputs.progressed_on))
        early = [(what, day) for what, day in reasons if day < self.window_end]
        if early:
            what, day = min(early, key=lambda item: item[1])
            cycle_day = (day - self.start).days + 1
            return False, (
                f"Not evaluable for toxicity: {what} on {day.isoformat()} (cycle 1 day "
                f"{cycle_day}) before finishing cycle 1; replace the patient in the cohort."
            )
        return True, "Evaluable for toxicity."

    def proposal(self) -> DltProposal:
        # Only the clauses the protocol's definition has are reported (the file chooses them).
        chosen = set(self.criteria.clauses)
        self.fired = [f for f in self.fired if f.rule in chosen]
        self.not_fired = [f for f in self.not_fired if f.rule in chosen]
        self.close_calls = [f for f in self.close_calls if f.rule in chosen]
        self.not_assessed = [item for item in self.not_assessed if item.rule in chosen]
        evaluable, why = self.evaluability()
        blocking = [item for item in self.not_assessed if item.blocks_decision]
        if evaluable:
            self.pending.extend(self.cycle_pending())
        dlt: bool | None
        if self.fired:
            dlt = True
            summary = (
                f"Proposed DLT: yes ({'; '.join(f.sentence.rstrip('.') for f in self.fired)})."
            )
            if not evaluable:
                self.notes.append(
                    "A DLT was found, but the protocol text makes this patient non-evaluable; "
                    "the investigator decides whether it counts for the cohort."
                )
        elif not evaluable:
            dlt = False
            summary = "Proposed DLT: no DLT recorded before the patient left cycle 1."
        elif running := [item for item in blocking if item.still_running]:
            dlt = None
            what = "; ".join(
                f"{item.still_running} still running at the end of cycle 1" for item in running
            )
            summary = f"Proposed DLT: not decided: {what}."
        elif blocking:
            dlt = None
            needs = "; ".join(dict.fromkeys(item.needs or "" for item in blocking))
            summary = f"Proposed DLT: cannot decide yet; needs: {needs}"
            summary += "" if summary.endswith("?") else "."
        elif self.pending:
            dlt = None
            summary = "Proposed DLT: pending. " + " ".join(self.pending)
        else:
            dlt = False
            summary = "Proposed DLT: no."
        close = len(self.close_calls) + sum(1 for f in self.not_fired if f.close)
        if dlt is False and close:
            # Issue 13: "no" never stands alone when a clause came close.
            summary = (
                f"{summary[:-1]} by the rules, but {close} finding"
                f"{'s' if close > 1 else ''} came close: see "
                f'"{NEAR_MISS_HEADING[:-1]}".'
            )
        return DltProposal(
            dlt=dlt,
            summary=summary,
            evaluable_for_toxicity=evaluable,
            evaluability_reason=why,
            fired=tuple(self.fired),
            not_fired=tuple(self.not_fired),
            not_assessed=tuple(self.not_assessed),
            pending=tuple(self.pending),
            notes=tuple(dict.fromkeys(self.notes)),
            close_calls=tuple(self.close_calls),
        )

    def cycle_pending(self) -> list[str]:
        c = self.criteria
        waiting: list[str] = []
        if self.inputs.assessed_on <= self.window_end:
            waiting.append(
                f"The {c.window_days}-day DLT window runs to {self.window_end.isoformat()}."
            )
        if self.inputs.c2d1_actual is None and DltRule.C2D1_DELAY in self.criteria.clauses:
            latest = self.planned_c2d1 + timedelta(days=c.c2d1_delay_days_over)
            if self.inputs.assessed_on <= latest:
                waiting.append(
                    f"Cycle 2 day 1 (planned {self.planned_c2d1.isoformat()}) is not given yet."
                )
        return waiting


_SPECIFIC_RULE: dict[AeCategory, DltRule] = {
    AeCategory.NAUSEA_VOMITING_DIARRHOEA: DltRule.NAUSEA_VOMITING_DIARRHOEA,
    AeCategory.NEUROPATHY: DltRule.NEUROPATHY_WITH_PAIN,
    AeCategory.RASH: DltRule.RASH_G3_NOT_RESOLVED,
    AeCategory.VENOUS_THROMBOEMBOLISM: DltRule.VENOUS_THROMBOEMBOLISM,
    AeCategory.THROMBOTIC: DltRule.NONHAEM_GRADE_3,
}


def _as_category(term: str, value: str) -> AeCategory:
    try:
        return AeCategory(value)
    except ValueError:
        allowed = ", ".join(c.value for c in AeCategory)
        raise DomainError(
            f"AE term {term!r} has DLT category {value!r}; expected one of: {allowed}.",
            field="ae_categories",
        ) from None


def _apart(a: datetime, b: datetime) -> timedelta:
    try:
        return abs(a - b)
    except TypeError:
        raise DomainError(
            "Temperature and lab times must both carry a timezone (UTC).", field="temperatures"
        ) from None
