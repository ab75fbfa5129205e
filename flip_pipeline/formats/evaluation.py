"""Evaluation files: a summary JSON and per-sentence details of one model on one test view.

``eval/{experiment}/{run}/{view}.json``: the model and embeddings evaluated, the method,
sentence and skip counts, and ``{"mean", "std", "se", "n"}`` of every metric (fractions
0..1). ``{view}.details.parquet`` beside it: one row per test sentence (id, reference size
``k``, OOV types, accuracy, keywords, top-``k`` words, hit indices, P/R/F1 at each ``N``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from flip_pipeline.atomic import atomic_path, write_json


def write_evaluation(summary: dict, details: pa.Table, json_path: str | os.PathLike[str]) -> None:
    """Write ``{view}.details.parquet`` then ``{view}.json`` beside it, atomically."""
    json_path = Path(json_path)
    with atomic_path(json_path.with_suffix(".details.parquet")) as tmp:
        pq.write_table(details, tmp, compression="zstd")
    write_json(json_path, summary)


