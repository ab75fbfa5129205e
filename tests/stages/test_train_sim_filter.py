"""The train stage's sim_threshold filter (the published `filter_data_and_embs` with `sim_threshold: 0.0`):
rows whose pair score is not above the threshold leave the training data and the dev set alike."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers.published import SIZES, write_published

from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats import paths
from flip_pipeline.formats.pair_scores import read_pair_scores, write_pair_scores
from flip_pipeline.stages.bow import bow_stage
from flip_pipeline.stages.import_published import import_flip_data_stage
from flip_pipeline.stages.train import train_stage
from flip_pipeline.stages.vocab import vocab_stage

VIEWS = ["text_en", "speech_en"]


@pytest.fixture
def imported(tmp_path, tatoeba_dir):
    """The published layout imported (shards, published scores), a vocabulary and the text bags of words."""
    results = tmp_path / "results"
    import_flip_data_stage(write_published(tmp_path / "published", tatoeba_dir), "cv15", results, shard_rows=16)
    vocab_dir = tmp_path / "vocab"
    vocab_stage("cv15_en", {"corpus": "cv15", "view": "text_en", "max_words": 200},
                paths.corpus_table(results, "cv15", "train"), vocab_dir)
    for split in ("train", "dev"):
        bow_stage(vocab_dir, paths.corpus_table(results, "cv15", split), "text_en", tmp_path / f"{split}.npz")
    return results, vocab_dir


def _spec(sim_threshold):
    return {"run": "flip-r4-a0.5-sonar_published-text_en+speech_en", "probe": "flip", "rank": 4, "alpha": 0.5,
            "encoder": "sonar_published", "train_views": VIEWS, "target_view": "text_en",
            "training": {"batch_size": 8, "max_iterations": 2, "eval_every": 1, "sim_threshold": sim_threshold}}


def _lowered(results, tmp_path, split, rows):
    """A copy of the split's published scores with ``rows`` set to 0.0 (not above the threshold 0.0)."""
    ids, scores = read_pair_scores(paths.pair_scores(results, "sonar_published", "cv15", split, *VIEWS))
    scores[rows] = 0.0
    out = tmp_path / f"{split}_sim.parquet"
    write_pair_scores(out, ids, scores, {"view_a": VIEWS[0], "view_b": VIEWS[1]})
    return out


def _train(imported, tmp_path, sim_threshold, sim, dev_sim):
    results, vocab_dir = imported
    dirs = {split: [paths.embedding_dir(results, "sonar_published", "cv15", split, v) for v in VIEWS]
            for split in ("train", "dev")}
    return train_stage(_spec(sim_threshold), {}, vocab_dir, tmp_path / "train.npz", tmp_path / "dev.npz",
                       dirs["train"], dirs["dev"], sim, tmp_path / "model", "cpu", dev_sim)


def test_the_filter_drops_train_and_dev_rows_at_or_below_the_threshold(imported, tmp_path):
    sim, dev_sim = _lowered(imported[0], tmp_path, "train", [0, 5, 7]), _lowered(imported[0], tmp_path, "dev", [2])
    summary = _train(imported, tmp_path, 0.0, sim, dev_sim)
    assert summary["train_rows"] == SIZES["train"] - 3
    assert summary["sim_filter"] == {"threshold": 0.0,
                                     "train": {"file": str(sim), "kept": SIZES["train"] - 3, "rows": SIZES["train"]},
                                     "dev": {"file": str(dev_sim), "kept": SIZES["dev"] - 1, "rows": SIZES["dev"]}}
    assert json.loads((tmp_path / "model" / "config.json").read_text())["result"]["sim_filter"]["dev"]["kept"] == 9


def test_null_keeps_every_row_and_a_missing_dev_file_is_named(imported, tmp_path):
    summary = _train(imported, tmp_path, None, None, None)
    assert summary["train_rows"] == SIZES["train"] and "sim_filter" not in summary
    sim = _lowered(imported[0], tmp_path, "train", [0])
    with pytest.raises(FlipInputError, match="training.sim_threshold is set but no --dev-sim file was given"):
        _train(imported, tmp_path, 0.0, sim, None)


def test_the_dev_filter_changes_what_dev_recall_is_measured_on(imported, tmp_path):
    every = _train(imported, tmp_path, 0.0, _lowered(imported[0], tmp_path, "train", []),
                   _lowered(imported[0], tmp_path, "dev", []))
    fewer = _train(imported, tmp_path, 0.0, _lowered(imported[0], tmp_path, "train", []),
                   _lowered(imported[0], tmp_path, "dev", np.arange(SIZES["dev"] // 2)))
    assert fewer["sim_filter"]["dev"]["kept"] == SIZES["dev"] - SIZES["dev"] // 2
    assert fewer["best_dev_recall"] != every["best_dev_recall"]  # same model and seed, another dev set
