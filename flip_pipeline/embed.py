"""The embed stage: one view of one corpus split → embedding shards + manifest.

Resumable: a shard that already holds exactly its planned ids from the same encoder
configuration is kept; only missing or stale shards are embedded. The encoder is
loaded only if some shard is missing. Writing a shard overlaps with encoding the next.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import math
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from flip_pipeline.corpora.table import read_view
from flip_pipeline.encoders import build_encoder
from flip_pipeline.errors import FlipInputError
from flip_pipeline.shards import MANIFEST, complete_shard_dim, shard_name, write_manifest, write_shard

log = logging.getLogger(__name__)


def encoder_fingerprint(name: str, spec: dict[str, Any]) -> str:
    """A short hash of the encoder's config entry: shards from another config are stale."""
    blob = json.dumps({"name": name, **spec}, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def _library_versions() -> str:
    names = ("torch", "sentence-transformers", "sonar-space", "fairseq2", "pyarrow", "flip-pipeline")
    versions = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return json.dumps(versions, sort_keys=True)


def embed_view(
    corpus_path: str | Path,
    view: str,
    encoder_name: str,
    encoder_spec: dict[str, Any],
    out_dir: str | Path,
    shard_rows: int = 50_000,
    device: str = "cpu",
) -> dict:
    """Embed ``view`` of the corpus split at ``corpus_path`` into ``out_dir``.

    Args:
        corpus_path: ``corpora/{corpus}/{split}.parquet``.
        view: column to embed, e.g. ``text_en``.
        encoder_name, encoder_spec: the ``encoders.<name>`` config entry.
        out_dir: ``embeddings/{encoder}/{corpus}/{split}/{view}``.
        shard_rows: rows per shard (the unit of work lost to a crash).
        device: torch device for the encoder.

    Returns:
        The manifest written to ``out_dir/_SUCCESS``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MANIFEST).unlink(missing_ok=True)
    ids, inputs = read_view(corpus_path, view)
    fingerprint = encoder_fingerprint(encoder_name, encoder_spec)
    n_shards = math.ceil(len(ids) / shard_rows)
    plan = [(i, i * shard_rows, min(len(ids), (i + 1) * shard_rows)) for i in range(n_shards)]

    encoder, metadata, kept_dim = None, None, None
    done = 0
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=1) as writer:
        pending: Future | None = None
        for index, lo, hi in plan:
            path = out_dir / shard_name(index)
            existing = complete_shard_dim(path, ids[lo:hi], fingerprint)
            if existing is not None:
                kept_dim = existing
                log.info("%s: complete, kept", path.name)
                continue
            if encoder is None:
                encoder = build_encoder(encoder_name, encoder_spec, device)
                encoder.check_view(view)
                metadata = {
                    "encoder": encoder_name,
                    **encoder.provenance(),
                    "dim": encoder.dim,
                    "dtype": "float32",
                    "view": view,
                    "fingerprint": fingerprint,
                    "versions": _library_versions(),
                    "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                }
            embeddings = encoder.encode(ids[lo:hi], inputs[lo:hi], view)
            if embeddings.shape != (hi - lo, encoder.dim):
                raise FlipInputError(
                    f"encoder {encoder_name!r} returned shape {embeddings.shape} for {hi - lo} rows, "
                    f"expected ({hi - lo}, {encoder.dim})"
                )
            if pending is not None:
                pending.result()
            pending = writer.submit(write_shard, path, ids[lo:hi], embeddings, metadata)
            done += hi - lo
            rate = done / max(time.perf_counter() - started, 1e-9)
            log.info("%s: %d rows embedded (%.1f rows/s overall)", path.name, hi - lo, rate)
        if pending is not None:
            pending.result()

    dim = encoder.dim if encoder is not None else kept_dim
    planned = {shard_name(i) for i, _, _ in plan}
    for stale in out_dir.glob("part-*.parquet"):
        if stale.name not in planned:
            stale.unlink()
    info = {"encoder": encoder_name, "view": view, "dim": int(dim), "dtype": "float32", "fingerprint": fingerprint}
    write_manifest(out_dir, [(shard_name(i), hi - lo) for i, lo, hi in plan], info)
    return info
