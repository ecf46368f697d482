"""stats.paired: every statistic against an independent computation (scipy's binomial test, statsmodels'
Holm, Cohen's power tables, a per-bin ECE loop)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from actbench.stats import paired as P


@pytest.mark.parametrize(("b", "c"), [(5, 0), (12, 3), (7, 7), (0, 9), (40, 25), (1, 2), (300, 250), (1, 0)])
def test_mcnemar_exact_is_the_binomial_test(b: int, c: int) -> None:
    expected = stats.binomtest(b, b + c, 0.5, alternative="two-sided").pvalue
    assert P.mcnemar_exact(b, c) == pytest.approx(expected, rel=1e-9, abs=1e-300)


def test_mcnemar_without_discordant_images_is_one() -> None:
    assert P.mcnemar_exact(0, 0) == 1.0


def test_mcnemar_seeds_sums_discordant_counts_over_pairs() -> None:
    rng = np.random.default_rng(3)
    pairs = [(rng.random(500) < 0.7, rng.random(500) < 0.6) for _ in range(3)]
    per = [
        (
            sum(1 for x, y in zip(a, b, strict=True) if x and not y),
            sum(1 for x, y in zip(a, b, strict=True) if y and not x),
        )
        for a, b in pairs
    ]
    got = P.mcnemar_seeds(pairs)
    big_b, big_c = sum(b for b, _ in per), sum(c for _, c in per)
    assert (got["b"], got["c"]) == (big_b, big_c)
    assert got["p"] == pytest.approx(stats.binomtest(big_b, big_b + big_c).pvalue, rel=1e-9)
    assert [(x["b"], x["c"]) for x in got["per_pair"]] == per


@pytest.mark.parametrize(
    ("effect", "paired", "n"),
    [
        (0.5, False, 64),  # Cohen (1988) Table 2.4.1: two-sample t, two-sided alpha .05, power .80
        (0.8, False, 26),
        (1.0, False, 17),
        (0.5, True, 34),  # paired (one-sample) t, d_z = 0.5 (G*Power; Cohen Table 2.4.1 via n = (n'+1)/2)
    ],
)
def test_seeds_needed_matches_tabulated_values(effect: float, paired: bool, n: int) -> None:
    assert P.seeds_needed(effect, 1.0, paired) == n
    assert P.seeds_needed(3 * effect, 3.0, paired) == n  # only the standardized effect matters
    assert P.seeds_needed(-effect, 1.0, paired) == n  # two-sided


def test_seeds_needed_approaches_the_normal_formula_and_edge_cases() -> None:
    z = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
    assert abs(P.seeds_needed(0.1, 1.0, False) - 2 * z**2 / 0.01) <= 3  # large n: t -> normal
    assert P.seeds_needed(0.0, 1.0, False) is None
    assert P.seeds_needed(1.0, 0.0, True) == 2
    assert P.seeds_needed(1.5, 1e-15, True) == 2  # rounding-level spread: scipy's tail is nan there
    assert P.seeds_needed(1e-4, 1.0, False) == P.MAX_SEEDS + 1  # beyond MAX_SEEDS


def test_ensemble_accuracy_averages_softmax_not_votes() -> None:
    m1 = np.array([[0.6, 0.4], [0.9, 0.1], [0.45, 0.55]], dtype=np.float16)
    m2 = np.array([[0.3, 0.7], [0.2, 0.8], [0.45, 0.55]], dtype=np.float16)
    labels = np.array([0, 0, 1])
    # mean: [0.45, 0.55] -> 1 (wrong), [0.55, 0.45] -> 0 (right), [0.45, 0.55] -> 1 (right)
    assert P.ensemble_accuracy([m1, m2], labels) == pytest.approx(200 / 3)
    assert P.ensemble_accuracy([m1], labels) == pytest.approx(100.0)  # members alone: 100% and 33%
    assert P.ensemble_accuracy([m2], labels) == pytest.approx(100 / 3)


def test_ece_hand_value_and_per_bin_loop() -> None:
    prob = np.array([[0.8, 0.2]] * 4)
    assert P.ece(prob, np.array([0, 0, 0, 1])) == pytest.approx(5.0)  # |0.75 - 0.8|
    rng = np.random.default_rng(2)
    prob = rng.dirichlet(np.full(10, 0.3), size=3000)
    labels = rng.integers(0, 10, size=3000)
    conf, pred = prob.max(1), prob.argmax(1)
    total = 0.0
    for b in range(15):
        inside = (conf > b / 15) & (conf <= (b + 1) / 15)
        if inside.any():
            total += inside.sum() / 3000 * abs((pred[inside] == labels[inside]).mean() - conf[inside].mean())
    assert P.ece(prob, labels) == pytest.approx(100 * total, rel=1e-5)


def _power_by_integration(effect: float, n: int, paired: bool, alpha: float) -> float:
    """Two-sided t-test power without the noncentral t: T = (Z + ncp) / sqrt(V / df), V ~ chi2(df),
    integrated over V (scipy.integrate.quad)."""
    from scipy import integrate

    df = n - 1 if paired else 2 * n - 2
    ncp = effect * np.sqrt(n if paired else n / 2)
    crit = stats.t.ppf(1 - alpha / 2, df)

    def f(v: float) -> float:
        s = np.sqrt(v / df)
        return stats.chi2.pdf(v, df) * (stats.norm.sf(crit * s - ncp) + stats.norm.cdf(-crit * s - ncp))

    return float(integrate.quad(f, 0, np.inf, limit=200)[0])


@pytest.mark.parametrize(
    ("effect", "n", "paired", "alpha"),
    [
        (3.05, 5, True, 0.0025),  # alpha 0.05/20: scipy's nct.cdf of the far tail is nan here
        (3.6, 4, True, 0.01),
        (8.0, 3, False, 0.0025),
        (0.8, 10, False, 0.05),
        (1.2, 5, True, 0.0125),
    ],
)
def test_t_power_matches_integration_where_the_far_tail_is_nan(
    effect: float, n: int, paired: bool, alpha: float
) -> None:
    # the far tail (the wrong sign) was nan in scipy and the whole power fell back to 0 or 1: 1.0 for a
    # true 0.59, so seeds_needed stopped a seed too early
    assert P.t_power(effect, n, paired, alpha) == pytest.approx(
        _power_by_integration(effect, n, paired, alpha), abs=1e-4
    )


def test_seeds_needed_at_a_small_family_level_is_not_cut_short() -> None:
    # effect 3.1, paired, alpha 0.05/20: power 0.61 with 5 pairs, 0.93 with 6
    assert _power_by_integration(3.1, 5, True, 0.0025) < P.POWER < _power_by_integration(3.1, 6, True, 0.0025)
    assert P.seeds_needed(3.1, 1.0, True, alpha=0.0025) == 6
