"""Rich tables that fit the terminal: a wide table is cut into column chunks that each fit the width,
repeating the key columns (what `report` and `acts` print on a terminal)."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

CELL_PAD = 2  # characters a column adds besides its text (collapsed padding, box.SIMPLE_HEAD)


def _min_width(texts: list[str]) -> int:
    """Width below which a column would have to cut a word (a number, a name) in two."""
    return max((len(w) for t in texts for w in t.split()), default=1)


def column_chunks(
    heads: list[str], rows: list[list[str]], width: int | None, ids: int = 1, whole_heads: bool = False
) -> list[list[int]]:
    """Split the non-identifier columns into consecutive runs that fit `width` next to the identifier
    columns (which every chunk repeats); one chunk for all when `width` is None or everything fits."""
    rest = list(range(ids, len(heads)))
    if width is None:
        return [rest]
    cells = [[row[i] for row in rows] for i in range(len(heads))]
    need = [
        max(len(heads[i]) if whole_heads or i < ids else _min_width([heads[i]]), _min_width(cells[i]))
        + CELL_PAD
        for i in range(len(heads))
    ]
    need[:ids] = [max([len(heads[i]), *map(len, cells[i])]) + CELL_PAD for i in range(ids)]
    budget = width - 1 - sum(need[:ids])  # 1: the table's left edge
    chunks: list[list[int]] = [[]]
    for i in rest:
        if chunks[-1] and sum(need[j] for j in chunks[-1]) + need[i] > budget:
            chunks.append([])
        chunks[-1].append(i)
    return chunks


def fitted_tables(
    title: str,
    heads: list[str],
    rows: list[list[str]],
    width: int | None = None,
    ids: int = 1,
    caption: str | None = None,
    whole_heads: bool = False,
    justify: str = "left",
) -> list[Table]:
    """Tables for a terminal `width` columns wide (None: one table, as wide as it needs).

    The first `ids` columns are identifiers (activation, group, layer names, paths): full width, never
    wrapped or cut, repeated in every table, so they stay greppable. The other columns wrap at spaces
    and, when too many for one table, continue in further tables instead of being cropped.
    `whole_heads`: the headers are identifiers too (group labels as column names)."""
    from rich import box

    chunks = column_chunks(heads, rows, width, ids, whole_heads)
    tables = []
    for n, chunk in enumerate(chunks):
        table = Table(
            title=title if n == 0 else f"{title.split(' (')[0]} (continued)",
            caption=caption if n == len(chunks) - 1 else None,
            title_justify="left",
            caption_justify="left",
            box=box.SIMPLE_HEAD,
            pad_edge=False,
            collapse_padding=True,
        )
        for i in [*range(ids), *chunk]:
            texts = (
                [heads[i], *(row[i] for row in rows)] if i < ids or whole_heads else [row[i] for row in rows]
            )
            table.add_column(
                heads[i],
                justify="left" if i < ids else justify,  # type: ignore[arg-type]
                no_wrap=i < ids,
                overflow="fold",  # only when a single word is wider than the whole terminal
                min_width=max(map(len, texts)) if i < ids else _min_width(texts + [heads[i]] * whole_heads),
            )
        for row in rows:
            table.add_row(*(Text(row[i]) for i in [*range(ids), *chunk]))  # Text: data, never markup
        tables.append(table)
    return tables
