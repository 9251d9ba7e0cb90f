"""The next-step proposal after a "not evaluable" end-of-cycle assessment never claims "no
progression": nothing was measured, so progression is not excluded (issue 13, rules §4)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from clinic_app.core.phase_decision import NextStep, propose_next_step
from clinic_app.core.protocol_loader import load_protocols
from clinic_app.core.records import ResponseAssessment
from clinic_app.core.response import Limit, LimitKind, ResponseCategory, classify_series

PROTOCOLS = load_protocols()


@pytest.mark.parametrize(
    ("protocol", "phase", "step"),
    [
        ("dextr", "induction", NextStep.CONTINUE),
        ("bpd", "treatment", NextStep.CONTINUE),
    ],
)
def test_not_evaluable_end_of_cycle_says_progression_is_not_excluded(
    protocol: str, phase: str, step: NextStep
) -> None:
    baseline = ResponseAssessment(date(2024, 1, 1), serum_m_protein_g_dl=Decimal(3))
    # cycle 1: 1.4 g/dL (53 % below: PR); cycle 2: only the marrow examined, nothing measured
    series = classify_series(
        baseline,
        [
            ResponseAssessment(
                date(2024, 1, 29), serum_m_protein_g_dl=Decimal("1.4"), end_of_cycle=1
            ),
            ResponseAssessment(
                date(2024, 2, 26), marrow_plasma_cells_pct=Decimal(2), end_of_cycle=2
            ),
        ],
    )
    assert series[-1].category is ResponseCategory.NE
    params = PROTOCOLS[protocol].decision_params
    assert params is not None
    proposal = propose_next_step(params, 2, phase, series)
    assert proposal.proposal is step
    text = " ".join(proposal.reasons)
    assert "No progression" not in text
    assert "Progression not excluded at the end of cycle 2" in text
    assert proposal.missing[0] == "PD not excluded: serum M-protein not measured"


def test_the_missing_progression_study_is_read_from_the_gap_kind_not_its_text() -> None:
    baseline = ResponseAssessment(date(2024, 1, 1), serum_m_protein_g_dl=Decimal(3))
    [measured] = classify_series(
        baseline,
        [
            ResponseAssessment(
                date(2024, 1, 29), serum_m_protein_g_dl=Decimal("1.4"), end_of_cycle=1
            )
        ],
    )
    # Worded differently from core.response's sentences: only the kind counts.
    gaps = (
        Limit(LimitKind.PROGRESSION_NOT_EXCLUDED, "urine M-protein not collected"),
        Limit(LimitKind.NOT_ASSESSABLE, "PD not excluded? (CR not read)", ResponseCategory.CR),
    )
    params = PROTOCOLS["bpd"].decision_params
    assert params is not None
    proposal = propose_next_step(params, 1, "treatment", [replace(measured, limits=gaps)])
    assert "urine M-protein not collected" in proposal.missing
    assert "PD not excluded? (CR not read)" not in proposal.missing
