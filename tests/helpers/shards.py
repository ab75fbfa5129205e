"""Embedded views written by hand under the shard contract (formats.shards), for stage tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from flip_pipeline.formats.shards import shard_name, write_manifest, write_shard


def write_view(folder: Path, ids: list[str], x: np.ndarray, view: str, shard_rows: int = 7) -> Path:
    """``x`` ``(n, d)`` as shards of ``shard_rows`` rows and a manifest in ``folder``."""
    shards = []
    for i, lo in enumerate(range(0, len(ids), shard_rows)):
        hi = min(lo + shard_rows, len(ids))
        write_shard(folder / shard_name(i), ids[lo:hi], x[lo:hi], {"encoder": "toy", "view": view, "dim": x.shape[1]})
        shards.append((shard_name(i), hi - lo))
    write_manifest(folder, shards, {"encoder": "toy", "view": view, "dim": x.shape[1], "dtype": "float32"})
    return folder


def write_layers(folder: Path, ids: list[str], layers: dict[str, np.ndarray], view: str) -> str:
    """A view's layer folders (one embedded view each) and the view's manifest listing them."""
    for layer, x in layers.items():
        write_view(folder / layer, ids, x, view)
    (folder / "_SUCCESS").write_text(json.dumps({"layers": list(layers), "view": view}))
    return str(folder)
