"""The assembled SALMONN on a tiny random configuration of the same architecture: the
position split of one batched forward pass against each sentence run alone through an
independently loaded Llama with the LoRA factors applied (not merged), pooled by hand."""

import numpy as np
import pytest
import torch

from flip_pipeline.errors import FlipInputError
from flip_pipeline.models.salmonn.model import (
    PROMPT,
    audio_inputs,
    load_salmonn,
    prompt_parts,
    sequence_layout,
)

TEXTS = ["Tom is here.", "The old farmer buys three red apples at the market every Monday morning.", "Cats sleep."]
LAYERS = [0, 1, 2, 3]


@pytest.fixture(scope="module")
def files(salmonn_files):
    return salmonn_files


@pytest.fixture(scope="module")
def loaded(files):
    return load_salmonn(files["checkpoint"], files["beats"], files["whisper"], files["llm"], qformer_heads=4)


def _waves():
    rng = np.random.default_rng(0)
    return [rng.uniform(-0.2, 0.2, n).astype(np.float32) for n in (16000 * 2 + 999, 9000, 16000 * 4)]


def _run(model, tokenizer, extractor, waves, texts):
    features, tensors = audio_inputs(extractor, waves)
    before, after = prompt_parts(tokenizer, PROMPT)
    ids = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
    layout = sequence_layout(tokenizer.bos_token_id, before, after, 88, ids)
    with torch.no_grad():
        return model(features, tensors, layout, LAYERS), layout


def _lora_llama(files):
    """The tiny Llama as saved, with SALMONN's LoRA applied as peft does: y + alpha/r * B(A(x))."""
    from safetensors.torch import load_file
    from transformers import LlamaForCausalLM

    llm = LlamaForCausalLM.from_pretrained(files["llm"]).model.eval()
    tensors = load_file(files["checkpoint"])
    for i, layer in enumerate(llm.layers):
        for name in ("q_proj", "v_proj"):
            key = f"model.llama_model.base_model.model.model.layers.{i}.self_attn.{name}.lora_"
            a, b = tensors[key + "A.default.weight"], tensors[key + "B.default.weight"]

            def hook(module, args, output, a=a, b=b):
                return output + 32 / a.shape[0] * (args[0] @ a.T @ b.T)

            getattr(layer.self_attn, name).register_forward_hook(hook)
    return llm


def test_the_position_split_equals_each_sentence_alone_pooled_by_hand(loaded, files):
    model, tokenizer, extractor = loaded
    waves = _waves()
    (speech, text), layout = _run(model, tokenizer, extractor, waves, TEXTS)
    assert {k: v.shape for k, v in speech.items()} == {**{i: (3, 64) for i in LAYERS}, "speech_encoder": (3, 48)}
    assert {k: v.shape for k, v in text.items()} == {i: (3, 64) for i in LAYERS}
    assert layout.speech.sum(1).tolist() == [88] * 3  # 1500 frames // 17 windows, one query each
    llm = _lora_llama(files)
    before, after = prompt_parts(tokenizer, PROMPT)
    assert tokenizer.decode(before).strip() == "USER: <Speech>" and tokenizer.decode(after).endswith("ASSISTANT:")
    for row, (wave, sentence) in enumerate(zip(waves, TEXTS, strict=True)):
        features, tensors = audio_inputs(extractor, [wave])
        with torch.no_grad():
            frames = model.speech_frames(features, tensors)
            audio = model.qformer(frames)
            ids = tokenizer(sentence, add_special_tokens=False)["input_ids"]
            embed = llm.get_input_embeddings()
            parts = [embed(torch.tensor([[1] + before])), audio, embed(torch.tensor([after + ids]))]
            hidden = llm(inputs_embeds=torch.cat(parts, dim=1), output_hidden_states=True).hidden_states
        start, stop = 1 + len(before), 1 + len(before) + 88
        for i in LAYERS:
            torch.testing.assert_close(speech[i][row], hidden[i][0, start:stop].mean(0), atol=2e-5, rtol=1e-4)
            torch.testing.assert_close(text[i][row], hidden[i][0, stop + len(after):].mean(0), atol=2e-5, rtol=1e-4)
        torch.testing.assert_close(speech["speech_encoder"][row], frames[0].mean(0), atol=1e-5, rtol=1e-5)
        assert frames.shape == (1, 1500, 48) and audio.shape == (1, 88, 64)
    assert not torch.allclose(text[3][0], speech[3][0])


def test_padding_in_a_batch_does_not_change_a_row(loaded):
    model, tokenizer, extractor = loaded
    waves = _waves()
    (speech, text), _ = _run(model, tokenizer, extractor, waves, TEXTS)
    (speech_1, text_1), _ = _run(model, tokenizer, extractor, waves[2:], TEXTS[2:])
    for i in LAYERS:
        torch.testing.assert_close(speech[i][2:], speech_1[i], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(text[i][2:], text_1[i], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(speech["speech_encoder"][2:], speech_1["speech_encoder"], atol=1e-6, rtol=1e-6)


def test_bad_weights_are_named(files, tmp_path):
    with pytest.raises(FlipInputError,
                       match=r"enc\.checkpoint: converted weight file .*missing\.safetensors not found"):
        load_salmonn(str(tmp_path / "missing.safetensors"), files["beats"], files["whisper"], files["llm"], what="enc")
    with pytest.raises(FlipInputError, match=r"enc\.checkpoint: .*beats\.safetensors is not a SALMONN checkpoint"):
        load_salmonn(files["beats"], files["beats"], files["whisper"], files["llm"], what="enc")
