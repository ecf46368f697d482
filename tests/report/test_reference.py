"""`actbench report RUNS --reference OTHER`: the same groups of another sweep side by side, each with its
own decision; learned parameters of both next to the paper's; figures linked from a Markdown page."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from actbench.cli import app
from actbench.report.build import build_report
from tests.factories import write_run

runner = CliRunner()

# (activation, accuracy per seed): the long sweep, one seed, against a short one with three seeds where
# rational is clearly better than relu and elu clearly worse
LONG = {"relu": [0.77], "elu": [0.79], "rational": [0.80]}
SHORT = {"relu": [0.70, 0.71, 0.72], "elu": [0.655, 0.66, 0.665], "rational": [0.755, 0.765, 0.77]}


def _sweep(root: Path, accs: dict[str, list[float]], epochs: int) -> Path:
    for act, values in accs.items():
        for seed, acc in enumerate(values):
            learned = {"conv1": 0.1 * epochs} if act == "rational" else None
            write_run(root, f"{act}-s{seed}", act, seed, acc=acc, epochs=epochs, learned=learned)
    return root


def test_reference_lines_up_each_sweeps_own_decision(tmp_path: Path) -> None:
    long, short = _sweep(tmp_path / "long", LONG, 4), _sweep(tmp_path / "short", SHORT, 2)
    rep = build_report([long], reference=[short], tests="welch,paired", bootstrap=0)
    sec = rep.reference
    assert sec is not None and sec["label"] == "short"
    rows = {r["group"]: r for r in sec["rows"]}
    assert rows["relu"]["baseline"] and rows["relu"]["same_sign"] is None
    rat, elu = rows["rational"], rows["elu"]
    assert rat["this"]["n"] == 1 and rat["this"]["epoch"] == 4 and rat["this"]["decision"] == "inconclusive"
    assert abs(rat["this"]["diff"] - 3.0) < 1e-9 and rat["reference"]["n"] == 3
    assert rat["reference"]["decision"] == "better" and abs(rat["reference"]["diff"] - 16 / 3) < 1e-9
    assert rat["reference"]["ci"][0] > 0 and rat["this"]["ci"] is None  # one seed: no interval
    assert rat["same_sign"] is True
    # elu: +2 points in the long sweep, -5 (worse) in the short one
    assert elu["reference"]["decision"] == "worse" and elu["same_sign"] is False
    # the learned table holds both sweeps' values for the same group
    cols = rep.learned["columns"]
    assert "rational" in cols and "rational (short)" in cols
    assert abs(rep.learned["cells"]["rational (short)"]["conv1"]["mean"] - 0.2) < 1e-9


def test_report_reference_markdown_json_and_figures(tmp_path: Path) -> None:
    long, short = _sweep(tmp_path / "long", LONG, 4), _sweep(tmp_path / "short", SHORT, 2)
    page, plots = tmp_path / "docs" / "page.md", tmp_path / "docs" / "page-plots"
    page.parent.mkdir()
    args = ["report", str(long), "--reference", str(short), "--tests", "welch,paired", "--bootstrap", "0"]
    res = runner.invoke(app, [*args, "--format", "md", "--out", str(page), "--plots", str(plots)])
    assert res.exit_code == 0, res.output
    text = page.read_text()
    assert "**Compared with short (" in text
    assert "| relu | 1 | 4 | 77.00 | baseline | — | 3 | 2 | 71.00 ± 1.00 | baseline | — | — |" in text
    assert "| rational | 1 | 4 | 80.00 | +3.00 | inconclusive | 3 | 2 | 76.33 ± 0.76 | +5.33 [" in text
    assert "| elu | 1 | 4 | 79.00 | +2.00 | inconclusive | 3 | 2 | 66.00 ± 0.50 | -5.00 [" in text
    assert "] | better | yes |" in text and "] | worse | no |" in text
    # figures: linked relative to the page, and every link points at a file that exists
    links = [line[line.index("(") + 1 : -1] for line in text.splitlines() if line.startswith("![")]
    assert "page-plots/val_acc.png" in links and all((page.parent / f).is_file() for f in links)
    res = runner.invoke(app, [*args, "--format", "json"])
    doc = json.loads(res.output)
    assert doc["options"]["reference"] == [str(short)] and doc["reference"]["label"] == "short"
    res = runner.invoke(app, [*args])  # the terminal tables and the LaTeX export carry it too
    assert res.exit_code == 0 and "Compared with short" in res.output
    res = runner.invoke(app, [*args, "--format", "latex"])
    assert res.exit_code == 0 and r"\caption{Compared with short" in res.output


def test_reference_must_be_a_folder(tmp_path: Path) -> None:
    long = _sweep(tmp_path / "long", LONG, 4)
    res = runner.invoke(app, ["report", str(long), "--reference", str(tmp_path / "nope")])
    assert res.exit_code != 0 and "--reference" in res.output and "Traceback" not in res.output
