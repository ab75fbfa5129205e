"""The resumable-shard loop's shared parts, driven by the embed stage (one output per view) and
the layers stage (one output per layer): every planned shard checked against what is on disk,
and shards written on one background thread, one shard behind the encoder.

A *job* is one output's shard of one plan entry: ``(path, float32 (len(ids), d) block, metadata)``;
the jobs of one plan entry share its kept row ids, its skipped ids and their files' signatures
(:func:`~flip_pipeline.formats.shards.write_shard`).
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from flip_pipeline.formats.shards import (
    KeptShard,
    LastManifest,
    check_shard,
    last_manifest,
    open_view,
    shard_name,
    write_shard,
)

Job = tuple[Path, np.ndarray, dict[str, Any]]


def check_planned(folder: Path, plan: list[tuple[int, int, int]], ids: list[str], inputs: list[str],
                  fingerprint: str, last: LastManifest) -> dict[int, KeptShard | str]:
    """Per plan entry ``(index, lo, hi)`` of ``folder``: the sound shard to keep, or why it must be
    computed (``"missing"`` or what is wrong with it; :func:`~flip_pipeline.formats.shards.check_shard`)."""
    return {index: check_shard(folder / shard_name(index), ids[lo:hi], inputs[lo:hi], fingerprint,
                               last.signatures.get(shard_name(index))) for index, lo, hi in plan}


def open_planned(view_dir: str | Path, plan: list[tuple[int, int, int]], ids: list[str], inputs: list[str],
                 fingerprint: str) -> tuple[Path, LastManifest, dict[int, KeptShard | str]]:
    """Open one output folder of a resumable view for writing: ``(folder, what its last manifest
    said, per plan entry the shard to keep or why to compute it)`` (:func:`check_planned`). The
    manifest is read before :func:`~flip_pipeline.formats.shards.open_view` removes it."""
    last = last_manifest(view_dir)
    folder = open_view(view_dir)
    return folder, last, check_planned(folder, plan, ids, inputs, fingerprint, last)


def write_shards(jobs: list[Job], ids: list[str], skipped: dict[str, str], files: dict[str, str]) -> None:
    """Write every job of one plan entry (rows ``ids``, ``skipped`` left out, their ``files``)."""
    for path, block, metadata in jobs:
        write_shard(path, ids, block, metadata, skipped, files)


class ShardWriter:
    """Writes shards on one background thread while the encoder computes the next ones; at most
    one plan entry is in flight (:meth:`submit` waits for the previous one, so its errors surface)."""

    def __init__(self):
        self._pool = ThreadPoolExecutor(max_workers=1)
        self._pending: Future | None = None

    def submit(self, jobs: list[Job], ids: list[str], skipped: dict[str, str], files: dict[str, str]) -> None:
        """Queue the jobs of one plan entry (see :func:`write_shards`) once the previous entry is written."""
        self.wait()
        self._pending = self._pool.submit(write_shards, jobs, ids, skipped, files)

    def wait(self) -> None:
        """Wait until every queued shard is written (raising what writing it raised)."""
        if self._pending is not None:
            self._pending.result()

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, *exc) -> None:
        self._pool.shutdown(wait=True)
