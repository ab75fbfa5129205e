"""BEATs written here against a direct computation of its blocks, as microsoft/unilm's
``beats/`` code writes them (time-first layout, the max-shifted ×32 attention logits, the
gate on the query, weight norm from ``weight_g``/``weight_v``), on a tiny random checkpoint
saved with BEATs' own parameter names and converted."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers.salmonn import TINY_BEATS_CFG, converted_beats, random_beats_state

from flip_pipeline.errors import FlipInputError
from flip_pipeline.models.salmonn.beats import load_beats, relative_position_buckets
from flip_pipeline.models.salmonn.checkpoint import load_converted


def _bucket(rel: torch.Tensor, num_buckets: int, max_distance: int) -> torch.Tensor:
    num_buckets //= 2
    out = (rel > 0).long() * num_buckets
    rel = rel.abs()
    max_exact = num_buckets // 2
    large = max_exact + (torch.log(rel.float() / max_exact) / math.log(max_distance / max_exact)
                         * (num_buckets - max_exact)).long()
    large = torch.min(large, torch.full_like(large, num_buckets - 1))
    return out + torch.where(rel < max_exact, rel, large)


def _direct(state: dict, cfg: dict, wave: torch.Tensor) -> torch.Tensor:
    """BEATs.extract_features for one unpadded clip, block by block."""
    import torchaudio.compliance.kaldi as ta_kaldi

    fbank = ta_kaldi.fbank(wave.unsqueeze(0) * 2**15, num_mel_bins=128, sample_frequency=16000, frame_length=25,
                           frame_shift=10)
    fbank = ((fbank - 15.41663) / (2 * 6.55582)).unsqueeze(0).unsqueeze(1)
    x = F.conv2d(fbank, state["patch_embedding.weight"], stride=cfg["input_patch_size"])
    x = x.reshape(x.shape[0], x.shape[1], -1).transpose(1, 2)
    x = F.layer_norm(x, (cfg["embed_dim"],), state["layer_norm.weight"], state["layer_norm.bias"])
    x = F.linear(x, state["post_extract_proj.weight"], state["post_extract_proj.bias"])
    v, g = state["encoder.pos_conv.0.weight_v"], state["encoder.pos_conv.0.weight_g"]
    weight = g * v / torch.sqrt((v**2).sum(dim=(0, 1), keepdim=True))
    conv = F.conv1d(x.transpose(1, 2), weight, state["encoder.pos_conv.0.bias"], padding=cfg["conv_pos"] // 2,
                    groups=cfg["conv_pos_groups"])[:, :, :-1]  # SamePad: even kernel
    dim, heads = cfg["encoder_embed_dim"], cfg["encoder_attention_heads"]
    x = F.layer_norm(x + F.gelu(conv).transpose(1, 2), (dim,), state["encoder.layer_norm.weight"],
                     state["encoder.layer_norm.bias"])
    x = x.transpose(0, 1)  # T x B x C
    tgt, bsz = x.shape[0], 1
    head_dim, scaling, alpha_attn = dim // heads, (dim // heads) ** -0.5, 32
    rel = torch.arange(tgt)[None, :] - torch.arange(tgt)[:, None]
    table = state["encoder.layers.0.self_attn.relative_attention_bias.weight"]
    position_bias = table[_bucket(rel, cfg["num_buckets"], cfg["max_distance"])].permute(2, 0, 1)
    position_bias = position_bias.unsqueeze(0).repeat(bsz, 1, 1, 1).view(bsz * heads, tgt, tgt)
    deep = math.pow(2 * cfg["encoder_layers"], 1 / 4)
    for i in range(cfg["encoder_layers"]):
        p = f"encoder.layers.{i}."

        def lin(name, h, p=p):
            return F.linear(h, state[p + name + ".weight"], state[p + name + ".bias"])

        residual = x
        q = lin("self_attn.q_proj", x) * scaling / alpha_attn
        k, val = lin("self_attn.k_proj", x), lin("self_attn.v_proj", x)
        q = q.contiguous().view(tgt, bsz * heads, head_dim).transpose(0, 1)
        k = k.contiguous().view(-1, bsz * heads, head_dim).transpose(0, 1)
        val = val.contiguous().view(-1, bsz * heads, head_dim).transpose(0, 1)
        w = torch.bmm(q, k.transpose(1, 2))
        w = (w - w.max(dim=-1, keepdim=True)[0]) * alpha_attn
        query_layer = q.view(bsz, heads, tgt, head_dim) * alpha_attn / scaling
        gate_a, gate_b = torch.sigmoid(lin("self_attn.grep_linear", query_layer).view(bsz, heads, tgt, 2, 4)
                                       .sum(-1)).chunk(2, dim=-1)
        gate = gate_a * (gate_b * state[p + "self_attn.grep_a"] - 1.0) + 2.0
        w = w + (gate.view(bsz * heads, tgt, 1) * position_bias).view(w.size())
        attn = torch.bmm(F.softmax(w, dim=-1), val).transpose(0, 1).contiguous().view(tgt, bsz, dim)
        x = residual * deep + lin("self_attn.out_proj", attn)
        x = F.layer_norm(x, (dim,), state[p + "self_attn_layer_norm.weight"], state[p + "self_attn_layer_norm.bias"])
        residual = x
        x = lin("fc2", F.gelu(lin("fc1", x)))
        x = F.layer_norm(residual * deep + x, (dim,), state[p + "final_layer_norm.weight"],
                         state[p + "final_layer_norm.bias"])
    return x.transpose(0, 1)[0]


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    return load_converted(converted_beats(tmp_path_factory.mktemp("beats")), "test.beats")


def test_beats_equals_a_direct_computation_of_its_blocks(converted):
    beats = load_beats(*converted, what="test.beats")
    state = random_beats_state(TINY_BEATS_CFG)
    wave = torch.from_numpy(np.random.default_rng(0).uniform(-0.3, 0.3, 16000 * 3 + 1234).astype(np.float32))
    with torch.no_grad():
        ours = beats(wave)
        expected = _direct(state, TINY_BEATS_CFG, wave)
    frames = (1 + (len(wave) - 400) // 160) // 16 * (128 // 16)
    assert ours.shape == expected.shape == (frames, 32)
    torch.testing.assert_close(ours, expected, atol=2e-5, rtol=1e-4)
    # the relative position buckets reach past their exact range (log-spaced, capped)
    buckets = relative_position_buckets(frames, 32, 64)
    assert buckets.max() == 31 and buckets.min() == 0 and len(buckets.unique()) > 16


def test_beats_checkpoints_it_cannot_run_are_named(tmp_path, converted):
    tensors, plain = converted
    with pytest.raises(FlipInputError, match=r"enc\.beats: BEATs with layer_norm_first=True"):
        load_beats(tensors, plain | {"cfg.layer_norm_first": True}, "enc.beats")
    with pytest.raises(FlipInputError, match=r"enc\.beats: not a BEATs checkpoint of its cfg: missing \['encoder"):
        load_beats(tensors, plain | {"cfg.encoder_layers": 3}, "enc.beats")
