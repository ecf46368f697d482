"""The decision of a report: is an activation better than the baseline, with the training run as the unit.

The claim a report makes is about an activation as a *training method*: train again with a new seed and
the network comes out different (initialisation, data order, augmentation draws). So the sample is the
set of runs (one accuracy per seed), not the test images: 10,000 shared test images measure *these*
networks precisely, but say nothing about how much a new seed would move them. Pure functions on
per-run test accuracies in percent; scipy supplies the tests (well-kept, tested implementations).

- Matched seeds (seed s of the group against seed s of the baseline: same data order and initial weights
  of the layers they share): the per-seed differences d_s are the sample. Paired t-test
  (`scipy.stats.ttest_rel`, df = n - 1) and its t-interval; for n <= `MAX_EXACT` also the exact sign-flip
  permutation test of the mean difference (`scipy.stats.permutation_test`, all 2^n sign patterns), which
  needs no normality but cannot go below 2 / 2^n (0.0625 with 5 seeds): it is shown as a check, the
  t-test decides (its level is measured by `actbench.stats.calibration`).
- Unmatched seeds (fewer than 2 seed numbers in common): Welch's t-test (`ttest_ind(equal_var=False)`)
  and its Welch-Satterthwaite interval.
- Probability of improvement P(group > baseline): the chance that a run of the group beats a run of the
  baseline, U / (n_a n_b) of the Mann-Whitney U statistic over all run pairs, ties counting 1/2, with a
  stratified percentile bootstrap interval (runs resampled within each side), as in R. Agarwal et al.,
  "Deep RL at the Edge of the Statistical Precipice", NeurIPS 2021 (rliable). With 5 runs a side the
  bootstrap distribution is enumerated exactly (no resampling seed moves the interval); below 5 no
  interval is given. With 5 runs a side the interval is wide; that is the information.
- The decision: "better" / "worse" when the Holm-adjusted p (over the report's comparisons,
  `actbench.stats.paired.holm`) is below `ALPHA` and the 95% interval excludes 0; else "inconclusive".
- Two-stage bootstrap (seed pairs resampled, then test images within each drawn pair): the interval the
  calibration benchmark weighs against the t-interval (`two_stage_bootstrap`; cf. X. Bouthillier et al.,
  "Accounting for Variance in Machine Learning Benchmarks", MLSys 2021).
"""

from __future__ import annotations

import contextlib
import itertools
import math
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

ALPHA = 0.05  # two-sided level of the decisions and of the power calculations
LEVEL = 0.95  # coverage of the decision's interval
MAX_SEEDS = 10_000  # power search gives up beyond this ("more than 10000 seeds")
MAX_EXACT = 10  # sign-flip test enumerated exactly up to this many pairs (2^10 patterns)
CHUNK = 32  # bootstrap replicates per vectorised step
MIN_PI_RUNS = 2  # P(better) only with at least this many runs a side (1 vs 1: the sign of the difference)
MIN_BOOT_RUNS = 5  # P(better) gets a bootstrap interval only with at least this many runs a side
EXACT_BOOT = 4_000_000  # resample pairs up to which the bootstrap distribution is enumerated exactly


def match_seeds(mine: list[tuple[Any, Any]], theirs: list[tuple[Any, Any]]) -> list[tuple[Any, Any, Any]]:
    """(seed, mine, theirs) for the seed numbers both sides have, in seed order; one run on each side
    pairs whatever their seeds."""
    a, b = dict(mine), dict(theirs)
    common = sorted(set(a) & set(b), key=str)
    if not common and len(mine) == len(theirs) == 1:
        return [(mine[0][0], mine[0][1], theirs[0][1])]
    return [(s, a[s], b[s]) for s in common]


def check_finite(what: str, values: Sequence[float]) -> None:
    """ValueError in one line when `values` hold nan or inf (a summary of them would be nan, or scipy's
    and statistics' own errors): the report leaves such runs out before, as "no result"."""
    bad = sum(not math.isfinite(v) for v in values)
    if bad:
        raise ValueError(
            f"{what}: {bad} of {len(values)} values not finite (nan or inf); leave them out first"
        )


def _finite(x: Any) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


def t_interval(diffs: Sequence[float], level: float = LEVEL) -> tuple[float, float] | None:
    """t-interval of the mean of `diffs` (df = n - 1); None below 2 values."""
    from scipy import stats

    n = len(diffs)
    if n < 2:
        return None
    mean, sd = float(np.mean(diffs)), float(np.std(diffs, ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * sd / math.sqrt(n)
    return mean - half, mean + half


def sign_flip_p(diffs: Sequence[float]) -> float | None:
    """Exact two-sided sign-flip permutation p of mean(diffs) = 0 (all 2^n patterns); None above MAX_EXACT
    pairs or below 2. Its smallest possible value is 2 / 2^n."""
    from scipy import stats

    d = np.asarray(diffs, dtype=float)
    if not 2 <= len(d) <= MAX_EXACT:
        return None
    if not np.any(d):
        return 1.0
    res = stats.permutation_test(
        (d, np.zeros_like(d)),
        lambda x, y, axis: np.mean(x - y, axis=axis),
        permutation_type="samples",
        n_resamples=np.inf,
        vectorized=True,
    )
    return float(res.pvalue)


def paired_test(values: Sequence[float], base: Sequence[float]) -> dict[str, Any]:
    """Paired t over matched seeds (`values[i]` with `base[i]`, accuracy %): diff, sd of the differences,
    t, df, p, the t-interval and the exact sign-flip p."""
    from scipy import stats

    d = [a - b for a, b in zip(values, base, strict=True)]
    n = len(d)
    out: dict[str, Any] = {"method": "paired-t", "n": n, "diff": float(np.mean(d)) if d else None}
    out |= {"sd": None, "t": None, "df": None, "p": None, "ci": None, "p_signflip": None}
    if n < 2:
        return out
    sd = float(np.std(d, ddof=1))
    tol = _rounding(values, base)
    if sd <= tol:  # the same difference in every pair, up to float rounding: no spread, no t-test
        sd = 0.0
    out |= {"sd": sd, "df": n - 1, "p_signflip": sign_flip_p(d)}
    if sd > 0:
        with _quiet():
            res = stats.ttest_rel(values, base)
        ci = t_interval(d)
        assert ci is not None  # n >= 2
        out |= {"t": _finite(res.statistic), "p": _finite(res.pvalue), "ci": list(ci)}
    elif abs(out["diff"]) <= tol:
        out["p"] = 1.0  # identical runs: no evidence of a difference
    return out


ROUNDING = 1e-9  # relative: a spread below this times the accuracies' size is float rounding, not seeds


def _rounding(*groups: Sequence[float]) -> float:
    """The size of float rounding in differences of these accuracies: 100 * 813/2000 - 100 * 803/2000 is
    0.4999999999999929, 100 * 701/2000 - 100 * 691/2000 is 0.5, so two pairs each 10 images apart have a
    spread of 5e-15 points; a t-test on that calls p = 4.5e-15. Real spreads are at least 100 / images."""
    return ROUNDING * max([1.0, *(abs(float(x)) for g in groups for x in g)])


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """scipy warns of "catastrophic cancellation" when the runs are nearly identical; the result stands
    (runs identical up to float rounding are handled apart), and a report should not print a library's
    warning."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Precision loss occurred", RuntimeWarning)
        yield


def welch_test(values: Sequence[float], base: Sequence[float]) -> dict[str, Any]:
    """Welch's t over independent runs: diff of means, t, df, p and the Welch interval."""
    from scipy import stats

    na, nb = len(values), len(base)
    diff = float(np.mean(values) - np.mean(base)) if na and nb else None
    out: dict[str, Any] = {"method": "welch-t", "n": min(na, nb), "n_group": na, "n_baseline": nb}
    out |= {"diff": diff, "sd": None, "t": None, "df": None, "p": None, "ci": None, "p_signflip": None}
    if na < 2 or nb < 2:
        return out
    va, vb = float(np.var(values, ddof=1)), float(np.var(base, ddof=1))
    out["sd"] = math.sqrt(((na - 1) * va + (nb - 1) * vb) / (na + nb - 2))  # pooled
    out |= {"sd_group": math.sqrt(va), "sd_baseline": math.sqrt(vb)}  # for power, with Welch's df
    tol = _rounding(values, base)
    if math.sqrt(va + vb) <= tol:  # no spread on either side, up to float rounding: no t-test
        out["sd"] = 0.0
        out["p"] = 1.0 if diff is not None and abs(diff) <= tol else None
        return out
    with _quiet():
        res = stats.ttest_ind(values, base, equal_var=False)
    ci = res.confidence_interval(LEVEL)
    out |= {"t": _finite(res.statistic), "df": _finite(res.df), "p": _finite(res.pvalue)}
    out["ci"] = [float(ci.low), float(ci.high)]
    return out


def _resamples(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Every bootstrap resample of n runs as counts (K, n) and its probability (K,): the multisets of
    size n, each with multinomial probability n! / (prod c_i!) / n^n."""
    counts = np.array(
        [np.bincount(c, minlength=n) for c in itertools.combinations_with_replacement(range(n), n)]
    )
    log_w = math.lgamma(n + 1) - np.array([sum(math.lgamma(c + 1) for c in row) for row in counts])
    return counts, np.exp(log_w - n * math.log(n))


def _quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """Smallest value whose weighted CDF reaches q (numpy's "inverted_cdf" with weights): a value the
    statistic can take, so the same distribution always gives the same end point."""
    order = np.argsort(values, kind="stable")
    cdf = np.cumsum(weights[order]) / weights.sum()
    return float(values[order][min(int(np.searchsorted(cdf, q - 1e-12)), len(cdf) - 1)])


def prob_improvement(
    values: Sequence[float], base: Sequence[float], n_boot: int, seed: int | Sequence[int] = 0
) -> dict[str, Any] | None:
    """P(a run of the group beats a run of the baseline) = U / (na nb) (ties 1/2) and its stratified
    percentile bootstrap interval (runs resampled within each side). The bootstrap distribution is
    enumerated exactly while there are at most EXACT_BOOT resample pairs (5 runs a side: 126 x 126), so
    the interval depends on no resampling seed; beyond that `n_boot` Monte Carlo resamples. Either way
    the end points are values the statistic takes (inverted CDF). No interval (`ci` None) when `n_boot`
    is 0, below MIN_BOOT_RUNS runs a side (too few distinct resamples to mean anything), or when it has
    zero width (`ci_note`: every resample gives the same value). None when a side is empty."""
    a, b = np.asarray(values, dtype=float), np.asarray(base, dtype=float)
    if not len(a) or not len(b):
        return None
    # twice the U statistic per run pair, in integers: exact ties between resamples
    wins = 2 * (a[:, None] > b[None, :]).astype(np.int64) + (a[:, None] == b[None, :]).astype(np.int64)
    scale = 2 * len(a) * len(b)
    out: dict[str, Any] = {"p": float(wins.sum() / scale), "ci": None}
    if n_boot <= 0 or min(len(a), len(b)) < MIN_BOOT_RUNS:
        return out
    if math.comb(2 * len(a) - 1, len(a)) * math.comb(2 * len(b) - 1, len(b)) <= EXACT_BOOT:
        (ca, wa), (cb, wb) = _resamples(len(a)), _resamples(len(b))
        reps = (ca @ wins @ cb.T).ravel()  # (Ka * Kb,) twice-U of every resample pair
        weights = (wa[:, None] * wb[None, :]).ravel()
        out["resamples"] = "exact"
    else:
        rng = np.random.default_rng(seed)
        ia, ib = rng.integers(0, len(a), (n_boot, len(a))), rng.integers(0, len(b), (n_boot, len(b)))
        reps = wins[ia[:, :, None], ib[:, None, :]].sum(axis=(1, 2))
        weights = np.ones(n_boot)
        out["resamples"] = n_boot
    tail = (1 - LEVEL) / 2
    low, high = (_quantile(reps, weights, q) / scale for q in (tail, 1 - tail))
    if low == high:
        out["ci_note"] = "degenerate: every resample gives the same value"
    else:
        out["ci"] = [low, high]
    return out


def decide(
    mine: list[tuple[Any, float]], theirs: list[tuple[Any, float]], n_boot: int, seed: Any = 0
) -> dict[str, Any] | None:
    """The seed-level comparison of (seed, accuracy %) lists: paired when 2+ seed numbers match, else
    Welch; plus P(group > baseline) (None below MIN_PI_RUNS runs on a side). `decision` and `p_holm` are
    set later by `classify` (Holm needs every comparison of the report). None when a side has no run."""
    if not mine or not theirs:
        return None
    check_finite("decide", [a for _, a in [*mine, *theirs]])
    pairs = match_seeds(mine, theirs)
    if len(pairs) >= 2:
        out = paired_test([a for _, a, _ in pairs], [b for _, _, b in pairs])
        out["seeds"] = [s for s, _, _ in pairs]
        out["unmatched"] = len(mine) + len(theirs) - 2 * len(pairs)
    else:
        out = welch_test([a for _, a in mine], [b for _, b in theirs])
    pi = None  # one run on a side: P(better) would only restate that run's side of the other(s)
    if min(len(mine), len(theirs)) >= MIN_PI_RUNS:
        pi = prob_improvement([a for _, a in mine], [b for _, b in theirs], n_boot, seed)
    return out | {"prob_improvement": pi, "p_holm": None, "decision": None}


# --- one family: Holm, then the decision word -------------------------------------------------------


def holm(pvalues: Sequence[float | None]) -> list[float | None]:
    """Holm-Bonferroni adjusted p-values, in the input order; None entries are not tests (left None).
    With the m p-values sorted ascending, adjusted p_(i) = max over j <= i of min(1, (m - j + 1) p_(j))."""
    if not all(0 <= p <= 1 for p in pvalues if p is not None):  # nan too: it would sort anywhere
        raise ValueError(f"holm: p-values must lie in [0, 1] (or be None), got {list(pvalues)}")
    tests = sorted((p, i) for i, p in enumerate(pvalues) if p is not None)
    m = len(tests)
    out: list[float | None] = [None] * len(pvalues)
    running = 0.0
    for rank, (p, i) in enumerate(tests):
        running = max(running, min(1.0, (m - rank) * p))
        out[i] = running
    return out


def classify(
    diff: float | None, ci: Sequence[float] | None, p_holm: float | None, alpha: float = ALPHA
) -> str:
    """better / worse: p(Holm) < alpha and the interval excludes 0; inconclusive otherwise."""
    if diff is None or p_holm is None or ci is None or not p_holm < alpha:
        return "inconclusive"
    if ci[0] > 0 and diff > 0:
        return "better"
    if ci[1] < 0 and diff < 0:
        return "worse"
    return "inconclusive"


def decide_family(decisions: Sequence[dict[str, Any]]) -> int:
    """One family: Holm over the decisions' unadjusted `p` (dicts with `diff`, `ci`, `p`; every decision a
    page prints, together), then each one's `p_holm` and `decision` (classify), set in place; returns
    the family size m (the decisions with a p). `actbench report` and `suite report` both decide here."""
    for d, adj in zip(decisions, holm([d.get("p") for d in decisions]), strict=True):
        d["p_holm"] = adj
        d["decision"] = classify(d.get("diff"), d.get("ci"), adj)
    return sum(d.get("p") is not None for d in decisions)


def two_stage_bootstrap(
    diffs: np.ndarray, n_boot: int, seed: int | Sequence[int] = 0, level: float = LEVEL
) -> tuple[float, float] | None:
    """Percentile interval of the mean accuracy difference (points) from `diffs`: (seed pairs k, images N)
    per-image correct(group) - correct(baseline). Each replicate draws k seed pairs with replacement, then
    N images with replacement within each drawn pair (independently per pair). None below 2 pairs."""
    d = np.asarray(diffs, dtype=np.float32)
    k, n = d.shape
    if k < 2 or n_boot <= 0:
        return None
    rng = np.random.default_rng(seed)
    reps = np.empty(n_boot)
    for start in range(0, n_boot, CHUNK):
        m = min(CHUNK, n_boot - start)
        pairs = rng.integers(0, k, size=(m, k))
        images = rng.integers(0, n, size=(m, k, n))
        reps[start : start + m] = d[pairs[:, :, None], images].mean(axis=(1, 2))
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(100.0 * reps, [tail, 100 - tail])
    return float(low), float(high)


# --- the sentence -----------------------------------------------------------------------------------


def _n_runs(d: dict[str, Any]) -> str:
    if d["method"] == "paired-t":
        return f"{d['n']} seed pair" + ("" if d["n"] == 1 else "s")
    return f"{d.get('n_group')} vs {d.get('n_baseline')} runs"


def verdict(
    name: str, baseline: str, d: dict[str, Any], power: dict[str, Any] | None = None, metric: str = "last"
) -> str:
    """One plain sentence from a classified `decide` result: "rational vs relu: +0.91 points [-0.10,
    +1.92] (paired t, 5 seed pairs), p = 0.068, p(Holm) = 0.27, P(better) = 0.72 [0.40, 0.96]:
    inconclusive; about 12 seeds per group would give 80% power if +0.91 were the true difference"."""
    head = f"{name} vs {baseline}: {d['diff']:+.2f} points"
    if d.get("ci"):
        head += f" [{d['ci'][0]:+.2f}, {d['ci'][1]:+.2f}]"
    if d.get("sd") is None:  # fewer than 2 runs on a side: no test was run
        head += f" ({_n_runs(d)}, no test, {metric} epoch)"
    else:
        head += f" ({'paired t' if d['method'] == 'paired-t' else 'Welch t'}, {_n_runs(d)}, {metric} epoch)"
    if d.get("p") is not None:
        head += f", p = {d['p']:.2g}, p(Holm) = {d['p_holm']:.2g}"
    pi = d.get("prob_improvement")
    if pi:
        head += f", P({name} > {baseline}) = {pi['p']:.2f}"
        head += f" [{pi['ci'][0]:.2f}, {pi['ci'][1]:.2f}]" if pi.get("ci") else ""
    if d["decision"] != "inconclusive":
        return f"{head}: {d['decision']}"
    if d.get("sd") is None:
        return f"{head}: inconclusive (fewer than 2 runs per side: no seed spread to judge by)"
    if d["sd"] == 0 and d.get("p") is None:
        if d["method"] == "paired-t":
            same = f"every seed pair differs by the same {d['diff']:+.2f} points"
            return f"{head}: inconclusive ({same}: without spread the t-test is undefined)"
        return f"{head}: inconclusive (no spread within either group: the t-test is undefined)"
    needed = (power or {}).get("seeds_needed")
    if needed is not None and needed > MAX_SEEDS:
        more = f"more than {MAX_SEEDS} seeds would be needed even if {d['diff']:+.2f} were true"
        return f"{head}: inconclusive; {more}"
    if needed is not None and needed > d["n"]:
        return (
            f"{head}: inconclusive; about {needed} seeds per group would give 80% power "
            f"if {d['diff']:+.2f} were the true difference"
        )
    return f"{head}: inconclusive"
