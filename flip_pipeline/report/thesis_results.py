"""Reading the similarity stage's tidy Parquet files and averaging them per layer.

One row of a similarity file is one comparison (``stages/similarity.py``): ``encoder,
analysis, layer_a, layer_b, language_a, modality_a, language_b, modality_b, resource_a,
resource_b, n, dim_a, dim_b, reduced_a, reduced_b, method, score, chance, chance_sd,
null_mean, null_p95, p_value, ci_low, ci_high``. The thesis's curves are means over
languages (cross-modal) or language pairs (cross-lingual, same-language cells left out)
of every column at one layer.
"""

from __future__ import annotations

import pandas as pd
import pyarrow.parquet as pq

from flip_pipeline.errors import FlipInputError

REQUIRED = ("encoder", "analysis", "layer_a", "layer_b", "language_a", "language_b", "resource_a",
            "method", "score", "chance", "null_p95", "ci_low", "ci_high", "n")
AVERAGED = ("score", "chance", "null_p95", "ci_low", "ci_high", "n")
EXTRA_LAYERS = ("adaptor", "pooled")  # stages after the encoder layers (seed 002 §4.1)


def read_similarity(paths: list[str]) -> pd.DataFrame:
    """Every row of the similarity files, with ``layer`` (``"layer_a"`` or ``"layer_a/layer_b"``)
    and ``order`` (its position in its file) added; an error naming a file that lacks a column."""
    frames = []
    for path in paths:
        try:
            frame = pq.read_table(path).to_pandas()
        except (OSError, ValueError) as err:
            raise FlipInputError(f"{path}: not a readable similarity file ({err})") from None
        missing = [c for c in REQUIRED if c not in frame.columns]
        if missing:
            raise FlipInputError(f"{path}: similarity file lacks columns {missing}")
        frame["layer"] = [a if a == b else f"{a}/{b}" for a, b in zip(frame.layer_a, frame.layer_b)]
        order = {layer: i for i, layer in enumerate(dict.fromkeys(frame.layer))}
        frame["order"] = frame.layer.map(order)
        frames.append(frame)
    if not frames:
        raise FlipInputError("no similarity files given")
    return pd.concat(frames, ignore_index=True)


def per_layer(frame: pd.DataFrame, by: tuple[str, ...] = ()) -> pd.DataFrame:
    """Means of :data:`AVERAGED` per ``(encoder, analysis, method, *by, layer)``, in layer order,
    with ``cells`` the number of comparisons averaged; same-language cells of a cross-lingual
    analysis are left out (seed 002 §5.2)."""
    kept = frame[(frame.analysis == "cross_modal") | (frame.language_a != frame.language_b)]
    keys = ["encoder", "analysis", "method", *by, "order", "layer"]
    means = kept.groupby(keys, sort=True)[list(AVERAGED)].mean()
    means["cells"] = kept.groupby(keys, sort=True).size()
    return means.reset_index().sort_values(["encoder", "analysis", "method", *by, "order"], kind="stable")


def final_layers(curve: pd.DataFrame) -> tuple[str, str | None]:
    """``(final layer, the one before it if the final one is an extra stage)`` of one curve,
    e.g. ``("pooled", "layer_24")`` for SONAR, ``("layer_06", None)`` for MiniLM."""
    layers = list(curve.sort_values("order").layer)
    final = layers[-1]
    before = layers[-2] if final.split("/")[0] in EXTRA_LAYERS and len(layers) > 1 else None
    return final, before
