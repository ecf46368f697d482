"""`actbench acts`: the registered activations, and their curves with --plot."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from actbench.cli.app import app, console, fail, line, parse_floats
from actbench.errors import UserError, not_allowed

_ACTS_DEFAULT_A = "-3,-1,0,0.25,1,3"  # Fig. 1 style spread; Rational skips a <= 0 (its pole)


@app.command()
def acts(
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Write Fig. 1 style curves to this PNG.")
    ] = None,
    a: Annotated[
        str | None,
        typer.Option("--a", help=f"Comma-separated a values for --plot (default: {_ACTS_DEFAULT_A})."),
    ] = None,
    names: Annotated[
        str | None,
        typer.Option(
            "--names", help="Comma-separated activations (table: all; --plot: rational,exponential)."
        ),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="table | md | csv | json")] = "table",
) -> None:
    """List every registered activation; with --plot, draw its curves for several a."""
    from actbench import lists
    from actbench.activations import get_spec
    from actbench.activations.catalog import ACTS_FORMATS, ACTS_HEADS, SHARING_NOTE, acts_cells, acts_export
    from actbench.activations.plugins import all_names
    from actbench.report import render
    from actbench.report.model import Document, Table

    if fmt not in ACTS_FORMATS:
        raise not_allowed("--format", fmt, ACTS_FORMATS)

    chosen = lists.parse(names, "--names", allow_empty=True) if names else []
    for name in chosen:
        try:
            get_spec(name)
        except UserError as exc:
            raise UserError(f"--names: {exc}") from None
    if a is not None and plot is None:
        fail("--a only applies with --plot FILE.png")
    if plot is not None and fmt != "table":
        fail(f"--format {fmt} applies to the list; --plot writes a PNG (drop one of them)")
    if plot is not None:
        from actbench.activations.curves import plot_activation_curves
        from actbench.runs import FIGURE_SUFFIXES, check_output

        a_values = parse_floats(a if a is not None else _ACTS_DEFAULT_A, "--a")
        check_output(plot, "--plot", FIGURE_SUFFIXES)
        out = plot_activation_curves(chosen or ["rational", "exponential"], a_values, plot)
        line(f"wrote {out}")
        return
    listed = chosen or all_names()
    table = Table(
        "activations", f"Activations ({SHARING_NOTE})", list(ACTS_HEADS), acts_cells(listed), text=True
    )
    if fmt == "table":
        for item in render.terminal(Document("actbench acts", [table]), console.width):
            console.print(item)
        return
    text = render.markdown(Document("actbench acts", [table])) if fmt == "md" else acts_export(listed, fmt)
    console.print(text, markup=False, highlight=False, soft_wrap=True, end="")  # verbatim: no markup, no wrap
