"""IMWG uniform response criteria for multiple myeloma (rules §4).

Each assessment is compared with the pre-treatment baseline (responses) and with the nadir so
far (progression). Missing studies never make a category up: the result is the best category the
recorded data support, and ``limited_by`` says which missing study capped it.

How the compartments are used:

- serum (or urine) M-protein is *involved* when it was measured at baseline and above 0; only
  involved compartments carry the percent-reduction criteria. A compartment not measured at
  baseline, or 0 there, is stated in ``notes`` and its reduction criteria are not applied.
- progression is looked for in every compartment that has a nadir (any earlier value,
  baseline included) and a current value.
- an assessment with no involved M-protein measured and no progression is ``NE`` ("not
  evaluable"), never SD; ``limited_by`` says what was not measured.
- a baseline with no involved compartment (free-light-chain-only or non-secretory disease)
  raises ``MissingDataError``: those criteria are not implemented here.

>>> from datetime import date
>>> from decimal import Decimal
>>> from clinic_app.core.records import ResponseAssessment
>>> baseline = ResponseAssessment(date(2024, 1, 2), serum_m_protein_g_dl=Decimal("3.1"))
>>> later = ResponseAssessment(date(2024, 1, 30), serum_m_protein_g_dl=Decimal("0.9"))
>>> [r] = classify_series(baseline, [later])
>>> r.category, r.confirmed
(<ResponseCategory.PR: 'PR'>, False)
>>> r.explanation
'PR: serum M-protein 0.9 g/dL, 70.9 % below baseline 3.1 g/dL'
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from enum import Enum, StrEnum
from itertools import pairwise
from typing import Any, TypeVar

from clinic_app.core.errors import DomainError, MissingDataError, ProtocolError
from clinic_app.core.ismp import format_number, format_quantity
from clinic_app.core.records import Enrolment, Immunofixation, ResponseAssessment

_HUNDRED = Decimal(100)
_OLD_SHRUNK_PCT = Decimal(50)
"""What ``plasmacytoma_shrunk_50pct`` (the yes/no of older entries) was asked against."""


class ResponseCategory(StrEnum):
    """IMWG categories, declared from best (sCR) to worst (PD), then "not evaluable".

    ``NE`` is no response category: the assessment measured nothing the criteria can read
    (IMWG: a category needs the involved M-protein). It is never SD, never confirms and is
    worse than every category in ``rank`` so that no "at least" test counts it.
    """

    SCR = "sCR"
    CR = "CR"
    VGPR = "VGPR"
    PR = "PR"
    MR = "MR"
    SD = "SD"
    PD = "PD"
    NE = "not evaluable"

    @property
    def rank(self) -> int:
        """0 for sCR up to 6 for PD (7 for not evaluable): lower is better.

        >>> ResponseCategory.VGPR.rank < ResponseCategory.PR.rank
        True
        """
        return _BEST_TO_WORST.index(self)

    def is_at_least(self, other: ResponseCategory) -> bool:
        """Whether this category is ``other`` or better."""
        return self.rank <= other.rank

    @property
    def is_pr_or_better(self) -> bool:
        """sCR, CR, VGPR or PR (the standard overall response rate).

        >>> ResponseCategory.VGPR.is_pr_or_better, ResponseCategory.MR.is_pr_or_better
        (True, False)
        """
        return self.is_at_least(ResponseCategory.PR)

    @property
    def is_sd_or_better(self) -> bool:
        """Anything but PD and not evaluable (the BPD text's "overall response rate")."""
        return self.is_at_least(ResponseCategory.SD)


_BEST_TO_WORST: tuple[ResponseCategory, ...] = tuple(ResponseCategory)


class LightChain(StrEnum):
    """The light chain the clone makes; it says which way up the FLC ratio is read."""

    KAPPA = "kappa"
    LAMBDA = "lambda"


def light_chain_of(enrolments: Iterable[Enrolment]) -> LightChain | None:
    """The involved light chain recorded on a patient's enrolments, for ``classify_series``.

    None when no enrolment records it. It is one disease, so two enrolments naming different
    chains are a contradiction: ``DomainError`` (field ``light_chain``), never a pick.

    >>> from datetime import date
    >>> e = Enrolment(1, "bpd", date(2026, 1, 2), date(2026, 1, 1), light_chain="lambda")
    >>> light_chain_of([e])
    <LightChain.LAMBDA: 'lambda'>
    """
    chains: set[LightChain] = set()
    for enrolment in enrolments:
        if enrolment.light_chain is None:
            continue
        try:
            chains.add(LightChain(enrolment.light_chain))
        except ValueError:
            raise DomainError(
                f"involved light chain must be kappa or lambda, got {enrolment.light_chain!r}",
                field="light_chain",
            ) from None
    if len(chains) > 1:
        raise DomainError(
            "the enrolments record different involved light chains (kappa and lambda): "
            "correct the enrolment that is wrong",
            field="light_chain",
        )
    return next(iter(chains), None)


# --- settings read from a protocol TOML table -------------------------------------------------

_S = TypeVar("_S")


def _setting_value(raw: object, annotation: str, source: str, key: str) -> object:
    """One TOML value converted to the field's type; ProtocolError when it does not fit."""
    kind = annotation.replace(" | None", "")
    if kind == "Decimal":
        if isinstance(raw, bool) or not isinstance(raw, int | float | str):
            raise ProtocolError(source, key, f"expected a number, got {raw!r}")
        try:
            # str() first so a TOML float 0.26 becomes Decimal("0.26"), not its binary value.
            value = Decimal(str(raw))
        except InvalidOperation:
            raise ProtocolError(source, key, f"expected a number, got {raw!r}") from None
        if not value.is_finite():
            raise ProtocolError(source, key, f"expected a finite number, got {raw!r}")
        return value
    if kind == "int":
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise ProtocolError(source, key, f"expected a whole number, got {raw!r}")
        return raw
    if kind == "bool":
        if not isinstance(raw, bool):
            raise ProtocolError(source, key, f"expected true or false, got {raw!r}")
        return raw
    raise ProtocolError(source, key, f"this setting cannot be read from a table ({kind})")


def settings_from_mapping(
    base: _S,
    table: Mapping[str, object],
    source: str,
    *,
    parsers: Mapping[str, Callable[[object], object]] | None = None,
) -> _S:
    """``base`` (a frozen settings dataclass) with the table's keys replacing its defaults.

    Unknown keys, wrong types and values the dataclass refuses (its ``DomainError`` names the
    field) all become ``ProtocolError(source, key, problem)``. ``parsers`` converts keys whose
    type is not a plain number or flag (enums).
    """
    assert dataclasses.is_dataclass(base) and not isinstance(base, type)
    known = {f.name: f for f in dataclasses.fields(base)}
    changes: dict[str, Any] = {}
    for key, raw in table.items():
        if key not in known:
            raise ProtocolError(source, key, f"unknown key; known keys: {', '.join(sorted(known))}")
        if parsers is not None and key in parsers:
            try:
                changes[key] = parsers[key](raw)
            except (ValueError, TypeError):
                raise ProtocolError(source, key, f"unexpected value {raw!r}") from None
        else:
            changes[key] = _setting_value(raw, str(known[key].type), source, key)
    try:
        return dataclasses.replace(base, **changes)
    except DomainError as exc:
        raise ProtocolError(source, exc.field or "?", exc.message) from None


def _positive(value: Decimal, name: str) -> None:
    if value <= 0:
        raise DomainError(f"{name} must be above 0, got {value}", field=name)


def _percent(value: Decimal, name: str) -> None:
    if not 0 < value <= _HUNDRED:
        raise DomainError(f"{name} must be above 0 and at most 100, got {value}", field=name)


@dataclass(frozen=True)
class ImwgCriteria:
    """IMWG uniform response thresholds (rules §4). Defaults are the rules page values.

    Read from a protocol TOML table with :meth:`from_mapping`; the keys are the field names.
    """

    # IMWG: sCR needs a normal kappa/lambda free-light-chain ratio.
    flc_ratio_low: Decimal = Decimal("0.26")
    flc_ratio_high: Decimal = Decimal("1.65")
    # IMWG: CR needs < 5 % plasma cells in the marrow.
    cr_marrow_plasma_cells_below_pct: Decimal = Decimal(5)
    # IMWG: VGPR by >= 90 % serum reduction with urine < 100 mg/24 h.
    vgpr_serum_reduction_pct: Decimal = Decimal(90)
    vgpr_urine_below_mg_24h: Decimal = Decimal(100)
    # IMWG: PR >= 50 % serum reduction (the BPD seed's "> 50 %" is read as IMWG's >=),
    # and urine reduced >= 90 % or to < 200 mg/24 h.
    pr_serum_reduction_pct: Decimal = Decimal(50)
    pr_urine_reduction_pct: Decimal = Decimal(90)
    pr_urine_below_mg_24h: Decimal = Decimal(200)
    # IMWG: MR 25-49 % serum and 50-89 % urine reduction (upper ends are simply "not PR").
    mr_serum_reduction_pct: Decimal = Decimal(25)
    mr_urine_reduction_pct: Decimal = Decimal(50)
    # IMWG 2016 (Kumar): a soft-tissue plasmacytoma present at baseline must be >= 50 % smaller
    # (SPD) for PR (and so for VGPR) and 25-49 % smaller for MR.
    pr_plasmacytoma_reduction_pct: Decimal = Decimal(50)
    mr_plasmacytoma_reduction_pct: Decimal = Decimal(25)
    # IMWG: PD >= 25 % rise from nadir, serum absolute >= 0.5 g/dL, urine >= 200 mg/24 h;
    # a serum rise >= 1 g/dL is sufficient on its own when the nadir is >= 5 g/dL.
    pd_rise_from_nadir_pct: Decimal = Decimal(25)
    pd_serum_rise_g_dl: Decimal = Decimal("0.5")
    pd_high_nadir_g_dl: Decimal = Decimal(5)
    pd_serum_rise_high_nadir_g_dl: Decimal = Decimal(1)
    pd_urine_rise_mg_24h: Decimal = Decimal(200)

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name.endswith("_pct"):
                _percent(value, f.name)
            else:
                _positive(value, f.name)
        if self.flc_ratio_low >= self.flc_ratio_high:
            raise DomainError("flc_ratio_low must be below flc_ratio_high", field="flc_ratio_low")
        if self.pr_serum_reduction_pct > self.vgpr_serum_reduction_pct:
            raise DomainError(
                "pr_serum_reduction_pct must not exceed vgpr_serum_reduction_pct",
                field="pr_serum_reduction_pct",
            )
        if self.mr_serum_reduction_pct > self.pr_serum_reduction_pct:
            raise DomainError(
                "mr_serum_reduction_pct must not exceed pr_serum_reduction_pct",
                field="mr_serum_reduction_pct",
            )
        if self.mr_plasmacytoma_reduction_pct > self.pr_plasmacytoma_reduction_pct:
            raise DomainError(
                "mr_plasmacytoma_reduction_pct must not exceed pr_plasmacytoma_reduction_pct",
                field="mr_plasmacytoma_reduction_pct",
            )

    @classmethod
    def from_mapping(cls, table: Mapping[str, object], source: str) -> ImwgCriteria:
        """Criteria from a protocol TOML table; absent keys keep the rules-page default.

        >>> c = ImwgCriteria.from_mapping({"pr_serum_reduction_pct": 60.0}, "x.toml")
        >>> c.pr_serum_reduction_pct
        Decimal('60.0')
        >>> ImwgCriteria.from_mapping({"pr_serum": 50}, "x.toml")
        Traceback (most recent call last):
        ...
        clinic_app.core.errors.ProtocolError: x.toml: pr_serum: unknown key; ...
        """
        return settings_from_mapping(cls(), table, source)


# --- results ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Nadir:
    """The lowest value so far (baseline included, current assessment excluded), per IMWG."""

    serum_m_protein_g_dl: Decimal | None = None
    serum_on: date | None = None
    urine_m_protein_mg_24h: Decimal | None = None
    urine_on: date | None = None


class LimitKind(StrEnum):
    """What kind of gap capped an assessment's category: rules decide on this, never on the
    text a nurse reads."""

    PROGRESSION_NOT_EXCLUDED = "progression_not_excluded"
    """PD could not be ruled out: a compartment with a nadir was not measured."""
    NOT_ASSESSABLE = "not_assessable"
    """A better category could not be read (``category``): a study was not done or recorded."""
    NOT_EVALUABLE = "not_evaluable"
    """No involved M-protein was measured: no category at all (``NE``)."""


@dataclass(frozen=True)
class Limit:
    """One gap in an assessment, with the sentence that says it."""

    kind: LimitKind
    text: str
    category: ResponseCategory | None = None
    """The category that could not be assessed (``NOT_ASSESSABLE`` only)."""


@dataclass(frozen=True)
class AssessedResponse:
    """The IMWG category of one assessment, with the numbers that decided it.

    ``confirmed``: this assessment and the assessment immediately before it in the series (the
    baseline does not count) both meet the category; for a response category that means the
    earlier one is the same or better and not PD, for PD that both are PD (IMWG: two consecutive
    assessments). Only evaluable assessments confirm or are confirmed.
    """

    assessment: ResponseAssessment
    category: ResponseCategory
    confirmed: bool
    nadir: Nadir
    explanation: str
    limits: tuple[Limit, ...] = ()
    """Why a better category could not be assessed (a study that was not done or recorded)."""
    notes: tuple[str, ...] = ()
    """Facts about how the criteria were applied that did not cap the category."""
    evaluable: bool = True
    """False when no involved M-protein was measured, there were no new lesions and
    immunofixation did not show CR; the category is then ``NE``."""
    serum_reduction_pct: Decimal | None = None
    urine_reduction_pct: Decimal | None = None
    """Percent below baseline (negative: above it), where the compartment is involved."""
    confirmed_with: date | None = None
    """The date of the earlier assessment that confirms this one."""

    @property
    def limited_by(self) -> tuple[str, ...]:
        """The gaps as the sentences shown to a nurse (``limits`` for their kinds)."""
        return tuple(limit.text for limit in self.limits)

    def limits_of(self, kind: LimitKind) -> tuple[Limit, ...]:
        return tuple(limit for limit in self.limits if limit.kind is kind)


# --- three-valued checks ----------------------------------------------------------------------


class _State(Enum):
    MET = "met"
    NOT_MET = "not met"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class _Check:
    state: _State
    texts: tuple[str, ...] = field(default=())
    """Facts when met or not met; what is missing when unknown."""


def _met(text: str) -> _Check:
    return _Check(_State.MET, (text,))


def _not_met(text: str) -> _Check:
    return _Check(_State.NOT_MET, (text,))


def _unknown(text: str) -> _Check:
    return _Check(_State.UNKNOWN, (text,))


_APPLIES_TRIVIALLY = _Check(_State.MET)


def _all(checks: Iterable[_Check]) -> _Check:
    items = list(checks)
    for state in (_State.NOT_MET, _State.UNKNOWN, _State.MET):
        chosen = [c for c in items if c.state is state]
        if chosen:
            return _Check(state, tuple(t for c in chosen for t in c.texts))
    return _APPLIES_TRIVIALLY


def _any(checks: Iterable[_Check]) -> _Check:
    items = list(checks)
    for state in (_State.MET, _State.UNKNOWN, _State.NOT_MET):
        chosen = [c for c in items if c.state is state]
        if chosen:
            return _Check(state, tuple(t for c in chosen for t in c.texts))
    return _Check(_State.NOT_MET)


# --- formatting -------------------------------------------------------------------------------


def _pct(value: Decimal) -> str:
    # Truncated, never rounded up: 49.96 % must not print as "50 %" next to a 50 % threshold.
    return f"{format_number(abs(value).quantize(Decimal('0.1'), rounding=ROUND_DOWN))} %"


def _g(value: Decimal) -> str:
    return format_quantity(value, "g/dL")


def _mg(value: Decimal) -> str:
    return format_quantity(value, "mg/24 h")


def _reduction(baseline: Decimal, current: Decimal) -> Decimal:
    return (baseline - current) * _HUNDRED / baseline


def _change_text(label: str, unit: Callable[[Decimal], str], base: Decimal, cur: Decimal) -> str:
    pct = _reduction(base, cur)
    direction = "below" if pct >= 0 else "above"
    return f"{label} {unit(cur)}, {_pct(pct)} {direction} baseline {unit(base)}"


# --- validation -------------------------------------------------------------------------------


def _validate(a: ResponseAssessment, role: str) -> None:
    for name in ("serum_m_protein_g_dl", "urine_m_protein_mg_24h"):
        value = getattr(a, name)
        if value is not None and value < 0:
            raise DomainError(f"{role} {a.assessed_on}: {name} cannot be negative", field=name)
    for name in ("involved_flc_mg_l", "uninvolved_flc_mg_l"):
        value = getattr(a, name)
        if value is not None and value <= 0:
            raise DomainError(f"{role} {a.assessed_on}: {name} must be above 0", field=name)
    pc = a.marrow_plasma_cells_pct
    if pc is not None and not 0 <= pc <= _HUNDRED:
        raise DomainError(
            f"{role} {a.assessed_on}: marrow plasma cells must be 0-100 %, got {pc}",
            field="marrow_plasma_cells_pct",
        )
    # A plasmacytoma that has gone has shrunk by 100 %: "not shrunk" contradicts "absent".
    if a.soft_tissue_plasmacytoma is False and a.plasmacytoma_shrunk_50pct is False:
        raise DomainError(
            f"{role} {a.assessed_on}: no soft-tissue plasmacytoma recorded but also "
            "'plasmacytoma not shrunk by >= 50 %'",
            field="plasmacytoma_shrunk_50pct",
        )
    shrinkage = a.plasmacytoma_shrinkage_pct
    if shrinkage is not None:
        if not shrinkage.is_finite() or shrinkage > _HUNDRED:
            raise DomainError(
                f"{role} {a.assessed_on}: a plasmacytoma cannot be more than 100 % smaller, "
                f"got {shrinkage} %",
                field="plasmacytoma_shrinkage_pct",
            )
        if a.soft_tissue_plasmacytoma is False and shrinkage < _HUNDRED:
            raise DomainError(
                f"{role} {a.assessed_on}: no soft-tissue plasmacytoma recorded but also "
                f"'plasmacytoma {_pct(shrinkage)} smaller' (gone is 100 % smaller)",
                field="plasmacytoma_shrinkage_pct",
            )
        old = a.plasmacytoma_shrunk_50pct
        if old is not None and (shrinkage >= _OLD_SHRUNK_PCT) is not old:
            said = "by >= 50 %" if old else "by less than 50 %"
            raise DomainError(
                f"{role} {a.assessed_on}: plasmacytoma {_pct(shrinkage)} "
                f"{'smaller' if shrinkage >= 0 else 'larger'} but also recorded as shrunk {said}",
                field="plasmacytoma_shrinkage_pct",
            )
    # Immunofixation is more sensitive than electrophoresis: a spike with a negative IFE is
    # a contradiction to resolve at the lab, not something to classify.
    if a.serum_ife is Immunofixation.NEGATIVE and (a.serum_m_protein_g_dl or 0) > 0:
        raise DomainError(
            f"{role} {a.assessed_on}: serum immunofixation negative but serum M-protein "
            f"{_g(a.serum_m_protein_g_dl or Decimal(0))}",
            field="serum_ife",
        )
    if a.urine_ife is Immunofixation.NEGATIVE and (a.urine_m_protein_mg_24h or 0) > 0:
        raise DomainError(
            f"{role} {a.assessed_on}: urine immunofixation negative but urine M-protein "
            f"{_mg(a.urine_m_protein_mg_24h or Decimal(0))}",
            field="urine_ife",
        )


# --- one assessment ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    baseline: ResponseAssessment
    criteria: ImwgCriteria
    light_chain: LightChain | None
    serum_involved: bool
    urine_involved: bool


def _serum_reduction(ctx: _Context, a: ResponseAssessment, minimum: Decimal) -> _Check:
    if not ctx.serum_involved:
        return _APPLIES_TRIVIALLY
    base, cur = ctx.baseline.serum_m_protein_g_dl, a.serum_m_protein_g_dl
    assert base is not None
    if cur is None:
        return _unknown("serum M-protein not measured")
    text = _change_text("serum M-protein", _g, base, cur)
    return _met(text) if _reduction(base, cur) >= minimum else _not_met(text)


def _urine_reduction(
    ctx: _Context, a: ResponseAssessment, minimum: Decimal, below: Decimal | None
) -> _Check:
    """Urine reduced by ``minimum`` % or more, or (when ``below`` is given) to under ``below``."""
    if not ctx.urine_involved:
        return _APPLIES_TRIVIALLY
    base, cur = ctx.baseline.urine_m_protein_mg_24h, a.urine_m_protein_mg_24h
    assert base is not None
    if cur is None:
        return _unknown("24-h urine M-protein not measured")
    text = _change_text("urine M-protein", _mg, base, cur)
    if _reduction(base, cur) >= minimum:
        return _met(text)
    if below is not None and cur < below:
        return _met(f"{text}, under {_mg(below)}")
    return _not_met(text)


def _urine_below(ctx: _Context, a: ResponseAssessment, below: Decimal) -> _Check:
    if not ctx.urine_involved:
        return _APPLIES_TRIVIALLY
    cur = a.urine_m_protein_mg_24h
    if cur is None:
        return _unknown("24-h urine M-protein not measured")
    text = f"urine M-protein {_mg(cur)}"
    return _met(f"{text}, under {_mg(below)}") if cur < below else _not_met(text)


def _plasmacytoma_shrunk(ctx: _Context, a: ResponseAssessment, minimum: Decimal) -> _Check:
    """The baseline soft-tissue plasmacytoma is at least ``minimum`` % smaller (SPD)."""
    # IMWG 2016 (Kumar): with a soft-tissue plasmacytoma at baseline, PR also needs it >= 50 %
    # smaller and MR 25-49 % (the upper end of MR is simply "not PR"). Gone is 100 % smaller.
    if ctx.baseline.soft_tissue_plasmacytoma is not True or a.soft_tissue_plasmacytoma is False:
        return _APPLIES_TRIVIALLY
    shrinkage = a.plasmacytoma_shrinkage_pct
    need = f"at least {_pct(minimum)} smaller"
    if shrinkage is not None:
        size = "smaller" if shrinkage >= 0 else "larger"
        text = f"baseline soft-tissue plasmacytoma {_pct(shrinkage)} {size}"
        return _met(text) if shrinkage >= minimum else _not_met(f"{text} (needs {need})")
    # Older entries hold only "shrunk by >= 50 %: yes/no"; it decides what it can.
    old = a.plasmacytoma_shrunk_50pct
    if old is True and minimum <= _OLD_SHRUNK_PCT:
        return _met("baseline soft-tissue plasmacytoma shrunk by >= 50 %")
    if old is False and minimum >= _OLD_SHRUNK_PCT:
        return _not_met("baseline soft-tissue plasmacytoma shrunk by less than 50 %")
    if old is not None:
        said = "'shrunk by >= 50 %'" if old else "'shrunk by less than 50 %'"
        return _unknown(
            f"the soft-tissue plasmacytoma present at baseline must be {need}, and its "
            f"shrinkage is recorded only as {said}: enter the measured shrinkage"
        )
    return _unknown(
        f"the soft-tissue plasmacytoma present at baseline must be {need}, and its "
        "shrinkage is not recorded"
    )


def _electrophoresis_negative(ctx: _Context, a: ResponseAssessment) -> _Check:
    """IMWG VGPR: M-protein detectable by immunofixation but not by electrophoresis."""
    checks: list[_Check] = []
    for involved, value, label, unit in (
        (ctx.serum_involved, a.serum_m_protein_g_dl, "serum M-protein", _g),
        (ctx.urine_involved, a.urine_m_protein_mg_24h, "urine M-protein", _mg),
    ):
        if not involved:
            continue
        if value is None:
            checks.append(_unknown(f"{label} not measured"))
        elif value == 0:
            checks.append(_met(f"{label} {unit(value)} on electrophoresis"))
        else:
            checks.append(_not_met(f"{label} {unit(value)}"))
    ifes = [a.serum_ife, a.urine_ife]
    if Immunofixation.POSITIVE in ifes:
        checks.append(_met("still detectable by immunofixation"))
    elif None in ifes:
        checks.append(_unknown("immunofixation not done"))
    # Both negative is CR ground, handled by the CR check.
    return _all(checks)


def _cr(ctx: _Context, a: ResponseAssessment) -> _Check:
    # IMWG: CR = negative serum and urine IFE, no soft-tissue plasmacytoma, < 5 % marrow PCs.
    checks: list[_Check] = []
    for value, label, spike in (
        (a.serum_ife, "serum", a.serum_m_protein_g_dl),
        (a.urine_ife, "urine", a.urine_m_protein_mg_24h),
    ):
        if value is None and spike is not None and spike > 0:
            # Still seen on electrophoresis, so immunofixation could not be negative.
            checks.append(_not_met(f"{label} M-protein still detectable on electrophoresis"))
        elif value is None:
            checks.append(_unknown(f"{label} immunofixation not done"))
        elif value is Immunofixation.NEGATIVE:
            checks.append(_met(f"{label} immunofixation negative"))
        else:
            checks.append(_not_met(f"{label} immunofixation positive"))
    if a.soft_tissue_plasmacytoma is None:
        checks.append(_unknown("soft-tissue plasmacytoma status not recorded"))
    elif a.soft_tissue_plasmacytoma:
        checks.append(_not_met("soft-tissue plasmacytoma present"))
    else:
        checks.append(_met("no soft-tissue plasmacytoma"))
    limit = ctx.criteria.cr_marrow_plasma_cells_below_pct
    pc = a.marrow_plasma_cells_pct
    if pc is None:
        checks.append(_unknown("bone-marrow plasma cells not measured"))
    else:
        text = f"marrow plasma cells {format_number(pc)} %"
        checks.append(
            _met(f"{text} (< {format_number(limit)} %)") if pc < limit else _not_met(text)
        )
    return _all(checks)


def _flc_ratio_normal(ctx: _Context, a: ResponseAssessment) -> _Check:
    inv, uninv = a.involved_flc_mg_l, a.uninvolved_flc_mg_l
    if inv is None or uninv is None:
        return _unknown("free-light-chain ratio not measured")
    low, high = ctx.criteria.flc_ratio_low, ctx.criteria.flc_ratio_high
    # The normal range is for kappa/lambda; for lambda disease that is uninvolved/involved.
    readings = {LightChain.KAPPA: inv / uninv, LightChain.LAMBDA: uninv / inv}
    chains = [ctx.light_chain] if ctx.light_chain is not None else list(LightChain)
    normal = {low <= readings[c] <= high for c in chains}
    rng = f"{format_number(low)}-{format_number(high)}"
    if normal == {True}:
        ratio = readings[chains[0]].quantize(Decimal("0.01"))
        shown = f" {format_number(ratio)}" if len(chains) == 1 else ""
        return _met(f"kappa/lambda ratio{shown} within {rng}")
    if normal == {False}:
        shown = ", ".join(
            f"{format_number(readings[c].quantize(Decimal('0.01')))} if {c}" for c in chains
        )
        return _not_met(f"kappa/lambda ratio {shown}, outside {rng}")
    return _unknown(
        f"light-chain type (kappa or lambda) needed to read the FLC ratio "
        f"(involved {format_quantity(inv, 'mg/L')}, uninvolved {format_quantity(uninv, 'mg/L')})"
    )


def _no_clonal_marrow(a: ResponseAssessment) -> _Check:
    if a.clonal_marrow_cells is None:
        return _unknown("clonal marrow cells not assessed")
    if a.clonal_marrow_cells:
        return _not_met("clonal plasma cells in the marrow")
    return _met("no clonal cells in the marrow")


def _serum_progression(ctx: _Context, a: ResponseAssessment, nadir: Nadir) -> _Check:
    c = ctx.criteria
    low, cur = nadir.serum_m_protein_g_dl, a.serum_m_protein_g_dl
    if low is None:
        return _Check(_State.NOT_MET)
    if cur is None:
        return _unknown("serum M-protein not measured") if ctx.serum_involved else _not_met("")
    rise = cur - low
    if rise <= 0:
        return _not_met(f"serum M-protein {_g(cur)}, no rise from nadir {_g(low)}")
    text = f"serum M-protein {_g(cur)}, up {_g(rise)}"
    if low == 0:
        pct_ok = True  # any rise from a nadir of 0 is more than 25 %
        text += f" from nadir {_g(low)}"
    else:
        pct = rise * _HUNDRED / low
        pct_ok = pct >= c.pd_rise_from_nadir_pct
        text += f" ({_pct(pct)}) from nadir {_g(low)}"
    # IMWG 2006: >= 25 % with an absolute >= 0.5 g/dL; >= 1 g/dL suffices when nadir >= 5 g/dL.
    if pct_ok and rise >= c.pd_serum_rise_g_dl:
        return _met(text)
    if low >= c.pd_high_nadir_g_dl and rise >= c.pd_serum_rise_high_nadir_g_dl:
        return _met(
            f"{text}, at least {_g(c.pd_serum_rise_high_nadir_g_dl)} from a nadir "
            f"of {_g(c.pd_high_nadir_g_dl)} or more"
        )
    return _not_met(text)


def _urine_progression(ctx: _Context, a: ResponseAssessment, nadir: Nadir) -> _Check:
    c = ctx.criteria
    low, cur = nadir.urine_m_protein_mg_24h, a.urine_m_protein_mg_24h
    if low is None:
        return _Check(_State.NOT_MET)
    if cur is None:
        return _unknown("urine M-protein not measured") if ctx.urine_involved else _not_met("")
    rise = cur - low
    if rise <= 0:
        return _not_met(f"urine M-protein {_mg(cur)}, no rise from nadir {_mg(low)}")
    text = f"urine M-protein {_mg(cur)}, up {_mg(rise)}"
    if low == 0:
        pct_ok = True
        text += f" from nadir {_mg(low)}"
    else:
        pct = rise * _HUNDRED / low
        pct_ok = pct >= c.pd_rise_from_nadir_pct
        text += f" ({_pct(pct)}) from nadir {_mg(low)}"
    # IMWG: >= 25 % rise from nadir with an absolute rise >= 200 mg/24 h.
    if pct_ok and rise >= c.pd_urine_rise_mg_24h:
        return _met(text)
    return _not_met(text)


@dataclass(frozen=True)
class _Classified:
    category: ResponseCategory
    explanation: str
    limits: tuple[Limit, ...]
    evaluable: bool


def _classify_one(ctx: _Context, a: ResponseAssessment, nadir: Nadir) -> _Classified:
    c = ctx.criteria
    limited: list[Limit] = []

    progression = _any(
        [
            _serum_progression(ctx, a, nadir),
            _urine_progression(ctx, a, nadir),
            _met("new lesions") if a.new_lesions else _Check(_State.NOT_MET),
        ]
    )
    if progression.state is _State.MET:
        return _Classified(ResponseCategory.PD, "PD: " + "; ".join(progression.texts), (), True)
    if progression.state is _State.UNKNOWN:
        limited.append(
            Limit(
                LimitKind.PROGRESSION_NOT_EXCLUDED,
                "PD not excluded: " + "; ".join(progression.texts),
            )
        )

    measured = [
        value is not None
        for involved, value in (
            (ctx.serum_involved, a.serum_m_protein_g_dl),
            (ctx.urine_involved, a.urine_m_protein_mg_24h),
        )
        if involved
    ]
    evaluable = any(measured)

    cr = _cr(ctx, a)
    plasmacytoma = _plasmacytoma_shrunk(ctx, a, c.pr_plasmacytoma_reduction_pct)
    vgpr = _all(
        [
            _any(
                [
                    _electrophoresis_negative(ctx, a),
                    _all(
                        [
                            _serum_reduction(ctx, a, c.vgpr_serum_reduction_pct),
                            _urine_below(ctx, a, c.vgpr_urine_below_mg_24h),
                        ]
                    ),
                ]
            ),
            plasmacytoma,
        ]
    )
    # sCR = CR + normal FLC ratio + no clonal marrow cells (IMWG).
    scr_extras = _all([_flc_ratio_normal(ctx, a), _no_clonal_marrow(a)])
    ladder: list[tuple[ResponseCategory, _Check]] = [
        (ResponseCategory.SCR, _all([cr, scr_extras])),
        (ResponseCategory.CR, cr),
        (ResponseCategory.VGPR, vgpr),
        (
            ResponseCategory.PR,
            _all(
                [
                    _serum_reduction(ctx, a, c.pr_serum_reduction_pct),
                    _urine_reduction(ctx, a, c.pr_urine_reduction_pct, c.pr_urine_below_mg_24h),
                    plasmacytoma,
                ]
            ),
        ),
        (
            ResponseCategory.MR,
            _all(
                [
                    _serum_reduction(ctx, a, c.mr_serum_reduction_pct),
                    _urine_reduction(ctx, a, c.mr_urine_reduction_pct, None),
                    _plasmacytoma_shrunk(ctx, a, c.mr_plasmacytoma_reduction_pct),
                ]
            ),
        ),
    ]
    before_ladder = list(limited)
    why_not: list[str] = []
    for category, check in ladder:
        if not evaluable and category not in (ResponseCategory.SCR, ResponseCategory.CR):
            # Without the involved M-protein only immunofixation (CR) can still be read.
            return _not_evaluable(ctx, a, before_ladder)
        if check.state is _State.MET:
            # sCR and CR are shown with the M-protein facts too. IMWG CR is read from
            # immunofixation, so a CR without an electrophoresis figure is still evaluable.
            facts = list(check.texts)
            return _Classified(category, f"{category}: " + "; ".join(facts), tuple(limited), True)
        if check.state is _State.UNKNOWN:
            missing = check.texts
            if category is ResponseCategory.SCR:
                # The CR line that follows lists CR's own gaps; sCR adds only its extras.
                missing = scr_extras.texts if scr_extras.state is _State.UNKNOWN else ()
            if missing:
                text = f"{category} not assessable: " + "; ".join(dict.fromkeys(missing))
                limited.append(Limit(LimitKind.NOT_ASSESSABLE, text, category))
        elif category is ResponseCategory.MR:
            why_not.extend(check.texts)
    if progression.state is _State.NOT_MET:
        why_not.extend(t for t in progression.texts if t)
    facts = why_not or ["no criteria for a better category met"]
    return _Classified(
        ResponseCategory.SD, "SD: " + "; ".join(dict.fromkeys(facts)), tuple(limited), evaluable
    )


def _not_evaluable(ctx: _Context, a: ResponseAssessment, limited: list[Limit]) -> _Classified:
    """No involved M-protein measured (and no progression): no category, never SD."""
    # IMWG: every category is read from the involved M-protein; without it none can be given.
    values = (
        a.serum_m_protein_g_dl,
        a.urine_m_protein_mg_24h,
        a.involved_flc_mg_l,
        a.uninvolved_flc_mg_l,
    )
    what = (
        "nothing measured" if all(v is None for v in values) else "no involved M-protein measured"
    )
    missing = [
        label
        for involved, value, label in (
            (ctx.serum_involved, a.serum_m_protein_g_dl, "serum M-protein"),
            (ctx.urine_involved, a.urine_m_protein_mg_24h, "24-h urine M-protein"),
        )
        if involved and value is None
    ]
    why = Limit(LimitKind.NOT_EVALUABLE, f"not evaluable: {' and '.join(missing)} not measured")
    return _Classified(
        ResponseCategory.NE, f"not evaluable: {what}", (why, *limited), evaluable=False
    )


def _confirms(earlier: AssessedResponse, category: ResponseCategory) -> bool:
    if category is ResponseCategory.PD:
        return earlier.category is ResponseCategory.PD
    return earlier.category is not ResponseCategory.PD and earlier.category.is_at_least(category)


def _lower(current: Decimal | None, value: Decimal | None) -> bool:
    return value is not None and (current is None or value < current)


def _next_nadir(nadir: Nadir, a: ResponseAssessment) -> Nadir:
    serum, serum_on = nadir.serum_m_protein_g_dl, nadir.serum_on
    urine, urine_on = nadir.urine_m_protein_mg_24h, nadir.urine_on
    if _lower(serum, a.serum_m_protein_g_dl):
        serum, serum_on = a.serum_m_protein_g_dl, a.assessed_on
    if _lower(urine, a.urine_m_protein_mg_24h):
        urine, urine_on = a.urine_m_protein_mg_24h, a.assessed_on
    return Nadir(serum, serum_on, urine, urine_on)


def classify_series(
    baseline: ResponseAssessment,
    assessments: Sequence[ResponseAssessment],
    criteria: ImwgCriteria | None = None,
    *,
    light_chain: LightChain | None = None,
) -> list[AssessedResponse]:
    """The IMWG category of each assessment, in the order given (oldest first).

    ``light_chain`` (the clone's FLC type) is needed to read the FLC ratio for sCR unless the
    ratio is normal or abnormal either way up. Raises ``DomainError`` (naming the field) for
    contradictory input: an assessment dated on or before the baseline or out of date order,
    a negative M-protein, marrow plasma cells outside 0-100 %, an FLC of 0 or less, a
    negative immunofixation next to a measurable spike, "plasmacytoma absent" with a
    shrinkage below 100 %, or a shrinkage that contradicts the older yes/no answer. With a
    soft-tissue plasmacytoma at baseline, VGPR and PR also need it >= 50 % smaller and MR
    25-49 % (``plasmacytoma_shrinkage_pct``; an older ``plasmacytoma_shrunk_50pct`` decides
    PR but not MR), or the plasmacytoma gone; when that is not recorded the category is
    capped and ``limited_by`` names it. An assessment whose involved M-protein was not
    measured (and that shows no progression) is ``ResponseCategory.NE`` ("not evaluable:
    nothing measured" when no M-protein or free light chain was measured at all), never SD.
    Raises ``MissingDataError`` when the baseline has no serum or urine M-protein above 0 to
    measure response against.
    """
    criteria = criteria or ImwgCriteria()
    _validate(baseline, "baseline")
    b_serum, b_urine = baseline.serum_m_protein_g_dl, baseline.urine_m_protein_mg_24h
    ctx = _Context(
        baseline=baseline,
        criteria=criteria,
        light_chain=light_chain,
        serum_involved=b_serum is not None and b_serum > 0,
        urine_involved=b_urine is not None and b_urine > 0,
    )
    if not (ctx.serum_involved or ctx.urine_involved):
        raise MissingDataError(
            "baseline has no serum or urine M-protein above 0: response cannot be measured "
            "against it (free-light-chain-only criteria are not implemented)",
            field="serum_m_protein_g_dl",
        )
    notes: list[str] = []
    if b_serum is None:
        notes.append("serum M-protein not measured at baseline: serum criteria not applied")
    elif b_serum == 0:
        notes.append("no serum M-protein at baseline: serum reduction criteria not applied")
    if b_urine is None:
        notes.append("urine M-protein not measured at baseline: urine criteria not applied")
    elif b_urine == 0:
        notes.append("no urine M-protein at baseline: urine reduction criteria not applied")

    results: list[AssessedResponse] = []
    nadir = _next_nadir(Nadir(), baseline)
    previous_day = baseline.assessed_on
    for a in assessments:
        _validate(a, "assessment")
        if a.assessed_on <= previous_day:
            what = "the baseline" if not results else "the assessment before it"
            raise DomainError(
                f"assessment {a.assessed_on} is not after {what} ({previous_day}); "
                "assessments must be in date order, one per day",
                field="assessed_on",
            )
        one = _classify_one(ctx, a, nadir)
        earlier = results[-1] if results else None
        confirmed = (
            earlier is not None
            and earlier.evaluable
            and one.evaluable
            and _confirms(earlier, one.category)
        )
        results.append(
            AssessedResponse(
                assessment=a,
                category=one.category,
                confirmed=confirmed,
                nadir=nadir,
                explanation=one.explanation,
                limits=one.limits,
                notes=tuple(notes),
                evaluable=one.evaluable,
                serum_reduction_pct=_reduction(b_serum, a.serum_m_protein_g_dl)
                if ctx.serum_involved and b_serum is not None and a.serum_m_protein_g_dl is not None
                else None,
                urine_reduction_pct=_reduction(b_urine, a.urine_m_protein_mg_24h)
                if ctx.urine_involved
                and b_urine is not None
                and a.urine_m_protein_mg_24h is not None
                else None,
                confirmed_with=earlier.assessment.assessed_on
                if confirmed and earlier is not None
                else None,
            )
        )
        nadir = _next_nadir(nadir, a)
        previous_day = a.assessed_on
    return results


# -- confirmation ("met twice") and progression (IMWG 2016) -------------------------------------


def met_twice(results: Sequence[AssessedResponse]) -> list[tuple[ResponseCategory, date]]:
    """(category, first day) met on each pair of consecutive evaluable assessments.

    IMWG: a category needs two consecutive assessments. A pair meets the worse of its two
    categories; a pair with one PD meets nothing (SD means "not PD"), two PDs meet PD; a
    pair with a "not evaluable" assessment meets nothing. This is the confirmation
    ``classify_series`` marks on the second assessment of a pair (``confirmed``).
    """
    met: list[tuple[ResponseCategory, date]] = []
    for first, second in pairwise(results):
        if not (first.evaluable and second.evaluable):
            continue
        cats = (first.category, second.category)
        if ResponseCategory.PD in cats:
            if cats == (ResponseCategory.PD, ResponseCategory.PD):
                met.append((ResponseCategory.PD, first.assessment.assessed_on))
            continue
        worse = max(cats, key=lambda c: c.rank)
        met.append((worse, first.assessment.assessed_on))
    return met


def best_confirmed(results: Sequence[AssessedResponse]) -> ResponseCategory | None:
    """The best category met on two consecutive assessments, None when none is yet."""
    return min((cat for cat, _ in met_twice(results)), key=lambda c: c.rank, default=None)


def confirmed_at(results: Sequence[AssessedResponse], index: int) -> bool:
    """Is the category of ``results[index]`` met again at the assessment before or after it?"""
    category = results[index].category
    for first in (index - 1, index):
        if first < 0 or first + 1 >= len(results):
            continue
        pair = results[first : first + 2]
        if any(met is category for met, _ in met_twice(pair)):
            return True
    return False


@dataclass(frozen=True)
class Progression:
    """When the disease progressed, as far as the assessments (and the off-study record) say.

    ``on`` is None while progression is not established; ``note`` says how the date was read
    or why there is none.
    """

    on: date | None
    note: str | None = None


def progression(
    results: Sequence[AssessedResponse],
    *,
    off_for_progression: bool = False,
    off_study_on: date | None = None,
) -> Progression:
    """IMWG progression: the first of two consecutive PD assessments.

    A patient taken off study for progression (``off_for_progression``): the investigator's
    decision then dates a single PD, or with no PD assessment the off-study day
    (``off_study_on``) itself. A single PD without it is not confirmed yet.

    >>> progression([]).on is None
    True
    """
    pd_pairs = [on for cat, on in met_twice(results) if cat is ResponseCategory.PD]
    if pd_pairs:
        return Progression(pd_pairs[0])
    first_pd = next(
        (r.assessment.assessed_on for r in results if r.category is ResponseCategory.PD), None
    )
    if off_for_progression:
        if first_pd is not None:
            return Progression(
                first_pd,
                f"progression on {first_pd.isoformat()} (PD once, off study for progression)",
            )
        return Progression(
            off_study_on, "progression date taken from the off-study record (no PD assessment)"
        )
    if first_pd is not None:
        return Progression(
            None,
            f"PD on {first_pd.isoformat()} is not confirmed yet: PFS is censored, not an event",
        )
    return Progression(None)
