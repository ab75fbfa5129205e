"""The report stage: evaluation summaries → tables (Markdown, CSV, LaTeX) and figures (PNG, PDF).

``spec["layout"]`` picks the layout (default ``accuracy``): tables
:data:`~flip_pipeline.report.table_shapes.TABLE_LAYOUTS`, figures
:data:`~flip_pipeline.report.figures.FIGURE_LAYOUTS`. The spec comes from
:func:`flip_pipeline.plan.runs.report_spec` (the rules pass it as JSON).
"""

from __future__ import annotations

import dataclasses
import logging
import time

from flip_pipeline.config.settings import require_keys
from flip_pipeline.errors import FlipInputError
from flip_pipeline.extras import require
from flip_pipeline.formats.paths import REPORT_SUFFIXES
from flip_pipeline.progress import count, stage_done
from flip_pipeline.report.provenance import check_provenance
from flip_pipeline.report.results import collect_results, entries_for_inputs
from flip_pipeline.report.sweeps import add_sweeps, read_sweeps, with_chosen_rank
from flip_pipeline.report.table_shapes import TABLE_LAYOUTS
from flip_pipeline.report.tables import write_table

log = logging.getLogger(__name__)


def report_stage(kind: str, name: str, spec: dict, inputs: list[str], out_prefix: str) -> None:
    """Write table ``{out_prefix}.{md,csv,tex}`` or figure ``{out_prefix}.{png,pdf}``.

    Args:
        kind: ``"table"`` or ``"figure"``.
        name: the table or figure name (titles and error messages).
        spec: ``{"layout", "caption", "entries": [...], ...layout options}``; each entry
            describes one input file (its ``path``) and the run and view it evaluates, and
            (from the rules) the fingerprints :func:`~flip_pipeline.report.provenance.check_provenance`
            holds the inputs and models against.
        inputs: the summary files, each the ``path`` of an entry.
        out_prefix: output path without extension.
    """
    started = time.perf_counter()
    layouts = TABLE_LAYOUTS if kind == "table" else _figure_layouts()
    layout = spec.get("layout", "accuracy")
    if layout not in layouts:
        raise FlipInputError(f"report {name}: unknown {kind} layout {layout!r}; known: {', '.join(layouts)}")
    require_keys(spec, ("entries",), f"report {name}: --spec")
    fingerprint = check_provenance(entries_for_inputs(name, spec["entries"], inputs), name)
    if kind == "table":
        results = collect_results(spec["entries"], inputs, name)
        sweeps = read_sweeps(results)  # swept runs: the settings chosen on dev, every point's dev score
        table = add_sweeps(layouts[layout](with_chosen_rank(results, sweeps), spec, name), results, sweeps, name)
        if fingerprint:
            note = f"{table.footnote} Configuration fingerprint {fingerprint} (of each row: column fingerprint of the CSV)."
            table = dataclasses.replace(table, footnote=note)
        write_table(table, name, spec.get("caption", ""), out_prefix)
    else:
        layouts[layout](spec, inputs, name, out_prefix)
    stage_done(log, f"report {kind} {name}", started, read=count(len(inputs), "evaluation files"),
               wrote=f"{out_prefix}.{{{','.join(REPORT_SUFFIXES[kind])}}}")


def _figure_layouts() -> dict:
    """:data:`~flip_pipeline.report.figures.FIGURE_LAYOUTS`, imported only for figures (matplotlib is
    the workflow extra's: tables need only the core)."""
    require("workflow", "Figures (matplotlib)", "matplotlib")
    from flip_pipeline.report.figures import FIGURE_LAYOUTS

    return FIGURE_LAYOUTS
