"""BPD cycle-1 DLT (rules §5, issue 13): G-CSF cover, near-misses, runs still going on day 28,
and severe skin reactions. Cycle 1 starts Monday 4 March 2024 (day d = 4 March + d - 1)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

from clinic_app.core.ae_terms import dlt_categories
from clinic_app.core.dlt import (
    NEAR_MISS_HEADING,
    UNDECIDED_HEADING,
    DltCriteria,
    DltProposal,
    DltRule,
)
from clinic_app.core.protocol_loader import load_protocols
from clinic_app.core.records import AdverseEvent, Attribution, GcsfDose
from tests.core.test_dlt import POSSIBLE, START, ae, day, inputs, lab, propose_dlt

# The BPD protocol file's criteria: gcsf_cover_days = 14 (one pegfilgrastim dose, two weeks).
BPD = load_protocols()["bpd"].dlt_criteria or DltCriteria()


def anc_run(
    days: tuple[int, ...],
    values: tuple[str, ...],
    gcsf: tuple[int, ...] = (),
    criteria: DltCriteria = BPD,
    **kw: Any,
) -> DltProposal:
    return propose_dlt(
        inputs(
            labs=tuple(lab("anc", d, v) for d, v in zip(days, values, strict=True)),
            gcsf_doses=tuple(GcsfDose(day(d)) for d in gcsf),
            **kw,
        ),
        criteria,
    )


def test_the_bpd_file_gives_the_gcsf_cover() -> None:
    assert BPD.gcsf_cover_days == 14


def test_pegfilgrastim_on_day_2_supports_a_run_from_day_8() -> None:
    # Dose on day 2 (5 March): cover days 2..15 (2 + 14 - 1 = 15, 18 March).
    # ANC < 0.5 on days 8, 12, 16 (then 1.8 on day 18): 16 - 8 = 8 days > 7, inside the cover
    # from its start -> "despite G-CSF support" fires, naming the dose and its date.
    p = anc_run((8, 12, 16, 18), ("0.4", "0.3", "0.45", "1.8"), gcsf=(2,))
    assert p.dlt is True
    (finding,) = p.fired
    assert finding.rule is DltRule.G4_NEUTROPENIA
    assert (
        "G-CSF dose given 2024-03-05 (cycle 1 day 2), before the run; its 14-day cover lasts "
        "to 2024-03-18"
    ) in finding.evidence


def test_gcsf_whose_cover_ended_before_the_run_is_a_near_miss() -> None:
    # Dose on day 2: cover to day 15 (18 March). Run on days 17, 21, 26: 26 - 17 = 9 days > 7,
    # count 2.0 on day 27. The cover ended 18 March, before the run began 20 March (day 17).
    p = anc_run((17, 21, 26, 27), ("0.4", "0.3", "0.2", "2.0"), gcsf=(2,))
    assert p.dlt is False
    assert p.fired == ()
    (miss,) = p.near_misses
    assert "no longer covered it" in miss.sentence
    assert any(
        "cover ended 2024-03-18, before the run began 2024-03-20" in e for e in miss.evidence
    )
    assert p.summary.startswith("Proposed DLT: no by the rules, but 1 finding came close")


def test_without_a_cover_setting_only_gcsf_during_the_run_counts() -> None:
    # Same as the day-2 pegfilgrastim case, criteria without gcsf_cover_days: day 2 is before
    # the run (days 8..16), so no support -> not fired, and for the investigator's judgement.
    no_cover = replace(BPD, gcsf_cover_days=None)
    p = anc_run((8, 12, 16, 18), ("0.4", "0.3", "0.45", "1.8"), gcsf=(2,), criteria=no_cover)
    assert p.dlt is False
    assert [m.rule for m in p.near_misses] == [DltRule.G4_NEUTROPENIA]


def test_g4_over_7_days_without_gcsf_is_listed_for_judgement() -> None:
    # Days 8..16 (8 days > 7) and no G-CSF at all.
    p = anc_run((8, 12, 16, 18), ("0.4", "0.3", "0.45", "1.8"))
    assert p.dlt is False
    lines = p.evidence_lines()
    at = lines.index(NEAR_MISS_HEADING)
    assert "no G-CSF is recorded in cycle 1" in lines[at + 1]
    assert "    evidence: ANC 0.4 ×10⁹/L on 2024-03-11" in lines[at + 2 :]
    assert p.summary != "Proposed DLT: no."


def test_a_short_run_between_counts_far_apart_may_have_lasted_longer() -> None:
    # ANC 2.0 on day 5, < 0.5 on days 8 and 12 (12 - 8 = 4 days, not > 7), next count 1.5 on
    # day 20: the counts around the run are 20 - 5 = 15 days apart, so it may have been longer.
    p = anc_run((5, 8, 12, 20), ("2.0", "0.4", "0.3", "1.5"), gcsf=(9,))
    assert p.dlt is False
    (miss,) = p.near_misses
    assert "counted 4 days" in miss.sentence and "15 days after" in miss.sentence
    # counts 2 days either side (day 6 normal, day 14 normal): 14 - 6 = 8 > 7 -> still close;
    # day 7 and day 13: 13 - 7 = 6 <= 7 -> it cannot have lasted more than 7 days: no item
    p = anc_run((7, 8, 12, 13), ("2.0", "0.4", "0.3", "1.5"), gcsf=(9,))
    assert p.near_misses == () and p.summary == "Proposed DLT: no."


def test_a_run_still_going_on_day_28_is_not_no() -> None:
    # < 0.5 on days 25 and 28 (3 days), nothing later, evaluated on day 30 (window closed).
    p = anc_run((25, 28), ("0.4", "0.3"), gcsf=(25,), assessed_on=day(30), c2d1_actual=None)
    assert p.dlt is None
    assert p.summary == (
        "Proposed DLT: not decided: G4 neutropenia still running at the end of cycle 1."
    )
    # day 31 shows recovery: 31 - 24 (day 24 normal) = 7, not more than 7 -> no
    p = anc_run(
        (24, 25, 28, 31),
        ("1.6", "0.4", "0.3", "1.6"),
        gcsf=(25,),
        assessed_on=day(31),
        c2d1_actual=day(31),
    )
    assert p.dlt is False
    assert all(m.rule is not DltRule.G4_NEUTROPENIA for m in p.near_misses)


def test_arterial_thrombosis_is_listed_for_judgement() -> None:
    p = propose_dlt(inputs(adverse_events=(ae("Myocardial infarction", 3, 10),)))
    assert p.dlt is False
    (miss,) = p.near_misses
    assert "thrombotic event other than venous thromboembolism" in miss.sentence
    assert miss.evidence == ("Myocardial infarction G3 from 2024-03-13",)
    assert NEAR_MISS_HEADING in p.evidence_lines()


def test_grade_3_with_missing_attribution_is_listed_undecided() -> None:
    event = ae("Fatigue", 3, 6, attribution={"pomalidomide": Attribution.UNLIKELY})
    p = propose_dlt(inputs(adverse_events=(event,)))
    assert p.dlt is None
    (miss,) = p.near_misses
    assert "Could not be decided: needs attribution of Fatigue" in miss.sentence
    lines = p.evidence_lines()
    # under its own heading: "Not a DLT by the rules" would contradict "cannot decide"
    assert lines[lines.index(UNDECIDED_HEADING) + 1].startswith("• Fatigue G3 from 2024-03-09")
    assert NEAR_MISS_HEADING not in lines


def test_grade_3_rash_resolving_in_time_is_not_a_near_miss() -> None:
    # G3 from day 5, G1 on day 12 (7 days, within 10): the protocol's exception, nothing close.
    rash = ae("Rash maculo-papular", 3, 5, grade_history=((day(12), 1),))
    p = propose_dlt(inputs(adverse_events=(rash,)))
    assert p.dlt is False and p.near_misses == () and p.summary == "Proposed DLT: no."


def test_stevens_johnson_is_not_excused_as_a_resolving_rash() -> None:
    # SJS G3 from day 5, G1 on day 12: as a "rash" it would be excused (back below G2 within
    # 10 days); it is a >= G3 non-haematological toxicity, possibly related -> DLT.
    for term in ("Stevens-Johnson syndrome", "Toxic epidermal necrolysis"):
        grade = 3 if term.startswith("Stevens") else 4
        event = AdverseEvent(
            term=term,
            grade=grade,
            onset=START + timedelta(days=4),
            attribution=POSSIBLE,
            grade_history=((day(12), 1),),
        )
        p = propose_dlt(inputs(adverse_events=(event,), ae_categories=dlt_categories()))
        assert p.dlt is True, term
        assert [f.rule for f in p.fired] == [DltRule.NONHAEM_GRADE_3]


def test_clean_cycle_says_no_alone() -> None:
    p = propose_dlt(inputs(labs=(lab("anc", 8, "1.2"), lab("anc", 15, "2.0"))))
    assert p.summary == "Proposed DLT: no." and p.near_misses == ()
    assert NEAR_MISS_HEADING not in p.evidence_lines()
    assert Decimal("1.2") > Decimal("0.5")


def test_an_exempt_patient_gets_no_near_miss_for_the_exempt_item() -> None:
    # Marrow plasma cells 40 % (> 30 %) and entry ANC 0.8 (< 1.0): G4 neutropenia is not
    # assessed (BPD exemption), so a short run between far-apart counts is not listed either.
    p = anc_run(
        (5, 8, 12, 20),
        ("2.0", "0.4", "0.3", "1.5"),
        gcsf=(9,),
        baseline_marrow_plasma_cells_pct=Decimal("40"),
        baseline_anc=lab("anc", 1, "0.8"),
    )
    assert all(m.rule is not DltRule.G4_NEUTROPENIA for m in p.near_misses)


def test_febrile_near_misses() -> None:
    from datetime import UTC, datetime

    from clinic_app.core.records import TemperatureReading

    def case(temp: str, when: datetime) -> DltProposal:
        return propose_dlt(
            inputs(
                labs=(lab("anc", 10, "0.9"),),  # ANC 0.9 < 1.0 on day 10 (13 March) 08:00
                temperatures=(TemperatureReading(when, Decimal(temp)),),
            )
        )

    # 38.4 °C 12 h later: below the protocol's 38.5 but >= 38.0 (CTCAE sustained fever) -> close
    p = case("38.4", datetime(2024, 3, 13, 20, 0, tzinfo=UTC))
    assert p.dlt is False
    (miss,) = p.near_misses
    assert miss.sentence.startswith("ANC < 1.0 ×10⁹/L with a temperature of 38.4 °C 12 h apart")
    assert miss.sentence.endswith("the rule needs ≥ 38.5 °C within 24 h.")
    # 38.6 °C 30 h later (> 24 h, <= 48 h) -> close; 37.9 °C 2 h later -> nothing
    assert case("38.6", datetime(2024, 3, 14, 14, 0, tzinfo=UTC)).near_misses != ()
    assert case("37.9", datetime(2024, 3, 13, 10, 0, tzinfo=UTC)).near_misses == ()
    # 38.6 °C 50 h later: not close
    assert case("38.6", datetime(2024, 3, 15, 10, 0, tzinfo=UTC)).near_misses == ()
