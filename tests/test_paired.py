"""actbench.paired: every statistic against an independent computation made here (scipy's binomial test,
hand-computed Holm, Cohen's power tables, a naive bootstrap loop, a per-bin ECE loop, Welch's t-test)."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest
from scipy import stats

from actbench import paired as P


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


def test_holm_against_hand_computation() -> None:
    # sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> monotone 0.06
    assert P.holm([0.01, 0.04, 0.03, None, 0.005]) == pytest.approx([0.03, 0.06, 0.06, None, 0.02])
    assert P.holm([0.5, 0.6]) == [1.0, 1.0]  # capped at 1, and never below an earlier one
    assert P.holm([0.2]) == [0.2]
    assert P.holm([None, None]) == [None, None]


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


def test_seed_spread_paired_and_pooled() -> None:
    a, b = [70.0, 72.0, 75.0], [69.0, 70.5, 73.0]
    assert P.seed_spread(a, b, True) == pytest.approx(statistics.stdev([1.0, 1.5, 2.0]))
    pooled = math.sqrt((2 * statistics.variance(a) + 2 * statistics.variance(b)) / 4)
    assert P.seed_spread(a, b, False) == pytest.approx(pooled)
    assert P.seed_spread([1.0], [2.0], True) is None


def test_welch_ci_ends_where_welch_p_is_five_percent() -> None:
    a, b = [70.0, 72.0, 75.0, 71.0], [65.0, 69.0, 66.0]
    low, high = P.welch_ci(a, b)
    for shift in (low, high):  # moving the difference to a CI end makes it just significant
        p = stats.ttest_ind([x - shift for x in a], b, equal_var=False).pvalue
        assert p == pytest.approx(0.05, rel=1e-6)
    assert P.welch_ci([1.0], b) is None


def _naive_bootstrap(d: np.ndarray, n_boot: int, seed: int, chunk: int) -> tuple[float, float]:
    """The same random draws as paired.paired_bootstrap, averaged image by image in plain loops."""
    rng = np.random.default_rng(seed)
    k, n = d.shape
    reps = []
    for start in range(0, n_boot, chunk):
        m = min(chunk, n_boot - start)
        seeds, images = rng.integers(0, k, size=(m, k)), rng.integers(0, n, size=(m, n))
        for r in range(m):
            reps.append(statistics.fmean(float(d[s, images[r]].mean()) for s in seeds[r]))
    low, high = np.percentile(100 * np.array(reps), [2.5, 97.5])
    return float(low), float(high)


def test_bootstrap_matches_a_naive_loop_and_is_deterministic(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    d = (rng.random((3, 300)) < 0.2).astype(np.int8) - (rng.random((3, 300)) < 0.1).astype(np.int8)
    monkeypatch.setattr(P, "CHUNK", 7)
    got = P.paired_bootstrap(d, 40, seed=5)
    assert (got["ci_low"], got["ci_high"]) == pytest.approx(_naive_bootstrap(d, 40, 5, 7), abs=1e-9)
    assert got["diff"] == pytest.approx(100 * d.mean())
    assert P.paired_bootstrap(d, 40, seed=5) == got
    assert P.paired_bootstrap(d, 40, seed=6) != got
    assert P.paired_bootstrap(d, 0)["ci_low"] is None


def test_bootstrap_width_matches_the_analytic_standard_error() -> None:
    rng = np.random.default_rng(1)
    d = (rng.random((1, 4000)) < 0.15).astype(np.int8) - (rng.random((1, 4000)) < 0.1).astype(np.int8)
    got = P.paired_bootstrap(d, 2000, seed=0)
    se = 100 * d.std() / math.sqrt(d.shape[1])  # one seed pair: only images vary
    assert got["ci_high"] - got["ci_low"] == pytest.approx(2 * 1.96 * se, rel=0.1)


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


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ("r", "relu", 2.1, (1.4, 2.8), 0.003, 3, 14),
            "r vs relu: +2.1 points [1.4, 2.8], p(Holm) = 0.003: better",
        ),
        (
            ("r", "relu", -2.1, (-2.8, -1.4), 0.003, 3, 14),
            "r vs relu: -2.1 points [-2.8, -1.4], p(Holm) = 0.003: worse",
        ),
        (
            ("r", "relu", 0.4, (-0.3, 1.1), 0.2, 3, 14),
            "r vs relu: +0.4 points [-0.3, 1.1], p(Holm) = 0.2: not distinguishable with 3 seeds; "
            "about 14 would be needed",
        ),
        (
            ("r", "relu", 0.4, (-0.3, 1.1), 0.001, 3, 14),
            "r vs relu: +0.4 points [-0.3, 1.1], p(Holm) = 0.001 on these test images, but the 95% CI "
            "over seeds and images includes 0: not distinguishable with 3 seeds; about 14 would be needed",
        ),
        (
            ("r", "relu", 0.4, None, 0.3, 1, None),
            "r vs relu: +0.4 points, p(Holm) = 0.3: not distinguishable with 1 seed; a seed spread needs 2",
        ),
        (
            ("r", "relu", 0.4, None, 0.3, 3, None),
            "r vs relu: +0.4 points, p(Holm) = 0.3: not distinguishable with 3 seeds",
        ),
        (
            ("r", "relu", 0.01, None, 0.9, 3, 10_001),
            "r vs relu: +0.0 points, p(Holm) = 0.9: not distinguishable with 3 seeds; more than 10000 would "
            "be needed",
        ),
        (("r", "relu", 1.0, None, 0.01, 1, None), "r vs relu: +1.0 points, p(Holm) = 0.01: better"),
    ],
)
def test_verdict_sentences(args: tuple, expected: str) -> None:
    assert P.verdict(*args).startswith(expected)
