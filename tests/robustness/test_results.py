"""Evaluation files (robustness.json, corruptions.json) merged one way."""

from __future__ import annotations

from pathlib import Path

from actbench import runs
from actbench.robustness.results import merge_results, save_merged


def _result(seed: int, **results: list[dict]) -> dict:
    return {"checkpoint": "last", "epoch": 3, "seed": seed, "split": "test", "results": results}


def test_merge_results_keeps_old_entries_of_the_same_measurement() -> None:
    same = ("checkpoint", "epoch", "seed", "split")
    old = _result(
        0, gaussian=[{"level": 0.1, "acc": 0.5}, {"level": "bad"}], uniform=[{"level": 0.1, "acc": 0.6}]
    )
    new = _result(0, gaussian=[{"level": 0.1, "acc": 0.55}, {"level": 0.0, "acc": 0.9}])
    merged = merge_results(old, new, same, "level", float)
    assert merged["results"]["gaussian"] == [{"level": 0.0, "acc": 0.9}, {"level": 0.1, "acc": 0.55}]
    assert merged["results"]["uniform"] == [{"level": 0.1, "acc": 0.6}]  # kept; the damaged entry dropped
    assert merge_results(old, _result(1, gaussian=[]), same, "level", float) is not old  # another seed
    assert merge_results(old, _result(1, gaussian=[]), same, "level", float)["results"] == {"gaussian": []}


def test_save_merged_replaces_an_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "robustness.json"
    path.write_text("{not json")
    new = _result(0, gaussian=[{"level": 0.1, "acc": 0.5}])
    assert save_merged(path, new, ("seed",), "level", float) == new
    assert runs.read_json(path) == new


def test_a_damaged_results_list_neither_poisons_the_merge_nor_crashes_the_skip_check(tmp_path: Path) -> None:
    """A corruptions.json / robustness.json edited by hand or damaged so that one name's results are no
    list: the merge drops them and `missing` says "evaluate again"; both raised TypeError (int not
    iterable)."""
    from actbench.robustness import evaluate as CE

    same = ("checkpoint", "epoch", "seed", "split")
    old = _result(0, gaussian=5, uniform=[{"level": 0.1, "acc": 0.6}])  # type: ignore[arg-type]
    new = _result(0, gaussian=[{"level": 0.1, "acc": 0.55}])
    merged = merge_results(old, new, same, "level", float)
    assert merged["results"] == {
        "gaussian": [{"level": 0.1, "acc": 0.55}],
        "uniform": old["results"]["uniform"],
    }
    runs.write_json(tmp_path / runs.SUMMARY, {"status": "completed", "last": {"epoch": 3}})
    doc = {"checkpoint": "last", "epoch": 3, "seed": 0, "split": "test", "source": "memory"}
    runs.write_json(tmp_path / runs.CORRUPTIONS, doc | {"results": {"contrast": 5}})
    assert CE.missing(tmp_path, ["contrast"], [1], 0)
