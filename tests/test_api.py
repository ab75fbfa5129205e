"""The public Python API (flip_pipeline.api), called as a user would: `import flip_pipeline as flip`.

A tiny results tree is made with the command line (a sample corpus, the bag-of-words control as the
encoder, a vocabulary, bags of words, a FLiP trained for two iterations and its evaluation); a hand-set
LiP (tests/helpers/checkpoints.py) gives exactly predictable top words, also by hub id from an offline
hub cache (tests/helpers/hub.py)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from helpers.checkpoints import save_identity_lip
from helpers.hub import HUB_ID, offline_hub_cache

import flip_pipeline as flip
from flip_pipeline.cli import main
from flip_pipeline.corpora.sample import generate_sample_corpus
from flip_pipeline.formats.corpus_table import write_corpus_table

WORDS = ["apple", "berlin", "red", "the", "train"]
BOW = {"family": "bow_projection", "dim": 16}
RUN = "flip-r8-a1-bow-text_en"


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """``results/`` as the workflow lays it out, every file written by a `flip` stage."""
    results = tmp_path_factory.mktemp("api") / "results"
    tables = generate_sample_corpus(300, {"train": 0.6, "dev": 0.2}, ("en",), seed=3)
    for split, table in tables.items():
        write_corpus_table(table, results / "corpora" / "s" / f"{split}.parquet")
        assert main(["embed", "--name", "bow", "--spec", json.dumps(BOW), "--corpus-table",
                     str(results / "corpora" / "s" / f"{split}.parquet"), "--view", "text_en", "--out-dir",
                     str(results / "embeddings" / "bow" / "s" / split / "text_en"), "--device", "cpu"]) == 0
    assert main(["vocab", "--name", "v", "--spec", json.dumps({"corpus": "s", "view": "text_en"}),
                 "--corpus-table", str(results / "corpora" / "s" / "train.parquet"),
                 "--out-dir", str(results / "vocab" / "v")]) == 0
    for split in tables:
        assert main(["bow", "--vocab-dir", str(results / "vocab" / "v"), "--corpus-table",
                     str(results / "corpora" / "s" / f"{split}.parquet"), "--view", "text_en",
                     "--out", str(results / "bow" / "v" / "s" / split / "text_en.npz")]) == 0
    spec = {"run": RUN, "probe": "flip", "rank": 8, "alpha": 1.0, "train_views": ["text_en"], "encoder": "bow",
            "target_view": "text_en", "training": {"max_iterations": 2, "batch_size": 64}}
    model = results / "models" / "e" / RUN
    assert main(["train", "--spec", json.dumps(spec), "--encoder-spec", json.dumps(BOW), "--vocab-dir",
                 str(results / "vocab" / "v"), "--train-bow", str(results / "bow" / "v" / "s" / "train" / "text_en.npz"),
                 "--dev-bow", str(results / "bow" / "v" / "s" / "dev" / "text_en.npz"),
                 "--train-embeddings", str(results / "embeddings" / "bow" / "s" / "train" / "text_en"),
                 "--dev-embeddings", str(results / "embeddings" / "bow" / "s" / "dev" / "text_en"),
                 "--out-dir", str(model), "--device", "cpu"]) == 0
    assert main(["evaluate", "--model-dir", str(model), "--embeddings",
                 str(results / "embeddings" / "bow" / "s" / "test" / "text_en"),
                 "--bow", str(results / "bow" / "v" / "s" / "test" / "text_en.npz"),
                 "--out", str(results / "eval" / "e" / RUN / "text_en.json"), "--device", "cpu"]) == 0
    evaluated = {"path": str(results / "eval" / "e" / RUN / "text_en.json"), "experiment": "e", "run": RUN,
                 "method": "flip", "rank": 8, "alpha": 1.0, "encoder": "bow", "corpus": "s", "vocab": "v",
                 "vocab_view": "text_en", "train_views": ["text_en"], "view": "text_en"}
    assert main(["report", "--kind", "table", "--name", "t", "--spec", json.dumps({"caption": "c", "entries": [evaluated]}),
                 "--inputs", evaluated["path"], "--out-prefix", str(results / "tables" / "t")]) == 0
    return results


def test_the_api_is_the_packages_all_and_import_flip_pipeline_stays_light():
    from flip_pipeline import api

    assert set(api.__all__) <= set(flip.__all__) and all(callable(getattr(flip, name)) for name in api.__all__)
    done = subprocess.run([sys.executable, "-c", "import sys, flip_pipeline; print('torch' in sys.modules)"],
                          capture_output=True, text=True)
    assert done.stdout.strip() == "False", done.stderr
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        flip.nope  # noqa: B018


def test_top_words_of_your_own_embeddings(tmp_path):
    probe = flip.load_probe(save_identity_lip(tmp_path / "lip", WORDS), device="cpu")
    assert (probe.dim, probe.words) == (5, WORDS)
    x = np.array([[0.5, 1, 0, 0, 0], [0, 0, 1, 0, 0.5]])  # float64 is fine: it is converted
    assert probe.top_words(x, k=2) == [["berlin", "apple"], ["red", "train"]]
    assert probe.top_words(x[0], k=1) == [["berlin"]]  # one vector is one row
    assert probe.top_words(x, k=1, use_bias=True) == [["the"], ["the"]]  # the bias of 10 on 'the'
    with pytest.raises(flip.FlipInputError, match=r"shape \(2, 4\).*needs \(n, 5\)"):
        probe.top_words(x[:, :4])
    with pytest.raises(flip.FlipInputError, match="k must be 1 or more"):
        probe.top_words(x, k=0)


def test_a_probe_by_hub_id_reads_the_offline_cache(tmp_path, monkeypatch):
    offline_hub_cache(tmp_path, monkeypatch, lambda folder: save_identity_lip(folder, WORDS))
    probe = flip.load_probe(HUB_ID, device="cpu")
    assert probe.model == HUB_ID and probe.folder.is_relative_to(tmp_path / "hub")
    assert probe.top_words(np.eye(5, dtype=np.float32)[[2]], k=1) == [["red"]]


def test_keywords_of_your_own_texts_through_the_checkpoints_encoder(results):
    probe = flip.load_probe(results / "models" / "e" / RUN, device="cpu")
    texts = ["The old farmer buys three red apples.", "My sister sells twelve umbrellas in Paris."]
    found = probe.keywords(texts, k=4)
    assert [len(words) for words in found] == [4, 4] and all(set(w) <= set(probe.words) for w in found)
    ids, x = flip.read_embeddings(results, "bow", "s", "test", "text_en")
    stored = probe.top_words(x[:2], k=4)  # the same words as `flip keywords --embeddings` gives
    by_cli = [line.split("\t")[1].split() for line in _cli_keywords(results / "models" / "e" / RUN,
              results / "embeddings" / "bow" / "s" / "test" / "text_en" / "part-00000.parquet")[:2]]
    assert stored == by_cli
    with pytest.raises(flip.FlipInputError, match="empty"):
        probe.keywords([" "])


def _cli_keywords(model, shard) -> list[str]:
    done = subprocess.run([sys.executable, "-m", "flip_pipeline.cli", "keywords", "--model", str(model),
                           "--embeddings", str(shard), "-k", "4", "--device", "cpu"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_a_results_folder_read_as_numpy_and_pandas(results):
    ids, x = flip.read_embeddings(str(results), "bow", "s", "test", "text_en")
    test = pd.read_parquet(results / "corpora" / "s" / "test.parquet")
    assert list(ids) == list(test["id"]) and x.shape == (len(test), 16) and x.dtype == np.float32
    bow = flip.read_bow(results, "v", "s", "test", "text_en")
    assert list(bow.ids) == list(ids) and isinstance(bow.counts, sp.csr_matrix)
    assert bow.counts.shape == (len(ids), len(json.loads((results / "vocab" / "v" / "vocab.json").read_text())))
    summary, details = flip.read_evaluation(results, "e", RUN, "text_en")
    scored = details[details["k"] > 0]
    assert summary["accuracy"]["mean"] == pytest.approx(scored["accuracy"].mean())


def test_a_table_by_name_and_what_is_missing(results):
    table = flip.read_table(results, "t")
    summary, _ = flip.read_evaluation(results, "e", RUN, "text_en")
    assert list(table[["encoder", "test_view", "run"]].itertuples(index=False, name=None)) == [("bow", "text_en", RUN)]
    assert table["accuracy"].iloc[0] == pytest.approx(100 * summary["accuracy"]["mean"], abs=0.006)
    with pytest.raises(flip.FlipInputError, match=r"tables/quickstart\.csv"):
        flip.read_table(results, "quickstart")
    with pytest.raises(flip.FlipInputError, match=r"embeddings/bow/s/test/text_de"):
        flip.read_embeddings(results, "bow", "s", "test", "text_de")
    with pytest.raises(flip.FlipInputError, match=r"eval/e/other/text_en\.json"):
        flip.read_evaluation(results, "e", "other", "text_en")
