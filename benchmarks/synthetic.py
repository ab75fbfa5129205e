"""Synthetic inputs shared by the benchmarks."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def zipf_counts(rng: np.random.Generator, n: int, vocab: int, words_per_row: int = 12) -> sp.csr_matrix:
    """``(n, vocab)`` int32 CSR bag-of-words counts, word frequencies ∝ 1/rank (Zipf).

    Built from coordinates, never dense; duplicate draws in a row become counts > 1.
    """
    p = 1.0 / np.arange(1, vocab + 1)
    p /= p.sum()
    cols = rng.choice(vocab, size=n * words_per_row, p=p).astype(np.int32)
    rows = np.repeat(np.arange(n, dtype=np.int32), words_per_row)
    counts = sp.csr_matrix((np.ones(len(cols), np.int32), (rows, cols)), shape=(n, vocab))
    counts.sum_duplicates()
    return counts
