"""The similarity stage's scores: ``similarity/{encoder}/{analysis}.parquet``.

One row per (layer pair, language pair, method), columns :data:`COLUMNS`: the key
(``encoder, analysis, layer_a, layer_b, language_a, modality_a, language_b, modality_b,
resource_a, resource_b``), the sizes (``n`` sentences; ``dim_a``/``dim_b`` raw and
``reduced_a``/``reduced_b`` SVD-reduced dimensions), ``method`` and the numbers: ``score``,
``chance`` and ``chance_sd`` (independent Gaussian sets through the same procedure),
``null_mean``, ``null_p95`` and ``p_value`` (permutation null breaking the sentence
pairing), ``ci_low``/``ci_high`` (bootstrap interval; NaN where it is not valid). Schema
metadata: ``flip.settings`` (JSON), ``flip.encoder``, ``flip.analysis``, ``flip.views``,
``flip.resource_levels``.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from flip_pipeline.atomic import atomic_path
from flip_pipeline.errors import FlipInputError
from flip_pipeline.files import read_parquet, read_parquet_schema

#: The analyses (seed 002 §3.1–3.2) → (modality of side a, modality of side b).
ANALYSES = {
    "cross_modal": ("speech", "text"),
    "cross_lingual_text": ("text", "text"),
    "cross_lingual_speech": ("speech", "speech"),
    "cross_lingual_speech_text": ("speech", "text"),
}
KEY_COLUMNS = ("encoder", "analysis", "layer_a", "layer_b", "language_a", "modality_a", "language_b", "modality_b",
               "resource_a", "resource_b")
COLUMNS = KEY_COLUMNS + ("n", "dim_a", "dim_b", "reduced_a", "reduced_b", "method", "score", "chance",
                         "chance_sd", "null_mean", "null_p95", "p_value", "ci_low", "ci_high")


def write_scores(frame: pd.DataFrame, out_path: str | os.PathLike[str], metadata: dict[str, Any]) -> None:
    """Write ``frame`` (:data:`COLUMNS`) atomically with ``metadata`` as ``flip.<key>`` (JSON unless a string)."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    extra = {f"flip.{key}".encode(): (value if isinstance(value, str) else json.dumps(value, sort_keys=True)).encode()
             for key, value in metadata.items()}
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), **extra})
    with atomic_path(out_path) as tmp:
        pq.write_table(table, tmp)


def read_settings(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The settings a similarity file was computed with (its ``flip.settings``); ``{}`` if it has none."""
    metadata = read_parquet_schema(path, "similarity file").metadata or {}
    return json.loads(metadata[b"flip.settings"]) if b"flip.settings" in metadata else {}


def read_scores(paths: list[str]) -> pd.DataFrame:
    """Every row of the similarity files, with ``layer`` (``"layer_a"``, or ``"layer_a/layer_b"``
    where they differ) and ``order`` (its position in its file) added; an error naming a file
    that cannot be read or lacks a column."""
    frames = []
    for path in paths:
        frame = read_parquet(path, COLUMNS, "similarity file").to_pandas()
        frame["layer"] = [a if a == b else f"{a}/{b}" for a, b in zip(frame.layer_a, frame.layer_b)]
        frame["order"] = frame.layer.map({layer: i for i, layer in enumerate(dict.fromkeys(frame.layer))})
        frames.append(frame)
    if not frames:
        raise FlipInputError("no similarity files given")
    return pd.concat(frames, ignore_index=True)
