"""Triton kernels for the objective's two passes over the ``(N, W)`` logit buffer on a GPU.

:mod:`flip_pipeline.probes.objective` needs, for logits ``z`` ``(N, W)`` (bf16, fp32 or fp64):

* forward, :func:`row_logsumexp`: ``lse_i = log Σ_w exp(z_iw)``, one read of ``z``;
* backward, :func:`softmax_grad_`: ``z ← coef_i · exp(z_iw − lse_i)`` in place (``n_i softmax(z_i)``
  scaled by the loss's gradient), one read and one write of ``z``, returning its column sums
  ``(W,)`` (the bias gradient) from the same pass.

Today's torch ops make about eight passes over the buffer for the same work (max, subtract,
exp, sum; scale, column sums), each a kernel of its own. Every value is computed in the
accumulation dtype ``acc`` (fp32, fp64 for fp64 logits) whatever ``z`` stores.

Both kernels are two-stage: each program reduces one tile of rows × columns and writes a
partial result; a few small torch ops combine the partials (per row: ``max`` and ``Σ exp`` of
each column group; per column: the sums of each row group), so no program loops over a run-time
bound (Triton's interpreter, ``TRITON_INTERPRET=1``, in which the tests run these kernels on a
CPU, cannot) and the result does not depend on the order programs finish in (no atomics).
Offsets are int64: a buffer may hold more than 2³¹ values.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

#: Forward tiles: ``LSE_ROWS`` rows × ``LSE_COLS`` columns, ``LSE_STEPS`` tiles along a row per program.
LSE_ROWS, LSE_COLS, LSE_STEPS = 8, 512, 8
#: Backward tiles: ``GRAD_ROWS`` × ``GRAD_COLS``, ``GRAD_STEPS`` tiles down a column block per program.
GRAD_ROWS, GRAD_COLS, GRAD_STEPS = 16, 512, 8
#: Warps per program of either kernel.
NUM_WARPS = 4

_TL_DTYPES = {torch.float32: tl.float32, torch.float64: tl.float64}


@triton.jit
def _tile(z_ptr, rows, cols, n_rows, n_cols, other, ACC: tl.constexpr):
    """The ``rows × cols`` tile of ``z`` ``(n_rows, n_cols)`` in ``ACC`` (``other`` outside it), its
    int64 offsets and its mask."""
    mask = (rows < n_rows)[:, None] & (cols < n_cols)[None, :]
    offsets = rows.to(tl.int64)[:, None] * n_cols + cols[None, :]
    return tl.load(z_ptr + offsets, mask=mask, other=other).to(ACC), offsets, mask


@triton.jit
def _row_stats_kernel(z_ptr, max_ptr, sum_ptr, n_rows, n_cols, n_groups,
                      ACC: tl.constexpr, ROWS: tl.constexpr, COLS: tl.constexpr, STEPS: tl.constexpr):
    """Per row of a block of ``ROWS`` rows, ``max`` and ``Σ exp(z − max)`` over one column group."""
    rows = tl.program_id(0) * ROWS + tl.arange(0, ROWS)
    peak = tl.full([ROWS], float("-inf"), ACC)
    total = tl.zeros([ROWS], ACC)
    for step in tl.static_range(STEPS):
        cols = (tl.program_id(1) * STEPS + step) * COLS + tl.arange(0, COLS)
        x, _, _ = _tile(z_ptr, rows, cols, n_rows, n_cols, float("-inf"), ACC)
        new_peak = tl.maximum(peak, tl.max(x, axis=1))
        shift = tl.where(new_peak == float("-inf"), 0.0, new_peak)  # an all-masked row stays exp(-inf) = 0
        total = total * tl.exp(peak - shift) + tl.sum(tl.exp(x - shift[:, None]), axis=1)
        peak = new_peak
    out = rows.to(tl.int64) * n_groups + tl.program_id(1)
    tl.store(max_ptr + out, peak, mask=rows < n_rows)
    tl.store(sum_ptr + out, total, mask=rows < n_rows)


@triton.jit
def _softmax_grad_kernel(z_ptr, lse_ptr, coef_ptr, colsum_ptr, n_rows, n_cols,
                         ACC: tl.constexpr, ROWS: tl.constexpr, COLS: tl.constexpr, STEPS: tl.constexpr):
    """``z ← coef · exp(z − lse)`` over one column block of ``STEPS`` row tiles; its column sums."""
    cols = tl.program_id(1) * COLS + tl.arange(0, COLS)
    sums = tl.zeros([COLS], ACC)
    for step in tl.static_range(STEPS):
        rows = (tl.program_id(0) * STEPS + step) * ROWS + tl.arange(0, ROWS)
        x, offsets, mask = _tile(z_ptr, rows, cols, n_rows, n_cols, 0.0, ACC)
        lse = tl.load(lse_ptr + rows, mask=rows < n_rows, other=0.0).to(ACC)
        coef = tl.load(coef_ptr + rows, mask=rows < n_rows, other=0.0).to(ACC)
        g = tl.where(mask, coef[:, None] * tl.exp(x - lse[:, None]), 0.0)
        tl.store(z_ptr + offsets, g.to(z_ptr.dtype.element_ty), mask=mask)
        sums += tl.sum(g, axis=0)
    tl.store(colsum_ptr + tl.program_id(0).to(tl.int64) * n_cols + cols, sums, mask=cols < n_cols)


def _acc_dtype(z: torch.Tensor) -> torch.dtype:
    return torch.float64 if z.dtype == torch.float64 else torch.float32


def _check(z: torch.Tensor) -> None:
    if z.dim() != 2 or not z.is_contiguous():
        raise ValueError(f"expected a contiguous (N, W) buffer, got shape {tuple(z.shape)}")


def row_logsumexp(z: torch.Tensor) -> torch.Tensor:
    """``log Σ_w exp(z_iw)`` of every row of ``z`` ``(N, W)``: ``(N,)`` in the accumulation dtype."""
    _check(z)
    n_rows, n_cols = z.shape
    acc = _acc_dtype(z)
    groups = triton.cdiv(n_cols, LSE_COLS * LSE_STEPS)
    peaks = torch.empty((n_rows, groups), dtype=acc, device=z.device)
    totals = torch.empty_like(peaks)
    grid = (triton.cdiv(n_rows, LSE_ROWS), groups)
    _row_stats_kernel[grid](z, peaks, totals, n_rows, n_cols, groups, ACC=_TL_DTYPES[acc], ROWS=LSE_ROWS,
                            COLS=LSE_COLS, STEPS=LSE_STEPS, num_warps=NUM_WARPS)
    peak = peaks.amax(dim=1, keepdim=True)  # (N, 1); finite for any row with a finite value
    return peak.squeeze(1) + (totals * (peaks - peak).exp()).sum(dim=1).log()


def softmax_grad_(z: torch.Tensor, lse: torch.Tensor, coef: torch.Tensor) -> torch.Tensor:
    """Overwrite ``z`` ``(N, W)`` with ``coef_i · exp(z_iw − lse_i)`` and return its column sums.

    Args:
        z: contiguous logits, any float dtype; written in place (rounded to its dtype).
        lse, coef: ``(N,)`` row log-sum-exp (:func:`row_logsumexp`) and row scale.

    Returns:
        ``(W,)`` column sums of the unrounded values, in the accumulation dtype.
    """
    _check(z)
    n_rows, n_cols = z.shape
    acc = _acc_dtype(z)
    row_groups = triton.cdiv(n_rows, GRAD_ROWS * GRAD_STEPS)
    partial = torch.empty((row_groups, n_cols), dtype=acc, device=z.device)
    grid = (row_groups, triton.cdiv(n_cols, GRAD_COLS))
    _softmax_grad_kernel[grid](z, lse.to(acc).contiguous(), coef.to(acc).contiguous(), partial, n_rows, n_cols,
                               ACC=_TL_DTYPES[acc], ROWS=GRAD_ROWS, COLS=GRAD_COLS, STEPS=GRAD_STEPS,
                               num_warps=NUM_WARPS)
    return partial.sum(dim=0)
