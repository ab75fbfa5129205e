"""The published FLiP data (tests/helpers/published.py writes its layout): corpus tables,
imported shards and scores, through the functions, the CLI and the Snakemake rules."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml
from helpers.published import SIZES, write_published

from flip_pipeline.cli import main
from flip_pipeline.corpora import load_corpus_splits
from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.corpus_table import read_view, write_corpus_table
from flip_pipeline.formats.pair_scores import read_pair_scores as read_similarity
from flip_pipeline.formats.shards import ViewEmbeddings, encoder_fingerprint
from flip_pipeline.stages.import_published import (
    import_flip_data_stage,
    import_flip_scores_stage,
    import_flip_view_stage,
)
from flip_pipeline.stages.pair import pair_stage

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def published(tmp_path, tatoeba_dir) -> Path:
    return write_published(tmp_path / "data" / "cv_15" / "en" / "sonar_embeddings", tatoeba_dir)


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
    info = import_flip_data_stage(published, "cv15", results, shard_rows=16)
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
    pair_stage(emb / "text_en", emb / "speech_en", tmp_path / "sim.parquet")
    assert np.allclose(read_similarity(tmp_path / "sim.parquet")[1], cosine, atol=1e-5)
    assert json.loads((results / "corpora" / "cv15" / "info.json").read_text())["rows"] == SIZES


def test_nonfinite_rows_dropped_or_error(published, tmp_path):
    text = np.load(published / "test_text_embs.npy")
    text[4, 2] = np.nan
    np.save(published / "test_text_embs.npy", text)
    info = import_flip_data_stage(published, "cv15", tmp_path / "r")
    assert info["rows"]["test"] == SIZES["test"] - 1 and info["splits"]["test"]["nonfinite_dropped"] == 1
    ids, _ = read_view(tmp_path / "r" / "corpora" / "cv15" / "test.parquet", "text_en")
    assert "cv15-test-0000004" not in ids and len(ids) == SIZES["test"] - 1
    view = ViewEmbeddings(tmp_path / "r" / "embeddings" / "sonar_published" / "cv15" / "test" / "text_en")
    assert view.ids.tolist() == ids
    with pytest.raises(FlipInputError, match=r"split 'test': row 4 has a NaN"):
        import_flip_data_stage(published, "cv15", tmp_path / "r2", drop_nonfinite=False)


def test_mismatched_rows_and_pickled_arrays(published, tmp_path):
    transcript = published / "dev_transcript.txt"
    transcript.write_text(transcript.read_text(encoding="utf-8") + "one more sentence\n", encoding="utf-8")
    with pytest.raises(FlipInputError, match=r"split 'dev': row counts differ"):
        import_flip_data_stage(published, "cv15", tmp_path / "r")
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


def test_view_and_score_import_name_bad_input(published, tmp_path):
    tables, _ = load_corpus_splits("cv15", {"source": "flip_data", "root": str(published)}, tmp_path)
    table = tmp_path / "dev.parquet"
    write_corpus_table(tables["dev"], table)
    out = tmp_path / "emb" / "text_de"
    with pytest.raises(FlipInputError, match=r"view 'text_de': the published FLiP data of language 'en' has only"):
        import_flip_view_stage(published, "en", table, "text_de", out)
    np.save(published / "dev_speech_embs.npy", np.load(published / "dev_speech_embs.npy")[:5])
    with pytest.raises(FlipInputError, match=r"dev_speech_embs.npy has 5 rows but .*dev.parquet refers to row 9"):
        import_flip_view_stage(published, "en", table, "speech_en", out)
    text = np.load(published / "dev_text_embs.npy")
    text[2, 0] = np.inf
    np.save(published / "dev_text_embs.npy", text)
    with pytest.raises(FlipInputError, match=r"dev_text_embs.npy: row 2 is not finite; .* rebuild the corpus"):
        import_flip_view_stage(published, "en", table, "text_en", out)
    assert not (out / "_SUCCESS").exists()
    with pytest.raises(FlipInputError, match=r"vocab.json: not a readable corpus table of a flip_data corpus"):
        (tmp_path / "vocab.json").write_text("{}")
        import_flip_scores_stage(published, "en", tmp_path / "vocab.json", tmp_path / "sim.parquet")


def published_config(root: Path) -> dict:
    """A small grid on the published data: LiP and FLiP on the imported SONAR embeddings."""
    return {
        "corpora": {"cv15": {"source": "flip_data", "root": str(root), "language": "en"}},
        "encoders": {"sonar_published": {"family": "published", "data": "BUT-FIT/FLiP-data"}},
        "vocabularies": {"cv15_en": {"corpus": "cv15", "view": "text_en", "max_words": 1000}},
        "experiments": {"pub": {
            "corpus": "cv15", "vocab": "cv15_en", "encoders": ["sonar_published"], "probes": ["lip", "flip"],
            "ranks": [8], "alphas": [0.5], "train_views": [["text_en", "speech_en"]],
            "test_views": ["text_en", "speech_en"],
            "training": {"batch_size": 8, "max_iterations": 4, "eval_every": 1, "sim_threshold": 0.0},
        }},
        "tables": {"pub_table": {"layout": "rank", "experiments": ["pub"], "caption": "published data"}},
        "targets": ["pub_table"],
        "device": "cpu",
        "shard_rows": 16,
    }


def snakemake(workdir: Path, config: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--configfile", str(config),
         "--directory", str(workdir), "--cores", "2", *args],
        capture_output=True, text=True, cwd=workdir, timeout=900,
    )


@pytest.mark.slow
def test_snakemake_imports_instead_of_embedding(published, tmp_path):
    sim = np.load(published / "train_sim_scores.npy")
    sim[[0, 5, 7]] = -1.0  # published scores below sim_threshold 0: only the imported scores drop these rows
    np.save(published / "train_sim_scores.npy", sim)
    dev_sim = np.load(published / "dev_sim_scores.npy")
    dev_sim[1] = 0.0  # not above 0.0: dropped from the dev set too, as the published config does
    np.save(published / "dev_sim_scores.npy", dev_sim)
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(published_config(published)), encoding="utf-8")
    plan = snakemake(tmp_path, config, "-n")
    assert plan.returncode == 0, plan.stderr[-3000:]
    jobs = dict(re.findall(r"^(\w+)\s+(\d+)$", plan.stdout, re.MULTILINE))
    assert jobs["import_flip_view"] == "6" and jobs["import_flip_scores"] == "2" and "embed" not in jobs  # train, dev
    assert "pair" not in jobs

    proc = snakemake(tmp_path, config)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = tmp_path / "results"
    emb = results / "embeddings" / "sonar_published" / "cv15"
    for split, n in SIZES.items():
        ids, _ = read_view(results / "corpora" / "cv15" / f"{split}.parquet", "text_en")
        speech = ViewEmbeddings(emb / split / "speech_en")
        assert speech.ids.tolist() == ids and len(ids) == n
        assert np.array_equal(speech.read_rows(0, n), np.load(published / f"{split}_speech_embs.npy").astype(np.float32))
    _, scores = read_similarity(emb / "train" / "sim_text_en__speech_en.parquet")
    assert np.array_equal(scores, sim)
    for run in ("lip-a0.5-sonar_published-text_en+speech_en", "flip-r8-a0.5-sonar_published-text_en+speech_en"):
        result = json.loads((results / "models" / "pub" / run / "config.json").read_text())["result"]
        assert result["train_rows"] == SIZES["train"] - 3
        kept = {split: (f["kept"], f["rows"]) for split, f in result["sim_filter"].items() if split != "threshold"}
        assert kept == {"train": (SIZES["train"] - 3, SIZES["train"]), "dev": (SIZES["dev"] - 1, SIZES["dev"])}
    table = (results / "tables" / "pub_table.md").read_text()
    assert "| ✗ | Full |" in table and "| ✓ | 8 |" in table
    assert "Nothing to be done" in snakemake(tmp_path, config, "-n").stdout

    # a changed published file re-imports its view (and what depends on it), nothing else
    doubled = np.load(published / "test_text_embs.npy") * 2
    np.save(published / "test_text_embs.npy", doubled)
    again = snakemake(tmp_path, config, "-n")
    jobs = dict(re.findall(r"^(\w+)\s+(\d+)$", again.stdout, re.MULTILINE))
    assert jobs["import_flip_view"] == "1" and "train" not in jobs and jobs["evaluate"] == "2"
    assert snakemake(tmp_path, config).returncode == 0
    text = ViewEmbeddings(emb / "test" / "text_en")
    assert np.array_equal(text.read_rows(0, len(text)), doubled)
