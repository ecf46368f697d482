"""stats.decisions: the seed-level tests against scipy and brute force, the interval's duality with its
test, the decision rule, and the verdict sentence."""

from __future__ import annotations

import itertools
import statistics

import numpy as np
import pytest
from scipy import stats

from actbench.stats import decisions as D

A = [72.1, 71.4, 73.0, 72.6, 71.9]
B = [71.2, 71.5, 71.8, 71.0, 71.7]


def test_paired_test_is_scipys_ttest_rel_and_its_interval() -> None:
    res = D.paired_test(A, B)
    ref = stats.ttest_rel(A, B)
    assert res["p"] == pytest.approx(ref.pvalue) and res["t"] == pytest.approx(ref.statistic)
    assert res["ci"] == pytest.approx(list(ref.confidence_interval(0.95)))
    assert res["n"] == 5 and res["df"] == 4
    assert res["sd"] == pytest.approx(statistics.stdev([a - b for a, b in zip(A, B, strict=True)]))
    for end in res["ci"]:  # moving the difference to an interval end makes the test just significant
        shifted = stats.ttest_rel([a - end for a in A], B).pvalue
        assert shifted == pytest.approx(0.05, rel=1e-6)


def test_sign_flip_p_is_the_exact_enumeration() -> None:
    d = [a - b for a, b in zip(A, B, strict=True)]
    obs = abs(np.mean(d))
    flips = [
        abs(np.mean([s * x for s, x in zip(signs, d, strict=True)]))
        for signs in itertools.product((1, -1), repeat=5)
    ]
    expected = sum(f >= obs - 1e-12 for f in flips) / len(flips)
    assert D.sign_flip_p(d) == pytest.approx(expected)
    assert D.sign_flip_p([1.0, 2.0, 3.0, 4.0, 5.0]) == pytest.approx(2 / 32)  # the floor at n = 5
    assert D.sign_flip_p([1.0]) is None and D.sign_flip_p([1.0] * 11) is None
    assert D.sign_flip_p([0.0, 0.0]) == 1.0


def test_welch_test_is_scipys() -> None:
    a, b = A + [70.0], B[:3]
    res = D.welch_test(a, b)
    ref = stats.ttest_ind(a, b, equal_var=False)
    assert res["method"] == "welch-t" and res["p"] == pytest.approx(ref.pvalue)
    assert res["ci"] == pytest.approx(list(ref.confidence_interval(0.95)))
    assert (res["n_group"], res["n_baseline"]) == (6, 3)
    assert D.welch_test([1.0], b)["p"] is None


def test_prob_improvement_is_mann_whitney_u_over_pairs() -> None:
    res = D.prob_improvement(A, B, n_boot=400, seed=1)
    assert res["p"] == pytest.approx(stats.mannwhitneyu(A, B).statistic / 25)
    assert 0 <= res["ci"][0] <= res["p"] <= res["ci"][1] <= 1
    assert D.prob_improvement([1.0, 2.0], [1.0, 2.0], 0)["p"] == 0.5  # ties count one half
    assert D.prob_improvement(A, B, n_boot=400, seed=1) == res  # seeded
    assert D.prob_improvement([], B, 10) is None


def test_decide_pairs_matching_seeds_else_welch() -> None:
    mine, theirs = list(enumerate(A)), list(enumerate(B))
    res = D.decide(mine, theirs, n_boot=0)
    assert res["method"] == "paired-t" and res["seeds"] == [0, 1, 2, 3, 4] and res["unmatched"] == 0
    shifted = [(s + 10, a) for s, a in mine]  # no seed number in common: independent runs
    assert D.decide(shifted, theirs, n_boot=0)["method"] == "welch-t"
    partial = D.decide(mine, theirs[:3], n_boot=0)
    assert partial["n"] == 3 and partial["unmatched"] == 2
    assert D.decide([], theirs, 0) is None


@pytest.mark.parametrize(
    ("diff", "ci", "p_holm", "expected"),
    [
        (1.0, (0.2, 1.8), 0.01, "better"),
        (-1.0, (-1.8, -0.2), 0.01, "worse"),
        (1.0, (-0.2, 2.2), 0.01, "inconclusive"),  # the interval includes 0
        (1.0, (0.2, 1.8), 0.06, "inconclusive"),  # Holm not below alpha
        (1.0, None, 0.01, "inconclusive"),
        (None, None, None, "inconclusive"),
    ],
)
def test_classify(diff: float, ci: tuple, p_holm: float, expected: str) -> None:
    assert D.classify(diff, ci, p_holm) == expected


def _naive_two_stage(d: np.ndarray, n_boot: int, seed: int, chunk: int) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    k, n = d.shape
    reps = []
    for start in range(0, n_boot, chunk):
        m = min(chunk, n_boot - start)
        pairs, images = rng.integers(0, k, size=(m, k)), rng.integers(0, n, size=(m, k, n))
        for r in range(m):
            reps.append(statistics.fmean(float(d[pairs[r, j], images[r, j]].mean()) for j in range(k)))
    low, high = np.percentile(100 * np.array(reps), [2.5, 97.5])
    return float(low), float(high)


def test_two_stage_bootstrap_matches_a_naive_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    d = (rng.random((3, 200)) < 0.2).astype(np.int8) - (rng.random((3, 200)) < 0.1).astype(np.int8)
    monkeypatch.setattr(D, "CHUNK", 7)
    assert D.two_stage_bootstrap(d, 30, seed=5) == pytest.approx(_naive_two_stage(d, 30, 5, 7), abs=1e-6)
    assert D.two_stage_bootstrap(d[:1], 30) is None and D.two_stage_bootstrap(d, 0) is None


def _classified(mine: list[float], theirs: list[float], p_holm: float | None = None) -> dict:
    d = D.decide(list(enumerate(mine)), list(enumerate(theirs)), n_boot=0)
    d["p_holm"] = d["p"] if p_holm is None else p_holm
    d["decision"] = D.classify(d["diff"], d["ci"], d["p_holm"])
    return d


def test_verdict_sentences() -> None:
    d = _classified(A, B)  # +0.76 points, p = 0.07: inconclusive
    text = D.verdict("r", "relu", d, {"seeds_needed": 9})
    head = (
        f"r vs relu: +0.76 points [{d['ci'][0]:+.2f}, {d['ci'][1]:+.2f}] (paired t, 5 seed pairs, last epoch)"
    )
    assert text.startswith(head + f", p = {d['p']:.2g}, p(Holm) = {d['p']:.2g}")
    assert text.endswith(
        ": inconclusive; about 9 seeds per group would give 80% power if +0.76 were the true difference"
    )
    assert D.verdict("r", "relu", d, {"seeds_needed": 3}).endswith(": inconclusive")  # already had enough
    worse = _classified([b - 2 + 0.1 * i for i, b in enumerate(B)], B)
    assert worse["decision"] == "worse" and D.verdict("r", "relu", worse).endswith(": worse")
    lone = D.decide([(0, 72.0)], [(0, 71.0)], 0) | {"decision": "inconclusive"}
    assert D.verdict("r", "relu", lone).endswith("no seed spread to judge by)")
    far = _classified(A, B, p_holm=0.9) | {"decision": "inconclusive"}
    assert D.verdict("r", "relu", far, {"seeds_needed": 10_001}).endswith("were true")
    unmatched = D.decide([(s + 9, a) for s, a in enumerate(A)], list(enumerate(B)), 0)
    unmatched |= {"p_holm": unmatched["p"], "decision": "inconclusive"}
    assert "(Welch t, 5 vs 5 runs, best epoch)" in D.verdict("r", "relu", unmatched, None, "best")


def test_prob_improvement_interval_is_the_exact_bootstrap() -> None:
    """5 runs a side: the interval is the 2.5/97.5% inverted-CDF quantile of the bootstrap distribution,
    here checked against brute force over all 5^5 x 5^5 equally likely index draws (no multinomial
    weights); it needs no resampling seed, and below 5 runs a side no interval is given."""
    import itertools

    a, b = [72.1, 71.5, 73.0, 72.4, 70.9], [71.2, 71.9, 70.8, 72.0, 71.0]
    got = D.prob_improvement(a, b, n_boot=100, seed=1)
    assert got["resamples"] == "exact" and got == D.prob_improvement(a, b, n_boot=5000, seed=7)
    idx = np.array(list(itertools.product(range(5), repeat=5)))  # (3125, 5) index draws of one side
    wins = (np.array(a)[:, None] > np.array(b)[None, :]) + 0.5 * (
        np.array(a)[:, None] == np.array(b)[None, :]
    )
    counts = np.stack([np.bincount(i, minlength=5) for i in idx])  # (3125, 5)
    scores = (counts @ wins @ counts.T).ravel() / 25
    lo, hi = np.quantile(scores, [0.025, 0.975], method="inverted_cdf")
    assert got["ci"] == pytest.approx([lo, hi]) and got["p"] == pytest.approx(wins.mean())
    assert D.prob_improvement(a[:4], b[:4], n_boot=2000)["ci"] is None
    same = D.prob_improvement([3, 4, 5, 6, 7], [0, 0, 0, 1, 2], n_boot=2000)  # every resample: 1.0
    assert same["ci"] is None and same["ci_note"].startswith("degenerate")


def test_holm_against_hand_computation() -> None:
    # sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> monotone 0.06
    assert D.holm([0.01, 0.04, 0.03, None, 0.005]) == pytest.approx([0.03, 0.06, 0.06, None, 0.02])
    assert D.holm([0.5, 0.6]) == [1.0, 1.0]  # capped at 1, and never below an earlier one
    assert D.holm([0.2]) == [0.2]
    assert D.holm([None, None]) == [None, None]


def test_holm_matches_statsmodels() -> None:
    multipletests = pytest.importorskip("statsmodels.stats.multitest").multipletests
    rng = np.random.default_rng(7)
    for m in (1, 2, 4, 9):
        p = list(rng.uniform(0, 0.2, m))
        assert D.holm(p) == pytest.approx(list(multipletests(p, method="holm")[1]), rel=1e-12)


# Two seed pairs on 2,000 test images, each 10 images (+0.50 points) apart, as run_result makes them
# (100 * the fraction in summary.json): 100 * 813/2000 - 100 * 803/2000 = 0.4999999999999929, not 0.5
SAME_GAP_ROUNDED = ([100 * (813 / 2000), 100 * (701 / 2000)], [100 * (803 / 2000), 100 * (691 / 2000)])
SAME_GAP_EXACT = ([100 * (710 / 2000), 100 * (701 / 2000)], [100 * (700 / 2000), 100 * (691 / 2000)])


def test_rounding_level_spread_is_no_spread() -> None:
    """Identical per-seed differences are no evidence a t-test can weigh (sd 0: p undefined); float
    rounding of the same differences used to give p = 4.5e-15, an interval [+0.50, +0.50] and "better"."""
    mine, base = SAME_GAP_ROUNDED
    assert np.std(np.subtract(mine, base), ddof=1) > 0  # the rounding this test is about
    for m, b in (SAME_GAP_ROUNDED, SAME_GAP_EXACT):
        d = D.decide(list(enumerate(m)), list(enumerate(b)), n_boot=0)
        assert d["sd"] == 0.0 and d["p"] is None and d["ci"] is None and d["t"] is None
        assert d["diff"] == pytest.approx(0.5) and d["p_signflip"] == 0.5
        D.decide_family([d])
        assert d["decision"] == "inconclusive"
        text = D.verdict("r", "relu", d, {"seeds_needed": None})
        assert text.endswith(
            ": inconclusive (every seed pair differs by the same +0.50 points: without spread the t-test "
            "is undefined)"
        )
    same = D.paired_test([70.1 + 1e-13, 70.2], [70.1, 70.2])  # identical runs up to rounding
    assert same["sd"] == 0.0 and same["p"] == 1.0


def test_welch_without_spread_up_to_rounding() -> None:
    res = D.welch_test([70.0, 70.0 + 1e-13, 70.0], [69.0, 69.0])
    assert res["sd"] == 0.0 and res["p"] is None and res["ci"] is None
    res |= {"p_holm": None, "decision": "inconclusive"}
    assert D.verdict("r", "relu", res).endswith(
        ": inconclusive (no spread within either group: the t-test is undefined)"
    )
    assert D.welch_test([70.0, 70.0], [70.0, 70.0 + 1e-13])["p"] == 1.0
