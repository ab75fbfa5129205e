"""The report stage: finished results → one table (Markdown, CSV, LaTeX, HTML) or figure (PNG, PDF).

Every table and figure, the paper's and the thesis's, is drawn here: ``spec["layout"]`` picks it
from :func:`flip_pipeline.report.layouts.layouts` (default ``accuracy``). The spec is the one of the
target's :class:`~flip_pipeline.plan.targets.Target` (the rules pass it as a file). A spec with
``entries`` (the paper's: one evaluation each) has its inputs and models checked against the
current configuration first (:func:`~flip_pipeline.report.provenance.check_provenance`), and a
table of them says the fingerprint of that configuration in its footnote.
"""

from __future__ import annotations

import dataclasses
import logging
import time

from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.paths import REPORT_SUFFIXES
from flip_pipeline.progress import count, stage_done
from flip_pipeline.report.layouts import layouts
from flip_pipeline.report.provenance import check_provenance
from flip_pipeline.report.results import entries_for_inputs
from flip_pipeline.report.tables import write_table

log = logging.getLogger(__name__)


def report_stage(kind: str, name: str, spec: dict, inputs: list[str], out_prefix: str) -> None:
    """Write table ``{out_prefix}.{md,csv,tex,html}`` or figure ``{out_prefix}.{png,pdf}``.

    Args:
        kind: ``"table"`` or ``"figure"``.
        name: the target name (titles and error messages), e.g. ``table1_rank`` or ``thesis_fig5_1``.
        spec: ``{"layout", "caption", ...layout options}``; the paper's also ``"entries": [...]``, each
            describing one input file (its ``path``), the run and view it evaluates and (from the rules)
            the fingerprints its input and model are held against.
        inputs: the files the layout reads: evaluation summaries (each the ``path`` of an entry),
            similarity files, shared-dimensions files, a t-SNE map, or corpus ``info.json`` and tables.
        out_prefix: output path without extension.
    """
    started = time.perf_counter()
    known = layouts(kind)
    layout = spec.get("layout", "accuracy")
    if layout not in known:
        raise FlipInputError(f"report {name}: unknown {kind} layout {layout!r}; known: {', '.join(known)}")
    fingerprint = check_provenance(entries_for_inputs(name, spec["entries"], inputs), name) if "entries" in spec else None
    if kind == "table":
        table = known[layout](spec, inputs, name)
        if fingerprint:
            note = f"{table.footnote} Configuration fingerprint {fingerprint} (of each row: column fingerprint of the CSV)."
            table = dataclasses.replace(table, footnote=note)
        write_table(table, name, spec.get("caption", ""), out_prefix)
    else:
        known[layout](spec, inputs, name, out_prefix)
    stage_done(log, f"report {kind} {name}", started, read=count(len(inputs), "files"),
               wrote=f"{out_prefix}.{{{','.join(REPORT_SUFFIXES[kind])}}}")
