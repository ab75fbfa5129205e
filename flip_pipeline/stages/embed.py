"""The embed stage: one view of one corpus split → embedding shards + manifest.

Resumable: a shard that already holds exactly its planned ids from the same encoder
configuration, with finite embeddings of the view's dimension, is kept; missing, stale or
bad shards are embedded (again), and each bad one is named in the log
(:func:`~flip_pipeline.formats.shards.check_shard`). The encoder is loaded only if some
shard must be embedded, or if the kept shards and the last manifest disagree on the
dimension (the encoder's decides). Writing a shard overlaps with encoding the next.

Skipped rows: an encoder may offer ``encode_skipping(ids, inputs, view) -> (embeddings,
skipped)`` besides ``encode`` (SONAR speech with ``skip_bad_audio`` does): ``embeddings``
holds the kept rows in input order, ``skipped`` maps each left-out id to its reason. A
shard then holds only the kept rows and records the others in its ``flip.skipped``
metadata (so a rerun knows the shard is complete) with the signature of each skipped
row's file (size and modification time: a rerun embeds the shard again once a skipped
clip is restored or changed), and the manifest lists every skipped id with its reason
under ``skipped``. Without skips, nothing changes.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from flip_pipeline.device import pick_device, resolve_device
from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.corpus_table import read_view
from flip_pipeline.formats.shard_writer import ShardWriter, open_planned
from flip_pipeline.formats.shards import (
    MANIFEST,
    KeptShard,
    close_view,
    encoder_fingerprint,
    shard_metadata,
    shard_name,
    shard_plan,
    skipped_file_signatures,
)
from flip_pipeline.models import build_encoder
from flip_pipeline.models.encoder import Encoder, encode_with_skips
from flip_pipeline.progress import count, progress, stage_done
from flip_pipeline.settings import SHARD_ROWS

log = logging.getLogger(__name__)


def _view_dim(found: dict[int, KeptShard | str], last_dim: int | None, encoder: Encoder | None) -> int | None:
    """The view's embedding dimension: the encoder's when it is built; else the one every kept
    shard and the last manifest agree on; ``None`` when only the encoder can tell (a shard
    must be embedded, or they disagree)."""
    if encoder is not None:
        return encoder.dim
    if any(isinstance(shard, str) for shard in found.values()):
        return None
    dims = {shard.dim for shard in found.values()} | ({last_dim} if last_dim is not None else set())
    return dims.pop() if len(dims) == 1 else None


def _redo_reason(shard: KeptShard | str, dim: int) -> str | None:
    """Why a planned shard is embedded: ``"missing"``, what is wrong with it, or ``None`` to keep it."""
    if isinstance(shard, str):
        return shard
    return f"embeddings of dimension {shard.dim}, the encoder's is {dim}" if shard.dim != dim else None


def embed_stage(
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
            some shard must be embedded.

    Returns:
        The manifest written to ``out_dir/_SUCCESS``.
    """
    started = time.perf_counter()
    resolve_device(device)  # a device that is not there: refused before anything is touched
    ids, inputs = read_view(corpus_path, view)  # bad input: refused before the output folder is touched
    fingerprint = encoder_fingerprint(encoder_name, encoder_spec)
    plan = shard_plan(len(ids), shard_rows)
    out_dir, last, found = open_planned(out_dir, plan, ids, inputs, fingerprint)
    dim = _view_dim(found, last.dim, encoder)
    if dim is None:
        encoder = build_encoder(encoder_name, encoder_spec, str(pick_device(device)))
        dim = encoder.dim

    metadata = None
    rows_written = {}  # shard index -> rows it holds (fewer than planned if rows were skipped)
    skipped: dict[str, str] = {}  # id -> reason, over all shards
    todo = sum(hi - lo for index, lo, hi in plan if _redo_reason(found[index], dim) is not None)
    done = 0
    embed_started = time.perf_counter()
    with ShardWriter() as writer, progress(todo, "rows", f"embed {encoder_name} {view}", log) as bar:
        for index, lo, hi in plan:
            path = out_dir / shard_name(index)
            reason = _redo_reason(found[index], dim)
            if reason is None:
                rows_written[index] = found[index].rows
                skipped.update(found[index].skipped)
                log.debug("%s: complete, kept", path.name)
                continue
            if reason != "missing":
                log.warning("%s: %s; embedding it again", path, reason)
            if metadata is None:
                encoder.check_view(view)
                metadata = shard_metadata(encoder_name, view, encoder.dim, fingerprint, encoder.provenance(),
                                          corpus_path)
            embeddings, shard_skipped = encode_with_skips(encoder, ids[lo:hi], inputs[lo:hi], view)
            kept_ids = [i for i in ids[lo:hi] if i not in shard_skipped] if shard_skipped else ids[lo:hi]
            if embeddings.shape != (len(kept_ids), encoder.dim):
                raise FlipInputError(
                    f"encoder {encoder_name!r} returned shape {embeddings.shape} for {len(kept_ids)} rows, "
                    f"expected ({len(kept_ids)}, {encoder.dim})"
                )
            rows_written[index] = len(kept_ids)
            skipped.update(shard_skipped)
            files = skipped_file_signatures(shard_skipped, ids[lo:hi], inputs[lo:hi])
            writer.submit([(path, embeddings, metadata)], kept_ids, shard_skipped, files)
            done += hi - lo
            bar.reach(done)  # the encoder moves the bar batch by batch; a shard ends here whatever it counted
            log.debug("%s: %d rows embedded", path.name, hi - lo)
        writer.wait()

    info = close_view(out_dir, plan, rows_written, encoder_name, view, dim, fingerprint, ids, skipped)
    if skipped:  # rows the encoder left out (bad audio)
        log.warning("view %s: %d rows skipped; listed in %s", view, len(skipped), out_dir / MANIFEST)
    rate = f", {done / max(time.perf_counter() - embed_started, 1e-9):,.1f} rows/s" if done else ""
    stage_done(log, f"embed {encoder_name} {view}", started, read=f"{corpus_path} ({count(len(ids), 'rows')})",
            wrote=f"{out_dir} ({count(len(plan), 'shards')}: {count(done, 'rows')} embedded{rate}, "
                  f"{count(len(ids) - done, 'rows')} kept from before, {count(len(skipped), 'skipped')}; d {dim})")
    return info
