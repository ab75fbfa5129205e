"""The thesis's summary tables (seed 002, Tables 5.1 and 5.2) as numbers with their chance levels,
and every layer-to-layer change with its paired interval.

The thesis's tables summarise in words; these give the numbers its words rest on, each
score beside the chance level of the same procedure at the same n and dimensions, and each
change beside its chance level's change and its paired interval and p-value
(:mod:`flip_pipeline.report.thesis_changes`). Every layout is ``layout(spec, inputs, name) ->
Table`` (:mod:`flip_pipeline.report.table_model`).
"""

from __future__ import annotations

import pandas as pd

from flip_pipeline.formats.similarity_scores import read_scores
from flip_pipeline.report.table_model import Cell, Table, labels
from flip_pipeline.report.thesis_changes import (
    OFF_CENTRE,
    change_between,
    consecutive_changes,
    curve_layers,
    encoder_span,
    extra_step,
    format_change,
)
from flip_pipeline.report.thesis_results import RESOURCE_LEVELS, final_layers, per_layer, settings_note

CHANGE_NOTE = ("Δ: mean over the same comparisons of the later layer's score minus the earlier's (chance: the same "
               "change of the chance level, the dimensions' own effect), its 95% paired bootstrap interval and "
               "two-sided p-value over resamples of the same sentences; † no interval: n is small for the dimension "
               "(n < similarity.min_ratio × the dimension a method sees), where a resample's repeated sentences "
               "inflate the score, so none is given; ‡ the change lies outside its own interval: the resamples are "
               "biased there, read the interval with care.")


def _score(row: pd.Series | None) -> Cell:
    return Cell("–" if row is None else f"{row.score:.3f} ({row.chance:.3f})")


def _at_final(curve: pd.DataFrame) -> pd.Series:
    return curve.set_index("layer").loc[final_layers(curve)[0]]


def _label(spec: dict, model: str) -> str:
    return spec.get("labels", {}).get(model, model)


def _change(rows: pd.DataFrame, step: tuple[str, str] | None, kind: str, keys: dict) -> tuple[Cell, dict | None]:
    """The cell and tidy record of one change of one curve's rows (``None``: the curve has no such step)."""
    if step is None:
        return Cell("–"), None
    record = change_between(rows, *step)
    return Cell(format_change(record), shaded=True), {**keys, "step": kind, "layer": f"{step[0]} → {step[1]}",
                                                      **{k: record[k] for k in ("change", "chance_change", "note")},
                                                      "change_ci_low": record["ci_low"],
                                                      "change_ci_high": record["ci_high"],
                                                      "change_p_value": record["p_value"]}


def cross_modal_summary(spec: dict, inputs: list[str], name: str) -> Table:
    """Table 5.1: per model and method, the final layer's cross-modal score (chance) over all
    languages and per resource level, and the changes from the first to the last encoder layer
    and across the extra stage (also per resource level in the CSV)."""
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
        rows_of = frame[(frame.encoder == model) & (frame.method == method)]
        layers = curve_layers(rows_of)
        for kind, step in (("first_to_last", encoder_span(layers)), ("extra_stage", extra_step(layers))):
            cell, record = _change(rows_of, step, kind, {"encoder": model, "method": method, "resource": "all"})
            cells.append(cell)
            tidy += [record] if record else []
            present = [level for level in RESOURCE_LEVELS if level in set(rows_of.resource_a)]
            for level in present if record and kind == "extra_stage" else ():
                _, by_level = _change(rows_of[rows_of.resource_a == level], step, kind,
                                      {"encoder": model, "method": method, "resource": level})
                tidy.append(by_level)
        rows.append([*labels(_label(spec, model), method, final.name), *cells])
    columns = ["Model", "Method", "Final layer", "All", "High", "Medium", "Low", "Δ first → last encoder layer",
               "Δ extra stage"]
    note = ("Each cell: mean over languages of the final layer's score (chance level: independent Gaussian sets "
            "of the same n and dimensions through the same procedure). Extra stage: from the last encoder layer to "
            "the length adaptor or pooling. " + CHANGE_NOTE + " Score intervals, permutation nulls and the changes "
            "per resource level: the CSV. " + settings_note(inputs))
    return Table(columns, rows, 3, pd.DataFrame(tidy), note)


def cross_lingual_summary(spec: dict, inputs: list[str], name: str) -> Table:
    """Table 5.2: per model and method, the final layer's mean cross-lingual score (chance) for
    text–text, speech–speech and speech–text, and the change across the extra stage."""
    frame = read_scores(inputs)
    curves = per_layer(frame)
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
            rows_of = frame[(frame.encoder == model) & (frame.method == method) & (frame.analysis == analysis)]
            change, record = _change(rows_of, extra_step(curve_layers(rows_of)), "extra_stage", {})
            cells.append(_score(final))
            changes.append(change)
            tidy.append({"encoder": model, "method": method, "analysis": analysis, "layer": final.name,
                         "score": final.score, "chance": final.chance, "null_p95": final.null_p95,
                         "ci_low": final.ci_low, "ci_high": final.ci_high, "n": final.n, "pairs": final.cells,
                         **({"change_across": record.pop("layer"), **record} if record else {})})
        rows.append([*labels(_label(spec, model), method), *cells, *changes])
    columns = ["Model", "Method", "Text–text", "Speech–speech", "Speech–text", "Δ text", "Δ speech", "Δ speech–text"]
    note = ("Each cell: mean over language pairs (same-language pairs left out) of the final layer's score "
            "(chance level of the same procedure). Δ: across the final extra stage (length adaptor, pooling). "
            + CHANGE_NOTE + " Score intervals and permutation nulls: the CSV. " + settings_note(inputs))
    return Table(columns, rows, 2, pd.DataFrame(tidy), note)


def layer_changes(spec: dict, inputs: list[str], name: str) -> Table:
    """Every change from one layer to the next of every curve (model, analysis, method)."""
    changes = consecutive_changes(read_scores(inputs))
    rows = []
    starts = []
    for i, row in enumerate(changes.itertuples(index=False)):
        if i and (row.encoder, row.analysis) != (changes.encoder.iloc[i - 1], changes.analysis.iloc[i - 1]):
            starts.append(i)
        record = row._asdict()
        interval = "–" if record["comparisons"] == 0 else (
            f"[{row.ci_low:+.3f}, {row.ci_high:+.3f}]{'‡' if row.note == OFF_CENTRE else ''}"
            if pd.notna(row.ci_low) else "no interval†")
        rows.append([*labels(_label(spec, row.encoder), row.analysis, row.method, f"{row.layer_from} → {row.layer_to}"),
                     Cell(format_change(record, interval=False), shaded=True), Cell(interval),
                     Cell("–" if pd.isna(row.p_value) else f"{row.p_value:.2g}")])
    columns = ["Model", "Analysis", "Method", "Step", "Δ (chance Δ)", "95% interval", "p"]
    note = (CHANGE_NOTE + " Cross-lingual: mean over language pairs, same-language pairs left out. "
            + settings_note(inputs))
    return Table(columns, rows, 4, changes, note, group_starts=starts)


THESIS_TABLE_LAYOUTS = {"cross_modal_summary": cross_modal_summary, "cross_lingual_summary": cross_lingual_summary,
                        "layer_changes": layer_changes}
