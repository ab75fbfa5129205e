"""A swept run's selection: the sweep point with the best dev recall (ties: the first in grid
order), refused points of another configuration, and the swept run's folder loading as the
selected point's checkpoint."""

from __future__ import annotations

import json
import re

import pytest
import torch

from flip_pipeline.cli import main
from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.checkpoint import load_checkpoint, save_checkpoint
from flip_pipeline.formats.sweep_choice import read_selection, selected_model_dir
from flip_pipeline.formats.vocabulary import Vocabulary
from flip_pipeline.probes.lip import make_probe
from flip_pipeline.stages.select import best_point, select_stage
from flip_pipeline.text import Tokenizer

WORDS = ["apple", "berlin", "red", "the", "train"]


def _points(tmp_path, scores, ranks=None):
    """One real FLiP checkpoint per dev score (rank 1, 2, ... unless ``ranks``), as ``train`` writes them;
    returns the swept run's spec and the point folders."""
    ranks = ranks or list(range(1, len(scores) + 1))
    spec = {"experiment": "e", "run": "flip-rsweep-a1-bow-text_en", "fingerprint": "f" * 16,
            "criterion": "best_dev_recall", "points": []}
    dirs = []
    for i, (score, rank) in enumerate(zip(scores, ranks)):
        name = f"flip-rsweep-a1-bow-text_en@rank={rank},weight_decay={i}"
        torch.manual_seed(i)
        probe = make_probe("flip", len(WORDS), 4, rank)
        folder = tmp_path / "models" / "e" / name
        save_checkpoint(folder, probe, Vocabulary(WORDS, Tokenizer()),
                        {"fingerprint": f"{i:016d}", "result": {"best_dev_recall": score, "best_iteration": 3 * i}})
        spec["points"].append({"run": name, "fingerprint": f"{i:016d}", "settings": {"rank": rank, "weight_decay": i}})
        dirs.append(folder)
    return spec, dirs


def test_best_point_is_the_highest_score_and_a_tie_goes_to_the_first():
    assert best_point([0.30, 0.52, 0.41]) == 1
    assert best_point([0.4, 0.5, 0.5, 0.2]) == 1
    assert best_point([0.7]) == 0


def test_the_point_with_the_best_dev_recall_is_selected_and_its_checkpoint_stands_for_the_run(tmp_path):
    spec, dirs = _points(tmp_path, [0.31, 0.47, 0.47, 0.12])
    out = tmp_path / "models" / "e" / spec["run"] / "selected.json"
    code = main(["select", "--spec", json.dumps(spec), "--point-dirs", *map(str, dirs), "--out", str(out)])
    assert code == 0
    record = read_selection(out)
    assert record["selected_run"] == spec["points"][1]["run"]  # 0.47 twice: the first in grid order
    assert record["settings"] == {"rank": 2, "weight_decay": 1} and record["fingerprint"] == spec["fingerprint"]
    assert [p["selected"] for p in record["points"]] == [False, True, False, False]
    assert [p["best_dev_recall"] for p in record["points"]] == [0.31, 0.47, 0.47, 0.12]
    assert record["selected"] == f"../{spec['points'][1]['run']}"
    assert selected_model_dir(out.parent) == dirs[1]
    swept, _, config = load_checkpoint(out.parent)
    point, _, _ = load_checkpoint(dirs[1])
    assert swept.rank == 2 and config["fingerprint"] == spec["points"][1]["fingerprint"]
    assert torch.equal(swept.words, point.words) and torch.equal(swept.E2, point.E2)


@pytest.mark.parametrize("spoil, message", [
    (lambda spec, dirs: spec["points"][0].update(fingerprint="0" * 15 + "9"), "was trained by another configuration"),
    (lambda spec, dirs: (dirs[1] / "model.safetensors").unlink(), "has no model.safetensors (not trained)"),
    (lambda spec, dirs: (dirs[1] / "config.json").write_text(json.dumps(
        {"fingerprint": spec["points"][1]["fingerprint"], "result": {"best_dev_recall": None}})),
     "result.best_dev_recall is None, not a finite number"),
])
def test_a_point_it_cannot_trust_stops_the_selection_naming_it(tmp_path, spoil, message):
    spec, dirs = _points(tmp_path, [0.2, 0.3])
    spoil(spec, dirs)
    out = tmp_path / "selected.json"
    with pytest.raises(FlipInputError, match=re.escape(message)) as err:
        select_stage(spec, dirs, out)
    assert "weight_decay=" in str(err.value)  # the point is named (its run or its folder)
    assert not out.exists()
