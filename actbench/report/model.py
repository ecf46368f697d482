"""What a report is: the `Report` record (numbers), the `Document` made from it (titled tables, lists
and figures, the same for every format), the options' allowed values and the paper's reference tables.

`report.build` computes a `Report`; `report.sections` turns it into a `Document`; `report.render` draws a
`Document` as Markdown, LaTeX, HTML or terminal tables, each a loop over its blocks. `actbench suite
report` makes its own `Document` and uses the same renderers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from actbench.report.groups import Group
from actbench.runs import CHECKPOINTS

METRICS = CHECKPOINTS  # a report reads the test results of the last or the best-validation epoch
SORTS = ("paper", "name", "acc", "loss", "p")
FORMATS = ("table", "md", "csv", "latex", "json")
# --tests: which comparisons a report computes and shows (actbench.report.comparisons); all by default
TESTS = ("welch", "paired", "power", "ensemble", "calibration")
BOOTSTRAP = 2000  # --bootstrap default: resamples of the paired bootstrap CI
MEMORY_KINDS = {"max_rss": "rss", "cuda_max_allocated": "gpu"}  # peak_memory.kind -> short table label
PAPER_ORDER = ("relu", "elu", "prelu", "rational", "exponential")
# Paper Tables 2 (CIFAR-10) and 3 (CIFAR-100): test (loss, accuracy %), a single run each.
PAPER = {
    "cifar10": {
        "relu": (0.591, 77.7),
        "elu": (0.504, 80.4),
        "prelu": (0.547, 79.8),
        "rational": (0.389, 80.2),
        "exponential": (0.399, 80.8),
    },
    "cifar100": {
        "relu": (1.83, 55.0),
        "elu": (1.72, 56.1),
        "prelu": (1.81, 56.6),
        "rational": (1.66, 56.9),
        "exponential": (1.55, 56.5),
    },
}
# Paper Table 1: learned `a` per layer after CIFAR-10 training (shared per layer).
PAPER_LEARNED = {
    "prelu": {"init": 0.25, "conv1": 0.056, "conv2": 0.027, "conv3": 0.030},
    "rational": {"init": 1.0, "conv1": 0.118, "conv2": 0.103, "conv3": 0.206},
    "exponential": {"init": 0.0, "conv1": -2.11, "conv2": -2.03, "conv3": -1.66},
}


@dataclass(frozen=True)
class ReportOptions:
    """What a report compares and how: the `report` command's options, normalised and checked by
    `build.report_options` (JSON output's "options", in this order)."""

    baseline: str = "relu"  # activation every group is compared with
    metric: str = "last"  # test accuracy of the last epoch, or of the best-validation checkpoint
    sort: str = "paper"
    where: tuple[str, ...] = ()  # key=value filters on the flattened config
    paper: str | None = None  # the paper's table to print next to the runs (cifar10, cifar100)
    tests: tuple[str, ...] = TESTS  # which comparisons to compute
    bootstrap: int = BOOTSTRAP  # resamples of the P(better) interval; 0: none
    mde: float | None = None  # accuracy points to plan seeds for (power)
    reference: tuple[str, ...] = ()  # another sweep of the same groups, shown side by side (report.reference)
    explicit_baseline: bool = False  # --baseline was given: no runs of it is an error, not a warning


@dataclass
class Report:
    groups: list[Group]  # in display order, parallel to rows
    rows: list[dict[str, Any]]  # one plain dict per group (what JSON/CSV export)
    learned: dict[str, Any]  # Table-1 layout of learned activation parameters
    options: ReportOptions
    warnings: list[str]
    provenance: dict[str, Any] | None = None  # actbench.report.provenance, with --provenance
    reference: dict[str, Any] | None = None  # actbench.report.reference.reference_rows, with --reference
    figures: list[str] = field(default_factory=list)  # figure paths, relative to a Markdown page (--plots)


# --- the document: what every format shows, in order -------------------------------------------------


@dataclass(frozen=True)
class Table:
    """A titled table of display strings; `ids` leading columns name the row (never wrapped or cut)."""

    id: str  # stable anchor: HTML id, a test's handle
    title: str
    heads: list[str]
    rows: list[list[str]]
    ids: int = 1
    whole_heads: bool = False  # the headers are names too (group labels as columns): never wrapped
    text: bool = False  # cells are prose (left-aligned, may wrap at spaces); else numbers, never wrapped

    def column(self, head: str) -> list[str]:
        """The cells under `head`, top to bottom (KeyError names the missing header)."""
        if head not in self.heads:
            raise KeyError(f"{self.id}: no column {head!r} (columns: {', '.join(self.heads)})")
        i = self.heads.index(head)
        return [row[i] for row in self.rows]


@dataclass(frozen=True)
class Items:
    """A titled list of sentences (verdicts, provenance, warnings)."""

    id: str
    title: str
    items: list[str]


@dataclass(frozen=True)
class Text:
    """One paragraph."""

    id: str
    text: str


@dataclass(frozen=True)
class Figures:
    """Image files: linked from Markdown (paths relative to the page), embedded in HTML."""

    id: str
    title: str
    paths: list[str]


Block = Table | Items | Text | Figures


@dataclass
class Document:
    title: str  # the HTML page's <title> and heading; the other formats start with the first block
    blocks: list[Block]
    meta: str = ""  # one line under the HTML heading (counts, options)


def layer_key(layer: str) -> tuple[int, int, str]:
    """conv1 < conv2 < conv10 < fc1 < anything else. Other names (a torchvision network's dotted module
    names: relu, layer1.0.relu, ...) compare equal, so a stable sort keeps them in network order."""
    kind = next((i for i, p in enumerate(("conv", "fc")) if layer.startswith(p)), 2)
    if kind == 2:
        return kind, 0, ""
    digits = layer.lstrip("abcdefghijklmnopqrstuvwxyz_")
    return kind, int(digits) if digits.isdigit() else 0, layer
