"""The end-of-cycle proposal: continue, maintenance or off study (rules §1).

Two schemes cover the two protocols:

- ``response_gated`` (DexTR): from the end of cycle 4 on, progression means off study; a
  negative serum immunofixation or a plateau lasting more than 2 cycles means maintenance;
  otherwise induction continues. Before cycle 4 only progression changes anything.
- ``fixed_cycles`` (BPD): progression means off study (the investigator may treat one more
  cycle to confirm it); after 6 cycles dexamethasone *may* drop to 20 mg by investigator
  decision; after 12 cycles maintenance starts.

This is a proposal: the investigator decides. Progression is reported as confirmed (two
consecutive PD assessments) or unconfirmed, never silently one or the other. The maintenance
lenalidomide dose is not computed here: ``maintenance_dose_note`` is for the integrator to fill
from the cycle-plan engine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from itertools import pairwise

from clinic_app.core.errors import DomainError, ProtocolError
from clinic_app.core.ismp import format_quantity
from clinic_app.core.plateau import PlateauResult
from clinic_app.core.records import Immunofixation, Phase
from clinic_app.core.response import AssessedResponse, ResponseCategory, settings_from_mapping


class DecisionScheme(StrEnum):
    RESPONSE_GATED = "response_gated"
    """DexTR: maintenance on CR or plateau, from a first decision cycle on."""
    FIXED_CYCLES = "fixed_cycles"
    """BPD: maintenance after a fixed number of cycles."""


class NextStep(StrEnum):
    CONTINUE_INDUCTION = "continue_induction"
    MAINTENANCE = "maintenance"
    OFF_STUDY = "off_study"
    CONTINUE = "continue"
    """BPD: treatment continues at the current phase."""
    AWAIT_ASSESSMENT = "await_assessment"
    """No response assessment closes this cycle yet: nothing can be proposed."""


@dataclass(frozen=True)
class PhaseDecisionParams:
    """The decision settings of one protocol (TOML keys = field names; ``scheme`` required)."""

    scheme: DecisionScheme
    # DexTR: "After completing 4 cycles" the CR / plateau decision applies.
    first_decision_cycle: int = 4
    # DexTR: plateau "for > 2 cycles" = 3 consecutive end-of-cycle assessments (rules §4).
    plateau_min_cycles: int = 3
    # BPD: "After completing 6 cycles ... dexamethasone may be decreased to 20mg".
    dex_option_after_cycle: int | None = None
    dex_reduced_dose_mg: Decimal = Decimal(20)
    # BPD: "After completing 12 cycles ... proceed to the maintenance phase".
    maintenance_after_cycle: int | None = None
    # BPD: "the patient may be treated up to one cycle after progression ... to confirm".
    confirmation_cycle_allowed: bool = False

    def __post_init__(self) -> None:
        for name in ("first_decision_cycle", "plateau_min_cycles"):
            if getattr(self, name) < 1:
                raise DomainError(f"{name} must be 1 or more", field=name)
        for name in ("dex_option_after_cycle", "maintenance_after_cycle"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise DomainError(f"{name} must be 1 or more", field=name)
        if self.dex_reduced_dose_mg <= 0:
            raise DomainError("dex_reduced_dose_mg must be above 0", field="dex_reduced_dose_mg")

    @classmethod
    def from_mapping(cls, table: Mapping[str, object], source: str) -> PhaseDecisionParams:
        """Settings from a protocol TOML table: ``scheme`` picks the preset, keys override it.

        >>> p = PhaseDecisionParams.from_mapping({"scheme": "fixed_cycles"}, "bpd.toml")
        >>> p.maintenance_after_cycle, p.dex_option_after_cycle
        (12, 6)
        """
        raw = table.get("scheme")
        try:
            scheme = DecisionScheme(raw) if isinstance(raw, str) else None
        except ValueError:
            scheme = None
        if scheme is None:
            choices = ", ".join(s.value for s in DecisionScheme)
            raise ProtocolError(source, "scheme", f"expected one of {choices}, got {raw!r}")
        base = DEXTR_DECISION if scheme is DecisionScheme.RESPONSE_GATED else BPD_DECISION
        rest = {k: v for k, v in table.items() if k != "scheme"}
        return settings_from_mapping(base, rest, source)


DEXTR_DECISION = PhaseDecisionParams(DecisionScheme.RESPONSE_GATED)
BPD_DECISION = PhaseDecisionParams(
    DecisionScheme.FIXED_CYCLES,
    dex_option_after_cycle=6,
    maintenance_after_cycle=12,
    confirmation_cycle_allowed=True,
)


@dataclass(frozen=True)
class PhaseProposal:
    proposal: NextStep
    cycle_number: int
    """The cycle whose end this decision closes."""
    next_phase: Phase | None
    reasons: tuple[str, ...]
    """One sentence each, with the numbers behind it."""
    missing: tuple[str, ...] = ()
    """Data whose absence could change the proposal."""
    options: tuple[str, ...] = ()
    """Investigator choices the protocol allows at this point."""
    progression_confirmed: bool | None = None
    """None without progression; otherwise whether two consecutive assessments showed PD."""
    maintenance_dose_note: str | None = None
    """Filled by the integrator from the cycle-plan engine; never computed here."""


_PHASES = {
    DecisionScheme.RESPONSE_GATED: (Phase.INDUCTION, Phase.MAINTENANCE),
    DecisionScheme.FIXED_CYCLES: (Phase.TREATMENT, Phase.MAINTENANCE),
}


def _progression(
    history: Sequence[AssessedResponse], params: PhaseDecisionParams
) -> tuple[list[str], list[str], bool | None]:
    """(reasons, options, confirmed) when the history means off study; ([], [], None) if not."""
    latest = history[-1] if history else None
    if latest is not None and latest.category is ResponseCategory.PD:
        where = _where(latest)
        if latest.confirmed:
            reasons = [
                f"Progression at {where}, confirmed by the PD assessment of "
                f"{latest.confirmed_with}: {latest.explanation}."
            ]
            return reasons, [], True
        reasons = [
            f"Progression at {where}, not yet confirmed (IMWG needs a second consecutive PD "
            f"assessment; the investigator decides): {latest.explanation}."
        ]
        options = (
            ["treat one more cycle to confirm progression (investigator decision)"]
            if params.confirmation_cycle_allowed
            else []
        )
        return reasons, options, False
    for earlier in history:
        if earlier.category is ResponseCategory.PD and earlier.confirmed:
            reasons = [f"Confirmed progression at {_where(earlier)}: {earlier.explanation}."]
            return reasons, [], True
    return [], [], None


def _no_progression(current: AssessedResponse) -> str:
    # A "not evaluable" assessment measured nothing: it shows no progression, nor excludes it.
    return "No progression" if current.evaluable else "Progression not excluded"


def _where(result: AssessedResponse) -> str:
    cycle = result.assessment.end_of_cycle
    day = result.assessment.assessed_on
    return f"the end of cycle {cycle} ({day})" if cycle is not None else f"the assessment of {day}"


def _unconfirmed_pd_notes(history: Sequence[AssessedResponse]) -> list[str]:
    notes: list[str] = []
    for earlier, later in pairwise(history):
        if earlier.category is ResponseCategory.PD and later.category is not ResponseCategory.PD:
            notes.append(
                f"PD at {_where(earlier)} was not confirmed: the next assessment "
                f"({later.assessment.assessed_on}) was {later.category}."
            )
    return notes


def _dextr_induction(
    current: AssessedResponse,
    plateau: PlateauResult | None,
    params: PhaseDecisionParams,
    cycle_number: int,
    previous: AssessedResponse | None,
) -> tuple[NextStep, list[str], list[str]]:
    reasons: list[str] = []
    missing: list[str] = []
    if cycle_number < params.first_decision_cycle:
        reasons.append(
            f"{_no_progression(current)} at the end of cycle {cycle_number}; the maintenance "
            "decision starts "
            f"at the end of cycle {params.first_decision_cycle}, so induction continues."
        )
        return NextStep.CONTINUE_INDUCTION, reasons, missing

    # DexTR: "resolution of monoclonal gammopathy as detected on serum immunofixation".
    cr = current.assessment.serum_ife is Immunofixation.NEGATIVE
    if cr:
        confirmed = (
            previous is not None and previous.assessment.serum_ife is Immunofixation.NEGATIVE
        )
        status = (
            f"confirmed by the negative result of {previous.assessment.assessed_on}"
            if confirmed and previous is not None
            else "the first negative result; IMWG confirmation needs a second consecutive one"
        )
        reasons.append(
            f"Serum immunofixation negative at the end of cycle {cycle_number} (complete response "
            f"by the DexTR definition; {status}), so maintenance."
        )
    elif current.assessment.serum_ife is None:
        missing.append(
            f"serum immunofixation at the end of cycle {cycle_number} (a negative result would "
            "mean maintenance)"
        )

    # DexTR: plateau for > 2 cycles (rules §4).
    more_than = params.plateau_min_cycles - 1
    on_plateau = False
    if plateau is None:
        missing.append("plateau evaluation (DexTR: plateau for more than 2 cycles)")
    else:
        if plateau.evaluated_through_cycle != cycle_number:
            raise DomainError(
                f"the plateau was evaluated through cycle {plateau.evaluated_through_cycle}, "
                f"not cycle {cycle_number}",
                field="plateau",
            )
        on_plateau = plateau.reached and plateau.cycles_lasted >= params.plateau_min_cycles
        if on_plateau:
            reasons.append(
                f"Plateau for more than {more_than} cycles from cycle {plateau.from_cycle}: "
                f"{plateau.reasons[0]}, so maintenance."
            )
        elif not cr:
            reasons.append(
                f"No plateau for more than {more_than} cycles: " + "; ".join(plateau.reasons) + "."
            )
    if cr or on_plateau:
        return NextStep.MAINTENANCE, reasons, missing
    reasons.append(
        f"No complete response and no plateau at the end of cycle {cycle_number} "
        f"({current.category}): induction continues while toxicity allows."
    )
    return NextStep.CONTINUE_INDUCTION, reasons, missing


def propose_next_step(
    params: PhaseDecisionParams,
    cycle_number: int,
    phase: Phase,
    series: Sequence[AssessedResponse],
    plateau: PlateauResult | None = None,
    *,
    dexamethasone_reduced: bool = False,
) -> PhaseProposal:
    """What should follow the end of ``cycle_number`` (rules §1).

    ``series`` is :func:`classify_series` output, oldest first; the assessment closing the cycle
    is the one whose ``end_of_cycle`` equals ``cycle_number`` (later assessments are ignored).
    ``plateau`` is :func:`detect_plateau` through the same cycle (DexTR). ``dexamethasone_reduced``
    drops the BPD 20 mg option once the investigator has taken it.
    """
    if cycle_number < 1:
        raise DomainError("cycle_number must be 1 or more", field="cycle_number")
    if phase not in _PHASES[params.scheme]:
        allowed = " or ".join(p.value for p in _PHASES[params.scheme])
        raise DomainError(
            f"phase {phase.value} does not exist in a {params.scheme.value} protocol "
            f"(expected {allowed})",
            field="phase",
        )
    closing = [i for i, r in enumerate(series) if r.assessment.end_of_cycle == cycle_number]
    if closing:
        history = list(series[: closing[-1] + 1])
    else:
        history = [
            r
            for r in series
            if r.assessment.end_of_cycle is None or r.assessment.end_of_cycle < cycle_number
        ]
    current = series[closing[-1]] if closing else None

    reasons, options, confirmed = _progression(history, params)
    if confirmed is not None:
        return PhaseProposal(
            NextStep.OFF_STUDY,
            cycle_number,
            None,
            tuple(reasons),
            options=tuple(options),
            progression_confirmed=confirmed,
        )
    notes = _unconfirmed_pd_notes(history)
    if current is None:
        return PhaseProposal(
            NextStep.AWAIT_ASSESSMENT,
            cycle_number,
            None,
            (
                f"No response assessment is recorded for the end of cycle {cycle_number} "
                "(it may fall on day 1 of the next cycle); the decision needs one.",
                *notes,
            ),
            missing=(f"response assessment at the end of cycle {cycle_number}",),
        )
    missing = [s for s in current.limited_by if s.startswith("PD not excluded")]
    previous = history[-2] if len(history) > 1 else None

    step: NextStep
    if phase is Phase.MAINTENANCE:
        step = NextStep.MAINTENANCE
        reasons = [
            f"{_no_progression(current)} at the end of cycle {cycle_number} "
            f"({current.category}): maintenance continues until progression."
        ]
        # DexTR: a patient on maintenance at a stable plateau may leave for transplant.
        if (
            params.scheme is DecisionScheme.RESPONSE_GATED
            and plateau is not None
            and plateau.reached
        ):
            options.append(
                "off study for high-dose chemotherapy and autologous stem cell transplant, "
                "if eligible (investigator decision)"
            )
    elif params.scheme is DecisionScheme.RESPONSE_GATED:
        step, reasons, more_missing = _dextr_induction(
            current, plateau, params, cycle_number, previous
        )
        missing.extend(more_missing)
    else:
        due = params.maintenance_after_cycle
        if due is not None and cycle_number >= due:
            step = NextStep.MAINTENANCE
            reasons = [
                f"{cycle_number} cycles completed, {_no_progression(current).lower()} "
                f"({current.category}): "
                f"maintenance from cycle {due + 1}."
            ]
            options.append(f"maintenance from cycle {due + 1}")
        else:
            step = NextStep.CONTINUE
            reasons = [
                f"{_no_progression(current)} at the end of cycle {cycle_number} "
                f"({current.category}): treatment continues until progression, unacceptable "
                "toxicity or withdrawal."
            ]
    # BPD: after 6 cycles dexamethasone may drop to 20 mg; never automatic.
    dex_after = params.dex_option_after_cycle
    if dex_after is not None and cycle_number >= dex_after and not dexamethasone_reduced:
        dose = format_quantity(params.dex_reduced_dose_mg, "mg")
        options.insert(0, f"dexamethasone may drop to {dose} (investigator decision)")

    next_phase = {
        NextStep.CONTINUE_INDUCTION: Phase.INDUCTION,
        NextStep.CONTINUE: Phase.TREATMENT,
        NextStep.MAINTENANCE: Phase.MAINTENANCE,
    }[step]
    return PhaseProposal(
        step,
        cycle_number,
        next_phase,
        (*reasons, *notes),
        missing=tuple(missing),
        options=tuple(options),
    )
