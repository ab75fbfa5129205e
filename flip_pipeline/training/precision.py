"""The training precision (``training.precision``) and how float32 matrix products run under it.

* ``fp32``: float32 storage and true float32 (IEEE) matrix products on every device;
* ``tf32`` (the default): float32 storage; on a CUDA GPU the float32 matrix products use its
  TF32 tensor cores (10-bit mantissa operands, float32 accumulation; about 8x the fp32 rate on
  an H100/H200); on a CPU nothing changes: the same numbers as ``fp32``;
* ``bf16``: the word layer's three products in bf16 with float32 accumulation and a bf16 logit
  buffer (:func:`flip_pipeline.probes.objective.weighted_count_nll`); its other float32 products
  (the FLiP factor ``E2``) as under ``tf32``.

The setting is scoped: :func:`matmul_precision` sets cuBLAS's float32 mode around one training
step and restores it after, so dev recall, evaluation and anything else in the process rank
with whatever mode was set before (true float32 by default).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

from flip_pipeline.errors import FlipInputError

#: ``training.precision`` values; the word layer's products in bf16 for ``bf16`` only.
PRECISIONS = ("fp32", "tf32", "bf16")
#: cuBLAS float32 mode of each precision (:func:`matmul_precision`).
CUBLAS_FP32 = {"fp32": "ieee", "tf32": "tf32", "bf16": "tf32"}


def check_precision(precision: str) -> str:
    """``precision`` if it is one of :data:`PRECISIONS`, else an error naming ``training.precision``."""
    if precision not in PRECISIONS:
        raise FlipInputError(f"training.precision: {precision!r} is not one of {', '.join(PRECISIONS)}")
    return precision


@contextmanager
def matmul_precision(precision: str, device: torch.device) -> Iterator[None]:
    """Run the block with cuBLAS's float32 matrix products in ``precision``'s mode on a CUDA
    ``device`` (:data:`CUBLAS_FP32`); the previous mode is restored on exit. No-op elsewhere.

    Uses torch's ``fp32_precision`` setting (torch ≥ 2.9), never the older ``allow_tf32`` flag:
    torch refuses to read one after the other was set."""
    matmul = torch.backends.cuda.matmul
    if device.type != "cuda":
        yield
        return
    before = matmul.fp32_precision
    matmul.fp32_precision = CUBLAS_FP32[check_precision(precision)]
    try:
        yield
    finally:
        matmul.fp32_precision = before
