"""End-of-cycle proposals for DexTR, BPD and a fixed-cycles third regimen (rules §1)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from clinic_app.core.errors import DomainError, ProtocolError
from clinic_app.core.phase_decision import (
    NextStep,
    OptionKind,
    PhaseDecisionParams,
    PhaseProposal,
    ProposalOption,
    propose_next_step,
)
from clinic_app.core.plateau import detect_plateau
from clinic_app.core.protocol import ProtocolOption
from clinic_app.core.records import Immunofixation, ResponseAssessment
from clinic_app.core.response import AssessedResponse, classify_series

D = Decimal
START = date(2024, 1, 2)
BASELINE = ResponseAssessment(START, serum_m_protein_g_dl=D(4))
NEG = Immunofixation.NEGATIVE
POS = Immunofixation.POSITIVE

# The numbers as dextr.toml and bpd.toml give them ([decisions], [[options]]).
DEXTR_DECISION = PhaseDecisionParams.from_mapping(
    {
        "scheme": "response_gated",
        "next_phase": "maintenance",
        "first_decision_cycle": 4,
        "plateau_min_cycles": 3,
        "transplant_option_on_plateau": True,
    },
    "dextr.toml",
)
DEXTR_PHASES = {"induction": "Induction", "maintenance": "Maintenance"}
BPD_DECISION = PhaseDecisionParams.from_mapping(
    {
        "scheme": "fixed_cycles",
        "next_phase": "maintenance",
        "after_cycle": 12,
        "confirmation_cycle_allowed": True,
    },
    "bpd.toml",
)
BPD_PHASES = {"treatment": "Treatment", "maintenance": "Maintenance"}
DEX_20 = ProtocolOption(
    "dexamethasone_20",
    "Dexamethasone 20 mg (investigator's decision, after 6 cycles)",
    "dexamethasone",
    D(20),
    from_cycle=7,
)
DEX_OFFER = ProposalOption(OptionKind.PROTOCOL, DEX_20.key, DEX_20.label)


def end_of(cycle: int, serum: Decimal | None, **values: object) -> ResponseAssessment:
    return ResponseAssessment(
        START + timedelta(days=28 * cycle),
        serum_m_protein_g_dl=serum,
        end_of_cycle=cycle,
        **values,  # type: ignore[arg-type]
    )


def classified(*assessments: ResponseAssessment) -> list[AssessedResponse]:
    return classify_series(BASELINE, list(assessments))


def dextr(cycle: int, series: list[AssessedResponse], phase: str = "induction") -> PhaseProposal:
    return propose_next_step(
        DEXTR_DECISION, cycle, phase, series, detect_plateau(series), phase_names=DEXTR_PHASES
    )


# --- DexTR -----------------------------------------------------------------------------------


def test_dextr_before_cycle_4_continues_induction_even_with_negative_ife() -> None:
    # cycle 3: serum 0 and negative serum IFE, but the decision starts at cycle 4
    series = classified(end_of(3, D(0), serum_ife=NEG))
    result = dextr(3, series)
    assert result.proposal is NextStep.CONTINUE
    assert (result.next_phase, result.title) == ("induction", "Continue induction")
    assert result.reasons[0].endswith(
        "decision starts at the end of cycle 4, so induction continues."
    )


def test_dextr_cycle_4_negative_serum_ife_means_maintenance_unconfirmed() -> None:
    series = classified(end_of(3, D(1), serum_ife=POS), end_of(4, D(0), serum_ife=NEG))
    result = dextr(4, series)
    assert result.proposal is NextStep.NEXT_PHASE
    assert "Serum immunofixation negative at the end of cycle 4" in result.reasons[0]
    assert "first negative result" in result.reasons[0]
    assert result.maintenance_dose_note is None


def test_dextr_negative_ife_twice_is_reported_as_confirmed() -> None:
    # end of cycle 4 = 2024-01-02 + 4 * 28 = 112 days = 2024-04-23 (2024 is a leap year)
    series = classified(end_of(4, D(0), serum_ife=NEG), end_of(5, D(0), serum_ife=NEG))
    result = dextr(5, series)
    assert result.proposal is NextStep.NEXT_PHASE
    assert "confirmed by the negative result of 2024-04-23" in result.reasons[0]


def test_dextr_plateau_of_3_assessments_means_maintenance() -> None:
    # 2, 2.2 (+10 %), 1.8 (-10 %) g/dL at the end of cycles 2-4: plateau for > 2 cycles
    series = classified(
        end_of(2, D(2), serum_ife=POS),
        end_of(3, D("2.2"), serum_ife=POS),
        end_of(4, D("1.8"), serum_ife=POS),
    )
    result = dextr(4, series)
    assert result.proposal is NextStep.NEXT_PHASE
    assert result.reasons[0].startswith("Plateau for more than 2 cycles from cycle 2")
    assert result.missing == ()


def test_dextr_plateau_of_only_2_assessments_continues_induction() -> None:
    series = classified(end_of(3, D(2), serum_ife=POS), end_of(4, D("2.2"), serum_ife=POS))
    result = dextr(4, series)
    assert result.proposal is NextStep.CONTINUE
    assert any("2 of the 3" in r for r in result.reasons)


def test_dextr_missing_immunofixation_is_listed() -> None:
    # 4 -> 3 -> 2 -> 1 g/dL: each step is -33 % or more, so no plateau; IFE not done
    series = classified(end_of(2, D(3)), end_of(3, D(2)), end_of(4, D(1)))
    result = dextr(4, series)
    assert result.proposal is NextStep.CONTINUE
    assert result.missing == (
        "serum immunofixation at the end of cycle 4 (a negative result would mean maintenance)",
    )


def test_dextr_unconfirmed_progression_proposes_off_study_and_says_so() -> None:
    # nadir 2 at cycle 3; 3 g/dL at cycle 4 is +1 g/dL = 50 % -> PD, first time
    series = classified(end_of(3, D(2)), end_of(4, D(3)))
    result = dextr(4, series)
    assert result.proposal is NextStep.OFF_STUDY
    assert result.next_phase is None
    assert result.progression_confirmed is False
    assert "not yet confirmed" in result.reasons[0]
    assert result.options == ()  # DexTR gives no confirmation cycle


def test_dextr_progression_before_cycle_4_is_off_study() -> None:
    # baseline 4 -> 5 g/dL at cycle 2: +1 g/dL = 25 % -> PD; then 5.2 again PD: confirmed
    series = classified(end_of(1, D(5)), end_of(2, D("5.2")))
    result = dextr(2, series)
    assert (result.proposal, result.progression_confirmed) == (NextStep.OFF_STUDY, True)
    assert "confirmed by the PD assessment of 2024-01-30" in result.reasons[0]


def test_an_unconfirmed_pd_followed_by_response_is_noted_not_acted_on() -> None:
    # cycle 1: 5 g/dL = +25 % and +1 g/dL from baseline 4 -> PD; cycle 2: 2 g/dL -> PR
    series = classified(end_of(1, D(5)), end_of(2, D(2)))
    result = dextr(2, series)
    assert result.proposal is NextStep.CONTINUE
    assert any("was not confirmed" in r for r in result.reasons)


def test_dextr_on_maintenance_with_plateau_offers_transplant() -> None:
    series = classified(end_of(5, D(2)), end_of(6, D(2)), end_of(7, D(2)))
    result = dextr(7, series, "maintenance")
    assert (result.proposal, result.next_phase) == (NextStep.CONTINUE, "maintenance")
    assert result.title == "Continue maintenance"
    [transplant] = result.options
    assert transplant.kind is OptionKind.TRANSPLANT
    assert "autologous stem cell transplant" in transplant.label


def test_dextr_missing_assessment_waits() -> None:
    series = classified(end_of(3, D(2)))
    result = dextr(4, series)
    assert result.proposal is NextStep.AWAIT_ASSESSMENT
    assert result.missing == ("response assessment at the end of cycle 4",)


def test_plateau_for_another_cycle_is_refused() -> None:
    series = classified(end_of(3, D(2)), end_of(4, D(2)))
    with pytest.raises(DomainError) as err:
        propose_next_step(
            DEXTR_DECISION,
            4,
            "induction",
            series,
            detect_plateau(series[:1]),
            phase_names=DEXTR_PHASES,
        )
    assert err.value.field == "plateau"


def test_wrong_phase_for_the_scheme_is_refused() -> None:
    with pytest.raises(DomainError) as err:
        propose_next_step(DEXTR_DECISION, 4, "treatment", [], phase_names=DEXTR_PHASES)
    assert err.value.field == "phase"


# --- BPD -------------------------------------------------------------------------------------


def bpd(
    cycle: int,
    series: list[AssessedResponse],
    phase: str = "treatment",
    *,
    elected: frozenset[str] = frozenset(),
) -> PhaseProposal:
    return propose_next_step(
        BPD_DECISION,
        cycle,
        phase,
        series,
        phase_names=BPD_PHASES,
        options=[DEX_20],
        elected=elected,
    )


@pytest.mark.parametrize(
    ("cycle", "has_dex_option"),
    [(5, False), (6, True), (7, True)],  # "After completing 6 cycles": from cycle 7
)
def test_bpd_dexamethasone_option_after_6_cycles(cycle: int, has_dex_option: bool) -> None:
    result = bpd(cycle, classified(end_of(cycle, D(2))))
    assert (result.proposal, result.title) == (NextStep.CONTINUE, "Continue treatment")
    assert (DEX_OFFER in result.options) is has_dex_option
    assert result.protocol_options() == ((DEX_OFFER,) if has_dex_option else ())


def test_bpd_dexamethasone_option_gone_once_taken() -> None:
    result = bpd(8, classified(end_of(8, D(2))), elected=frozenset({"dexamethasone_20"}))
    assert DEX_OFFER not in result.options


@pytest.mark.parametrize(
    ("cycle", "expected"),
    [(11, NextStep.CONTINUE), (12, NextStep.NEXT_PHASE)],  # "After completing 12 cycles"
)
def test_bpd_maintenance_after_12_cycles(cycle: int, expected: NextStep) -> None:
    result = bpd(cycle, classified(end_of(cycle, D(2))))
    assert result.proposal is expected
    labels = [o.label for o in result.options]
    assert ("maintenance from cycle 13" in labels) is (expected is NextStep.NEXT_PHASE)


def test_bpd_in_maintenance_stays_in_maintenance() -> None:
    result = bpd(14, classified(end_of(14, D(2))), "maintenance")
    assert (result.proposal, result.next_phase) == (NextStep.CONTINUE, "maintenance")


def test_bpd_unconfirmed_progression_offers_a_confirmation_cycle() -> None:
    # nadir 2 -> 2.5: +0.5 g/dL = 25 % -> PD, first time
    result = bpd(3, classified(end_of(2, D(2)), end_of(3, D("2.5"))))
    assert (result.proposal, result.progression_confirmed) == (NextStep.OFF_STUDY, False)
    assert [(o.kind, o.label) for o in result.options] == [
        (
            OptionKind.CONFIRMATION_CYCLE,
            "treat one more cycle to confirm progression (investigator decision)",
        )
    ]


def test_bpd_no_progression_at_25_pct_rise_under_half_a_gram() -> None:
    # nadir 1.96 -> 2.45: +0.49 g/dL = 25 % but under 0.5 g/dL -> not PD
    result = bpd(3, classified(end_of(2, D("1.96")), end_of(3, D("2.45"))))
    assert result.proposal is NextStep.CONTINUE


# --- a third regimen: 8 induction cycles, then maintenance, under its own phase keys -------


THIRD = PhaseDecisionParams.from_mapping(
    {"scheme": "fixed_cycles", "after_cycle": 8, "next_phase": "maint"}, "vrd.toml"
)
THIRD_PHASES = {"ind": "Induction", "maint": "Lenalidomide maintenance"}


@pytest.mark.parametrize(
    ("cycle", "step", "next_phase", "title"),
    [
        (7, NextStep.CONTINUE, "ind", "Continue induction"),
        (8, NextStep.NEXT_PHASE, "maint", "Lenalidomide maintenance"),
    ],
)
def test_a_fixed_cycles_regimen_moves_to_the_phase_its_file_names(
    cycle: int, step: NextStep, next_phase: str, title: str
) -> None:
    result = propose_next_step(
        THIRD, cycle, "ind", classified(end_of(cycle, D(2))), phase_names=THIRD_PHASES
    )
    assert (result.proposal, result.next_phase, result.title) == (step, next_phase, title)
    if step is NextStep.NEXT_PHASE:
        # 8 completed: the next phase from cycle 9, in the phase's own name
        assert result.reasons[0].endswith("lenalidomide maintenance from cycle 9.")
    # no confirmation cycle: the file did not allow one
    pd = propose_next_step(
        THIRD,
        3,
        "ind",
        classified(end_of(2, D(2)), end_of(3, D("2.5"))),
        phase_names=THIRD_PHASES,
    )
    assert (pd.proposal, pd.options) == (NextStep.OFF_STUDY, ())


# --- params from a protocol table ------------------------------------------------------------


def test_params_from_mapping() -> None:
    params = PhaseDecisionParams.from_mapping(
        {
            "scheme": "response_gated",
            "next_phase": "maintenance",
            "first_decision_cycle": 6,
            "plateau_min_cycles": 3,
        },
        "dextr.toml",
    )
    assert params.first_decision_cycle == 6
    series = classified(end_of(4, D(0), serum_ife=NEG))
    result = propose_next_step(params, 4, "induction", series, detect_plateau(series))
    assert result.proposal is NextStep.CONTINUE


FIXED = {"scheme": "fixed_cycles", "next_phase": "maintenance"}


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ({}, "scheme"),
        ({"scheme": "weekly"}, "scheme"),
        ({"scheme": "fixed_cycles", "after_cycle": 12}, "next_phase"),
        ({**FIXED, "next_phase": 3, "after_cycle": 12}, "next_phase"),
        (FIXED, "after_cycle"),  # no scheme borrows another protocol's numbers
        (
            {"scheme": "response_gated", "next_phase": "m", "plateau_min_cycles": 3},
            "first_decision_cycle",
        ),
        ({**FIXED, "after_cycle": 0}, "after_cycle"),
        ({**FIXED, "after_cycle": 12.5}, "after_cycle"),
        ({**FIXED, "after_cycle": 12, "first_decision_cycle": 4}, "first_decision_cycle"),
        ({**FIXED, "maintenance_after_cycle": 12}, "maintenance_after_cycle"),
        ({**FIXED, "dex_option_after_cycle": 6}, "dex_option_after_cycle"),
    ],
)
def test_params_from_mapping_rejects_bad_tables(table: dict[str, object], key: str) -> None:
    with pytest.raises(ProtocolError) as err:
        PhaseDecisionParams.from_mapping(table, "bpd.toml")
    assert (err.value.source, err.value.key) == ("bpd.toml", key)


def test_next_phase_must_be_a_phase_of_the_protocol() -> None:
    with pytest.raises(ProtocolError) as err:
        BPD_DECISION.check_phases(["treatment", "consolidation"], "bpd.toml")
    assert err.value.key == "next_phase"
    assert "'maintenance' is not a phase" in err.value.problem
