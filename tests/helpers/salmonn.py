"""Offline stand-ins for the SALMONN tests: random checkpoints with the released files' names and
layout (BEATs' ``{"cfg", "model"}`` ``.pt``, SALMONN's ``{"model": ...}`` ``.pth`` of the Q-Former,
projection, layer norms and LoRA), written with ``torch.save`` and converted like the real ones,
and tiny Whisper and Llama checkpoint folders built offline with transformers' own classes."""

from __future__ import annotations

from pathlib import Path

import torch

from flip_pipeline.models.salmonn.checkpoint import convert_checkpoint

#: A tiny BEATs of the released architecture (post-LN, deep norm, gated relative position bias).
TINY_BEATS_CFG = {"input_patch_size": 16, "embed_dim": 24, "conv_bias": False, "encoder_layers": 2,
                  "encoder_embed_dim": 32, "encoder_ffn_embed_dim": 64, "encoder_attention_heads": 4,
                  "activation_fn": "gelu", "layer_norm_first": False, "deep_norm": True, "conv_pos": 16,
                  "conv_pos_groups": 4, "relative_position_embedding": True, "num_buckets": 32, "max_distance": 64,
                  "gru_rel_pos": True, "dropout": 0.1, "finetuned_model": True, "predictor_class": 5}


def _randn(generator: torch.Generator, *shape: int, scale: float = 0.2) -> torch.Tensor:
    return torch.randn(*shape, generator=generator) * scale


def _norm(generator: torch.Generator, dim: int, prefix: str) -> dict[str, torch.Tensor]:
    return {f"{prefix}.weight": 1 + _randn(generator, dim, scale=0.1),
            f"{prefix}.bias": _randn(generator, dim, scale=0.1)}


def _linear(generator: torch.Generator, out_dim: int, in_dim: int, prefix: str) -> dict[str, torch.Tensor]:
    return {f"{prefix}.weight": _randn(generator, out_dim, in_dim, scale=in_dim**-0.5),
            f"{prefix}.bias": _randn(generator, out_dim, scale=0.05)}


def random_beats_state(cfg: dict, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random weights under BEATs' own parameter names (weight-normed position convolution,
    the relative position table under every layer, the fine-tuned predictor)."""
    g = torch.Generator().manual_seed(seed)
    dim, embed, ffn, heads = (cfg[k] for k in ("encoder_embed_dim", "embed_dim", "encoder_ffn_embed_dim",
                                                 "encoder_attention_heads"))
    patch, kernel, groups = cfg["input_patch_size"], cfg["conv_pos"], cfg["conv_pos_groups"]
    state = {"patch_embedding.weight": _randn(g, embed, 1, patch, patch, scale=1 / patch),
             **_norm(g, embed, "layer_norm"), **_linear(g, dim, embed, "post_extract_proj"),
             "encoder.pos_conv.0.weight_g": 1 + _randn(g, 1, 1, kernel, scale=0.1),
             "encoder.pos_conv.0.weight_v": _randn(g, dim, dim // groups, kernel),
             "encoder.pos_conv.0.bias": _randn(g, dim, scale=0.05), **_norm(g, dim, "encoder.layer_norm"),
             **_linear(g, cfg["predictor_class"], dim, "predictor")}
    table = _randn(g, cfg["num_buckets"], heads, scale=1.0)
    for i in range(cfg["encoder_layers"]):
        p = f"encoder.layers.{i}"
        for name in ("q_proj", "k_proj", "v_proj", "out_proj"):
            state.update(_linear(g, dim, dim, f"{p}.self_attn.{name}"))
        state.update(_linear(g, 8, dim // heads, f"{p}.self_attn.grep_linear"))
        state[f"{p}.self_attn.grep_a"] = 1 + _randn(g, 1, heads, 1, 1, scale=0.3)
        state[f"{p}.self_attn.relative_attention_bias.weight"] = table
        state.update(_norm(g, dim, f"{p}.self_attn_layer_norm") | _norm(g, dim, f"{p}.final_layer_norm"))
        state.update(_linear(g, ffn, dim, f"{p}.fc1") | _linear(g, dim, ffn, f"{p}.fc2"))
    return state


def converted_beats(folder: Path, cfg: dict = TINY_BEATS_CFG, seed: int = 0) -> Path:
    """Write a random BEATs ``.pt`` as the released one is laid out, convert it; the safetensors path."""
    source = folder / "beats.pt"
    torch.save({"cfg": dict(cfg), "model": random_beats_state(cfg, seed)}, source)
    return Path(convert_checkpoint(source, folder / "beats.safetensors")["target"])


def random_salmonn_state(encoder_width: int, llm_width: int, llm_layers: int, hidden: int = 32, layers: int = 2,
                         ffn: int = 64, rank: int = 4, whisper_width: int = 16, beats_width: int = 32,
                         seed: int = 1) -> dict[str, torch.Tensor]:
    """Random weights under the names of SALMONN's released checkpoint (its ``model`` entry): its LAVIS
    Q-Former (query path only), ``speech_query_tokens``, ``speech_llama_proj``, ``ln_speech``,
    ``ln_audio``, and peft's LoRA factors of every decoder layer's ``q_proj`` and ``v_proj``."""
    g = torch.Generator().manual_seed(seed)
    state = {"speech_query_tokens": _randn(g, 1, 1, hidden, scale=1.0),
             **_norm(g, hidden, "speech_Qformer.bert.embeddings.LayerNorm"),
             "speech_Qformer.bert.embeddings.position_ids": torch.arange(512)[None],
             **_linear(g, llm_width, hidden, "speech_llama_proj"),
             **_norm(g, whisper_width, "ln_speech"), **_norm(g, beats_width, "ln_audio")}
    for i in range(layers):
        p = f"speech_Qformer.bert.encoder.layer.{i}"
        for part, width in (("attention", hidden), ("crossattention", encoder_width)):
            q = f"{p}.{part}"
            state.update(_linear(g, hidden, hidden, f"{q}.self.query"))
            state.update(_linear(g, hidden, width, f"{q}.self.key") | _linear(g, hidden, width, f"{q}.self.value"))
            state.update(_linear(g, hidden, hidden, f"{q}.output.dense") | _norm(g, hidden, f"{q}.output.LayerNorm"))
        state.update(_linear(g, ffn, hidden, f"{p}.intermediate_query.dense"))
        state.update(_linear(g, hidden, ffn, f"{p}.output_query.dense"))
        state.update(_norm(g, hidden, f"{p}.output_query.LayerNorm"))
    for i in range(llm_layers):
        for proj in ("q_proj", "v_proj"):
            p = f"llama_model.base_model.model.model.layers.{i}.self_attn.{proj}"
            state[f"{p}.lora_A.default.weight"] = _randn(g, rank, llm_width, scale=llm_width**-0.5)
            state[f"{p}.lora_B.default.weight"] = _randn(g, llm_width, rank, scale=0.3)
    return state


def tiny_llama_folder(folder: Path, sentences: list[str], layers: int = 3, width: int = 64, seed: int = 0) -> Path:
    """A random Llama decoder (``layers`` × ``width``) and a Llama SentencePiece tokenizer trained
    on ``sentences`` (``<unk>`` 0, ``<s>`` 1, ``</s>`` 2, as Llama's), saved as a hub checkpoint."""
    import sentencepiece as spm
    from transformers import LlamaConfig, LlamaForCausalLM, LlamaTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    spm.SentencePieceTrainer.train(sentence_iterator=iter(sentences), model_prefix=str(folder / "spm"), vocab_size=300,
                                   model_type="unigram", character_coverage=1.0, unk_id=0, bos_id=1, eos_id=2,
                                   pad_id=-1, num_threads=1, minloglevel=2, hard_vocab_limit=False)
    tokenizer = LlamaTokenizer(vocab_file=str(folder / "spm.model"), legacy=True)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=width, intermediate_size=2 * width,
                         num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=4,
                         max_position_embeddings=512)
    torch.manual_seed(seed)
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def tiny_whisper_folder(folder: Path, width: int = 16, seed: int = 0) -> Path:
    """A random Whisper model (2 encoder layers of ``width``, Whisper's 30 s window: 1500
    encoder frames) and the default 80-bin feature extractor, saved as a hub checkpoint."""
    from transformers import WhisperConfig, WhisperFeatureExtractor, WhisperModel

    config = WhisperConfig(vocab_size=64, d_model=width, encoder_layers=2, encoder_attention_heads=2,
                           encoder_ffn_dim=2 * width, decoder_layers=1, decoder_attention_heads=2,
                           decoder_ffn_dim=2 * width, num_mel_bins=80, max_source_positions=1500,
                           max_target_positions=32, pad_token_id=0, bos_token_id=1, eos_token_id=2,
                           decoder_start_token_id=1)
    torch.manual_seed(seed)
    WhisperModel(config).save_pretrained(folder)
    WhisperFeatureExtractor(feature_size=80).save_pretrained(folder)
    return folder


def tiny_salmonn(folder: Path, sentences: list[str], llm_layers: int = 3) -> dict[str, str]:
    """Every file of a tiny SALMONN, offline: ``{"checkpoint", "beats", "whisper", "llm"}`` paths
    (the two ``.pth``/``.pt`` written with ``torch.save`` and converted to safetensors)."""
    llm_width = 64
    llm = tiny_llama_folder(folder / "llm", sentences, layers=llm_layers, width=llm_width)
    whisper = tiny_whisper_folder(folder / "whisper")
    beats = converted_beats(folder)
    source = folder / "salmonn.pth"
    torch.save({"model": random_salmonn_state(16 + TINY_BEATS_CFG["encoder_embed_dim"], llm_width, llm_layers)},
               source)
    checkpoint = convert_checkpoint(source, folder / "salmonn.safetensors")["target"]
    return {"checkpoint": str(checkpoint), "beats": str(beats), "whisper": str(whisper), "llm": str(llm)}
