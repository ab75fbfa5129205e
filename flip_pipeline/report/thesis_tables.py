"""The thesis's summary tables (seed 002, Tables 5.1 and 5.2) as numbers with their chance levels.

The thesis's tables summarise in words; these give the numbers its words rest on, each
score beside the chance level of the same procedure at the same n and dimensions. Every
layout is ``layout(spec, inputs, name) -> Table`` (:mod:`flip_pipeline.report.table_model`).
"""

from __future__ import annotations

import pandas as pd

from flip_pipeline.formats.similarity_scores import read_scores
from flip_pipeline.report.table_model import Cell, Table, labels
from flip_pipeline.report.thesis_figures import RESOURCE_LEVELS
from flip_pipeline.report.thesis_results import final_layers, per_layer, settings_note


def _score(row: pd.Series | None) -> Cell:
    return Cell("–" if row is None else f"{row.score:.3f} ({row.chance:.3f})")


def _change(curve: pd.DataFrame) -> tuple[Cell, float | None, str]:
    """The change of the score across the model's extra stage (adaptor, pooling), if it has one."""
    final, before = final_layers(curve)
    if before is None:
        return Cell("–"), None, ""
    by_layer = curve.set_index("layer")
    delta = float(by_layer.score[final] - by_layer.score[before])
    return Cell(f"{delta:+.3f}", shaded=True), delta, f"{before} → {final}"


def _at_final(curve: pd.DataFrame) -> pd.Series:
    return curve.set_index("layer").loc[final_layers(curve)[0]]


def _label(spec: dict, model: str) -> str:
    return spec.get("labels", {}).get(model, model)


def cross_modal_summary(spec: dict, inputs: list[str], name: str) -> Table:
    """Table 5.1: per model and method, the final layer's cross-modal score (chance) over all
    languages and per resource level, and the change across the extra stage."""
    frame = read_scores(inputs)
    overall, levels = per_layer(frame), per_layer(frame, by=("resource_a",))
    rows, tidy = [], []
    for (model, method), curve in overall.groupby(["encoder", "method"], sort=False):
        final = _at_final(curve)
        cells = [_score(final)]
        tidy.append({"encoder": model, "method": method, "resource": "all", "layer": final.name,
                     "score": final.score, "chance": final.chance, "null_p95": final.null_p95,
                     "ci_low": final.ci_low, "ci_high": final.ci_high, "n": final.n, "languages": final.cells})
        for level in RESOURCE_LEVELS:
            block = levels[(levels.encoder == model) & (levels.method == method) & (levels.resource_a == level)]
            row = block.set_index("layer").loc[final.name] if final.name in set(block.layer) else None
            cells.append(_score(row))
            if row is not None:
                tidy.append({"encoder": model, "method": method, "resource": level, "layer": final.name,
                             "score": row.score, "chance": row.chance, "null_p95": row.null_p95,
                             "ci_low": row.ci_low, "ci_high": row.ci_high, "n": row.n, "languages": row.cells})
        change, delta, across = _change(curve)
        if delta is not None:
            tidy.append({"encoder": model, "method": method, "resource": "all", "layer": across, "change": delta})
        rows.append([*labels(_label(spec, model), method, final.name), *cells, change])
    columns = ["Model", "Method", "Final layer", "All", "High", "Medium", "Low", "Extra stage Δ"]
    note = ("Each cell: mean over languages of the final layer's score (chance level: independent Gaussian sets "
            "of the same n and dimensions through the same procedure). Δ: change from the last encoder layer to "
            "the final extra stage (length adaptor, pooling). Intervals and permutation nulls: the CSV. "
            + settings_note(inputs))
    return Table(columns, rows, 3, pd.DataFrame(tidy), note)


def cross_lingual_summary(spec: dict, inputs: list[str], name: str) -> Table:
    """Table 5.2: per model and method, the final layer's mean cross-lingual score (chance) for
    text–text, speech–speech and speech–text, and the change across the extra stage."""
    curves = per_layer(read_scores(inputs))
    analyses = ["cross_lingual_text", "cross_lingual_speech", "cross_lingual_speech_text"]
    rows, tidy = [], []
    for (model, method), block in curves.groupby(["encoder", "method"], sort=False):
        cells, changes = [], []
        for analysis in analyses:
            curve = block[block.analysis == analysis]
            if curve.empty:
                cells.append(Cell("–"))
                changes.append(Cell("–"))
                continue
            final = _at_final(curve)
            change, delta, across = _change(curve)
            cells.append(_score(final))
            changes.append(change)
            tidy.append({"encoder": model, "method": method, "analysis": analysis, "layer": final.name,
                         "score": final.score, "chance": final.chance, "null_p95": final.null_p95,
                         "ci_low": final.ci_low, "ci_high": final.ci_high, "n": final.n, "pairs": final.cells,
                         "change": delta, "change_across": across})
        rows.append([*labels(_label(spec, model), method), *cells, *changes])
    columns = ["Model", "Method", "Text–text", "Speech–speech", "Speech–text", "Δ text", "Δ speech", "Δ speech–text"]
    note = ("Each cell: mean over language pairs (same-language pairs left out) of the final layer's score "
            "(chance level of the same procedure). Δ: change across the final extra stage (length adaptor, "
            "pooling). Intervals and permutation nulls: the CSV. " + settings_note(inputs))
    return Table(columns, rows, 2, pd.DataFrame(tidy), note)


THESIS_TABLE_LAYOUTS = {"cross_modal_summary": cross_modal_summary, "cross_lingual_summary": cross_lingual_summary}
