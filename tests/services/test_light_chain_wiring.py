"""The printed end-of-cycle response line reads the FLC ratio with the enrolled light chain."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from clinic_app.core.records import Enrolment, Immunofixation, ResponseAssessment
from clinic_app.services.documents import response_line

NEG = Immunofixation.NEGATIVE
START = date(2024, 1, 2)


def _series() -> list[ResponseAssessment]:
    baseline = ResponseAssessment(date(2024, 1, 1), serum_m_protein_g_dl=Decimal("3.0"))
    end_of_cycle_1 = ResponseAssessment(
        date(2024, 1, 29),
        serum_m_protein_g_dl=Decimal(0),
        urine_m_protein_mg_24h=Decimal(0),
        serum_ife=NEG,
        urine_ife=NEG,
        involved_flc_mg_l=Decimal("16.6"),
        uninvolved_flc_mg_l=Decimal(10),
        marrow_plasma_cells_pct=Decimal(1),
        clonal_marrow_cells=False,
        soft_tissue_plasmacytoma=False,
        end_of_cycle=1,
    )
    return [baseline, end_of_cycle_1]


@pytest.mark.parametrize(("chain", "expected"), [(None, "CR"), ("kappa", "CR"), ("lambda", "sCR")])
def test_response_line_uses_the_enrolled_light_chain(chain: str | None, expected: str) -> None:
    enrolment = Enrolment(1, "dextr", START, START, light_chain=chain)
    line = response_line(_series(), START, 1, [enrolment])
    # lambda: kappa/lambda = 10 / 16.6 = 0.60, in 0.26-1.65 -> sCR; kappa: 16.6 / 10 = 1.66,
    # above 1.65 -> CR; not known: normal only one way up -> CR (sCR not claimed).
    assert line.category == expected


def test_response_line_says_when_enrolments_disagree() -> None:
    both = [Enrolment(1, "dextr", START, START, light_chain=c) for c in ("kappa", "lambda")]
    line = response_line(_series(), START, 1, both)
    assert line.category is None
    assert "different involved light chains" in line.explanation
