"""The protocol format's newer keys on the VRd fixture: dose tiers, cycle length per phase,
routes given in clinic, and [dlt] taking its drugs and cycle length from the file."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from clinic_app.core.dlt import DltInputs, propose_dlt
from clinic_app.core.dosing import body_surface_area
from clinic_app.core.errors import MissingDataError, ProtocolError
from clinic_app.core.plan import plan_cycle
from clinic_app.core.protocol import Protocol
from clinic_app.core.protocol_loader import load_protocol, protocols_dir

VRD = Path(__file__).parents[1] / "fixtures" / "protocols" / "vrd.toml"
BPD = protocols_dir() / "bpd.toml"
START = date(2026, 1, 5)
BSA = body_surface_area(Decimal(170), Decimal(72))  # sqrt(3.4) = 1.8439 -> 1.84 m²


def mutated(tmp_path: Path, source: Path, old: str, new: str) -> Protocol:
    text = source.read_text(encoding="utf-8")
    assert old in text, f"test setup: {old!r} not in {source.name}"
    path = tmp_path / source.name
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return load_protocol(path)


def lenalidomide_mg(protocol: Protocol, cycle: int, crcl: str) -> Decimal:
    plan = plan_cycle(protocol, cycle=cycle, start=START, bsa=BSA, crcl_ml_min=Decimal(crcl))
    (dose,) = {d.dose_mg for _, d in plan.doses() if d.drug == "lenalidomide"}
    return dose


@pytest.mark.parametrize(
    ("crcl", "mg"),
    [
        ("60", "25"),  # not below 60: the protocol dose
        ("59.99", "10"),  # below 60, not below 30: 10 mg
        ("30", "10"),
        ("29.96", "5"),  # below 30 (shown 29.9): the most severe tier, 5 mg
    ],
)
def test_the_worst_crcl_tier_applies(crcl: str, mg: str) -> None:
    assert lenalidomide_mg(load_protocol(VRD), 1, crcl) == Decimal(mg)


def test_a_missing_crcl_is_said_with_the_tiers_never_guessed() -> None:
    with pytest.raises(MissingDataError) as info:
        plan_cycle(load_protocol(VRD), cycle=1, start=START, bsa=BSA)
    assert info.value.field == "crcl_ml_min"
    assert "Lenalidomide in this phase depends on creatinine clearance" in info.value.message
    assert "below 30 mL/min the dose is 5 mg" in info.value.message


def test_maintenance_runs_28_days_induction_21() -> None:
    vrd = load_protocol(VRD)
    induction = plan_cycle(vrd, cycle=8, start=START, bsa=BSA, crcl_ml_min=Decimal(80))
    assert len(induction.days) == 21 and induction.end == date(2026, 1, 25)
    maintenance = plan_cycle(vrd, cycle=9, start=START, bsa=BSA, crcl_ml_min=Decimal(80))
    assert maintenance.phase == "maintenance" and len(maintenance.days) == 28
    assert maintenance.dosing_days("lenalidomide") == tuple(range(1, 22))
    assert maintenance.dosing_days("dexamethasone") == (1, 8, 15, 22)


def test_hepatic_tiers_by_bilirubin_times_uln(tmp_path: Path) -> None:
    # Bortezomib label: bilirubin > 1.5 x ULN -> 0.7 mg/m² in cycle 1.
    vrd = mutated(
        tmp_path,
        VRD,
        '  dose = "1.3"\n  days = "1, 4, 8, 11"\n',
        '  dose = "1.3"\n  days = "1, 4, 8, 11"\n'
        '  hepatic = [{ bilirubin_uln_above = "1.5", dose = "0.7" }]\n',
    )
    with pytest.raises(MissingDataError, match="depends on bilirubin"):
        plan_cycle(vrd, cycle=1, start=START, bsa=BSA, crcl_ml_min=Decimal(80))

    def bortezomib(bilirubin: str) -> Decimal:
        plan = plan_cycle(
            vrd,
            cycle=1,
            start=START,
            bsa=BSA,
            crcl_ml_min=Decimal(80),
            bilirubin_x_uln=Decimal(bilirubin),
        )
        return plan.days[0].doses[0].dose_mg

    assert bortezomib("1.5") == Decimal("2.4")  # not above 1.5: 1.3 x 1.84 = 2.392 -> 2.4
    assert bortezomib("1.6") == Decimal("1.3")  # 0.7 x 1.84 = 1.288 -> 1.3 mg


@pytest.mark.parametrize(
    ("old", "new", "key", "problem"),
    [
        ('routes = ["SC"]', 'routes = ["SQ"]', "drugs.bortezomib.routes", "unknown route 'SQ'"),
        (
            "given_in_clinic = true",
            'given_in_clinic = ["IV"]',
            "drugs.bortezomib.given_in_clinic",
            "IV is not one of the drug's routes",
        ),
        (
            '{ crcl_below = "30", dose = "5" }',
            '{ crcl_below = "30" }',
            "phases[0].doses[1].renal[1]",
            "give exactly one of dose and max_dose",
        ),
        (
            "cycle_length_days = 28",
            "cycle_length_days = 99",
            "phases[1].cycle_length_days",
            "99 is not a cycle length",
        ),
    ],
)
def test_format_mistakes_are_located(
    tmp_path: Path, old: str, new: str, key: str, problem: str
) -> None:
    with pytest.raises(ProtocolError) as info:
        mutated(tmp_path, VRD, old, new)
    assert (info.value.source, info.value.key) == ("vrd.toml", key)
    assert problem in info.value.problem


def test_dlt_needs_the_files_drugs_and_plans_cycle_2_from_the_cycle_length(
    tmp_path: Path,
) -> None:
    with pytest.raises(ProtocolError) as info:
        mutated(tmp_path, BPD, 'nonhaem_related_drugs = ["pomalidomide", "bendamustine"]\n', "")
    assert info.value.key == "dlt.nonhaem_related_drugs"
    # VRd with DLT rules: 21-day cycles, so the window is 21 days and cycle 2 day 1 is
    # planned on 2026-01-05 + 21 = 2026-01-26, not start + 28.
    dlt = (
        "[dlt]\n"
        'clauses = ["haem.febrile_neutropenia", "c2d1_delay_over_14_days"]\n'
        'nonhaem_related_drugs = ["bortezomib", "lenalidomide"]\n'
        'haem_related_drugs = ["bortezomib", "lenalidomide", "dexamethasone"]\n\n'
        "[decisions]"
    )
    vrd = mutated(tmp_path, VRD, "[decisions]", dlt)
    criteria = vrd.dlt_criteria
    assert criteria is not None
    assert (criteria.cycle1_length_days, criteria.window_days) == (21, 21)
    proposal = propose_dlt(DltInputs(cycle1_start=START, assessed_on=date(2026, 1, 20)), criteria)
    assert any("planned 2026-01-26" in line for line in proposal.pending), proposal.pending
    assert any("21-day DLT window runs to 2026-01-25" in line for line in proposal.pending)


def test_the_worked_example_in_the_docs_is_the_file_the_tests_load() -> None:
    docs = (Path(__file__).parents[2] / "docs" / "protocol-format.md").read_text(encoding="utf-8")
    example = docs.split("```toml\n", 1)[1].split("```", 1)[0]
    assert example == VRD.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ("total_cap = 56\n", "", "escalation.total_cap"),  # no BPD caps by default
        ("levels = [-1, 1, 2, 3, 4]", "levels = [1, 2, 3, 4]", "escalation.levels"),
    ],
)
def test_escalation_is_the_files_own_design(tmp_path: Path, old: str, new: str, key: str) -> None:
    with pytest.raises(ProtocolError) as info:
        mutated(tmp_path, BPD, old, new)
    assert info.value.key == key


def test_endpoint_definitions_come_from_the_file(tmp_path: Path) -> None:
    bpd = load_protocol(BPD)
    assert bpd.endpoints is not None
    assert (bpd.endpoints.efficacy_min_cycles, bpd.endpoints.initial_response_cycle) == (2, 2)
    assert load_protocol(VRD).endpoints is None  # no [endpoints]: none, not BPD's
    with pytest.raises(ProtocolError) as info:
        mutated(tmp_path, BPD, "initial_response_cycle = 2\n", "")
    assert info.value.key == "endpoints.initial_response_cycle"


def test_a_step_up_is_rules_with_cycle_ranges_and_days(tmp_path: Path) -> None:
    # As KRd's carfilzomib 20 then 27 mg/m²: here bortezomib 1 mg/m² on cycle 1 days 1 and 4,
    # then 1.3 mg/m².
    step_up = (
        '  dose = "1"\n  days = "1, 4"\n  cycles = "1"\n\n'
        '  [[phases.doses]]\n  drug = "bortezomib"\n  dose = "1.3"\n  days = "8, 11"\n'
        '  cycles = "1"\n\n'
        '  [[phases.doses]]\n  drug = "bortezomib"\n  dose = "1.3"\n  days = "1, 4, 8, 11"\n'
        '  cycles = "2-"\n'
    )
    vrd = mutated(tmp_path, VRD, '  dose = "1.3"\n  days = "1, 4, 8, 11"\n', step_up)

    def bortezomib(cycle: int) -> list[tuple[int, Decimal]]:
        plan = plan_cycle(vrd, cycle=cycle, start=START, bsa=BSA, crcl_ml_min=Decimal(80))
        return [(day.day, d.dose_mg) for day, d in plan.doses() if d.drug == "bortezomib"]

    # 1 x 1.84 = 1.84 -> 1.8 mg; 1.3 x 1.84 = 2.392 -> 2.4 mg
    one, two = Decimal("1.8"), Decimal("2.4")
    assert bortezomib(1) == [(1, one), (4, one), (8, two), (11, two)]
    assert bortezomib(2) == [(1, two), (4, two), (8, two), (11, two)]


def test_the_file_chooses_its_dlt_clauses(tmp_path: Path) -> None:
    # A grade 3 non-haematological AE related to bortezomib on cycle 1 day 3 is a DLT only
    # where the definition has the "any grade 3 or more" clause.
    from clinic_app.core.records import AdverseEvent, Attribution

    ae = AdverseEvent(
        "Fatigue", 3, date(2026, 1, 7), attribution={"bortezomib": Attribution.PROBABLE}
    )
    table = (
        "[dlt]\n"
        "clauses = [{}]\n"
        'nonhaem_related_drugs = ["bortezomib"]\n'
        'haem_related_drugs = ["bortezomib"]\n\n'
        "[decisions]"
    )
    inputs = DltInputs(
        cycle1_start=START,
        assessed_on=date(2026, 3, 1),
        c2d1_actual=date(2026, 1, 26),
        adverse_events=(ae,),
        ae_categories={"Fatigue": "non_haematological"},
    )
    wide = mutated(
        tmp_path, VRD, "[decisions]", table.replace("{}", '"nonhaem.any_grade_3_or_more"')
    )
    assert wide.dlt_criteria is not None
    assert propose_dlt(inputs, wide.dlt_criteria).dlt is True
    narrow = mutated(
        tmp_path, VRD, "[decisions]", table.replace("{}", '"haem.febrile_neutropenia"')
    )
    assert narrow.dlt_criteria is not None
    proposal = propose_dlt(inputs, narrow.dlt_criteria)
    assert proposal.dlt is False and not proposal.fired
    with pytest.raises(ProtocolError) as info:
        mutated(tmp_path, VRD, "[decisions]", table.replace("{}", '"nonhaem.grade_2"'))
    assert info.value.key == "dlt.clauses"
    assert "unknown DLT clause 'nonhaem.grade_2'" in str(info.value)
    with pytest.raises(ProtocolError) as info:  # the file must say which clauses it has
        mutated(tmp_path, VRD, "[decisions]", table.replace("clauses = [{}]\n", ""))
    assert info.value.key == "dlt.clauses"
