"""The published FLiP data layout ({split}_text_embs.npy, ... as in the published
configs/datasets.yaml), written by the test with random embeddings and real sentences."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from flip_pipeline.cli import main
from flip_pipeline.corpora import load_corpus_splits
from flip_pipeline.corpora.flip_data import import_flip_data
from flip_pipeline.corpora.table import read_view
from flip_pipeline.embed import encoder_fingerprint
from flip_pipeline.errors import FlipInputError
from flip_pipeline.pair import pair_views, read_similarity
from flip_pipeline.shards import ViewEmbeddings

SIZES = {"train": 40, "dev": 10, "test": 12}
DIM = 16


@pytest.fixture
def published(tmp_path, tatoeba_dir) -> Path:
    root = tmp_path / "data" / "cv_15" / "en" / "sonar_embeddings"
    root.mkdir(parents=True)
    texts = (tatoeba_dir / "tatoeba.fra-eng.eng").read_text(encoding="utf-8").split("\n")
    rng = np.random.default_rng(0)
    offset = 0
    for split, n in SIZES.items():
        text = rng.normal(size=(n, DIM)).astype(np.float32)
        speech = (text + 0.3 * rng.normal(size=(n, DIM))).astype(np.float16)  # another dtype, same rows
        s32 = speech.astype(np.float32)
        sim = np.einsum("ij,ij->i", text, s32) / (np.linalg.norm(text, axis=1) * np.linalg.norm(s32, axis=1))
        np.save(root / f"{split}_text_embs.npy", text)
        np.save(root / f"{split}_speech_embs.npy", speech)
        np.save(root / f"{split}_sim_scores.npy", sim.astype(np.float32))
        lines = texts[offset : offset + n]
        offset += n
        lines.insert(3, "")  # an empty line is not a row (as in the published loader)
        (root / f"{split}_transcript.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def test_corpus_table_from_transcript(published, tatoeba_dir, tmp_path):
    tables, info = load_corpus_splits("cv15", {"source": "flip_data", "root": str(published)}, tmp_path)
    assert {s: t.num_rows for s, t in tables.items()} == SIZES
    assert tables["train"].column_names == ["id", "text_en", "flip_row", "split"]
    texts = (tatoeba_dir / "tatoeba.fra-eng.eng").read_text(encoding="utf-8").split("\n")
    dev = tables["dev"].to_pylist()
    assert dev[5]["id"] == "cv15-dev-0000005" and dev[5]["text_en"] == texts[40 + 5].strip()
    assert info["splits"]["dev"]["empty_lines_skipped"] == 1


def test_import_writes_tables_shards_and_scores(published, tmp_path):
    results = tmp_path / "results"
    info = import_flip_data(published, "cv15", results, shard_rows=16)
    assert info["rows"] == SIZES
    emb = results / "embeddings" / "sonar_published" / "cv15" / "train"
    text, speech = ViewEmbeddings(emb / "text_en"), ViewEmbeddings(emb / "speech_en")
    ids, _ = read_view(results / "corpora" / "cv15" / "train.parquet", "text_en")
    assert text.ids.tolist() == ids == speech.ids.tolist()
    assert len(list((emb / "text_en").glob("part-*.parquet"))) == 3
    source = np.load(published / "train_speech_embs.npy", allow_pickle=False)
    assert np.array_equal(speech.read_rows(0, len(speech)), source.astype(np.float32))
    for key in ("encoder", "model_id", "revision", "dim", "dtype", "view", "fingerprint", "versions", "created"):
        assert key in speech.metadata
    assert speech.metadata["view"] == "speech_en" and speech.metadata["source_dtype"] == "float16"
    assert speech.metadata["fingerprint"] == encoder_fingerprint("sonar_published", info["encoder_spec"])
    sim_ids, cosine = read_similarity(emb / "sim_text_en__speech_en.parquet")
    assert sim_ids.tolist() == ids
    assert np.allclose(cosine, np.load(published / "train_sim_scores.npy"))
    # the pair stage recomputes the same scores from the imported shards
    pair_views(emb / "text_en", emb / "speech_en", tmp_path / "sim.parquet")
    assert np.allclose(read_similarity(tmp_path / "sim.parquet")[1], cosine, atol=1e-5)
    assert json.loads((results / "corpora" / "cv15" / "info.json").read_text())["rows"] == SIZES


def test_nonfinite_rows_dropped_or_error(published, tmp_path):
    text = np.load(published / "test_text_embs.npy")
    text[4, 2] = np.nan
    np.save(published / "test_text_embs.npy", text)
    info = import_flip_data(published, "cv15", tmp_path / "r")
    assert info["rows"]["test"] == SIZES["test"] - 1 and info["splits"]["test"]["nonfinite_dropped"] == 1
    ids, _ = read_view(tmp_path / "r" / "corpora" / "cv15" / "test.parquet", "text_en")
    assert "cv15-test-0000004" not in ids and len(ids) == SIZES["test"] - 1
    view = ViewEmbeddings(tmp_path / "r" / "embeddings" / "sonar_published" / "cv15" / "test" / "text_en")
    assert view.ids.tolist() == ids
    with pytest.raises(FlipInputError, match=r"split 'test': row 4 has a NaN"):
        import_flip_data(published, "cv15", tmp_path / "r2", drop_nonfinite=False)


def test_mismatched_rows_and_pickled_arrays(published, tmp_path):
    transcript = published / "dev_transcript.txt"
    transcript.write_text(transcript.read_text(encoding="utf-8") + "one more sentence\n", encoding="utf-8")
    with pytest.raises(FlipInputError, match=r"split 'dev': row counts differ"):
        import_flip_data(published, "cv15", tmp_path / "r")
    np.save(published / "train_sim_scores.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(FlipInputError, match=r"train_sim_scores.npy: not a readable numeric .npy array"):
        load_corpus_splits("cv15", {"source": "flip_data", "root": str(published)}, tmp_path)


def test_cli_import_flip_data(published, tmp_path, capsys):
    results = tmp_path / "results"
    assert main(["import-flip-data", "--root", str(published), "--corpus", "cv15", "--results", str(results)]) == 0
    assert (results / "embeddings" / "sonar_published" / "cv15" / "dev" / "speech_en" / "_SUCCESS").is_file()
    assert pq.read_table(results / "corpora" / "cv15" / "test.parquet").num_rows == SIZES["test"]
    assert main(["import-flip-data", "--root", str(tmp_path / "nope"), "--corpus", "x"]) == 2
    assert "does not exist" in capsys.readouterr().err
