"""The protocol files load, and a malformed file is refused naming file, key and problem."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from clinic_app.core.errors import ProtocolError
from clinic_app.core.protocol import DoseBasis, OrganTest, PhaseEntry, Route
from clinic_app.core.protocol_loader import load_protocol, load_protocols, protocols_dir

DEXTR = protocols_dir() / "dextr.toml"
BPD = protocols_dir() / "bpd.toml"


def test_both_protocols_load_with_their_keys() -> None:
    protocols = load_protocols()
    assert set(protocols) == {"dextr", "bpd"}
    assert protocols["dextr"].caps.total == 45
    bpd = protocols["bpd"]
    assert (bpd.caps.escalation, bpd.caps.expansion, bpd.caps.total) == (24, 38, 56)


def test_bpd_cap_inconsistency_is_shown_not_hidden() -> None:
    bpd = load_protocol(BPD)
    assert bpd.caps.inconsistency is not None
    assert "62" in bpd.caps.inconsistency and "56" in bpd.caps.inconsistency
    assert any("Grade 3 or higher" in note for note in bpd.notes)
    assert load_protocol(DEXTR).caps.inconsistency is None


def test_bpd_dose_levels_match_the_seed_table() -> None:
    bpd = load_protocol(BPD)
    table = {lvl.level: dict(lvl.doses) for lvl in bpd.dose_levels}
    # Seed, "Dose Escalation": level: (bendamustine mg/m², pomalidomide mg, dexamethasone mg)
    expected = {
        -1: ("120", "2", "40"),
        1: ("120", "3", "40"),
        2: ("120", "4", "40"),
        3: ("150", "4", "40"),
        4: ("180", "4", "40"),
    }
    for level, (benda, poma, dex) in expected.items():
        assert table[level] == {
            "bendamustine": Decimal(benda),
            "pomalidomide": Decimal(poma),
            "dexamethasone": Decimal(dex),
        }
    assert bpd.start_level == 1
    assert bpd.drugs["bendamustine"].basis is DoseBasis.PER_M2
    assert bpd.drugs["bendamustine"].rounding_increment == Decimal(5)
    assert set(bpd.drugs["dexamethasone"].routes) == {Route.PO, Route.IV}


def test_dextr_structure() -> None:
    dextr = load_protocol(DEXTR)
    induction, maintenance = dextr.phases
    assert induction.entry is PhaseEntry.START and maintenance.entry is PhaseEntry.DECISION
    assert [g.key for g in dextr.gates] == ["consent", "rems_lenalidomide", "rems_thalidomide"]
    assert [e.key for e in dextr.eligibility] == ["prior_thalidomide", "prior_lenalidomide"]
    assert dextr.drugs["lenalidomide"].ladder == tuple(
        Decimal(x) for x in ("25", "20", "15", "10", "5", "2.5")
    )
    assert dextr.drugs["lenalidomide"].strengths == tuple(
        Decimal(x) for x in ("2.5", "5", "10", "15", "20", "25")
    )
    (renal,) = next(r.renal for r in maintenance.doses if r.drug == "lenalidomide")
    assert (renal.test, renal.limit, renal.max_dose) == (OrganTest.CRCL, Decimal(40), Decimal(15))


def _mutated(tmp_path: Path, source: Path, old: str, new: str) -> Path:
    text = source.read_text(encoding="utf-8")
    assert old in text, f"test setup: {old!r} not in {source.name}"
    path = tmp_path / source.name
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("source", "old", "new", "key", "problem"),
    [
        # a missing key
        (DEXTR, 'name = "DexTR"\n', "", "protocol.name", "missing key"),
        # a wrong type
        (
            DEXTR,
            "cycle_length_days = 28",
            'cycle_length_days = "28"',
            "protocol.cycle_length_days",
            "whole number",
        ),
        (
            DEXTR,
            'dose = "40"\n  days = "1-4, 9-12, 17-20"',
            'dose = 40.5\n  days = "1-4, 9-12, 17-20"',
            "phases[0].doses[0].dose",
            "string",
        ),
        # a day outside 1-28
        (
            DEXTR,
            'days = "1-21"',
            'days = "1-29"',
            "phases[0].doses[4].days",
            "day 29 is outside 1-28",
        ),
        (
            DEXTR,
            'days = "1-21"',
            'days = "0-21"',
            "phases[0].doses[4].days",
            "day 0 is outside 1-28",
        ),
        # two rules giving one drug twice on one day
        (
            DEXTR,
            'days = "8-28"\n  cycles = "1"',
            'days = "7-28"\n  cycles = "1"',
            "phases[0].doses",
            "two rules give thalidomide on day 7",
        ),
        # an unknown drug
        (
            DEXTR,
            'drug = "lenalidomide"\n  dose = "25"',
            'drug = "lenalidomid"\n  dose = "25"',
            "phases[0].doses[4].drug",
            "unknown drug 'lenalidomid'",
        ),
        # an unknown unit
        (DEXTR, 'unit = "10^9/L"', 'unit = "cells/mm3"', "conditions[0].unit", "unknown unit"),
        # an unknown route, form and entry
        (BPD, 'routes = ["IV"]', 'routes = ["IT"]', "drugs.bendamustine.routes", "unknown route"),
        (
            BPD,
            'form = "capsule"',
            'form = "sachet"',
            "drugs.pomalidomide.form",
            "unknown value 'sachet'",
        ),
        (DEXTR, 'entry = "decision"', 'entry = "whenever"', "phases[1].entry", "unknown value"),
        # a dose level that names no drug of the protocol, and level 0
        (
            BPD,
            "level = 2\nbendamustine",
            'level = 2\ncarfilzomib = "20"\nbendamustine',
            "dose_levels[2].carfilzomib",
            "unknown drug",
        ),
        (BPD, "level = 2\n", "level = 0\n", "dose_levels[2].level", "0 is not a level"),
        # a misspelt key is refused, not ignored
        (DEXTR, "first_cycle = 1", "frist_cycle = 1", "phases[0].frist_cycle", "unknown key"),
        # a negative dose
        (DEXTR, 'dose = "25"', 'dose = "-25"', "phases[0].doses[4].dose", "positive"),
        # the rules engines' tables are checked too, naming this file and the table's key
        (BPD, 'fever_celsius = "38.5"', 'fever_celsius = "hot"', "dlt.fever_celsius", ""),
        (BPD, "window_days = 28", "window_dayz = 28", "dlt.window_dayz", ""),
        (DEXTR, 'scheme = "response_gated"', 'scheme = "whenever"', "decisions.scheme", "whenever"),
        (DEXTR, 'tolerance_pct = "25"', "tolerance_pct = true", "plateau.tolerance_pct", ""),
        # a ladder in the wrong order
        (
            DEXTR,
            'ladder = ["100", "50"]',
            'ladder = ["50", "100"]',
            "drugs.thalidomide.ladder",
            "highest to lowest",
        ),
    ],
)
def test_malformed_file_is_refused_naming_file_key_and_problem(
    tmp_path: Path, source: Path, old: str, new: str, key: str, problem: str
) -> None:
    path = _mutated(tmp_path, source, old, new)
    with pytest.raises(ProtocolError) as caught:
        load_protocol(path)
    error = caught.value
    assert error.source == source.name
    assert error.key == key
    assert problem in error.problem
    assert str(error).startswith(f"{source.name}: {key}: ")


def test_rule_tables_are_typed() -> None:
    protocols = load_protocols()
    bpd, dextr = protocols["bpd"], protocols["dextr"]
    assert bpd.dlt_criteria is not None and bpd.dlt_criteria.fever_celsius == Decimal("38.5")
    assert bpd.dlt_criteria.marrow_involvement_pct_over == Decimal(30)
    assert dextr.dlt_criteria is None
    assert dextr.plateau is not None and dextr.plateau.tolerance_pct == Decimal(25)
    assert dextr.decision_params is not None and dextr.decision_params.first_decision_cycle == 4
    assert bpd.decision_params is not None and bpd.decision_params.after_cycle == 12
    assert bpd.escalation is not None and bpd.escalation.levels == (-1, 1, 2, 3, 4)
    assert (bpd.escalation.escalation_cap, bpd.escalation.total_cap) == (24, 56)
    assert dextr.escalation is None


def test_not_toml_at_all(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("[protocol\nkey = ", encoding="utf-8")
    with pytest.raises(ProtocolError, match=r"broken\.toml: \(file\): not valid TOML"):
        load_protocol(path)


def test_two_files_with_one_key_are_refused(tmp_path: Path) -> None:
    for name in ("a.toml", "b.toml"):
        (tmp_path / name).write_text(DEXTR.read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(ProtocolError, match="also used by another file"):
        load_protocols(tmp_path)
