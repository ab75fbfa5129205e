"""LaTeX rendering of a report table: a booktabs ``tabular`` in a ``table`` float.

Needs ``\\usepackage{booktabs,amssymb}``; shaded (difference) cells use ``\\cellcolor``
from ``\\usepackage[table]{xcolor}``. The file says so in a comment line.
"""

from __future__ import annotations

import re

from flip_pipeline.report.table_model import Cell, Table

_ESCAPES = str.maketrans({
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    "\u2212": "$-$", "\u2013": "--", "±": r"$\pm$", "Δ": r"$\Delta$", "α": r"$\alpha$",
    "✓": r"$\checkmark$", "✗": r"$\times$", "·": r"$\cdot$", "→": r"$\rightarrow$", "×": r"$\times$",
    "†": r"$^\dagger$", "‡": r"$^\ddagger$",
})

PREAMBLE = (r"% needs \usepackage{booktabs,amssymb}; shaded cells need \usepackage[table]{xcolor} "
            r"(\cellcolor{lightgray})")


def escape(text: str) -> str:
    """``"text_en 5%"`` → ``"text\\_en 5\\%"``; Unicode signs the tables use → math mode."""
    return str(text).translate(_ESCAPES)


def _cell(cell: Cell) -> str:
    """One escaped cell; a shaded one on light grey."""
    text = escape(cell.text)
    return rf"\cellcolor{{lightgray}}{text}" if cell.shaded else text


def _span_lines(spans: list[tuple[str, int]]) -> list[str]:
    """The header row of spanning labels and its ``\\cmidrule`` underlines."""
    cells, rules, first = [], [], 1
    for label, width in spans:
        cells.append(rf"\multicolumn{{{width}}}{{c}}{{{escape(label)}}}" if label and width > 1 else escape(label))
        if label:
            rules.append(rf"\cmidrule(lr){{{first}-{first + width - 1}}}")
        first += width
    return [" & ".join(cells) + r" \\", " ".join(rules)]


def to_latex(table: Table, name: str, caption: str) -> str:
    """The whole ``table`` float: caption, label ``tab:{name}``, booktabs rules, footnote."""
    label = re.sub(r"[^A-Za-z0-9:_-]", "-", name)
    align = "l" * table.n_labels + "c" * (len(table.columns) - table.n_labels)
    lines = [PREAMBLE, r"\begin{table}[t]", r"\centering", rf"\caption{{{escape(caption)}}}",
             rf"\label{{tab:{label}}}", rf"\begin{{tabular}}{{{align}}}", r"\toprule"]
    if table.spans:
        lines += _span_lines(table.spans)
    lines += [" & ".join(escape(c) for c in table.columns) + r" \\", r"\midrule"]
    for i, row in enumerate(table.rows):
        if i and i in table.group_starts:
            lines.append(r"\midrule")
        lines.append(" & ".join(_cell(c) for c in row) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", rf"{{\footnotesize {escape(table.footnote)}\par}}", r"\end{table}"]
    return "\n".join(lines) + "\n"
