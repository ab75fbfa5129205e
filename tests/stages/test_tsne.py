"""The t-SNE stage: every view of a layer in one map, deterministic under its seed, clear refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers.shards import write_layers

from flip_pipeline.cli import main
from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.tsne_map import read_map
from flip_pipeline.stages.tsne import tsne_stage


@pytest.fixture
def views(tmp_path):
    rng = np.random.default_rng(0)
    ids = [f"s{i}" for i in range(40)]
    out = {}
    for k, lang in enumerate(["de", "fr"]):
        out[lang] = {}
        for modality, shift in (("text", 0.0), ("speech", 4.0)):
            layers = {"embeddings": rng.normal(size=(40, 6)) + shift + k, "layer_01": rng.normal(size=(40, 6))}
            out[lang][modality] = write_layers(tmp_path / lang / modality, ids, layers, f"{modality}_{lang}")
    return out


def test_map_holds_every_view_and_repeats_under_its_seed(views, tmp_path):
    settings = {"perplexity": 10, "max_iter": 250}
    first = tsne_stage("toy", "embeddings", views, {"de": "high", "fr": "low"}, settings, str(tmp_path / "a.parquet"))
    again = tsne_stage("toy", "embeddings", views, {"de": "high", "fr": "low"}, settings, str(tmp_path / "b.parquet"))
    assert len(first) == 160 and set(first.modality) == {"text", "speech"} and set(first.language) == {"de", "fr"}
    np.testing.assert_array_equal(first[["x", "y"]].to_numpy(), again[["x", "y"]].to_numpy())
    points, meta = read_map(tmp_path / "a.parquet")
    assert meta["layer"] == "embeddings" and json.loads(meta["settings"])["perplexity"] == 10
    assert set(points[points.language == "fr"].resource) == {"low"}
    # speech sits 4 standard deviations from text in the input: the map keeps them apart
    text, speech = points[points.modality == "text"], points[points.modality == "speech"]
    centre_gap = np.linalg.norm(text[["x", "y"]].mean() - speech[["x", "y"]].mean())
    assert centre_gap > 2 * text[["x", "y"]].std().mean()


def test_cap_per_language_and_cli(views, tmp_path):
    out = tmp_path / "m.parquet"
    code = main(["tsne", "--encoder", "toy", "--layer", "layer_01", "--views", json.dumps(views),
                 "--settings", json.dumps({"perplexity": 5, "max_iter": 250, "max_per_language": 20}),
                 "--out", str(out)])
    assert code == 0 and len(read_map(out)[0]) == 80


def test_missing_layer_and_too_few_points_are_named(views, tmp_path):
    with pytest.raises(FlipInputError, match="no layer 'layer_07' .*it has: embeddings, layer_01"):
        tsne_stage("toy", "layer_07", views, {}, {}, str(tmp_path / "x.parquet"))
    with pytest.raises(FlipInputError, match="160 points are too few for perplexity 60"):
        tsne_stage("toy", "embeddings", views, {}, {"perplexity": 60}, str(tmp_path / "x.parquet"))
    for bad in ({"learning_rate": -3.0}, {"perplexity": 5, "init": "spiral"}, {"perplexity": 5, "momentum": 0.5}):
        with pytest.raises(FlipInputError, match=r"t-SNE of toy embeddings: settings \(thesis.tsne\): "):
            tsne_stage("toy", "embeddings", views, {}, bad, str(tmp_path / "x.parquet"))
    with pytest.raises(FlipInputError, match=r"embedded by encoder 'toy' .* needs encoder 'other'"):
        tsne_stage("other", "embeddings", views, {}, {}, str(tmp_path / "x.parquet"))
    assert not (tmp_path / "x.parquet").exists()


def test_a_speech_only_layer_is_mapped_with_its_text_partner(views, tmp_path):
    rng = np.random.default_rng(1)
    ids = [f"s{i}" for i in range(40)]
    for lang in views:  # speech views with an adaptor, as SeamlessM4T's
        layers = {name: rng.normal(size=(40, 6)) for name in ("embeddings", "layer_01", "adaptor")}
        views[lang]["speech"] = write_layers(tmp_path / lang / "speech_adaptor", ids, layers, f"speech_{lang}")
    settings = {"perplexity": 10, "max_iter": 250}
    points = tsne_stage("toy", "adaptor", views, {}, settings, str(tmp_path / "a.parquet"))
    assert len(points) == 160
    meta = read_map(tmp_path / "a.parquet")[1]
    assert json.loads(meta["layers"]) == {"text": "layer_01", "speech": "adaptor"}  # as the similarity stage pairs
    tsne_stage("toy", "adaptor", views, {}, settings, str(tmp_path / "p.parquet"), pairs={"adaptor": "embeddings"})
    assert json.loads(read_map(tmp_path / "p.parquet")[1]["layers"])["text"] == "embeddings"
    with pytest.raises(FlipInputError, match=r"no text partner 'layer_09' of the speech layer 'adaptor'.*"
                                             r"thesis\.models\.toy\.tsne_layers"):
        tsne_stage("toy", "adaptor", views, {}, settings, str(tmp_path / "x.parquet"), pairs={"adaptor": "layer_09"})
    assert not (tmp_path / "x.parquet").exists()


def test_a_narrower_speech_layer_is_zero_padded_to_the_text_width(views, tmp_path):
    """SALMONN's 2048-d speech encoder output mapped with its 4096-d text embeddings (thesis §4.1.3)."""
    rng = np.random.default_rng(2)
    ids = [f"s{i}" for i in range(40)]
    for lang in views:
        layers = {"speech_encoder": rng.normal(size=(40, 3)), "embeddings": rng.normal(size=(40, 6)),
                  "layer_01": rng.normal(size=(40, 6))}
        views[lang]["speech"] = write_layers(tmp_path / lang / "speech_salmonn", ids, layers, f"speech_{lang}")
    settings = {"perplexity": 10, "max_iter": 250}
    points = tsne_stage("toy", "speech_encoder", views, {}, settings, str(tmp_path / "s.parquet"))
    meta = read_map(tmp_path / "s.parquet")[1]
    assert json.loads(meta["layers"]) == {"text": "embeddings", "speech": "speech_encoder"}
    assert json.loads(meta["padded"]) == {"de speech": 3, "fr speech": 3}
    same = tsne_stage("toy", "layer_01", views, {}, settings, str(tmp_path / "l.parquet"))
    assert len(points) == len(same) == 160 and json.loads(read_map(tmp_path / "l.parquet")[1]["padded"]) == {}
