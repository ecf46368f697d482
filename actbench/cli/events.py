"""Every progress line actbench prints, one formatter per event. A terminal, a plain log and a run's
train.log show the same words; only the frame differs (a timestamp and the run's name in a log, colour on
a terminal, a JSON object with `--log-format json`).

Events are `(kind, data)` of one run (`training.lifecycle.Hooks.on_event`: start, batch, epoch, warning,
robustness, end), of a sweep's runs (planned, for --dry-run; following them, `sweep.watch`: launch, where,
epoch, end, skip, waiting, not_started; `summary` from its tally), or of the command itself (sweep, note,
eval).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from actbench import runs
from actbench.timing import fmt_range

ACT_SHOWN = 6  # values per parameter on an epoch line; a deep network's 35 layers would fill the terminal
Data = dict[str, Any]


def one_line(text: Any) -> str:
    """A message from elsewhere (an error, a warning) as part of one line."""
    return " | ".join(part.strip() for part in str(text).replace("\r", "\n").splitlines() if part.strip())


def duration(seconds: float) -> str:
    """90061 -> 1d01h01m, 3725 -> 1h02m05s, 65 -> 1m05s, 4.2 -> 4s."""
    s = int(round(seconds))
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    if d:
        return f"{d}d{h:02d}h{m:02d}m"
    if h:
        return f"{h}h{m:02d}m{s:02d}s"
    return f"{m}m{s:02d}s" if m else f"{s}s"


def fmt_act(act: Data) -> str:
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


# --- a run ------------------------------------------------------------------------------------------


def start(d: Data) -> str:
    """`started: runs/x on cpu, 50000 train images, 500 batches/epoch, 200 epochs, resuming after …`."""
    sp = d.get("speed") or {}
    extras = [
        f"resuming after epoch {d['start_epoch']}" if d.get("start_epoch") else "",
        f"compile={sp['compile_mode']}" if sp.get("compile") else "",
        "fused act" if sp.get("fused") else "",
    ]
    return (
        f"started: {d.get('run_dir')} on {d.get('device')}, {d.get('train_images')} train images, "
        f"{d.get('batches')} batches/epoch, {d.get('epochs')} epochs"
        + "".join(f", {e}" for e in extras if e)
        + (f"; {d['network']}" if d.get("network") else "")
    )


def epoch(r: Data) -> str:
    return (
        f"epoch {r.get('epoch')}/{r.get('epochs') or '?'}: "
        f"train loss {r['train_loss']:.4f} acc {100 * r['train_acc']:.2f}% | "
        f"val loss {r['val_loss']:.4f} acc {100 * r['val_acc']:.2f}% | lr {r['lr']:.2g} | "
        f"{r['epoch_time_s']:.1f}s {r['images_per_s']:.0f} img/s"
        + (f" | {fmt_act(r['act'])}" if r.get("act") else "")
    )


def warning(d: Data) -> str:
    return f"warning: {d.get('message')}"


def robustness(r: Data) -> list[str]:
    """One line per noise kind: `robustness gaussian (last): 0: 71.20%  0.05: 69.80%`."""
    lines = []
    for kind, entries in (r.get("results") or {}).items():
        accs = "  ".join(f"{e['level']:g}: {100 * e['acc']:.2f}%" for e in entries)
        lines.append(f"robustness {kind} ({r.get('checkpoint')}): {accs}")
    return lines


def end(s: Data) -> str:
    """`completed: test acc 71.20% loss 0.8311 | best val epoch 180: ... | median epoch 28.1s …`."""
    status = s.get("status")
    if status != runs.COMPLETED:
        return f"{status} after {s.get('epochs_done', 0)} epochs: {s.get('error')}"
    last, best, t = s.get("last") or {}, s.get("best") or {}, s.get("timing") or {}
    if "test_acc" not in last:  # summary.json unreadable when the sweep looked (`sweep.watch`)
        return f"completed: {s.get('error') or 'final results not read'}"
    parts = [f"completed: test acc {100 * last['test_acc']:.2f}% loss {last['test_loss']:.4f}"]
    if best:
        parts.append(
            f"best val epoch {best['epoch']}: "
            f"test acc {100 * best['test_acc']:.2f}% loss {best['test_loss']:.4f}"
        )
    if t.get("steady_epoch_s") is not None:
        spread = fmt_range(t.get("steady_epoch_min_s"), t.get("steady_epoch_max_s"), ".1f")
        parts.append(f"median epoch {t['steady_epoch_s']:.1f}s (min–max {spread})")
    if s.get("wall_time_s") is not None:
        parts.append(f"wall {duration(s['wall_time_s'])}")
    return " | ".join(parts)


# --- a sweep ----------------------------------------------------------------------------------------


def sweep(d: Data) -> str:
    slots = f", {d['workers']} at a time" if d.get("workers") else ""
    return f"sweep {d['sweep_dir']}: {d['runs']} runs{slots}"


def planned(d: Data) -> str:
    """`planned (new, 200 epochs): activation.name=relu, train.seed=0` (sweep --dry-run)."""
    return f"planned ({d['state']}, {d['epochs']} epochs): {d['overrides']}"


def launch(d: Data) -> str:
    """`started (worker 1/2, cpu, 1 thread; 200 epochs)`, `resumed after epoch 15 (…)`."""
    verb = {"resume": f"resumed after epoch {d['epochs_done']}", "restart": "restarted"}
    where = f"{d['where']}; " if d.get("where") else ""
    return f"{verb.get(d['action'], 'started')} ({where}{d['epochs']} epochs)"


def where(d: Data) -> str:
    return f"running on {d['where']}"


def skip(d: Data) -> str:
    return f"skipped ({d['reason']})" if d.get("reason") else "skipped"


def waiting(d: Data) -> str:
    return "waiting: another process holds it (a sweep or a train)"


def not_started(d: Data) -> str:
    return "not started"


def summary(d: Data) -> str:
    """`sweep: 3/15 runs done (2 completed, 1 failed), 2 running | epochs 45/300 | elapsed 1m01s | ETA …`
    (`d`: a `sweep.watch.Tally` as a dict, plus `final`; with `sweep_dir`: `sweep runs/sw: 3/15 …`)."""
    finished, counts = d["finished"], d["counts"]
    detail = ", ".join(f"{v} {k}" for k, v in sorted(finished.items()))
    others = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()) if k not in finished)
    eta = "" if d.get("final") else f" | ETA {duration(d['eta_s']) if d['eta_s'] is not None else '?'}"
    head = " ".join(
        str(w) for w in ("sweep", d.get("sweep_dir"), "finished" if d.get("final") else None) if w
    )
    return (
        f"{head}: {sum(finished.values())}/{d['runs']} runs done"
        + (f" ({detail})" if detail else "")
        + (f", {others}" if others else "")
        + f" | epochs {d['epochs_done']}/{d['epochs']} | elapsed {duration(d['elapsed_s'])}{eta}"
    )


def message(d: Data) -> str:
    """A note outside any run (how to resume, what was written), or an evaluation's start and end."""
    return str(d["message"])


FORMATS: dict[str, Callable[[Data], str | list[str]]] = {
    "start": start, "epoch": epoch, "warning": warning, "robustness": robustness, "end": end,
    "sweep": sweep, "planned": planned, "launch": launch, "where": where, "skip": skip, "waiting": waiting,
    "not_started": not_started, "summary": summary, "note": message, "eval": message,
}  # fmt: skip


def lines(kind: str, data: Data) -> list[str]:
    """The event's line(s); none for an event no printer shows as text (a batch)."""
    fmt = FORMATS.get(kind)
    if fmt is None:
        return []
    text = fmt(data)
    return [one_line(t) for t in ([text] if isinstance(text, str) else text)]
