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

import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from flip_pipeline.device import pick_device
from flip_pipeline.encoders import build_encoder
from flip_pipeline.encoders.base import Encoder, encode_with_skips
from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.corpus_table import read_view
from flip_pipeline.formats.shards import (
    MANIFEST,
    close_view,
    complete_shard_dim,
    encoder_fingerprint,
    open_view,
    shard_metadata,
    shard_name,
    shard_plan,
    skipped_in_shard,
    write_shard,
)
from flip_pipeline.settings import SHARD_ROWS

log = logging.getLogger(__name__)


def embed_view(
    corpus_path: str | Path,
    view: str,
    encoder_name: str,
    encoder_spec: dict[str, Any],
    out_dir: str | Path,
    shard_rows: int = SHARD_ROWS,
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
        device: torch device for the encoder (``auto``: CUDA when present).
        encoder: an already built encoder for ``encoder_spec`` (tests, benchmarks, a caller
            embedding several views with one model); by default built from the spec when
            the first shard is missing.

    Returns:
        The manifest written to ``out_dir/_SUCCESS``.
    """
    out_dir = open_view(out_dir)
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
            shard_skipped = skipped_in_shard(path)
            expected = [i for i in ids[lo:hi] if i not in shard_skipped]
            existing = complete_shard_dim(path, expected, fingerprint)
            if existing is not None:
                kept_dim = existing
                rows_written[index] = len(expected)
                skipped.update(shard_skipped)
                log.info("%s: complete, kept", path.name)
                continue
            if encoder is None:
                encoder = build_encoder(encoder_name, encoder_spec, str(pick_device(device)))
            if metadata is None:
                encoder.check_view(view)
                metadata = shard_metadata(encoder_name, view, encoder.dim, fingerprint, encoder.provenance())
            embeddings, shard_skipped = encode_with_skips(encoder, ids[lo:hi], inputs[lo:hi], view)
            kept_ids = [i for i in ids[lo:hi] if i not in shard_skipped] if shard_skipped else ids[lo:hi]
            if embeddings.shape != (len(kept_ids), encoder.dim):
                raise FlipInputError(
                    f"encoder {encoder_name!r} returned shape {embeddings.shape} for {len(kept_ids)} rows, "
                    f"expected ({len(kept_ids)}, {encoder.dim})"
                )
            rows_written[index] = len(kept_ids)
            skipped.update(shard_skipped)
            if pending is not None:
                pending.result()
            pending = writer.submit(write_shard, path, kept_ids, embeddings, metadata, shard_skipped)
            done += hi - lo
            rate = done / max(time.perf_counter() - started, 1e-9)
            log.info("%s: %d rows embedded (%.1f rows/s overall)", path.name, hi - lo, rate)
        if pending is not None:
            pending.result()

    dim = encoder.dim if metadata is not None else kept_dim  # metadata is set once something was embedded
    info = close_view(out_dir, plan, rows_written, encoder_name, view, dim, fingerprint, ids, skipped)
    if skipped:  # rows the encoder left out (bad audio)
        log.warning("view %s: %d rows skipped; listed in %s", view, len(skipped), out_dir / MANIFEST)
    return info
