"""Table A.7's shared cross-lingual dimensions, held against a hand computation, and the
similarity stage reducing every cross-lingual set to them with chance at the same dimensions."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from helpers.shards import write_layers

from flip_pipeline.cli import main
from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.similarity_scores import read_dimensions
from flip_pipeline.similarity.analysis_settings import SimilaritySettings
from flip_pipeline.similarity.compare import compare
from flip_pipeline.stages.shared_dimensions import shared_dimensions_stage
from flip_pipeline.stages.similarity import similarity_stage

N, D = 40, 8
# Singular values of each text set (centred), chosen with no share on the 0.9 boundary:
# shares of s (google/svcca's convention) reach 0.9 at k = 3 (aa), 5 (bb), 4 (cc) for the embeddings:
#   aa 4, 3, 2, .5   → .42 .74 .95           k = 3
#   bb 5, 1.5, 1,1,1,1 → .48 .62 .71 .81 .905 k = 5
#   cc 1, 1, 1, 1    → .25 .5 .75 1          k = 4
# and for layer_01: aa 3,3,3 → k 3; bb 10, 1 → .91 k 1; cc 2, 1 → .67 1 k 2.
SPECTRA = {
    "embeddings": {"aa": [4, 3, 2, 0.5], "bb": [5, 1.5, 1, 1, 1, 1], "cc": [1, 1, 1, 1]},
    "layer_01": {"aa": [3, 3, 3], "bb": [10, 1], "cc": [2, 1]},
}
HAND = {"embeddings": 5, "layer_01": 3}  # the largest of each layer's own dimensions
SETTINGS = {"chance_draws": 2, "permutations": 0, "bootstrap": 0, "min_ratio": 0, "methods": ["svcca", "pwcca"]}
RESOURCE = {"aa": "high", "bb": "low", "cc": "low"}


def with_spectrum(rng, s: list[float]) -> np.ndarray:
    """An ``(N, D)`` set whose centred singular values are exactly ``s``."""
    g = rng.standard_normal((N, len(s)))
    q, _ = np.linalg.qr(g - g.mean(axis=0))  # orthonormal columns, each of mean 0
    r, _ = np.linalg.qr(rng.standard_normal((D, len(s))))
    return (q * np.asarray(s, dtype=float)) @ r.T + 3.0  # an offset: centring must remove it


@pytest.fixture
def views(tmp_path):
    rng = np.random.default_rng(0)
    ids = [f"{i:04d}" for i in range(N)]
    out = {}
    for lang in ("aa", "bb", "cc"):
        text = {layer: with_spectrum(rng, spectra[lang]) for layer, spectra in SPECTRA.items()}
        speech = {layer: rng.standard_normal((N, 6)) for layer in ("embeddings", "layer_01", "adaptor")}
        out[lang] = {"text": write_layers(tmp_path / lang / "text", ids, text, f"text_{lang}"),
                     "speech": write_layers(tmp_path / lang / "speech", ids, speech, f"speech_{lang}")}
    return out


def test_the_shared_dimension_is_the_smallest_keeping_every_set_at_the_variance(views, tmp_path):
    out = tmp_path / "dims.parquet"
    frame = shared_dimensions_stage("toy", views, SETTINGS, out)
    read, settings = read_dimensions(out)
    pd.testing.assert_frame_equal(read, frame)
    assert settings == {"variance": 0.9, "variance_convention": "singular_values", "n": None, "pairs": {}}
    text = frame[frame.modality == "text"].set_index("layer")
    assert list(text.index) == ["embeddings", "layer_01"]
    assert text.dim.to_dict() == HAND
    assert text.own_min.to_dict() == {"embeddings": 3, "layer_01": 1}
    # at the shared dimension the tightest set (bb's embeddings) keeps 9.5 / 10.5 of its weight
    assert text.kept_min["embeddings"] == pytest.approx(9.5 / 10.5, abs=1e-5)
    assert text.kept_min["layer_01"] == pytest.approx(1.0, abs=1e-6)
    assert (text.sets == 3).all() and (text.n_min == N).all()  # one set per language: every pair holds all ids
    speech = frame[frame.modality == "speech"]
    assert list(speech.layer) == ["embeddings", "layer_01", "adaptor"]
    # the same under the true-variance convention is another hand computation: s² shares
    squared = shared_dimensions_stage("toy", views, {**SETTINGS, "variance_convention": "squared"},
                                      tmp_path / "sq.parquet").set_index(["modality", "layer"]).dim
    # embeddings: aa 16, 9, 4, .25 → .55 .85 .99 k 3; bb 25, 2.25, 1, 1, 1, 1 → .80 .87 .904 k 3; cc k 4 → 4
    assert squared["text", "embeddings"] == 4


def test_cross_lingual_sets_are_reduced_to_them_and_chance_is_drawn_there(views, tmp_path):
    dims_file = tmp_path / "dims.parquet"
    shared_dimensions_stage("toy", views, SETTINGS, dims_file)
    shared = similarity_stage("toy", "cross_lingual_text", views, RESOURCE, SETTINGS, tmp_path / "t.parquet",
                                 dimensions=str(dims_file))
    for layer, dim in HAND.items():
        rows = shared[shared.layer_a == layer]
        assert set(rows.reduced_a) == set(rows.reduced_b) == {dim}
        # the chance level of the same n at the shared dimensions
        x = np.random.default_rng(1).standard_normal((N, D))
        expected = {r["method"]: r["chance"] for r in compare(x, x, SimilaritySettings.from_dict(SETTINGS),
                                                              dims=(dim, dim))}
        for method, chance in zip(rows.method, rows.chance):
            assert chance == pytest.approx(expected[method])
    computed_here = similarity_stage("toy", "cross_lingual_text", views, RESOURCE, SETTINGS, tmp_path / "c.parquet")
    pd.testing.assert_series_equal(computed_here.score, shared.score)
    per_set = similarity_stage("toy", "cross_lingual_text", views, RESOURCE,
                                  {**SETTINGS, "cross_lingual_dimensions": "per_set"}, tmp_path / "p.parquet")
    own = per_set[(per_set.layer_a == "embeddings") & (per_set.language_a == "aa") & (per_set.language_b == "cc")]
    assert set(zip(own.reduced_a, own.reduced_b)) == {(3, 4)}
    # speech-text: the speech side at the speech dimensions, the adaptor's text partner at layer_01's
    speech_text = similarity_stage("toy", "cross_lingual_speech_text", views, RESOURCE, SETTINGS,
                                      tmp_path / "st.parquet", dimensions=str(dims_file))
    dims = read_dimensions(dims_file)[0].set_index(["modality", "layer"]).dim
    adaptor = speech_text[speech_text.layer_a == "adaptor"]
    assert set(adaptor.layer_b) == {"layer_01"} and set(adaptor.reduced_b) == {HAND["layer_01"]}
    assert set(adaptor.reduced_a) == {dims["speech", "adaptor"]}
    # cross-modal sets keep their own dimensions (thesis §3.1)
    modal = similarity_stage("toy", "cross_modal", views, RESOURCE, SETTINGS, tmp_path / "m.parquet",
                                dimensions=str(dims_file))
    assert set(modal[(modal.layer_a == "embeddings") & (modal.language_a == "aa")].reduced_b) == {3}


def test_a_stale_or_incomplete_dimensions_file_is_refused(views, tmp_path):
    dims_file = tmp_path / "dims.parquet"
    assert main(["shared-dimensions", "--encoder", "toy", "--views", json.dumps(views), "--settings",
                 json.dumps({**SETTINGS, "variance": 0.8}), "--out", str(dims_file)]) == 0
    out = tmp_path / "t.parquet"
    with pytest.raises(FlipInputError, match=r"dims.parquet: computed with other settings \(variance 0.8; now "
                                             r"variance 0.9\): rerun its job"):
        similarity_stage("toy", "cross_lingual_text", views, RESOURCE, SETTINGS, out, dimensions=str(dims_file))
    text_only = {lang: {"text": paths["text"]} for lang, paths in views.items()}
    shared_dimensions_stage("toy", text_only, SETTINGS, dims_file)
    with pytest.raises(FlipInputError, match=r"no dimension for speech 'embeddings'"):
        similarity_stage("toy", "cross_lingual_speech", views, RESOURCE, SETTINGS, out, dimensions=str(dims_file))
    assert not out.exists()
