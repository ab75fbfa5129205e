"""Rows an encoder skipped (bad audio): training and evaluation use the rows that have an
embedding, and any other id mismatch is an error naming the first differing row."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.bow import BagOfWords
from flip_pipeline.formats.shards import ViewEmbeddings, shard_name, write_manifest, write_shard
from flip_pipeline.probes.lip import LiP
from flip_pipeline.stages.evaluate import evaluate_view, probe_ranker
from flip_pipeline.training.alignment import AlignedView
from flip_pipeline.training.batches import TrainingData

IDS = np.array([f"r{i}" for i in range(10)])
SKIPPED = ["r3", "r7"]
DIM, WORDS = 4, 5


def _view(folder: Path, skipped: list[str], listed: list[str]) -> ViewEmbeddings:
    """Rows of IDS minus ``skipped``, split over two shards; the manifest lists ``listed``."""
    kept = [i for i in IDS if i not in skipped]
    x = np.stack([np.full(DIM, int(i[1:]), dtype=np.float32) for i in kept])  # row value = its corpus row
    write_shard(folder / shard_name(0), kept[:5], x[:5], {})
    write_shard(folder / shard_name(1), kept[5:], x[5:], {})
    info = {"dim": DIM, "view": "speech_en", "skipped": [{"id": i, "reason": "bad audio"} for i in listed]}
    write_manifest(folder, [(shard_name(0), 5), (shard_name(1), len(kept) - 5)], info)
    return ViewEmbeddings(folder)


def _bow() -> BagOfWords:
    counts = sp.csr_matrix(np.eye(10, WORDS, dtype=np.int32) + np.eye(10, WORDS, k=-5, dtype=np.int32))
    return BagOfWords(IDS, counts, np.zeros(10, dtype=np.int32))


def test_skipped_rows_read_as_absent_zeros(tmp_path):
    aligned = AlignedView(_view(tmp_path, SKIPPED, SKIPPED), IDS, "bow.npz")
    assert aligned.present.tolist() == [i not in SKIPPED for i in IDS]
    rows = aligned.read_rows(2, 9)
    assert rows[:, 0].tolist() == [2, 0, 4, 5, 6, 0, 8]


def test_an_unlisted_missing_row_is_an_error(tmp_path):
    with pytest.raises(FlipInputError, match=r"\(1 listed as skipped.*first differ at embedding row 6: 'r8' vs 'r7'"):
        AlignedView(_view(tmp_path, SKIPPED, ["r3"]), IDS, "bow.npz")


def test_training_drops_skipped_rows_and_evaluation_scores_the_rest(tmp_path):
    view = _view(tmp_path, SKIPPED, SKIPPED)
    data = TrainingData([view], [1.0], _bow(), "bow.npz")
    assert len(data) == 8
    seen = []
    for batch in data.batches(4, np.random.default_rng(0), torch.device("cpu")):
        seen += batch.x[:, 0].int().tolist()
    assert sorted(seen) == [0, 1, 2, 4, 5, 6, 8, 9]

    probe = LiP(WORDS, DIM)
    summary, details = evaluate_view(probe_ranker(probe), list("abcde"), view, _bow(), "bow.npz", top_n=(1,))
    assert summary["n_sentences"] == 8 and summary["n_skipped_by_encoder"] == 2
    assert details.column("id").to_pylist() == [i for i in IDS if i not in SKIPPED]


def test_a_test_view_whose_every_row_was_skipped_is_an_error_naming_it(tmp_path):
    (tmp_path / "all").mkdir()
    write_shard(tmp_path / "all" / shard_name(0), [], np.zeros((0, DIM), np.float32), {})
    write_manifest(tmp_path / "all", [(shard_name(0), 0)],
                   {"dim": DIM, "view": "speech_en", "skipped": [{"id": i, "reason": "bad audio"} for i in IDS]})
    with pytest.raises(FlipInputError, match=r"all: nothing to evaluate on test view 'speech_en': its encoder "
                                             r"skipped every one of its 10 rows"):
        evaluate_view(probe_ranker(LiP(WORDS, DIM)), list("abcde"), ViewEmbeddings(tmp_path / "all"), _bow(),
                      "bow.npz")


def test_a_test_view_without_in_vocabulary_words_is_an_error_naming_it(tmp_path):
    view = _view(tmp_path, [], [])
    empty = BagOfWords(IDS, sp.csr_matrix((10, WORDS), dtype=np.int32), np.ones(10, dtype=np.int32))
    with pytest.raises(FlipInputError, match=r"bow.npz: nothing to evaluate on test view 'speech_en': none of its "
                                             r"10 sentences has an in-vocabulary word"):
        evaluate_view(probe_ranker(LiP(WORDS, DIM)), list("abcde"), view, empty, "bow.npz")
