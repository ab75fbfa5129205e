"""The stopping rule (the published patience, a minimum run length that survives a dip in dev
recall) and the bias initialisation behind that dip.

The dev recall is scripted (a dip constructed as seen with FLiP on USE embeddings: up,
down for a few evaluations, then up further) while the loop really trains a probe on
tiny synthetic data, so the test checks which iterations the loop evaluates, where it
stops, which checkpoint it keeps and what it logs.
"""

import json

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.bow import BagOfWords
from flip_pipeline.formats.shards import ViewEmbeddings
from flip_pipeline.stages.embed import embed_stage
from flip_pipeline.training import loop
from flip_pipeline.training.batches import TrainingData
from flip_pipeline.training.loop import TrainSettings, make_dev_set, train_probe
from flip_pipeline.training.stopping import DevCriterion

DIP = [0.40, 0.46, 0.41, 0.40, 0.42, 0.48, 0.52, 0.51, 0.50, 0.50, 0.49, 0.49, 0.48]  # evaluations 1, 2, …


def _stops_at(scores, patience, min_iterations=0):
    """1-based evaluation (= iteration, evaluating every iteration) where the rule stops, or None."""
    rule = DevCriterion(patience, min_iterations, best=0.0)
    for i, score in enumerate(scores, 1):
        rule.update(score)
        if rule.should_stop(i):
            return i
    return None


def test_patience_is_the_published_one_tolerated_evaluations_then_stop():
    flat = [0.5] + [0.4] * 10
    assert _stops_at(flat, patience=2) == 4  # 3rd stale evaluation, as the published loop
    assert _stops_at(flat, patience=5) == 7
    assert _stops_at(flat, patience=0) == 2


def test_short_patience_stops_in_the_dip_and_the_robust_settings_do_not():
    assert _stops_at(DIP, patience=2) == 5  # stopped at 0.42, best 0.46; never sees 0.52
    assert _stops_at(DIP, patience=2, min_iterations=8) == 10  # past the dip, stops 3 stale after 0.52
    assert _stops_at(DIP, patience=5) == 13
    assert _stops_at(DIP, patience=6) is None


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """200 train / 40 dev sentences of 30 words, embedded by the bag-of-words control (dim 16)."""
    import pyarrow as pa

    from flip_pipeline.formats.corpus_table import write_corpus_table

    root = tmp_path_factory.mktemp("stop")
    rng = np.random.default_rng(0)
    out = {}
    for split, n in (("train", 200), ("dev", 40)):
        counts = sp.csr_matrix(rng.poisson(0.2, size=(n, 30)).astype(np.float32))
        words = [f"w{i:02d}" for i in range(30)]
        texts = [" ".join(w for w, c in zip(words, row) for _ in range(int(c))) or "none" for row in counts.toarray()]
        ids = np.asarray([f"{split}{i}" for i in range(n)], dtype=str)
        write_corpus_table(pa.table({"id": ids.tolist(), "text_en": texts}), root / f"{split}.parquet")
        embed_stage(root / f"{split}.parquet", "text_en", "bow", {"family": "bow_projection", "dim": 16},
                   root / split, shard_rows=100)
        out[split] = (BagOfWords(ids, counts, np.zeros(n, dtype=np.int64)), ViewEmbeddings(root / split))
    return out


def _train_on_scripted_dev(tiny, tmp_path, monkeypatch, scores, **settings):
    """Train FLiP on ``tiny`` with dev recall replaced by ``scores`` (iteration 0 scores 0)."""
    calls = iter([0.0, *scores])
    monkeypatch.setattr(loop, "dev_recall", lambda probe, dev, s: next(calls))
    bow, view = tiny["train"]
    data = TrainingData([view], [1.0], bow, "train.npz")
    dev_bow, dev_view = tiny["dev"]
    dev = make_dev_set([dev_view.read_rows(0, len(dev_view))], dev_bow.counts, "dev.npz")
    s = TrainSettings(**{"batch_size": 50, "max_iterations": len(scores), "eval_every": 1, "lr": 0.01,
                         "resident_memory_gb": 0, **settings})
    probe, summary = train_probe("flip", 8, data, dev, s, torch.device("cpu"), tmp_path / "log.jsonl")
    log = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    return probe, summary, log


def test_the_loop_stops_in_the_dip_with_short_patience(tiny, tmp_path, monkeypatch):
    _, summary, log = _train_on_scripted_dev(tiny, tmp_path, monkeypatch, DIP, patience=2, lr_patience=1)
    assert summary["iterations"] == 5 and summary["best_iteration"] == 2 and summary["best_dev_recall"] == 0.46
    assert [r["stale_evaluations"] for r in log[1:]] == [0, 0, 1, 2, 3]
    assert [r["lr"] for r in log[1:]] == [0.01, 0.01, 0.01, 0.01, 0.005]  # halved after the 4th: 2 stale > 1


def test_min_iterations_carries_the_loop_past_the_dip_and_keeps_the_best(tiny, tmp_path, monkeypatch):
    probe, summary, log = _train_on_scripted_dev(tiny, tmp_path, monkeypatch, DIP, patience=2, min_iterations=8)
    assert summary["iterations"] == 10 and summary["best_iteration"] == 7 and summary["best_dev_recall"] == 0.52
    assert log[7]["best_iteration"] == 7 and log[-1]["best_iteration"] == 7
    assert summary["settings"]["min_iterations"] == 8
    seven, _, _ = _train_on_scripted_dev(tiny, tmp_path, monkeypatch, DIP[:7])  # ends at its best, iteration 7
    for name, tensor in probe.state_dict().items():  # the kept model is iteration 7's, not the last one run
        torch.testing.assert_close(tensor, seven.state_dict()[name], rtol=0, atol=0)


def test_unknown_stopping_setting_is_refused_with_its_key():
    with pytest.raises(FlipInputError, match="training.min_iteration: unknown setting"):
        TrainSettings.from_dict({"min_iteration": 8})


@pytest.mark.parametrize("bias_init", ["log_unigram", "xavier", None])
def test_bias_init_log_unigram_or_the_published_xavier(tiny, tmp_path, monkeypatch, bias_init):
    chosen = {} if bias_init is None else {"bias_init": bias_init}  # None: the default, the published xavier
    probe, summary, _ = _train_on_scripted_dev(tiny, tmp_path, monkeypatch, [0.5], lr=1e-9, **chosen)
    b = probe.b.detach().numpy().ravel()  # after one step of lr 1e-9: the initial bias
    counts = np.asarray(tiny["train"][0].counts.sum(axis=0)).ravel()
    if bias_init == "log_unigram":
        np.testing.assert_allclose(b, np.log((counts + 1e-8) / (counts.sum() + 30e-8)), rtol=1e-5)
    else:
        assert abs(b.std() - np.sqrt(2 / 31)) < 0.1 and abs(b).max() < 1.5  # Xavier-normal of (30, 1)
    assert summary["settings"]["bias_init"] == (bias_init or "xavier")
    with pytest.raises(FlipInputError, match="training.bias_init: 'zero'"):
        TrainSettings(bias_init="zero")
