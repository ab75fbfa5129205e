"""The table model every report layout builds: cells, spans, groups and the tidy frame behind them.

Renderings: Markdown and the files (:mod:`flip_pipeline.report.tables`), LaTeX
(:mod:`flip_pipeline.report.latex`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd


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
