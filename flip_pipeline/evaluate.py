"""The evaluate stage: keywords of a trained probe on one test view, scored against the text.

Writes ``{view}.json`` (summary: mean, std, standard error and n of every metric, plus
skip counts) and ``{view}.details.parquet`` (one row per test sentence: id, in-vocabulary
reference size ``k``, OOV types, top keywords, hits, per-sentence metrics).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from flip_pipeline.alignment import AlignedView
from flip_pipeline.atomic import atomic_path, write_json
from flip_pipeline.keywords import top_words
from flip_pipeline.metrics import adaptive_accuracy, hit_mask, precision_recall_f1, reference_sets, summarize
from flip_pipeline.probes.lip import Probe
from flip_pipeline.shards import ViewEmbeddings
from flip_pipeline.vocab import BagOfWords


def _ragged(values: np.ndarray, keep: np.ndarray) -> pa.ListArray:
    """The entries of ``values`` ``(n, K)`` where ``keep`` ``(n, K)`` is true, as one list per row."""
    offsets = np.concatenate([[0], np.cumsum(keep.sum(axis=1))]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(values[keep]))


def _first(n: np.ndarray, width: int) -> np.ndarray:
    """``(len(n), width)`` bool: the first ``n_i`` positions of each row."""
    return np.arange(width)[None, :] < np.asarray(n)[:, None]


#: ``(embeddings (n, d), depth) -> (top, predicted)``: int ``(n, depth')`` indices ranked best
#: first and an optional bool ``(n, depth')`` mask, false where a rank is no prediction.
Ranker = Callable[[np.ndarray, int], tuple[np.ndarray, "np.ndarray | None"]]


def probe_ranker(probe: Probe, use_bias: bool = False) -> Ranker:
    """Rank words by ``E x`` (or ``E x + b``) of a LiP or FLiP (paper eq. 5)."""
    return lambda x, depth: (top_words(probe, x, depth, use_bias=use_bias), None)


def evaluate_view(
    ranker: Ranker,
    words: list[str],
    embeddings: ViewEmbeddings,
    bow: BagOfWords,
    bow_path: str,
    top_n: tuple[int, ...] = (1, 5, 10, 20),
) -> tuple[dict, pa.Table]:
    """Score keywords of every test sentence that has an embedding.

    Args:
        ranker: the model's ranking (:func:`probe_ranker`, or SpLiCE's concept weights).
        words: the ``W`` words (or concepts) the ranker's indices refer to.
        embeddings: the test view (``n`` rows of dimension ``d``; rows its encoder skipped
            are left out, see :mod:`flip_pipeline.alignment`).
        bow: counts of the reference text view, one row per corpus row.
        bow_path: file of ``bow`` for error messages.
        top_n: the ``N`` of precision/recall/F1 at top-``N``.

    Returns:
        ``(summary, details)``.
    """
    present = AlignedView(embeddings, bow.ids, bow_path).present
    reference = reference_sets(bow.counts[present])
    k = np.diff(reference.indptr)
    depth = int(max(k.max(initial=0), max(top_n)))
    top, predicted = ranker(embeddings.read_rows(0, len(embeddings)), depth)
    depth = top.shape[1]  # clipped to the vocabulary size
    mask = hit_mask(top, reference)
    if predicted is not None:
        mask &= predicted
    else:
        predicted = np.ones_like(mask)
    accuracy, evaluated = adaptive_accuracy(mask, k)

    names = np.asarray(words, dtype=object)[top]  # (n, depth) strings
    within_k = _first(np.where(evaluated, k, 0), depth)
    details = {
        "id": pa.array(embeddings.ids.astype(str)),
        "k": pa.array(k.astype(np.int32)),
        "oov_types": pa.array(bow.oov_types[present].astype(np.int32)),
        "accuracy": pa.array(accuracy),
        "keywords": _ragged(names, _first(np.full(len(k), max(top_n)), depth) & predicted),
        "top_k": _ragged(names, within_k & predicted),
        "hit_index": _ragged(top.astype(np.int32), mask & within_k),
    }
    summary = {
        "n_sentences": int(len(k)),
        "n_skipped_by_encoder": int((~present).sum()),
        "n_skipped_no_in_vocab_token": int((~evaluated).sum()),
        "k_mean": float(k[evaluated].mean()) if evaluated.any() else float("nan"),
        "accuracy": summarize(accuracy),
    }
    for n in top_n:
        for name, values in precision_recall_f1(mask, k, n).items():
            details[f"{name}@{n}"] = pa.array(values)
            summary[f"{name}@{n}"] = summarize(values)
    return summary, pa.table(details)


def write_evaluation(summary: dict, details: pa.Table, json_path: str | os.PathLike[str]) -> None:
    """Write ``{view}.details.parquet`` then ``{view}.json`` beside it, atomically."""
    json_path = Path(json_path)
    with atomic_path(json_path.with_suffix(".details.parquet")) as tmp:
        pq.write_table(details, tmp, compression="zstd")
    write_json(json_path, summary)
