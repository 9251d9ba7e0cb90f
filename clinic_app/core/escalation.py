"""The 3+3 dose-escalation engine (rules §6); the design (levels, cohort, caps) is the
protocol file's ``[escalation]`` table, never a default here.

The engine reads the ordered list of enrolled patients (level, toxicity-evaluable, DLT) and
says where the next patient goes, with a one-sentence reason and a per-level table.

- Start at the start level; cohorts of 3.
- 0 of 3 with a DLT: escalate. 1 of 3: add 3. 1 of 6: escalate. 2 or more DLTs (of 3 or of
  6): the level is too toxic.
- The MTD is the level immediately below a too-toxic one, once 6 evaluable patients there
  had at most 1 DLT (if only 3 were treated there, it is expanded to 6 first).
- Too toxic at the start level: go down to -1. Too toxic at the lowest level: stop.
- At the top level, at most 1 DLT in 6: MTD not reached, recommend the top level.
- After the MTD, patients enrol at the MTD (expansion), within the caps.
- Only toxicity-evaluable patients count; a non-evaluable patient is replaced. A DLT result
  that is still pending stops enrolment when the next step depends on it.

Each level's escalation cohort is the first 6 counted (not non-evaluable) patients enrolled
there, in list order; patients after them at the MTD are expansion patients.

>>> P = EscalationPatient
>>> design = EscalationDesign(levels=(-1, 1, 2, 3, 4), start_level=1, cohort_size=3,
...     escalation_cap=24, expansion_cap=38, total_cap=56)
>>> decide([P("a", 1, True, DltStatus.NO), P("b", 1, True, DltStatus.YES),
...         P("c", 1, True, DltStatus.NO)], design).text()
'expand 1 to 6'
>>> design.cap_inconsistency
'24 + 38 = 62 exceeds the total of 56'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from clinic_app.core.errors import DomainError, ProtocolError

# 3+3 (rules §6): two DLTs in a cohort make a level too toxic; one DLT asks for 6 patients.
_TOO_TOXIC_DLTS = 2


class DltStatus(StrEnum):
    YES = "yes"
    NO = "no"
    PENDING = "pending"


class DecisionKind(StrEnum):
    ENROL_AT = "enrol_at"
    EXPAND_TO_SIX = "expand_to_six"
    WAIT_PENDING = "wait_pending"
    MTD = "mtd"
    MTD_NOT_REACHED = "mtd_not_reached"
    STOP_NO_TOLERABLE_DOSE = "stop_no_tolerable_dose"
    CAP_REACHED = "cap_reached"


class LevelState(StrEnum):
    OPEN = "open"
    FULL = "full"
    TOO_TOXIC = "too toxic"
    MTD = "MTD"
    NOT_STARTED = "not started"


class TrialPhase(StrEnum):
    ESCALATION = "escalation"
    EXPANSION = "expansion"


@dataclass(frozen=True)
class EscalationPatient:
    patient_id: str
    level: int
    evaluable: bool | None
    """Toxicity-evaluable; ``None`` while not yet known (cycle 1 not finished)."""
    dlt: DltStatus


_DESIGN_KEYS = (
    "levels",
    "start_level",
    "cohort_size",
    "escalation_cap",
    "expansion_cap",
    "total_cap",
)


@dataclass(frozen=True)
class EscalationDesign:
    """The 3+3 design, as a protocol's ``[escalation]`` table gives it (rules §1 and §6); no
    protocol's levels or caps are defaults."""

    levels: tuple[int, ...]
    """Dose levels in escalation order, lowest first."""
    start_level: int
    cohort_size: int
    escalation_cap: int
    expansion_cap: int
    total_cap: int

    def __post_init__(self) -> None:
        problem = self._problem()
        if problem is not None:
            raise DomainError(problem[1], field=problem[0])

    def _problem(self) -> tuple[str, str] | None:
        if not self.levels:
            return "levels", "the design needs at least one dose level"
        if len(set(self.levels)) != len(self.levels):
            return "levels", f"dose levels must be distinct, got {list(self.levels)}"
        if self.start_level not in self.levels:
            return "start_level", f"start level {self.start_level} is not one of the levels"
        if self.cohort_size < 1:
            return "cohort_size", f"cohort size must be at least 1, got {self.cohort_size}"
        for key in ("escalation_cap", "expansion_cap", "total_cap"):
            if getattr(self, key) < 0:
                return key, f"{key} cannot be negative"
        return None

    @property
    def full_cohort(self) -> int:
        """Patients at a level once its cohort is expanded (3 + 3)."""
        return 2 * self.cohort_size

    @property
    def cap_inconsistency(self) -> str | None:
        """The text the protocol view shows when the phase caps add up to more than the total."""
        combined = self.escalation_cap + self.expansion_cap
        if combined > self.total_cap:
            return (
                f"{self.escalation_cap} + {self.expansion_cap} = {combined} "
                f"exceeds the total of {self.total_cap}"
            )
        return None

    @classmethod
    def from_mapping(cls, table: Mapping[str, object], source: str) -> EscalationDesign:
        """Build the design from the protocol's ``[escalation]`` TOML table; every key is
        needed (a missing one is said, never filled in).

        >>> EscalationDesign.from_mapping({"levels": [1, 2], "start_level": 1}, "x.toml")
        Traceback (most recent call last):
        ...
        clinic_app.core.errors.ProtocolError: x.toml: cohort_size: missing key
        """
        for key in table:
            if key not in _DESIGN_KEYS:
                raise ProtocolError(source, key, f"unknown key; expected one of {_DESIGN_KEYS}")
        for key in _DESIGN_KEYS:
            if key not in table:
                raise ProtocolError(source, key, "missing key")
        values: dict[str, object] = {}
        if "levels" in table:
            raw = table["levels"]
            if not isinstance(raw, list | tuple) or not all(_is_int(v) for v in raw):
                raise ProtocolError(source, "levels", "must be a list of whole numbers")
            values["levels"] = tuple(int(v) for v in raw)
        for key in _DESIGN_KEYS[1:]:
            if key in table:
                raw = table[key]
                if not _is_int(raw):
                    raise ProtocolError(source, key, f"must be a whole number, got {raw!r}")
                values[key] = raw
        try:
            return cls(**values)  # type: ignore[arg-type]
        except DomainError as error:
            raise ProtocolError(source, error.field or "escalation", error.message) from error


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class LevelRow:
    """One line of the per-level table."""

    level: int
    treated: int
    """Everyone enrolled at the level: escalation, expansion and non-evaluable patients."""
    evaluable: int
    """Escalation-cohort patients whose DLT outcome is known (yes or no)."""
    dlt_yes: int
    dlt_no: int
    dlt_pending: int
    not_evaluable: int
    """Patients who are not toxicity-evaluable (replaced in the cohort)."""
    expansion: int
    state: LevelState


@dataclass(frozen=True)
class ClosedLevel:
    level: int
    reason: str


@dataclass(frozen=True)
class CapStatus:
    escalation_enrolled: int
    escalation_cap: int
    expansion_enrolled: int
    expansion_cap: int
    total_enrolled: int
    total_cap: int


@dataclass(frozen=True)
class EscalationDecision:
    kind: DecisionKind
    level: int | None
    """The level the decision is about (where to enrol, the MTD, the level awaited)."""
    reason: str
    table: tuple[LevelRow, ...]
    allowed_levels: tuple[int, ...]
    """Where the next patient may be enrolled; empty when nobody may be enrolled now."""
    closed_levels: tuple[ClosedLevel, ...]
    phase: TrialPhase
    caps: CapStatus
    recommended_level: int | None = None
    """The MTD, or the top level when the MTD was not reached."""

    def text(self) -> str:
        """The decision in the words of rules §6."""
        match self.kind:
            case DecisionKind.ENROL_AT:
                return f"enrol at {self.level}"
            case DecisionKind.EXPAND_TO_SIX:
                return f"expand {self.level} to 6"
            case DecisionKind.WAIT_PENDING:
                return "wait for pending DLT results"
            case DecisionKind.MTD:
                return f"MTD = {self.level}"
            case DecisionKind.MTD_NOT_REACHED:
                return f"MTD not reached (recommend {self.level})"
            case DecisionKind.STOP_NO_TOLERABLE_DOSE:
                return "stop: no tolerable dose"
            case DecisionKind.CAP_REACHED:
                return "enrolment cap reached"

    def row(self, level: int) -> LevelRow:
        for row in self.table:
            if row.level == level:
                return row
        raise KeyError(level)


@dataclass(frozen=True)
class _Cohort:
    """The escalation cohort of one level: its first ``full_cohort`` counted patients."""

    members: tuple[EscalationPatient, ...]
    cohort_size: int

    @property
    def yes(self) -> int:
        return sum(1 for p in self.members if p.dlt is DltStatus.YES)

    @property
    def no(self) -> int:
        return sum(1 for p in self.members if _resolved_no(p))

    @property
    def pending(self) -> int:
        return len(self.members) - self.yes - self.no

    @property
    def size(self) -> int:
        return len(self.members)

    @property
    def too_toxic(self) -> bool:
        return self.yes >= _TOO_TOXIC_DLTS

    @property
    def first_cohort_pending(self) -> bool:
        return any(
            p.dlt is not DltStatus.YES and not _resolved_no(p)
            for p in self.members[: self.cohort_size]
        )


def _resolved_no(patient: EscalationPatient) -> bool:
    # "No DLT" counts only once the patient is known to be toxicity-evaluable.
    return patient.dlt is DltStatus.NO and patient.evaluable is True


class _Verdict(StrEnum):
    TOO_TOXIC = "too_toxic"
    OPEN_FIRST = "open_first"
    OPEN_EXPAND = "open_expand"
    WAIT = "wait"
    CLEARED_THREE = "cleared_three"
    CLEARED_SIX = "cleared_six"


def _verdict(cohort: _Cohort, need_six: bool) -> _Verdict:
    """What the 3+3 rules say about one level; ``need_six`` when 3 clean patients are not enough."""
    size, full = cohort.cohort_size, 2 * cohort.cohort_size
    if cohort.too_toxic:
        # ">= 2 of 3 or >= 2 of 6": too toxic, whatever the pending results turn out to be.
        return _Verdict.TOO_TOXIC
    if cohort.size < size:
        return _Verdict.OPEN_FIRST
    if cohort.first_cohort_pending:
        return _Verdict.WAIT  # 0, 1 or 2 of 3 decides between escalate, expand and stop
    if cohort.yes == 0 and not need_six:
        # 0 of 3: escalate, unless extra patients here are still pending (a DLT would ask for 6)
        return _Verdict.WAIT if cohort.pending else _Verdict.CLEARED_THREE
    if cohort.size < full:
        return _Verdict.OPEN_EXPAND
    if cohort.pending:
        return _Verdict.WAIT
    return _Verdict.CLEARED_SIX


@dataclass(frozen=True)
class _Step:
    kind: DecisionKind
    level: int | None
    reason: str
    recommended: int | None = None


def _count(cohort: _Cohort) -> str:
    pending = f", {cohort.pending} pending" if cohort.pending else ""
    known = cohort.size - cohort.pending
    return f"{cohort.yes} DLT in {known} evaluable {_patients(known)}{pending}"


def _patients(n: int) -> str:
    return "patient" if n == 1 else "patients"


class _Walk:
    """The 3+3 path through the levels, from the per-level cohorts."""

    def __init__(self, design: EscalationDesign, cohorts: Mapping[int, _Cohort]) -> None:
        self.design = design
        self.cohorts = cohorts
        self.levels = design.levels

    def run(self) -> _Step:
        index = self.levels.index(self.design.start_level)
        top = len(self.levels) - 1
        came_from = ""
        while True:
            level = self.levels[index]
            cohort = self.cohorts[level]
            is_top = index == top
            if not is_top and self.cohorts[self.levels[index + 1]].too_toxic:
                # rules §6: the level above is too toxic, so this level can only be the MTD,
                # which needs 6 ("add 3 there first"); pending extras here change nothing.
                return self.descend(index + 1)
            verdict = _verdict(cohort, need_six=is_top)
            if verdict is _Verdict.TOO_TOXIC:
                return self.descend(index)
            if verdict is not _Verdict.CLEARED_THREE and verdict is not _Verdict.CLEARED_SIX:
                why = came_from if verdict is _Verdict.OPEN_FIRST else ""
                if verdict is _Verdict.OPEN_EXPAND and cohort.yes == 0:
                    # only the top level asks 6 of a clean cohort here (need_six above)
                    why = (
                        f"level {level} is the top level and had {_count(cohort)}; "
                        f"'MTD not reached' needs {self.design.full_cohort} evaluable "
                        "patients there, so 3 more are enrolled together"
                    )
                return self.act(level, verdict, why, need_six=is_top)
            if is_top:
                # rules §6: <= 1 DLT in 6 at the top level -> MTD not reached, recommend it
                return _Step(
                    DecisionKind.MTD_NOT_REACHED,
                    level,
                    f"Level {level} is the top level and had {_count(cohort)}, "
                    f"so the MTD is not reached and level {level} is recommended.",
                    recommended=level,
                )
            above = self.levels[index + 1]
            came_from = f"level {level} cleared ({_count(cohort)}), so escalation moved to {above}"
            index += 1

    def descend(self, toxic_index: int) -> _Step:
        """Level ``toxic_index`` is too toxic: the MTD must be found below it."""
        while True:
            toxic = self.levels[toxic_index]
            toxic_text = f"level {toxic} is too toxic ({_count(self.cohorts[toxic])})"
            if toxic_index == 0:
                return _Step(
                    DecisionKind.STOP_NO_TOLERABLE_DOSE,
                    toxic,
                    f"Stop: {toxic_text} and there is no lower level, so no dose is tolerable.",
                )
            below = self.levels[toxic_index - 1]
            cohort = self.cohorts[below]
            verdict = _verdict(cohort, need_six=True)
            if verdict is _Verdict.TOO_TOXIC:
                toxic_index -= 1
                continue
            if verdict is _Verdict.CLEARED_SIX:
                # rules §6: ">= 2 of 6 at a level while 0 or 1 of 6 at the level immediately below"
                return _Step(
                    DecisionKind.MTD,
                    below,
                    f"MTD = {below}: {toxic_text}, and level {below} had {_count(cohort)}.",
                    recommended=below,
                )
            if verdict is _Verdict.OPEN_EXPAND:
                why = (
                    f"{toxic_text}; level {below} below it has {_count(cohort)}, and it can "
                    f"be the MTD only with {self.design.full_cohort} evaluable patients, so "
                    "they are enrolled together without waiting for each result"
                )
            else:
                why = (
                    f"{toxic_text}, and the MTD needs {self.design.full_cohort} evaluable "
                    f"patients at level {below}"
                )
            return self.act(below, verdict, why, need_six=True)

    def act(self, level: int, verdict: _Verdict, why: str, *, need_six: bool) -> _Step:
        cohort = self.cohorts[level]
        size, full = self.design.cohort_size, self.design.full_cohort
        if verdict is _Verdict.WAIT:
            # The sentence says what the results decide, never where escalation "goes":
            # nobody may be enrolled until they are known.
            return _Step(
                DecisionKind.WAIT_PENDING,
                level,
                _sentence(
                    why,
                    f"enrolment waits: level {level} has {cohort.size} "
                    f"{_patients(cohort.size)} treated ({_count(cohort)}), and the pending "
                    f"results decide the next step ({_what_results_decide(cohort, need_six)})",
                ),
            )
        if verdict is _Verdict.OPEN_FIRST:
            main = (
                f"level {level} has {cohort.size} of the {size} toxicity-evaluable patients "
                "its cohort needs"
            )
            return _Step(DecisionKind.ENROL_AT, level, _sentence(why, main))
        if not why:
            why = (
                f"level {level} had {_count(cohort)}, so 3 more are enrolled there together "
                f"({full} in all)"
            )
        main = f"level {level} has {cohort.size} of {full} patients"
        return _Step(DecisionKind.EXPAND_TO_SIX, level, _sentence(why, main))


def _what_results_decide(cohort: _Cohort, need_six: bool) -> str:
    size, full = cohort.cohort_size, 2 * cohort.cohort_size
    if cohort.first_cohort_pending:
        if need_six:
            return f"0 or 1 DLT in {size} adds 3 more, 2 or more close the level"
        return f"0 DLT in {size} escalates, 1 adds 3 more, 2 or more close the level"
    if cohort.size >= full:
        return f"at most 1 DLT in {full} clears the level, 2 or more close it"
    return f"a DLT among them would ask for {full} patients at the level"


def _sentence(*parts: str) -> str:
    text = "; ".join(part for part in parts if part)
    return f"{text[0].upper()}{text[1:]}."


def decide(patients: Sequence[EscalationPatient], design: EscalationDesign) -> EscalationDecision:
    """Where the next patient goes, from the ordered list of enrolled patients, by the
    protocol's design."""
    _check(patients, design)
    members: dict[int, list[EscalationPatient]] = {level: [] for level in design.levels}
    overflow: list[EscalationPatient] = []
    for patient in patients:
        if patient.evaluable is False:
            continue  # replaced in the cohort (rules §1: withdrawal or progression in cycle 1)
        if len(members[patient.level]) < design.full_cohort:
            members[patient.level].append(patient)
        else:
            overflow.append(patient)
    cohorts = {level: _Cohort(tuple(group), design.cohort_size) for level, group in members.items()}
    step = _Walk(design, cohorts).run()
    recommended = step.recommended

    for patient in overflow:
        if patient.level != recommended:
            raise DomainError(
                f"patient {patient.patient_id} is beyond the {design.full_cohort}-patient "
                f"cohort at level {patient.level}, which is not the MTD; the 3+3 rules "
                "cannot place this patient",
                field="level",
            )
    expansion_ids = _expansion_ids(patients, cohorts, recommended)
    caps = CapStatus(
        escalation_enrolled=len(patients) - len(expansion_ids),
        escalation_cap=design.escalation_cap,
        expansion_enrolled=len(expansion_ids),
        expansion_cap=design.expansion_cap,
        total_enrolled=len(patients),
        total_cap=design.total_cap,
    )
    phase = TrialPhase.EXPANSION if recommended is not None else TrialPhase.ESCALATION
    kind, level, reason = step.kind, step.level, step.reason
    allowed: tuple[int, ...] = ()
    cap_text = _cap_reached(caps, phase)
    if kind in (DecisionKind.ENROL_AT, DecisionKind.EXPAND_TO_SIX, DecisionKind.MTD) or (
        kind is DecisionKind.MTD_NOT_REACHED
    ):
        if cap_text is None:
            assert level is not None
            allowed = (level,)
        else:
            reason = f"{reason[:-1]}; but {cap_text}, so no one more can be enrolled."
            kind = DecisionKind.CAP_REACHED
    closed = _closed_levels(design, cohorts, allowed, step, phase, cap_text)
    table = _table(design, patients, cohorts, expansion_ids, allowed, recommended)
    return EscalationDecision(
        kind=kind,
        level=level,
        reason=reason,
        table=table,
        allowed_levels=allowed,
        closed_levels=closed,
        phase=phase,
        caps=caps,
        recommended_level=recommended,
    )


def _check(patients: Sequence[EscalationPatient], design: EscalationDesign) -> None:
    seen: set[str] = set()
    for patient in patients:
        if patient.patient_id in seen:
            raise DomainError(f"patient {patient.patient_id} is listed twice", field="patient_id")
        seen.add(patient.patient_id)
        if patient.level not in design.levels:
            raise DomainError(
                f"patient {patient.patient_id} is at level {patient.level}, which is not "
                f"one of the protocol's levels {list(design.levels)}",
                field="level",
            )
        if patient.evaluable is False and patient.dlt is DltStatus.YES:
            raise DomainError(
                f"patient {patient.patient_id} has a DLT but is marked not evaluable for "
                "toxicity; correct one of the two",
                field="evaluable",
            )


def _expansion_ids(
    patients: Sequence[EscalationPatient],
    cohorts: Mapping[int, _Cohort],
    recommended: int | None,
) -> set[str]:
    """Patients at the MTD enrolled after its escalation cohort was complete."""
    if recommended is None:
        return set()
    cohort_ids = {p.patient_id for p in cohorts[recommended].members}
    last_member = max((i for i, p in enumerate(patients) if p.patient_id in cohort_ids), default=-1)
    return {
        p.patient_id
        for i, p in enumerate(patients)
        if i > last_member and p.level == recommended and p.patient_id not in cohort_ids
    }


def _cap_reached(caps: CapStatus, phase: TrialPhase) -> str | None:
    if caps.total_enrolled >= caps.total_cap:
        return f"the total cap of {caps.total_cap} patients is reached"
    if phase is TrialPhase.ESCALATION and caps.escalation_enrolled >= caps.escalation_cap:
        return f"the escalation cap of {caps.escalation_cap} patients is reached"
    if phase is TrialPhase.EXPANSION and caps.expansion_enrolled >= caps.expansion_cap:
        return f"the expansion cap of {caps.expansion_cap} patients is reached"
    return None


def _closed_levels(
    design: EscalationDesign,
    cohorts: Mapping[int, _Cohort],
    allowed: tuple[int, ...],
    step: _Step,
    phase: TrialPhase,
    cap_text: str | None,
) -> tuple[ClosedLevel, ...]:
    levels = design.levels
    toxic = [i for i, level in enumerate(levels) if cohorts[level].too_toxic]
    lowest_toxic = min(toxic) if toxic else None
    start_index = levels.index(design.start_level)
    closed: list[ClosedLevel] = []
    for index, level in enumerate(levels):
        if level in allowed:
            continue
        cohort = cohorts[level]
        if cohort.too_toxic:
            reason = f"too toxic: {_count(cohort)}"
        elif lowest_toxic is not None and index > lowest_toxic:
            reason = f"above level {levels[lowest_toxic]}, which is too toxic"
        elif step.kind is DecisionKind.STOP_NO_TOLERABLE_DOSE:
            reason = "no tolerable dose: the trial stops"
        elif step.kind is DecisionKind.WAIT_PENDING:
            reason = f"enrolment waits for the pending DLT results at level {step.level}"
        elif cap_text is not None:
            reason = cap_text
        elif phase is TrialPhase.EXPANSION:
            reason = f"expansion enrols only at the recommended level {step.recommended}"
        elif index > levels.index(step.level or design.start_level):
            reason = "not reached yet: escalation goes up one level after a cohort clears"
        elif index < start_index and not cohort.members:
            reason = f"de-escalation level: used only if level {design.start_level} is too toxic"
        else:
            reason = f"cleared ({_count(cohort)}); the next patient goes to level {step.level}"
        closed.append(ClosedLevel(level, reason))
    return tuple(closed)


def _table(
    design: EscalationDesign,
    patients: Sequence[EscalationPatient],
    cohorts: Mapping[int, _Cohort],
    expansion_ids: set[str],
    allowed: tuple[int, ...],
    recommended: int | None,
) -> tuple[LevelRow, ...]:
    rows: list[LevelRow] = []
    for level in design.levels:
        here = [p for p in patients if p.level == level]
        cohort = cohorts[level]
        if cohort.too_toxic:
            state = LevelState.TOO_TOXIC
        elif level == recommended:
            state = LevelState.MTD
        elif level in allowed:
            state = LevelState.OPEN
        elif not here:
            state = LevelState.NOT_STARTED
        else:
            state = LevelState.FULL
        rows.append(
            LevelRow(
                level=level,
                treated=len(here),
                evaluable=cohort.yes + cohort.no,
                dlt_yes=cohort.yes,
                dlt_no=cohort.no,
                dlt_pending=cohort.pending,
                not_evaluable=sum(1 for p in here if p.evaluable is False),
                expansion=sum(1 for p in here if p.patient_id in expansion_ids),
                state=state,
            )
        )
    return tuple(rows)
