"""The renderers: a `Document` (report.model) as Markdown, LaTeX, HTML or terminal tables.

Each renderer is one loop over the document's blocks with one case per block type, so every format shows
the same sections in the same order (tests/report/test_render.py checks the parity). No numbers are
computed or formatted here: cells arrive as strings.
"""

from __future__ import annotations

import base64
import html
import unicodedata
from pathlib import Path
from typing import Any

from actbench.report.model import Document, Figures, Items, Table, Text

# --- Markdown ---------------------------------------------------------------------------------------


def md_table(heads: list[str], rows: list[list[str]]) -> str:
    esc = lambda s: str(s).replace("|", "\\|")  # noqa: E731  a label may hold "|"
    lines = ["| " + " | ".join(map(esc, heads)) + " |", "|" + "|".join("---" for _ in heads) + "|"]
    return "\n".join(lines + ["| " + " | ".join(map(esc, r)) + " |" for r in rows])


def markdown(doc: Document) -> str:
    parts = []
    for b in doc.blocks:
        if isinstance(b, Table):
            parts.append(f"**{b.title}**\n\n{md_table(b.heads, b.rows)}")
        elif isinstance(b, Items):
            parts.append(f"**{b.title}**\n\n" + "\n".join(f"- {item}" for item in b.items))
        elif isinstance(b, Text):
            parts.append(b.text)
        elif isinstance(b, Figures):
            parts.append(f"**{b.title}**\n\n" + "\n\n".join(f"![{Path(p).stem}]({p})" for p in b.paths))
    return "\n\n".join(parts) + "\n"


# --- LaTeX ------------------------------------------------------------------------------------------

_TEX = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
    "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "±": r"$\pm$", "Δ": r"$\Delta$",
    "—": "--", "–": "--", "≤": r"$\le$", "≥": r"$\ge$", "α": r"$\alpha$", "χ": r"$\chi$", "²": r"$^2$",
    "−": "-", "×": r"$\times$", "→": r"$\to$", "√": r"$\surd$", "…": r"\ldots{}", "’": "'",
}  # fmt: skip


def tex(text: Any) -> str:
    """Plain text as LaTeX: specials escaped, the symbols the report writes spelled as LaTeX; any other
    non-ASCII letter as its closest ASCII form (accents dropped), so the output is pure ASCII."""
    out = "".join(_TEX.get(c, c) for c in str(text))
    if out.isascii():
        return out
    return unicodedata.normalize("NFKD", out).encode("ascii", "ignore").decode("ascii")


def _tex_table(t: Table) -> str:
    return "\n".join(
        [
            r"\begin{table}[ht]",
            r"\centering",
            rf"\caption{{{tex(t.title)}}}",
            r"\begin{tabular}{" + "l" * t.ids + "r" * (len(t.heads) - t.ids) + "}",
            r"\hline",
            " & ".join(map(tex, t.heads)) + r" \\",
            r"\hline",
            *(" & ".join(map(tex, r)) + r" \\" for r in t.rows),
            r"\hline",
            r"\end{tabular}",
            r"\end{table}",
        ]
    )


def latex(doc: Document) -> str:
    parts = []
    for b in doc.blocks:
        if isinstance(b, Table):
            parts.append(_tex_table(b))
        elif isinstance(b, Items):
            items = [rf"\item {tex(item)}" for item in b.items]
            parts.append("\n".join([tex(b.title) + ":", r"\begin{itemize}", *items, r"\end{itemize}"]))
        elif isinstance(b, Text):
            parts.append(tex(b.text))
        elif isinstance(b, Figures):
            figs = [
                "\n".join(
                    [
                        r"\begin{figure}[ht]",
                        r"\centering",
                        rf"\includegraphics[width=\linewidth]{{{p}}}",
                        rf"\caption{{{tex(Path(p).stem.replace('_', ' '))}}}",
                        r"\end{figure}",
                    ]
                )
                for p in b.paths
            ]
            parts.append("\n".join([tex(b.title) + ":", *figs]))
    return "\n\n".join(parts) + "\n"


# --- HTML (self-contained: inline CSS, figures as data URIs) -----------------------------------------

CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 78em; padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
caption { text-align: left; font-weight: 600; padding-bottom: 0.4em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: right; vertical-align: top; }
th { background: #f3f3f3; }
td:first-child, th:first-child { text-align: left; white-space: nowrap; }
figure { margin: 1em 0 2em; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.85em; color: #555; }
.warn { color: #8a5300; } .meta { color: #555; font-size: 0.9em; }
.scroll { overflow-x: auto; }
"""


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def html_table(t: Table) -> str:
    """One <table> with a caption; every cell escaped (group labels may hold <, & or quotes)."""
    head = "".join(f"<th>{_e(h)}</th>" for h in t.heads)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in t.rows)
    return (
        f'<div class="scroll"><table id="{_e(t.id)}"><caption>{_e(t.title)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
    )


def _figure(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (
        f'<figure><img alt="{_e(path.stem.replace("_", " "))}" src="data:image/png;base64,{data}">'
        f"<figcaption>{_e(path.name)}</figcaption></figure>"
    )


def html_page(doc: Document) -> str:
    """The document as one HTML page; a Figures block's files are read and embedded (they must exist)."""
    parts = [f"<h1>{_e(doc.title)}</h1>"]
    if doc.meta:
        parts.append(f'<p class="meta">{_e(doc.meta)}</p>')
    for b in doc.blocks:
        if isinstance(b, Table):
            parts.append(html_table(b))
        elif isinstance(b, Items):
            cls = ' class="warn"' if b.id == "warnings" else ""
            items = "".join(f"<li>{_e(item)}</li>" for item in b.items)
            parts.append(f'<h2>{_e(b.title)}</h2><ul id="{_e(b.id)}"{cls}>{items}</ul>')
        elif isinstance(b, Text):
            parts.append(f'<p id="{_e(b.id)}">{_e(b.text)}</p>')
        elif isinstance(b, Figures):
            parts.append(f"<h2>{_e(b.title)}</h2>" + "".join(_figure(Path(p)) for p in b.paths))
    body = "\n".join(parts)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(doc.title)}</title><style>{CSS}</style></head>\n<body>\n{body}\n</body></html>\n"
    )


# --- terminal (rich) --------------------------------------------------------------------------------

CELL_PAD = 2  # characters a column adds besides its text (collapsed padding, box.SIMPLE_HEAD)


def _min_width(texts: list[str]) -> int:
    """Width below which a header would have to cut a word in two."""
    return max((len(w) for t in texts for w in t.split()), default=1)


def _widths(t: Table) -> list[int]:
    """Each column's narrowest width: identifiers and numbers whole ("1.9318 ± 0.0035" is one value, never
    wrapped), prose (`t.text`) down to its longest word; headers wrap at spaces unless they are names."""
    out = []
    for i, head in enumerate(t.heads):
        cells = [row[i] for row in t.rows]
        whole = i < t.ids or not t.text
        cell = max(map(len, cells), default=1) if whole else _min_width(cells)
        out.append(max(cell, len(head) if i < t.ids or t.whole_heads else _min_width([head])))
    return out


def column_chunks(t: Table, width: int | None, widths: list[int] | None = None) -> list[list[int]]:
    """Split the non-identifier columns into consecutive runs that fit `width` next to the identifier
    columns (which every chunk repeats); one chunk for all when `width` is None or everything fits.
    `widths`: the columns' narrowest widths when already known (`_widths`)."""
    rest = list(range(t.ids, len(t.heads)))
    if width is None:
        return [rest]
    need = [w + CELL_PAD for w in (widths if widths is not None else _widths(t))]
    budget = width - 1 - sum(need[: t.ids])  # 1: the table's left edge
    chunks: list[list[int]] = [[]]
    for i in rest:
        if chunks[-1] and sum(need[j] for j in chunks[-1]) + need[i] > budget:
            chunks.append([])
        chunks[-1].append(i)
    return chunks


def fitted_tables(t: Table, width: int | None = None, caption: str | None = None) -> list[Any]:
    """Rich tables for a terminal `width` columns wide (None: one table, as wide as it needs).

    The identifier columns are full width, never wrapped or cut, and repeated in every table, so they
    stay greppable; cells are never wrapped; when the columns do not fit they continue in further
    tables instead of being cropped."""
    from rich import box
    from rich.table import Table as RichTable
    from rich.text import Text as RichText

    widths = _widths(t)
    chunks = column_chunks(t, width, widths)
    tables = []
    for n, chunk in enumerate(chunks):
        table = RichTable(
            title=t.title if n == 0 else f"{t.title.split(' (')[0]} (continued)",
            caption=caption if n == len(chunks) - 1 else None,
            title_justify="left",
            caption_justify="left",
            box=box.SIMPLE_HEAD,
            pad_edge=False,
            collapse_padding=True,
        )
        for i in [*range(t.ids), *chunk]:
            table.add_column(
                t.heads[i],
                justify="left" if i < t.ids or t.text else "right",
                no_wrap=i < t.ids,
                overflow="fold",  # only when a single value is wider than the whole terminal
                min_width=widths[i],
            )
        for row in t.rows:
            table.add_row(*(RichText(row[i]) for i in [*range(t.ids), *chunk]))  # Text: data, never markup
        tables.append(table)
    return tables


def terminal(doc: Document, width: int | None = None) -> list[Any]:
    """Rich renderables, in order: tables fitted to `width`, lists and paragraphs as plain text."""
    from rich.text import Text as RichText

    out: list[Any] = []
    for b in doc.blocks:
        if isinstance(b, Table):
            out += fitted_tables(b, width)
        elif isinstance(b, Items):
            out.append(RichText("\n".join([b.title + ":", *(f"- {item}" for item in b.items), ""])))
        elif isinstance(b, Text):
            out.append(RichText(b.text + "\n"))
        elif isinstance(b, Figures):
            out.append(RichText("\n".join([b.title + ":", *b.paths, ""])))
    return out


def plain_text(doc: Document, width: int = 250) -> str:
    """The terminal rendering as text without colour (a `table` written to a file)."""
    import io

    from rich.console import Console

    console = Console(file=io.StringIO(), width=width, color_system=None, force_terminal=False)
    for item in terminal(doc):
        console.print(item)
    return console.file.getvalue()  # type: ignore[attr-defined]
