"""The assembled SALMONN and its one forward pass per batch (bytedance/SALMONN ``models/salmonn.py``).

Audio: SALMONN pads a clip to at least 1 s; Whisper's feature extractor pads it to 30 s
(3000 log-mel frames) and the Whisper encoder (transformers' ``WhisperEncoder``) gives 1500
frames, normalised by ``ln_speech``; BEATs (:mod:`.beats`) reads the clip itself, its frames
normalised by ``ln_audio`` and zero-padded at the end to Whisper's length; the two are
concatenated per frame (1280 + 768 = 2048) and read by the window-level Q-Former
(:mod:`.window_qformer`): 88 audio tokens of the LLM width per clip, whatever its length.

One sequence per sentence, as SALMONN trains on it (``forward``: BOS, the prompt template
around ``<SpeechHere>``, then the target text)::

    <s> | USER: <Speech> | 88 audio tokens | </Speech> {instruction}\\nASSISTANT: | transcription | padding

Prompt parts and the transcription are tokenised separately without special tokens (as
SALMONN does); no end symbol follows the transcription. The decoder (transformers'
``LlamaModel``, Vicuna-7B v1.5, with SALMONN's LoRA merged into its weights at load) runs once
with ``output_hidden_states``; ``hidden_states[0]`` is the input embeddings, ``hidden_states[i]``
the output of layer ``i`` (the last one after the final RMS norm). Each is split by position:
the audio tokens are the *speech part*, the transcription's tokens the *text part* (the
prompt's tokens are in neither), each mean-pooled. Padding follows the transcription
(right-padded) and the decoder is causal, so a row's positions never see another row's.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Sequence

import torch
from torch import nn

from flip_pipeline.errors import FlipInputError
from flip_pipeline.models.layer_encoder import lengths_mask, masked_mean
from flip_pipeline.models.salmonn.beats import BeatsEncoder, load_beats
from flip_pipeline.models.salmonn.checkpoint import load_converted
from flip_pipeline.models.salmonn.window_qformer import WindowQFormer, qformer_state, window_frames

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
SPEECH_HERE = "<SpeechHere>"
#: SALMONN's ``prompt_template`` and its ``asr`` test prompt (configs/decode_config.yaml, prompts/test_prompt.json).
PROMPT_TEMPLATE = "USER: {}\nASSISTANT:"
PROMPT = "<Speech><SpeechHere></Speech> Recognize the speech and give me the transcription."
LORA = re.compile(r"model\.llama_model\.base_model\.model\.model\.(.+)\.lora_([AB])(?:\.default)?\.weight")
ENCODER_OUTPUT = "speech_encoder"


@dataclasses.dataclass(frozen=True)
class Layout:
    """Where each part of a batch's sequences is: ``(n, L)`` masks of the speech part, the text
    part and the real (unpadded) positions, and the token ids (0 at audio positions)."""

    ids: torch.Tensor
    attention: torch.Tensor
    speech: torch.Tensor
    text: torch.Tensor
    audio_start: int
    audio_tokens: int


def audio_inputs(extractor, waves: Sequence) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Whisper's log-mel features ``(n, mels, 3000)`` and the waves as tensors, each 16 kHz wave
    zero-padded to at least 1 s first, as SALMONN prepares a clip."""
    import numpy as np

    padded = [np.pad(np.asarray(w, dtype=np.float32), (0, max(0, SAMPLE_RATE - len(w)))) for w in waves]
    features = extractor(padded, sampling_rate=SAMPLE_RATE, return_tensors="pt")["input_features"]
    return features, [torch.from_numpy(w) for w in padded]


def prompt_parts(tokenizer, prompt: str, template: str = PROMPT_TEMPLATE) -> tuple[list[int], list[int]]:
    """Token ids before and after the audio in ``template.format(prompt)`` (no special tokens)."""
    full = template.format(prompt)
    if full.count(SPEECH_HERE) != 1:
        raise FlipInputError(f"the SALMONN prompt must hold {SPEECH_HERE} once, not in {full!r}")
    before, after = full.split(SPEECH_HERE)
    return (tokenizer(before, add_special_tokens=False)["input_ids"],
            tokenizer(after, add_special_tokens=False)["input_ids"])


def sequence_layout(bos: int, before: Sequence[int], after: Sequence[int], audio_tokens: int,
                    texts: Sequence[Sequence[int]]) -> Layout:
    """The right-padded layout of ``<s> before [audio] after text`` for each text's token ids."""
    audio_start = 1 + len(before)
    text_start = audio_start + audio_tokens + len(after)
    lengths = torch.tensor([text_start + len(t) for t in texts])
    width = int(lengths.max())
    ids = torch.zeros(len(texts), width, dtype=torch.long)
    ids[:, 0] = bos
    ids[:, 1:audio_start] = torch.tensor(list(before), dtype=torch.long)
    ids[:, audio_start + audio_tokens:text_start] = torch.tensor(list(after), dtype=torch.long)
    for row, tokens in enumerate(texts):
        ids[row, text_start:text_start + len(tokens)] = torch.tensor(list(tokens), dtype=torch.long)
    attention = lengths_mask(lengths, width)
    positions = torch.arange(width)
    speech = ((positions >= audio_start) & (positions < audio_start + audio_tokens)).expand(len(texts), -1)
    text = attention & (positions >= text_start)
    return Layout(ids, attention, speech.clone(), text, audio_start, audio_tokens)


class Salmonn(nn.Module):
    """Whisper encoder + BEATs → window Q-Former → Llama decoder; see the module.

    Args:
        whisper: transformers' ``WhisperEncoder``.
        beats: :class:`~flip_pipeline.models.salmonn.beats.BeatsEncoder`.
        qformer: :class:`~flip_pipeline.models.salmonn.window_qformer.WindowQFormer`.
        llm: transformers' ``LlamaModel`` (LoRA merged).
    """

    def __init__(self, whisper: nn.Module, beats: BeatsEncoder, qformer: WindowQFormer, llm: nn.Module):
        super().__init__()
        self.whisper, self.beats, self.qformer, self.llm = whisper, beats, qformer, llm
        self.ln_speech = nn.LayerNorm(whisper.config.d_model)
        self.ln_audio = nn.LayerNorm(beats.cfg.encoder_embed_dim)

    def audio_tokens(self) -> int:
        """Audio tokens per clip: the Q-Former's windows over Whisper's frames (88 at full size) × its queries."""
        return self.qformer.windows(self.whisper.config.max_source_positions) * self.qformer.query_tokens.shape[1]

    def speech_frames(self, features: torch.Tensor, waves: Sequence[torch.Tensor]) -> torch.Tensor:
        """Whisper's log-mel ``features`` ``(n, mels, 3000)`` and the 16 kHz waves → the
        Q-Former's input ``(n, T, whisper + beats width)``, zero where BEATs has no frame."""
        speech = self.ln_speech(self.whisper(features).last_hidden_state)
        audio = torch.zeros(*speech.shape[:2], self.beats.cfg.encoder_embed_dim, dtype=speech.dtype,
                            device=speech.device)
        for row, wave in enumerate(waves):
            frames = self.ln_audio(self.beats(wave.to(speech.device)))
            if frames.shape[0] > speech.shape[1]:
                raise FlipInputError(f"a clip gives {frames.shape[0]} BEATs frames, more than Whisper's "
                                     f"{speech.shape[1]}: it is longer than Whisper's 30 s window")
            audio[row, : frames.shape[0]] = frames
        return torch.cat([speech, audio], dim=-1)

    def forward(self, features: torch.Tensor, waves: Sequence[torch.Tensor], layout: Layout,
                layers: Sequence[int]) -> tuple[dict, dict]:
        """``({layer: (n, d)} of the speech part, {layer: (n, d)} of the text part)``, float32.

        ``layers`` are ``hidden_states`` indices (0: the decoder's input embeddings); the speech
        part also has ``speech_encoder``, the Q-Former's input pooled over its frames.
        """
        device = features.device
        frames = self.speech_frames(features, waves)
        audio = self.qformer(frames)
        if audio.shape[1] != layout.audio_tokens:
            raise ValueError(f"layout made for {layout.audio_tokens} audio tokens, the Q-Former gave {audio.shape[1]}")
        embeds = self.llm.get_input_embeddings()(layout.ids.to(device))
        start = layout.audio_start
        embeds = torch.cat([embeds[:, :start], audio.to(embeds.dtype), embeds[:, start + audio.shape[1]:]], dim=1)
        hidden = self.llm(inputs_embeds=embeds, attention_mask=layout.attention.to(device).long(),
                          output_hidden_states=True).hidden_states
        speech = {i: masked_mean(hidden[i], layout.speech) for i in layers}
        speech[ENCODER_OUTPUT] = frames.float().mean(dim=1)
        return speech, {i: masked_mean(hidden[i], layout.text) for i in layers}


def merge_lora(llm: nn.Module, tensors: dict[str, torch.Tensor], alpha: float, what: str) -> list[str]:
    """Add ``alpha / r * B @ A`` to the weight of every module SALMONN's checkpoint has LoRA
    factors for (peft's names, ``….lora_A[.default].weight``); the merged module paths."""
    factors: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        match = LORA.fullmatch(key)
        if match:
            factors.setdefault(match.group(1), {})[match.group(2)] = value
    if not factors:
        raise FlipInputError(f"{what}: holds no LoRA factors of the LLM (model.llama_model.….lora_A/B)")
    for path, pair in factors.items():
        if set(pair) != {"A", "B"}:
            raise FlipInputError(f"{what}: LoRA of {path} has only lora_{''.join(pair)}")
        try:
            module = llm.get_submodule(path)
        except AttributeError:
            raise FlipInputError(f"{what}: LoRA for {path}, which the LLM does not have") from None
        delta = (alpha / pair["A"].shape[0]) * (pair["B"].float() @ pair["A"].float())
        with torch.no_grad():
            module.weight.copy_((module.weight.float() + delta.to(module.weight.device)).to(module.weight.dtype))
    return sorted(factors)


def _take(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {key[len(prefix):]: value for key, value in tensors.items() if key.startswith(prefix)}


def build_window_qformer(tensors: dict[str, torch.Tensor], heads: int, llm_width: int, window: int,
                         stride: int, what: str) -> WindowQFormer:
    """The window Q-Former of SALMONN's checkpoint, its sizes read from the weights
    (``heads`` is not in them: BERT-base's 12 in SALMONN)."""
    from transformers import Blip2QFormerConfig, Blip2QFormerModel

    state = qformer_state(_take(tensors, "model.speech_Qformer."))
    if "model.speech_query_tokens" not in tensors or not state:
        raise FlipInputError(f"{what}: not a SALMONN checkpoint (no speech_Qformer, speech_query_tokens)")
    queries = tensors["model.speech_query_tokens"]
    layers = {int(k.split(".")[2]) for k in state if k.startswith("encoder.layer.")}
    layer0 = "encoder.layer.0."
    config = Blip2QFormerConfig(hidden_size=queries.shape[-1], num_hidden_layers=len(layers), num_attention_heads=heads,
                                intermediate_size=state[layer0 + "intermediate_query.dense.weight"].shape[0],
                                encoder_hidden_size=state[layer0 + "crossattention.attention.key.weight"].shape[1],
                                cross_attention_frequency=1, use_qformer_text_input=False)
    module = WindowQFormer(Blip2QFormerModel(config), queries.shape[1], llm_width, window, stride)
    full = {f"qformer.{k}": v for k, v in state.items()} | {"query_tokens": queries} | {
        f"proj.{k}": v for k, v in _take(tensors, "model.speech_llama_proj.").items()}
    result = module.load_state_dict(full, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise FlipInputError(f"{what}: SALMONN Q-Former weights do not fit: missing {result.missing_keys[:3]}, "
                             f"unexpected {result.unexpected_keys[:3]}")
    return module


def load_salmonn(checkpoint: str, beats: str, whisper: str, llm: str, dtype: torch.dtype = torch.float32,
                 device: str | torch.device = "cpu", qformer_heads: int = 12, lora_alpha: float = 32.0,
                 second_per_window: float = 0.333333, second_stride: float = 0.333333, revision: str | None = None,
                 what: str = "encoders.salmonn"):
    """``(Salmonn, llama tokenizer, whisper feature extractor)``, eval mode, weights in ``dtype``.

    Args:
        checkpoint: SALMONN's checkpoint converted to safetensors (``flip convert-weights``).
        beats: BEATs' checkpoint converted to safetensors.
        whisper, llm: hub ids or folders of the Whisper model and of the Llama (Vicuna) decoder.
        qformer_heads, lora_alpha: what SALMONN's code sets and its weights do not hold (12, 32).
        second_per_window, second_stride: the Q-Former's window (SALMONN's 0.333333 s each).
        device: where the model runs; each part moves there as it loads, so that the host holds
            at most the decoder at once (Vicuna-7B in bf16: about 14 GB).
        what: the config entry, for errors.
    """
    from transformers import LlamaModel, LlamaTokenizer, WhisperFeatureExtractor, WhisperModel

    tensors, _ = load_converted(checkpoint, f"{what}.checkpoint")
    if "model.speech_query_tokens" not in tensors:  # before the large models load
        raise FlipInputError(f"{what}.checkpoint: {checkpoint} is not a SALMONN checkpoint (no speech_query_tokens)")
    beats_model = load_beats(*load_converted(beats, f"{what}.beats"), what=f"{what}.beats").to(device, dtype)
    whisper_full = WhisperModel.from_pretrained(whisper, revision=revision, dtype=dtype)
    whisper_encoder = whisper_full.encoder.to(device)
    del whisper_full  # the decoder is not used
    frames_per_30s = whisper_encoder.config.max_source_positions
    window, stride = window_frames(second_per_window, second_stride, frames_per_30s)
    decoder = LlamaModel.from_pretrained(llm, revision=revision, dtype=dtype)
    merged = merge_lora(decoder, tensors, lora_alpha, f"{what}.checkpoint")
    decoder = decoder.to(device)
    log.info("SALMONN: LoRA merged into %d modules (alpha %s), e.g. %s", len(merged), lora_alpha, merged[:2])
    qformer = build_window_qformer(tensors, qformer_heads, decoder.config.hidden_size, window, stride,
                                   f"{what}.checkpoint")
    model = Salmonn(whisper_encoder, beats_model, qformer, decoder)
    norms = {f"ln_{k}.{p}": tensors[f"model.ln_{k}.{p}"] for k in ("speech", "audio") for p in ("weight", "bias")
             if f"model.ln_{k}.{p}" in tensors}
    if len(norms) != 4:
        raise FlipInputError(f"{what}.checkpoint: SALMONN's ln_speech / ln_audio weights are missing")
    model.load_state_dict(norms, strict=False)
    tokenizer = LlamaTokenizer.from_pretrained(llm, revision=revision, legacy=True)
    extractor = WhisperFeatureExtractor.from_pretrained(whisper, revision=revision)
    return model.to(device, dtype).eval(), tokenizer, extractor
