"""Exact Clopper-Pearson intervals: hand values, scipy, and input checks."""

from __future__ import annotations

import math

import pytest

from clinic_app.core.binomial import (
    beta_quantile,
    clopper_pearson,
    regularized_incomplete_beta,
)
from clinic_app.core.errors import DomainError


def test_incomplete_beta_matches_hand_values() -> None:
    # Beta(1, 1) is uniform: I_x = x.
    assert regularized_incomplete_beta(1.0, 1.0, 0.3) == pytest.approx(0.3, abs=1e-14)
    # Beta(2, 3) at 0.5: sum_{j=2..4} C(4, j) / 16 = (6 + 4 + 1) / 16 = 0.6875.
    assert regularized_incomplete_beta(2.0, 3.0, 0.5) == pytest.approx(0.6875, abs=1e-13)
    # Beta(a, 1) is x^a: I_0.9(10, 1) = 0.9^10 = 0.3486784401.
    assert regularized_incomplete_beta(10.0, 1.0, 0.9) == pytest.approx(0.3486784401, abs=1e-12)
    # Edges.
    assert regularized_incomplete_beta(3.0, 4.0, 0.0) == 0.0
    assert regularized_incomplete_beta(3.0, 4.0, 1.0) == 1.0


def test_beta_quantile_inverts_the_distribution() -> None:
    x = beta_quantile(0.3, 4.0, 7.0)
    assert regularized_incomplete_beta(4.0, 7.0, x) == pytest.approx(0.3, abs=1e-10)


def test_zero_of_ten_by_hand() -> None:
    # x = 0: lower is 0; upper solves (1 - p)^10 = 0.025, p = 1 - 0.025^(1/10)
    # = 1 - exp(ln(0.025) / 10) = 1 - exp(-0.368888) = 1 - 0.691503 = 0.308497.
    ci = clopper_pearson(0, 10)
    assert ci.lower == 0.0
    assert ci.upper == pytest.approx(1 - 0.025 ** (1 / 10), abs=1e-10)
    assert round(ci.upper, 4) == 0.3085


def test_ten_of_ten_by_hand() -> None:
    # x = n: upper is 1; lower solves p^10 = 0.025, p = 0.025^(1/10) = 0.691503.
    ci = clopper_pearson(10, 10)
    assert ci.upper == 1.0
    assert ci.lower == pytest.approx(0.025 ** (1 / 10), abs=1e-10)
    assert round(ci.lower, 4) == 0.6915


def test_one_of_one_and_zero_of_one() -> None:
    # n = 1: 1/1 -> lower = 0.025^(1/1) = 0.025; 0/1 -> upper = 1 - 0.025 = 0.975.
    assert clopper_pearson(1, 1).lower == pytest.approx(0.025, abs=1e-10)
    assert clopper_pearson(0, 1).upper == pytest.approx(0.975, abs=1e-10)


def test_against_scipy_beta_ppf() -> None:
    stats = pytest.importorskip("scipy.stats")
    worst = 0.0
    for n in (1, 2, 3, 5, 6, 10, 17, 24, 38, 56):
        for x in range(n + 1):
            ci = clopper_pearson(x, n)
            lower = 0.0 if x == 0 else float(stats.beta.ppf(0.025, x, n - x + 1))
            upper = 1.0 if x == n else float(stats.beta.ppf(0.975, x + 1, n - x))
            worst = max(worst, abs(ci.lower - lower), abs(ci.upper - upper))
    assert worst < 1e-9


def test_other_confidence_level_against_scipy() -> None:
    stats = pytest.importorskip("scipy.stats")
    ci = clopper_pearson(7, 20, confidence=0.90)
    assert ci.lower == pytest.approx(float(stats.beta.ppf(0.05, 7, 14)), abs=1e-9)
    assert ci.upper == pytest.approx(float(stats.beta.ppf(0.95, 8, 13)), abs=1e-9)


def test_interval_contains_the_estimate_and_narrows_with_n() -> None:
    small = clopper_pearson(3, 10)
    large = clopper_pearson(30, 100)
    assert small.lower < 0.3 < small.upper
    assert large.upper - large.lower < small.upper - small.lower


def test_text_for_reports() -> None:
    # 3/10 = 30 %; CI from scipy: 0.0667395 -> 6.7 %, 0.6524529 -> 65.2 %.
    assert clopper_pearson(3, 10).text() == "3/10 (30 %; 95 % CI 6.7 to 65.2 %)"
    assert clopper_pearson(0, 10).text() == "0/10 (0 %; 95 % CI 0 to 30.8 %)"


@pytest.mark.parametrize(
    ("successes", "n", "field"),
    [(0, 0, "n"), (-1, 5, "successes"), (6, 5, "successes"), (True, 5, "n")],
)
def test_bad_counts_are_refused(successes: int, n: int, field: str) -> None:
    with pytest.raises(DomainError) as caught:
        clopper_pearson(successes, n)
    assert caught.value.field == field


def test_bad_confidence_is_refused() -> None:
    with pytest.raises(DomainError):
        clopper_pearson(1, 5, confidence=1.0)
    assert not math.isnan(clopper_pearson(1, 5, confidence=0.5).upper)
