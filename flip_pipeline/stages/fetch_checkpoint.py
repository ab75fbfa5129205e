"""Fetch a published checkpoint into ``models/{experiment}/{run}/`` (an experiment's ``checkpoint``).

The checkpoint, a hub id or a folder (:func:`~flip_pipeline.formats.checkpoint.resolve_checkpoint`),
is loaded once, so its files are checked as ``flip evaluate`` would read them, and its tensors
must be the probe and rank the experiment declares (``probe``, ``rank``: what the tables show,
known to the workflow without fetching anything); a mismatch is an error naming that key. Then
``vocab.json``, ``config.json`` (the published one plus the run's spec, so its ``fingerprint``
ties the folder to the config) and ``model.safetensors``, last, are written atomically: a
killed job leaves no complete-looking folder.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any

from flip_pipeline.atomic import atomic_path, write_json
from flip_pipeline.errors import FlipInputError
from flip_pipeline.files import output_folder
from flip_pipeline.formats.checkpoint import load_checkpoint, resolve_checkpoint
from flip_pipeline.progress import stage_done
from flip_pipeline.settings import require_keys

log = logging.getLogger(__name__)


def _check_declared(spec: dict[str, Any], probe, where: str) -> None:
    """The checkpoint's probe kind and rank are the ones its experiment declares."""
    key = f"experiments.{spec['experiment']}"
    if probe.kind != spec["probe"]:
        tensors = "E1, E2, b" if probe.kind == "flip" else "E, b"
        raise FlipInputError(f"{key}.probe: {spec['probe']}, but {where} holds a {probe.kind} checkpoint "
                             f"({tensors}); set probe: {probe.kind}")
    if probe.kind == "flip":
        declared = probe.dim if spec["rank"] == "full" else spec["rank"]
        if probe.rank != declared:
            raise FlipInputError(f"{key}.rank: {spec['rank']} (rank {declared}), but {where} has rank {probe.rank} "
                                 f"(E1 has {probe.rank} columns; embedding dimension {probe.dim}); "
                                 f"set rank: {'full' if probe.rank == probe.dim else probe.rank}")


def fetch_checkpoint_stage(spec: dict[str, Any], out_dir: str | os.PathLike[str]) -> Path:
    """Copy the checkpoint ``spec["checkpoint"]`` into ``out_dir``; returns the folder it came from.

    Args:
        spec: the run's spec (:meth:`flip_pipeline.config.runs.Run.spec`): ``checkpoint``, ``experiment``,
            ``probe``, ``rank`` and its ``fingerprint``, recorded in the copied ``config.json``.
        out_dir: ``models/{experiment}/{run}``.
    """
    started = time.perf_counter()
    require_keys(spec, ("checkpoint", "probe", "rank"), "--spec (a run with a checkpoint)")
    folder = resolve_checkpoint(spec["checkpoint"])
    where = spec["checkpoint"] if str(folder) == spec["checkpoint"] else f"{spec['checkpoint']} ({folder})"
    probe, _, published = load_checkpoint(folder)
    _check_declared(spec, probe, where)
    out_dir = output_folder(out_dir)
    with atomic_path(out_dir / "vocab.json") as tmp:
        shutil.copyfile(folder / "vocab.json", tmp)
    write_json(out_dir / "config.json", {**published, **spec, "source": str(folder)})
    with atomic_path(out_dir / "model.safetensors") as tmp:  # last: marks the folder complete
        shutil.copyfile(folder / "model.safetensors", tmp)
    stage_done(log, f"fetch checkpoint {spec['checkpoint']}", started, read=str(folder),
               wrote=f"{out_dir} (model.safetensors, vocab.json, config.json)")
    return folder
