"""What a results page prints must be backed by a computation on that page, with the unit and the
correction named: per-image McNemar counts after Holm over the pairs the table prints, the unit and
"unadjusted" in the robustness and corruption p titles, no test name or P(better) where no test ran
(one run a side), and a Welch power figure that never says the seeds suffice for an inconclusive
comparison."""

from __future__ import annotations

import types
from pathlib import Path

import numpy as np
import pytest

from actbench.report import build as RP
from actbench.report import exports as TB
from actbench.report import sections as S
from actbench.report.comparisons import power_row
from actbench.report.corruptions import corruption_title
from actbench.stats import decisions as D
from actbench.stats import paired as P
from tests.factories import write_run
from tests.report.test_comparisons import _write_predictions

N = 2000


def _discordant_runs(root: Path, per_seed: list[tuple[int, int]]) -> None:
    """relu and rational, one run per seed; rational gets b images right that relu gets wrong and c
    wrong that relu gets right (McNemar's b / c of that seed pair)."""
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 10, size=N)
    for s, (b, c) in enumerate(per_seed):
        base = np.zeros(N, dtype=bool)
        base[rng.permutation(N)[: int(0.6 * N) + 7 * s]] = True
        mine = base.copy()
        mine[np.flatnonzero(~base)[:b]] = True
        mine[np.flatnonzero(base)[:c]] = False
        for act, correct in (("relu", base), ("rational", mine)):
            run = write_run(root, f"{act}-s{s}", act, s, acc=float(correct.mean()))
            _write_predictions(run, labels, correct, epoch=3, seed=s)


def test_mcnemar_pairs_are_counted_after_holm_over_the_table(tmp_path: Path) -> None:
    """Two seed pairs with b / c = 15 / 5: each McNemar p = 0.041, under 0.05 uncorrected (the table said
    "2 of 2"), 0.083 after Holm over the two pairs the table prints: none differs."""
    _discordant_runs(tmp_path, [(15, 5), (15, 5)])
    report = RP.build_report([tmp_path], tests="paired", bootstrap=0)
    vs = next(r for r in report.rows if r["activation"] == "rational")["paired"]["vs_baseline"]
    raw = [q["p"] for q in vs["per_pair"]]
    assert raw == pytest.approx([P.mcnemar_exact(15, 5)] * 2) and max(raw) < 0.05
    assert [q["p_holm"] for q in vs["per_pair"]] == pytest.approx(D.holm(raw))
    assert vs["pairs_differ"] == 0
    table = S.comparison_table(report)
    assert table is not None and "seed pairs differing (McNemar p (Holm) < 0.05)" in table.heads
    assert "Holm over the 2 seed pairs this table prints" in table.title
    assert "| rational | 0 of 2 |" in TB.to_markdown(report)


def test_robustness_and_corruption_p_titles_name_the_unit_and_say_unadjusted() -> None:
    report = types.SimpleNamespace(options=types.SimpleNamespace(baseline="relu"), rows=[])
    for title in (S.robustness_table(report, "gaussian").title, corruption_title([], "relu")):  # type: ignore[arg-type]
        assert "the unit is the training run" in title and "unadjusted" in title, title


def test_one_run_a_side_prints_no_test_and_no_p_better(tmp_path: Path) -> None:
    """One run per side: no test was run, so no "Welch t" in the test column and no P(better) = 0.00 /
    1.00 (it would only restate the sign of Δacc) in the table, the verdict or the JSON."""
    write_run(tmp_path, "relu-s0", "relu", 0, acc=0.70)
    write_run(tmp_path, "elu-s0", "elu", 0, acc=0.69)
    report = RP.build_report([tmp_path], tests="welch,power")
    table = S.decision_table(report)
    assert table is not None
    row = dict(zip(table.heads, table.rows[[r[0] for r in table.rows].index("elu")], strict=True))
    assert row["test"] == "—" and row["P(better)"] == "—" and row["Δacc"] == "-1.00"
    elu = next(r for r in report.rows if r["activation"] == "elu")
    assert elu["endpoints"]["last"]["prob_improvement"] is None
    assert "Welch" not in elu["verdict"] and "P(elu > relu)" not in elu["verdict"]
    assert elu["verdict"].startswith("elu vs relu: -1.00 points (1 vs 1 runs, no test, last epoch)")


def test_welch_power_never_says_the_seeds_suffice_for_an_inconclusive_comparison() -> None:
    """Two runs a side with very unequal spreads: Welch's df is about 1 and p = 0.063 (inconclusive), but
    the power figure assumed df = 2n - 2 = 2 and said "2 (have 2)"; with the Welch-Satterthwaite df it
    asks for more seeds than there are."""
    d = D.decide([(0, 70.0), (1, 70.02)], [(2, 60.0), (3, 61.8)], n_boot=0)
    assert d is not None and d["method"] == "welch-t" and d["df"] == pytest.approx(1.0, abs=0.01)
    D.decide_family([d])
    assert d["decision"] == "inconclusive" and d["p"] > 0.05
    power = power_row(d, None)
    assert power is not None and power["seeds_needed"] > d["n"]


def test_welch_power_agrees_with_the_decision_on_random_small_samples() -> None:
    """The claim of docs/statistics.md: an inconclusive comparison's power figure asks for more seeds
    than it has (Welch, 2-4 runs a side with unequal spreads, one comparison)."""
    rng = np.random.default_rng(11)
    for _ in range(300):
        n = int(rng.integers(2, 5))
        spreads = rng.uniform(0.01, 3.0, size=2)
        mine = rng.normal(rng.uniform(-6, 6), spreads[0], size=n)
        base = rng.normal(0.0, spreads[1], size=n)
        d = D.decide(
            [(s, float(a)) for s, a in enumerate(mine)], [(10 + s, float(b)) for s, b in enumerate(base)], 0
        )
        assert d is not None
        D.decide_family([d])
        needed = (power_row(d, None) or {}).get("seeds_needed")
        if d["decision"] == "inconclusive":
            assert needed is None or needed > n, (mine, base, d["p"], needed)
