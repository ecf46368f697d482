"""actbench.stats.ranks against Demšar (2006)'s worked example and tables, scipy's Friedman test, and
scikit-posthocs' Nemenyi test where installed."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from actbench.stats import ranks as SS

# Demšar 2006, section 3.2.4: four C4.5 variants on 14 data sets; mean ranks and the published results
DEMSAR_RANKS = np.array([3.143, 2.000, 2.893, 1.964])


def test_demsar_worked_example() -> None:
    f = SS.friedman(DEMSAR_RANKS, 14)
    assert f["chi2"] == pytest.approx(9.28, abs=0.01) and f["f"] == pytest.approx(3.69, abs=0.01)
    assert f["df"] == 3 and f["f_p"] < 0.05  # "the null hypothesis is rejected" (F(3, 39) critical 2.85)
    assert SS.critical_difference(4, 14) == pytest.approx(1.25, abs=0.005)


TABLE_5 = [(2, 1.960), (3, 2.343), (4, 2.569), (5, 2.728), (6, 2.850), (10, 3.164)]  # q_0.05 by k


@pytest.mark.parametrize(("k", "q"), TABLE_5)
def test_nemenyi_q_matches_demsars_table_5(k: int, q: float) -> None:
    assert SS.nemenyi_q(k) == pytest.approx(q, abs=0.001)


def test_friedman_matches_scipy_without_ties() -> None:
    rng = np.random.default_rng(3)
    scores = rng.normal(size=(12, 5)) + np.array([0.0, 0.3, 0.6, 0.1, 0.9])
    r = SS.ranks(scores)
    assert (r.sum(axis=1) == 15).all() and (np.sort(r, axis=1) == np.arange(1, 6)).all()
    got = SS.friedman(r.mean(axis=0), 12)
    ref = stats.friedmanchisquare(*scores.T)
    assert got["chi2"] == pytest.approx(ref.statistic) and got["p"] == pytest.approx(ref.pvalue)


def test_ranks_average_ties_and_best_is_one() -> None:
    r = SS.ranks(np.array([[70.0, 72.0, 72.0, 60.0]]))
    assert r.tolist() == [[3.0, 1.5, 1.5, 4.0]]
    with pytest.raises(ValueError, match="complete"):
        SS.ranks(np.array([[1.0, np.nan]]))


def test_cliques_group_methods_within_the_critical_difference() -> None:
    names = ["a", "b", "c", "d"]
    assert SS.cliques(names, np.array([1.0, 1.5, 2.9, 3.2]), 1.0) == [["a", "b"], ["c", "d"]]
    assert SS.cliques(names, np.array([1.0, 1.5, 1.9, 3.2]), 1.0) == [["a", "b", "c"]]
    assert SS.cliques(names, np.array([1.0, 2.5, 4.0, 5.5]), 1.0) == []


def test_summary_warns_with_few_tasks() -> None:
    scores = np.array([[70.0, 71.0, 72.0], [60.0, 61.5, 61.0], [80.0, 79.0, 82.0]])
    out = SS.suite_summary(scores, ["relu", "elu", "rational"])
    assert out["mean_ranks"] == pytest.approx({"relu": 8 / 3, "elu": 2.0, "rational": 4 / 3})
    assert out["tasks"] == 3 and out["significance"] is False
    assert out["critical_difference"] == pytest.approx(SS.critical_difference(3, 3))


def test_nemenyi_against_scikit_posthocs() -> None:
    sp = pytest.importorskip("scikit_posthocs")
    rng = np.random.default_rng(5)
    scores = rng.normal(size=(20, 4)) + np.array([0.0, 0.8, 0.1, 1.2])
    r = SS.ranks(scores).mean(axis=0)
    cd = SS.critical_difference(4, 20)
    p = sp.posthoc_nemenyi_friedman(scores).to_numpy()
    for i in range(4):
        for j in range(i + 1, 4):
            assert (abs(r[i] - r[j]) >= cd) == (p[i, j] < 0.05)


def test_identical_rankings_leave_iman_davenport_undefined_not_infinite() -> None:
    # two tasks that rank five methods the same way: N(k-1) - chi2_F = 0, F_F divides by zero
    f = SS.friedman(np.array([1.0, 2.0, 3.0, 4.0, 5.0]), 2)
    assert f["chi2"] == pytest.approx(8.0) and f["p"] == pytest.approx(stats.chi2.sf(8.0, 4))
    assert f["f"] is None and f["f_p"] is None and "same order" in f["f_note"]
    ok = SS.friedman(DEMSAR_RANKS, 14)
    assert ok["f_note"] is None


def test_friedman_corrects_for_ties_as_scipy_does() -> None:
    # accuracies that tie within tasks (means over seeds at 0.01 % resolution do): scipy divides chi2_F by
    # C = 1 - sum(t^3 - t) / (N k (k^2 - 1)), t: the size of each group of tied scores within a task
    scores = np.array(
        [[70.0, 72.0, 72.0, 60.0], [61.0, 61.0, 61.0, 59.0], [80.0, 79.0, 82.0, 79.0],
         [55.0, 57.0, 56.0, 56.0], [90.0, 90.0, 91.0, 88.0], [66.0, 65.0, 67.0, 64.0]]
    )  # fmt: skip
    out = SS.suite_summary(scores, ["a", "b", "c", "d"])
    ref = stats.friedmanchisquare(*scores.T)
    assert out["friedman"]["chi2"] == pytest.approx(ref.statistic)
    assert out["friedman"]["p"] == pytest.approx(ref.pvalue)
    # Iman-Davenport from the corrected chi2_F is the two-way ANOVA F on the ranks (tasks as blocks)
    r = SS.ranks(scores)
    n, k = r.shape
    treat = n * ((r.mean(axis=0) - (k + 1) / 2) ** 2).sum()
    error = ((r - (k + 1) / 2) ** 2).sum() - treat
    assert out["friedman"]["f"] == pytest.approx((treat / (k - 1)) / (error / ((k - 1) * (n - 1))))


def test_ties_that_rank_every_task_alike_leave_iman_davenport_undefined() -> None:
    # both tasks: a best, b and c tied; the tie-corrected chi2_F is N(k - 1) = 4, F_F divides by zero
    f = SS.suite_summary(np.array([[3.0, 1.0, 1.0], [9.0, 2.0, 2.0]]), ["a", "b", "c"])["friedman"]
    assert f["chi2"] == pytest.approx(4.0) and f["f"] is None and "same order" in f["f_note"]


def test_every_method_tied_in_every_task_gives_no_evidence_not_a_crash() -> None:
    f = SS.suite_summary(np.full((6, 3), 50.0), ["a", "b", "c"])["friedman"]
    assert f["chi2"] == 0.0 and f["p"] == pytest.approx(1.0) and f["f"] == 0.0
