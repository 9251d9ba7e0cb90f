"""How dose numbers are compared and written (issue 13; rules §2 and §8).

- A threshold compares the exact value, never the rounded figure on the screen, and the figure
  on the screen is never on the other side of the threshold from the value it shows.
- The CrCl basis line shows the creatinine as it was entered (value and unit).
- Every dose in a sentence carries its unit (mg, or mg/m² for a body-surface-area drug).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from clinic_app.core.dlt import Cycle1DoseReduction, DltCriteria, DltInputs, DltProposal
from clinic_app.core.dlt import propose_dlt as propose_with
from clinic_app.core.dosing import (
    cockcroft_gault,
    format_crcl,
    format_dose_change,
    round_bsa_dose,
    step_down,
    weight_change,
)
from clinic_app.core.errors import DomainError
from clinic_app.core.plan import plan_cycle
from clinic_app.core.protocol_loader import load_protocols
from clinic_app.core.records import DoseModification, Sex


def propose_dlt(inputs: DltInputs, criteria: DltCriteria | None = None) -> DltProposal:
    """BPD's DLT rules as bpd.toml gives them, unless the test passes its own."""
    bpd = load_protocols()["bpd"].dlt_criteria
    assert bpd is not None
    return propose_with(inputs, criteria or bpd)


D = Decimal
PROTOCOLS = load_protocols()


# --- CrCl: exact for the rule, never rounded across it on the screen --------------------------


def test_crcl_just_under_40_is_under_40() -> None:
    # (140 - 68) * 39.96 / (72 * 1) = 72 * 39.96 / 72 = 39.96 mL/min exactly: below 40.
    crcl = cockcroft_gault(68, D("39.96"), D(1), Sex.MALE)
    assert crcl.ml_min == D("39.96") and crcl.ml_min < 40
    # Shown to one decimal without rounding up: 39.9, not "40" next to a "< 40" rule.
    assert crcl.shown_ml_min == D("39.9")
    assert crcl.describe().startswith("CrCl 39.9 mL/min (Cockcroft-Gault: age 68")
    assert format_crcl(crcl.ml_min) == "39.9 mL/min"


def test_dextr_maintenance_caps_lenalidomide_at_an_exact_crcl_of_39_96() -> None:
    # DexTR maintenance: lenalidomide at most 15 mg below CrCl 40 mL/min (protocol renal cap).
    # 39.96 < 40 -> min(15, 25) = 15 mg. (Rounded half up to 40.0 it would have been 25 mg.)
    crcl = cockcroft_gault(68, D("39.96"), D(1), Sex.MALE)
    plan = plan_cycle(
        PROTOCOLS["dextr"], cycle=5, phase="maintenance", start=date(2025, 6, 30),
        crcl_ml_min=crcl.ml_min,
    )  # fmt: skip
    day1 = {d.drug: d for d in plan.days[0].doses}
    assert day1["lenalidomide"].dose_mg == D(15)
    [note] = [n for n in plan.dose_notes if n.drug == "lenalidomide"]
    # the reason shows the figure as the screen does, with its unit, not 28 digits
    assert "CrCl 39.9 mL/min < 40 mL/min: at most 15 mg" in note.reasons


def test_crcl_basis_line_shows_the_creatinine_as_entered() -> None:
    # 106 µmol/L / 88.4 = 1.199095... mg/dL: the line shows 106 µmol/L as typed.
    # (140 - 70) * 60 / (72 * 106 / 88.4) = 4200 * 88.4 / 7632 = 48.647... -> shown 48.6
    crcl = cockcroft_gault(70, D(60), D(106), Sex.MALE, "umol/L", date(2026, 2, 3))
    text = crcl.describe()
    assert text == (
        "CrCl 48.6 mL/min (Cockcroft-Gault: age 70, weight 60 kg, creatinine 106 µmol/L, "
        "male on 2026-02-03)"
    )
    assert "1.199" not in text
    # mg/dL as entered, trailing zero dropped (ISMP): 1.20 mg/dL -> "1.2 mg/dL"
    assert "creatinine 1.2 mg/dL" in cockcroft_gault(70, D(60), D("1.20"), Sex.MALE).describe()
    # a creatinine of 1,000 µmol/L or more is written with the thousands separator (ISMP)
    high = cockcroft_gault(70, D(60), D(1060), Sex.MALE, "umol/L")
    assert "creatinine 1,060 µmol/L" in high.describe()


# --- other displayed percentages next to a threshold ------------------------------------------


def test_weight_change_just_under_ten_percent_is_not_shown_as_ten() -> None:
    # (80 - 72.04) / 80 = 9.95 % down: under the 10 % that asks for a new BSA.
    change = weight_change(D(80), D("72.04"), D(10))
    assert not change.needs_recalculation
    # half up it would read "10 % down" without the flag; truncated it reads 9.9 %
    assert change.describe() == "Weight 72.04 kg is 9.9 % down from 80 kg behind the last BSA."


def test_a_refused_rounding_never_reads_as_allowed() -> None:
    # 100 mg/m² x 1 m² = 100 mg; increment 110.04 -> 110.04 mg: +10.04 % > 10 %: refused.
    # Rounded half up the message would say "10 %, more than the 10 % allowed".
    with pytest.raises(DomainError) as refused:
        round_bsa_dose(D(100), D(1), D("110.04"), D(10))
    assert "changes the dose by 10.1 %, more than the 10 % allowed" in refused.value.message


# --- every dose carries its unit --------------------------------------------------------------


def test_dose_change_sentence_has_the_unit_on_both_doses() -> None:
    assert format_dose_change("pomalidomide", D(3), D(2), "mg") == "pomalidomide 3 mg → 2 mg"
    assert (
        format_dose_change("bendamustine", D(90), D("70.0"), "mg/m²")
        == "bendamustine 90 mg/m² → 70 mg/m²"
    )


def test_ladder_refusal_names_the_unit() -> None:
    with pytest.raises(DomainError) as refused:
        step_down([D(90), D(70)], D(70), unit="mg/m²")
    assert refused.value.message == (
        "70 mg/m² is already at or below the lowest step of the reduction ladder."
    )


def _reduction(drug: str, old: str, new: str) -> DoseModification:
    return DoseModification(
        drug, D(old), D(new), "neutropenia G4", 1, "Dr Okafor", date(2026, 1, 20), 15
    )


@pytest.mark.parametrize(
    ("drug", "old", "new", "unit", "evidence"),
    [
        ("pomalidomide", "3", "2", "mg", "pomalidomide 3 mg → 2 mg"),
        ("bendamustine", "90", "70", "mg/m²", "bendamustine 90 mg/m² → 70 mg/m²"),
        # a caller that did not say the unit: it is said to be unknown, never guessed
        ("bendamustine", "90", "70", None, "bendamustine 90 → 70 (unit not given)"),
    ],
)
def test_dlt_dose_reduction_evidence_has_units(
    drug: str, old: str, new: str, unit: str | None, evidence: str
) -> None:
    reduction = Cycle1DoseReduction(_reduction(drug, old, new), True, unit=unit)
    proposal = propose_dlt(
        DltInputs(
            cycle1_start=date(2026, 1, 5),
            assessed_on=date(2026, 2, 2),
            dose_reductions=(reduction,),
        )
    )
    lines = [line for f in proposal.fired for line in f.evidence]
    assert any(line.startswith(evidence + " decided 2026-01-20") for line in lines), lines
