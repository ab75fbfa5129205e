"""Bookkeeping of audio files that a corpus lists but that are not on disk, and writing
clips that a source delivers as bytes.

The corpus stage only records audio paths (decoding is the embed stage's job), but it
checks that each listed file exists. ``missing_audio: error`` (default) stops with the
count and the first missing files by id and path; ``missing_audio: skip`` leaves those
rows out and records the counts (and the first examples) in ``info.json``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flip_pipeline.atomic import atomic_path
from flip_pipeline.errors import FlipInputError

EXAMPLES = 10


class MissingAudio:
    """Collects missing audio files of one corpus; see the module docstring."""

    def __init__(self, key: str, policy: str = "error"):
        if policy not in ("error", "skip"):
            raise FlipInputError(f"{key}.missing_audio: expected 'error' or 'skip', got {policy!r}")
        self.key, self.policy = key, policy
        self.counts: dict[str, int] = {}
        self.examples: list[dict[str, str]] = []

    def add(self, split: str, row_id: str, path: str, where: str) -> None:
        """Record that row ``row_id`` of ``split`` (found at ``where``) lists a missing ``path``."""
        self.counts[split] = self.counts.get(split, 0) + 1
        if len(self.examples) < EXAMPLES:
            self.examples.append({"split": split, "id": row_id, "path": path, "where": where})

    def check(self) -> dict[str, Any]:
        """Raise under ``error`` if anything is missing; else return the info.json entry."""
        total = sum(self.counts.values())
        if total and self.policy == "error":
            shown = "; ".join(f"id {e['id']!r} path {e['path']!r} ({e['where']})" for e in self.examples[:3])
            raise FlipInputError(
                f"{self.key}: {total} audio file(s) missing ({self.counts}); first: {shown}. "
                f"Set {self.key}.missing_audio: skip to leave those rows out"
            )
        return {"missing_audio_skipped": self.counts, "missing_audio_examples": self.examples}


def list_files(folder: Path) -> set[str]:
    """Names of the files directly in ``folder`` (one directory scan instead of a stat per clip)."""
    try:
        with os.scandir(folder) as entries:
            return {e.name for e in entries if e.is_file()}
    except FileNotFoundError:
        return set()


def write_clip(target: Path, data: bytes) -> None:
    """Write clip bytes to ``target`` atomically; a file of the same size already there is kept
    (a rerun rewrites nothing)."""
    if target.is_file() and target.stat().st_size == len(data):
        return
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def place_hub_clip(audio_bytes: bytes | None, audio_path: str | None, target: Path, relative: str) -> str | None:
    """Where a hub row's clip is for the corpus table: its bytes written to ``target`` (returns
    ``relative``, the path under the corpus root), else its existing local file (absolute path);
    ``None`` when the row has neither."""
    if audio_bytes:
        write_clip(target, audio_bytes)
        return relative
    if audio_path and os.path.isfile(audio_path):
        return str(Path(audio_path).resolve())
    return None
