"""The select stage: a swept run's trained sweep points → the one with the best dev recall.

The paper tunes rank, the L1 penalty and weight decay on the development set (§3.5). Each
sweep point is a trained checkpoint whose ``config.json`` records the training's own dev
criterion (``result.best_dev_recall``: the best dev recall the loop kept its model at). The
point with the highest is selected; ties go to the first point in grid order (settings sorted
by name, values in the order the config lists them). Nothing of the test split is read.
The choice is written as ``selected.json`` (:mod:`flip_pipeline.formats.sweep_choice`).
"""

from __future__ import annotations

import logging
import math
import os
import time
from pathlib import Path
from typing import Any

from flip_pipeline.errors import FlipInputError
from flip_pipeline.files import read_json_object
from flip_pipeline.formats.paths import MODEL_FILES
from flip_pipeline.formats.sweep_choice import write_selection
from flip_pipeline.progress import count, stage_done
from flip_pipeline.settings import require_keys

SPEC_KEYS = ("experiment", "run", "fingerprint", "criterion", "points")  # of Run.spec() of a swept run
POINT_KEYS = ("run", "fingerprint", "settings")
TIE_BREAK = "the first point in grid order (settings sorted by name, values as listed)"

log = logging.getLogger(__name__)


def best_point(scores: list[float]) -> int:
    """Index of the highest of ``scores`` (one per point, grid order); a tie → the first of them."""
    if not scores:
        raise ValueError("no sweep point to select from")
    return max(range(len(scores)), key=lambda i: (scores[i], -i))


def _point_result(model_dir: Path, point: dict[str, Any], criterion: str) -> dict[str, Any]:
    """The dev score (``result.{criterion}``) of one point's checkpoint, refused unless trained by
    the current config."""
    if not (model_dir / MODEL_FILES["probe"][0]).exists():
        raise FlipInputError(f"sweep point {point['run']!r}: {model_dir} has no {MODEL_FILES['probe'][0]} (not trained)")
    config_path = model_dir / "config.json"
    config = read_json_object(config_path, "sweep point's configuration")
    if config.get("fingerprint") != point["fingerprint"]:
        raise FlipInputError(f"{config_path}: sweep point {point['run']!r} was trained by another configuration "
                             f"(fingerprint {config.get('fingerprint')} instead of {point['fingerprint']}); "
                             "rerun snakemake")
    result = config.get("result", {})
    score = result.get(criterion)
    if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score):
        raise FlipInputError(f"{config_path}: result.{criterion} is {score!r}, not a finite number")
    return {criterion: float(score), "best_iteration": result.get("best_iteration")}


def select_stage(spec: dict[str, Any], point_dirs: list[str | os.PathLike[str]], out: str | os.PathLike[str]) -> dict:
    """Select the best sweep point of the swept run ``spec`` and write ``out`` (``selected.json``).

    Args:
        spec: :meth:`flip_pipeline.config.runs.Run.spec` of a swept run: experiment, run, fingerprint,
            criterion and ``points`` (run, fingerprint, settings), in grid order.
        point_dirs: each point's checkpoint folder, in the order of ``spec["points"]``.
        out: ``models/{experiment}/{run}/selected.json``.

    Returns:
        the record written.
    """
    started = time.perf_counter()
    require_keys(spec, SPEC_KEYS, "--spec (a swept run)")
    points = spec["points"]
    if not isinstance(points, list):
        raise FlipInputError(f"--spec (a swept run) {spec['run']}: 'points' must be a list of sweep points")
    for i, point in enumerate(points):
        require_keys(point, POINT_KEYS, f"--spec (a swept run) {spec['run']}: points[{i}]")
    if len(point_dirs) != len(points) or not points:
        raise FlipInputError(f"run {spec['run']}: {len(points)} sweep points but {len(point_dirs)} model folders")
    criterion = spec["criterion"]
    scored = [{**point, **_point_result(Path(folder), point, criterion)} for point, folder in zip(points, point_dirs)]
    chosen = best_point([p[criterion] for p in scored])
    out = Path(out)
    record = {
        "experiment": spec["experiment"], "run": spec["run"], "fingerprint": spec["fingerprint"],
        "criterion": criterion, "tie_break": TIE_BREAK,
        "selected": os.path.relpath(point_dirs[chosen], out.parent), "selected_run": scored[chosen]["run"],
        "settings": scored[chosen]["settings"],
        "points": [{**p, "selected": i == chosen} for i, p in enumerate(scored)],
    }
    write_selection(out, record)
    stage_done(log, f"select {spec['run']}", started, read=count(len(points), "sweep points"),
               selected=f"{scored[chosen]['run']} ({criterion} {scored[chosen][criterion]:.4f})", wrote=str(out))
    return record
