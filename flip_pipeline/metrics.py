"""Keyword-extraction metrics with the paper's definitions, vectorised over sentences.

Notation: ``top`` is an ``(n, K)`` int array of word indices ranked by score (distinct per
row); the *reference* of sentence ``i`` is its set of distinct in-vocabulary tokens, an
``(n, W)`` CSR matrix; ``k_i`` is its size.

* accuracy (paper §3.3): ``|top_i[:k_i] ∩ ref_i| / k_i``; sentences with ``k_i = 0`` are
  skipped and counted.
* precision, recall, F1 at ``N``: ``hits = |top_i[:N] ∩ ref_i|``, ``P = hits / N``,
  ``R = hits / k_i``. Recall counts in-vocabulary reference words only (a probe cannot
  name an out-of-vocabulary word; OOV counts are reported beside it).
* Jaccard index of two models' *hit sets* on the same sentences: per sentence
  ``|H_a ∩ H_b| / |H_a ∪ H_b|``, averaged over sentences where the union is non-empty.
* Summaries: mean, standard deviation, standard error ``std / sqrt(n)`` and ``n``.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def reference_sets(counts: sp.csr_matrix) -> sp.csr_matrix:
    """Binary ``(n, W)`` CSR of distinct in-vocabulary tokens, sorted column indices."""
    ref = counts.astype(bool).astype(np.int8).tocsr()
    ref.sort_indices()
    return ref


def _keys(ref: sp.csr_matrix) -> np.ndarray:
    """Sorted int64 keys ``row * W + col`` of the nonzeros of a CSR with sorted indices."""
    rows = np.repeat(np.arange(ref.shape[0], dtype=np.int64), np.diff(ref.indptr))
    return rows * ref.shape[1] + ref.indices.astype(np.int64)


def hit_mask(top: np.ndarray, ref: sp.csr_matrix) -> np.ndarray:
    """``(n, K)`` bool: whether ``top[i, j]`` is in the reference of sentence ``i``."""
    keys = _keys(ref)
    query = np.arange(top.shape[0], dtype=np.int64)[:, None] * ref.shape[1] + top.astype(np.int64)
    if keys.size == 0:
        return np.zeros(top.shape, dtype=bool)
    pos = np.minimum(np.searchsorted(keys, query), keys.size - 1)
    return keys[pos] == query


def hits_within(mask: np.ndarray, depth: np.ndarray | int) -> np.ndarray:
    """``(n,)`` number of hits among the first ``depth_i`` ranks of each row."""
    ranks = np.arange(mask.shape[1])
    depth = np.broadcast_to(np.asarray(depth), (mask.shape[0],))
    return (mask & (ranks[None, :] < depth[:, None])).sum(axis=1)


def adaptive_accuracy(mask: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-sentence accuracy with ``k_i`` = reference size.

    Returns:
        ``(accuracy, evaluated)``: float64 ``(n,)`` (NaN where skipped) and the bool mask of
        sentences with ``k_i > 0``.
    """
    evaluated = k > 0
    acc = np.full(k.shape, np.nan)
    acc[evaluated] = hits_within(mask, k)[evaluated] / k[evaluated]
    return acc, evaluated


def precision_recall_f1(mask: np.ndarray, k: np.ndarray, n: int) -> dict[str, np.ndarray]:
    """Per-sentence P, R, F1 at top-``n`` (NaN where ``k_i = 0``)."""
    hits = hits_within(mask, n).astype(np.float64)
    evaluated = k > 0
    p = np.where(evaluated, hits / n, np.nan)
    r = np.where(evaluated, hits / np.maximum(k, 1), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(p + r > 0, 2 * p * r / (p + r), np.where(evaluated, 0.0, np.nan))
    return {"precision": p, "recall": r, "f1": f1}


def hit_keys(top: np.ndarray, mask: np.ndarray, k: np.ndarray, vocab_size: int) -> np.ndarray:
    """Sorted int64 keys ``row * W + word`` of the hit set within the first ``k_i`` ranks."""
    keep = mask & (np.arange(top.shape[1])[None, :] < k[:, None])
    rows = np.nonzero(keep)[0].astype(np.int64)
    return np.sort(rows * vocab_size + top[keep].astype(np.int64))


def jaccard(keys_a: np.ndarray, keys_b: np.ndarray, n_rows: int, vocab_size: int) -> np.ndarray:
    """Per-sentence Jaccard index of two hit sets given as :func:`hit_keys`; NaN where both are empty."""
    count = lambda keys: np.bincount(keys // vocab_size, minlength=n_rows)  # noqa: E731
    inter = count(np.intersect1d(keys_a, keys_b, assume_unique=True))
    union = count(keys_a) + count(keys_b) - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, inter / np.maximum(union, 1), np.nan)


def summarize(values: np.ndarray) -> dict[str, float | int]:
    """Mean, std, standard error and count of the non-NaN values."""
    v = np.asarray(values, dtype=np.float64)
    v = v[~np.isnan(v)]
    n = int(v.size)
    if n == 0:
        return {"mean": float("nan"), "std": float("nan"), "se": float("nan"), "n": 0}
    std = float(v.std())
    return {"mean": float(v.mean()), "std": std, "se": std / np.sqrt(n), "n": n}
