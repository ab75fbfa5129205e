"""A small table model and its three renderings: Markdown, tidy CSV and LaTeX (booktabs).

Layouts (:mod:`flip_pipeline.report.layouts`) build a :class:`Table`; :func:`write_table`
writes ``{out_prefix}.md``, ``.csv`` and ``.tex`` atomically.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from flip_pipeline.atomic import atomic_path, write_text
from flip_pipeline.report.latex import to_latex


@dataclass(frozen=True)
class Cell:
    """One table cell.

    Attributes:
        text: what is shown, e.g. ``"75.71 (0.12)"`` or ``"−2.22"``.
        shaded: a difference to another cell (grey in LaTeX, italic in Markdown).
    """

    text: str
    shaded: bool = False


@dataclass
class Table:
    """A rendered-agnostic table.

    Attributes:
        columns: leaf column labels, the ``n_labels`` row-label columns first.
        rows: one list of ``len(columns)`` cells per body row.
        n_labels: how many leading columns label the row (left-aligned).
        spans: optional header row above ``columns``: ``(label, width)`` pairs covering
            every column (``""`` for none), e.g. ``[("", 1), ("Vocabulary (EN)", 2), …]``.
        group_starts: indices of body rows that open a new group (a rule above them).
        tidy: one row per number shown, the CSV.
        footnote: what the cells are.
    """

    columns: list[str]
    rows: list[list[Cell]]
    n_labels: int
    tidy: pd.DataFrame
    footnote: str
    spans: list[tuple[str, int]] = field(default_factory=list)
    group_starts: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        bad = [r for r in self.rows if len(r) != len(self.columns)]
        if bad or (self.spans and sum(w for _, w in self.spans) != len(self.columns)):
            raise ValueError(f"table rows or spans do not match its {len(self.columns)} columns")


def labels(*texts: str) -> list[Cell]:
    """Plain cells, e.g. the row-label cells of one row."""
    return [Cell(t) for t in texts]


def flat_columns(table: Table) -> list[str]:
    """Leaf labels prefixed by their span label: ``"Vocabulary (EN) EN-emb"``."""
    if not table.spans:
        return list(table.columns)
    tops = [label for label, width in table.spans for _ in range(width)]
    return [f"{top} {col}".strip() for top, col in zip(tops, table.columns)]


def _markdown_cell(cell: Cell) -> str:
    """Cell text with ``|`` escaped; a shaded (difference) cell in italics."""
    text = cell.text.replace("|", "\\|")
    return f"*{text}*" if cell.shaded and text else text


def to_markdown(table: Table, name: str, caption: str) -> str:
    """Title, caption, the table (one header row) and the footnote, as Markdown."""
    header = flat_columns(table)
    lines = [f"# {name}", "", caption, "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_markdown_cell(c) for c in row) + " |" for row in table.rows]
    lines += ["", table.footnote]
    return "\n".join(lines) + "\n"


def write_table(table: Table, name: str, caption: str, out_prefix: str) -> None:
    """Write ``{out_prefix}.md``, ``.csv`` (the tidy frame) and ``.tex``, each atomically."""
    with atomic_path(f"{out_prefix}.csv") as tmp:
        table.tidy.to_csv(tmp, index=False, float_format="%.4f")
    write_text(f"{out_prefix}.md", to_markdown(table, name, caption))
    write_text(f"{out_prefix}.tex", to_latex(table, name, caption))
