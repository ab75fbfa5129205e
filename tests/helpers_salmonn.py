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
    return {f"{prefix}.weight": 1 + _randn(generator, dim, scale=0.1), f"{prefix}.bias": _randn(generator, dim, scale=0.1)}


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
