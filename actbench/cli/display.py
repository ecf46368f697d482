"""Terminal display of training events (tqdm bar over batches, one rich line per epoch).

Kept apart from training math: `training.loop` emits events, this turns them into output.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from tqdm import tqdm

from actbench import runs
from actbench.sweep.state import state_kind

ACT_SHOWN = 6  # values per parameter on an epoch line; a deep network's 35 layers would fill the terminal


def fmt_act(act: dict[str, Any]) -> str:
    """{"conv1": {"a": 0.1}, "conv2": {"a": {"mean": ..}}} -> "a=0.100/0.090/0.210" (layer order); more
    than ACT_SHOWN layers -> the first ACT_SHOWN - 1, "…", the last, and the layer count."""
    parts: dict[str, list[str]] = {}
    for layer in act.values():
        for name, v in layer.items():
            value = v["mean"] if isinstance(v, dict) else v
            parts.setdefault(name, []).append(f"{value:.3f}")
    out = []
    for k, v in parts.items():
        shown = v if len(v) <= ACT_SHOWN else [*v[: ACT_SHOWN - 1], "…", v[-1]]
        out.append(f"{k}={'/'.join(shown)}" + (f" ({len(v)} layers)" if len(v) > ACT_SHOWN else ""))
    return "  ".join(out)


class TrainDisplay:
    """Callable event sink for `lifecycle.Hooks.on_event`; `prefix` starts every line (a pack's members
    share one console: "relu-s0: epoch ...")."""

    def __init__(self, console: Console, progress: bool = True, prefix: str = ""):
        self.console, self.progress, self.prefix = console, progress, prefix
        self.bar: tqdm | None = None
        self.epochs = 0

    def _print(self, text: str, **kw: Any) -> None:
        self.console.print(escape(self.prefix) + text, **kw)

    def __call__(self, kind: str, data: dict[str, Any]) -> None:
        getattr(self, f"_on_{kind}", lambda d: None)(data)

    def _on_start(self, d: dict[str, Any]) -> None:
        self.epochs = d["epochs"]
        resumed = f", resuming after epoch {d['start_epoch']}" if d["start_epoch"] else ""
        sp = d.get("speed") or {}
        extras = [
            f"compile={sp['compile_mode']}" if sp.get("compile") else "",
            "fused act" if sp.get("fused") else "",
        ]
        resumed += "".join(f", {e}" for e in extras if e)
        self._print(
            f"[bold]{escape(d['run_dir'])}[/] on {d['device']}: {d['train_images']} "
            f"train images, {d['batches']} batches/epoch{resumed}",
            highlight=False,
            soft_wrap=True,
        )
        if d.get("network"):
            self._print(escape(d["network"]), highlight=False, soft_wrap=True)

    def _on_batch(self, d: dict[str, Any]) -> None:
        if not self.progress:
            return
        if self.bar is None:
            self.bar = tqdm(
                total=d["batches"],
                desc=f"epoch {d['epoch']}/{self.epochs}",
                leave=False,
                unit="batch",
                dynamic_ncols=True,
            )
        self.bar.update(1)

    def _close_bar(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def _on_epoch(self, r: dict[str, Any]) -> None:
        self._close_bar()
        self._print(
            f"epoch {r['epoch']:>3}/{self.epochs}  train {r['train_loss']:.4f} "
            f"{100 * r['train_acc']:5.2f}%  val {r['val_loss']:.4f} {100 * r['val_acc']:5.2f}%  "
            f"lr {r['lr']:.2g}  {r['epoch_time_s']:.1f}s ({r['images_per_s']:.0f} img/s)  "
            f"{fmt_act(r['act'])}",
            highlight=False,
            soft_wrap=True,
        )

    def _on_warning(self, d: dict[str, Any]) -> None:
        self._close_bar()
        self._print(f"[yellow]warning:[/] {escape(d['message'])}", highlight=False, soft_wrap=True)

    def _on_robustness(self, r: dict[str, Any]) -> None:
        for kind, entries in r["results"].items():
            accs = "  ".join(f"{e['level']:g}: {100 * e['acc']:.2f}%" for e in entries)
            self._print(f"robustness {kind} ({r['checkpoint']}): {accs}", highlight=False, soft_wrap=True)

    def _on_end(self, s: dict[str, Any]) -> None:
        self._close_bar()
        status = s["status"]
        if status == runs.COMPLETED:
            last, best = s["last"], s.get("best", {})
            best_txt = (
                f"; best val epoch {best['epoch']}: test {best['test_loss']:.4f} "
                f"{100 * best['test_acc']:.2f}%"
                if best
                else ""
            )
            self._print(
                f"[green]completed[/]: test loss {last['test_loss']:.4f}, "
                f"accuracy {100 * last['test_acc']:.2f}%{best_txt}",
                highlight=False,
                soft_wrap=True,
            )
        else:
            self._print(f"[red]{status}[/]: {escape(str(s.get('error')))}", highlight=False, soft_wrap=True)


def robustness_table(result: dict[str, Any], title: str = "") -> Table:
    """robustness.json data: a row per noise level, a column per kind, test accuracy in %."""
    results = result["results"]
    levels = sorted({e["level"] for entries in results.values() for e in entries})
    table = Table(title=title or None, title_justify="left")
    table.add_column("level", justify="right")
    for kind in results:
        table.add_column(f"{kind} acc %", justify="right")
    for level in levels:
        accs = [{e["level"]: e["acc"] for e in entries}.get(level) for entries in results.values()]
        table.add_row(f"{level:g}", *("—" if a is None else f"{100 * a:.2f}" for a in accs))
    return table


def plan_table(plan: Any) -> Table:
    """The planned runs of a sweep (for --dry-run)."""
    from actbench.sweep.state import run_state

    table = Table(title=f"{len(plan.runs)} runs in {plan.sweep_dir}")
    table.add_column("run", no_wrap=True, min_width=max((len(r.name) for r in plan.runs), default=3))
    for col in ("overrides", "epochs", "state"):
        table.add_column(col, overflow="fold")
    for r in plan.runs:
        ov = ", ".join(f"{k}={v}" for k, v in r.overrides.items() if k not in ("run.name",))
        table.add_row(r.name, ov, str(r.config.train.epochs), run_state(plan.sweep_dir / r.name))
    return table


class SweepDisplay:
    """One live view of a sweep (runs done/running/failed, ETA) instead of interleaved progress bars."""

    def __init__(self, console: Console, plan: Any):
        self.console, self.plan = console, plan
        self.t0 = time.monotonic()
        self.live = Live(console=console, refresh_per_second=2, transient=False)
        self.first_epochs: int | None = None

    def __enter__(self) -> SweepDisplay:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.live.__exit__(*exc)

    def update(self, statuses: list[Any]) -> None:
        self.live.update(self._render(statuses))

    def _render(self, statuses: list[Any]) -> Table:
        counts = Counter(state_kind(s.state) for s in statuses)
        done = sum(min(s.epochs, s.total) for s in statuses)
        total = sum(s.total for s in statuses)
        if self.first_epochs is None:
            self.first_epochs = done  # epochs already done before this invocation don't count for ETA
        elapsed = time.monotonic() - self.t0
        fresh = done - self.first_epochs
        eta = f"{(total - done) * elapsed / fresh:.0f}s" if fresh > 0 else "?"
        title = (
            f"sweep {self.plan.sweep_dir}: "
            + ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
            + f" | epochs {done}/{total} | elapsed {elapsed:.0f}s | ETA {eta}"
        )
        table = Table(title=title, title_justify="left")
        table.add_column("run", no_wrap=True, min_width=max((len(s.name) for s in statuses), default=3))
        for col in ("state", "epochs"):
            table.add_column(col, overflow="fold")
        for s in statuses:
            style = {runs.COMPLETED: "green", runs.FAILED: "red", runs.RUNNING: "cyan"}.get(s.state, "")
            table.add_row(s.name, f"[{style}]{s.state}[/]" if style else s.state, f"{s.epochs}/{s.total}")
        return table

    def final(self, statuses: list[Any]) -> None:
        failed = [s for s in statuses if s.state == runs.FAILED]
        for s in failed:
            self.console.print(
                f"[red]failed[/]: {escape(str(self.plan.sweep_dir / s.name))} (see summary.json, train.log)",
                highlight=False,
                soft_wrap=True,
            )


def corruption_table(result: dict[str, Any], title: str = "") -> Any:
    """corruptions.json of one run: a row per corruption, a column per severity, accuracy in %."""
    results = result["results"]
    sevs = sorted({e["severity"] for entries in results.values() for e in entries})
    table = Table(title=f"{title} test accuracy % (clean {100 * result['clean']['acc']:.2f})".strip(),
                  title_justify="left")  # fmt: skip
    for head in ("corruption", *(f"s{s}" for s in sevs), "mean"):
        table.add_column(head, justify="left" if head == "corruption" else "right")
    for name, entries in results.items():
        accs = {e["severity"]: 100 * e["acc"] for e in entries}
        cells = ["—" if s not in accs else f"{accs[s]:.2f}" for s in sevs]
        table.add_row(name, *cells, f"{sum(accs.values()) / len(accs):.2f}")
    return table
