"""Runs are grouped by what they trained on, not where it lay or how fast it ran (report.groups), and the
provenance says when a group's runs were trained on different footings."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from actbench.report.build import build_report
from actbench.report.groups import group_runs, load_runs
from tests.factories import make_folder, write_run


def _env(run: Path, fingerprint: str | None, device: str = "cpu", torch: str = "2.14.1") -> None:
    doc = {"device": device, "device_name": device, "torch": torch, "effective": {"compile": False}}
    if fingerprint:
        doc["data_fingerprint"] = fingerprint
    (run / "env.json").write_text(json.dumps(doc))


def test_copies_of_one_data_set_and_thread_counts_form_one_group(tmp_path: Path) -> None:
    """relu at two roots (a recorded fingerprint, and one computed from a copy's path) with other thread
    counts is one group of 2 seeds; the same config on other images is a group of its own."""
    make_folder(tmp_path / "a", {"cat": 2, "dog": 2})
    shutil.copytree(tmp_path / "a", tmp_path / "copy")
    make_folder(tmp_path / "other", {"cat": 2, "dog": 2}, seed=3)
    runs = tmp_path / "runs"
    from actbench.data.fingerprint import folder_fingerprint

    r0 = write_run(runs, "relu-s0", "relu", 0, data__name="folder", data__root=str(tmp_path / "a"))
    _env(r0, folder_fingerprint(tmp_path / "a"))
    r1 = write_run(
        runs, "relu-s1", "relu", 1, data__name="folder", data__root=str(tmp_path / "copy"), train__threads=1
    )
    _env(r1, None)  # written before data_fingerprint existed: computed from data.root
    r2 = write_run(runs, "relu-s2", "relu", 2, data__name="folder", data__root=str(tmp_path / "other"))
    _env(r2, None)
    loaded, warnings = load_runs([runs])
    groups = group_runs(loaded)
    assert sorted(len(g.runs) for g in groups) == [1, 2] and not warnings
    labels = [g.label for g in groups]
    assert all(x.startswith("relu (data.fingerprint=sha256:") and len(x) == 43 for x in labels), labels


def test_a_lost_root_groups_by_path_with_one_warning(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    for seed, root in enumerate(("gone/a.tar.gz", "gone/a.tar.gz", "elsewhere/a.tar.gz")):
        _env(write_run(runs, f"relu-s{seed}", "relu", seed, data__name="folder", data__root=root), None)
    loaded, warnings = load_runs([runs])
    assert sorted(len(g.runs) for g in group_runs(loaded)) == [1, 2]
    (line,) = warnings
    assert line.startswith("3 run(s) recorded no data fingerprint and their data.root is not here")
    assert "elsewhere/a.tar.gz, gone/a.tar.gz" in line


def test_provenance_names_a_group_trained_on_two_footings(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    for seed in (0, 1):
        _env(write_run(runs, f"relu-s{seed}", "relu", seed), None)
    _env(write_run(runs, "elu-s0", "elu", 0), None, device="cuda", torch="2.11.0")
    _env(write_run(runs, "elu-s1", "elu", 1), None)
    p = build_report([runs], with_provenance=True).provenance
    assert p["mixed_groups"] == {"elu": "cpu, torch 2.14.1, eager (1), cuda, torch 2.11.0, eager (1)"}
    assert p["footings"] == "cpu, torch 2.14.1, eager (3), cuda, torch 2.11.0, eager (1)"


def test_group_labels_use_the_fewest_keys_that_tell_groups_apart(tmp_path: Path) -> None:
    """Two sweeps that differ in three settings moving together: one key names them (all three did,
    a dozen on real sweeps: 641 lines of continued tables); a third group differing in one more key adds
    that key; groups of different activations with the same settings are told apart by the name."""
    from actbench.report.groups import group_runs, label_keys, load_runs

    for act in ("relu", "elu"):
        write_run(
            tmp_path / "a", f"{act}-s0", act, 0, optim__lr=0.001, train__batch_size=100, data__train_size=400
        )
        write_run(
            tmp_path / "b", f"{act}-s0", act, 0, optim__lr=0.01, train__batch_size=50, data__train_size=800
        )
    runs, _ = load_runs([tmp_path / "a", tmp_path / "b"])
    groups = group_runs(runs)
    assert len(label_keys(groups)) == 1
    assert sorted(g.label for g in groups) == [
        "elu (data.train_size=400)", "elu (data.train_size=800)",
        "relu (data.train_size=400)", "relu (data.train_size=800)",
    ]  # fmt: skip
    write_run(
        tmp_path / "c", "relu-s0", "relu", 0, optim__lr=0.01, train__batch_size=50, data__train_size=400
    )
    runs, _ = load_runs([tmp_path / "a", tmp_path / "b", tmp_path / "c"])
    groups = group_runs(runs)
    assert len(label_keys(groups)) == 2 and len({g.label for g in groups}) == len(groups) == 5
    runs, _ = load_runs([tmp_path / "a"])
    assert sorted(g.label for g in group_runs(runs)) == ["elu", "relu"]  # the name tells them apart
