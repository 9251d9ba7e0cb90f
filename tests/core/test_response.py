"""IMWG response classification (rules §4), checked against hand-computed examples."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clinic_app.core.errors import DomainError, MissingDataError, ProtocolError
from clinic_app.core.records import Enrolment, Immunofixation, ResponseAssessment
from clinic_app.core.response import (
    AssessedResponse,
    ImwgCriteria,
    LightChain,
    LimitKind,
    ResponseCategory,
    classify_series,
    light_chain_of,
)

D = Decimal
POS, NEG = Immunofixation.POSITIVE, Immunofixation.NEGATIVE
BASE_DAY = date(2024, 1, 2)


def at(week: int, **values: object) -> ResponseAssessment:
    return ResponseAssessment(BASE_DAY + timedelta(weeks=week), **values)  # type: ignore[arg-type]


def one(baseline: ResponseAssessment, later: ResponseAssessment) -> AssessedResponse:
    [result] = classify_series(baseline, [later])
    return result


SERUM_ONLY = at(0, serum_m_protein_g_dl=D(10))  # urine not measured at baseline
SERUM_AND_URINE = at(0, serum_m_protein_g_dl=D(10), urine_m_protein_mg_24h=D(3000))


# --- the category order --------------------------------------------------------------------


def test_categories_are_ordered_best_to_worst() -> None:
    order = [c.value for c in sorted(ResponseCategory, key=lambda c: c.rank)]
    # "not evaluable" is no category: it sorts after PD so no "at least" test counts it.
    assert order == ["sCR", "CR", "VGPR", "PR", "MR", "SD", "PD", "not evaluable"]
    assert ResponseCategory.CR.is_at_least(ResponseCategory.VGPR)
    assert not ResponseCategory.MR.is_at_least(ResponseCategory.PR)


def test_pr_or_better_and_sd_or_better() -> None:
    pr_or_better = {c for c in ResponseCategory if c.is_pr_or_better}
    sd_or_better = {c for c in ResponseCategory if c.is_sd_or_better}
    assert pr_or_better == {
        ResponseCategory.SCR,
        ResponseCategory.CR,
        ResponseCategory.VGPR,
        ResponseCategory.PR,
    }
    assert sd_or_better == set(ResponseCategory) - {ResponseCategory.PD, ResponseCategory.NE}


# --- PR / MR / VGPR serum boundaries (baseline 10 g/dL, urine not measured at baseline) --------


@pytest.mark.parametrize(
    ("serum", "expected"),
    [
        # (10 - 1) / 10 = 90 % -> VGPR needs urine < 100 mg/24 h, and urine is not applicable
        (D("1"), ResponseCategory.VGPR),
        # (10 - 1.01) / 10 = 89.9 % -> just under 90 %: PR
        (D("1.01"), ResponseCategory.PR),
        # (10 - 5) / 10 = 50 % exactly -> PR (IMWG >=)
        (D("5"), ResponseCategory.PR),
        # (10 - 5.01) / 10 = 49.9 % -> MR
        (D("5.01"), ResponseCategory.MR),
        # (10 - 7.5) / 10 = 25 % exactly -> MR
        (D("7.5"), ResponseCategory.MR),
        # (10 - 7.51) / 10 = 24.9 % -> SD
        (D("7.51"), ResponseCategory.SD),
    ],
)
def test_serum_reduction_boundaries(serum: Decimal, expected: ResponseCategory) -> None:
    result = one(SERUM_ONLY, at(4, serum_m_protein_g_dl=serum))
    assert result.category is expected
    assert any("urine" in n and "not applied" in n for n in result.notes)


def test_explanation_names_the_decisive_numbers() -> None:
    # (3.1 - 0.9) / 3.1 = 2.2 / 3.1 = 70.967... % -> shown truncated as 70.9 %
    result = one(at(0, serum_m_protein_g_dl=D("3.1")), at(4, serum_m_protein_g_dl=D("0.9")))
    assert result.category is ResponseCategory.PR
    assert result.explanation == "PR: serum M-protein 0.9 g/dL, 70.9 % below baseline 3.1 g/dL"
    assert result.serum_reduction_pct is not None
    assert D("70.96") < result.serum_reduction_pct < D("70.97")


def test_percent_just_below_a_threshold_is_never_printed_as_the_threshold() -> None:
    # (10 - 5.0004) / 10 = 49.996 % -> MR, and it must not read "50 %"
    result = one(SERUM_ONLY, at(4, serum_m_protein_g_dl=D("5.0004")))
    assert result.category is ResponseCategory.MR
    assert "49.9 % below" in result.explanation


# --- urine criteria (baseline serum 10 g/dL, urine 3,000 mg/24 h) -----------------------------


@pytest.mark.parametrize(
    ("urine", "expected"),
    [
        # (3000 - 300) / 3000 = 90 % -> urine part of PR met; serum 50 % -> PR
        (D("300"), ResponseCategory.PR),
        # (3000 - 301) / 3000 = 89.97 % and 301 >= 200 -> PR urine part fails; MR (>= 50 %)
        (D("301"), ResponseCategory.MR),
        # 199.9 < 200 mg/24 h -> PR by the absolute urine limit
        (D("199.9"), ResponseCategory.PR),
        # (3000 - 1500) / 3000 = 50 % -> MR's urine part met exactly
        (D("1500"), ResponseCategory.MR),
        # (3000 - 1501) / 3000 = 49.97 % -> MR fails on urine: SD
        (D("1501"), ResponseCategory.SD),
    ],
)
def test_urine_boundaries_with_serum_at_50_pct(urine: Decimal, expected: ResponseCategory) -> None:
    later = at(4, serum_m_protein_g_dl=D(5), urine_m_protein_mg_24h=urine)
    assert one(SERUM_AND_URINE, later).category is expected


@pytest.mark.parametrize(
    ("urine", "expected"),
    [
        # serum (10 - 1) / 10 = 90 %; urine 99.9 < 100 -> VGPR
        (D("99.9"), ResponseCategory.VGPR),
        # urine 100 is not < 100; (3000 - 100) / 3000 = 96.7 % >= 90 % -> PR
        (D("100"), ResponseCategory.PR),
    ],
)
def test_vgpr_needs_urine_under_100(urine: Decimal, expected: ResponseCategory) -> None:
    later = at(4, serum_m_protein_g_dl=D(1), urine_m_protein_mg_24h=urine)
    assert one(SERUM_AND_URINE, later).category is expected


def test_involved_urine_not_measured_caps_the_category_and_says_so() -> None:
    # serum (10 - 1) / 10 = 90 %, but urine was 3,000 mg/24 h at baseline and is missing now
    result = one(SERUM_AND_URINE, at(4, serum_m_protein_g_dl=D(1)))
    assert result.category is ResponseCategory.SD
    assert any(s.startswith("VGPR not assessable") and "urine" in s for s in result.limited_by)
    assert any(s.startswith("PR not assessable") for s in result.limited_by)
    assert any(s.startswith("PD not excluded") for s in result.limited_by)


def test_urine_only_disease_uses_urine_criteria() -> None:
    baseline = at(0, serum_m_protein_g_dl=D(0), urine_m_protein_mg_24h=D(1000))
    # (1000 - 100) / 1000 = 90 % -> PR
    assert one(baseline, at(4, urine_m_protein_mg_24h=D(100))).category is ResponseCategory.PR
    # 99 < 100 mg/24 h -> VGPR (serum not involved)
    result = one(baseline, at(4, urine_m_protein_mg_24h=D(99)))
    assert result.category is ResponseCategory.VGPR
    assert any("no serum M-protein at baseline" in n for n in result.notes)


def test_baseline_without_measurable_m_protein_is_refused() -> None:
    with pytest.raises(MissingDataError) as err:
        classify_series(at(0, urine_m_protein_mg_24h=D(0)), [at(4)])
    assert err.value.field == "serum_m_protein_g_dl"


# --- VGPR by immunofixation, CR and sCR ------------------------------------------------------


def test_vgpr_detectable_by_ife_only() -> None:
    later = at(4, serum_m_protein_g_dl=D(0), urine_m_protein_mg_24h=D(0), serum_ife=POS)
    result = one(SERUM_AND_URINE, later)
    assert result.category is ResponseCategory.VGPR


def test_cr_not_assessable_without_immunofixation() -> None:
    later = at(4, serum_m_protein_g_dl=D(0))
    result = one(SERUM_ONLY, later)
    # 100 % serum reduction -> VGPR is the best the data support
    assert result.category is ResponseCategory.VGPR
    cr = next(s for s in result.limited_by if s.startswith("CR not assessable"))
    assert "serum immunofixation not done" in cr
    assert "urine immunofixation not done" in cr
    # the capped categories as data: sCR and CR could not be read (VGPR was met)
    assert [limit.category for limit in result.limits_of(LimitKind.NOT_ASSESSABLE)] == [
        ResponseCategory.SCR,
        ResponseCategory.CR,
    ]


COMPLETE = {
    "serum_m_protein_g_dl": D(0),
    "urine_m_protein_mg_24h": D(0),
    "serum_ife": NEG,
    "urine_ife": NEG,
    "soft_tissue_plasmacytoma": False,
}


@pytest.mark.parametrize(
    ("marrow", "expected"),
    [(D("4.9"), ResponseCategory.CR), (D(5), ResponseCategory.VGPR)],  # CR needs < 5 %
)
def test_cr_marrow_boundary(marrow: Decimal, expected: ResponseCategory) -> None:
    result = one(SERUM_AND_URINE, at(4, marrow_plasma_cells_pct=marrow, **COMPLETE))
    assert result.category is expected


def test_cr_without_flc_or_clonality_is_capped_and_says_what_scr_needs() -> None:
    result = one(SERUM_AND_URINE, at(4, marrow_plasma_cells_pct=D(2), **COMPLETE))
    assert result.category is ResponseCategory.CR
    [scr] = [s for s in result.limited_by if s.startswith("sCR")]
    assert "free-light-chain ratio not measured" in scr
    assert "clonal marrow cells not assessed" in scr


@pytest.mark.parametrize(
    ("involved", "uninvolved", "chain", "expected"),
    [
        # kappa disease: ratio = 26 / 100 = 0.26 -> normal at the lower bound -> sCR
        (D(26), D(100), LightChain.KAPPA, ResponseCategory.SCR),
        # 25.9 / 100 = 0.259 -> below 0.26 -> CR
        (D("25.9"), D(100), LightChain.KAPPA, ResponseCategory.CR),
        # 16.5 / 10 = 1.65 -> normal at the upper bound
        (D("16.5"), D(10), LightChain.KAPPA, ResponseCategory.SCR),
        # 16.6 / 10 = 1.66 -> abnormal
        (D("16.6"), D(10), LightChain.KAPPA, ResponseCategory.CR),
        # lambda disease: kappa/lambda = uninvolved/involved = 10 / 16.6 = 0.602 -> normal
        (D("16.6"), D(10), LightChain.LAMBDA, ResponseCategory.SCR),
        # lambda: 26 / 100 = 0.26 -> normal at the lower bound (the same numbers as kappa
        # 26/100 above, but read the other way up)
        (D(100), D(26), LightChain.LAMBDA, ResponseCategory.SCR),
        # lambda: 25.9 / 100 = 0.259 -> below 0.26 -> CR (if kappa: 100/25.9 = 3.86, also out)
        (D(100), D("25.9"), LightChain.LAMBDA, ResponseCategory.CR),
        # kappa: 100 / 26 = 3.85 -> abnormal; the same pair read as lambda above is normal
        (D(100), D(26), LightChain.KAPPA, ResponseCategory.CR),
        # type unknown: 10/10 = 1 normal either way up -> sCR
        (D(10), D(10), None, ResponseCategory.SCR),
    ],
)
def test_scr_flc_ratio(
    involved: Decimal, uninvolved: Decimal, chain: LightChain | None, expected: ResponseCategory
) -> None:
    later = at(
        4,
        marrow_plasma_cells_pct=D(1),
        clonal_marrow_cells=False,
        involved_flc_mg_l=involved,
        uninvolved_flc_mg_l=uninvolved,
        **COMPLETE,
    )
    [result] = classify_series(SERUM_AND_URINE, [later], light_chain=chain)
    assert result.category is expected


def test_flc_ratio_ambiguous_without_light_chain_type() -> None:
    # 16.6/10 = 1.66 (abnormal if kappa) but 10/16.6 = 0.60 (normal if lambda): cannot tell
    later = at(
        4,
        marrow_plasma_cells_pct=D(1),
        clonal_marrow_cells=False,
        involved_flc_mg_l=D("16.6"),
        uninvolved_flc_mg_l=D(10),
        **COMPLETE,
    )
    result = one(SERUM_AND_URINE, later)
    assert result.category is ResponseCategory.CR
    assert any("light-chain type" in s for s in result.limited_by)


def test_persistent_plasmacytoma_caps_pr_because_its_size_is_not_recorded() -> None:
    baseline = at(0, serum_m_protein_g_dl=D(10), soft_tissue_plasmacytoma=True)
    result = one(baseline, at(4, serum_m_protein_g_dl=D(4), soft_tissue_plasmacytoma=True))
    # (10 - 4) / 10 = 60 % would be PR, and >= 25 % MR; IMWG 2016 (Kumar): both also need the
    # plasmacytoma smaller (>= 50 %, 25-49 %), which is not recorded: the data support SD only.
    assert result.category is ResponseCategory.SD
    # (VGPR is simply not met: 60 % < 90 %.)
    assert [s.split(":")[0] for s in result.limited_by if "plasmacytoma" in s] == [
        "PR not assessable",
        "MR not assessable",
    ]
    gone = one(baseline, at(4, serum_m_protein_g_dl=D(4), soft_tissue_plasmacytoma=False))
    assert gone.category is ResponseCategory.PR


PLASMACYTOMA_BASELINE = at(0, serum_m_protein_g_dl=D(10), soft_tissue_plasmacytoma=True)


@pytest.mark.parametrize(
    ("serum", "shrunk", "expected"),
    [
        # Older entries: only "shrunk by >= 50 %: yes/no" (no measurement).
        # (10 - 5) / 10 = 50 % -> PR serum criterion met exactly at the boundary; yes -> PR
        (D(5), True, ResponseCategory.PR),
        # "no" = less than 50 %: PR not met; MR needs 25-49 % and "< 50 %" may be under 25 %,
        # so MR cannot be decided either: SD, limited by the missing measurement
        (D(5), False, ResponseCategory.SD),
        (D(5), None, ResponseCategory.SD),  # not assessed: neither PR nor MR can be claimed
        # (10 - 5.1) / 10 = 49 % -> MR serum; "yes" (>= 50 %) is >= 25 %, so MR
        (D("5.1"), True, ResponseCategory.MR),
        # (10 - 1) / 10 = 90 % -> VGPR (serum-only baseline, so no urine limit) when shrunk
        (D(1), True, ResponseCategory.VGPR),
        # 90 % but plasmacytoma not shrunk by half: neither VGPR nor PR; MR undecidable -> SD
        (D(1), False, ResponseCategory.SD),
        # (10 - 7.5) / 10 = 25 % -> MR serum, plasmacytoma "< 50 %": MR undecidable -> SD
        (D("7.5"), False, ResponseCategory.SD),
        # (10 - 7.6) / 10 = 24 % -> SD
        (D("7.6"), True, ResponseCategory.SD),
    ],
)
def test_older_yes_no_shrinkage_decides_pr_but_not_mr(
    serum: Decimal, shrunk: bool | None, expected: ResponseCategory
) -> None:
    later = at(
        4,
        serum_m_protein_g_dl=serum,
        soft_tissue_plasmacytoma=True,
        plasmacytoma_shrunk_50pct=shrunk,
    )
    result = one(PLASMACYTOMA_BASELINE, later)
    assert result.category is expected
    unknown = [s for s in result.limited_by if "shrinkage is not recorded" in s]
    assert bool(unknown) is (shrunk is None and serum <= D("7.5"))
    only_yes_no = [s for s in result.limited_by if "recorded only as" in s]
    # MR (>= 25 % serum) is the category the "no" leaves undecided, and the sentence says so.
    assert bool(only_yes_no) is (shrunk is False and serum <= D("7.5"))
    if only_yes_no:
        assert only_yes_no[0].startswith("MR not assessable: ")
        assert "'shrunk by less than 50 %': enter the measured shrinkage" in only_yes_no[0]


@pytest.mark.parametrize(
    ("serum", "shrinkage", "expected"),
    [
        # IMWG 2016 (Kumar): PR needs the baseline plasmacytoma >= 50 % smaller (SPD),
        # MR 25-49 %. Serum (10 - 5) / 10 = 50 % meets PR's serum criterion throughout.
        (D(5), D(50), ResponseCategory.PR),  # 50 % smaller: PR, exactly at the boundary
        (D(5), D("49.9"), ResponseCategory.MR),  # 49.9 %: not PR; >= 25 %: MR
        (D(5), D(25), ResponseCategory.MR),  # 25 %: MR, exactly at its boundary
        (D(5), D("24.9"), ResponseCategory.SD),  # 24.9 %: neither
        (D(5), D(-20), ResponseCategory.SD),  # 20 % larger: neither (no PD rule here)
        # Serum (10 - 7) / 10 = 30 % is MR's serum range: MR needs 25-49 % of the plasmacytoma
        (D(7), D(30), ResponseCategory.MR),
        (D(7), D(80), ResponseCategory.MR),  # 80 % smaller is more than MR asks
        (D(7), D(10), ResponseCategory.SD),
        # Serum (10 - 1) / 10 = 90 %, plasmacytoma 60 % smaller -> VGPR
        (D(1), D(60), ResponseCategory.VGPR),
        (D(1), D(40), ResponseCategory.MR),  # serum VGPR but plasmacytoma only MR-sized
    ],
)
def test_measured_plasmacytoma_shrinkage_decides_pr_and_mr(
    serum: Decimal, shrinkage: Decimal, expected: ResponseCategory
) -> None:
    later = at(
        4,
        serum_m_protein_g_dl=serum,
        soft_tissue_plasmacytoma=True,
        plasmacytoma_shrinkage_pct=shrinkage,
    )
    result = one(PLASMACYTOMA_BASELINE, later)
    assert result.category is expected
    assert not [s for s in result.limited_by if "plasmacytoma" in s]


def test_measured_shrinkage_is_shown_truncated_not_rounded_up() -> None:
    # 49.96 % smaller is below 50 %: MR, and printed "49.9 %", never "50 %"
    later = at(
        4,
        serum_m_protein_g_dl=D(5),
        soft_tissue_plasmacytoma=True,
        plasmacytoma_shrinkage_pct=D("49.96"),
    )
    result = one(PLASMACYTOMA_BASELINE, later)
    assert result.category is ResponseCategory.MR
    assert "baseline soft-tissue plasmacytoma 49.9 % smaller" in result.explanation


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"plasmacytoma_shrinkage_pct": D("100.1")}, "plasmacytoma_shrinkage_pct"),
        # gone (absent) is 100 % smaller: 60 % contradicts it
        (
            {"soft_tissue_plasmacytoma": False, "plasmacytoma_shrinkage_pct": D(60)},
            "plasmacytoma_shrinkage_pct",
        ),
        # the older yes/no says >= 50 %, the measurement 40 %
        (
            {"plasmacytoma_shrunk_50pct": True, "plasmacytoma_shrinkage_pct": D(40)},
            "plasmacytoma_shrinkage_pct",
        ),
        (
            {"plasmacytoma_shrunk_50pct": False, "plasmacytoma_shrinkage_pct": D(50)},
            "plasmacytoma_shrinkage_pct",
        ),
    ],
)
def test_contradictory_plasmacytoma_shrinkage_is_refused(
    values: dict[str, object], field: str
) -> None:
    later = at(4, serum_m_protein_g_dl=D(5), **values)
    with pytest.raises(DomainError) as err:
        one(PLASMACYTOMA_BASELINE, later)
    assert err.value.field == field


def test_shrinkage_is_ignored_without_a_plasmacytoma_at_baseline() -> None:
    # (10 - 5) / 10 = 50 % -> PR; no plasmacytoma at baseline, so "not shrunk" does not apply
    baseline = at(0, serum_m_protein_g_dl=D(10), soft_tissue_plasmacytoma=False)
    later = at(4, serum_m_protein_g_dl=D(5), plasmacytoma_shrunk_50pct=False)
    assert one(baseline, later).category is ResponseCategory.PR


def test_plasmacytoma_gone_but_not_shrunk_is_refused() -> None:
    later = at(
        4,
        serum_m_protein_g_dl=D(5),
        soft_tissue_plasmacytoma=False,
        plasmacytoma_shrunk_50pct=False,
    )
    with pytest.raises(DomainError) as err:
        one(PLASMACYTOMA_BASELINE, later)
    assert err.value.field == "plasmacytoma_shrunk_50pct"


# --- progression -----------------------------------------------------------------------------


def pd_case(nadir: Decimal, now: Decimal) -> AssessedResponse:
    """Baseline 10 g/dL, nadir reached at week 4, the value under test at week 8."""
    results = classify_series(
        at(0, serum_m_protein_g_dl=D(10)),
        [at(4, serum_m_protein_g_dl=nadir), at(8, serum_m_protein_g_dl=now)],
    )
    return results[1]


@pytest.mark.parametrize(
    ("nadir", "now", "is_pd"),
    [
        # 2 -> 2.5: +0.5 g/dL = 25 % -> PD (both thresholds met exactly)
        (D(2), D("2.5"), True),
        # 1.96 -> 2.45: +0.49 g/dL = 25 % (0.49 / 1.96) but absolute < 0.5 -> not PD
        (D("1.96"), D("2.45"), False),
        # 4 -> 4.996: +0.996 g/dL = 24.9 % -> not PD
        (D(4), D("4.996"), False),
        # nadir 5 -> 6: +1 g/dL = 20 %; >= 1 g/dL from a nadir >= 5 suffices (IMWG) -> PD
        (D(5), D(6), True),
        # nadir 5 -> 5.99: +0.99 g/dL = 19.8 % -> not PD
        (D(5), D("5.99"), False),
        # nadir 4.99 -> 5.99: +1 g/dL but nadir < 5 and 1 / 4.99 = 20.04 % -> not PD
        (D("4.99"), D("5.99"), False),
    ],
)
def test_serum_progression_from_nadir(nadir: Decimal, now: Decimal, is_pd: bool) -> None:
    result = pd_case(nadir, now)
    assert (result.category is ResponseCategory.PD) is is_pd
    assert result.nadir.serum_m_protein_g_dl == nadir


def test_pd_explanation_and_nadir_date() -> None:
    result = pd_case(D(2), D("2.5"))
    assert (
        result.explanation == "PD: serum M-protein 2.5 g/dL, up 0.5 g/dL (25 %) from nadir 2 g/dL"
    )
    assert result.nadir.serum_on == BASE_DAY + timedelta(weeks=4)


def test_nadir_includes_the_baseline() -> None:
    # Baseline 2 g/dL is the lowest value; 2 -> 2.5 is +0.5 g/dL = 25 % -> PD at the 1st visit
    result = one(at(0, serum_m_protein_g_dl=D(2)), at(4, serum_m_protein_g_dl=D("2.5")))
    assert result.category is ResponseCategory.PD
    assert result.nadir.serum_on == BASE_DAY


@pytest.mark.parametrize(
    ("now", "is_pd"),
    [
        # nadir 800 -> 1000: +200 mg = 25 % -> PD
        (D(1000), True),
        # nadir 796 -> 995: +199 mg (25 %) -> absolute under 200: not PD
        (D(995), False),
    ],
)
def test_urine_progression(now: Decimal, is_pd: bool) -> None:
    baseline = at(0, serum_m_protein_g_dl=D(0), urine_m_protein_mg_24h=D(3000))
    nadir = D(800) if now == 1000 else D(796)
    results = classify_series(
        baseline, [at(4, urine_m_protein_mg_24h=nadir), at(8, urine_m_protein_mg_24h=now)]
    )
    assert (results[1].category is ResponseCategory.PD) is is_pd


def test_new_lesions_are_progression() -> None:
    result = one(SERUM_ONLY, at(4, serum_m_protein_g_dl=D(1), new_lesions=True))
    assert result.category is ResponseCategory.PD
    assert "new lesions" in result.explanation


# --- confirmation ----------------------------------------------------------------------------


def test_confirmation_needs_two_consecutive_assessments() -> None:
    results = classify_series(
        SERUM_ONLY,
        [
            at(4, serum_m_protein_g_dl=D(6)),  # (10 - 6) / 10 = 40 % -> MR, first: unconfirmed
            at(8, serum_m_protein_g_dl=D(4)),  # 60 % -> PR; MR before it is worse: unconfirmed
            at(12, serum_m_protein_g_dl=D("4.2")),  # 58 % -> PR after PR: confirmed
            at(16, serum_m_protein_g_dl=D("0.9")),  # 91 % -> VGPR after PR: unconfirmed
            # 87 % -> PR; +0.4 g/dL (44 %) from nadir 0.9 is under 0.5 g/dL, so not PD;
            # the VGPR before it is better: confirmed
            at(20, serum_m_protein_g_dl=D("1.3")),
        ],
    )
    assert [(r.category.value, r.confirmed) for r in results] == [
        ("MR", False),
        ("PR", False),
        ("PR", True),
        ("VGPR", False),
        ("PR", True),
    ]
    assert results[2].confirmed_with == BASE_DAY + timedelta(weeks=8)
    assert results[4].nadir.serum_m_protein_g_dl == D("0.9")


def test_pd_is_confirmed_only_by_a_second_pd() -> None:
    results = classify_series(
        at(0, serum_m_protein_g_dl=D(2)),
        [
            at(4, serum_m_protein_g_dl=D(3)),  # nadir 2 -> +1 g/dL = 50 %: PD, unconfirmed
            at(8, serum_m_protein_g_dl=D(3)),  # nadir still 2 -> PD again: confirmed
        ],
    )
    assert [(r.category.value, r.confirmed) for r in results] == [("PD", False), ("PD", True)]
    after_pd = classify_series(
        at(0, serum_m_protein_g_dl=D(2)),
        [at(4, serum_m_protein_g_dl=D(3)), at(8, serum_m_protein_g_dl=D("2.1"))],
    )
    # 2.1 after PD: SD, and a PD before it does not confirm SD
    assert [(r.category.value, r.confirmed) for r in after_pd] == [("PD", False), ("SD", False)]


def test_unevaluable_assessment_neither_confirms_nor_is_confirmed() -> None:
    results = classify_series(
        SERUM_ONLY,
        [at(4, serum_m_protein_g_dl=D(4)), at(8), at(12, serum_m_protein_g_dl=D(4))],
    )
    assert [(r.category.value, r.evaluable, r.confirmed) for r in results] == [
        ("PR", True, False),
        ("not evaluable", False, False),
        ("PR", True, False),
    ]
    assert results[1].explanation == "not evaluable: nothing measured"
    assert results[1].limited_by[0] == "not evaluable: serum M-protein not measured"


@pytest.mark.parametrize(
    ("values", "explanation"),
    [
        # no serum, no urine M-protein, no free light chains: nothing IMWG can read
        ({}, "not evaluable: nothing measured"),
        ({"marrow_plasma_cells_pct": D(3)}, "not evaluable: nothing measured"),
        # free light chains measured, but the involved serum M-protein not
        (
            {"involved_flc_mg_l": D(20), "uninvolved_flc_mg_l": D(10)},
            "not evaluable: no involved M-protein measured",
        ),
        # urine measured, but only the serum was involved at baseline
        ({"urine_m_protein_mg_24h": D(50)}, "not evaluable: no involved M-protein measured"),
    ],
)
def test_nothing_measured_is_not_evaluable_never_sd(
    values: dict[str, object], explanation: str
) -> None:
    result = one(SERUM_ONLY, at(4, **values))
    assert result.category is ResponseCategory.NE and result.category is not ResponseCategory.SD
    assert not result.evaluable and not result.category.is_sd_or_better
    assert result.explanation == explanation
    # why it is limited: the missing study by name, and that PD is not excluded
    assert result.limited_by == (
        "not evaluable: serum M-protein not measured",
        "PD not excluded: serum M-protein not measured",
    )
    # the kinds the rules decide on (core.phase_decision reads PROGRESSION_NOT_EXCLUDED)
    assert [limit.kind for limit in result.limits] == [
        LimitKind.NOT_EVALUABLE,
        LimitKind.PROGRESSION_NOT_EXCLUDED,
    ]


def test_new_lesions_with_nothing_measured_is_pd() -> None:
    result = one(SERUM_ONLY, at(4, new_lesions=True))
    assert result.category is ResponseCategory.PD and result.evaluable


# --- contradictory input ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("later", "field"),
    [
        (at(-1, serum_m_protein_g_dl=D(1)), "assessed_on"),
        (at(0, serum_m_protein_g_dl=D(1)), "assessed_on"),
        (at(4, serum_m_protein_g_dl=D("-0.1")), "serum_m_protein_g_dl"),
        (at(4, urine_m_protein_mg_24h=D(-1)), "urine_m_protein_mg_24h"),
        (at(4, marrow_plasma_cells_pct=D("100.1")), "marrow_plasma_cells_pct"),
        (at(4, uninvolved_flc_mg_l=D(0)), "uninvolved_flc_mg_l"),
        (at(4, serum_m_protein_g_dl=D("0.2"), serum_ife=NEG), "serum_ife"),
    ],
)
def test_contradictory_input_names_the_field(later: ResponseAssessment, field: str) -> None:
    with pytest.raises(DomainError) as err:
        classify_series(SERUM_ONLY, [later])
    assert err.value.field == field


def test_assessments_out_of_date_order_are_refused() -> None:
    with pytest.raises(DomainError) as err:
        classify_series(SERUM_ONLY, [at(8), at(4)])
    assert err.value.field == "assessed_on"


# --- criteria from a protocol table ----------------------------------------------------------


def test_criteria_from_mapping_changes_a_threshold() -> None:
    strict = ImwgCriteria.from_mapping({"pr_serum_reduction_pct": 60}, "dextr.toml")
    # (10 - 5) / 10 = 50 %: PR by default, MR when PR needs 60 %
    [result] = classify_series(SERUM_ONLY, [at(4, serum_m_protein_g_dl=D(5))], strict)
    assert result.category is ResponseCategory.MR
    assert ImwgCriteria.from_mapping({"flc_ratio_low": 0.26}, "x").flc_ratio_low == D("0.26")


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ({"pr_serum_pct": 50}, "pr_serum_pct"),
        ({"pr_serum_reduction_pct": "fifty"}, "pr_serum_reduction_pct"),
        ({"pr_serum_reduction_pct": True}, "pr_serum_reduction_pct"),
        ({"pr_serum_reduction_pct": 150}, "pr_serum_reduction_pct"),
        ({"flc_ratio_low": 2}, "flc_ratio_low"),
        ({"pd_serum_rise_g_dl": 0}, "pd_serum_rise_g_dl"),
    ],
)
def test_criteria_from_mapping_rejects_bad_values(table: dict[str, object], key: str) -> None:
    with pytest.raises(ProtocolError) as err:
        ImwgCriteria.from_mapping(table, "dextr.toml")
    assert (err.value.source, err.value.key) == ("dextr.toml", key)


# --- properties ------------------------------------------------------------------------------

values = st.decimals(min_value=0, max_value=20, places=2)


@settings(max_examples=60, deadline=None)
@given(base=values.filter(lambda v: v > 0), now=values, drop=values)
def test_a_lower_serum_value_never_gives_a_worse_category(
    base: Decimal, now: Decimal, drop: Decimal
) -> None:
    """Monotonicity at a first assessment (nadir = baseline): less M-protein is never worse."""
    baseline = at(0, serum_m_protein_g_dl=base)
    higher = one(baseline, at(4, serum_m_protein_g_dl=now))
    lower = one(baseline, at(4, serum_m_protein_g_dl=max(now - drop, D(0))))
    assert lower.category.is_at_least(higher.category)


def test_a_visible_spike_rules_out_cr_without_waiting_for_immunofixation() -> None:
    # serum 0.8 g/dL is still seen on electrophoresis: IFE cannot be negative, so CR is not
    # "not assessable" but simply not met; (10 - 0.8) / 10 = 92 % -> VGPR
    result = one(SERUM_ONLY, at(4, serum_m_protein_g_dl=D("0.8")))
    assert result.category is ResponseCategory.VGPR
    assert not any(s.startswith(("CR", "sCR")) for s in result.limited_by)


def _enrolled(chain: str | None) -> Enrolment:
    return Enrolment(1, "bpd", BASE_DAY, BASE_DAY, light_chain=chain)


def test_light_chain_of_enrolments() -> None:
    assert light_chain_of([]) is None
    assert light_chain_of([_enrolled(None)]) is None
    assert light_chain_of([_enrolled(None), _enrolled("kappa")]) is LightChain.KAPPA
    assert light_chain_of([_enrolled("lambda"), _enrolled("lambda")]) is LightChain.LAMBDA
    for bad in ([_enrolled("kappa"), _enrolled("lambda")], [_enrolled("Kappa")]):
        with pytest.raises(DomainError) as err:
            light_chain_of(bad)
        assert err.value.field == "light_chain"


def test_cr_read_from_immunofixation_alone_is_evaluable() -> None:
    # IMWG CR: negative serum and urine immunofixation, no soft-tissue plasmacytoma, marrow
    # plasma cells 2 % < 5 %. No electrophoresis figure was written down, but immunofixation
    # is the more sensitive test: CR, evaluable (so it can be confirmed), not "not evaluable".
    later = at(
        4,
        serum_ife=NEG,
        urine_ife=NEG,
        soft_tissue_plasmacytoma=False,
        marrow_plasma_cells_pct=D(2),
    )
    result = one(SERUM_ONLY, later)
    assert result.category is ResponseCategory.CR and result.evaluable
