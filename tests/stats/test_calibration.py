"""stats.calibration: the decision rule's error rates measured by simulation (the issue's null worlds:
equal expected accuracy, 5 seeds, seed spread 0.8 points, 10,000 shared test images of varied
difficulty), and the same worlds written as run folders and judged by `actbench report` end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from actbench.cli import app
from actbench.stats import calibration as CAL


def test_simulated_world_has_the_requested_spread_and_truth() -> None:
    rng = np.random.default_rng(0)
    worlds = [CAL.simulate_world(rng, 5, 0.8, 1.0, 10_000) for _ in range(60)]
    sds = [np.std(w["acc"][1], ddof=1) for w in worlds]
    assert np.sqrt(np.mean(np.square(sds))) == pytest.approx(0.8, rel=0.15)  # seed-to-seed sd, points
    assert np.mean([w["true_diff"] for w in worlds]) == pytest.approx(1.0, rel=0.1)
    observed = np.mean([w["acc"][0].mean() - w["acc"][1].mean() for w in worlds])
    assert observed == pytest.approx(1.0, abs=0.25)


def test_null_worlds_false_call_rate_and_coverage_at_five_seeds() -> None:
    got = CAL.rates(reps=400, seeds=5, spread=0.8)
    assert got["called"] <= 0.07 and got["p_below"] <= 0.07
    assert got["covered"] >= 0.93
    # the same harness catches a rule that is not calibrated: the pooled McNemar test used before
    assert got["mcnemar_below"] >= 0.15


def test_power_with_a_true_one_point_difference_exceeds_the_false_call_rate() -> None:
    got = CAL.rates(reps=200, seeds=5, spread=0.8, true_diff=1.0)
    assert got["called"] >= 0.3 and got["covered"] >= 0.9


def test_report_on_null_worlds_is_inconclusive(tmp_path: Path) -> None:
    """The issue's check through `actbench report --format json`, on worlds written as run folders."""
    rng = np.random.default_rng(2026)
    runner, calls, low_p, worlds = CliRunner(), 0, 0, 30
    for i in range(worlds):
        root = CAL.write_world(tmp_path / f"w{i}", CAL.simulate_world(rng, 5, 0.8, 0.0, 2_000))
        res = runner.invoke(
            app, ["report", str(root), "--baseline", "relu", "--format", "json", "--bootstrap", "0"]
        )
        assert res.exit_code == 0, res.output
        row = {g["activation"]: g for g in json.loads(res.stdout)["groups"]}["rational"]
        assert row["decision_method"] == "paired-t" and len(row["decision_ci"]) == 2
        calls += row["decision"] != "inconclusive"
        low_p += row["decision_p"] < 0.05
    assert calls <= 0.07 * worlds and low_p <= 0.07 * worlds


def test_family_world_fitted_to_the_published_runs_reproduces_them(tmp_path: Path) -> None:
    """fit_world on the committed 20-epoch runs, then simulated worlds of the same shape: their mean
    accuracy, per-image disagreement (other seeds / matched seeds), spread and matched correlation are
    those of the real runs (the correlation of 5 values is biased low, hence its wider tolerance)."""
    from tests.factories import REPO

    real = CAL.observe(CAL.read_runs(REPO / "docs/results/runs/cifar10-cpu"))
    assert 0.15 < real["disagree_matched"] < real["disagree_other_seed"] < 0.25  # matched seeds agree more
    world = CAL.fit_world(real)
    rng = np.random.default_rng(3)
    sims = [CAL.observe(CAL.simulate_family(rng, world, 5)) for _ in range(24)]
    mean = {k: float(np.mean([s[k] for s in sims])) for k in real}
    assert mean["acc"] == pytest.approx(real["acc"], abs=0.3)
    assert mean["disagree_other_seed"] == pytest.approx(real["disagree_other_seed"], abs=0.004)
    assert mean["disagree_matched"] == pytest.approx(real["disagree_matched"], abs=0.004)
    assert mean["spread"] == pytest.approx(real["spread"], rel=0.25)
    assert mean["matched_r"] == pytest.approx(real["matched_r"], abs=0.15)
    # a true +2 points for one activation shows up as such
    big = CAL.simulate_family(rng, world, 5, {"rational": 2.0})
    gain = np.mean([big[("rational", s)].mean() - big[("relu", s)].mean() for s in range(5)])
    assert 100 * gain == pytest.approx(2.0, abs=0.6)
    # written as run folders, the report reads one group per activation with 5 seeds
    from actbench.report.build import build_report

    report = build_report([CAL.write_family(tmp_path / "w", big)], tests="power", bootstrap=0)
    assert sorted((r["activation"], r["n"]) for r in report.rows) == sorted((a, 5) for a in CAL.FAMILY_ACTS)


def test_observe_reads_an_unfinished_sweep() -> None:
    """A sweep still running has activations with fewer seeds (the 200-epoch protocol had Exponential at
    one seed while the others had three): the spread comes from activations with two or more seeds, the
    matched correlation from pairs with three or more seeds in common, and nothing else is read."""
    rng = np.random.default_rng(0)
    full = {(a, s): rng.random(200) < 0.7 + 0.05 * s for a in ("relu", "elu") for s in range(3)}
    alone = {**full, ("exponential", 0): rng.random(200) < 0.7}
    a, b = CAL.observe(full), CAL.observe(alone)
    assert a["spread"] == b["spread"] and a["matched_r"] == b["matched_r"]
    # the seed effect is shared, so the two complete activations' matched seeds correlate
    assert a["matched_r"] > 0.5
