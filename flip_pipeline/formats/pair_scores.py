"""Pair scores: one similarity per id between two embedded views of one corpus split.

File ``embeddings/{encoder}/{corpus}/{split}/sim_{viewA}__{viewB}.parquet``: columns
``id: string`` and ``cosine: float32``, one row per id in corpus order, ``flip.*`` file
metadata (the two views, their source). Written by the pair stage (cosine of the two
embeddings) or imported from the published FLiP data (its scores).

Training filter (``sim_threshold``, as the published code's ``filter_data_and_embs``):
a training or dev row is kept when its score ``> sim_threshold`` (strictly greater; the
published config's 0.0 therefore drops pairs at or below zero, and NaN scores too); which
pair of views a run filters on is :func:`similarity_views`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from flip_pipeline.atomic import atomic_path
from flip_pipeline.errors import FlipInputError
from flip_pipeline.files import read_parquet
from flip_pipeline.formats.corpus_table import view_language, view_modality


def sim_name(view_a: str, view_b: str) -> str:
    """``("text_en", "speech_en")`` → ``"sim_text_en__speech_en.parquet"``."""
    return f"sim_{view_a}__{view_b}.parquet"


def similarity_views(train_views: Sequence[str], trainable: Sequence[str]) -> tuple[str, str] | None:
    """The two views whose scores ``training.sim_threshold`` filters a run's rows on.

    Two training views: those two, a text view before a speech view (the published data's
    ``sim_text_{lang}__speech_{lang}``; the cosine is symmetric). One training view: the text and
    speech views of its language when the corpus trains on both (``trainable``), since the
    published code filters on its text–speech pair whatever alpha is (Table 2's text-only and
    speech-only models). ``None`` when there is no such pair (one view of a text-only corpus).
    """
    if len(train_views) == 2:
        first, second = sorted(train_views, key=lambda view: view_modality(view) == "speech")
        return first, second
    language = view_language(train_views[0])
    pair = (f"text_{language}", f"speech_{language}")
    return pair if set(pair) <= set(trainable) else None


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
