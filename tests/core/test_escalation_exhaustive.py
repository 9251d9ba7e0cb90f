"""Every DLT outcome sequence through the 3+3 engine, for designs of 1 to 5 levels.

The simulation asks the engine where the next patient goes, enrols one patient there and
feeds the outcome (DLT yes or no), branching on both, until the engine reaches a final
decision. Each path is checked against invariants and against an independent textbook 3+3
written below in a different shape (a straight-line procedure instead of a state read).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import pytest

from clinic_app.core.escalation import (
    DecisionKind,
    DltStatus,
    EscalationDecision,
    EscalationDesign,
    EscalationPatient,
    LevelState,
    decide,
)
from tests.core.designs import bpd_design

FINAL = {
    DecisionKind.MTD,
    DecisionKind.MTD_NOT_REACHED,
    DecisionKind.STOP_NO_TOLERABLE_DOSE,
    DecisionKind.CAP_REACHED,
}
ENROL = {DecisionKind.ENROL_AT, DecisionKind.EXPAND_TO_SIX}


@dataclass
class Path:
    outcomes: tuple[bool, ...]
    levels: tuple[int, ...]
    final: EscalationDecision


def patients_for(levels: tuple[int, ...], outcomes: tuple[bool, ...]) -> list[EscalationPatient]:
    return [
        EscalationPatient(f"p{i}", level, True, DltStatus.YES if dlt else DltStatus.NO)
        for i, (level, dlt) in enumerate(zip(levels, outcomes, strict=True))
    ]


def all_paths(design: EscalationDesign) -> Iterator[Path]:
    stack: list[tuple[tuple[int, ...], tuple[bool, ...]]] = [((), ())]
    while stack:
        levels, outcomes = stack.pop()
        decision = decide(patients_for(levels, outcomes), design)
        check_every_step(design, levels, outcomes, decision)
        if decision.kind in FINAL:
            yield Path(outcomes, levels, decision)
            continue
        assert decision.kind in ENROL, decision  # no pending results in this simulation
        assert len(levels) < design.total_cap  # terminates: bounded by the total cap
        (level,) = decision.allowed_levels
        for dlt in (False, True):
            stack.append(((*levels, level), (*outcomes, dlt)))


def check_every_step(
    design: EscalationDesign,
    levels: tuple[int, ...],
    outcomes: tuple[bool, ...],
    decision: EscalationDecision,
) -> None:
    order = design.levels
    for row in decision.table:
        # never more than 6 evaluable at a level before a decision (escalation cohort)
        assert row.evaluable <= design.full_cohort
    toxic = [order.index(r.level) for r in decision.table if r.dlt_yes >= 2]
    for level in decision.allowed_levels:
        # never recommend a closed level: nothing at or below it is too toxic
        assert all(order.index(level) < t for t in toxic), (levels, outcomes, decision)
        assert decision.row(level).state in (LevelState.OPEN, LevelState.MTD)
        assert level not in {c.level for c in decision.closed_levels}
    closed = {c.level for c in decision.closed_levels}
    assert closed | set(decision.allowed_levels) == set(order)
    assert decision.caps.escalation_enrolled <= design.escalation_cap
    assert decision.caps.total_enrolled <= design.total_cap
    assert decision.reason.endswith(".")


def textbook_3_plus_3(levels: tuple[int, ...], start: int, draw: Callable[[], bool]) -> tuple:
    """The classic 3+3, one patient at a time, stopping a level at its second DLT."""
    treated = dict.fromkeys(levels, 0)
    dlts = dict.fromkeys(levels, 0)
    enrolled: list[int] = []

    def treat(level: int, up_to: int) -> None:
        while treated[level] < up_to and dlts[level] < 2:
            treated[level] += 1
            enrolled.append(level)
            dlts[level] += draw()

    def find_mtd_below(index: int) -> tuple:
        while index > 0:
            index -= 1
            treat(levels[index], 6)
            if dlts[levels[index]] < 2:
                return (DecisionKind.MTD, levels[index], tuple(enrolled))
        return (DecisionKind.STOP_NO_TOLERABLE_DOSE, levels[0], tuple(enrolled))

    index = levels.index(start)
    while True:
        level = levels[index]
        treat(level, 3)
        if dlts[level] == 1:
            treat(level, 6)
        if dlts[level] >= 2:
            return find_mtd_below(index)
        if index == len(levels) - 1:
            treat(level, 6)
            if dlts[level] >= 2:
                return find_mtd_below(index)
            return (DecisionKind.MTD_NOT_REACHED, level, tuple(enrolled))
        index += 1


def run_reference(design: EscalationDesign, outcomes: tuple[bool, ...]) -> tuple:
    feed = iter(outcomes)
    return textbook_3_plus_3(design.levels, design.start_level, lambda: next(feed))


# Cohorts of 3 and no caps: the textbook 3+3 the reference implements.
UNCAPPED = dict(cohort_size=3, escalation_cap=1000, expansion_cap=1000, total_cap=1000)
DESIGNS = [
    EscalationDesign(levels=(1,), start_level=1, **UNCAPPED),
    EscalationDesign(levels=(-1, 1), start_level=1, **UNCAPPED),
    EscalationDesign(levels=(-1, 1, 2), start_level=1, **UNCAPPED),
    EscalationDesign(levels=(-1, 1, 2, 3), start_level=1, **UNCAPPED),
    EscalationDesign(levels=(-1, 1, 2, 3, 4), start_level=1, **UNCAPPED),
    pytest.param(
        EscalationDesign(levels=(1, 2, 3, 4, 5), start_level=1, **UNCAPPED),
        marks=pytest.mark.slow,  # 25,642 paths, about 12 s
    ),
]


@pytest.mark.parametrize("design", DESIGNS)
def test_every_outcome_sequence_uncapped(design: EscalationDesign) -> None:
    finals: set[DecisionKind] = set()
    count = 0
    for path in all_paths(design):
        count += 1
        final = path.final
        finals.add(final.kind)
        kind, level, enrolled = run_reference(design, path.outcomes)
        assert (final.kind, final.level) == (kind, level), path
        assert path.levels == enrolled, path
        if final.kind in (DecisionKind.MTD, DecisionKind.MTD_NOT_REACHED):
            row = final.row(final.level)  # type: ignore[arg-type]
            # the MTD always has 6 evaluable patients with <= 1 DLT
            assert row.evaluable == 6 and row.dlt_yes <= 1
            assert final.allowed_levels == (final.level,)
            assert final.recommended_level == final.level
            index = design.levels.index(final.level)  # type: ignore[arg-type]
            if final.kind is DecisionKind.MTD:
                assert final.row(design.levels[index + 1]).dlt_yes >= 2
            else:
                assert index == len(design.levels) - 1
        if final.kind is DecisionKind.STOP_NO_TOLERABLE_DOSE:
            assert final.row(design.levels[0]).dlt_yes >= 2
            assert final.allowed_levels == ()
    assert count > 1
    assert DecisionKind.STOP_NO_TOLERABLE_DOSE in finals
    assert DecisionKind.MTD_NOT_REACHED in finals


def test_every_outcome_sequence_with_the_bpd_caps() -> None:
    design = bpd_design()  # bpd.toml: caps 24 / 38 / 56
    kinds: set[DecisionKind] = set()
    for path in all_paths(design):
        kinds.add(path.final.kind)
        assert len(path.levels) <= 24
        kind, level, enrolled = run_reference(
            replace(design, **UNCAPPED), path.outcomes + (False,) * 60
        )
        if path.final.kind is DecisionKind.CAP_REACHED:
            # the cap stopped a path the uncapped 3+3 would have continued
            assert len(path.levels) == 24
            assert len(enrolled) > 24 and enrolled[:24] == path.levels
        else:
            assert (path.final.kind, path.final.level) == (kind, level)
    assert DecisionKind.CAP_REACHED in kinds
    assert DecisionKind.MTD in kinds


def test_expansion_dlts_do_not_reopen_escalation() -> None:
    # every path that ends with an MTD: 5 more patients at the MTD, all with a DLT
    design = EscalationDesign(levels=(-1, 1, 2), start_level=1, **UNCAPPED)
    checked = 0
    for path in all_paths(design):
        if path.final.kind is not DecisionKind.MTD:
            continue
        mtd = path.final.level
        assert mtd is not None
        patients = patients_for(path.levels, path.outcomes) + [
            EscalationPatient(f"x{i}", mtd, True, DltStatus.YES) for i in range(5)
        ]
        after = decide(patients, design)
        assert (after.kind, after.level, after.allowed_levels) == (DecisionKind.MTD, mtd, (mtd,))
        assert after.row(mtd).expansion == 5
        assert after.caps.expansion_enrolled == 5
        checked += 1
    assert checked > 0
