"""The weight precisions a model family's ``precision`` key takes, as torch dtypes."""

from __future__ import annotations

import torch

from flip_pipeline.errors import FlipInputError

PRECISIONS = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def model_dtype(name: str, precision: str) -> torch.dtype:
    """``encoders.<name>.precision`` → its torch dtype; a one-line error naming the key otherwise."""
    if precision not in PRECISIONS:
        raise FlipInputError(f"encoders.{name}.precision: {precision!r} is not one of {sorted(PRECISIONS)}")
    return PRECISIONS[precision]
