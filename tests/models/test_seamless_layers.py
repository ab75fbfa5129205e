"""SeamlessM4T v2's text and speech encoders layer by layer: the real transformers classes
from a tiny config with random weights, saved and loaded as a checkpoint folder; espeak-ng speech."""

import numpy as np
import pytest
import torch
from helpers.layers import tiny_seamless_folder
from helpers.sonar import SENTENCES, spoken_clips, train_standin_tokenizer

from flip_pipeline.errors import FlipInputError
from flip_pipeline.models import build_layer_encoder
from flip_pipeline.models.audio.features import load_audio

TEXT = ["embeddings", "layer_01", "layer_02"]
SPEECH = ["embeddings", "layer_01", "layer_02", "layer_03", "adaptor"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory, tatoeba_dir):
    spm = tmp_path_factory.mktemp("spm")
    lines = []
    for side in ("eng", "deu"):
        lines += (tatoeba_dir / f"tatoeba.deu-eng.{side}").read_text(encoding="utf-8").splitlines()[:200]
    train_standin_tokenizer(spm, lines, vocab_size=500)
    return tiny_seamless_folder(tmp_path_factory.mktemp("seamless"), spm / "standin.model")


@pytest.fixture(scope="module")
def seamless(folder):
    return build_layer_encoder("m4t", {"family": "seamless_m4t", "model": str(folder), "batch_size": 4,
                                       "speech_batch_size": 4})


@pytest.fixture(scope="module")
def wavs(tmp_path_factory) -> list[str]:
    return spoken_clips(tmp_path_factory.mktemp("wav"), SENTENCES[:4])


def test_text_layers_equal_the_models_hidden_states(seamless, folder):
    from transformers import AutoTokenizer, SeamlessM4Tv2ForTextToText

    assert seamless.layer_names("text_en") == TEXT and seamless.layer_names("text_de") == TEXT
    batch = seamless.encode_layers(list("abcdef"), SENTENCES, "text_en", TEXT)
    assert {k: v.shape for k, v in batch.items()} == {name: (6, 32) for name in TEXT}
    assert [seamless.layer_norm("text_en", name) for name in TEXT] == ["before", "before", "after"]
    tokenizer = AutoTokenizer.from_pretrained(folder, src_lang="eng")
    encoder = SeamlessM4Tv2ForTextToText.from_pretrained(folder).text_encoder.eval()
    for row in (1, 3):  # each alone, unpadded: the same as in the padded batch
        with torch.no_grad():
            tokens = tokenizer(SENTENCES[row], return_tensors="pt", padding=False)  # it pads to even lengths by default
            hidden = encoder(**tokens, output_hidden_states=True).hidden_states
        for index, name in enumerate(TEXT):
            np.testing.assert_allclose(batch[name][row], hidden[index][0].mean(0).numpy(), atol=1e-5, rtol=0)
    german = seamless.encode_layers(["a"], SENTENCES[:1], "text_de", ["layer_02"])["layer_02"]
    assert np.abs(german[0] - batch["layer_02"][0]).max() > 1e-4  # the language token is read


def test_speech_layers_incl_the_adaptor_from_espeak_audio(seamless, folder, wavs):
    from transformers import SeamlessM4TFeatureExtractor, SeamlessM4Tv2ForSpeechToText

    assert seamless.layer_names("speech_en") == SPEECH
    assert seamless.layer_norm("speech_en", "adaptor") == "after"
    batch = seamless.encode_layers(list("abcd"), wavs, "speech_en", SPEECH)
    assert {k: v.shape for k, v in batch.items()} == {name: (4, 32) for name in SPEECH}
    assert all(np.isfinite(v).all() for v in batch.values())
    extract = SeamlessM4TFeatureExtractor.from_pretrained(folder)
    encoder = SeamlessM4Tv2ForSpeechToText.from_pretrained(folder).speech_encoder.eval()
    for row in range(4):  # each clip alone through the model's own forward, unpadded
        # unpadded (it pads to an even frame count by default; the pair holding the pad is masked out)
        features = extract(load_audio(wavs[row]), sampling_rate=16000, return_tensors="pt", pad_to_multiple_of=None)
        assert bool(features["attention_mask"].all())
        with torch.no_grad():
            out = encoder(**features, output_hidden_states=True)
        expected = [h[0].mean(0) for h in out.hidden_states] + [out.last_hidden_state[0].mean(0)]
        for name, vector in zip(SPEECH, expected, strict=True):
            np.testing.assert_allclose(batch[name][row], vector.numpy(), atol=1e-4, rtol=0, err_msg=name)
    assert out.last_hidden_state.shape[1] < out.hidden_states[-1].shape[1]  # the adaptor shortens the sequence


def test_bad_input_is_named(seamless, wavs, tmp_path):
    with pytest.raises(FlipInputError,
                       match=r"SeamlessM4T v2 has no language code for 'xx' \(view text_xx\).*encoders\.m4t\.languages"):
        seamless.layer_names("text_xx")
    with pytest.raises(FlipInputError, match=r"tokenizer .* has no language 'fra'"):
        seamless.encode_layers(["a"], ["Bonjour."], "text_fr", ["layer_01"])
    missing = str(tmp_path / "missing.wav")
    with pytest.raises(FlipInputError, match=rf"view 'speech_en': 1 rows with bad audio.*b: {missing}: file not found"):
        seamless.encode_layers(["a", "b"], [wavs[0], missing], "speech_en", ["layer_01"])
    with pytest.raises(FlipInputError, match="family seamless_m4t gives per-layer representations"):
        from flip_pipeline.models import build_encoder

        build_encoder("m4t", {"family": "seamless_m4t"})
