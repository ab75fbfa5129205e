"""The thesis report stage: similarity and t-SNE files → the thesis's tables and figures.

``spec["layout"]`` picks a table layout (:mod:`flip_pipeline.report.thesis_tables`,
:mod:`flip_pipeline.report.thesis_appendix_tables`) or a figure layout
(:mod:`flip_pipeline.report.thesis_figures`, :mod:`flip_pipeline.report.thesis_maps`); the spec comes from
:meth:`flip_pipeline.plan.thesis.ThesisPlan.report_spec` (the rules pass it as JSON).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from flip_pipeline.errors import FlipInputError
from flip_pipeline.extras import require
from flip_pipeline.formats.paths import REPORT_SUFFIXES
from flip_pipeline.progress import count, stage_done

log = logging.getLogger(__name__)


def layouts(kind: str) -> dict[str, Callable]:
    """The table or figure layouts; a table job imports no plotting library."""
    if kind == "table":
        from flip_pipeline.report.thesis_appendix_tables import APPENDIX_TABLE_LAYOUTS
        from flip_pipeline.report.thesis_tables import THESIS_TABLE_LAYOUTS

        return {**THESIS_TABLE_LAYOUTS, **APPENDIX_TABLE_LAYOUTS}
    require("thesis", "The thesis's figures (matplotlib)", "matplotlib")  # one line, not a traceback
    from flip_pipeline.report.thesis_figures import THESIS_FIGURE_LAYOUTS
    from flip_pipeline.report.thesis_maps import THESIS_MAP_LAYOUTS

    return {**THESIS_FIGURE_LAYOUTS, **THESIS_MAP_LAYOUTS}


def thesis_report_stage(kind: str, name: str, spec: dict, inputs: list[str], out_prefix: str) -> None:
    """Write table ``{out_prefix}.{md,csv,tex,html}`` or figure ``{out_prefix}.{png,pdf}``.

    Args:
        kind: ``"table"`` or ``"figure"``.
        name: the target name, e.g. ``thesis_fig5_1``.
        spec: ``{"layout", "caption", "labels", ...layout options}``.
        inputs: similarity files (``similarity/{encoder}/{analysis}.parquet``), shared-dimensions files,
            one t-SNE map, or corpus ``info.json`` and tables (Table 4.2's check).
        out_prefix: output path without extension.
    """
    started = time.perf_counter()
    known = layouts(kind)
    layout = spec.get("layout")
    if layout not in known:
        raise FlipInputError(f"thesis report {name}: unknown {kind} layout {layout!r}; known: {', '.join(known)}")
    if kind == "table":
        from flip_pipeline.report.tables import write_table

        write_table(known[layout](spec, inputs, name), name, spec.get("caption", ""), out_prefix)
    else:
        known[layout](spec, inputs, name, out_prefix)
    stage_done(log, f"thesis report {kind} {name}", started, read=count(len(inputs), "files"),
               wrote=f"{out_prefix}.{{{','.join(REPORT_SUFFIXES[kind])}}}")
