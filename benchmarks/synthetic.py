"""Synthetic inputs, and the set-up of a run, shared by the benchmarks."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

from flip_pipeline.formats.bow import BagOfWords
from flip_pipeline.formats.shards import shard_name, write_manifest, write_shard


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


def synthetic_bow(n: int, vocab: int, words_per_row: int, seed: int) -> BagOfWords:
    """Zipf-distributed counts, ``(n, vocab)`` CSR, ids ``utt-{row}``, built without a dense intermediate."""
    counts = zipf_counts(np.random.default_rng(seed), n, vocab, words_per_row)
    ids = np.char.add("utt-", np.arange(n).astype(str))
    return BagOfWords(ids, counts, np.zeros(n, np.int32))


def write_view(folder: Path, ids: np.ndarray, dim: int, shard_rows: int, seed: int) -> None:
    """Synthetic float32 shards of one view (standard normal), written shard by shard (never whole in memory)."""
    rng = np.random.default_rng(seed)
    shards = []
    for i, lo in enumerate(range(0, len(ids), shard_rows)):
        hi = min(len(ids), lo + shard_rows)
        block = rng.standard_normal((hi - lo, dim), dtype=np.float32)
        write_shard(folder / shard_name(i), ids[lo:hi].tolist(), block, {"encoder": "synthetic", "dim": dim})
        shards.append((shard_name(i), hi - lo))
    write_manifest(folder, shards, {"encoder": "synthetic", "dim": dim, "dtype": "float32"})


def parse_run(parser: argparse.ArgumentParser) -> argparse.Namespace:
    """Add ``--threads`` and ``--keep`` (keep the written data), parse, and set torch's threads."""
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--keep", action="store_true", help="keep the data written for another run")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    return args


def machine() -> str:
    """``torch <version>, <n> threads (OMP_WAIT_POLICY=...), CPU`` for a table's header."""
    policy = os.environ.get("OMP_WAIT_POLICY", "unset")
    return f"torch {torch.__version__}, {torch.get_num_threads()} threads (OMP_WAIT_POLICY={policy}), CPU"
