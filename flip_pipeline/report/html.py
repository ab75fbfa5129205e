"""A report table as a standalone HTML page: what ``snakemake --report`` shows for each table.

The page has the table's title, caption, the table itself (a spanning header row where the
layout has one, a rule above each group, difference cells shaded and in italics, as the LaTeX
rendering greys them) and the footnote; every text is escaped. No script, no external file.
"""

from __future__ import annotations

from html import escape

from flip_pipeline.report.table_model import Cell, Table

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.5em; color: #1a1a1a; }
h1 { font-size: 1.2em; } p.caption { max-width: 60em; }
table { border-collapse: collapse; font-size: 0.9em; font-variant-numeric: tabular-nums; }
th, td { padding: 0.25em 0.7em; text-align: right; white-space: nowrap; }
th { border-bottom: 1px solid #444; } thead tr:first-child th { border-top: 2px solid #444; }
tbody tr:last-child td { border-bottom: 2px solid #444; }
td.label, th.label { text-align: left; } tr.group td { border-top: 1px solid #999; }
td.difference { background: #ececec; font-style: italic; } p.footnote { font-size: 0.85em; max-width: 60em; }
"""


def _cell(cell: Cell, label: bool) -> str:
    classes = " ".join(c for c, on in (("label", label), ("difference", cell.shaded)) if on)
    attribute = f' class="{classes}"' if classes else ""
    return f"<td{attribute}>{escape(cell.text)}</td>"


def to_html(table: Table, name: str, caption: str) -> str:
    """The page: ``<h1>name</h1>``, the caption, the table and its footnote."""
    head = []
    if table.spans:
        head.append("<tr>" + "".join(f'<th colspan="{width}">{escape(label)}</th>' for label, width in table.spans)
                    + "</tr>")
    label = ' class="label"'
    head.append("<tr>" + "".join(f"<th{label if i < table.n_labels else ''}>{escape(column)}</th>"
                                 for i, column in enumerate(table.columns)) + "</tr>")
    body = []
    for r, row in enumerate(table.rows):
        opens = ' class="group"' if r in table.group_starts and r > 0 else ""
        body.append(f"<tr{opens}>" + "".join(_cell(cell, i < table.n_labels) for i, cell in enumerate(row)) + "</tr>")
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">', f"<title>{escape(name)}</title>",
        f"<style>{STYLE}</style>", "</head>", "<body>", f"<h1>{escape(name)}</h1>",
        f'<p class="caption">{escape(caption)}</p>', "<table>", "<thead>", *head, "</thead>", "<tbody>", *body,
        "</tbody>", "</table>", f'<p class="footnote">{escape(table.footnote)}</p>', "</body>", "</html>", "",
    ])
