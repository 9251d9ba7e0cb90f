"""DexTR plateau (rules §4): 3 consecutive end-of-cycle M-spikes within ±25 % of the first."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from clinic_app.core.errors import DomainError, ProtocolError
from clinic_app.core.plateau import PlateauCriteria, detect_plateau
from clinic_app.core.records import ResponseAssessment
from clinic_app.core.response import AssessedResponse, classify_series

D = Decimal
START = date(2024, 1, 2)
BASELINE = ResponseAssessment(START, serum_m_protein_g_dl=D(4))


def end_of(cycle: int, serum: Decimal | None, **values: object) -> ResponseAssessment:
    return ResponseAssessment(
        START + timedelta(days=28 * cycle),
        serum_m_protein_g_dl=serum,
        end_of_cycle=cycle,
        **values,  # type: ignore[arg-type]
    )


def series(*spikes: Decimal | None, first_cycle: int = 1) -> list[AssessedResponse]:
    return classify_series(BASELINE, [end_of(first_cycle + i, s) for i, s in enumerate(spikes)])


@pytest.mark.parametrize(
    ("third", "reached"),
    [
        # first 2 g/dL: 1.5 = 2 * 0.75 -> -25 % exactly: within
        (D("1.5"), True),
        # 1.498 / 2 = 0.749 -> -25.1 %: outside
        (D("1.498"), False),
    ],
)
def test_lower_boundary_exactly_25_pct_is_within(third: Decimal, reached: bool) -> None:
    result = detect_plateau(series(D(2), D(2), third))
    assert result.reached is reached


def test_upper_side_within() -> None:
    # first 2 g/dL: 2.2 (+10 %), 2.4 (+20 %) within; 2.4 is +0.4 g/dL from nadir 2: not PD
    assert detect_plateau(series(D(2), D("2.2"), D("2.4"))).reached


def test_upper_boundary_without_progression() -> None:
    # A high first value avoids PD: first 6 g/dL at cycle 1 after baseline 8 g/dL.
    baseline = ResponseAssessment(START, serum_m_protein_g_dl=D(8))
    # 7.5 = 6 * 1.25 -> +25 % exactly: within.  Rise from nadir 6 is 1.5 g/dL = 25 %, which
    # with an absolute >= 0.5 would be PD - so the first is also the nadir and the engine
    # must see PD and refuse the plateau.
    results = classify_series(baseline, [end_of(1, D(6)), end_of(2, D(6)), end_of(3, D("7.5"))])
    assert results[2].category.value == "PD"
    result = detect_plateau(results)
    assert not result.reached
    assert "progression" in result.reasons[0]


def test_upper_boundary_exactly_25_pct_is_within_when_not_progression() -> None:
    # A small M-spike, where +25 % stays under the 0.5 g/dL PD absolute: 1.6 -> 2 = +0.4 g/dL.
    # Categories against baseline 4: (4 - 1.6) / 4 = 60 %, (4 - 1.7) / 4 = 57.5 %,
    # (4 - 2) / 4 = 50 %: PR at all three.
    baseline = ResponseAssessment(START, serum_m_protein_g_dl=D(4))
    results = classify_series(baseline, [end_of(1, D("1.6")), end_of(2, D("1.7")), end_of(3, D(2))])
    # 2.0 = 1.6 * 1.25 -> +25 % exactly: within, not PD (0.4 < 0.5 g/dL)
    assert [r.category.value for r in results] == ["PR", "PR", "PR"]
    assert detect_plateau(results).reached
    over = classify_series(
        baseline, [end_of(1, D("1.6")), end_of(2, D("1.7")), end_of(3, D("2.002"))]
    )
    # 2.002 / 1.6 = 1.25125 -> +25.1 %: outside; the run restarts at cycle 2 (1.7 -> 2.002 is
    # +17.8 %), lasting 2 assessments, not enough
    result = detect_plateau(over)
    assert (result.reached, result.from_cycle, result.cycles_lasted) == (False, 2, 2)
    assert "cycle 3 M-spike 2.002 g/dL is 25.1 % above 1.6 g/dL at cycle 1" in result.reasons[1]


def test_plateau_reached_reports_start_length_and_numbers() -> None:
    result = detect_plateau(series(D(2), D("2.2"), D("1.8"), D("1.9")))
    # 2.2 = +10 %, 1.8 = -10 %, 1.9 = -5 % of 2 g/dL: all within; 4 assessments from cycle 1
    assert (result.reached, result.from_cycle, result.cycles_lasted) == (True, 1, 4)
    assert result.evaluated_through_cycle == 4
    assert result.first_m_spike_g_dl == D(2)
    assert result.reasons == (
        "serum M-spike 2, 2.2, 1.8, 1.9 g/dL at the end of cycles 1-4, all within ±25 % of "
        "2 g/dL (1.5-2.5 g/dL)",
    )


def test_two_assessments_are_not_yet_a_plateau() -> None:
    result = detect_plateau(series(D(2), D(2)))
    assert (result.reached, result.cycles_lasted) == (False, 2)
    assert "2 of the 3" in result.reasons[0]


def test_run_restarts_after_a_big_drop() -> None:
    # 3 -> 2 is -33.3 %: outside; from 2: 1.8 (-10 %), 1.6 (-20 %) within -> from cycle 2
    result = detect_plateau(series(D(3), D(2), D("1.8"), D("1.6")))
    assert (result.reached, result.from_cycle, result.cycles_lasted) == (True, 2, 3)
    assert "33.3 % below 3 g/dL at cycle 1" in result.reasons[1]


def test_missing_m_spike_breaks_the_run() -> None:
    result = detect_plateau(series(D(2), None, D(2), D(2)))
    assert (result.reached, result.from_cycle, result.cycles_lasted) == (False, 3, 2)
    assert "serum M-spike not measured at the end of cycle 2" in result.reasons[1]


def test_a_cycle_without_assessment_breaks_the_run() -> None:
    results = classify_series(BASELINE, [end_of(1, D(2)), end_of(3, D(2)), end_of(4, D(2))])
    result = detect_plateau(results)
    assert (result.reached, result.cycles_lasted) == (False, 2)
    assert "no end-of-cycle assessment for cycle 2" in result.reasons[1]


def test_interim_progression_breaks_the_run() -> None:
    interim = ResponseAssessment(START + timedelta(days=70), serum_m_protein_g_dl=D(3))
    results = classify_series(
        BASELINE, [end_of(1, D(2)), end_of(2, D(2)), interim, end_of(3, D(2))]
    )
    # interim 3 g/dL: +1 g/dL = 50 % from nadir 2 -> PD
    assert results[2].category.value == "PD"
    result = detect_plateau(results)
    assert (result.reached, result.from_cycle, result.cycles_lasted) == (False, 3, 1)


def test_empty_and_out_of_order() -> None:
    assert detect_plateau([]).reasons == ("no end-of-cycle response assessments",)
    results = classify_series(
        BASELINE,
        [end_of(2, D(2)), ResponseAssessment(START + timedelta(days=90), D(2), end_of_cycle=1)],
    )
    with pytest.raises(DomainError) as err:
        detect_plateau(results)
    assert err.value.field == "end_of_cycle"


def test_criteria_from_mapping() -> None:
    criteria = PlateauCriteria.from_mapping({"tolerance_pct": 10, "required": 4}, "dextr.toml")
    # 2.2 is +10 % of 2: within 10 %; but 4 assessments are required
    assert not criteria.detect(series(D(2), D("2.2"), D(2))).reached
    assert criteria.detect(series(D(2), D("2.2"), D(2), D("1.8"))).reached
    with pytest.raises(ProtocolError) as err:
        PlateauCriteria.from_mapping({"required": 1}, "dextr.toml")
    assert err.value.key == "required"
    with pytest.raises(ProtocolError):
        PlateauCriteria.from_mapping({"tolerance": 25}, "dextr.toml")


def test_a_value_just_beyond_the_tolerance_never_reads_as_at_it() -> None:
    # cycle 1 = 1 g/dL, cycle 2 = 1.2504: (1.2504 - 1) / 1 = 25.04 % > 25 %, so the run starts
    # at cycle 2 (1.2504, 1.2504, 1.2504). Shown rounded half-even that is "25 % above ...
    # (beyond ±25 %)"; rounded away from zero it is 25.1 %, beyond as the rule says.
    result = detect_plateau(series(D(1), D("1.2504"), D("1.2504"), D("1.2504")))
    assert result.reached and result.from_cycle == 2
    assert (
        "cycle 2 M-spike 1.2504 g/dL is 25.1 % above 1 g/dL at cycle 1 (beyond ±25 %)"
        in result.reasons
    )
