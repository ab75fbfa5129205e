"""The layers stage on all-MiniLM-L6-v2's real weights: one shard folder per layer under the
shard contract, the view manifest written last, resume after an interrupted run, stale
shards after a config or layer-list change, and bad input."""

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers.layers import MINILM
from helpers.sonar import SENTENCES

from flip_pipeline.cli import main
from flip_pipeline.formats.corpus_table import write_corpus_table
from flip_pipeline.formats.shards import ViewEmbeddings
from flip_pipeline.models import build_layer_encoder
from flip_pipeline.stages.layers import layers_stage

ALL = ["embeddings"] + [f"layer_{i:02d}" for i in range(1, 7)]
TEXTS = SENTENCES + ["Good morning.", "The train leaves at nine.", "She reads books in the garden.", "Why?"]


class Counting:
    """The MiniLM layer encoder, recording each call's rows and layers; raises on call ``fail_at``."""

    def __init__(self, inner, fail_at=None):
        self.inner, self.fail_at, self.calls = inner, fail_at, []
        self.name = inner.name

    def __getattr__(self, key):
        return getattr(self.inner, key)

    def encode_layers(self, ids, inputs, view, layers):
        if len(self.calls) == self.fail_at:
            raise KeyboardInterrupt("killed")
        self.calls.append((ids[0], list(layers)))
        return self.inner.encode_layers(ids, inputs, view, layers)


@pytest.fixture(scope="module")
def minilm():
    return build_layer_encoder("minilm", MINILM)


@pytest.fixture
def table(tmp_path):
    path = tmp_path / "corpus" / "test.parquet"
    ids = [f"s{i:02d}" for i in range(len(TEXTS))]
    write_corpus_table(pa.table({"id": ids, "text_en": TEXTS, "speech_en": [f"{i}.wav" for i in ids]}), path)
    return path


def _stamps(out):
    return {str(p.relative_to(out)): p.stat().st_mtime_ns for p in out.glob("*/part-*.parquet")}


def test_one_folder_per_layer_with_metadata_and_the_view_manifest(minilm, table, tmp_path):
    out = tmp_path / "layers"
    info = layers_stage(table, "text_en", "minilm", MINILM, "all", out, shard_rows=3, encoder=minilm)
    manifest = json.loads((out / "_SUCCESS").read_text())
    assert manifest == info and info["layers"] == ALL and info["rows"] == len(TEXTS) and info["format"] == "flip-layers/1"
    assert info["dims"] == dict.fromkeys(ALL, 384) and info["layer_norm"] == dict.fromkeys(ALL, "none")
    assert info["pooling"] == "masked_mean" and info["encoder"] == "minilm" and info["view"] == "text_en"
    direct = minilm.encode_layers([f"s{i:02d}" for i in range(len(TEXTS))], TEXTS, "text_en", ALL)
    for name in ALL:
        view = ViewEmbeddings(out / name)
        assert list(view.ids) == [f"s{i:02d}" for i in range(len(TEXTS))] and view.dim == 384
        assert len(view.manifest["shards"]) == 4 and view.manifest["fingerprint"] == view.metadata["fingerprint"]
        np.testing.assert_allclose(view.read_rows(0, len(view)), direct[name], atol=1e-5, rtol=0)
        meta = view.metadata
        assert (meta["layer"], meta["pooling"], meta["layer_norm"], meta["view"]) == (name, "masked_mean", "none", "text_en")
        for key in ("encoder", "model_id", "revision", "dim", "dtype", "precision", "versions", "created"):
            assert key in meta
    assert len({ViewEmbeddings(out / name).metadata["fingerprint"] for name in ALL}) == len(ALL)


def test_an_interrupted_run_keeps_its_shards_and_a_rerun_computes_only_the_missing(minilm, table, tmp_path):
    out = tmp_path / "layers"
    with pytest.raises(KeyboardInterrupt):
        layers_stage(table, "text_en", "minilm", MINILM, "all", out, shard_rows=3,
                       encoder=Counting(minilm, fail_at=2))
    assert not (out / "_SUCCESS").exists()
    assert sorted(_stamps(out)) == sorted(f"{name}/part-0000{i}.parquet" for name in ALL for i in (0, 1))
    before = _stamps(out)
    rerun = Counting(minilm)
    layers_stage(table, "text_en", "minilm", MINILM, "all", out, shard_rows=3, encoder=rerun)
    assert rerun.calls == [("s06", ALL), ("s09", ALL)]  # shards 2 and 3, every layer in one call each
    after = _stamps(out)
    assert all(after[path] == stamp for path, stamp in before.items())  # finished shards kept as they were

    (out / "layer_03" / "part-00001.parquet").unlink()  # one layer's shard lost
    again = Counting(minilm)
    layers_stage(table, "text_en", "minilm", MINILM, "all", out, shard_rows=3, encoder=again)
    assert again.calls == [("s03", ["layer_03"])]
    clean = tmp_path / "clean"
    layers_stage(table, "text_en", "minilm", MINILM, "all", clean, shard_rows=3, encoder=minilm)
    for name in ALL:
        a, b = ViewEmbeddings(out / name), ViewEmbeddings(clean / name)
        np.testing.assert_array_equal(a.read_rows(0, len(a)), b.read_rows(0, len(b)))


def test_nothing_stale_survives_a_config_or_layer_list_change(minilm, table, tmp_path):
    out = tmp_path / "layers"
    layers_stage(table, "text_en", "minilm", MINILM, ["embeddings", "layer_03", "layer_06"], out, shard_rows=5,
                   encoder=minilm)
    fewer = Counting(minilm)
    info = layers_stage(table, "text_en", "minilm", MINILM, ["layer_06", "embeddings"], out, shard_rows=5,
                          encoder=fewer)
    assert info["layers"] == ["embeddings", "layer_06"] and fewer.calls == []  # model order; nothing recomputed
    assert sorted(p.name for p in out.iterdir()) == ["_SUCCESS", "embeddings", "layer_06"]
    more = Counting(minilm)
    layers_stage(table, "text_en", "minilm", MINILM, ["embeddings", "layer_01", "layer_06"], out, shard_rows=5,
                   encoder=more)
    assert more.calls == [("s00", ["layer_01"]), ("s05", ["layer_01"])]
    changed = Counting(minilm)
    spec = {**MINILM, "batch_size": 2}  # another config: every shard is stale
    layers_stage(table, "text_en", "minilm", spec, ["embeddings", "layer_01", "layer_06"], out, shard_rows=5,
                   encoder=changed)
    assert changed.calls == [("s00", ["embeddings", "layer_01", "layer_06"]), ("s05", ["embeddings", "layer_01", "layer_06"])]


def test_bad_input_is_named_and_writes_nothing(table, tmp_path, capsys):
    out = tmp_path / "layers"
    common = ["layers", "--name", "minilm", "--spec", json.dumps(MINILM), "--corpus-table", str(table),
              "--out-dir", str(out), "--device", "cpu"]
    assert main([*common, "--view", "text_en", "--layers", "layer_06", "layer_07", "pooled"]) == 2
    err = capsys.readouterr().err
    assert "encoder 'minilm', view 'text_en' has no layer 'layer_07', 'pooled'" in err
    assert "its layers: embeddings, layer_01, layer_02, layer_03, layer_04, layer_05, layer_06" in err
    assert main([*common, "--view", "speech_en"]) == 2
    assert "encoder 'minilm' (sentence_transformers) encodes text views only, not 'speech_en'" in capsys.readouterr().err
    assert main([*common, "--view", "text_en", "--spec", json.dumps({"family": "gaussian", "dim": 4})]) == 2
    assert "'gaussian' has no per-layer representations" in capsys.readouterr().err
    assert not out.exists()


def test_the_cli_writes_the_requested_layers(table, tmp_path):
    out = tmp_path / "layers"
    assert main(["layers", "--name", "minilm", "--spec", json.dumps(MINILM), "--corpus-table", str(table),
                 "--view", "text_en", "--layers", "layer_06", "--out-dir", str(out), "--device", "cpu"]) == 0
    assert json.loads((out / "_SUCCESS").read_text())["layers"] == ["layer_06"]
    assert pq.read_schema(out / "layer_06" / "part-00000.parquet").metadata[b"flip.layer"] == b"layer_06"
