"""Pair scores: one similarity per id between two embedded views of one corpus split.

File ``embeddings/{encoder}/{corpus}/{split}/sim_{viewA}__{viewB}.parquet``: columns
``id: string`` and ``cosine: float32``, one row per id in corpus order, ``flip.*`` file
metadata (the two views, their source). Written by the pair stage (cosine of the two
embeddings) or imported from the published FLiP data (its scores).

Training filter (``sim_threshold``, as the published code's ``filter_data_and_embs``):
a training row is kept when its score ``> sim_threshold`` (strictly greater; the published
default 0.0 therefore drops pairs at or below zero and, through NaN, nothing else).
"""

from __future__ import annotations

import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from flip_pipeline.atomic import atomic_path
from flip_pipeline.errors import FlipInputError
from flip_pipeline.files import read_parquet


def sim_name(view_a: str, view_b: str) -> str:
    """``("text_en", "speech_en")`` → ``"sim_text_en__speech_en.parquet"``."""
    return f"sim_{view_a}__{view_b}.parquet"


def write_pair_scores(path: str | os.PathLike[str], ids, cosine: np.ndarray, metadata: dict[str, str]) -> None:
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


def read_pair_scores(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """``(ids, cosine)`` of a pair-scores file."""
    table = read_parquet(path, ["id", "cosine"], "pair-scores file (of the pair stage)")
    ids = table.column("id").to_numpy(zero_copy_only=False)
    return ids, table.column("cosine").to_numpy(zero_copy_only=False).astype(np.float32)


def similarity_mask(sim_path: str | os.PathLike[str], ids, threshold: float) -> np.ndarray:
    """Boolean mask over ``ids`` (training rows, in order): ``score > threshold``.

    Every id must have a score in ``sim_path``; NaN scores count as below the threshold.
    """
    sim_ids, cosine = read_pair_scores(sim_path)
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
