"""A swept run's selection: ``models/{experiment}/{run}/selected.json``.

Written by :mod:`flip_pipeline.stages.select` once every sweep point of the run is trained; it
names the chosen point's checkpoint folder (``selected``, relative to the selection's folder:
``../{point}``, a sibling under ``models/{experiment}/``) and records every point with its
settings, fingerprint and dev score, so the folder of a swept run stands for the selected
checkpoint wherever a checkpoint folder is read (:func:`selected_model_dir`).

Record::

    {"experiment", "run", "fingerprint" (the swept run's), "criterion" ("best_dev_recall"),
     "tie_break", "selected" ("../{point}"), "selected_run", "settings" (the chosen values),
     "points": [{"run", "settings", "fingerprint", "best_dev_recall", "best_iteration", "selected"}, ...]}
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flip_pipeline.atomic import write_json
from flip_pipeline.errors import FlipInputError
from flip_pipeline.files import read_json_object
from flip_pipeline.formats.paths import SELECTION

KEYS = ("experiment", "run", "fingerprint", "criterion", "selected", "selected_run", "settings", "points")


def write_selection(path: str | os.PathLike[str], record: dict[str, Any]) -> None:
    """Write a selection record (:data:`KEYS` at least) atomically."""
    missing = [key for key in KEYS if key not in record]
    if missing:
        raise ValueError(f"selection record lacks {missing}")
    write_json(path, record)


def read_selection(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The selection record at ``path``; an unreadable or incomplete one is an error naming it."""
    record = read_json_object(path, "sweep selection")
    missing = [key for key in KEYS if key not in record]
    if missing:
        raise FlipInputError(f"{path}: a sweep's selection needs {', '.join(KEYS)}; it lacks {missing[0]!r}")
    return record


def selected_point(record: dict[str, Any], path: str | os.PathLike[str]) -> dict[str, Any]:
    """The entry of ``record["points"]`` that was selected (``path``: where the record was read, for errors)."""
    chosen = [p for p in record["points"] if p.get("run") == record["selected_run"]]
    if len(chosen) != 1:
        raise FlipInputError(f"{path}: selected run {record['selected_run']!r} is not one of its points")
    return chosen[0]


def selected_model_dir(model_dir: str | os.PathLike[str]) -> Path:
    """The checkpoint folder that ``model_dir`` stands for: the selected point's when it holds a
    sweep's selection (``selected.json``), else ``model_dir`` itself."""
    model_dir = Path(model_dir)
    selection = model_dir / SELECTION
    if not selection.exists():
        return model_dir
    return Path(os.path.normpath(model_dir / read_selection(selection)["selected"]))
