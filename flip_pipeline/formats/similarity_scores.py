"""The similarity stage's scores, ``similarity/{encoder}/{analysis}.parquet``, and the shared
reduced dimensions of the cross-lingual analyses, ``similarity/{encoder}/cross_lingual_dimensions.parquet``.

One row per (layer pair, language pair, method), columns :data:`COLUMNS`: the key
(``encoder, analysis, layer_a, layer_b, language_a, modality_a, language_b, modality_b,
resource_a, resource_b``), the sizes (``n`` sentences; ``dim_a``/``dim_b`` raw and
``reduced_a``/``reduced_b`` SVD-reduced dimensions), ``method`` and the numbers: ``score``,
``chance`` and ``chance_sd`` (independent Gaussian sets through the same procedure),
``null_mean``, ``null_p95`` and ``p_value`` (permutation null breaking the sentence
pairing), ``ci_low``/``ci_high`` (bootstrap interval; NaN where it is not valid) and
``resamples`` (list of float32: the score on each resample of the sentence ids, empty where
the interval is not valid; resample ``b`` is the same sentences in every row, so the report
pairs them across layers). Schema metadata: ``flip.settings`` (JSON), ``flip.encoder``,
``flip.analysis``, ``flip.views``, ``flip.resource_levels``, ``flip.dimensions`` (``per_set``,
or the shared dimensions' file).

Shared dimensions (thesis Table A.7): one row per (modality, layer), columns
:data:`DIMENSION_COLUMNS`: ``dim`` (the one reduced dimension of every cross-lingual set of
that modality and layer), ``sets`` (how many distinct sets), ``own_min``/``own_max`` (their
own dimensions at ``variance``), ``kept_min`` (the least share any set keeps at ``dim``),
``n_min``/``n_max`` (their sentences). Metadata as above (``flip.settings``, ``flip.encoder``, ``flip.views``).
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
                         "chance_sd", "null_mean", "null_p95", "p_value", "ci_low", "ci_high", "resamples")
DIMENSION_COLUMNS = ("encoder", "modality", "layer", "dim", "sets", "own_min", "own_max", "kept_min", "n_min",
                     "n_max")
#: Settings that decide the shared dimensions: a file made with others is stale.
DIMENSION_SETTINGS = ("variance", "variance_convention", "n", "pairs")


def write_scores(frame: pd.DataFrame, out_path: str | os.PathLike[str], metadata: dict[str, Any]) -> None:
    """Write ``frame`` (:data:`COLUMNS`, or :data:`DIMENSION_COLUMNS`) atomically with
    ``metadata`` as ``flip.<key>`` (JSON unless a string); ``resamples`` as float32 lists."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    if "resamples" in table.column_names:
        index = table.column_names.index("resamples")
        table = table.set_column(index, "resamples", table.column("resamples").cast(pa.list_(pa.float32())))
    extra = {f"flip.{key}".encode(): (value if isinstance(value, str) else json.dumps(value, sort_keys=True)).encode()
             for key, value in metadata.items()}
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), **extra})
    with atomic_path(out_path) as tmp:
        pq.write_table(table, tmp)


def _read(path: str | os.PathLike[str], columns: tuple[str, ...], what: str) -> pd.DataFrame:
    """The table at ``path``; an error names a file that cannot be read or lacks one of ``columns``."""
    names = read_parquet_schema(path, f"{what} file").names
    missing = [c for c in columns if c not in names]
    if missing:
        raise FlipInputError(f"{path}: {what} file lacks columns {missing} (one written before they were added: "
                             "rerun its job)")
    return read_parquet(path, None, f"{what} file").to_pandas()


def read_dimensions(path: str | os.PathLike[str]) -> tuple[pd.DataFrame, dict[str, Any]]:
    """``(shared dimensions, the settings they were computed with)``; an error names a file that
    cannot be read or lacks a column."""
    return _read(path, DIMENSION_COLUMNS, "shared-dimensions"), read_settings(path)


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
        frame = _read(path, COLUMNS, "similarity")
        frame["layer"] = [a if a == b else f"{a}/{b}" for a, b in zip(frame.layer_a, frame.layer_b)]
        frame["order"] = frame.layer.map({layer: i for i, layer in enumerate(dict.fromkeys(frame.layer))})
        frames.append(frame)
    if not frames:
        raise FlipInputError("no similarity files given")
    return pd.concat(frames, ignore_index=True)
