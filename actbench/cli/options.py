"""Options shared by several commands (Typer `Annotated` aliases): one definition per option."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

ConfigOpt = Annotated[
    str | None, typer.Option("--config", "-c", help="YAML file, or a shipped preset name (e.g. cifar10_exp).")
]


SetOpt = Annotated[
    list[str] | None, typer.Option("--set", "-s", help="Override: section.key=value (repeatable).")
]


LogFormatOpt = Annotated[
    str | None,
    typer.Option(
        "--log-format",
        help="text | json: one timestamped line (or JSON object) per event on stdout, flushed at once "
        "(without it: the live display on a terminal, text lines otherwise).",
    ),
]


ProgressEveryOpt = Annotated[
    float, typer.Option(help="Logs: seconds between two epoch lines of one run at most (0: every epoch).")
]


# CIFAR-10-C severities evaluated by --corruptions unless --severities says otherwise
DEFAULT_SEVERITIES = "1-5"


CorruptionsOpt = Annotated[
    str | None,
    typer.Option(
        help="CIFAR-10-C corruptions: all, or comma-separated names (e.g. gaussian_noise,contrast). "
        "Evaluates the test split at each of --severities into corruptions.json in the run folder."
    ),
]


SeveritiesOpt = Annotated[
    str | None, typer.Option(help=f"Severities, e.g. 1-5 or 1,3 (default: {DEFAULT_SEVERITIES}).")
]


CorruptedRootOpt = Annotated[
    Path | None,
    typer.Option(help="Folder of the published CIFAR-10-C/-100-C .npy files (instead of in memory)."),
]


ActsOpt = Annotated[str, typer.Option(help="Comma-separated activations.")]


SeedsOpt = Annotated[str, typer.Option(help="Comma-separated seeds.")]


GridOpt = Annotated[list[str] | None, typer.Option(help="key=v1,v2 axis (repeatable).")]


SweepNameOpt = Annotated[str | None, typer.Option(help="Sweep folder name (default: from the config).")]


SweepOutOpt = Annotated[Path | None, typer.Option(help="Parent folder (default: run.out).")]


WorkersOpt = Annotated[
    int | None,
    typer.Option(min=1, help="Runs at once, each in its own process (default: 1; ray: what fits)."),
]


RetryOpt = Annotated[bool, typer.Option("--retry-failed", help="Restart failed runs.")]


DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Print the planned runs and exit.")]


RobustnessOpt = Annotated[
    bool,
    typer.Option(
        "--robustness",
        help="Evaluate each run under input noise at its end (= --set robustness.enabled=true).",
    ),
]


SummaryEveryOpt = Annotated[
    float, typer.Option(help="Logs: seconds between two sweep summary lines (done/total, elapsed, ETA).")
]


TensorBoardOpt = Annotated[
    bool,
    typer.Option(
        "--tensorboard",
        help="Write TensorBoard event files into each run folder (= --set run.tensorboard=true).",
    ),
]


LauncherOpt = Annotated[str, typer.Option(help="local (this machine) | ray (a Ray cluster).")]


AddressOpt = Annotated[
    str | None, typer.Option(help="Ray cluster: auto | HOST:PORT (default: RAY_ADDRESS, else local).")
]


CpusOpt = Annotated[int | None, typer.Option(min=1, help="Ray: CPUs/threads per run [1].")]


GpusOpt = Annotated[float | None, typer.Option(min=0, help="Ray: GPUs per run [0].")]


MaxRetriesOpt = Annotated[
    int | None, typer.Option(min=0, help="Ray: resubmissions of a run whose worker/node died [2].")
]


PackOpt = Annotated[
    str | None,
    typer.Option(
        help="Train up to K compatible runs (differing in seed, activation, lr, weight decay) as one "
        "packed model per process: K, or auto (as many as fit the device's memory)."
    ),
]


def with_flags(set_: list[str] | None, robustness: bool, tensorboard: bool) -> list[str]:
    """The --set list with what --robustness and --tensorboard stand for (sweep and suite run)."""
    return [
        *(set_ or []),
        *(["robustness.enabled=true"] if robustness else []),
        *(["run.tensorboard=true"] if tensorboard else []),
    ]
