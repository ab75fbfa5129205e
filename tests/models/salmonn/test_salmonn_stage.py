"""SALMONN through the layers stage: each view reads its paired column of the corpus table,
both views' shards are the parts of the same forward passes; the config entry and its errors."""

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from helpers.sonar import SENTENCES, spoken_clips

from flip_pipeline.config.validation import load_config, validate_config
from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.corpus_table import read_view, write_corpus_table
from flip_pipeline.formats.shards import ViewEmbeddings
from flip_pipeline.models import build_encoder, build_layer_encoder, uses_gpu
from flip_pipeline.models.salmonn.layers import SalmonnLayers
from flip_pipeline.stages.layers import layers_stage

REPO = Path(__file__).resolve().parents[3]
TEXTS = SENTENCES[:3]


@pytest.fixture(scope="module")
def spec(salmonn_files):
    return {"family": "salmonn", **salmonn_files, "qformer_heads": 4, "batch_size": 2}


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    wavs = spoken_clips(root / "wav", TEXTS)
    path = root / "test.parquet"
    write_corpus_table(pa.table({"id": ["a", "b", "c"], "text_en": TEXTS, "speech_en": wavs}), path)
    return path


def test_the_stage_gives_each_view_its_part_of_the_paired_pass(spec, table, tmp_path):
    speech = layers_stage(table, "speech_en", "sal", spec, ["speech_encoder", "embeddings", "layer_03"],
                            tmp_path / "speech_en")
    text = layers_stage(table, "text_en", "sal", spec, "all", tmp_path / "text_en")
    assert speech["dims"] == {"speech_encoder": 48, "embeddings": 64, "layer_03": 64}
    assert text["layers"] == ["embeddings", "layer_01", "layer_02", "layer_03"]
    assert text["layer_norm"] == {"embeddings": "before", "layer_01": "before", "layer_02": "before",
                                  "layer_03": "after"}
    ids, paths = read_view(table, "speech_en")
    direct = build_layer_encoder("sal", spec)
    for view, inputs, paired in (("text_en", TEXTS, paths), ("speech_en", paths, TEXTS)):
        stored = ViewEmbeddings(tmp_path / view / "layer_03")
        expected = direct.encode_layers(ids, inputs, view, ["layer_03"], paired=paired)["layer_03"]
        assert list(stored.ids) == ids
        np.testing.assert_allclose(stored.read_rows(0, 3), expected, atol=1e-5)
    meta = json.loads((tmp_path / "text_en" / "_SUCCESS").read_text())
    assert meta["rows"] == 3


def test_a_table_without_the_paired_view_is_named(spec, tmp_path):
    path = tmp_path / "test.parquet"
    write_corpus_table(pa.table({"id": ["a"], "speech_en": ["a.wav"], "text_de": ["Hallo."]}), path)
    with pytest.raises(FlipInputError, match=r"no view 'text_en'"):
        layers_stage(path, "speech_en", "sal", spec, ["layer_01"], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_the_config_entry(spec):
    config = load_config(REPO / "config.yaml")
    validate_config({**config, "encoders": {**config["encoders"], "sal": spec}})
    with pytest.raises(FlipInputError, match=r"encoders\.sal\.prompt: 'no audio' does not match"):
        validate_config({**config, "encoders": {**config["encoders"], "sal": {**spec, "prompt": "no audio"}}})
    with pytest.raises(FlipInputError, match=r"encoders\.sal.*'beats' is a required property"):
        validate_config({**config, "encoders": {**config["encoders"], "sal": {"family": "salmonn", "checkpoint": "x"}}})
    built = build_layer_encoder("sal", spec)
    assert isinstance(built, SalmonnLayers) and built._loaded is None and uses_gpu(spec)  # nothing loaded
    with pytest.raises(FlipInputError, match=r"encoders\.sal: family salmonn gives per-layer"):
        build_encoder("sal", spec)
