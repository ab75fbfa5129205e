"""The t-SNE map of one layer: ``tsne/{encoder}/{layer}.parquet``.

Columns: ``id`` (sentence id), ``language``, ``modality`` (``text``/``speech``),
``resource`` (resource level), ``x``, ``y`` (map coordinates, no unit). Schema metadata
``flip.encoder``, ``flip.layer``, ``flip.layers`` (the layer read per modality, JSON: a
speech-only layer's map takes the text side's partner), ``flip.settings`` (the TSNE
arguments, JSON) and ``flip.versions`` (scikit-learn's).
"""

from __future__ import annotations

import os

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from flip_pipeline.atomic import atomic_path
from flip_pipeline.errors import FlipInputError
from flip_pipeline.files import read_parquet

COLUMNS = ("id", "language", "modality", "resource", "x", "y")


def write_map(path: str | os.PathLike[str], points: pd.DataFrame, metadata: dict[str, str]) -> None:
    """Write ``points`` (:data:`COLUMNS`) with ``metadata`` (keys without the ``flip.`` prefix) atomically."""
    table = pa.Table.from_pandas(points[list(COLUMNS)], preserve_index=False)
    table = table.replace_schema_metadata({f"flip.{k}".encode(): str(v).encode() for k, v in metadata.items()})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def read_map(path: str | os.PathLike[str]) -> tuple[pd.DataFrame, dict[str, str]]:
    """``(points, metadata without the flip. prefix)``; an error naming the file if it is not a map."""
    table = read_parquet(path, what="t-SNE map")
    missing = [c for c in COLUMNS if c not in table.column_names]
    if missing:
        raise FlipInputError(f"{path}: t-SNE map lacks columns {missing}")
    meta = {k.decode()[5:]: v.decode() for k, v in (table.schema.metadata or {}).items() if k.startswith(b"flip.")}
    return table.to_pandas(), meta
