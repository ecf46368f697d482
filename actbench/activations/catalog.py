"""The activation registry as records: what `actbench acts` lists (name, formula, learnable parameters,
default init, sharing, fixed parameters, origin), one record per activation.

Identifiers (activation names) are never shortened in any format: `actbench acts | grep exponential`
must find the row however narrow the terminal is.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from actbench.activations.plugins import learnable_names
from actbench.activations.registry import get_spec

ACTS_FORMATS = ("table", "md", "csv", "json")
ACTS_HEADS = ("name", "formula", "learnable", "default init", "sharing", "fixed params", "from", "source")
SHARING_NOTE = "sharing: layer = one a per layer, channel = one a per output channel"


def acts_records(names: list[str]) -> list[dict[str, Any]]:
    """One plain record per activation in `names` (raw values: lists, numbers, None)."""
    return [
        {
            "name": spec.name,
            "formula": spec.formula,
            "learnable": list(learnable_names(spec)),
            "default_init": spec.init,
            "sharing": ["layer", "channel"] if spec.supports_sharing else [],
            "fixed_params": dict(spec.defaults),
            "from": spec.origin,
            "source": spec.ref,
        }
        for spec in (get_spec(n) for n in names)
    ]


def acts_cells(names: list[str]) -> list[list[str]]:
    """The records as display strings, in ACTS_HEADS order ("-" for nothing)."""
    return [
        [
            r["name"],
            r["formula"],
            ", ".join(r["learnable"]) or "-",
            "-" if r["default_init"] is None else f"{r['default_init']:g}",
            ", ".join(r["sharing"]) or "-",
            ", ".join(f"{k}={v}" for k, v in r["fixed_params"].items()) or "-",
            r["from"],
            r["source"],
        ]
        for r in acts_records(names)
    ]


def acts_export(names: list[str], fmt: str) -> str:
    """The csv | json export of the listing (the table and Markdown are drawn by report.render)."""
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(ACTS_HEADS)
        writer.writerows(acts_cells(names))
        return buf.getvalue()
    if fmt == "json":
        return json.dumps(acts_records(names), indent=2, ensure_ascii=False) + "\n"
    raise ValueError(f"acts_export: {fmt!r} is neither csv nor json")
