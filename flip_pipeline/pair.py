"""The pair stage: cosine similarity between two embedded views of the same corpus split.

Output ``embeddings/{encoder}/{corpus}/{split}/sim_{viewA}__{viewB}.parquet`` with
columns ``id: string`` and ``cosine: float32``, one row per id in corpus order, and
``flip.*`` file metadata (the two views, their folders, the encoder). The published
FLiP data's similarity scores are imported into the same format.

Training filter (``sim_threshold``, as the published code's ``filter_data_and_embs``):
a training row is kept when ``cosine > sim_threshold`` (strictly greater; the published
default 0.0 therefore drops pairs at or below zero and, through NaN, nothing else).
:func:`similarity_mask` returns that row selection aligned with the training ids; the
training loop applies it by visiting only the kept rows of each chunk.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from flip_pipeline.atomic import atomic_path
from flip_pipeline.errors import FlipInputError
from flip_pipeline.shards import ViewEmbeddings

CHUNK_ROWS = 65_536


def sim_name(view_a: str, view_b: str) -> str:
    """``("text_en", "speech_en")`` → ``"sim_text_en__speech_en.parquet"``."""
    return f"sim_{view_a}__{view_b}.parquet"


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine of ``(n, d)`` arrays, float32 ``(n,)``; 0 where either row is all zeros."""
    a = a.astype(np.float64, copy=False)
    b = b.astype(np.float64, copy=False)
    dot = np.einsum("ij,ij->i", a, b)
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    out = np.zeros(len(a), dtype=np.float64)
    np.divide(dot, norms, out=out, where=norms > 0)
    return np.clip(out, -1.0, 1.0).astype(np.float32)


def write_similarity(path: str | os.PathLike[str], ids, cosine: np.ndarray, metadata: dict[str, str]) -> None:
    """Write ``id, cosine`` atomically with ``flip.<key>`` file metadata."""
    cosine = np.asarray(cosine, dtype=np.float32)
    if len(ids) != len(cosine):
        raise ValueError(f"{path}: {len(ids)} ids but {len(cosine)} scores")
    schema = pa.schema(
        [pa.field("id", pa.string(), nullable=False), pa.field("cosine", pa.float32())],
        metadata={f"flip.{k}": str(v) for k, v in metadata.items()},
    )
    table = pa.Table.from_arrays([pa.array(list(ids), pa.string()), pa.array(cosine)], schema=schema)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")


def pair_views(dir_a: str | os.PathLike[str], dir_b: str | os.PathLike[str], out: str | os.PathLike[str]) -> dict:
    """Cosine per id between the embedded views in ``dir_a`` and ``dir_b``.

    Both views must hold the same ids in the same order (two views of one corpus split)
    and the same dimension. Returns a summary (rows, mean, min, max cosine).
    """
    a, b = ViewEmbeddings(dir_a), ViewEmbeddings(dir_b)
    if len(a) != len(b):
        raise FlipInputError(f"{dir_a} has {len(a)} rows but {dir_b} has {len(b)}; pair two views of one split")
    if len(a) and not np.array_equal(a.ids, b.ids):
        row = int(np.argmax(a.ids != b.ids))
        raise FlipInputError(
            f"{dir_a} and {dir_b} differ in ids at row {row} ({a.ids[row]!r} vs {b.ids[row]!r}); "
            "pair two views of one split"
        )
    if a.dim != b.dim:
        raise FlipInputError(f"{dir_a} has dimension {a.dim} but {dir_b} has {b.dim}; cosine needs one space")
    parts = [cosine_rows(a.read_rows(lo, min(lo + CHUNK_ROWS, len(a))), b.read_rows(lo, min(lo + CHUNK_ROWS, len(a))))
             for lo in range(0, len(a), CHUNK_ROWS)]
    cosine = np.concatenate(parts) if parts else np.empty(0, dtype=np.float32)
    view_a = a.metadata.get("view", Path(dir_a).name)
    view_b = b.metadata.get("view", Path(dir_b).name)
    metadata = {
        "view_a": view_a, "view_b": view_b, "dir_a": str(dir_a), "dir_b": str(dir_b),
        "encoder_a": a.metadata.get("encoder", ""), "encoder_b": b.metadata.get("encoder", ""),
        "source": "pair", "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    write_similarity(out, a.ids.tolist(), cosine, metadata)
    summary = {"rows": len(cosine), "view_a": view_a, "view_b": view_b}
    if len(cosine):
        summary.update(mean=float(cosine.mean()), min=float(cosine.min()), max=float(cosine.max()))
    return summary


def read_similarity(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """``(ids, cosine)`` of a similarity file."""
    path = Path(path)
    if not path.exists():
        raise FlipInputError(f"{path}: similarity file not found (run the pair stage)")
    table = pq.read_table(path)
    for column in ("id", "cosine"):
        if column not in table.column_names:
            raise FlipInputError(f"{path}: no column {column!r}; it has {table.column_names}")
    ids = table.column("id").to_numpy(zero_copy_only=False)
    return ids, table.column("cosine").to_numpy(zero_copy_only=False).astype(np.float32)


def similarity_mask(sim_path: str | os.PathLike[str], ids, threshold: float) -> np.ndarray:
    """Boolean mask over ``ids`` (training rows, in order): ``cosine > threshold``.

    Every id must have a score in ``sim_path``; NaN scores count as below the threshold.
    """
    sim_ids, cosine = read_similarity(sim_path)
    ids = np.asarray(ids, dtype=object)
    if len(sim_ids) == len(ids) and np.array_equal(sim_ids, ids):
        scores = cosine
    else:
        index = {k: i for i, k in enumerate(sim_ids.tolist())}
        lost = [k for k in ids.tolist() if k not in index]
        if lost:
            raise FlipInputError(f"{sim_path}: no similarity score for {len(lost)} training id(s), first {lost[0]!r}")
        scores = cosine[np.fromiter((index[k] for k in ids.tolist()), dtype=np.int64, count=len(ids))]
    with np.errstate(invalid="ignore"):
        return scores > threshold


def select_rows(sim_path: str | os.PathLike[str], ids, threshold: float) -> np.ndarray:
    """Sorted int64 indices of the training rows kept by ``sim_threshold`` (see the module docstring)."""
    return np.flatnonzero(similarity_mask(sim_path, ids, threshold))
