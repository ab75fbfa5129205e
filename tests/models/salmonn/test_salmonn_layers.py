"""SALMONN behind the LayerEncoder protocol: paired views, layer names, input order, bad input."""

import re

import numpy as np
import pytest
import torch
from helpers.sonar import SENTENCES, spoken_clips

from flip_pipeline.errors import FlipInputError
from flip_pipeline.models.salmonn.layers import SalmonnLayers
from flip_pipeline.models.salmonn.model import PROMPT, audio_inputs, prompt_parts, sequence_layout

TEXTS = SENTENCES[:3]
DECODER = ["embeddings", "layer_01", "layer_02", "layer_03"]


@pytest.fixture(scope="module")
def salmonn(salmonn_files):
    return SalmonnLayers("sal", **salmonn_files, qformer_heads=4, batch_size=2)


@pytest.fixture(scope="module")
def wavs(tmp_path_factory) -> list[str]:
    return spoken_clips(tmp_path_factory.mktemp("wav"), TEXTS)


def test_both_views_are_the_parts_of_one_forward_pass(salmonn, wavs):
    from flip_pipeline.models.audio.features import load_audio

    assert salmonn.layer_names("speech_en") == ["speech_encoder", *DECODER]
    assert salmonn.layer_names("text_de") == DECODER
    assert salmonn.paired_view("speech_en") == "text_en" and salmonn.paired_view("text_cmn") == "speech_cmn"
    assert [salmonn.layer_norm("text_en", n) for n in DECODER] == ["before"] * 3 + ["after"]
    ids = ["a", "b", "c"]
    speech = salmonn.encode_layers(ids, wavs, "speech_en", ["speech_encoder", "embeddings", "layer_03"], paired=TEXTS)
    text = salmonn.encode_layers(ids, TEXTS, "text_en", DECODER, paired=wavs)
    assert {k: v.shape for k, v in speech.items()} == {"speech_encoder": (3, 48), "embeddings": (3, 64),
                                                      "layer_03": (3, 64)}
    assert {k: v.shape for k, v in text.items()} == {name: (3, 64) for name in DECODER}
    model, tokenizer, extractor, _ = salmonn._model()
    before, after = prompt_parts(tokenizer, PROMPT)
    for row in (0, 2):  # input order is kept across the length-sorted batches of two
        features, waves = audio_inputs(extractor, [load_audio(wavs[row])])
        layout = sequence_layout(1, before, after, 88, [tokenizer(TEXTS[row], add_special_tokens=False)["input_ids"]])
        with torch.no_grad():
            s, t = model(features, waves, layout, [0, 3])
        np.testing.assert_allclose(speech["layer_03"][row], s[3][0].numpy(), atol=1e-5)
        np.testing.assert_allclose(speech["embeddings"][row], s[0][0].numpy(), atol=1e-5)
        np.testing.assert_allclose(speech["speech_encoder"][row], s["speech_encoder"][0].numpy(), atol=1e-5)
        np.testing.assert_allclose(text["layer_03"][row], t[3][0].numpy(), atol=1e-5)
    provenance = salmonn.provenance()
    assert provenance["layer_source"].startswith("one sequence per sentence, 'USER: <Speech><SpeechHere>")
    assert re.fullmatch(r"checkpoint [0-9a-f]{64}, beats [0-9a-f]{64}", provenance["source_sha256"])


def test_bad_input_is_named(salmonn, salmonn_files, wavs, tmp_path):
    with pytest.raises(FlipInputError, match=r"view 'speech_en' needs the 'text_en' column"):
        salmonn.encode_layers(["a"], wavs[:1], "speech_en", ["layer_01"])
    with pytest.raises(FlipInputError, match=r"view 'speech_en': speech clip without its text \(text_en empty\) "
                                             r"in rows b"):
        salmonn.encode_layers(["a", "b"], wavs[:2], "speech_en", ["layer_01"], paired=["Tom is here.", " "])
    with pytest.raises(FlipInputError,
                       match=r"SeamlessM4T v2's languages.*no language code for 'xx' \(view speech_xx\)"):
        salmonn.layer_names("speech_xx")
    missing = str(tmp_path / "gone.wav")
    with pytest.raises(FlipInputError, match=rf"1 rows with bad audio.*b: {missing}: file not found"):
        salmonn.encode_layers(["a", "b"], TEXTS[:2], "text_en", ["layer_01"], paired=[wavs[0], missing])
    with pytest.raises(FlipInputError,
                       match=r"encoders\.s2\.beats: converted weight file .*nope\.safetensors not found"):
        SalmonnLayers("s2", salmonn_files["checkpoint"], str(tmp_path / "nope.safetensors"))
