"""A transformers encoder layer by layer, on all-MiniLM-L6-v2's real trained weights."""

import numpy as np
import pytest
import torch
from helpers.layers import MINILM, MINILM_TRANSFORMERS
from helpers.sonar import SENTENCES

from flip_pipeline.errors import FlipInputError
from flip_pipeline.models import build_encoder, build_layer_encoder
from flip_pipeline.models.batching import length_sorted_batches

ALL = ["embeddings"] + [f"layer_{i:02d}" for i in range(1, 7)]


@pytest.fixture(scope="module")
def minilm():
    return build_layer_encoder("minilm", {**MINILM, "batch_size": 4})


@pytest.fixture(scope="module")
def layers(minilm):
    ids = [f"r{i}" for i in range(len(SENTENCES))]
    return minilm.encode_layers(ids, SENTENCES, "text_en", ALL)


def test_names_widths_and_layer_norm(minilm, layers):
    assert minilm.layer_names("text_en") == ALL  # input embeddings + 6 BERT layers
    assert {name: block.shape for name, block in layers.items()} == {name: (len(SENTENCES), 384) for name in ALL}
    assert all(block.dtype == np.float32 and np.isfinite(block).all() for block in layers.values())
    assert minilm.layer_norm("text_en", "layer_06") == "none"  # post-LN BERT: no final layer norm


def test_every_layer_equals_a_direct_transformers_computation(minilm, layers):
    from transformers import AutoModel, AutoTokenizer

    tokenizer, model = AutoTokenizer.from_pretrained(minilm.path), AutoModel.from_pretrained(minilm.path).eval()
    for row in (0, 1):
        encoded = tokenizer(SENTENCES[row], return_tensors="pt")
        with torch.no_grad():
            hidden = model(**encoded, output_hidden_states=True).hidden_states
        for index, name in enumerate(ALL):
            np.testing.assert_allclose(layers[name][row], hidden[index][0].mean(dim=0).numpy(), atol=1e-5, rtol=0)


def test_last_layer_is_the_embed_stage_vector_before_its_normalisation(layers):
    embed = build_encoder("minilm", MINILM).encode(["a", "b"], SENTENCES[:2], "text_en")  # mean pool + Normalize
    last = layers["layer_06"][:2]
    np.testing.assert_allclose(last / np.linalg.norm(last, axis=1, keepdims=True), embed, atol=1e-5, rtol=0)


def test_batch_composition_and_padding_do_not_change_a_sentence(minilm, layers):
    alone = minilm.encode_layers(["r3"], [SENTENCES[3]], "text_en", ALL)  # short: padded in the batch above
    for name in ALL:
        np.testing.assert_allclose(alone[name][0], layers[name][3], atol=1e-5, rtol=0)


def test_one_forward_pass_per_batch_for_every_layer(minilm):
    calls = {"model": 0, "first_layer": 0}
    model = minilm._load()[0]
    handles = [model.register_forward_hook(lambda *a: calls.__setitem__("model", calls["model"] + 1)),
               model.encoder.layer[0].register_forward_hook(
                   lambda *a: calls.__setitem__("first_layer", calls["first_layer"] + 1))]
    try:
        minilm.encode_layers([f"r{i}" for i in range(len(SENTENCES))], SENTENCES, "text_en", ALL)
    finally:
        for handle in handles:
            handle.remove()
    lengths = [len(t) for t in minilm.files.tokenizer(SENTENCES)["input_ids"]]
    batches = len(length_sorted_batches(lengths, minilm.batch_size, minilm.max_tokens))
    assert batches == 2 and calls == {"model": batches, "first_layer": batches}


def test_transformers_family_and_bad_input(minilm):
    plain = build_layer_encoder("bert", MINILM_TRANSFORMERS)
    assert plain.layer_names("text_en") == ALL
    with pytest.raises(FlipInputError, match=r"encoder 'minilm' \(sentence_transformers\) encodes text views only, "
                                             r"not 'speech_en'"):
        minilm.layer_names("speech_en")
    with pytest.raises(FlipInputError, match="family transformers gives per-layer representations"):
        build_encoder("bert", MINILM_TRANSFORMERS)  # the embed stage refuses it
