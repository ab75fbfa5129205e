"""The embed stage: one view of one corpus split → embedding shards + manifest.

Resumable: a shard that already holds exactly its planned ids from the same encoder
configuration is kept; only missing or stale shards are embedded. The encoder is
loaded only if some shard is missing. Writing a shard overlaps with encoding the next.

Skipped rows: an encoder may offer ``encode_skipping(ids, inputs, view) -> (embeddings,
skipped)`` besides ``encode`` (SONAR speech with ``skip_bad_audio`` does): ``embeddings``
holds the kept rows in input order, ``skipped`` maps each left-out id to its reason. A
shard then holds only the kept rows and records the others in its ``flip.skipped``
metadata (so a rerun knows the shard is complete), and the manifest lists every skipped
id with its reason under ``skipped``. Without skips, nothing changes.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import os
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from flip_pipeline.corpora.table import read_view
from flip_pipeline.encoders import build_encoder
from flip_pipeline.encoders.base import Encoder, encode_with_skips
from flip_pipeline.errors import FlipInputError
from flip_pipeline.shards import (
    MANIFEST,
    complete_shard_dim,
    remove_unplanned_shards,
    shard_name,
    shard_plan,
    write_manifest,
    write_shard,
)

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


def _remove_orphaned_temporaries(out_dir: Path) -> None:
    """Delete ``.part-*.tmp-<pid>`` files left by a killed run (their writer is gone)."""
    for tmp in out_dir.glob(".part-*.tmp-*"):
        try:
            os.kill(int(tmp.name.rsplit("-", 1)[1]), 0)
        except (ValueError, ProcessLookupError):
            tmp.unlink(missing_ok=True)
        except PermissionError:  # alive, owned by someone else
            pass


def _skipped_in_shard(path: Path) -> dict[str, str]:
    """The ``flip.skipped`` record of an existing shard; ``{}`` if none or unreadable."""
    try:
        meta = pq.read_schema(path).metadata or {}
        return json.loads(meta.get(b"flip.skipped", b"{}"))
    except (OSError, pa.ArrowException, ValueError):
        return {}


def embed_view(
    corpus_path: str | Path,
    view: str,
    encoder_name: str,
    encoder_spec: dict[str, Any],
    out_dir: str | Path,
    shard_rows: int = 50_000,
    device: str = "cpu",
    encoder: Encoder | None = None,
) -> dict:
    """Embed ``view`` of the corpus split at ``corpus_path`` into ``out_dir``.

    Args:
        corpus_path: ``corpora/{corpus}/{split}.parquet``.
        view: column to embed, e.g. ``text_en``.
        encoder_name, encoder_spec: the ``encoders.<name>`` config entry.
        out_dir: ``embeddings/{encoder}/{corpus}/{split}/{view}``.
        shard_rows: rows per shard (the unit of work lost to a crash).
        device: torch device for the encoder.
        encoder: an already built encoder for ``encoder_spec`` (tests, benchmarks, a caller
            embedding several views with one model); by default built from the spec when
            the first shard is missing.

    Returns:
        The manifest written to ``out_dir/_SUCCESS``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MANIFEST).unlink(missing_ok=True)
    _remove_orphaned_temporaries(out_dir)
    ids, inputs = read_view(corpus_path, view)
    fingerprint = encoder_fingerprint(encoder_name, encoder_spec)
    plan = shard_plan(len(ids), shard_rows)

    metadata, kept_dim = None, None
    rows_written = {}  # shard index -> rows it holds (fewer than planned if rows were skipped)
    skipped: dict[str, str] = {}  # id -> reason, over all shards
    done = 0
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=1) as writer:
        pending: Future | None = None
        for index, lo, hi in plan:
            path = out_dir / shard_name(index)
            shard_skipped = _skipped_in_shard(path) if path.exists() else {}
            expected = [i for i in ids[lo:hi] if i not in shard_skipped]
            existing = complete_shard_dim(path, expected, fingerprint)
            if existing is not None:
                kept_dim = existing
                rows_written[index] = len(expected)
                skipped.update(shard_skipped)
                log.info("%s: complete, kept", path.name)
                continue
            if encoder is None:
                encoder = build_encoder(encoder_name, encoder_spec, device)
            if metadata is None:
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
            embeddings, shard_skipped = encode_with_skips(encoder, ids[lo:hi], inputs[lo:hi], view)
            kept_ids = [i for i in ids[lo:hi] if i not in shard_skipped] if shard_skipped else ids[lo:hi]
            if embeddings.shape != (len(kept_ids), encoder.dim):
                raise FlipInputError(
                    f"encoder {encoder_name!r} returned shape {embeddings.shape} for {len(kept_ids)} rows, "
                    f"expected ({len(kept_ids)}, {encoder.dim})"
                )
            shard_metadata = {**metadata, "skipped": json.dumps(shard_skipped)} if shard_skipped else metadata
            rows_written[index] = len(kept_ids)
            skipped.update(shard_skipped)
            if pending is not None:
                pending.result()
            pending = writer.submit(write_shard, path, kept_ids, embeddings, shard_metadata)
            done += hi - lo
            rate = done / max(time.perf_counter() - started, 1e-9)
            log.info("%s: %d rows embedded (%.1f rows/s overall)", path.name, hi - lo, rate)
        if pending is not None:
            pending.result()

    dim = encoder.dim if metadata is not None else kept_dim  # metadata is set once something was embedded
    remove_unplanned_shards(out_dir, plan)
    info = {"encoder": encoder_name, "view": view, "dim": int(dim), "dtype": "float32", "fingerprint": fingerprint}
    if skipped:  # rows the encoder left out (bad audio), in corpus order
        info["skipped_rows"] = len(skipped)
        info["skipped"] = [{"id": i, "reason": skipped[i]} for i in ids if i in skipped]
        log.warning("view %s: %d rows skipped; listed in %s", view, len(skipped), out_dir / MANIFEST)
    write_manifest(out_dir, [(shard_name(i), rows_written[i]) for i, _, _ in plan], info)
    return info
