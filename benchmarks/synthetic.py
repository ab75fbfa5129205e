"""Synthetic inputs, and the set-up of a run, shared by the benchmarks.

Every benchmark takes ``--device`` (``auto``: CUDA when present, ``cpu``, ``cuda[:i]``; chosen by
:func:`flip_pipeline.device.pick_device`) and ``--json PATH`` (its results, for
``benchmarks/gpu_table.py``): :func:`add_run_options`, then :func:`device_of` and :func:`save_json`.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

from flip_pipeline.atomic import write_json
from flip_pipeline.device import pick_device
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


def add_run_options(parser: argparse.ArgumentParser, device: bool = True) -> None:
    """Add ``--device`` (unless the benchmark runs on the CPU only) and ``--json``."""
    if device:
        parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda[:i]")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")


def parse_run(parser: argparse.ArgumentParser) -> argparse.Namespace:
    """Add ``--threads``, ``--keep`` (keep the written data), ``--device`` and ``--json``, parse,
    and set torch's threads."""
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--keep", action="store_true", help="keep the data written for another run")
    add_run_options(parser)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    return args


def device_of(args: argparse.Namespace) -> torch.device:
    """The device ``--device`` names (:func:`flip_pipeline.device.pick_device`)."""
    return pick_device(args.device)


def synchronize(device: torch.device) -> None:
    """Wait for the work queued on ``device`` (a GPU runs it after the host returns)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def device_seconds(fn: Callable[[], object], device: torch.device) -> float:
    """Wall-clock seconds of ``fn()`` and of the device work it queued."""
    synchronize(device)
    started = time.perf_counter()
    fn()
    synchronize(device)
    return time.perf_counter() - started


def machine(device: torch.device | None = None) -> str:
    """``torch <version>, <n> threads (OMP_WAIT_POLICY=...), <device>`` for a table's header."""
    policy = os.environ.get("OMP_WAIT_POLICY", "unset")
    where = torch.cuda.get_device_name(device) if device is not None and device.type == "cuda" else "CPU"
    return f"torch {torch.__version__}, {torch.get_num_threads()} threads (OMP_WAIT_POLICY={policy}), {where}"


def save_json(args: argparse.Namespace, payload: dict) -> None:
    """Write ``payload`` to ``--json`` when given (strict JSON: NaN and infinities as null)."""
    if getattr(args, "json", None) is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        write_json(args.json, payload)
