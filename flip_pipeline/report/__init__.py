"""The report stage: evaluation summaries → tables (Markdown, CSV) and figures (PNG, PDF)."""

from __future__ import annotations

from flip_pipeline.report.figures import write_accuracy_figure
from flip_pipeline.report.tables import collect_results, write_accuracy_table


def write_report(kind: str, name: str, spec: dict, inputs: list[str], out_prefix: str) -> None:
    """Write table ``{out_prefix}.{md,csv}`` or figure ``{out_prefix}.{png,pdf}``.

    ``spec["entries"]`` describes each input summary (run, probe, rank, encoder, test view).
    """
    results = collect_results(spec["entries"], inputs)
    if kind == "table":
        write_accuracy_table(results, name, spec.get("caption", ""), out_prefix)
    else:
        write_accuracy_figure(results, spec.get("caption", ""), out_prefix)
