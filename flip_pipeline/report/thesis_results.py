"""The thesis's curves: similarity scores averaged per layer over languages or language pairs.

Scores come from :mod:`flip_pipeline.formats.similarity_scores`. The thesis's curves are
means over languages (cross-modal) or language pairs (cross-lingual, same-language cells
left out, seed 002 §5.2) of every number at one layer.
"""

from __future__ import annotations

import json

import pandas as pd

from flip_pipeline.formats.similarity_scores import read_settings
from flip_pipeline.similarity.analysis_settings import METHOD_NAMES

AVERAGED = ("score", "chance", "null_mean", "null_p95", "ci_low", "ci_high", "n")
RESOURCE_LEVELS = ("high", "medium", "low")
EXTRA_LAYERS = ("adaptor", "pooled")  # stages after the encoder layers (seed 002 §4.1)


def per_layer(frame: pd.DataFrame, by: tuple[str, ...] = ()) -> pd.DataFrame:
    """Means of :data:`AVERAGED` per ``(encoder, analysis, method, *by, layer)`` of the scores
    ``frame`` (:func:`~flip_pipeline.formats.similarity_scores.read_scores`), in layer order,
    methods in the thesis's order (:data:`~flip_pipeline.similarity.analysis_settings.METHOD_NAMES`:
    SVCCA, PWCCA, then CKA), with ``cells`` the number of comparisons averaged; same-language
    cells of a cross-lingual analysis are left out."""
    kept = frame[(frame.analysis == "cross_modal") | (frame.language_a != frame.language_b)]
    keys = ["encoder", "analysis", "method", *by, "order", "layer"]
    grouped = kept.groupby(keys, sort=True)
    means = grouped[list(AVERAGED)].mean()
    means["cells"] = grouped.size()
    means = means.reset_index()
    means["method_rank"] = means.method.map({name: i for i, name in enumerate(METHOD_NAMES)})
    ordered = means.sort_values(["encoder", "analysis", "method_rank", *by, "order"], kind="stable")
    return ordered.drop(columns="method_rank")


def final_layers(curve: pd.DataFrame) -> tuple[str, str | None]:
    """``(final layer, the one before it if the final one is an extra stage)`` of one curve,
    e.g. ``("pooled", "layer_24")`` for SONAR, ``("layer_06", None)`` for MiniLM."""
    layers = list(curve.sort_values("order").layer)
    final = layers[-1]
    before = layers[-2] if final.split("/")[0] in EXTRA_LAYERS and len(layers) > 1 else None
    return final, before


def settings_note(paths: list[str]) -> str:
    """Which settings produced the scores, for a table's footnote: one JSON per distinct setting."""
    distinct = dict.fromkeys(json.dumps(read_settings(p), sort_keys=True) for p in paths)
    return "Similarity settings: " + "; ".join(distinct) + "."
