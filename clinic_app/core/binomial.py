"""Exact (Clopper-Pearson) confidence intervals for a proportion, in pure standard library.

The interval for ``x`` successes out of ``n`` is the pair of beta quantiles

- lower = Beta(alpha/2; x, n - x + 1), or 0 when x = 0
- upper = Beta(1 - alpha/2; x + 1, n - x), or 1 when x = n

(Clopper and Pearson, Biometrika 1934). The beta quantile is found by bisection on the
regularized incomplete beta function, which is evaluated by its continued fraction.

>>> ci = clopper_pearson(0, 10)
>>> round(ci.lower, 4), round(ci.upper, 4)
(0.0, 0.3085)
>>> clopper_pearson(3, 10).text()
'3/10 (30 %; 95 % CI 6.7 to 65.2 %)'
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from clinic_app.core.errors import DomainError
from clinic_app.core.ismp import format_number

_CF_EPSILON = 1e-15
_CF_TINY = 1e-300
_CF_MAX_TERMS = 10_000
_BISECTION_TOLERANCE = 1e-12


def regularized_incomplete_beta(a: float, b: float, x: float) -> float:
    """I_x(a, b), the beta distribution function with shape parameters ``a`` and ``b``.

    >>> regularized_incomplete_beta(1.0, 1.0, 0.25)  # Beta(1, 1) is uniform
    0.25
    >>> round(regularized_incomplete_beta(2.0, 3.0, 0.5), 10)  # 11/16 by hand
    0.6875
    """
    if a <= 0 or b <= 0:
        raise ValueError(f"beta shape parameters must be positive, got a={a}, b={b}")
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    front = math.exp(log_front)
    # The continued fraction converges fast for x below the mean; use the symmetry
    # I_x(a, b) = 1 - I_{1-x}(b, a) on the other side.
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _beta_continued_fraction(a, b, x) / a
    return 1.0 - front * _beta_continued_fraction(b, a, 1.0 - x) / b


def _beta_continued_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction for I_x(a, b), evaluated by the modified Lentz method."""
    c = 1.0
    d = 1.0 - (a + b) * x / (a + 1.0)
    if abs(d) < _CF_TINY:
        d = _CF_TINY
    d = 1.0 / d
    result = d
    for m in range(1, _CF_MAX_TERMS + 1):
        two_m = 2 * m
        # even step
        numerator = m * (b - m) * x / ((a + two_m - 1.0) * (a + two_m))
        d = 1.0 + numerator * d
        d = _CF_TINY if abs(d) < _CF_TINY else d
        c = 1.0 + numerator / c
        c = _CF_TINY if abs(c) < _CF_TINY else c
        d = 1.0 / d
        result *= d * c
        # odd step
        numerator = -(a + m) * (a + b + m) * x / ((a + two_m) * (a + two_m + 1.0))
        d = 1.0 + numerator * d
        d = _CF_TINY if abs(d) < _CF_TINY else d
        c = 1.0 + numerator / c
        c = _CF_TINY if abs(c) < _CF_TINY else c
        d = 1.0 / d
        delta = d * c
        result *= delta
        if abs(delta - 1.0) < _CF_EPSILON:
            return result
    raise ArithmeticError(f"incomplete beta did not converge for a={a}, b={b}, x={x}")


def beta_quantile(p: float, a: float, b: float) -> float:
    """The x in [0, 1] with I_x(a, b) = p, by bisection (to about 1e-12).

    >>> round(beta_quantile(0.5, 1.0, 1.0), 10)
    0.5
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"probability must be within [0, 1], got {p}")
    low, high = 0.0, 1.0
    while high - low > _BISECTION_TOLERANCE:
        mid = (low + high) / 2.0
        if regularized_incomplete_beta(a, b, mid) < p:
            low = mid
        else:
            high = mid
    return (low + high) / 2.0


@dataclass(frozen=True)
class ProportionCI:
    """``successes`` out of ``n`` with its exact two-sided confidence interval."""

    successes: int
    n: int
    lower: float
    upper: float
    confidence: float = 0.95

    @property
    def proportion(self) -> float:
        return self.successes / self.n

    def text(self) -> str:
        """``'x/n (p %; 95 % CI lo to hi %)'``, percentages to one decimal place."""
        level = format_number(_percent(self.confidence, 0))
        return (
            f"{self.successes}/{self.n} ({format_number(_percent(self.proportion, 1))} %; "
            f"{level} % CI {format_number(_percent(self.lower, 1))} to "
            f"{format_number(_percent(self.upper, 1))} %)"
        )


def _percent(fraction: float, places: int) -> Decimal:
    exponent = Decimal(1).scaleb(-places)
    return (Decimal(repr(fraction)) * 100).quantize(exponent, rounding=ROUND_HALF_EVEN)


def clopper_pearson(successes: int, n: int, confidence: float = 0.95) -> ProportionCI:
    """The exact (Clopper-Pearson) interval for ``successes`` out of ``n``.

    >>> ci = clopper_pearson(10, 10)
    >>> round(ci.lower, 4), ci.upper
    (0.6915, 1.0)
    """
    if isinstance(successes, bool) or isinstance(n, bool):
        raise DomainError("counts must be whole numbers, not yes/no values", field="n")
    if n <= 0:
        raise DomainError(f"a proportion needs at least one patient, got n={n}", field="n")
    if not 0 <= successes <= n:
        raise DomainError(
            f"successes must be between 0 and n={n}, got {successes}", field="successes"
        )
    if not 0.0 < confidence < 1.0:
        raise DomainError(
            f"confidence must be between 0 and 1, got {confidence}", field="confidence"
        )
    alpha = 1.0 - confidence
    lower = 0.0 if successes == 0 else beta_quantile(alpha / 2, successes, n - successes + 1)
    upper = 1.0 if successes == n else beta_quantile(1 - alpha / 2, successes + 1, n - successes)
    return ProportionCI(successes, n, lower, upper, confidence)
