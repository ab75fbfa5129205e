"""A report table's four renderings: Markdown, tidy CSV, LaTeX (booktabs) and HTML (the report's).

Layouts (:mod:`flip_pipeline.report.table_shapes`) build a :class:`~flip_pipeline.report.table_model.Table`;
:func:`write_table` writes ``{out_prefix}.md``, ``.csv``, ``.tex`` and ``.html`` atomically.
"""

from __future__ import annotations

from flip_pipeline.atomic import atomic_path, write_text
from flip_pipeline.report.html import to_html
from flip_pipeline.report.latex import to_latex
from flip_pipeline.report.table_model import Cell, Table, flat_columns


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
    """Write ``{out_prefix}.md``, ``.csv`` (the tidy frame), ``.tex`` and ``.html``, each atomically."""
    with atomic_path(f"{out_prefix}.csv") as tmp:
        table.tidy.to_csv(tmp, index=False, float_format="%.4f")
    write_text(f"{out_prefix}.md", to_markdown(table, name, caption))
    write_text(f"{out_prefix}.tex", to_latex(table, name, caption))
    write_text(f"{out_prefix}.html", to_html(table, name, caption))
