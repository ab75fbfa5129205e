"""The layers stage: one view of one corpus split → per-layer representation shards.

Layout (:func:`~flip_pipeline.formats.paths.layers_dir`)::

    layers/{encoder}/{corpus}/{split}/{view}/
        embeddings/  part-*.parquet + _SUCCESS   one embedded view per layer (formats.shards)
        layer_01/    …
        pooled/      …
        _SUCCESS     JSON: layers in order, encoder, view, rows, fingerprint, dims (written last)

Each layer folder is an embedded view under the shard contract (``ViewEmbeddings`` reads
it); its shards' metadata adds ``layer``, ``pooling`` (``masked_mean``) and ``layer_norm``
(``before``/``after``/``none`` the model's final layer norm) to the embed stage's keys.

Resumable like the embed stage: a shard of a layer is kept when
:func:`~flip_pipeline.formats.shards.check_shard` finds it sound and written for the same
encoder config and layer (its fingerprint); for every shard of the plan, the layers whose
shard is missing or stale are computed together, in one forward pass per batch. Layer
folders of layers no longer requested are removed, and the view's ``_SUCCESS`` is removed
at the start and written after every layer is complete.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from flip_pipeline.atomic import write_json
from flip_pipeline.device import pick_device
from flip_pipeline.errors import FlipInputError
from flip_pipeline.files import output_folder, read_parquet_schema
from flip_pipeline.formats.corpus_table import read_view, view_modality
from flip_pipeline.formats.paths import MANIFEST
from flip_pipeline.formats.shard_writer import ShardWriter, open_planned, write_shards
from flip_pipeline.formats.shards import (
    KeptShard,
    close_view,
    encoder_fingerprint,
    shard_metadata,
    shard_name,
    shard_plan,
    skipped_file_signatures,
)
from flip_pipeline.models import build_layer_encoder
from flip_pipeline.models.layer_encoder import POOLING, LayerEncoder, encode_layers_with_skips, select_layers
from flip_pipeline.progress import count, progress, stage_done
from flip_pipeline.settings import SHARD_ROWS, fingerprint_of

log = logging.getLogger(__name__)

FORMAT = "flip-layers/1"


def layer_fingerprint(encoder_name: str, encoder_spec: dict[str, Any], layer: str) -> str:
    """The fingerprint of one layer's shards: the encoder config, the layer and the pooling."""
    return fingerprint_of({"encoder": encoder_fingerprint(encoder_name, encoder_spec), "layer": layer,
                           "pooling": POOLING})


def _remove_other_layers(out_dir: Path, layers: list[str]) -> None:
    """Delete the layer folders of ``out_dir`` (those holding shards or a manifest) not in ``layers``."""
    for folder in out_dir.iterdir():
        if folder.is_dir() and folder.name not in layers and (
                (folder / MANIFEST).exists() or any(folder.glob("part-*.parquet"))):
            log.info("%s: layer no longer requested, removed", folder)
            shutil.rmtree(folder)


def _kept_dims(found: dict[int, KeptShard | str], last_dim: int | None) -> set[int]:
    """The widths that the kept shards of one layer and its last manifest claim."""
    return {s.dim for s in found.values() if isinstance(s, KeptShard)} | ({last_dim} if last_dim else set())


def _recorded(folder: Path, key: str) -> str:
    """The ``flip.<key>`` metadata of the first shard of a complete layer folder."""
    meta = read_parquet_schema(folder / shard_name(0), "layer shard").metadata or {}
    return meta.get(f"flip.{key}".encode(), b"").decode()


def layers_stage(
    corpus_path: str | Path,
    view: str,
    encoder_name: str,
    encoder_spec: dict[str, Any],
    layers: str | Sequence[str],
    out_dir: str | Path,
    shard_rows: int = SHARD_ROWS,
    device: str = "cpu",
    encoder: LayerEncoder | None = None,
) -> dict:
    """Pool every requested layer of ``view`` of the corpus split at ``corpus_path`` into ``out_dir``.

    Args:
        corpus_path: ``corpora/{corpus}/{split}.parquet``.
        view: column to encode, e.g. ``speech_en``.
        encoder_name, encoder_spec: the ``encoders.<name>`` config entry (families ``sonar``,
            ``seamless_m4t``, ``transformers``, ``sentence_transformers``, ``salmonn``). A paired
            family (SALMONN) also reads its ``paired_view`` column of the table (a speech view's
            transcriptions, a text view's audio); rows it skips for bad audio name that audio.
        layers: ``"all"`` or layer names (``embeddings``, ``layer_01``, …, ``pooled``, ``adaptor``).
        out_dir: ``layers/{encoder}/{corpus}/{split}/{view}``.
        shard_rows: rows per shard (the unit of work lost to a crash).
        device: torch device (``auto``: CUDA when present).
        encoder: an already built layer encoder for ``encoder_spec`` (tests, benchmarks); by
            default built from the spec (models load only if some shard must be computed).

    Returns:
        The view manifest written to ``out_dir/_SUCCESS``: ``format``, ``encoder``, ``view``,
        ``layers`` (model order), ``rows``, ``fingerprint``, ``pooling``, ``dims`` and
        ``layer_norm`` per layer, and ``skipped_rows``/``skipped`` (id, reason) if rows were left out.
    """
    started = time.perf_counter()
    ids, inputs = read_view(corpus_path, view)
    if encoder is None:
        encoder = build_layer_encoder(encoder_name, encoder_spec, str(pick_device(device)))
    names = select_layers(layers, encoder.layer_names(view), encoder_name, view)  # bad input: nothing written yet
    paired = _paired_inputs(encoder, corpus_path, view)
    audio = paired if paired is not None and view_modality(view) == "text" else inputs  # whose files skip rows
    out_dir = output_folder(out_dir)
    (out_dir / MANIFEST).unlink(missing_ok=True)  # incomplete until every layer is
    _remove_other_layers(out_dir, names)
    plan = shard_plan(len(ids), shard_rows)
    fingerprints = {name: layer_fingerprint(encoder_name, encoder_spec, name) for name in names}
    found: dict[str, dict[int, KeptShard | str]] = {}
    dims: dict[str, int] = {}
    for name in names:
        folder, last, found[name] = open_planned(out_dir / name, plan, ids, audio, fingerprints[name])
        claimed = _kept_dims(found[name], last.dim)
        if len(claimed) > 1:  # kept shards disagree: only the model can tell, so every shard is redone
            log.warning("%s: shards of widths %s; computing every shard again", folder, sorted(claimed))
            found[name] = dict.fromkeys(found[name], "shards of different widths")
        elif claimed:
            dims[name] = claimed.pop()

    rows_todo = sum(hi - lo for index, lo, hi in plan if any(isinstance(found[n][index], str) for n in names))
    done = 0
    with _LayerShards(out_dir, encoder, encoder_name, view, fingerprints, corpus_path) as writer, \
            progress(rows_todo, "rows", f"layers {encoder_name} {view}", log) as bar:
        for index, lo, hi in plan:
            todo = [name for name in names if isinstance(found[name][index], str)]
            if not todo:
                log.debug("%s: every layer complete, kept", shard_name(index))
                continue
            for name in todo:
                if found[name][index] != "missing":
                    log.warning("%s: %s; computing it again", out_dir / name / shard_name(index), found[name][index])
            arrays, skipped = encode_layers_with_skips(encoder, ids[lo:hi], inputs[lo:hi], view, todo,
                                                       None if paired is None else paired[lo:hi])
            kept = [i for i in ids[lo:hi] if i not in skipped]
            for name in todo:
                width = _check_block(arrays[name], len(kept), dims.get(name), encoder_name, out_dir / name)
                if width is not None:
                    dims.setdefault(name, width)
                found[name][index] = KeptShard(dims.get(name, 0), len(kept), skipped)
            files = skipped_file_signatures(skipped, ids[lo:hi], audio[lo:hi])
            writer.add(index, todo, kept, arrays, skipped, files, dims)
            done += hi - lo
            bar.reach(done)  # the layer encoder moves the bar batch by batch; a shard ends here
            log.debug("%s: %d rows, %d layers computed", shard_name(index), hi - lo, len(todo))
        missing = [name for name in names if name not in dims]
        if missing:
            raise FlipInputError(f"encoder {encoder_name!r}, view {view!r} of {corpus_path}: no row was encoded "
                                 f"(the view is empty or every row was skipped), so layer {missing[0]!r} has no width")
        writer.finish(dims)

    skipped_all: dict[str, str] = {}
    for name in names:
        skipped = {i: why for shard in found[name].values() for i, why in shard.skipped.items()}
        skipped_all.update(skipped)
        close_view(out_dir / name, plan, {index: shard.rows for index, shard in found[name].items()}, encoder_name,
                   view, dims[name], fingerprints[name], ids, skipped)
    info = {"format": FORMAT, "encoder": encoder_name, "view": view, "layers": names,
            "rows": len(ids) - len(skipped_all), "fingerprint": fingerprint_of(fingerprints), "pooling": POOLING,
            "dims": {name: dims[name] for name in names},
            "layer_norm": {name: _recorded(out_dir / name, "layer_norm") for name in names}}
    if skipped_all:
        info["skipped_rows"] = len(skipped_all)
        info["skipped"] = [{"id": i, "reason": skipped_all[i]} for i in ids if i in skipped_all]
    write_json(out_dir / MANIFEST, info)
    stage_done(log, f"layers {encoder_name} {view}", started, read=f"{corpus_path} ({count(len(ids), 'rows')})",
            wrote=f"{out_dir} ({count(len(names), 'layers')} x {count(len(plan), 'shards')}: "
                  f"{count(done, 'rows')} computed, {count(len(ids) - done, 'rows')} kept from before, "
                  f"{count(len(skipped_all), 'skipped')})")
    return info


def _paired_inputs(encoder: LayerEncoder, corpus_path: str | Path, view: str) -> list[str] | None:
    """The column a paired encoder (SALMONN: speech and its transcription read together) reads
    beside ``view`` — its ``paired_view``, from the same table, so in the same row order — else ``None``."""
    pairing = getattr(encoder, "paired_view", None)
    return None if pairing is None else read_view(corpus_path, pairing(view))[1]


def _check_block(block: np.ndarray, rows: int, width: int | None, encoder: str, folder: Path) -> int | None:
    """The width of one layer's ``(rows, d)`` block (``None`` when it has no row), checked
    against the ``width`` of the layer's other shards (kept ones, or computed before)."""
    if block.ndim != 2 or block.shape[0] != rows:
        raise FlipInputError(f"encoder {encoder!r}, layer {folder.name!r}: shape {block.shape} for {rows} rows")
    if rows and width is not None and block.shape[1] != width:
        raise FlipInputError(f"encoder {encoder!r}, layer {folder.name!r}: width {block.shape[1]}, but the layer's "
                             f"other shards in {folder} have width {width} (the model changed under the same config?); "
                             f"delete {folder} to compute it again")
    return block.shape[1] if rows else None


class _LayerShards(ShardWriter):
    """Writes the layer shards of one view on a background thread (:class:`ShardWriter`), one
    shard at a time behind the encoder; shards without a kept row wait until their layer's width is known."""

    def __init__(self, out_dir: Path, encoder: LayerEncoder, encoder_name: str, view: str,
                 fingerprints: dict[str, str], corpus_table: str | Path):
        super().__init__()
        self.out_dir, self.encoder, self.encoder_name, self.view = out_dir, encoder, encoder_name, view
        self.corpus_table = corpus_table
        self.fingerprints = fingerprints
        self.metadata: dict[str, dict[str, Any]] = {}
        self.empty: list[tuple[int, list[str], dict[str, str], dict[str, str]]] = []

    def _metadata(self, name: str, dim: int) -> dict[str, Any]:
        if name not in self.metadata:
            provenance = {**self.encoder.provenance(), "layer": name, "pooling": POOLING,
                          "layer_norm": self.encoder.layer_norm(self.view, name)}
            self.metadata[name] = shard_metadata(self.encoder_name, self.view, dim, self.fingerprints[name], provenance,
                                                 self.corpus_table)
        return self.metadata[name]

    def add(self, index: int, names: list[str], kept: list[str],
            arrays: dict[str, np.ndarray], skipped: dict[str, str], files: dict[str, str], dims: dict[str, int]) -> None:
        """Queue shard ``index`` of every layer in ``names`` (rows ``kept``, ``arrays[name]`` ``(len(kept), d)``)."""
        if not kept:
            self.empty.append((index, names, skipped, files))
            return
        jobs = [(self.out_dir / name / shard_name(index), arrays[name], self._metadata(name, dims[name]))
                for name in names]
        self.submit(jobs, kept, skipped, files)

    def finish(self, dims: dict[str, int]) -> None:
        """Wait for the last shard; write the shards without kept rows."""
        self.wait()
        for index, names, skipped, files in self.empty:
            jobs = [(self.out_dir / name / shard_name(index), np.zeros((0, dims[name]), np.float32),
                     self._metadata(name, dims[name])) for name in names]
            write_shards(jobs, [], skipped, files)
