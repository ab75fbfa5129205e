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
Inside a program, sums accumulate per element of the tile (registers) and are reduced across
threads once, at the end, not once per tile. Offsets are int64: a buffer may hold more than 2³¹
values.

Launch shapes (:class:`Tiles`) come from :data:`LSE_TILES` and :data:`GRAD_TILES`, chosen by the
buffer's element size and width (:func:`tiles_for`); ``benchmarks/step_profile.py`` measures a
grid of them on a GPU and prints the fastest in the tables' form.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import triton
import triton.language as tl


@dataclass(frozen=True)
class Tiles:
    """One launch shape of a kernel.

    Attributes:
        rows, cols: tile shape (powers of two); a tile holds ``rows × cols`` values.
        steps: tiles per program: along its rows (forward), down its columns (backward).
        warps: warps per program (32 threads each).
        lanes: forward only: keep a running max and sum per tile element, reduced across threads
            once at the end (one ``exp`` per value either way); else the row max is reduced across
            threads at every tile, the sums still per element.
    """

    rows: int
    cols: int
    steps: int
    warps: int = 4
    lanes: bool = False

    def __post_init__(self):
        for name in ("rows", "cols", "warps"):
            value = getattr(self, name)
            if value < 1 or value & (value - 1):
                raise ValueError(f"Tiles.{name} must be a power of two, got {value}")
        if self.steps < 1:
            raise ValueError(f"Tiles.steps must be at least 1, got {self.steps}")


#: Forward tiles by the buffer's element size in bytes (2: bf16, 4: fp32, 8: fp64), as ``(fewest
#: columns, tiles)`` pairs in increasing order: a buffer takes the last pair whose width it reaches.
LSE_TILES: dict[int, tuple[tuple[int, Tiles], ...]] = {
    2: ((0, Tiles(8, 512, 8, 4)),),
    4: ((0, Tiles(8, 512, 8, 4)),),
    8: ((0, Tiles(8, 512, 8, 4)),),  # fp64 buffers: the tests'
}
#: Backward tiles, keyed as :data:`LSE_TILES`. Each program accumulates ``rows × cols`` column sums
#: in registers: ``rows · cols / (32 · warps)`` of them per thread, beside as many values of the tile.
GRAD_TILES: dict[int, tuple[tuple[int, Tiles], ...]] = {
    2: ((0, Tiles(8, 512, 16, 4)),),
    4: ((0, Tiles(8, 512, 16, 4)),),
    8: ((0, Tiles(8, 512, 16, 4)),),
}

_TL_DTYPES = {torch.float32: tl.float32, torch.float64: tl.float64}


def tiles_for(table: dict[int, tuple[tuple[int, Tiles], ...]], z: torch.Tensor) -> Tiles:
    """The tiles ``table`` (:data:`LSE_TILES` or :data:`GRAD_TILES`) gives the buffer ``z`` ``(N, W)``."""
    entries = table[z.element_size()]
    return next(tiles for fewest, tiles in reversed(entries) if z.shape[1] >= fewest)


@triton.jit
def _tile(z_ptr, rows, cols, n_rows, n_cols, other, ACC: tl.constexpr):
    """The ``rows × cols`` tile of ``z`` ``(n_rows, n_cols)`` in ``ACC`` (``other`` outside it), its
    int64 offsets and its mask."""
    mask = (rows < n_rows)[:, None] & (cols < n_cols)[None, :]
    offsets = rows.to(tl.int64)[:, None] * n_cols + cols[None, :]
    return tl.load(z_ptr + offsets, mask=mask, other=other).to(ACC), offsets, mask


@triton.jit
def _row_stats_kernel(z_ptr, max_ptr, sum_ptr, n_rows, n_cols, n_groups, ACC: tl.constexpr, ROWS: tl.constexpr,
                      COLS: tl.constexpr, STEPS: tl.constexpr, LANES: tl.constexpr):
    """Per row of a block of ``ROWS`` rows, ``max`` and ``Σ exp(z − max)`` over one column group."""
    rows = tl.program_id(0) * ROWS + tl.arange(0, ROWS)
    total = tl.zeros([ROWS, COLS], ACC)  # Σ exp(z − peak) per tile element
    if LANES:
        peak = tl.full([ROWS, COLS], float("-inf"), ACC)  # running max per tile element
        for step in tl.static_range(STEPS):
            cols = (tl.program_id(1) * STEPS + step) * COLS + tl.arange(0, COLS)
            x, _, _ = _tile(z_ptr, rows, cols, n_rows, n_cols, float("-inf"), ACC)
            larger = x > peak  # a new max: the old sum rescaled, plus exp(0) = 1
            e = tl.exp(tl.where(larger, peak - x, x - peak))
            e = tl.where(x == float("-inf"), 0.0, e)  # masked (or -inf) values add nothing
            total = tl.where(larger, total * e + 1.0, total + e)
            peak = tl.maximum(peak, x)
        row_peak = tl.max(peak, axis=1)
        shift = tl.where(row_peak == float("-inf"), 0.0, row_peak)  # an all-masked row stays exp(-inf) = 0
        row_total = tl.sum(total * tl.exp(peak - shift[:, None]), axis=1)
    else:
        row_peak = tl.full([ROWS], float("-inf"), ACC)
        for step in tl.static_range(STEPS):
            cols = (tl.program_id(1) * STEPS + step) * COLS + tl.arange(0, COLS)
            x, _, _ = _tile(z_ptr, rows, cols, n_rows, n_cols, float("-inf"), ACC)
            new_peak = tl.maximum(row_peak, tl.max(x, axis=1))
            shift = tl.where(new_peak == float("-inf"), 0.0, new_peak)
            total = total * tl.exp(row_peak - shift)[:, None] + tl.exp(x - shift[:, None])
            row_peak = new_peak
        row_total = tl.sum(total, axis=1)
    out = rows.to(tl.int64) * n_groups + tl.program_id(1)
    tl.store(max_ptr + out, row_peak, mask=rows < n_rows)
    tl.store(sum_ptr + out, row_total, mask=rows < n_rows)


@triton.jit
def _softmax_grad_kernel(z_ptr, lse_ptr, coef_ptr, colsum_ptr, n_rows, n_cols,
                         ACC: tl.constexpr, ROWS: tl.constexpr, COLS: tl.constexpr, STEPS: tl.constexpr):
    """``z ← coef · exp(z − lse)`` over one column block of ``STEPS`` row tiles; its column sums."""
    cols = tl.program_id(1) * COLS + tl.arange(0, COLS)
    sums = tl.zeros([ROWS, COLS], ACC)  # per tile element; reduced over rows once, at the end
    for step in tl.static_range(STEPS):
        rows = (tl.program_id(0) * STEPS + step) * ROWS + tl.arange(0, ROWS)
        x, offsets, mask = _tile(z_ptr, rows, cols, n_rows, n_cols, 0.0, ACC)
        lse = tl.load(lse_ptr + rows, mask=rows < n_rows, other=0.0).to(ACC)
        coef = tl.load(coef_ptr + rows, mask=rows < n_rows, other=0.0).to(ACC)
        g = tl.where(mask, coef[:, None] * tl.exp(x - lse[:, None]), 0.0)
        tl.store(z_ptr + offsets, g.to(z_ptr.dtype.element_ty), mask=mask)
        sums += g
    tl.store(colsum_ptr + tl.program_id(0).to(tl.int64) * n_cols + cols, tl.sum(sums, axis=0), mask=cols < n_cols)


def _acc_dtype(z: torch.Tensor) -> torch.dtype:
    return torch.float64 if z.dtype == torch.float64 else torch.float32


def _check(z: torch.Tensor) -> None:
    if z.dim() != 2 or not z.is_contiguous():
        raise ValueError(f"expected a contiguous (N, W) buffer, got shape {tuple(z.shape)}")


def row_logsumexp(z: torch.Tensor, tiles: Tiles | None = None) -> torch.Tensor:
    """``log Σ_w exp(z_iw)`` of every row of ``z`` ``(N, W)``: ``(N,)`` in the accumulation dtype.

    ``tiles``: the launch shape; ``None``: :data:`LSE_TILES`'s (:func:`tiles_for`)."""
    _check(z)
    tiles = tiles or tiles_for(LSE_TILES, z)
    n_rows, n_cols = z.shape
    acc = _acc_dtype(z)
    groups = triton.cdiv(n_cols, tiles.cols * tiles.steps)
    peaks = torch.empty((n_rows, groups), dtype=acc, device=z.device)
    totals = torch.empty_like(peaks)
    grid = (triton.cdiv(n_rows, tiles.rows), groups)
    _row_stats_kernel[grid](z, peaks, totals, n_rows, n_cols, groups, ACC=_TL_DTYPES[acc], ROWS=tiles.rows,
                            COLS=tiles.cols, STEPS=tiles.steps, LANES=tiles.lanes, num_warps=tiles.warps)
    peak = peaks.amax(dim=1, keepdim=True)  # (N, 1); finite for any row with a finite value
    return peak.squeeze(1) + (totals * (peaks - peak).exp()).sum(dim=1).log()


def softmax_grad_(z: torch.Tensor, lse: torch.Tensor, coef: torch.Tensor, tiles: Tiles | None = None) -> torch.Tensor:
    """Overwrite ``z`` ``(N, W)`` with ``coef_i · exp(z_iw − lse_i)`` and return its column sums.

    Args:
        z: contiguous logits, any float dtype; written in place (rounded to its dtype).
        lse, coef: ``(N,)`` row log-sum-exp (:func:`row_logsumexp`) and row scale.
        tiles: the launch shape; ``None``: :data:`GRAD_TILES`'s (:func:`tiles_for`).

    Returns:
        ``(W,)`` column sums of the unrounded values, in the accumulation dtype.
    """
    _check(z)
    tiles = tiles or tiles_for(GRAD_TILES, z)
    n_rows, n_cols = z.shape
    acc = _acc_dtype(z)
    row_groups = triton.cdiv(n_rows, tiles.rows * tiles.steps)
    partial = torch.empty((row_groups, n_cols), dtype=acc, device=z.device)
    grid = (row_groups, triton.cdiv(n_cols, tiles.cols))
    _softmax_grad_kernel[grid](z, lse.to(acc).contiguous(), coef.to(acc).contiguous(), partial, n_rows, n_cols,
                               ACC=_TL_DTYPES[acc], ROWS=tiles.rows, COLS=tiles.cols, STEPS=tiles.steps,
                               num_warps=tiles.warps)
    return partial.sum(dim=0)
