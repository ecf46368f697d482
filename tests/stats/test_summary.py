"""stats.summary and the NaN guards of the stats functions: a non-finite number is refused with one
clear line (the report leaves such runs out before, as "no result"), never summarised into nan or a
library's AttributeError."""

from __future__ import annotations

import math

import pytest
from scipy import stats

from actbench.stats import decisions as D
from actbench.stats.summary import compare, describe


def test_describe_is_the_t_interval_of_the_mean() -> None:
    x = [71.2, 72.5, 70.9, 71.8]
    got = describe(x)
    lo, hi = stats.t.interval(0.95, 3, loc=sum(x) / 4, scale=stats.sem(x))
    assert got["n"] == 4 and got["ci_low"] == pytest.approx(lo) and got["ci_high"] == pytest.approx(hi)
    assert describe([70.0])["std"] is None and describe([])["mean"] is None


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_values_are_refused_in_one_line(bad: float) -> None:
    with pytest.raises(ValueError, match=r"^describe: 1 of 2 values not finite"):
        describe([bad, 71.0])  # was AttributeError: 'float' object has no attribute 'numerator'
    with pytest.raises(ValueError, match=r"^describe: 1 of 1 values not finite"):
        describe([bad])  # was a silent mean of nan
    with pytest.raises(ValueError, match=r"^decide: 1 of 6 values not finite"):
        D.decide([(0, bad), (1, 70.0), (2, 71.0)], [(0, 69.0), (1, 69.5), (2, 68.0)], 0)  # was "+nan points"
    with pytest.raises(ValueError, match=r"^compare: 1 of 4 values not finite"):
        compare([bad, 71.0], [70.0, 70.5])


def test_holm_refuses_a_p_value_that_is_not_one() -> None:
    with pytest.raises(ValueError, match=r"^holm: p-values must lie in \[0, 1\]"):
        D.holm([math.nan, 0.01])  # was [1.0, 1.0]: the nan sorted first and raised every other p to 1
    with pytest.raises(ValueError, match=r"^holm: p-values must lie in \[0, 1\]"):
        D.holm([1.5, 0.01])
