"""3+3 confirmation cohorts (rules §6, issue 13): enrolled together; reasons tell the truth.

"If only 3 were treated at the level below [a too-toxic level], add 3 there first": those 3 are
one cohort, so a pending result of the 4th patient cannot change the next step (whatever it is,
the level still needs 6). The engine says "enrol" until 6 are treated, then waits.

The batch simulation below enrols every cohort together (the engine's answer with pending
results), reveals the results only when the engine waits, and compares the path with a
cohort-at-a-time textbook 3+3 written independently.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace

import pytest

from clinic_app.core.escalation import (
    DecisionKind,
    DltStatus,
    EscalationDecision,
    EscalationDesign,
    EscalationPatient,
    decide,
)
from tests.core.designs import bpd_design

Y, N, P = DltStatus.YES, DltStatus.NO, DltStatus.PENDING
BPD = bpd_design()  # bpd.toml [escalation]


def cohort(level: int, outcomes: str, prefix: str = "") -> list[EscalationPatient]:
    """'n' no DLT, 'y' DLT, 'p' pending."""
    status = {"n": N, "y": Y, "p": P}
    return [
        EscalationPatient(
            f"{prefix or 'L'}{level}-{i}", level, None if c == "p" else True, status[c]
        )
        for i, c in enumerate(outcomes)
    ]


def test_confirmation_cohort_below_a_toxic_level_is_enrolled_together() -> None:
    # Level 1: 0 DLT in 3. Level 2: 2 DLT in 3 -> too toxic (>= 2 of 3).
    # Level 1 can be the MTD only with 6 evaluable (rules §6): 6 - 3 = 3 more, together.
    base = cohort(1, "nnn") + cohort(2, "yyn")
    d = decide(base, BPD)
    assert (d.kind, d.allowed_levels) == (DecisionKind.EXPAND_TO_SIX, (1,))
    # 4th patient in cycle 1: whether it ends 0/4 or 1/4, level 1 still needs 6 -> enrol
    d = decide(base + cohort(1, "p", "b"), BPD)
    assert (d.kind, d.allowed_levels) == (DecisionKind.EXPAND_TO_SIX, (1,))
    assert "level 1 has 4 of 6 patients" in d.reason
    assert "without waiting" in d.reason
    # 5th pending too: 4 + 1 = 5 of 6 -> still enrol
    d = decide(base + cohort(1, "pp", "b"), BPD)
    assert (d.kind, d.allowed_levels) == (DecisionKind.EXPAND_TO_SIX, (1,))
    # 6 treated (3 known + 3 pending): 0..3 DLT in 6 decides MTD = 1 or too toxic -> wait
    d = decide(base + cohort(1, "ppp", "b"), BPD)
    assert d.kind is DecisionKind.WAIT_PENDING
    assert d.allowed_levels == ()
    assert "level 1 has 6 patients treated" in d.reason
    assert "at most 1 DLT in 6 clears the level" in d.reason


def test_confirmation_cohort_below_the_top_level_and_at_minus_one() -> None:
    # 0/3 at 1, 2, 3; level 4 (top) 2 DLT in 2 -> too toxic; level 3 needs 3 more together
    base = cohort(1, "nnn") + cohort(2, "nnn") + cohort(3, "nnn") + cohort(4, "yy")
    d = decide(base + cohort(3, "p", "b"), BPD)
    assert (d.kind, d.level) == (DecisionKind.EXPAND_TO_SIX, 3)
    assert "top level" not in d.reason  # level 4 is the top level, and it is closed
    # level 1 too toxic (2/2), -1 had 0/3: 3 more at -1 together
    d = decide(cohort(1, "yy") + cohort(-1, "nnnp"), BPD)
    assert (d.kind, d.level) == (DecisionKind.EXPAND_TO_SIX, -1)


def test_a_dlt_in_the_confirmation_cohort_keeps_it_going() -> None:
    # 0/3 + 1 DLT among the extra -> 1 DLT in 4, still <= 1: enrol the rest of the 6
    base = cohort(1, "nnn") + cohort(2, "yyn")
    assert decide(base + cohort(1, "yp", "b"), BPD).kind is DecisionKind.EXPAND_TO_SIX
    # 2 DLT among the extra -> 2 of 5: level 1 too toxic at once -> go to -1
    assert decide(base + cohort(1, "yyp", "b"), BPD).text() == "enrol at -1"


def test_waiting_reason_does_not_tell_to_escalate_to_a_closed_level() -> None:
    # 0/3 at level 1, level 2: 2 no + 1 pending. Nobody may be enrolled: the reason says what
    # the pending result decides, not "escalate to 2" (level 2 is closed while waiting).
    d = decide(cohort(1, "nnn") + cohort(2, "nnp"), BPD)
    assert d.kind is DecisionKind.WAIT_PENDING
    assert "escalate to" not in d.reason
    assert d.reason == (
        "Enrolment waits: level 2 has 3 patients treated (0 DLT in 2 evaluable patients, "
        "1 pending), and the pending results decide the next step (0 DLT in 3 escalates, 1 adds "
        "3 more, 2 or more close the level)."
    )


def test_expansion_reason_names_the_dlt_not_the_level_below() -> None:
    # 0/3 at 1, then 1 DLT in 3 at 2: the reason is level 2's own count (1 of 3 -> add 3)
    d = decide(cohort(1, "nnn") + cohort(2, "nyn"), BPD)
    assert d.text() == "expand 2 to 6"
    assert d.reason.startswith("Level 2 had 1 DLT in 3 evaluable patients, so 3 more")


# -- batch simulation against a cohort-at-a-time textbook -----------------------------------


def textbook_batches(levels: tuple[int, ...], start: int, outcomes: list[bool]) -> list[int]:
    """Cohort-at-a-time 3+3: returns the number of patients enrolled before each evaluation.

    Each cohort of 3 is enrolled together and evaluated once all 3 are known; a level with
    0 of 3 below a too-toxic level gets 3 more (rules §6). The path ends at MTD / stop.
    """
    feed = iter(outcomes)
    treated = dict.fromkeys(levels, 0)
    dlts = dict.fromkeys(levels, 0)
    boundaries: list[int] = []

    def batch(level: int) -> None:
        for _ in range(3):
            treated[level] += 1
            dlts[level] += next(feed)
        boundaries.append(sum(treated.values()))

    def mtd_below(index: int) -> None:
        while index > 0:
            index -= 1
            level = levels[index]
            if treated[level] == 0:
                batch(level)
                if dlts[level] >= 2:
                    continue
            if treated[level] == 3:
                batch(level)
            if dlts[level] < 2:
                return

    index = levels.index(start)
    while True:
        level = levels[index]
        batch(level)
        if dlts[level] == 1 or (dlts[level] == 0 and index == len(levels) - 1):
            batch(level)
        if dlts[level] >= 2:
            mtd_below(index)
            return boundaries
        if index == len(levels) - 1:
            return boundaries
        index += 1


def batch_paths(design: EscalationDesign) -> Iterator[tuple[list[bool], list[int], list[int]]]:
    """(outcomes in enrolment order, enrolled counts at each wait, levels) for every path."""
    # state: levels, outcomes (hidden until revealed), revealed count, waits
    stack: list[tuple[tuple[int, ...], tuple[bool, ...], int, tuple[int, ...]]] = [((), (), 0, ())]
    while stack:
        levels, outcomes, revealed, waits = stack.pop()
        patients = [
            EscalationPatient(
                f"p{i}",
                level,
                True if i < revealed else None,
                (Y if dlt else N) if i < revealed else P,
            )
            for i, (level, dlt) in enumerate(zip(levels, outcomes, strict=True))
        ]
        d = decide(patients, design)
        check_reason(design, d)
        if d.kind is DecisionKind.WAIT_PENDING:
            assert revealed < len(levels)
            stack.append((levels, outcomes, len(levels), (*waits, len(levels))))
            continue
        if d.kind not in (DecisionKind.ENROL_AT, DecisionKind.EXPAND_TO_SIX):
            if revealed < len(levels):  # a final answer that pending results cannot change
                stack.append((levels, outcomes, len(levels), waits))
                continue
            yield list(outcomes), list(waits), list(levels)
            continue
        (level,) = d.allowed_levels
        for dlt in (False, True):
            stack.append(((*levels, level), (*outcomes, dlt), revealed, waits))


def check_reason(design: EscalationDesign, d: EscalationDecision) -> None:
    top = design.levels[-1]
    for match in re.finditer(r"escalat\w* (?:moved )?to (-?\d+)", d.reason):
        assert int(match.group(1)) in d.allowed_levels, d.reason
    if "top level" in d.reason:
        assert d.level == top and d.row(top).dlt_yes < 2, d.reason


@pytest.mark.parametrize(
    "levels", [(-1, 1), (-1, 1, 2), (-1, 1, 2, 3)], ids=lambda lv: f"{len(lv)} levels"
)
def test_every_batch_path_waits_only_between_cohorts(levels: tuple[int, ...]) -> None:
    design = replace(BPD, levels=levels, escalation_cap=1000, total_cap=1000)
    count = 0
    for outcomes, waits, _ in batch_paths(design):
        count += 1
        boundaries = textbook_batches(levels, 1, outcomes)
        # every wait falls where a cohort of 3 is complete (never after a 4th or 5th patient)
        assert set(waits) <= set(boundaries), (outcomes, waits, boundaries)
        assert all(w % 3 == 0 for w in waits), waits
    assert count > 10
