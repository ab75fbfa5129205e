"""Jaccard index of one model's hit sets on two test views of the same sentences (paper §3.3).

The hit sets are the ``hit_index`` lists of two ``{view}.details.parquet`` files (the
vocabulary indices of the correct keywords within the first ``k`` ranks), aligned by id.
"""

from __future__ import annotations

import numpy as np

from flip_pipeline.errors import FlipInputError
from flip_pipeline.files import read_parquet
from flip_pipeline.metrics import jaccard, summarize


def read_hits(path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(ids, rows, words)`` of a details file: ``(n,)`` str ids and, for every hit, its
    row (int64, ascending) and vocabulary index (int64)."""
    table = read_parquet(path, ["id", "hit_index"], "evaluation details file")
    hits = table.column("hit_index").combine_chunks()
    lengths = hits.value_lengths().fill_null(0).to_numpy(zero_copy_only=False)
    rows = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    words = hits.flatten().to_numpy(zero_copy_only=False).astype(np.int64)
    return table.column("id").to_numpy(zero_copy_only=False).astype(str), rows, words


def _aligned_rows(ids_a: np.ndarray, ids_b: np.ndarray, path_a: str, path_b: str) -> np.ndarray:
    """``(n,)`` int64: the row of ``ids_a`` holding each id of ``ids_b``; the id sets must be equal."""
    order = np.argsort(ids_a)
    pos = np.minimum(np.searchsorted(ids_a, ids_b, sorter=order), len(ids_a) - 1)
    rows = order[pos] if len(ids_a) else np.zeros(0, dtype=np.int64)
    same = (len(ids_a) == len(ids_b) and len(np.unique(ids_a)) == len(ids_a)
            and bool(np.all(ids_a[rows] == ids_b)))
    if not same:
        raise FlipInputError(f"{path_a} and {path_b}: the test sentence ids differ; the Jaccard index "
                             "compares hit sets of the same sentences")
    return rows.astype(np.int64)


def _keys(rows: np.ndarray, words: np.ndarray, width: int) -> np.ndarray:
    """Sorted int64 keys ``row * width + word`` (the key layout of :func:`flip_pipeline.metrics.jaccard`)."""
    return np.sort(rows * width + words)


def view_jaccard(path_a: str, path_b: str) -> dict[str, float | int]:
    """Per-sentence Jaccard index (percent) of the hit sets in two details files, summarised.

    Sentences where both hit sets are empty are skipped.

    Returns:
        ``{"mean", "std", "se", "n"}`` with mean, std and se in percent.
    """
    ids_a, rows_a, words_a = read_hits(path_a)
    ids_b, rows_b, words_b = read_hits(path_b)
    to_a = _aligned_rows(ids_a, ids_b, path_a, path_b)
    width = int(max(words_a.max(initial=-1), words_b.max(initial=-1))) + 1
    values = jaccard(_keys(rows_a, words_a, width), _keys(to_a[rows_b], words_b, width), len(ids_a), max(width, 1))
    return summarize(100 * values)
