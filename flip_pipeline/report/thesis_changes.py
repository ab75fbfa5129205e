"""Changes of the thesis's curves from one layer to another, with paired intervals (beyond seed 002).

The thesis reads meaning into changes as small as +0.003 (across SeamlessM4T's length
adaptor) and +0.04 (first to last layer). A change here is the mean over comparisons
(languages, or language pairs with the same-language cells left out) of ``score(to) −
score(from)``, on the comparisons both layers have, beside the same change of the chance
level (what the layers' dimensions alone move; the thesis's layer-4 dip is one).

Its interval and p-value are *paired*: every similarity row keeps its score on each
resample of the sentence ids (``resamples``, :mod:`flip_pipeline.similarity.null`), and
resample ``b`` is the same sentences in every comparison, layer, side and method, so the
change on resample ``b`` is the mean over comparisons of the two layers' scores on it
(:func:`~flip_pipeline.similarity.null.paired_change`). Where a comparison has no resamples —
the stage leaves them out where ``n`` is small for the dimension (``similarity.min_ratio``),
since a resample repeats sentences and inflates CCA and CKA there — the interval is NaN and
the note says why, rather than printing a biased interval. At the thesis's sizes (``n`` 251,
dimensions near 190) that is every SVCCA, PWCCA and CKA change.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from flip_pipeline.report.thesis_results import EXTRA_LAYERS
from flip_pipeline.similarity.null import paired_change

COMPARISON = ["language_a", "modality_a", "language_b", "modality_b"]
CHANGE_COLUMNS = ("layer_from", "layer_to", "change", "chance_change", "ci_low", "ci_high", "p_value",
                  "comparisons", "n", "note")
NO_INTERVAL = ("no interval: the similarity stage kept no resamples for some comparison (n < similarity.min_ratio "
               "× the dimension a method sees, where a resample's repeated sentences inflate the score; or "
               "bootstrap 0)")
OFF_CENTRE = ("the observed change lies outside its resampled changes' interval: the resamples are biased here "
              "(their repeated sentences move the two layers' scores unequally); read the interval with care")
LEVEL = 0.95


def _rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows a curve averages: same-language cells of a cross-lingual analysis left out."""
    return frame[(frame.analysis == "cross_modal") | (frame.language_a != frame.language_b)]


def change_between(block: pd.DataFrame, layer_from: str, layer_to: str, level: float = LEVEL,
                   same_language: bool = False) -> dict:
    """The change from ``layer_from`` to ``layer_to`` (``layer`` labels) of one curve's rows
    ``block`` (one encoder, analysis and method), as a record of :data:`CHANGE_COLUMNS`;
    same-language cells of a cross-lingual analysis count only with ``same_language``."""
    rows = block if same_language else _rows(block)
    before = rows[rows.layer == layer_from].set_index(COMPARISON)
    after = rows[rows.layer == layer_to].set_index(COMPARISON)
    common = before.index.intersection(after.index)
    before, after = before.loc[common], after.loc[common]
    record = {"layer_from": layer_from, "layer_to": layer_to, "comparisons": len(common),
              "change": float((after.score - before.score).mean()) if len(common) else np.nan,
              "chance_change": float((after.chance - before.chance).mean()) if len(common) else np.nan,
              "n": float(after.n.mean()) if len(common) else np.nan,
              "ci_low": np.nan, "ci_high": np.nan, "p_value": np.nan, "note": ""}
    draws = [_stack(side.resamples) for side in (before, after)]
    if len(common) and all(d is not None for d in draws) and draws[0].shape == draws[1].shape:
        record["ci_low"], record["ci_high"], record["p_value"] = paired_change(*draws, level)
        if not record["ci_low"] <= record["change"] <= record["ci_high"]:
            record["note"] = OFF_CENTRE
    elif len(common):
        record["note"] = NO_INTERVAL
    return record


def _stack(resamples: pd.Series) -> np.ndarray | None:
    """``(comparisons, draws)`` of one layer's rows, or ``None`` if any row has no resamples."""
    arrays = [np.asarray(r, dtype=np.float64) for r in resamples]
    if not arrays or any(a.size == 0 for a in arrays) or len({a.size for a in arrays}) > 1:
        return None
    return np.stack(arrays)


def layer_steps(layers: Sequence[str]) -> list[tuple[str, str]]:
    """Each layer and the next, in curve order."""
    return list(zip(layers[:-1], layers[1:]))


def encoder_span(layers: Sequence[str]) -> tuple[str, str] | None:
    """``(first, last)`` encoder layer (``layer_NN``) of a curve: the thesis's "first to last layer"."""
    encoder = [layer for layer in layers if layer.split("/")[0].startswith("layer_")]
    return (encoder[0], encoder[-1]) if len(encoder) > 1 else None


def extra_step(layers: Sequence[str]) -> tuple[str, str] | None:
    """``(last encoder layer, extra stage)`` where a curve ends in an adaptor or pooling."""
    if len(layers) > 1 and layers[-1].split("/")[0] in EXTRA_LAYERS:
        return layers[-2], layers[-1]
    return None


def curve_layers(block: pd.DataFrame) -> list[str]:
    """The layer labels of one curve's rows in order."""
    return list(block.sort_values("order", kind="stable").layer.drop_duplicates())


def consecutive_changes(frame: pd.DataFrame, by: tuple[str, ...] = ()) -> pd.DataFrame:
    """Every step of every curve of ``frame`` (similarity rows): one row per ``(encoder,
    analysis, method, *by)`` and step, columns those keys then :data:`CHANGE_COLUMNS`."""
    keys = ["encoder", "analysis", "method", *by]
    records = []
    for values, block in frame.groupby(keys, sort=False):
        for layer_from, layer_to in layer_steps(curve_layers(block)):
            records.append(dict(zip(keys, values)) | change_between(block, layer_from, layer_to))
    return pd.DataFrame.from_records(records, columns=[*keys, *CHANGE_COLUMNS])


def format_change(record: dict | pd.Series | None, interval: bool = True) -> str:
    """``+0.003 (chance +0.001) [-0.002, +0.008] p 0.21`` (``‡`` after it where the change lies outside
    its interval), or ``… no interval†`` where there is none."""
    if record is None or not np.isfinite(record["change"]):
        return "–"
    text = f"{record['change']:+.3f} (chance {record['chance_change']:+.3f})"
    if not interval:
        return text
    if np.isfinite(record["ci_low"]):
        off = "‡" if record["note"] == OFF_CENTRE else ""
        return f"{text} [{record['ci_low']:+.3f}, {record['ci_high']:+.3f}]{off} p {record['p_value']:.2g}"
    return f"{text} no interval†"
