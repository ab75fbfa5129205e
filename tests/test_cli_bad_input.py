"""Bad input through the CLI: a one-line error naming the culprit, exit status 2, no output left."""

import json

import pyarrow as pa
import pytest
import scipy.sparse as sp

from flip_pipeline.cli import main
from flip_pipeline.corpora.sample import generate_sample_corpus
from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.bow import BagOfWords
from flip_pipeline.formats.corpus_table import write_corpus_table


def test_empty_corpus_table_is_refused(tmp_path):
    empty = pa.table({"id": pa.array([], pa.string()), "text_en": pa.array([], pa.string())})
    with pytest.raises(FlipInputError, match="corpus table is empty"):
        write_corpus_table(empty, tmp_path / "train.parquet")
    assert not (tmp_path / "train.parquet").exists()
    dupes = pa.table({"id": ["a", "a"], "text_en": ["x", "y"]})
    with pytest.raises(FlipInputError, match="1 duplicate values"):
        write_corpus_table(dupes, tmp_path / "train.parquet")


@pytest.fixture
def small_run(tmp_path):
    """A corpus, vocabulary, bags of words and embeddings made with the CLI."""
    tables = generate_sample_corpus(300, {"train": 0.6, "dev": 0.2}, ("en",), seed=2)
    spec = json.dumps({"family": "bow_projection", "dim": 16})
    for split, table in tables.items():
        write_corpus_table(table, tmp_path / f"{split}.parquet")
        assert main(["embed", "--name", "bow", "--spec", spec, "--corpus-table", str(tmp_path / f"{split}.parquet"),
                     "--view", "text_en", "--out-dir", str(tmp_path / "emb" / split), "--device", "cpu"]) == 0
    assert main(["vocab", "--name", "v", "--spec", json.dumps({"corpus": "s", "view": "text_en"}),
                 "--corpus-table", str(tmp_path / "train.parquet"), "--out-dir", str(tmp_path / "vocab")]) == 0
    for split in ("train", "dev"):
        assert main(["bow", "--vocab-dir", str(tmp_path / "vocab"), "--corpus-table", str(tmp_path / f"{split}.parquet"),
                     "--view", "text_en", "--out", str(tmp_path / f"{split}.npz")]) == 0
    return tmp_path


def _train(root, rank, train_bow="train.npz", **training):
    spec = {"run": "r", "probe": "flip", "rank": rank, "alpha": 1.0, "train_views": ["text_en"], "encoder": "bow",
            "target_view": "text_en", "training": {"max_iterations": 1, "batch_size": 64, **training}}
    return main(["train", "--spec", json.dumps(spec), "--vocab-dir", str(root / "vocab"),
                 "--train-bow", str(root / train_bow), "--dev-bow", str(root / "dev.npz"),
                 "--train-embeddings", str(root / "emb" / "train"), "--dev-embeddings", str(root / "emb" / "dev"),
                 "--out-dir", str(root / "model"), "--device", "cpu"])


def test_rank_above_dimension_exits_2_without_output(small_run, capsys):
    assert _train(small_run, 17) == 2
    assert "rank 17 must be between 1 and the embedding dimension 16" in capsys.readouterr().err
    assert not (small_run / "model" / "model.safetensors").exists()


def test_bags_of_words_of_another_split_are_refused(small_run, capsys):
    assert _train(small_run, 8, train_bow="dev.npz") == 2
    err = capsys.readouterr().err
    assert "emb/train has 180 rows and" in err and "dev.npz 60" in err and "first differ at embedding row 0" in err


@pytest.mark.parametrize("split", ["train", "dev"])
def test_bags_of_words_wider_than_the_vocabulary_are_refused(small_run, capsys, split):
    """A bag with more columns than vocab.json has words would train a checkpoint of that many rows."""
    bow = BagOfWords.load(small_run / f"{split}.npz")
    words = len(json.loads((small_run / "vocab" / "vocab.json").read_text()))
    wide = sp.csr_matrix((bow.counts.data, bow.counts.indices, bow.counts.indptr), shape=(bow.counts.shape[0], 300))
    BagOfWords(bow.ids, wide, bow.oov_types).save(small_run / f"{split}.npz")
    assert _train(small_run, 8) == 2
    err = capsys.readouterr().err.strip()
    assert f"{split}.npz: 300 columns but {small_run / 'vocab' / 'vocab.json'} has {words} words" in err, err
    assert "\n" not in err and not (small_run / "model" / "model.safetensors").exists()


def test_a_small_run_trains(small_run):
    assert _train(small_run, 8, resident_memory_gb=0) == 0
    assert (small_run / "model" / "model.safetensors").exists()
    log = (small_run / "model" / "train_log.jsonl").read_text().splitlines()
    assert len(log) == 2
    assert json.loads(log[0])["data_path"]["path"] == "streamed"
    assert _train(small_run, 8, resident_dtype="bfloat16") == 0  # the default budget holds 180 rows of d 16
    result = json.loads((small_run / "model" / "config.json").read_text())["result"]
    assert result["data_path"]["path"] == "resident" and result["data_path"]["conversion_error"]["relative_rms"] > 0
    assert result["settings"]["resident_dtype"] == "bfloat16"


@pytest.mark.parametrize("setting, message", [
    ({"resident_dtype": "int8"}, "training.resident_dtype: 'int8' is not one of float32, float16, bfloat16"),
    ({"resident_memory_gb": -2}, "training.resident_memory_gb: -2 is negative"),
    ({"bias_init": "zero"}, "training.bias_init: 'zero'; expected one of log_unigram, xavier"),
])
def test_bad_resident_settings_exit_2_naming_the_key(small_run, capsys, setting, message):
    assert _train(small_run, 8, **setting) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and not (small_run / "model" / "model.safetensors").exists()


def test_non_utf8_text_files_are_named(tmp_path):
    (tmp_path / "a.en").write_bytes(b"good line\nbad \xff line\n")
    spec = json.dumps({"source": "text_files", "views": {"text_en": "a.en"}})
    with pytest.raises(FlipInputError, match=r"a\.en: line 2 is not valid UTF-8"):
        from flip_pipeline.stages.corpus import corpus_stage

        corpus_stage("c", json.loads(spec), tmp_path / "out", tmp_path)


def test_evaluate_refuses_a_bag_of_words_wider_than_the_model(small_run, capsys):
    assert _train(small_run, 8) == 0
    bow = BagOfWords.load(small_run / "dev.npz")
    wide = sp.csr_matrix((bow.counts.data, bow.counts.indices, bow.counts.indptr), shape=(bow.counts.shape[0], 300))
    BagOfWords(bow.ids, wide, bow.oov_types).save(small_run / "wide.npz")
    code = main(["evaluate", "--model-dir", str(small_run / "model"), "--embeddings", str(small_run / "emb" / "dev"),
                 "--bow", str(small_run / "wide.npz"), "--out", str(small_run / "eval.json")])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 2 and f"wide.npz: 300 columns but {small_run / 'model' / 'vocab.json'} has" in err, err
    assert not (small_run / "eval.json").exists()
