"""Rich tables of what a command shows once: a run's robustness and corruption results, a sweep's plan.
(Progress while work runs: `actbench.cli.progress`.)"""

from __future__ import annotations

from typing import Any

from rich.table import Table


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


def plan_rows(plan: Any) -> list[dict[str, Any]]:
    """The planned runs of a sweep: name, overrides (`key=value, …`), epochs, state (new, completed, …)."""
    from actbench.sweep.state import run_state

    return [
        {
            "name": r.name,
            "overrides": ", ".join(f"{k}={v}" for k, v in r.overrides.items() if k not in ("run.name",)),
            "epochs": r.config.train.epochs,
            "state": run_state(plan.sweep_dir / r.name),
        }
        for r in plan.runs
    ]


def plan_table(plan: Any) -> Table:
    """The planned runs of a sweep (for --dry-run on a terminal)."""
    rows = plan_rows(plan)
    table = Table(title=f"{len(rows)} runs in {plan.sweep_dir}")
    table.add_column("run", no_wrap=True, min_width=max((len(r["name"]) for r in rows), default=3))
    for col in ("overrides", "epochs", "state"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(r["name"], r["overrides"], str(r["epochs"]), r["state"])
    return table


def show_plan(plan: Any, log: Any, console: Any) -> None:
    """--dry-run's plan: a table on the console, or with --log-format one `sweep` event and one `planned`
    event per run (a JSON log stays one object per line)."""
    if not log:
        console.print(plan_table(plan))
        return
    rows = plan_rows(plan)
    log.emit("sweep", None, {"sweep_dir": str(plan.sweep_dir), "runs": len(rows)})
    for r in rows:
        log.emit("planned", r["name"], {k: v for k, v in r.items() if k != "name"})


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
