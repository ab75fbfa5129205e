"""The evaluate stage: keywords of a trained probe on one test view, scored against the text.

Writes ``{view}.json`` (summary: mean, std, standard error and n of every metric, plus
skip counts) and ``{view}.details.parquet`` (one row per test sentence: id, in-vocabulary
reference size ``k``, OOV types, top keywords, hits, per-sentence metrics).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from flip_pipeline.atomic import atomic_path, write_json
from flip_pipeline.keywords import top_words
from flip_pipeline.metrics import adaptive_accuracy, hit_mask, precision_recall_f1, reference_sets, summarize
from flip_pipeline.probes.lip import Probe
from flip_pipeline.shards import ViewEmbeddings
from flip_pipeline.vocab import BagOfWords, Vocabulary


def _ragged(values: np.ndarray, keep: np.ndarray) -> pa.ListArray:
    """The entries of ``values`` ``(n, K)`` where ``keep`` ``(n, K)`` is true, as one list per row."""
    offsets = np.concatenate([[0], np.cumsum(keep.sum(axis=1))]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(values[keep]))


def _first(n: np.ndarray, width: int) -> np.ndarray:
    """``(len(n), width)`` bool: the first ``n_i`` positions of each row."""
    return np.arange(width)[None, :] < np.asarray(n)[:, None]


def evaluate_view(
    probe: Probe,
    vocab: Vocabulary,
    embeddings: ViewEmbeddings,
    bow: BagOfWords,
    bow_path: str,
    use_bias: bool = False,
    top_n: tuple[int, ...] = (1, 5, 10, 20),
) -> tuple[dict, pa.Table]:
    """Score keywords of every test sentence.

    Args:
        probe, vocab: the trained model and its vocabulary (size ``W``).
        embeddings: the test view (``n`` rows of dimension ``d``).
        bow: counts of the reference text view, rows aligned with ``embeddings``.
        bow_path: file of ``bow`` for error messages.
        use_bias: rank with ``E x + b`` instead of ``E x``.
        top_n: the ``N`` of precision/recall/F1 at top-``N``.

    Returns:
        ``(summary, details)``.
    """
    bow.check_aligned(embeddings.ids, str(embeddings.view_dir), bow_path)
    reference = reference_sets(bow.counts)
    k = np.diff(reference.indptr)
    depth = int(max(k.max(initial=0), max(top_n)))
    x = embeddings.read_rows(0, len(embeddings))
    top = top_words(probe, x, depth, use_bias=use_bias)
    depth = top.shape[1]  # clipped to the vocabulary size
    mask = hit_mask(top, reference)
    accuracy, evaluated = adaptive_accuracy(mask, k)

    words = np.asarray(vocab.words, dtype=object)[top]  # (n, depth) strings
    within_k = _first(np.where(evaluated, k, 0), depth)
    details = {
        "id": pa.array(embeddings.ids.astype(str)),
        "k": pa.array(k.astype(np.int32)),
        "oov_types": pa.array(bow.oov_types.astype(np.int32)),
        "accuracy": pa.array(accuracy),
        "keywords": _ragged(words, _first(np.full(len(k), max(top_n)), depth)),
        "top_k": _ragged(words, within_k),
        "hit_index": _ragged(top.astype(np.int32), mask & within_k),
    }
    summary = {
        "n_sentences": int(len(k)),
        "n_skipped_no_in_vocab_token": int((~evaluated).sum()),
        "use_bias": use_bias,
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
