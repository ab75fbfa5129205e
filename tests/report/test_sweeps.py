"""A table of a swept run: placed at its chosen rank, the chosen settings in a note line, every
sweep point's dev score in the tidy CSV (the selected one marked), a stale point refused."""

import csv
import json

import pytest

from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.sweep_choice import write_selection
from flip_pipeline.stages.report import report_stage

RUN = "flip-rsweep-a0.5-sonar-text_en+speech_en"
POINTS = [(128, 0.0, 0.41), (256, 0.0, 0.47), (256, 0.1, 0.47)]  # rank, weight decay, best dev recall


def _point(rank, decay):
    return f"{RUN}@rank={rank},weight_decay={decay:g}"


def _swept_run(tmp_path):
    """Three trained points (their config.json), the selection of the second, and the swept run's
    evaluation on text_en; returns its report spec entry."""
    models = tmp_path / "models" / "exp"
    for i, (rank, decay, _) in enumerate(POINTS):
        (models / _point(rank, decay)).mkdir(parents=True)
        (models / _point(rank, decay) / "config.json").write_text(json.dumps({"fingerprint": f"p{i}"}))
    selection = models / RUN / "selected.json"
    write_selection(selection, {
        "experiment": "exp", "run": RUN, "fingerprint": "g" * 16, "criterion": "best_dev_recall",
        "selected": f"../{_point(256, 0.0)}", "selected_run": _point(256, 0.0),
        "settings": {"rank": 256, "weight_decay": 0.0},
        "points": [{"run": _point(rank, decay), "settings": {"rank": rank, "weight_decay": decay}, "fingerprint": f"p{i}",
                    "best_dev_recall": dev, "best_iteration": 3 + i, "selected": i == 1}
                   for i, (rank, decay, dev) in enumerate(POINTS)]})
    summary = tmp_path / "eval" / "exp" / RUN / "text_en.json"
    summary.parent.mkdir(parents=True)
    summary.write_text(json.dumps({"fingerprint": "e" * 16, "n_skipped_no_in_vocab_token": 0,
                                   "accuracy": {"mean": 0.7512, "std": 0.2, "se": 0.0013, "n": 500}}))
    return {"path": str(summary), "experiment": "exp", "run": RUN, "method": "flip", "rank": "sweep", "alpha": 0.5,
            "encoder": "sonar", "train_views": ["text_en", "speech_en"], "view": "text_en", "model": str(selection),
            "selection": str(selection), "fingerprint": "e" * 16, "run_fingerprint": "g" * 16}


def _lip(tmp_path):
    summary = tmp_path / "eval" / "exp" / "lip" / "text_en.json"
    summary.parent.mkdir(parents=True)
    summary.write_text(json.dumps({"n_skipped_no_in_vocab_token": 0,
                                   "accuracy": {"mean": 0.6, "std": 0.2, "se": 0.001, "n": 500}}))
    return {"path": str(summary), "experiment": "exp", "run": "lip-a0.5", "method": "lip", "rank": None,
            "alpha": 0.5, "encoder": "sonar", "train_views": ["text_en", "speech_en"], "view": "text_en"}


def _report(tmp_path, entries):
    prefix = tmp_path / "out" / "t1"
    report_stage("table", "t1", {"layout": "rank", "caption": "c", "entries": entries},
                 [e["path"] for e in entries], str(prefix))
    return prefix


def test_the_table_places_the_chosen_rank_notes_the_settings_and_lists_every_point(tmp_path):
    prefix = _report(tmp_path, [_lip(tmp_path), _swept_run(tmp_path)])
    md = prefix.with_suffix(".md").read_text()
    assert "| ✓ | 256 | 75.12 (0.13) |" in md and "| ✗ | Full | 60.00 (0.10) |" in md
    assert (f"Settings chosen on dev recall (the best point of each sweep; ties: the first in grid order): "
            f"{RUN}: rank=256, weight_decay=0.0 (dev recall 47.00; 3 points, 41.00\u201347.00).") in md
    assert "rank=256, weight\\_decay=0.0 (dev recall 47.00" in prefix.with_suffix(".tex").read_text()
    with open(prefix.with_suffix(".csv")) as fh:
        rows = list(csv.DictReader(fh))
    evaluation = {r["run"]: r for r in rows if r["record"] == "evaluation"}
    assert evaluation[RUN]["point"] == _point(256, 0.0) and float(evaluation[RUN]["rank"]) == 256
    assert evaluation[RUN]["weight_decay"] == "0.0" and float(evaluation[RUN]["dev_recall"]) == 47.0
    assert evaluation["lip-a0.5"]["point"] == "" and evaluation["lip-a0.5"]["dev_recall"] == ""
    points = [r for r in rows if r["record"] == "sweep point"]
    assert [(r["point"], r["rank"], float(r["dev_recall"]), r["selected"]) for r in points] == [
        (_point(128, 0.0), "128", 41.0, "False"), (_point(256, 0.0), "256", 47.0, "True"),
        (_point(256, 0.1), "256", 47.0, "False")]
    assert {r["run"] for r in points} == {RUN} and [r["fingerprint"] for r in points] == ["p0", "p1", "p2"]


def test_a_table_without_a_sweep_keeps_its_csv(tmp_path):
    prefix = _report(tmp_path, [_lip(tmp_path)])
    assert "record" not in prefix.with_suffix(".csv").read_text() and "chosen" not in prefix.with_suffix(".md").read_text()


def test_a_selected_point_retrained_by_another_configuration_is_refused(tmp_path):
    entry = _swept_run(tmp_path)
    point = tmp_path / "models" / "exp" / _point(256, 0.0) / "config.json"
    point.write_text(json.dumps({"fingerprint": "other"}))
    with pytest.raises(FlipInputError, match="its selected sweep point .* was trained by another configuration"):
        _report(tmp_path, [entry])
    assert not (tmp_path / "out" / "t1.md").exists()
