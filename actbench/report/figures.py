"""Report figures (PNG; matplotlib Figure + Agg canvas: no display, no pyplot global state).

Per-epoch learning curves, one line per group with a band over seeds (the paper's Figs. 3-8), the
learned `a` of each layer over epochs, and the learned activation shapes h(v) after training.
"""

from __future__ import annotations

import math
import statistics
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from actbench import runs as R
from actbench.report.groups import Group, ReportError, Run
from actbench.report.model import Report, layer_key
from actbench.report.robustness import NOISE_UNITS, robustness_curves

CURVES = {
    "train_loss": "training loss",
    "val_loss": "validation loss",
    "train_acc": "training accuracy %",
    "val_acc": "validation accuracy %",
}
BANDS = ("minmax", "std")
V_RANGE = (-5.0, 3.0)  # activation inputs v shown in the shape figure (the negative branch matters)


def _num(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def curve_runs(group: Group) -> list[Run]:
    """Completed runs with epochs; while none has completed, any non-failed run (a live sweep plots)."""
    done = [r for r in group.completed if r.records]
    return done or [r for r in group.runs if r.records and r.status != R.FAILED]


def metric_series(run: Run, key: str) -> dict[int, float]:
    """{epoch: value} of one metrics.jsonl key; accuracies in %."""
    scale = 100.0 if key.endswith("_acc") else 1.0
    return {int(r["epoch"]): scale * r[key] for r in run.records if _num(r.get(key)) and _num(r["epoch"])}


def _act_value(record: dict[str, Any], layer: str, name: str) -> Any:
    try:
        value = record["act"][layer][name]
    except (KeyError, TypeError):
        return None
    return value.get("mean") if isinstance(value, dict) else value  # channel sharing logs mean/min/max


def act_series(run: Run, layer: str, name: str) -> dict[int, float]:
    """{epoch: learned value} of one activation parameter (the channel mean for channel sharing)."""
    pairs = ((r["epoch"], _act_value(r, layer, name)) for r in run.records)
    return {int(e): float(v) for e, v in pairs if _num(e) and _num(v)}


def act_keys(runs: list[Run]) -> list[tuple[str, str]]:
    """(layer, parameter) pairs logged in the runs' metrics, in network order."""
    keys: dict[tuple[str, str], None] = {}  # first seen first: network order for unnumbered names
    for run in runs:
        for rec in run.records:
            act = rec.get("act")
            for layer, params in (act if isinstance(act, dict) else {}).items():
                keys |= {(layer, n): None for n in (params if isinstance(params, dict) else {})}
    seen = {layer: i for i, layer in enumerate(dict.fromkeys(k[0] for k in keys))}
    return sorted(keys, key=lambda k: (layer_key(k[0]), seen[k[0]], k[1]))


def epoch_stats(series: list[dict[int, float]]) -> dict[str, list[float]]:
    """Per epoch over the runs that reached it: mean, sample std (0 for one run), min, max."""
    out: dict[str, list[float]] = {"epoch": [], "mean": [], "std": [], "min": [], "max": []}
    for epoch in sorted(set().union(*series)) if series else []:
        values = [s[epoch] for s in series if epoch in s]
        out["epoch"].append(epoch)
        out["mean"].append(statistics.fmean(values))
        out["std"].append(statistics.stdev(values) if len(values) > 1 else 0.0)
        out["min"].append(min(values))
        out["max"].append(max(values))
    return out


LINE_STYLES = ("-", "--", ":", "-.")  # one per group where colours already tell vector elements apart


def _band(
    ax: Any, stats: dict[str, list[float]], band: str, color: str, label: str, style: str = "-"
) -> None:
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
    ax.plot(stats["epoch"], stats["mean"], color=color, label=label, lw=1.4, ls=style)
    if band == "minmax":
        low, high = stats["min"], stats["max"]
    else:
        low = [m - s for m, s in zip(stats["mean"], stats["std"], strict=True)]
        high = [m + s for m, s in zip(stats["mean"], stats["std"], strict=True)]
    ax.fill_between(stats["epoch"], low, high, color=color, alpha=0.2, lw=0)


def _panels(n: int, width: float = 4.2, height: float = 3.4) -> tuple[Figure, list[Any]]:
    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(width * cols, height * rows), layout="constrained")
    axes = list(fig.subplots(rows, cols, squeeze=False).flat)
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes[:n]


def _suptitle(fig: Figure, text: str, panels: int) -> None:
    """A figure title wrapped to the width of the panel row: one 4.2-inch panel holds ~45 characters
    at the default font size, and a longer line is clipped at the figure's edges."""
    import textwrap

    fig.suptitle("\n".join(textwrap.wrap(text, 45 * min(3, panels))))


def _save(fig: Figure, path: Path) -> Path:
    FigureCanvasAgg(fig)  # attach an Agg canvas: renders without any display
    try:
        fig.savefig(path, dpi=110)
    except OSError as exc:
        raise ReportError(f"{path}: cannot write figure ({exc.strerror})") from None
    return path


def _band_name(band: str) -> str:
    return "min–max over seeds" if band == "minmax" else "±1 std over seeds"


def plot_curve(report: Report, key: str, path: Path, band: str = "minmax") -> Path | None:
    """One metrics.jsonl curve (e.g. val_loss) per epoch: a line per group, a band over its seeds."""
    fig, (ax,) = _panels(1, 7.0, 4.5)
    drawn = 0
    for i, group in enumerate(report.groups):
        series = [s for s in (metric_series(r, key) for r in curve_runs(group)) if s]
        if series:
            _band(ax, epoch_stats(series), band, f"C{i % 10}", f"{group.label} (n={len(series)})")
            drawn += 1
    if not drawn:
        return None
    ax.set(xlabel="epoch", ylabel=CURVES[key], title=f"{CURVES[key]} per epoch ({_band_name(band)})")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def learned_panels(keys: list[tuple[str, str]]) -> dict[tuple[str, str], list[str]]:
    """(layer, parameter) pairs -> one panel per layer and parameter vector: PAU's p[0] .. p[5] share
    the panel (layer, "p"), in index order; a scalar parameter such as `a` has a panel of its own."""

    def split(name: str) -> tuple[str, int]:
        base, _, rest = name.partition("[")
        return base, int(rest.rstrip("]")) if rest.rstrip("]").isdigit() else -1

    panels: dict[tuple[str, str], list[str]] = {}
    for layer, name in keys:
        panels.setdefault((layer, split(name)[0]), []).append(name)
    return {k: sorted(names, key=split) for k, names in panels.items()}


def plot_learned(report: Report, path: Path, band: str = "minmax") -> Path | None:
    """Learned activation parameters over epochs: a panel per layer and parameter (vector), a line per
    learnable group (and per element of a vector parameter: colour per element, line style per group)."""
    panels = learned_panels(act_keys([r for g in report.groups for r in curve_runs(g)]))
    if not panels:
        return None
    fig, axes = _panels(len(panels))
    multi = len({base for _, base in panels}) > 1
    for ax, ((layer, base), names) in zip(axes, panels.items(), strict=True):
        vector = len(names) > 1
        for i, group in enumerate(report.groups):
            for j, name in enumerate(names):
                series = [s for s in (act_series(r, layer, name) for r in curve_runs(group)) if s]
                if series:
                    color = f"C{(j if vector else i) % 10}"
                    label = f"{group.label} {name}" if vector else group.label
                    style = LINE_STYLES[i % len(LINE_STYLES)] if vector else "-"
                    _band(ax, epoch_stats(series), band, color, label, style)
        title = f"{layer} {base}" if multi else f"{layer}: learned {base}"
        ax.set(xlabel="epoch", ylabel=base, title=title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    _suptitle(fig, f"learned activation parameters ({_band_name(band)})", len(panels))
    return _save(fig, path)


def shape_curves(name: str, values: dict[str, float], params: dict[str, Any]) -> dict[str, list[float]]:
    """h(v) on V_RANGE for each labelled value of `a`, from actbench.activations; "v" holds the inputs."""
    import torch

    from actbench.activations.curves import activation_curve

    v = torch.linspace(*V_RANGE, 321)
    return {"v": v.tolist()} | {
        label: activation_curve(name, v, a, params).tolist() for label, a in values.items()
    }


def _shape_values(row: dict[str, Any]) -> tuple[dict[str, float], str]:
    """{"init" and each layer: mean learned value} of a unit with one learnable parameter per layer, and
    that parameter's name (``a``; Swish-beta's ``beta``); nothing for a unit with several (PAU)."""
    names = {n for params in row["learned"].values() for n in params}
    if len(names) != 1:
        return {}, "a"
    (name,) = names
    values = {"init": row["init"]} if _num(row["init"]) else {}
    for layer in sorted(row["learned"], key=layer_key):
        values[layer] = row["learned"][layer][name]["mean"]
    return values, name


def _draw_shape(ax: Any, group: Group, values: dict[str, float], name: str) -> None:
    params = {k.split(".")[-1]: v for k, v in group.flat.items() if k.startswith("activation.params.")}
    curves = shape_curves(group.activation, values, params)
    for label, a in values.items():
        style = {"color": "0.5", "ls": "--"} if label == "init" else {}
        ax.plot(curves["v"], curves[label], label=f"{label}: {name}={a:.3g}", lw=1.3, **style)
    ax.axhline(0, color="0.8", lw=0.6)
    ax.axvline(0, color="0.8", lw=0.6)
    ax.set(xlabel="v", ylabel="h(v)", title=group.label)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)


def plot_shapes(report: Report, path: Path) -> tuple[Path | None, list[str]]:
    """Learned activation shapes after training (mean learned parameter over seeds per layer, init dashed)."""
    items = [(g, *_shape_values(r)) for g, r in zip(report.groups, report.rows, strict=True) if r["learned"]]
    items = [(g, values, name) for g, values, name in items if values]
    if not items:
        return None, []
    fig, axes = _panels(len(items))
    warnings = []
    for ax, (group, values, name) in zip(axes, items, strict=True):
        try:
            _draw_shape(ax, group, values, name)
        except (ValueError, TypeError, KeyError, RuntimeError) as exc:
            warnings.append(f"{group.label}: activation shape not drawn ({exc})")
    title = f"learned activations h(v) on v in [{V_RANGE[0]:g}, {V_RANGE[1]:g}] (mean a over seeds)"
    _suptitle(fig, title, len(items))
    return _save(fig, path), warnings


def plot_robustness(report: Report, kind: str, path: Path, band: str = "minmax") -> Path | None:
    """Test accuracy vs `kind` noise level (robustness.json): a line per group, a band over its seeds."""
    fig, (ax,) = _panels(1, 7.0, 4.5)
    drawn = 0
    for i, (group, row) in enumerate(zip(report.groups, report.rows, strict=True)):
        st = (row.get("robustness") or {}).get(kind)
        if not st:
            continue
        curves = robustness_curves(group.completed, kind, st["levels"])
        if not curves:
            continue
        stats = epoch_stats([dict(zip(st["levels"], accs, strict=True)) for _, accs in curves])
        low, high = _spread(stats, band)
        label = f"{group.label} (n={len(curves)}, nAUC {st['auc_pct']['mean']:.2f})"
        ax.plot(stats["epoch"], stats["mean"], color=f"C{i % 10}", label=label, lw=1.4, marker="o", ms=3)
        ax.fill_between(stats["epoch"], low, high, color=f"C{i % 10}", alpha=0.2, lw=0)
        drawn += 1
    if not drawn:
        return None
    ax.set(xlabel=f"{kind} noise level ({NOISE_UNITS.get(kind, 'level')})", ylabel="test accuracy %")
    ax.set_title(f"test accuracy under {kind} noise ({_band_name(band)})")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def _spread(stats: dict[str, list[float]], band: str) -> tuple[list[float], list[float]]:
    if band == "minmax":
        return stats["min"], stats["max"]
    low = [m - s for m, s in zip(stats["mean"], stats["std"], strict=True)]
    return low, [m + s for m, s in zip(stats["mean"], stats["std"], strict=True)]


def write_figures(report: Report, out_dir: Path, band: str = "minmax") -> tuple[list[Path], list[str]]:
    """All report figures as PNG files in `out_dir`; returns the files written and warnings."""
    if band not in BANDS:
        raise ReportError(f"band: {band!r} is not allowed (allowed: {', '.join(BANDS)})")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportError(f"{out_dir}: cannot create the plot folder ({exc.strerror})") from None
    files = [plot_curve(report, key, out_dir / f"{key}.png", band) for key in CURVES]
    files.append(plot_learned(report, out_dir / "learned_a.png", band))
    kinds = sorted({k for row in report.rows for k in row.get("robustness") or {}})
    files += [plot_robustness(report, kind, out_dir / f"robustness_{kind}.png", band) for kind in kinds]
    from actbench.report.corruptions import plot_corruption_heatmap

    files.append(plot_corruption_heatmap(report.rows, out_dir / "corruptions_heatmap.png"))
    shapes, warnings = plot_shapes(report, out_dir / "activation_shapes.png")
    written = [f for f in [*files, shapes] if f is not None]
    if not written:
        warnings.append("--plots: no epoch records to plot")
    return written, warnings
