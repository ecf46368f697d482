"""Suites (suites.spec, suites.report, `actbench suite run|report`): loading and checking suite
files, data that is not there, the cross-task report on hand-made worlds, and a tiny real suite with an
activation defined outside actbench, end to end through the CLI."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from actbench import config as C
from actbench.cli import app
from actbench.stats import calibration as CAL
from actbench.suites import page as SP
from actbench.suites import report as SR
from actbench.suites import spec as SU
from actbench.sweep.plan import MANIFEST
from tests.factories import REPO

runner = CliRunner()


def test_shipped_suites_load_and_every_task_config_is_valid() -> None:
    assert {"smoke", "paper", "cifar10-nets", "standard"} <= set(SU.shipped_suites())
    for name in SU.shipped_suites():
        suite = SU.load_suite(name)
        assert suite.name == name and suite.tasks
        for task in suite.tasks:
            SU.task_config(task, [])  # raises SuiteError naming the task on a bad key
    smoke = SU.load_suite("smoke")
    models = {SU.task_config(t, []).model.name for t in smoke.tasks}
    assert len(smoke.tasks) >= 3 and len(models) >= 3  # differ in network
    assert {SU.task_config(t, []).data.name for t in smoke.tasks} == {"synthetic"}


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"tasks": []}, "tasks: a non-empty list"),
        ({"tasks": [{"name": "a", "config": "quickstart", "sets": []}]}, "tasks[0].sets: unknown key"),
        ({"tasks": [{"name": "../a", "config": "quickstart"}]}, "tasks[0].name: '../a' is not a plain"),
        ({"tasks": [{"name": "a"}]}, "tasks[0].config: a preset name"),
        ({"tasks": [{"name": "a", "config": "quickstart"}] * 2}, "the name 'a' is used twice"),
    ],
)
def test_bad_suite_files_are_one_line(tmp_path: Path, doc: dict, message: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(SU.SuiteError, match=message.replace("[", r"\[").replace("]", r"\]")):
        SU.load_suite(str(path))
    with pytest.raises(SU.SuiteError, match="no such file or shipped suite"):
        SU.load_suite("nonesuch")


def test_task_override_errors_name_the_task() -> None:
    with pytest.raises(SU.SuiteError, match="task t: .*model.nme"):
        SU.task_config(SU.Task("t", "quickstart", ["model.nme=mlp"]), [])


def test_missing_data_is_one_line_saying_where(tmp_path: Path) -> None:
    c100 = C.load_config("cifar100_relu", [f"data.root={tmp_path}", "data.download=false"])
    assert (
        SU.missing_data(c100)
        == f"cifar100: {tmp_path / 'cifar-100-python'} not found (put the data there or set data.root)"
    )
    assert SU.missing_data(C.load_config("cifar100_relu", [f"data.root={tmp_path}"])) is None  # may download
    folder = C.load_config("quickstart", ["data.name=folder", f"data.root={tmp_path / 'nope'}"])
    assert "no images at" in SU.missing_data(folder)
    assert SU.missing_data(C.load_config("quickstart")) is None  # synthetic


def _suite_of_worlds(root: Path, diffs: list[float]) -> Path:
    """One task per true difference (rational vs relu, 5 seeds), written as sweeps."""
    rng = np.random.default_rng(11)
    for i, d in enumerate(diffs):
        task = CAL.write_world(root / f"task{i}", CAL.simulate_world(rng, 5, 0.3, d, 2000))
        (task / MANIFEST).write_text("runs: []\n")
    return root


def test_suite_report_ranks_counts_decisions_and_exports(tmp_path: Path) -> None:
    root = _suite_of_worlds(tmp_path / "suite", [8.0, 8.0, 8.0, 8.0, 8.0, -8.0])
    rep = SR.build_suite_report(root, bootstrap=0)
    assert rep["tasks"] == [f"task{i}" for i in range(6)] and set(rep["methods"]) == {"rational", "relu"}
    # decision words, as every report uses them: inconclusive is not a tie (not "equal")
    assert rep["decision_counts"] == {"rational": {"better": 5, "inconclusive": 0, "worse": 1}}
    s = rep["summary"]
    assert s["mean_ranks"] == pytest.approx({"rational": 7 / 6, "relu": 11 / 6})
    doc = json.loads(SP.render_text(rep, "json"))
    assert {"tasks", "per_task", "mean_ranks", "friedman", "critical_difference", "cliques"} <= set(doc)
    assert doc["per_task"]["task5"]["rational"]["decision"] == "worse"
    md = SP.render_text(rep, "md")
    assert "| rational | 1.17 | 5 / 0 / 1 |" in md and "Friedman chi2" in md
    assert "better / inconclusive / worse vs relu" in md and not re.search(r"\b(wins?|ties?|loss)\b", md)
    assert doc["decision_counts"] == rep["decision_counts"] and "wins" not in doc
    assert SP.render_text(rep, "csv").count("\n") == 1 + 12
    SP.write_html(rep, tmp_path / "s.html")
    page = (tmp_path / "s.html").read_text()
    assert 'id="ranks"' in page and "data:image/png;base64," in page and "Iman-Davenport" in page
    # the numbers behind each decision: Δ [interval], p(Holm) per task, for every method but the baseline
    heads, rows = SP.decision_table(rep).heads, SP.decision_table(rep).rows
    assert heads == ["method", *rep["tasks"]] and [r[0] for r in rows] == ["rational"]
    worse = rep["per_task"]["task5"]["rational"]
    lo, hi = worse["decision_ci"]
    assert (
        hi < 0
        and rows[0][6]
        == f"{worse['diff']:+.2f} [{lo:+.2f}, {hi:+.2f}], p(Holm) = {worse['decision_p_holm']:.2g}"
    )
    assert rows[0][6] in md and 'id="deltas"' in page
    # a Markdown page with the diagram beside it, linked relative to the page
    out, png = tmp_path / "docs" / "suite.md", tmp_path / "docs" / "figs" / "suite-cd.png"
    out.parent.mkdir()  # the figure's folder is made when missing
    SR.suite_report_main(root, fmt="md", out=out, plot=png)
    assert "![suite-cd](figs/suite-cd.png)" in out.read_text()
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_task_whose_runs_never_started_is_listed_as_missing_not_an_error(tmp_path: Path) -> None:
    """`suite run` writes a task's sweep.yaml before its first run folder (stopped, or a launcher that
    could not start): the report refused the whole suite ("no run folders under ...") where it lists
    what is missing, and --allow-incomplete ranks the tasks that have runs, as for a task not started."""
    root = _suite_of_worlds(tmp_path / "suite", [8.0] * 5)
    (root / "task9").mkdir()
    (root / "task9" / MANIFEST).write_text("runs:\n- name: relu-s0\n  overrides: {}\n")
    rep = SR.build_suite_report(root, bootstrap=0)
    assert rep["withheld"] and rep["summary"] is None
    assert "task task9: 1 planned run(s) not completed: relu-s0 not started" in rep["warnings"]
    rep = SR.build_suite_report(root, bootstrap=0, allow_incomplete=True)
    assert rep["tasks"] == [f"task{i}" for i in range(5)] and rep["summary"]["tasks"] == 5


def test_suite_report_errors_are_one_line(tmp_path: Path) -> None:
    res = runner.invoke(app, ["suite", "report", str(tmp_path)])
    assert res.exit_code != 0 and "no task sweeps in it" in res.output and "Traceback" not in res.output
    res = runner.invoke(app, ["suite", "report", str(tmp_path / "x"), "--format", "xml"])
    assert res.exit_code != 0 and "not a folder" in res.output


TINY = [
    "data.train_size=120",
    "data.test_size=60",
    "data.val_size=20",
    "train.epochs=1",
    "train.batch_size=20",
]


def test_suite_run_and_report_with_an_outside_activation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`actbench suite run` with relu and examples/custom_activation.py's Snake (seed 0) on two tiny
    tasks (and a third whose data is missing: skipped with one line), re-run (nothing to do), then
    `suite report`."""
    examples = str(REPO / "examples")
    monkeypatch.syspath_prepend(examples)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([examples, os.environ.get("PYTHONPATH", "")]))
    suite = {
        "name": "tiny",
        "tasks": [
            {"name": "cnn", "config": "quickstart", "set": ["model.channels=[4,4,4]", *TINY]},
            {"name": "mlp", "config": "quickstart", "set": ["model.name=mlp", "data.data_seed=1", *TINY]},
            {
                "name": "c100",
                "config": "cifar100_relu",
                "set": [f"data.root={tmp_path}", "data.download=false"],
            },
        ],
    }
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(suite))
    argv = ["suite", "run", str(tmp_path / "tiny.yaml"), "--acts", "relu,custom_activation:Snake"]
    argv += ["--seeds", "0", "--out", str(tmp_path / "runs"), "--workers", "2", "--log-format", "text"]
    res = runner.invoke(app, argv)
    assert res.exit_code == 0, res.output
    assert "task c100: skipped: cifar100:" in res.output
    folder = tmp_path / "runs" / "tiny"
    assert sorted(p.name for p in folder.iterdir()) == ["cnn", "mlp", "suite.yaml"]  # suite.yaml: its tasks
    res = runner.invoke(app, argv)  # again: everything skipped as completed
    assert res.exit_code == 0 and "skipped (completed" in res.output
    html = tmp_path / "t.html"
    res = runner.invoke(app, ["suite", "report", str(folder), "--format", "json", "--html", str(html)])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["tasks"] == ["cnn", "mlp"] and set(doc["mean_ranks"]) == {"relu", "custom_activation:Snake"}
    assert doc["friedman"]["df"] == 1 and doc["critical_difference"] > 0
    assert doc["significance"] is False  # 2 tasks: mean ranks only (autorank's convention)
    assert (
        doc["incomplete"]["skipped"].keys() == {"c100"} and not doc["verdict_withheld"]
    )  # named, not awaited
    assert "data:image/png;base64," not in html.read_text()  # no verdict across 2 tasks: no CD diagram


def test_suite_run_refuses_a_val_size_above_the_training_set_before_any_run(tmp_path: Path) -> None:
    # was: every run of every task started, failed at data loading, and the suite reported them failed
    res = runner.invoke(
        app, ["suite", "run", "smoke", "--acts", "relu", "--seeds", "0", "--out", str(tmp_path),
              "--set", "data.val_size=100000"],
    )  # fmt: skip
    assert res.exit_code != 0 and "data.val_size: 100000 must be smaller than data.train_size" in res.output
    assert "Traceback" not in res.output and not any(tmp_path.iterdir())


def test_suite_dry_run_plans_every_task_and_writes_nothing(tmp_path: Path) -> None:
    res = runner.invoke(
        app,
        [
            "suite",
            "run",
            "smoke",
            "--acts",
            "relu,elu",
            "--seeds",
            "0,1",
            "--out",
            str(tmp_path),
            "--dry-run",
        ],
    )
    assert res.exit_code == 0, res.output
    spec = SU.load_suite("smoke")
    for task in spec.tasks:
        assert f"task {task.name} ({task.config}):" in res.output
    assert res.output.count("relu-s1") == len(spec.tasks) and not any(tmp_path.iterdir())


def test_suite_plans_every_task_before_the_first_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A task that cannot be planned stops the suite before any task trains (was: after those before it)."""
    from actbench.sweep import plan as S

    real = S.plan_from_options

    def plan_or_fail(config, sets, acts, seeds, grid, name, out, **kwargs):  # noqa: ANN001, ANN003, ANN202
        if name == "mlp-synth":
            raise C.ConfigError("model.widths: planted error")
        return real(config, sets, acts, seeds, grid, name, out, **kwargs)

    monkeypatch.setattr(S, "plan_from_options", plan_or_fail)
    res = runner.invoke(app, ["suite", "run", "smoke", "--acts", "relu", "--out", str(tmp_path)])
    assert res.exit_code != 0 and "task mlp-synth: model.widths: planted error" in res.output
    assert not any(tmp_path.rglob("summary.json")) and "started" not in res.output


def test_few_tasks_give_ranks_only_and_the_other_endpoint_is_checked(tmp_path: Path) -> None:
    """3 tasks x 2 seeds: mean ranks, no Friedman verdict and no CD diagram (fewer than 5 tasks); the
    decisions are labelled 1 df; rational leads at the last epoch and trails at the best-validation one,
    so the report warns that the cross-task result depends on the endpoint."""
    from tests.factories import write_run

    root = tmp_path / "suite"
    for t in range(3):
        task = root / f"t{t}"
        for s in (0, 1):
            write_run(task, f"relu-s{s}", "relu", s, acc=0.50 + 0.01 * s)
            run = write_run(task, f"rational-s{s}", "rational", s, acc=0.60 + 0.012 * s)
            summary = json.loads((run / "summary.json").read_text())
            summary["best"]["test_acc"] = 0.40
            (run / "summary.json").write_text(json.dumps(summary))
        (task / MANIFEST).write_text("runs: []\n")
    text, rep = SR.suite_report_main(root, fmt="md", plot=tmp_path / "cd.png")
    assert rep["summary"]["significance"] is False and not (tmp_path / "cd.png").exists()
    assert "mean ranks only" in text and "Friedman chi2" not in text and "critical-difference diagram" in text
    assert "(n=2, better, 1 df)" in text and "p(Holm) = " in text and ", 1 df |" in text
    (note,) = [w for w in rep["warnings"] if "depends on the endpoint" in w]
    assert "best-validation epoch (not the primary one) the mean ranks are relu 1.00, rational 2.00" in note
    assert "final epoch, the primary endpoint" in text
    # one Holm family over every decision the page prints: the three tasks' comparisons together
    from actbench.stats.decisions import holm

    rows = [rep["per_task"][t]["rational"] for t in rep["tasks"]]
    assert rep["family"] == 3
    assert [r["decision_p_holm"] for r in rows] == pytest.approx(holm([r["decision_p"] for r in rows]))


def test_a_suite_runs_from_python(tmp_path: Path) -> None:
    """suites.run: plan and run a suite without the command line; the outcome says how each task ended
    (the CLI adds only printing); a second run skips what is done."""
    from actbench.suites.run import plan_suite, run_suite

    sets = ["train.epochs=1", "data.train_size=64", "data.test_size=32", "data.val_size=0"]
    plan = plan_suite("smoke", ["relu"], [0], sets, name="py", out=tmp_path)
    assert [tp.task.name for tp in plan.tasks] == [t.name for t in SU.load_suite("smoke").tasks]
    notes: list[str] = []
    result = run_suite(plan, workers=2, on_note=notes.append)
    assert result.exit_code == 0 and {t.result for t in result.tasks} == {"completed"}
    assert [t.task for t in result.tasks] == [tp.task.name for tp in plan.tasks]
    assert all((t.sweep_dir / "relu-s0" / "summary.json").is_file() for t in result.tasks)
    assert any(n.startswith("=== suite smoke: task 1/") for n in notes)
    again = run_suite(plan_suite("smoke", ["relu"], [0], sets, name="py", out=tmp_path))
    assert all(s.state.startswith("skipped") for t in again.tasks for s in t.statuses)


def test_a_suite_from_python_refuses_fewer_than_one_worker_before_writing(tmp_path: Path) -> None:
    """run_suite(workers=-1) left no worker slot: the first task's sweep loop spun forever."""
    from actbench.errors import UserError
    from actbench.suites.run import plan_suite, run_suite

    plan = plan_suite("smoke", ["relu"], [0], ["train.epochs=1"], name="w", out=tmp_path)
    with pytest.raises(UserError, match="^workers: -1 "):
        run_suite(plan, workers=-1)
    assert not (tmp_path / "w").exists()


def test_suite_run_takes_the_sweep_log_and_tensorboard_options(tmp_path: Path) -> None:
    """--summary-every and --tensorboard as `actbench sweep` takes them: a summary line per update at 0 s,
    TensorBoard event files in each run folder."""
    pytest.importorskip("tensorboard")
    suite = {
        "name": "tb",
        "tasks": [{"name": "cnn", "config": "quickstart", "set": [*TINY, "train.epochs=1"]}],
    }
    (tmp_path / "tb.yaml").write_text(yaml.safe_dump(suite))
    argv = [
        "suite",
        "run",
        str(tmp_path / "tb.yaml"),
        "--acts",
        "relu",
        "--seeds",
        "0",
        "--out",
        str(tmp_path),
    ]
    res = runner.invoke(app, [*argv, "--log-format", "text", "--summary-every", "0", "--tensorboard"])
    assert res.exit_code == 0, res.output
    assert sum(" sweep: " in line for line in res.output.splitlines()) >= 2, res.output  # not one per 60 s
    assert any((tmp_path / "tb" / "cnn" / "relu-s0" / "tensorboard").iterdir())


def test_a_suite_with_tensorboard_runs_is_refused_without_tensorboard(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before any task runs, from Python and from `suite run --tensorboard` (dry run too): one line with
    the install command, nothing written."""
    import importlib.util

    from actbench.errors import UserError
    from actbench.suites.run import plan_suite

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "tensorboard" else real(name, *a)
    )
    sets = ["train.epochs=1", "data.train_size=64", "data.test_size=32", "data.val_size=0"]
    with pytest.raises(UserError, match=r"^tensorboard: not installed; install it with: pip install"):
        plan_suite("smoke", ["relu"], [0], [*sets, "run.tensorboard=true"], name="tb", out=tmp_path)
    assert plan_suite("smoke", ["relu"], [0], sets, name="tb", out=tmp_path).tasks  # the extra alone
    argv = ["suite", "run", "smoke", "--acts", "relu", "--out", str(tmp_path), "--name", "tb", "--dry-run"]
    res = runner.invoke(app, [*argv, *[a for s in sets for a in ("--set", s)], "--tensorboard"])
    assert res.exit_code == 2 and "tensorboard: not installed" in res.output
    assert not (tmp_path / "tb").exists()


def test_suite_folder_follows_run_out_without_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without --out a suite goes under run.out, as a sweep does (`--set run.out=X` was accepted and
    ignored: the suite went to ./runs); tasks whose configs disagree on run.out need --out."""
    from actbench.suites.run import plan_suite

    monkeypatch.chdir(tmp_path)
    sets = ["train.epochs=1", "data.train_size=64", "data.test_size=32", "data.val_size=0"]
    assert plan_suite("smoke", ["relu"], [0], sets, name="o").root == Path("runs") / "o"
    plan = plan_suite("smoke", ["relu"], [0], [*sets, f"run.out={tmp_path / 'elsewhere'}"], name="o")
    assert plan.root == tmp_path / "elsewhere" / "o"
    suite = tmp_path / "mixed.yaml"
    suite.write_text(
        "name: mixed\ntasks:\n"
        "  - {name: a, config: quickstart, set: [run.out=one]}\n"
        "  - {name: b, config: quickstart, set: [run.out=two]}\n"
    )
    with pytest.raises(SU.SuiteError, match=r"--out: the tasks' run.out differ \(one, two\)"):
        plan_suite(str(suite), ["relu"], [0], sets, name="m")
    assert plan_suite(str(suite), ["relu"], [0], sets, name="m", out=tmp_path).root == tmp_path / "m"
