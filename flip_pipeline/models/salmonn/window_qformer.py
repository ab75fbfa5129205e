"""SALMONN's window-level Q-Former: speech frames → audio tokens in the LLM's input space.

From bytedance/SALMONN ``models/salmonn.py`` (``_encode_auditory_feature``): the concatenated
encoder frames ``(B, T, C)`` are cut into windows of ``window`` frames every ``stride`` frames
(``round(1500 * 0.333333 / 30) = 17`` and 17: Whisper's 50 frames per second, a third of a
second, no overlap, a trailing partial window dropped, as ``F.unfold`` does); each window is
read by a BERT-style Q-Former (``num_query_tokens`` learned queries, self-attention among
them, cross-attention to the window's frames in every layer, the query feed-forward) —
transformers' ``Blip2QFormerModel``, whose parameters are those of SALMONN's LAVIS copy
(:func:`qformer_state` renames them) — and the query outputs are projected by
``speech_llama_proj`` to the LLM width. Window ``w``'s query ``q`` becomes audio token
``w * num_query_tokens + q``.
"""

from __future__ import annotations

import re

import torch
from torch import nn

#: SALMONN's LAVIS Q-Former name → transformers' Blip2QFormerModel name.
RENAMES = ((re.compile(r"^bert\.embeddings\.LayerNorm\."), "layernorm."),
           (re.compile(r"^bert\.encoder\.layer\.(\d+)\.(attention|crossattention)\.self\."),
            r"encoder.layer.\1.\2.attention."),
           (re.compile(r"^bert\.encoder\."), "encoder."))
#: SALMONN's Q-Former entries the query path does not use (its text embeddings are set to None
#: before training, but a buffer may remain).
UNUSED = re.compile(r"bert\.embeddings\.position_ids")


def window_frames(second_per_window: float = 0.333333, second_stride: float = 0.333333,
                  frames_per_30s: int = 1500) -> tuple[int, int]:
    """``(window, stride)`` in encoder frames, as SALMONN rounds them."""
    return round(frames_per_30s * second_per_window / 30.0), round(frames_per_30s * second_stride / 30.0)


def qformer_state(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """SALMONN's ``speech_Qformer.*`` entries (prefix removed) under Blip2QFormerModel's names."""
    state = {}
    for key, value in tensors.items():
        if UNUSED.fullmatch(key):
            continue
        for pattern, replacement in RENAMES:
            key = pattern.sub(replacement, key, count=1)
        state[key] = value
    return state


class WindowQFormer(nn.Module):
    """Audio frames ``(B, T, encoder_width)`` → audio tokens ``(B, windows * num_query_tokens, llm_width)``.

    Args:
        qformer: a ``Blip2QFormerModel`` (``encoder_hidden_size`` = the frames' width,
            cross-attention in every layer, no text input).
        num_query_tokens, llm_width: SALMONN's 1 and Vicuna's 4096.
        window, stride: in frames (:func:`window_frames`).
    """

    def __init__(self, qformer: nn.Module, num_query_tokens: int, llm_width: int, window: int, stride: int):
        super().__init__()
        self.qformer, self.window, self.stride = qformer, window, stride
        hidden = qformer.config.hidden_size
        self.query_tokens = nn.Parameter(torch.zeros(1, num_query_tokens, hidden))
        self.proj = nn.Linear(hidden, llm_width)

    def windows(self, length: int) -> int:
        """How many windows ``length`` frames give."""
        return max(0, (length - self.window) // self.stride + 1)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        b, _, width = frames.shape
        windows = frames.unfold(1, self.window, self.stride)  # (B, W, C, window)
        count = windows.shape[1]
        windows = windows.permute(0, 1, 3, 2).reshape(b * count, self.window, width)
        queries = self.query_tokens.expand(b * count, -1, -1)
        out = self.qformer(query_embeds=queries, encoder_hidden_states=windows,
                           encoder_attention_mask=torch.ones(windows.shape[:2], dtype=torch.long, device=frames.device))
        tokens = self.proj(out.last_hidden_state.to(self.proj.weight.dtype))
        return tokens.reshape(b, count * tokens.shape[1], tokens.shape[2])
