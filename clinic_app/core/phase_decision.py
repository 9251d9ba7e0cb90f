"""The end-of-cycle proposal: stay in the phase, move to the next phase, or off study (rules §1).

A protocol's ``[decisions]`` table picks one scheme by name and gives its numbers; nothing here
knows a protocol, a phase key or a drug:

- ``response_gated`` (DexTR): from the end of ``first_decision_cycle`` on, a negative serum
  immunofixation or a plateau lasting ``plateau_min_cycles`` end-of-cycle assessments moves the
  patient to ``next_phase``; otherwise the current phase continues. Before that cycle only
  progression changes anything.
- ``fixed_cycles`` (BPD, and regimens with "N induction cycles then maintenance"): after
  ``after_cycle`` cycles the patient moves to ``next_phase``.

In both, progression means off study (``confirmation_cycle_allowed``: the investigator may treat
one more cycle to confirm it), and the protocol's investigator options (its ``[[options]]``)
are offered as data from the cycle before their ``from_cycle``.

This is a proposal: the investigator decides. Progression is reported as confirmed (two
consecutive PD assessments) or unconfirmed, never silently one or the other. The dose of the
next phase is not computed here: ``maintenance_dose_note`` is for the integrator to fill from
the cycle-plan engine.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, fields
from enum import StrEnum
from itertools import pairwise
from typing import Protocol

from clinic_app.core.errors import DomainError, ProtocolError
from clinic_app.core.plateau import PlateauResult
from clinic_app.core.records import Immunofixation
from clinic_app.core.response import AssessedResponse, LimitKind, ResponseCategory


class DecisionScheme(StrEnum):
    RESPONSE_GATED = "response_gated"
    """The next phase on CR or plateau, from a first decision cycle on (DexTR)."""
    FIXED_CYCLES = "fixed_cycles"
    """The next phase after a fixed number of cycles (BPD)."""


class NextStep(StrEnum):
    CONTINUE = "continue"
    """The current phase goes on."""
    NEXT_PHASE = "next_phase"
    """The scheme's ``next_phase`` from the next cycle."""
    OFF_STUDY = "off_study"
    AWAIT_ASSESSMENT = "await_assessment"
    """No response assessment closes this cycle yet: nothing can be proposed."""


LEGACY_STEPS: Mapping[str, NextStep] = {
    "continue_induction": NextStep.CONTINUE,
    "maintenance": NextStep.NEXT_PHASE,
}
"""Proposal values recorded in decisions before the scheme named its phases."""


class OptionKind(StrEnum):
    PROTOCOL = "option"
    """One of the protocol file's ``[[options]]``; ``key`` is its key."""
    CONFIRMATION_CYCLE = "confirmation_cycle"
    TRANSPLANT = "transplant"
    NEXT_PHASE = "next_phase"


@dataclass(frozen=True)
class ProposalOption:
    """An investigator choice the protocol allows at this point (never automatic)."""

    kind: OptionKind
    key: str
    label: str
    """Clinical words, from the protocol file for its options."""


class OptionSpec(Protocol):
    """What the proposal reads of a protocol option (``core.protocol.ProtocolOption``)."""

    @property
    def key(self) -> str: ...

    @property
    def label(self) -> str: ...

    @property
    def from_cycle(self) -> int: ...


_REQUIRED: Mapping[DecisionScheme, tuple[str, ...]] = {
    DecisionScheme.RESPONSE_GATED: ("first_decision_cycle", "plateau_min_cycles"),
    DecisionScheme.FIXED_CYCLES: ("after_cycle",),
}
_SCHEME_ONLY: Mapping[str, DecisionScheme] = {
    "first_decision_cycle": DecisionScheme.RESPONSE_GATED,
    "plateau_min_cycles": DecisionScheme.RESPONSE_GATED,
    "transplant_option_on_plateau": DecisionScheme.RESPONSE_GATED,
    "after_cycle": DecisionScheme.FIXED_CYCLES,
}


@dataclass(frozen=True)
class PhaseDecisionParams:
    """The decision settings of one protocol (TOML keys = field names).

    No defaults stand for a protocol's numbers: each scheme's numbers come from the file.
    """

    scheme: DecisionScheme
    next_phase: str
    """The key of the phase the decision moves to (checked against the protocol's phases)."""
    first_decision_cycle: int | None = None
    """response_gated: the first cycle whose end can move the patient on."""
    plateau_min_cycles: int | None = None
    """response_gated: end-of-cycle assessments a plateau must last."""
    after_cycle: int | None = None
    """fixed_cycles: the cycles completed before the next phase."""
    confirmation_cycle_allowed: bool = False
    """The investigator may treat one more cycle to confirm a first progression."""
    transplant_option_on_plateau: bool = False
    """response_gated: in the next phase at a plateau, off study for transplant is offered."""

    def __post_init__(self) -> None:
        if not self.next_phase.strip():
            raise DomainError("next_phase must name a phase of the protocol", field="next_phase")
        for name in ("first_decision_cycle", "plateau_min_cycles", "after_cycle"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise DomainError(f"{name} must be 1 or more", field=name)
        for name in _REQUIRED[self.scheme]:
            if getattr(self, name) is None:
                raise DomainError(f"a {self.scheme.value} decision needs {name}", field=name)
        for name, scheme in _SCHEME_ONLY.items():
            if scheme is not self.scheme and getattr(self, name) not in (None, False):
                raise DomainError(
                    f"{name} belongs to a {scheme.value} decision, not {self.scheme.value}",
                    field=name,
                )

    def check_phases(self, phase_keys: Collection[str], source: str) -> PhaseDecisionParams:
        """These settings, or ProtocolError unless ``next_phase`` is a phase of the protocol."""
        if self.next_phase not in phase_keys:
            known = ", ".join(phase_keys)
            raise ProtocolError(
                source,
                "next_phase",
                f"{self.next_phase!r} is not a phase of this protocol; its phases are {known}",
            )
        return self

    @classmethod
    def from_mapping(cls, table: Mapping[str, object], source: str) -> PhaseDecisionParams:
        """Settings from a protocol TOML table; ``scheme`` and ``next_phase`` are required.

        >>> p = PhaseDecisionParams.from_mapping(
        ...     {"scheme": "fixed_cycles", "after_cycle": 8, "next_phase": "maintenance"}, "x.toml"
        ... )
        >>> p.after_cycle, p.next_phase
        (8, 'maintenance')
        """
        raw = table.get("scheme")
        try:
            scheme = DecisionScheme(raw) if isinstance(raw, str) else None
        except ValueError:
            scheme = None
        if scheme is None:
            choices = ", ".join(s.value for s in DecisionScheme)
            raise ProtocolError(source, "scheme", f"expected one of {choices}, got {raw!r}")
        kinds = {f.name: str(f.type).replace(" | None", "") for f in fields(cls)}
        values: dict[str, object] = {}
        for key, value in table.items():
            if key == "scheme":
                continue
            kind = kinds.get(key)
            if kind is None:
                known = ", ".join(sorted(kinds))
                raise ProtocolError(source, key, f"unknown key; known keys: {known}")
            if kind == "bool" and not isinstance(value, bool):
                raise ProtocolError(source, key, f"expected true or false, got {value!r}")
            if kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
                raise ProtocolError(source, key, f"expected a whole number, got {value!r}")
            if kind == "str" and not isinstance(value, str):
                raise ProtocolError(source, key, f"expected a phase key, got {value!r}")
            values[key] = value
        if "next_phase" not in values:
            raise ProtocolError(source, "next_phase", "required: the phase the decision moves to")
        try:
            return cls(scheme=scheme, **values)  # type: ignore[arg-type]
        except DomainError as exc:
            raise ProtocolError(source, exc.field or "?", exc.message) from None


@dataclass(frozen=True)
class PhaseProposal:
    proposal: NextStep
    cycle_number: int
    """The cycle whose end this decision closes."""
    next_phase: str | None
    """The phase key of the next cycle; None off study or without a proposal."""
    reasons: tuple[str, ...]
    """One sentence each, with the numbers behind it."""
    title: str = ""
    """The proposal in clinical words ("Continue induction", "Maintenance", "Off study")."""
    missing: tuple[str, ...] = ()
    """Data whose absence could change the proposal."""
    options: tuple[ProposalOption, ...] = ()
    """Investigator choices the protocol allows at this point."""
    progression_confirmed: bool | None = None
    """None without progression; otherwise whether two consecutive assessments showed PD."""
    maintenance_dose_note: str | None = None
    """Filled by the integrator from the cycle-plan engine; never computed here."""

    def protocol_options(self) -> tuple[ProposalOption, ...]:
        """The protocol file's options offered here (what an election may name)."""
        return tuple(o for o in self.options if o.kind is OptionKind.PROTOCOL)


_CONFIRMATION = ProposalOption(
    OptionKind.CONFIRMATION_CYCLE,
    "confirmation_cycle",
    "treat one more cycle to confirm progression (investigator decision)",
)
_TRANSPLANT = ProposalOption(
    OptionKind.TRANSPLANT,
    "transplant",
    "off study for high-dose chemotherapy and autologous stem cell transplant, if eligible "
    "(investigator decision)",
)


def _progression(
    history: Sequence[AssessedResponse], params: PhaseDecisionParams
) -> tuple[list[str], list[ProposalOption], bool | None]:
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
        return reasons, [_CONFIRMATION] if params.confirmation_cycle_allowed else [], False
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


@dataclass(frozen=True)
class _Words:
    """Phase names as a sentence says them ("induction continues", "so maintenance")."""

    current: str
    next: str


def _response_gated(
    current: AssessedResponse,
    plateau: PlateauResult | None,
    params: PhaseDecisionParams,
    cycle_number: int,
    previous: AssessedResponse | None,
    words: _Words,
) -> tuple[NextStep, list[str], list[str]]:
    assert params.first_decision_cycle is not None and params.plateau_min_cycles is not None
    reasons: list[str] = []
    missing: list[str] = []
    if cycle_number < params.first_decision_cycle:
        reasons.append(
            f"{_no_progression(current)} at the end of cycle {cycle_number}; the {words.next} "
            f"decision starts at the end of cycle {params.first_decision_cycle}, so "
            f"{words.current} continues."
        )
        return NextStep.CONTINUE, reasons, missing

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
            f"by the protocol's definition; {status}), so {words.next}."
        )
    elif current.assessment.serum_ife is None:
        missing.append(
            f"serum immunofixation at the end of cycle {cycle_number} (a negative result would "
            f"mean {words.next})"
        )

    # DexTR: plateau for > 2 cycles = 3 consecutive end-of-cycle assessments (rules §4).
    more_than = params.plateau_min_cycles - 1
    on_plateau = False
    if plateau is None:
        missing.append(
            f"plateau evaluation (the protocol: plateau for more than {more_than} cycles)"
        )
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
                f"{plateau.reasons[0]}, so {words.next}."
            )
        elif not cr:
            reasons.append(
                f"No plateau for more than {more_than} cycles: " + "; ".join(plateau.reasons) + "."
            )
    if cr or on_plateau:
        return NextStep.NEXT_PHASE, reasons, missing
    reasons.append(
        f"No complete response and no plateau at the end of cycle {cycle_number} "
        f"({current.category}): {words.current} continues while toxicity allows."
    )
    return NextStep.CONTINUE, reasons, missing


def _title(step: NextStep, phase: str | None, names: Mapping[str, str]) -> str:
    if step is NextStep.OFF_STUDY:
        return "Off study"
    if step is NextStep.AWAIT_ASSESSMENT:
        return "No proposal yet: the end-of-cycle assessment is missing"
    assert phase is not None
    name = names.get(phase, phase)
    return f"Continue {name.lower()}" if step is NextStep.CONTINUE else name[:1].upper() + name[1:]


def offered_options(
    options: Sequence[OptionSpec], cycle_number: int, elected: Collection[str] = ()
) -> tuple[ProposalOption, ...]:
    """The protocol options the end of ``cycle_number`` offers: those not yet elected whose
    ``from_cycle`` is the next cycle or earlier (BPD: from cycle 7 = after 6 completed)."""
    return tuple(
        ProposalOption(OptionKind.PROTOCOL, o.key, o.label)
        for o in options
        if o.key not in elected and o.from_cycle <= cycle_number + 1
    )


def propose_next_step(
    params: PhaseDecisionParams,
    cycle_number: int,
    phase: str,
    series: Sequence[AssessedResponse],
    plateau: PlateauResult | None = None,
    *,
    phase_names: Mapping[str, str] | None = None,
    options: Sequence[OptionSpec] = (),
    elected: Collection[str] = (),
) -> PhaseProposal:
    """What should follow the end of ``cycle_number`` (rules §1).

    ``phase`` is the key of the cycle's phase; ``phase_names`` maps every phase key of the
    protocol to its name (a phase not in it is refused). ``series`` is :func:`classify_series`
    output, oldest first; the assessment closing the cycle is the one whose ``end_of_cycle``
    equals ``cycle_number`` (later assessments are ignored). ``plateau`` is
    :func:`detect_plateau` through the same cycle (response_gated). ``options`` are the
    protocol's investigator options; those whose key is in ``elected`` are not offered again.
    """
    if cycle_number < 1:
        raise DomainError("cycle_number must be 1 or more", field="cycle_number")
    names = dict(phase_names) if phase_names is not None else {phase: phase}
    if not phase.strip() or phase not in names:
        allowed = " or ".join(names)
        raise DomainError(
            f"phase {phase!r} is not a phase of this protocol (expected {allowed})", field="phase"
        )
    names.setdefault(params.next_phase, params.next_phase)
    words = _Words(names[phase].lower(), names[params.next_phase].lower())
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

    reasons, choices, confirmed = _progression(history, params)
    if confirmed is not None:
        return PhaseProposal(
            NextStep.OFF_STUDY,
            cycle_number,
            None,
            tuple(reasons),
            title=_title(NextStep.OFF_STUDY, None, names),
            options=tuple(choices),
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
            title=_title(NextStep.AWAIT_ASSESSMENT, None, names),
            missing=(f"response assessment at the end of cycle {cycle_number}",),
        )
    # The progression gaps core.response found (PD could not be ruled out), by their kind.
    missing = [limit.text for limit in current.limits_of(LimitKind.PROGRESSION_NOT_EXCLUDED)]
    previous = history[-2] if len(history) > 1 else None

    step: NextStep
    if phase == params.next_phase:
        step = NextStep.CONTINUE
        reasons = [
            f"{_no_progression(current)} at the end of cycle {cycle_number} "
            f"({current.category}): {words.current} continues until progression."
        ]
        # DexTR: a patient on maintenance at a stable plateau may leave for transplant.
        if params.transplant_option_on_plateau and plateau is not None and plateau.reached:
            choices.append(_TRANSPLANT)
    elif params.scheme is DecisionScheme.RESPONSE_GATED:
        step, reasons, more_missing = _response_gated(
            current, plateau, params, cycle_number, previous, words
        )
        missing.extend(more_missing)
    else:
        due = params.after_cycle
        assert due is not None  # required by fixed_cycles
        if cycle_number >= due:
            step = NextStep.NEXT_PHASE
            reasons = [
                f"{cycle_number} cycles completed, {_no_progression(current).lower()} "
                f"({current.category}): {words.next} from cycle {due + 1}."
            ]
            choices.append(
                ProposalOption(
                    OptionKind.NEXT_PHASE, params.next_phase, f"{words.next} from cycle {due + 1}"
                )
            )
        else:
            step = NextStep.CONTINUE
            reasons = [
                f"{_no_progression(current)} at the end of cycle {cycle_number} "
                f"({current.category}): {words.current} continues until progression, "
                "unacceptable toxicity or withdrawal."
            ]
    # The protocol's options (BPD: dexamethasone 20 mg after 6 cycles): never automatic.
    choices[:0] = offered_options(options, cycle_number, elected)
    next_phase = phase if step is NextStep.CONTINUE else params.next_phase
    return PhaseProposal(
        step,
        cycle_number,
        next_phase,
        (*reasons, *notes),
        title=_title(step, next_phase, names),
        missing=tuple(missing),
        options=tuple(choices),
    )


def maintenance_phase(params: PhaseDecisionParams | None) -> str | None:
    """The phase key a patient's status calls maintenance: the one the end-of-cycle decision
    moves to (the file's ``[decisions] next_phase``); None for a protocol without one."""
    return params.next_phase if params is not None else None
