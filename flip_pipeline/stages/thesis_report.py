"""The thesis report stage: similarity and t-SNE files → the thesis's tables and figures.

``spec["layout"]`` picks a layout of :data:`~flip_pipeline.report.thesis_tables.THESIS_TABLE_LAYOUTS`
or :data:`~flip_pipeline.report.thesis_figures.THESIS_FIGURE_LAYOUTS`; the spec comes from
:meth:`flip_pipeline.report.thesis_plan.ThesisPlan.report_spec` (the rules pass it as JSON).
"""

from __future__ import annotations

import logging
import time

from flip_pipeline.errors import FlipInputError
from flip_pipeline.extras import require
from flip_pipeline.formats.layout import REPORT_SUFFIXES
from flip_pipeline.progress import count, stage_done

require("thesis", "The thesis's tables and figures (matplotlib)", "matplotlib")  # one line, not a traceback

from flip_pipeline.report.tables import write_table  # noqa: E402
from flip_pipeline.report.thesis_figures import THESIS_FIGURE_LAYOUTS  # noqa: E402
from flip_pipeline.report.thesis_tables import THESIS_TABLE_LAYOUTS  # noqa: E402

log = logging.getLogger(__name__)


def thesis_report_stage(kind: str, name: str, spec: dict, inputs: list[str], out_prefix: str) -> None:
    """Write table ``{out_prefix}.{md,csv,tex}`` or figure ``{out_prefix}.{png,pdf}``.

    Args:
        kind: ``"table"`` or ``"figure"``.
        name: the target name, e.g. ``thesis_fig5_1``.
        spec: ``{"layout", "caption", "labels", ...layout options}``.
        inputs: similarity files (``similarity/{encoder}/{analysis}.parquet``) or one t-SNE map.
        out_prefix: output path without extension.
    """
    started = time.perf_counter()
    layouts = THESIS_TABLE_LAYOUTS if kind == "table" else THESIS_FIGURE_LAYOUTS
    layout = spec.get("layout")
    if layout not in layouts:
        raise FlipInputError(f"thesis report {name}: unknown {kind} layout {layout!r}; known: {', '.join(layouts)}")
    if kind == "table":
        write_table(layouts[layout](spec, inputs, name), name, spec.get("caption", ""), out_prefix)
    else:
        layouts[layout](spec, inputs, name, out_prefix)
    stage_done(log, f"thesis report {kind} {name}", started, read=count(len(inputs), "files"),
               wrote=f"{out_prefix}.{{{','.join(REPORT_SUFFIXES[kind])}}}")
