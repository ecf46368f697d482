"""benchmarks/footing_check.py: which commits trained a sweep, which resumes crossed commits, and what
counts as 'computed the same' (weights, optimizer, metrics without times, noise results)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("footing_check", REPO / "benchmarks" / "footing_check.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


F = _load()


def _run(folder: Path, starts: list[tuple[str, str]]) -> None:
    folder.mkdir(parents=True)
    summary = {"starts": [{"at": at, "git_commit": commit} for at, commit in starts]}
    (folder / "summary.json").write_text(json.dumps(summary))


def test_commits_in_order_of_first_start_and_resumes_across_commits(tmp_path: Path) -> None:
    _run(tmp_path / "relu-s1", [("2026-01-02", "bbb"), ("2026-01-03", "ccc")])
    _run(tmp_path / "relu-s0", [("2026-01-01", "aaa")])
    _run(tmp_path / "elu-s0", [("2026-01-02", "bbb"), ("2026-01-04", "bbb"), ("2026-01-05", "ccc")])
    assert F.commits_of(tmp_path) == ["aaa", "bbb", "ccc"]
    assert F.resume_pairs(tmp_path) == [("bbb", "ccc")]  # a resume by the same commit is no pair
    assert F.uncommitted_starts(tmp_path) == []
    summary = json.loads((tmp_path / "elu-s0" / "summary.json").read_text())
    summary["starts"][1]["git_dirty"] = True
    (tmp_path / "elu-s0" / "summary.json").write_text(json.dumps(summary))
    assert F.uncommitted_starts(tmp_path) == ["elu-s0@2026-01-04"]


def test_digest_sees_one_changed_value_and_zero_dim_tensors() -> None:
    state = {"w": torch.arange(6, dtype=torch.float32).reshape(2, 3), "step": torch.tensor(3.0)}
    same = {"step": torch.tensor(3.0), "w": torch.arange(6, dtype=torch.float32).reshape(2, 3)}
    assert F.digest(state) == F.digest(same)  # key order is not content
    changed = {**state, "w": state["w"].clone()}
    changed["w"][1, 2] = torch.nextafter(changed["w"][1, 2], torch.tensor(10.0))  # one ulp
    assert F.digest(changed) != F.digest(state)
    assert F.digest({**state, "step": torch.tensor(4.0)}) != F.digest(state)
    assert F.digest({**state, "w": state["w"].reshape(3, 2)}) != F.digest(state)  # shape is content


def test_fingerprint_ignores_times_and_sees_metrics(tmp_path: Path) -> None:
    def make(folder: Path, seconds: float, loss: float) -> dict[str, object]:
        folder.mkdir()
        torch.save(
            {"epoch": 1, "model": {"w": torch.ones(2)}, "optimizer": {"state": {}}},
            folder / "checkpoint-last.pt",
        )
        row = {
            "epoch": 1,
            "train_loss": loss,
            "epoch_time_s": seconds,
            "images_per_s": 1 / seconds,
            "act": {},
        }
        (folder / "metrics.jsonl").write_text(json.dumps(row) + "\n")
        (folder / "summary.json").write_text(json.dumps({"last": {"test_acc": 0.5, "test_loss": loss}}))
        return F.fingerprint(folder)

    a, b, c = make(tmp_path / "a", 1.0, 0.7), make(tmp_path / "b", 2.5, 0.7), make(tmp_path / "c", 1.0, 0.71)
    assert a == b
    assert a["metrics"] != c["metrics"] and a["weights"] == c["weights"]
    assert F.compare({"relu-s0": a}, {"relu-s0": c}, "x") == ["x relu-s0"]
    assert F.compare({"relu-s0": a}, {"relu-s0": b}, "x") == []
    assert F.compare({"relu-s0": a}, {"error": "sweep: exit 2"}, "x") == ["x: sweep: exit 2"]


def test_relative_data_root_resolved_from_the_repository() -> None:
    assert (
        F.absolute_root("data.root=../shared/x.tar.gz")
        == f"data.root={(REPO / '../shared/x.tar.gz').resolve()}"
    )
    assert F.absolute_root("data.root=/abs/x") == "data.root=/abs/x"
    assert F.absolute_root("train.epochs=2") == "train.epochs=2"


def test_a_commit_missing_from_the_repository_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="^0123456789ab: not in this repository"):
        F.extract("0123456789ab" * 3 + "0123", tmp_path)


@pytest.mark.skipif(not (REPO / ".git").exists(), reason="not a git checkout")
def test_an_extracted_commit_is_the_actbench_its_processes_import(tmp_path: Path) -> None:
    """The installed actbench (an editable install's finder, the working tree) must not win over the
    extracted tree in the processes the check starts: else every commit would 'compute the same'."""
    tree = F.extract("HEAD", tmp_path / "trees")
    assert (tree / "actbench" / "__init__.py").is_file()
    env = F.tree_env(tree)  # raises SystemExit when another actbench is imported
    assert str(tree) in env["PYTHONPATH"]
