"""The similarity stage on tiny layer folders: selections, layer pairing, output, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flip_pipeline.atomic import write_json
from flip_pipeline.cli import main
from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.paths import MANIFEST, layer_dir, layers_dir
from flip_pipeline.formats.shards import shard_name, write_manifest, write_shard
from flip_pipeline.formats.similarity_scores import COLUMNS, read_scores, read_settings
from flip_pipeline.report.thesis_results import per_layer
from flip_pipeline.similarity.sets import layer_pairs
from flip_pipeline.stages.similarity import similarity_stage

SETTINGS = {"chance_draws": 2, "permutations": 4, "bootstrap": 0, "min_ratio": 0, "methods": ["svcca", "linear_cka"]}
RESOURCE = {"deu": "high", "nld": "high", "swh": "low"}
TEXT_LAYERS = ["embeddings", "layer_01", "layer_02"]
SPEECH_LAYERS = [*TEXT_LAYERS, "adaptor"]


def write_layers(results: Path, language: str, modality: str, ids: list[str], layers: dict[str, np.ndarray]) -> str:
    """One view's layer folders as the layers stage writes them: shards + manifest per layer,
    then the view's ``_SUCCESS`` listing the layers."""
    view = f"{modality}_{language}"
    for layer, x in layers.items():
        folder = Path(layer_dir(results, "toy", "fleurs", "test", view, layer))
        meta = {"encoder": "toy", "view": view, "dim": x.shape[1], "layer": layer}
        write_shard(folder / shard_name(0), ids, x.astype(np.float32), meta)
        write_manifest(folder, [(shard_name(0), len(ids))], {**meta, "dtype": "float32"})
    path = layers_dir(results, "toy", "fleurs", "test", view)
    write_json(Path(path) / MANIFEST, {"layers": list(layers)})
    return path


@pytest.fixture
def views(tmp_path) -> dict[str, dict[str, str]]:
    """Three languages sharing a latent per sentence id; each misses a few ids; speech has an adaptor."""
    rng = np.random.default_rng(0)
    latent = rng.standard_normal((40, 3))
    out = {}
    for language, missing in (("deu", {3}), ("nld", {5, 6, 7}), ("swh", {0, 1})):
        keep = [i for i in range(40) if i not in missing]
        ids = [f"{i:05d}" for i in keep]
        out[language] = {}
        for modality, layers in (("text", TEXT_LAYERS), ("speech", SPEECH_LAYERS)):
            sets = {layer: latent[keep] @ rng.standard_normal((3, 5)) + 0.3 * rng.standard_normal((len(keep), 5))
                    for layer in layers}
            out[language][modality] = write_layers(tmp_path / "results", language, modality, ids, sets)
    return out


def test_cross_modal_pairs_layers_truncates_to_the_smallest_and_records_settings(views, tmp_path):
    out = tmp_path / "cross_modal.parquet"
    frame = similarity_stage("toy", "cross_modal", views, RESOURCE, SETTINGS, out)
    assert list(frame.columns) == list(COLUMNS) and pd.read_parquet(out).equals(frame)
    pairs = list(dict.fromkeys(zip(frame.layer_a, frame.layer_b)))
    assert pairs == [("embeddings", "embeddings"), ("layer_01", "layer_01"), ("layer_02", "layer_02"),
                     ("adaptor", "layer_02")]
    assert len(frame) == 3 * 4 * 2 and set(frame.n) == {37}  # nld holds 37 ids: everyone is cut to 37
    assert (frame.modality_a == "speech").all() and (frame.language_a == frame.language_b).all()
    assert set(frame.resource_a) == {"high", "low"}
    svcca = frame[frame.method == "svcca"]
    assert (svcca.score > svcca.chance + 0.2).all() and (svcca.score > svcca.null_p95).all()
    assert frame.ci_low.isna().all()  # bootstrap 0
    recorded = read_settings(out)
    assert recorded["permutations"] == 4 and recorded["variance_convention"] == "singular_values"
    frame.to_parquet(tmp_path / "again.parquet")
    means = per_layer(read_scores([str(tmp_path / "again.parquet")]), by=("resource_a",))
    assert set(means.cells) == {1, 2} and len(means) == 4 * 2 * 2
    assert list(means[(means.method == "svcca") & (means.resource_a == "high")].layer) == [
        "embeddings", "layer_01", "layer_02", "adaptor/layer_02"]


def test_cross_lingual_selections(views, tmp_path):
    text = similarity_stage("toy", "cross_lingual_text", views, RESOURCE, SETTINGS, tmp_path / "t.parquet")
    cells = set(zip(text.language_a, text.language_b))
    assert cells == {("deu", "nld"), ("deu", "swh"), ("nld", "swh")} and set(text.layer_a) == set(TEXT_LAYERS)
    # the smallest intersection: nld ∩ swh misses 0, 1, 5, 6, 7
    assert set(text.n) == {35}
    speech_text = similarity_stage("toy", "cross_lingual_speech_text", views, RESOURCE, SETTINGS,
                                      tmp_path / "st.parquet")
    assert len(set(zip(speech_text.language_a, speech_text.language_b))) == 9
    means = per_layer(read_scores([str(tmp_path / "st.parquet")]))
    assert set(means.cells) == {6}  # 9 cells less the 3 same-language ones


def test_cli_writes_the_same_table(views, tmp_path):
    out = tmp_path / "cli.parquet"
    assert main(["similarity", "--encoder", "toy", "--analysis", "cross_lingual_speech", "--views", json.dumps(views),
                 "--resource", json.dumps(RESOURCE), "--settings", json.dumps(SETTINGS), "--out", str(out)]) == 0
    direct = similarity_stage("toy", "cross_lingual_speech", views, RESOURCE, SETTINGS, tmp_path / "d.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(out), direct)


def test_bad_input_is_named_and_writes_nothing(views, tmp_path):
    out = tmp_path / "bad.parquet"
    rng = np.random.default_rng(1)
    other = write_layers(tmp_path / "other", "fin", "text", ["x1", "x2", "x3", "x4", "x5"],
                         {layer: rng.standard_normal((5, 5)) for layer in TEXT_LAYERS})
    bad = {"deu": views["deu"], "fin": {"text": other}}
    with pytest.raises(FlipInputError, match=r"deu text .* and fin text .* share no sentence ids"):
        similarity_stage("toy", "cross_lingual_text", bad, {**RESOURCE, "fin": "high"}, SETTINGS, out)
    lacking = write_layers(tmp_path / "lacking", "deu", "speech", [f"{i:05d}" for i in range(40)],
                           {layer: rng.standard_normal((40, 5)) for layer in ["embeddings", "layer_01"]})
    with pytest.raises(FlipInputError, match=r"layer 'layer_02' is missing on one side: deu text"):
        similarity_stage("toy", "cross_modal", {"deu": {**views["deu"], "speech": lacking}}, RESOURCE, SETTINGS,
                            out)
    with pytest.raises(FlipInputError, match=r"layer 'layer_02' is missing on one side: nld speech .* has layers embeddings, layer_01, deu speech"):
        similarity_stage("toy", "cross_lingual_speech", {"deu": views["deu"], "nld": {"speech": lacking}},
                            RESOURCE, SETTINGS, out)
    with pytest.raises(FlipInputError, match="not more than its reduced dimension"):
        similarity_stage("toy", "cross_modal", views, RESOURCE, {**SETTINGS, "n": 5, "variance": 1.0}, out)
    with pytest.raises(FlipInputError, match="resource_levels: no resource level for language 'swh'"):
        similarity_stage("toy", "cross_modal", views, {"deu": "high", "nld": "high"}, SETTINGS, out)
    with pytest.raises(FlipInputError, match=r"views\.deu: no 'speech' view"):
        similarity_stage("toy", "cross_modal", {"deu": {"text": views["deu"]["text"]}}, RESOURCE, SETTINGS, out)
    Path(views["swh"]["text"], MANIFEST).unlink()
    with pytest.raises(FlipInputError, match=r"text_swh/_SUCCESS: missing; the layers stage has not finished"):
        similarity_stage("toy", "cross_modal", views, RESOURCE, SETTINGS, out)
    assert not out.exists() and not list(tmp_path.glob(".bad.parquet*"))


def test_layer_pairs_rules():
    # SALMONN-like: the speech encoder output before the Q-Former meets the text embeddings (settings.pairs)
    assert layer_pairs(["encoder", "embeddings", "layer_01"], ["embeddings", "layer_01"], {"encoder": "embeddings"},
                       "speech", "text") == [("encoder", "embeddings"), ("embeddings", "embeddings"),
                                             ("layer_01", "layer_01")]
    assert layer_pairs(["speech_encoder", "embeddings"], ["embeddings"], {}, "speech", "text") == \
        [("speech_encoder", "embeddings"), ("embeddings", "embeddings")]  # SALMONN's default (Figure A.21)
    assert layer_pairs(["layer_09", "layer_10", "adaptor"], ["layer_09", "layer_10"], {}, "s", "t")[-1] == \
        ("adaptor", "layer_10")
    with pytest.raises(FlipInputError, match="layer 'pooled' is missing on one side: t has it, s has layers layer_01"):
        layer_pairs(["layer_01"], ["layer_01", "pooled"], {}, "s", "t")
