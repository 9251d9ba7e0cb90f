"""Hand-written 3+3 paths (rules §6), pending results, evaluability, caps and the design."""

from __future__ import annotations

from dataclasses import replace

import pytest

from clinic_app.core.errors import DomainError, ProtocolError
from clinic_app.core.escalation import (
    DecisionKind,
    DltStatus,
    EscalationDesign,
    EscalationPatient,
    LevelState,
    TrialPhase,
    decide,
)
from tests.core.designs import bpd_design

Y, N, P = DltStatus.YES, DltStatus.NO, DltStatus.PENDING
BPD = bpd_design()  # bpd.toml [escalation]: levels -1, 1-4, start 1, caps 24 / 38 / 56


def cohort(level: int, outcomes: str, prefix: str = "") -> list[EscalationPatient]:
    """'n' no DLT, 'y' DLT, 'p' pending (evaluability not yet known), 'x' not evaluable."""
    out = []
    for i, code in enumerate(outcomes):
        pid = f"{prefix or 'L'}{level}-{i}"
        if code == "x":
            out.append(EscalationPatient(pid, level, False, N))
        elif code == "p":
            out.append(EscalationPatient(pid, level, None, P))
        else:
            out.append(EscalationPatient(pid, level, True, Y if code == "y" else N))
    return out


def test_first_patient_goes_to_the_start_level() -> None:
    d = decide([], BPD)
    assert d.text() == "enrol at 1"
    assert d.allowed_levels == (1,)
    assert d.phase is TrialPhase.ESCALATION
    assert d.row(1).state is LevelState.OPEN
    assert d.row(2).state is LevelState.NOT_STARTED
    reasons = {c.level: c.reason for c in d.closed_levels}
    assert "de-escalation level" in reasons[-1]
    assert "not reached yet" in reasons[2]


def test_zero_of_three_everywhere_reaches_mtd_not_reached() -> None:
    # 0/3 at 1, 2, 3 -> escalate each time; top level 4 needs 6 -> 0/6 -> MTD not reached
    patients = cohort(1, "nnn") + cohort(2, "nnn") + cohort(3, "nnn") + cohort(4, "nnn")
    d = decide(patients, BPD)
    assert d.text() == "expand 4 to 6"
    d = decide(patients + cohort(4, "nnn", prefix="b"), BPD)
    assert d.kind is DecisionKind.MTD_NOT_REACHED
    assert d.text() == "MTD not reached (recommend 4)"
    assert d.phase is TrialPhase.EXPANSION
    assert d.allowed_levels == (4,)
    assert d.row(4).state is LevelState.MTD


def test_one_dlt_at_top_level_of_six_is_still_not_reached() -> None:
    # 1/6 at level 4 (<= 1) -> MTD not reached; 2/6 -> too toxic, MTD below
    base = cohort(1, "nnn") + cohort(2, "nnn") + cohort(3, "nnn")
    assert decide([*base, *cohort(4, "nynnnn")], BPD).text() == "MTD not reached (recommend 4)"
    d = decide([*base, *cohort(4, "nynnny")], BPD)
    assert d.row(4).state is LevelState.TOO_TOXIC
    assert d.text() == "expand 3 to 6"  # only 3 were treated at level 3


def test_one_of_three_then_zero_of_three_more_escalates() -> None:
    d = decide(cohort(1, "nyn"), BPD)
    assert d.text() == "expand 1 to 6"
    assert "1 DLT in 3 evaluable patients" in d.reason
    # 1/6 -> escalate to 2
    d = decide(cohort(1, "nynnnn"), BPD)
    assert d.text() == "enrol at 2"
    assert d.row(1).state is LevelState.FULL
    assert "cleared" in {c.level: c.reason for c in d.closed_levels}[1]


def test_two_of_six_is_too_toxic() -> None:
    # 1/3 then 1 more in the next 3 -> 2/6 at level 2, 1 has 0/3 -> expand 1
    d = decide(cohort(1, "nnn") + cohort(2, "ynnnny"), BPD)
    assert d.row(2).state is LevelState.TOO_TOXIC
    assert d.text() == "expand 1 to 6"


def test_two_of_three_at_level_2_with_three_at_level_1_expands_level_1() -> None:
    d = decide(cohort(1, "nnn") + cohort(2, "yyn"), BPD)
    assert d.kind is DecisionKind.EXPAND_TO_SIX
    assert d.level == 1
    assert d.allowed_levels == (1,)
    closed = {c.level: c.reason for c in d.closed_levels}
    assert closed[2].startswith("too toxic")
    assert "above level 2" in closed[3]
    # then 0/3 more at level 1 -> 0/6 -> MTD = 1; 1 more DLT -> 1/6 still MTD = 1
    assert (
        decide(cohort(1, "nnn") + cohort(2, "yyn") + cohort(1, "nnn", "b"), BPD).text() == "MTD = 1"
    )
    assert (
        decide(cohort(1, "nnn") + cohort(2, "yyn") + cohort(1, "nny", "b"), BPD).text() == "MTD = 1"
    )
    # 2/6 at level 1 -> de-escalate to -1
    d = decide(cohort(1, "nnn") + cohort(2, "yyn") + cohort(1, "yyn", "b"), BPD)
    assert d.text() == "enrol at -1"


def test_mtd_with_six_already_below() -> None:
    # 1/6 at 2, then 2/3 at 3 -> MTD = 2 at once; expansion enrols at 2
    d = decide(cohort(1, "nnn") + cohort(2, "ynnnnn") + cohort(3, "yy"), BPD)
    assert d.text() == "MTD = 2"
    assert d.allowed_levels == (2,)
    assert d.phase is TrialPhase.EXPANSION
    assert "expansion enrols only" in {c.level: c.reason for c in d.closed_levels}[1]


def test_de_escalation_to_minus_one_and_mtd_there() -> None:
    d = decide(cohort(1, "yy"), BPD)
    assert d.text() == "enrol at -1"
    # 0/3 at -1: level 1 above is too toxic, so -1 needs 6 and is never escalated back to 1
    d = decide(cohort(1, "yy") + cohort(-1, "nnn"), BPD)
    assert d.text() == "expand -1 to 6"
    assert 1 not in d.allowed_levels
    d = decide(cohort(1, "yy") + cohort(-1, "nnnynn"), BPD)
    assert d.text() == "MTD = -1"


def test_stop_when_minus_one_is_too_toxic() -> None:
    d = decide(cohort(1, "yy") + cohort(-1, "nyy"), BPD)
    assert d.kind is DecisionKind.STOP_NO_TOLERABLE_DOSE
    assert d.text() == "stop: no tolerable dose"
    assert d.allowed_levels == ()
    assert d.row(-1).state is LevelState.TOO_TOXIC


def test_pending_result_in_a_full_cohort_waits() -> None:
    # cohort of 3 with 0 DLT and 1 pending: 0/3 (escalate) or 1/3 (expand) -> wait
    d = decide(cohort(1, "nnp"), BPD)
    assert d.kind is DecisionKind.WAIT_PENDING
    assert d.allowed_levels == ()
    assert d.text() == "wait for pending DLT results"
    # 1 DLT with 2 pending: 1/3 or 2/3 or 3/3 -> wait
    assert decide(cohort(1, "ypp"), BPD).kind is DecisionKind.WAIT_PENDING


def test_two_dlts_are_too_toxic_whatever_is_pending() -> None:
    d = decide(cohort(1, "yyp"), BPD)
    assert d.text() == "enrol at -1"
    assert d.row(1).dlt_pending == 1


def test_an_incomplete_cohort_keeps_enrolling_while_results_are_pending() -> None:
    # the cohort of 3 is enrolled together: 2 in cycle 1 do not hold the third back
    assert decide(cohort(1, "pp"), BPD).text() == "enrol at 1"
    # expansion 3 -> 6 is enrolled together too, once the first 3 are known
    assert decide(cohort(1, "nynp"), BPD).text() == "expand 1 to 6"
    # but a full six with pending results waits
    assert decide(cohort(1, "nynnnp"), BPD).kind is DecisionKind.WAIT_PENDING


def test_no_dlt_needs_a_known_evaluable_patient() -> None:
    # DLT "no" while evaluability is still unknown counts as pending
    patients = [*cohort(1, "nn"), EscalationPatient("q", 1, None, N)]
    assert decide(patients, BPD).kind is DecisionKind.WAIT_PENDING


def test_non_evaluable_patients_are_replaced() -> None:
    # 2 evaluable + 1 non-evaluable -> 1 more needed at level 1
    d = decide(cohort(1, "nxn"), BPD)
    assert d.text() == "enrol at 1"
    assert d.row(1).treated == 3 and d.row(1).not_evaluable == 1 and d.row(1).evaluable == 2
    # the replacement completes the cohort: 0/3 evaluable -> escalate
    d = decide(cohort(1, "nxnn"), BPD)
    assert d.text() == "enrol at 2"
    assert d.caps.escalation_enrolled == 4  # the replaced patient still counts as enrolled


def test_escalation_cap_stops_enrolment() -> None:
    design = replace(BPD, escalation_cap=5)
    d = decide(cohort(1, "nxnxn"), design)
    assert d.kind is DecisionKind.CAP_REACHED
    assert d.allowed_levels == ()
    assert "escalation cap of 5" in d.reason
    # one below the cap: still enrolling
    assert decide(cohort(1, "nxnx"), design).text() == "enrol at 1"


def test_expansion_and_total_caps() -> None:
    escalation = cohort(1, "nnn") + cohort(2, "nnnnnn") + cohort(3, "yy")  # 11 patients
    expansion = [EscalationPatient(f"e{i}", 2, True, N) for i in range(3)]
    # expansion cap 3: 2 expansion patients -> still open at 2; 3 -> cap reached
    design = replace(BPD, expansion_cap=3)
    assert decide(escalation + expansion[:2], design).allowed_levels == (2,)
    d = decide(escalation + expansion, design)
    assert d.kind is DecisionKind.CAP_REACHED
    assert d.recommended_level == 2
    assert d.caps.expansion_enrolled == 3 and d.caps.escalation_enrolled == 11
    # total cap 13: 11 + 2 = 13 -> reached, even though expansion has room
    d = decide(escalation + expansion[:2], replace(BPD, total_cap=13))
    assert d.kind is DecisionKind.CAP_REACHED
    assert "total cap of 13" in d.reason
    assert decide(escalation + expansion[:1], replace(BPD, total_cap=13)).allowed_levels == (2,)


def test_contradictory_or_misplaced_data_is_refused() -> None:
    with pytest.raises(DomainError) as caught:
        decide([EscalationPatient("a", 1, False, Y)], BPD)
    assert caught.value.field == "evaluable"
    with pytest.raises(DomainError):
        decide([EscalationPatient("a", 7, True, N)], BPD)
    with pytest.raises(DomainError):
        decide([EscalationPatient("a", 1, True, N), EscalationPatient("a", 1, True, N)], BPD)
    with pytest.raises(DomainError) as caught:
        decide(cohort(1, "nynnnnn"), BPD)  # a 7th evaluable patient at a level that is not the MTD
    assert "beyond the 6-patient cohort" in str(caught.value)


def test_design_caps_inconsistency_text() -> None:
    assert BPD.cap_inconsistency == "24 + 38 = 62 exceeds the total of 56"
    assert replace(BPD, total_cap=62).cap_inconsistency is None


def test_design_from_mapping() -> None:
    table: dict[str, object] = {
        "levels": [-1, 1, 2],
        "start_level": 1,
        "cohort_size": 3,
        "escalation_cap": 18,
        "expansion_cap": 20,
        "total_cap": 38,
    }
    design = EscalationDesign.from_mapping(table, "bpd.toml")
    assert design.levels == (-1, 1, 2) and design.total_cap == 38
    assert design.cohort_size == 3
    # No key has a default: each one left out is named, none is filled in.
    for key in table:
        partial = {k: v for k, v in table.items() if k != key}
        with pytest.raises(ProtocolError, match=f"x.toml: {key}: missing key"):
            EscalationDesign.from_mapping(partial, "x.toml")


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ({"levels": "1,2"}, "levels"),
        ({"levels": [1, True]}, "levels"),
        ({"start_level": 9}, "start_level"),
        ({"cohort_size": 0}, "cohort_size"),
        ({"total_cap": "56"}, "total_cap"),
        ({"total_cap": -1}, "total_cap"),
        ({"levels": [1, 1]}, "levels"),
        ({"cohort": 3}, "cohort"),
    ],
)
def test_design_from_mapping_refuses_bad_tables(table: dict[str, object], key: str) -> None:
    # bpd.toml's [escalation] with one key made wrong (or one unknown key added)
    whole: dict[str, object] = {
        "levels": [-1, 1, 2, 3, 4],
        "start_level": 1,
        "cohort_size": 3,
        "escalation_cap": 24,
        "expansion_cap": 38,
        "total_cap": 56,
    }
    assert EscalationDesign.from_mapping(whole, "bpd.toml") == BPD
    with pytest.raises(ProtocolError) as caught:
        EscalationDesign.from_mapping({**whole, **table}, "bpd.toml")
    assert caught.value.key == key
    assert caught.value.source == "bpd.toml"
