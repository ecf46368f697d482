"""CIFAR-10-C evaluation of runs (actbench.robustness.evaluate): in memory and from published-layout .npy
files, corruptions.json / corruption-predictions.npz, and the eval/sweep CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from actbench import config as C
from actbench import evaluation as E
from actbench import runs
from actbench import session as S
from actbench.cli import app
from actbench.robustness import evaluate as CE
from actbench.training import loop as T
from tests.factories import LEARNABLE, TINY, tiny_config

runner = CliRunner()
NAMES = ["gaussian_noise", "contrast"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = T.create_run(tiny_config(*LEARNABLE), tmp_path_factory.mktemp("runs"), "trained")
    assert T.run_training(run_dir)["status"] == "completed"
    return run_dir


def session_for(run_dir: Path, **overrides: object) -> S.Session:
    s = S.make_session(C.replace(C.load_run_config(run_dir), **overrides))
    E.load_weights(s, run_dir, "last")
    return s


@pytest.fixture
def session(trained: Path) -> S.Session:
    return session_for(trained)


def write_published(root: Path, s: S.Session, names: list[str], seed: int = 0, extra: int = 0) -> None:
    """<name>.npy (5 m, 32, 32, 3) uint8 and labels.npy in the published layout, m = test images + `extra`
    (more images than the run evaluates): each severity block holds the in-memory corruption."""
    x, y = s.splits.test_x, s.splits.test_y
    pad_x = torch.zeros(extra, *x.shape[1:], dtype=torch.uint8)
    root.mkdir(parents=True, exist_ok=True)
    for name in names:
        blocks = [torch.cat([*CE.memory_chunks(x, name, sev, seed), pad_x]) for sev in range(1, 6)]
        np.save(root / f"{name}.npy", torch.cat(blocks).permute(0, 2, 3, 1).numpy())
    labels = torch.cat([y, torch.zeros(extra, dtype=y.dtype)]).repeat(5).numpy().astype(np.uint8)
    np.save(root / "labels.npy", labels)


def test_clean_part_reproduces_the_plain_evaluation(session: S.Session) -> None:
    result, preds = CE.corruption_eval(session, ["contrast"], [1], seed=0)
    plain = E.evaluate(session, "test")
    assert result["clean"]["acc"] == plain["acc"]
    assert result["clean"]["loss"] == pytest.approx(plain["loss"], rel=1e-6)
    assert set(preds) == {"labels", "clean", "contrast/1"} and len(preds["clean"]) == result["n"] == 400
    acc = (preds["contrast/1"] == preds["labels"]).float().mean().item()
    assert acc == pytest.approx(result["results"]["contrast"][0]["acc"])


def test_results_do_not_depend_on_the_eval_batch_size(trained: Path, session: S.Session) -> None:
    a, pa = CE.corruption_eval(session, ["gaussian_noise"], [3], seed=4)
    other = session_for(trained, **{"train.eval_batch_size": 37})
    b, pb = CE.corruption_eval(other, ["gaussian_noise"], [3], seed=4)
    ea, eb = a["results"]["gaussian_noise"][0], b["results"]["gaussian_noise"][0]
    assert ea["acc"] == eb["acc"] and ea["loss"] == pytest.approx(eb["loss"], rel=1e-5)  # float sums differ
    assert torch.equal(pa["gaussian_noise/3"], pb["gaussian_noise/3"])
    c, _ = CE.corruption_eval(session, ["gaussian_noise"], [3], seed=5)
    assert c["results"] != a["results"]  # another seed, other noise


def test_severe_corruptions_cost_accuracy(session: S.Session) -> None:
    result, _ = CE.corruption_eval(session, ["contrast", "impulse_noise"], [1, 5], seed=0)
    for name in ("contrast", "impulse_noise"):
        s1, s5 = (e["acc"] for e in result["results"][name])
        assert s5 < s1 <= result["clean"]["acc"] + 0.02, (name, s1, s5)


def test_published_files_give_the_same_results_as_memory(session: S.Session, tmp_path: Path) -> None:
    root = tmp_path / "CIFAR-10-C"
    write_published(root, session, NAMES, seed=2, extra=3)
    mem, pm = CE.corruption_eval(session, NAMES, [1, 2, 5], seed=2)
    npy, pn = CE.corruption_eval(session, NAMES, [1, 2, 5], root=root)
    assert npy["results"] == mem["results"] and npy["source"] == "npy" and npy["seed"] is None
    assert all(torch.equal(pm[k], pn[k]) for k in pm)


def test_published_files_must_match_the_test_split(session: S.Session, tmp_path: Path) -> None:
    root = tmp_path / "c"
    write_published(root, session, ["contrast"])
    labels = np.load(root / "labels.npy")
    np.save(root / "labels.npy", (labels + 1) % 4)
    with pytest.raises(ValueError, match="does not match the run's test split"):
        CE.corruption_eval(session, ["contrast"], [1], root=root)
    (root / "labels.npy").unlink()
    with pytest.raises(ValueError, match="labels.npy is missing"):
        CE.corruption_eval(session, ["contrast"], [1], root=root)
    write_published(root, session, ["contrast"])
    np.save(root / "contrast.npy", np.zeros((10, 24, 24, 3), np.uint8))
    with pytest.raises(ValueError, match=r"has shape \(10, 24, 24, 3\)"):
        CE.corruption_eval(session, ["contrast"], [1], root=root)


def test_option_parsing_names_the_option_and_the_allowed_values(tmp_path: Path) -> None:
    assert CE.parse_severities("1-5") == [1, 2, 3, 4, 5] and CE.parse_severities("5,1,3-4") == [1, 3, 4, 5]
    for bad in ("0-2", "6", "a", ""):
        with pytest.raises(ValueError, match="--severities"):
            CE.parse_severities(bad)
    assert "glass_blur" in CE.parse_corruptions("all") and "snow" not in CE.parse_corruptions("all")
    with pytest.raises(ValueError, match="snow.*--corrupted-root"):
        CE.parse_corruptions("snow")
    with pytest.raises(ValueError, match="allowed: all, gaussian_noise"):
        CE.parse_corruptions("gauss")
    np.save(tmp_path / "snow.npy", np.zeros((5, 32, 32, 3), np.uint8))
    assert CE.parse_corruptions("all", tmp_path) == ["snow"]  # with files: what the folder holds


def test_save_merges_same_checkpoint_and_replaces_otherwise(trained: Path, session: S.Session) -> None:
    for f in (runs.CORRUPTIONS, runs.CORRUPTION_PREDICTIONS):
        (trained / f).unlink(missing_ok=True)
    CE.save(trained, *CE.corruption_eval(session, ["contrast"], [1], seed=0, epoch=4))
    CE.save(trained, *CE.corruption_eval(session, ["contrast", "gaussian_noise"], [2], seed=0, epoch=4))
    doc = runs.read_json(trained / runs.CORRUPTIONS)
    assert [e["severity"] for e in doc["results"]["contrast"]] == [1, 2]
    with np.load(trained / runs.CORRUPTION_PREDICTIONS) as f:
        assert {"labels", "clean", "contrast/1", "contrast/2", "gaussian_noise/2"} <= set(f.files)
        assert f["clean"].dtype == np.uint8 and len(f["labels"]) == 400
    assert not CE.missing(trained, ["contrast"], [1, 2], 0) and CE.missing(trained, ["contrast"], [3], 0)
    summary = runs.read_json(trained / runs.SUMMARY)
    runs.write_json(trained / runs.SUMMARY, {**summary, "last": {**summary["last"], "epoch": 6}})  # extended
    assert CE.missing(trained, ["contrast"], [1], 0)  # results of epoch 4: a sweep redoes them
    runs.write_json(trained / runs.SUMMARY, summary)
    CE.save(trained, *CE.corruption_eval(session, ["contrast"], [3], seed=1, epoch=4))  # another seed
    doc = runs.read_json(trained / runs.CORRUPTIONS)
    assert list(doc["results"]) == ["contrast"] and doc["seed"] == 1
    with np.load(trained / runs.CORRUPTION_PREDICTIONS) as f:
        assert "contrast/1" not in f.files


def test_results_from_two_published_folders_are_not_merged(
    trained: Path, session: S.Session, tmp_path: Path
) -> None:
    """Two CIFAR-10-C copies (or versions) are two sources: results from the second replace the first's in
    corruptions.json instead of standing beside them as one name's severities, and a sweep does not skip a
    run evaluated from another folder (both merged and skipped before: `root` was not compared)."""
    for f in (runs.CORRUPTIONS, runs.CORRUPTION_PREDICTIONS):
        (trained / f).unlink(missing_ok=True)
    first, second = tmp_path / "c10c-a", tmp_path / "c10c-b"
    write_published(first, session, ["contrast"])
    write_published(second, session, ["contrast"])
    CE.save(trained, *CE.corruption_eval(session, ["contrast"], [1], epoch=4, root=first))
    assert not CE.missing(trained, ["contrast"], [1], root=first)
    assert CE.missing(trained, ["contrast"], [1], root=second)
    CE.save(trained, *CE.corruption_eval(session, ["contrast"], [2], epoch=4, root=second))
    doc = runs.read_json(trained / runs.CORRUPTIONS)
    assert doc["root"] == str(second) and [e["severity"] for e in doc["results"]["contrast"]] == [2]


def test_cli_eval_corruptions_writes_json_and_prints_a_table(trained: Path, tmp_path: Path) -> None:
    (trained / runs.CORRUPTIONS).unlink(missing_ok=True)
    res = runner.invoke(
        app, ["eval", str(trained), "--corruptions", "contrast,pixelate", "--severities", "1,5"]
    )
    assert res.exit_code == 0, res.output
    assert "contrast" in res.output and "s5" in res.output and "corruptions.json" in res.output
    doc = runs.read_json(trained / runs.CORRUPTIONS)
    assert [e["severity"] for e in doc["results"]["pixelate"]] == [1, 5] and doc["source"] == "memory"
    root = tmp_path / "c10c"
    write_published(root, session_for(trained), ["contrast"])
    res = runner.invoke(app, ["eval", str(trained), "--corruptions", "all", "--corrupted-root", str(root)])
    assert res.exit_code == 0, res.output
    doc = runs.read_json(trained / runs.CORRUPTIONS)
    assert (
        doc["source"] == "npy"
        and list(doc["results"]) == ["contrast"]
        and len(doc["results"]["contrast"]) == 5
    )


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--corruptions", "snow"], "--corrupted-root"),
        (["--corruptions", "contrast", "--severities", "0"], "--severities"),
        (["--severities", "1"], "only apply with --corruptions"),
        (["--corruptions", "contrast", "--split", "val"], "test split"),
    ],
)
def test_cli_bad_corruption_options_are_one_line_errors(trained: Path, extra: list[str], needle: str) -> None:
    res = runner.invoke(app, ["eval", str(trained), *extra])
    assert res.exit_code == 2 and needle in res.output and "Traceback" not in res.output, res.output


def test_sweep_corruptions_evaluates_every_completed_run_once(tmp_path: Path) -> None:
    args = ["sweep", "--acts", "relu,elu", "--seeds", "0", "--out", str(tmp_path), "--name", "sw"]
    for item in (*TINY, "train.epochs=1"):
        args += ["--set", item]
    res = runner.invoke(app, [*args, "--corruptions", "contrast", "--severities", "2"])
    assert res.exit_code == 0, res.output
    for act in ("relu", "elu"):
        doc = runs.read_json(tmp_path / "sw" / f"{act}-s0" / runs.CORRUPTIONS)
        assert [e["severity"] for e in doc["results"]["contrast"]] == [2]
    res = runner.invoke(app, [*args, "--corruptions", "contrast", "--severities", "2"])
    assert res.exit_code == 0 and res.output.count("already evaluated, skipped") == 2, res.output
    res = runner.invoke(app, [*args, "--corruptions", "fog"])  # checked before anything runs
    assert res.exit_code == 2 and "--corrupted-root" in res.output


def test_damaged_published_files_are_one_line_naming_the_file(session: S.Session, tmp_path: Path) -> None:
    """Issue 24: a float .npy was cast to uint8 (every image black), an undersized one was sliced across
    severities, a garbage one gave numpy's error without the file name."""
    root = tmp_path / "c"
    write_published(root, session, ["contrast"])
    good = np.load(root / "contrast.npy")
    cases = {
        "float": (good.astype(np.float32) / 255, r"contrast\.npy holds float32 values, expected uint8"),
        "undersized": (good[:-10], r"contrast\.npy holds 398 images per severity, fewer than the run's 400"),
    }
    for array, needle in cases.values():
        np.save(root / "contrast.npy", array)
        with pytest.raises(ValueError, match=needle):
            CE.corruption_eval(session, ["contrast"], [1], root=root)
    (root / "contrast.npy").write_bytes(b"\x93NUMPY garbage, not an array")
    with pytest.raises(ValueError, match=r"contrast\.npy is not a readable \.npy array") as err:
        CE.parse_corruptions("contrast", root)  # refused when the option is read, before any training
    assert "\n" not in str(err.value)
    (root / "labels.npy").write_bytes(b"junk")
    np.save(root / "contrast.npy", good)
    with pytest.raises(ValueError, match=r"labels\.npy is not a readable \.npy array"):
        CE.corruption_eval(session, ["contrast"], [1], root=root)
