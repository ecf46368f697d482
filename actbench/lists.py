"""Comma-separated option values (`--acts relu,elu`, `--seeds 0,1,2`, `--levels 0,0.1`, ...), one rule for
every option: items are stripped and empty items ignored, integer lists also take ranges (`0-4`); a
repeat is dropped where the list selects
things (names, kinds, checkpoints: `relu,relu` means relu) and refused where it spans an axis of runs
(seeds, activations, grid values: a repeat would plan the same run twice, so it is surely a typo).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, Literal

from actbench.errors import UserError

DROP: Final = "drop"
REFUSE: Final = "refuse"


def split(text: str) -> list[str]:
    """ "a, b,,c " -> ["a", "b", "c"]: stripped, empty items left out, order and repeats kept."""
    return [item.strip() for item in text.split(",") if item.strip()]


def int_items(text: str) -> list[int]:
    """ "0-2,5" -> [0, 1, 2, 5]: comma-separated non-negative integers and inclusive ranges lo-hi
    (ValueError on anything else, or a range that runs backwards)."""
    out: list[int] = []
    for item in split(text):
        lo, dash, hi = item.partition("-")
        if dash and int(hi) < int(lo):
            raise UserError(f"range {item} runs backwards")
        out += range(int(lo), int(hi) + 1) if dash else [int(item)]
    return out


def parse(
    text: str,
    option: str,
    cast: Callable[[str], Any] = str,
    repeats: Literal["drop", "refuse"] = DROP,
    allow_empty: bool = False,
    example: str = "",
    error: type[ValueError] = UserError,
) -> list[Any]:
    """The items of `text` cast by `cast`, in the given order. Raises `error` with one line naming
    `option` when an item does not cast, when nothing is given (unless `allow_empty`), or on a repeat
    with `repeats="refuse"`; with `repeats="drop"` later repeats are dropped."""
    hint = f" (expected e.g. {option} {example})" if example else ""
    try:
        values = int_items(text) if cast is int else [cast(item) for item in split(text)]
    except (ValueError, TypeError):
        raise error(f"{option}: cannot parse {text!r}{hint}") from None
    if not values and not allow_empty:
        raise error(f"{option}: no values given{hint}")
    unique = list(dict.fromkeys(values))
    if repeats == REFUSE and len(unique) != len(values):
        raise error(f"{option}: repeated value in {text!r}")
    return unique
