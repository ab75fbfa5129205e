"""BEATs (Chen et al., 2022), SALMONN's second audio encoder, written from microsoft/unilm ``beats/``.

One clip at a time, unpadded (as SALMONN's inference runs it, so a clip's frames never
depend on which clips share a batch):

1. front end: Kaldi filterbanks of the 16 kHz wave scaled to 16-bit range (128 mel bins,
   25 ms window, 10 ms hop, ``torchaudio.compliance.kaldi.fbank``), normalised as
   ``(fbank - 15.41663) / (2 * 6.55582)`` (BEATs' constants);
2. patch embedding: a 16×16 convolution of stride 16 over (time, mel) → ``(T // 16) * 8``
   patches in time-major order, layer norm, and a linear projection to the encoder width
   when the patch width differs (512 → 768);
3. a convolutional position embedding (kernel ``conv_pos``, ``conv_pos_groups`` groups, weight
   norm over the kernel axis, the last output dropped for an even kernel, GELU) added to the
   patches, then a layer norm;
4. post-LN transformer layers with deep-norm residual scaling ``(2 L) ** 0.25`` and a
   bucketed relative position bias (T5-style, bidirectional; one table shared by every layer),
   scaled per query position and head by a GRU-like gate from the query
   (``gate_a * (gate_b * grep_a - 1) + 2``).

Parameter names are BEATs' own (``encoder.layers.0.self_attn.q_proj.weight``, …) but for two
that :func:`beats_state` folds at load: the weight-normed ``encoder.pos_conv.0.weight_g`` /
``weight_v`` become ``encoder.pos_conv.weight``, and the relative position table
(``encoder.layers.0.self_attn.relative_attention_bias.weight``, shared) becomes
``encoder.relative_attention_bias.weight``. The fine-tuned checkpoints' ``predictor`` (AudioSet
classes) is not used: SALMONN takes the features.
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from flip_pipeline.errors import FlipInputError

SAMPLE_RATE = 16_000
FBANK_BINS = 128
FBANK_MEAN, FBANK_STD = 15.41663, 6.55582
#: Checkpoint entries not used for features: the AudioSet classifier of fine-tuned checkpoints.
UNUSED = re.compile(r"predictor\..*")


@dataclasses.dataclass(frozen=True)
class BeatsConfig:
    """The architecture fields of BEATs' ``BEATsConfig`` (defaults: its own); dropout and
    training-only fields are not kept."""

    input_patch_size: int = 16
    embed_dim: int = 512
    conv_bias: bool = False
    encoder_layers: int = 12
    encoder_embed_dim: int = 768
    encoder_ffn_embed_dim: int = 3072
    encoder_attention_heads: int = 12
    activation_fn: str = "gelu"
    layer_norm_first: bool = False
    deep_norm: bool = False
    conv_pos: int = 128
    conv_pos_groups: int = 16
    relative_position_embedding: bool = False
    num_buckets: int = 320
    max_distance: int = 1280
    gru_rel_pos: bool = False

    @classmethod
    def from_checkpoint(cls, plain: dict[str, Any], what: str) -> BeatsConfig:
        """The ``cfg.*`` entries of a converted BEATs checkpoint (the released ``.pt`` holds
        ``{"cfg": {...}, "model": {...}}``); an architecture this module does not implement
        (pre-LN layers, GLU feed-forward) is a :class:`FlipInputError` naming ``what``."""
        fields = {f.name for f in dataclasses.fields(cls)}
        cfg = cls(**{key[4:]: value for key, value in plain.items() if key.startswith("cfg.") and key[4:] in fields})
        if cfg.layer_norm_first or cfg.activation_fn not in ("gelu", "relu"):
            raise FlipInputError(f"{what}: BEATs with layer_norm_first={cfg.layer_norm_first}, activation_fn="
                                 f"{cfg.activation_fn!r} is not implemented here (the released checkpoints are "
                                 f"post-LN with GELU)")
        return cfg


def fbank_features(wave: torch.Tensor) -> torch.Tensor:
    """BEATs' normalised filterbanks of one 16 kHz wave ``(samples,)`` in [-1, 1] → float32 ``(T, 128)``."""
    import torchaudio.compliance.kaldi as kaldi

    bank = kaldi.fbank(wave.float().unsqueeze(0) * 2**15, num_mel_bins=FBANK_BINS, sample_frequency=SAMPLE_RATE,
                       frame_length=25, frame_shift=10)
    return (bank - FBANK_MEAN) / (2 * FBANK_STD)


def relative_position_buckets(length: int, num_buckets: int, max_distance: int) -> torch.Tensor:
    """``(length, length)`` bucket of key position ``j`` relative to query position ``i``:
    half the buckets per direction, exact up to a quarter of them, log-spaced up to ``max_distance``."""
    relative = torch.arange(length)[None, :] - torch.arange(length)[:, None]
    half = num_buckets // 2
    buckets = (relative > 0).long() * half
    distance = relative.abs()
    exact = half // 2
    far = exact + (torch.log(distance.float().clamp(min=1) / exact) / math.log(max_distance / exact)
                   * (half - exact)).long()
    return buckets + torch.where(distance < exact, distance, far.clamp(max=half - 1))


class BeatsAttention(nn.Module):
    """Self-attention with BEATs' gated relative position bias."""

    def __init__(self, cfg: BeatsConfig):
        super().__init__()
        dim, self.heads = cfg.encoder_embed_dim, cfg.encoder_attention_heads
        self.q_proj, self.k_proj = nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.v_proj, self.out_proj = nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.gated = cfg.gru_rel_pos
        if self.gated:
            self.grep_linear = nn.Linear(dim // self.heads, 8)
            self.grep_a = nn.Parameter(torch.ones(1, self.heads, 1, 1))

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        """``x``: ``(B, T, d)``; ``bias``: ``(heads, T, T)`` or ``None`` → ``(B, T, d)``."""
        b, t, d = x.shape
        q, k, v = (proj(x).view(b, t, self.heads, d // self.heads).transpose(1, 2)
                   for proj in (self.q_proj, self.k_proj, self.v_proj))
        if bias is not None and self.gated:
            gate_a, gate_b = torch.sigmoid(self.grep_linear(q).view(b, self.heads, t, 2, 4).sum(-1)).chunk(2, dim=-1)
            bias = (gate_a * (gate_b * self.grep_a - 1.0) + 2.0) * bias
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=None if bias is None else bias.to(q.dtype))
        return self.out_proj(out.transpose(1, 2).reshape(b, t, d))


class BeatsLayer(nn.Module):
    """One post-LN transformer layer (deep-norm residual scale ``alpha``)."""

    def __init__(self, cfg: BeatsConfig):
        super().__init__()
        dim = cfg.encoder_embed_dim
        self.self_attn = BeatsAttention(cfg)
        self.self_attn_layer_norm, self.final_layer_norm = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.fc1, self.fc2 = nn.Linear(dim, cfg.encoder_ffn_embed_dim), nn.Linear(cfg.encoder_ffn_embed_dim, dim)
        self.activation = F.gelu if cfg.activation_fn == "gelu" else F.relu
        self.alpha = (2 * cfg.encoder_layers) ** 0.25 if cfg.deep_norm else 1.0

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        x = self.self_attn_layer_norm(x * self.alpha + self.self_attn(x, bias))
        return self.final_layer_norm(x * self.alpha + self.fc2(self.activation(self.fc1(x))))


class BeatsTransformer(nn.Module):
    """Convolutional position embedding, layer norm, and the layers."""

    def __init__(self, cfg: BeatsConfig):
        super().__init__()
        dim = cfg.encoder_embed_dim
        self.pos_conv = nn.Conv1d(dim, dim, cfg.conv_pos, padding=cfg.conv_pos // 2, groups=cfg.conv_pos_groups)
        self.trim = 1 if cfg.conv_pos % 2 == 0 else 0
        self.layer_norm = nn.LayerNorm(dim)
        self.layers = nn.ModuleList(BeatsLayer(cfg) for _ in range(cfg.encoder_layers))
        self.buckets = (cfg.num_buckets, cfg.max_distance)
        self.relative_attention_bias = (nn.Embedding(cfg.num_buckets, cfg.encoder_attention_heads)
                                        if cfg.relative_position_embedding else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, T, d)`` unpadded patches → ``(B, T, d)``."""
        conv = self.pos_conv(x.transpose(1, 2))
        x = self.layer_norm(x + F.gelu(conv[:, :, : conv.shape[2] - self.trim]).transpose(1, 2))
        bias = None
        if self.relative_attention_bias is not None:
            buckets = relative_position_buckets(x.shape[1], *self.buckets).to(x.device)
            bias = self.relative_attention_bias(buckets).permute(2, 0, 1)  # (heads, T, T)
        for layer in self.layers:
            x = layer(x, bias)
        return x


class BeatsEncoder(nn.Module):
    """BEATs' feature extractor: 16 kHz wave → ``(frames, encoder_embed_dim)`` (8 frames per 160 ms)."""

    def __init__(self, cfg: BeatsConfig):
        super().__init__()
        self.cfg = cfg
        self.patch_embedding = nn.Conv2d(1, cfg.embed_dim, cfg.input_patch_size, stride=cfg.input_patch_size,
                                         bias=cfg.conv_bias)
        self.layer_norm = nn.LayerNorm(cfg.embed_dim)
        self.post_extract_proj = (nn.Linear(cfg.embed_dim, cfg.encoder_embed_dim)
                                  if cfg.embed_dim != cfg.encoder_embed_dim else None)
        self.encoder = BeatsTransformer(cfg)

    def patches(self, wave: torch.Tensor) -> torch.Tensor:
        """One wave ``(samples,)`` → the encoder's input ``(1, patches, encoder_embed_dim)``."""
        bank = fbank_features(wave.cpu()).to(self.patch_embedding.weight)
        x = self.patch_embedding(bank[None, None])  # (1, embed, T // 16, 128 // 16)
        x = self.layer_norm(x.flatten(2).transpose(1, 2))
        return x if self.post_extract_proj is None else self.post_extract_proj(x)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """One clip's wave ``(samples,)`` in [-1, 1], 16 kHz → ``(frames, encoder_embed_dim)``."""
        return self.encoder(self.patches(wave))[0]


def beats_state(tensors: dict[str, torch.Tensor], prefix: str = "model.") -> dict[str, torch.Tensor]:
    """The state dict of :class:`BeatsEncoder` from a converted BEATs checkpoint's tensors
    (``model.*`` of the released ``.pt``): weight norm folded, the shared position table taken once."""
    state = {key[len(prefix):]: value for key, value in tensors.items() if key.startswith(prefix)}
    state = {key: value for key, value in state.items() if not UNUSED.fullmatch(key)}
    g, v = state.pop("encoder.pos_conv.0.weight_g", None), state.pop("encoder.pos_conv.0.weight_v", None)
    if g is not None and v is not None:  # torch's weight_norm(dim=2): one norm per kernel position
        state["encoder.pos_conv.weight"] = v * (g / v.norm(dim=(0, 1), keepdim=True))
    if "encoder.pos_conv.0.bias" in state:
        state["encoder.pos_conv.bias"] = state.pop("encoder.pos_conv.0.bias")
    tables = [key for key in state if key.endswith("self_attn.relative_attention_bias.weight")]
    if tables:  # one table, under every layer's name
        state["encoder.relative_attention_bias.weight"] = state[tables[0]]
        for key in tables:
            del state[key]
    return state


def load_beats(tensors: dict[str, torch.Tensor], plain: dict[str, Any], what: str) -> BeatsEncoder:
    """A :class:`BeatsEncoder` (eval mode) from a converted BEATs checkpoint; missing or
    unexpected parameters are a :class:`FlipInputError` naming ``what``."""
    model = BeatsEncoder(BeatsConfig.from_checkpoint(plain, what))
    result = model.load_state_dict(beats_state(tensors), strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise FlipInputError(f"{what}: not a BEATs checkpoint of its cfg: missing "
                             f"{result.missing_keys[:3]}, unexpected {result.unexpected_keys[:3]}")
    return model.eval()
