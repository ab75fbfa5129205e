"""The pair stage: cosine similarity between two embedded views of the same corpus split.

Output: a pair-scores file (:mod:`flip_pipeline.formats.pair_scores`), whose metadata
names the two views, their folders and the encoder. The training filter
``sim_threshold`` reads it.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import numpy as np

from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.pair_scores import write_pair_scores
from flip_pipeline.formats.shards import ViewEmbeddings
from flip_pipeline.progress import count, stage_done

CHUNK_ROWS = 65_536


log = logging.getLogger("flip.pair")

def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine of ``(n, d)`` arrays, float32 ``(n,)``; 0 where either row is all zeros."""
    a = a.astype(np.float64, copy=False)
    b = b.astype(np.float64, copy=False)
    dot = np.einsum("ij,ij->i", a, b)
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    out = np.zeros(len(a), dtype=np.float64)
    np.divide(dot, norms, out=out, where=norms > 0)
    return np.clip(out, -1.0, 1.0).astype(np.float32)


def pair_stage(dir_a: str | os.PathLike[str], dir_b: str | os.PathLike[str], out: str | os.PathLike[str]) -> dict:
    """Cosine per id between the embedded views in ``dir_a`` and ``dir_b``.

    Both views must hold the same ids in the same order (two views of one corpus split)
    and the same dimension. Returns a summary (rows, mean, min, max cosine).
    """
    started = time.perf_counter()
    a, b = ViewEmbeddings(dir_a), ViewEmbeddings(dir_b)
    if len(a) != len(b):
        raise FlipInputError(f"{dir_a} has {len(a)} rows but {dir_b} has {len(b)}; pair two views of one split")
    if len(a) and not np.array_equal(a.ids, b.ids):
        row = int(np.argmax(a.ids != b.ids))
        raise FlipInputError(
            f"{dir_a} and {dir_b} differ in ids at row {row} ({a.ids[row]!r} vs {b.ids[row]!r}); "
            "pair two views of one split"
        )
    b.check_encoder(a.manifest.get("encoder"), a.manifest.get("fingerprint"), f"pairing with {dir_a}")
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
    write_pair_scores(out, a.ids.tolist(), cosine, metadata)
    summary = {"rows": len(cosine), "view_a": view_a, "view_b": view_b}
    if len(cosine):
        summary.update(mean=float(cosine.mean()), min=float(cosine.min()), max=float(cosine.max()))
    cosines = f"cosine mean {summary['mean']:.3f}, min {summary['min']:.3f}, max {summary['max']:.3f}" if len(cosine) \
        else "no rows"
    stage_done(log, f"pair {view_a} {view_b}", started, read=f"{dir_a} and {dir_b} ({count(len(cosine), 'rows')})",
               wrote=f"{out} ({cosines})")
    return summary
