"""Training views held whole on the training device, batches gathered there by index.

When the kept rows of every weighted view fit a memory budget, :func:`resident_or_streamed`
loads them once, ``LOAD_ROWS`` corpus rows at a time from the shards (host memory stays
bounded while loading to a GPU), into ``(n, d)`` tensors on the training device, stored as
float32, float16 or bfloat16, with the kept rows' bag of words beside them as CSR tensors.
Each epoch draws one permutation of the kept rows from the seeded generator and gathers
every batch with vectorised torch ops on the device: the embedding rows by
``index_select``, the CSR rows by ``repeat_interleave`` over the rows' lengths. The sizes
a batch needs (its count of stored entries and tokens) are computed on the host from the
permutation, so no batch waits on the device. Otherwise the views are streamed from the
shards as before (:meth:`flip_pipeline.training.batches.TrainingData.batches`).

Default budget (``training.resident_memory_gb: null``): :data:`RESIDENT_FRACTION` of the
memory the job still has where it trains (:func:`flip_pipeline.device.available_memory`:
the GPU's free memory, or the host's available memory within any cgroup or SLURM limit),
measured after the probe is on the device; the rest is left to the step's logit buffer
(``logits_memory_mb``), the optimiser state, the dev set and the allocator.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import numpy as np
import torch

from flip_pipeline.device import available_memory
from flip_pipeline.errors import FlipInputError
from flip_pipeline.training.alignment import AlignedView
from flip_pipeline.training.batches import Batch, TrainingData, weighted_rows

log = logging.getLogger(__name__)

GIB = 2**30
#: Share of the job's free memory that the resident views may take by default.
RESIDENT_FRACTION = 0.5
#: Storage dtypes of resident views (``training.resident_dtype``); batches are float32 either way.
STORAGE_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
#: Corpus rows read from the shards per loading step.
LOAD_ROWS = 50_000


def storage_dtype(name: str) -> torch.dtype:
    """The torch dtype of ``training.resident_dtype`` ``name``, or an error listing the choices."""
    if name not in STORAGE_DTYPES:
        raise FlipInputError(f"training.resident_dtype: {name!r} is not one of {', '.join(STORAGE_DTYPES)}")
    return STORAGE_DTYPES[name]


def resident_bytes(data: TrainingData, dtype: torch.dtype) -> int:
    """Bytes the resident copy of ``data`` takes: ``n·d`` values per view at ``dtype``, and the
    kept rows' CSR (int32 columns and float32 counts per stored entry; int64 start and
    length, float32 word count per row)."""
    n, nnz = len(data), int(np.diff(data.bow.counts.indptr)[data.keep].sum())
    return n * data.dim * len(data.views) * dtype.itemsize + nnz * 8 + n * 20


def memory_budget(configured_gb: float | None, device: torch.device) -> tuple[int, str]:
    """``(bytes, source)``: ``configured_gb`` GiB when set, else :data:`RESIDENT_FRACTION` of
    the memory still free on ``device``."""
    if configured_gb is not None:
        return int(configured_gb * GIB), "training.resident_memory_gb"
    free, source = available_memory(device)
    return int(RESIDENT_FRACTION * free), f"{RESIDENT_FRACTION:g} x {free / GIB:.2f} GiB, {source}"


class ConversionError:
    """Running error of storing float32 values at a 16-bit dtype, over every value loaded.

    ``max_abs`` is ``max |x − q(x)|``, ``relative_rms`` is ``sqrt(Σ (x − q(x))² / Σ x²)``.
    Rows are taken :data:`BLOCK_VALUES` values at a time: the temporaries stay small enough
    for the allocator to reuse (a fresh large tensor on the CPU costs a page fault per 4 KiB).
    """

    BLOCK_VALUES = 2**21

    def __init__(self, device: torch.device):
        self._sums = torch.zeros(2, dtype=torch.float64, device=device)  # Σ err², Σ x²
        self._max = torch.zeros((), dtype=torch.float32, device=device)

    def add(self, exact: torch.Tensor, stored: torch.Tensor, source: AlignedView) -> None:
        """Account for ``stored`` (``exact`` converted); a value the dtype cannot hold is an error."""
        if not bool(torch.isfinite(stored).all()):  # one check per loading step, not per batch
            limit = torch.finfo(stored.dtype).max
            raise FlipInputError(f"{source.view.view_dir}: an embedding value exceeds {limit:g}, the largest "
                                 f"{stored.dtype} holds; set training.resident_dtype to bfloat16 or float32")
        rows = max(1, self.BLOCK_VALUES // max(1, exact.shape[1]))
        for lo in range(0, exact.shape[0], rows):
            x, diff = exact[lo : lo + rows], stored[lo : lo + rows].float()
            diff -= x
            sums = torch.stack([torch.linalg.vector_norm(diff), torch.linalg.vector_norm(x)])
            self._sums += sums.double().square()
            self._max = torch.maximum(self._max, diff.abs_().max())

    def summary(self) -> dict[str, float]:
        err, total = self._sums.tolist()
        return {"max_abs": float(self._max), "relative_rms": (err / total) ** 0.5 if total > 0 else 0.0}


class ResidentData:
    """The kept rows of the weighted views and their bags of words, held on one device.

    Attributes:
        views: per view an ``(n, d)`` tensor of the storage dtype (``n`` kept rows, corpus order).
        weights: eq. 4's weight of each view.
        starts, lengths: ``(n,)`` int64 position of each row's first stored count, and how many.
        indices: ``(nnz,)`` int32 word of each stored count; counts: ``(nnz,)`` float32 counts.
        row_sums: ``(n,)`` float32 word count of each row.
        row_nnz, row_tokens: the same on the host, ``(n,)`` int64 stored counts and tokens per
            row, so a batch's sizes are known without asking the device.
        conversion_error: ``{"max_abs", "relative_rms"}`` of the stored views against the shards.
    """

    def __init__(self, data: TrainingData, device: torch.device, dtype: torch.dtype):
        self.device, self.weights, self.dim = device, list(data.weights), data.dim
        kept = np.flatnonzero(data.keep)
        self.views, self.conversion_error = _load_views(data, device, dtype)
        counts = data.bow.counts[kept]
        self.row_nnz = np.diff(counts.indptr).astype(np.int64)
        self.row_tokens = np.asarray(counts.sum(axis=1), dtype=np.int64).ravel()
        to_device = lambda a: torch.from_numpy(np.ascontiguousarray(a)).to(device)  # noqa: E731
        self.starts, self.lengths = to_device(counts.indptr[:-1].astype(np.int64)), to_device(self.row_nnz)
        self.indices = to_device(counts.indices.astype(np.int32))
        self.counts = to_device(counts.data.astype(np.float32))
        self.row_sums = to_device(self.row_tokens.astype(np.float32))
        self._buffers = _CpuBuffers() if device.type == "cpu" else None

    def __len__(self) -> int:
        return len(self.row_nnz)

    def batches(self, batch_size: int, rng: np.random.Generator) -> Iterator[Batch]:
        """One epoch: every kept row once, batches cut from a permutation drawn from ``rng``
        (within a batch the rows are in storage order: the gather reads memory forwards)."""
        order = rng.permutation(len(self))
        bounds = np.arange(0, len(self), batch_size)
        for lo in bounds:
            order[lo : lo + batch_size].sort()
        on_device = torch.from_numpy(order).to(self.device)  # one copy per epoch
        nnz = np.add.reduceat(self.row_nnz[order], bounds)
        tokens = np.add.reduceat(self.row_tokens[order], bounds)
        for i, lo in enumerate(bounds):
            yield self._gather(on_device[lo : lo + batch_size], int(nnz[i]), int(tokens[i]))

    def batch_of(self, rows: np.ndarray) -> Batch:
        """The batch of the kept rows at positions ``rows`` (``0 ≤ rows < len(self)``), in that order."""
        rows = np.asarray(rows, dtype=np.int64)
        idx = torch.from_numpy(rows).to(self.device)
        return self._gather(idx, int(self.row_nnz[rows].sum()), int(self.row_tokens[rows].sum()))

    def _gather(self, idx: torch.Tensor, nnz: int, tokens: int) -> Batch:
        """Batch of the rows ``idx`` (``(B,)`` int64 on the device) holding ``nnz`` stored counts."""
        b = idx.shape[0]
        shape = (b * len(self.views), self.dim)
        if self._buffers is not None:
            x = self._buffers.empty(shape)
        else:
            x = torch.empty(shape, dtype=torch.float32, device=self.device)
        for v, view in enumerate(self.views):
            _select_rows(view, idx, x[v * b : (v + 1) * b])
        lengths = self.lengths.index_select(0, idx)
        local = torch.repeat_interleave(lengths, output_size=nnz)  # (nnz,) batch row of each count, sorted
        shift = self.starts.index_select(0, idx) - (lengths.cumsum(0) - lengths)  # CSR − batch position of a row
        positions = torch.arange(nnz, device=self.device).add_(shift.index_select(0, local))
        cols = self.indices.index_select(0, positions).long()
        rows, cols, vals, totals = weighted_rows(local, cols, self.counts.index_select(0, positions),
                                                 self.row_sums.index_select(0, idx), b, self.weights)
        return Batch(x, rows, cols, vals, totals, tokens)


class _CpuBuffers:
    """``(N, d)`` float32 batch buffers reused on the CPU, where a fresh tensor of a batch's size
    is mapped anew by the allocator and costs a page fault per 4 KiB (about 12k, tens of ms,
    per batch of 6000 × 2 × 1024). A buffer is handed out again only once no tensor shares its
    storage (the batch, its views and anything made from them are gone), so a consumer that
    keeps batches gets fresh ones. On a GPU the caching allocator does this already.
    """

    def __init__(self, keep: int = 2):
        self._pool: list[tuple[torch.Tensor, int]] = []  # buffer, use count of its storage when idle
        self._keep = keep

    def empty(self, shape: tuple[int, int]) -> torch.Tensor:
        for buffer, idle in self._pool:
            if buffer.shape == shape and _storage_uses(buffer) == idle:
                return buffer.view(shape)  # a new tensor on the buffer's storage: counted while alive
        buffer = torch.empty(shape, dtype=torch.float32)
        uses = _storage_uses(buffer)
        if uses is not None and len(self._pool) < self._keep:
            self._pool.append((buffer, uses))
        return buffer.view(shape)


def _storage_uses(tensor: torch.Tensor) -> int | None:
    """How many tensors share ``tensor``'s storage (``None`` where torch does not say)."""
    use_count = getattr(torch._C, "_storage_Use_Count", None)
    return None if use_count is None else int(use_count(tensor.untyped_storage()._cdata))


def _select_rows(view: torch.Tensor, idx: torch.Tensor, out: torch.Tensor) -> None:
    """``out[:] = view[idx]`` as float32, written in place."""
    if view.dtype == out.dtype:
        torch.index_select(view, 0, idx, out=out)
    else:
        out.copy_(view.index_select(0, idx))


def _load_views(data: TrainingData, device: torch.device, dtype: torch.dtype) -> tuple[list[torch.Tensor], dict]:
    """The kept rows of every view as ``(n, d)`` ``dtype`` tensors on ``device``, and the conversion error."""
    views = [torch.empty((len(data), data.dim), dtype=dtype, device=device) for _ in data.views]
    error = ConversionError(device)
    n, filled = len(data.bow.ids), 0
    for lo in range(0, n, LOAD_ROWS):
        hi = min(n, lo + LOAD_ROWS)
        keep = data.keep[lo:hi]
        m = int(keep.sum())
        for view, out in zip(data.views, views):
            exact = torch.from_numpy(view.read_rows(lo, hi)[keep]).to(device)
            out[filled : filled + m] = exact
            if dtype != torch.float32:
                error.add(exact, out[filled : filled + m], view)
        filled += m
    return views, error.summary()


def resident_or_streamed(
    data: TrainingData, budget_gb: float | None, dtype_name: str, device: torch.device,
) -> tuple[ResidentData | None, dict]:
    """Load ``data`` onto ``device`` when it fits the budget, else leave it to stream.

    Args:
        data: the training views and bag of words.
        budget_gb: ``training.resident_memory_gb`` (``None``: :func:`memory_budget`'s default; 0: stream).
        dtype_name: ``training.resident_dtype``.
        device: the training device.

    Returns:
        ``(resident data or None, record)``; the record (logged, and kept in the training
        summary) has ``path`` (``resident`` or ``streamed``), ``dtype`` (of the values the
        batches are read from), ``budget_gb``, ``budget_source``, ``needed_gb``,
        ``conversion_error`` (resident only) and ``load_seconds``.
    """
    dtype = storage_dtype(dtype_name)
    budget, source = memory_budget(budget_gb, device)
    needed = resident_bytes(data, dtype)
    record = {"budget_gb": budget / GIB, "budget_source": source, "needed_gb": needed / GIB}
    if needed > budget:
        log.info("training data: streamed from the shards; held on %s as %s they would need %.4g GiB, over the "
                 "budget of %.4g GiB (%s)", device, dtype_name, needed / GIB, budget / GIB, source)
        return None, {"path": "streamed", "dtype": "float32", **record, "conversion_error": None, "load_seconds": 0.0}
    started = time.perf_counter()
    resident = ResidentData(data, device, dtype)
    seconds = round(time.perf_counter() - started, 3)
    log.info("training data: resident on %s as %s, %.4g GiB of the budget of %.4g GiB (%s), loaded in %.1f s; "
             "conversion error: max abs %.3g, relative rms %.3g", device, dtype_name, needed / GIB, budget / GIB,
             source, seconds, resident.conversion_error["max_abs"], resident.conversion_error["relative_rms"])
    return resident, {"path": "resident", "dtype": dtype_name, **record,
                      "conversion_error": resident.conversion_error, "load_seconds": seconds}
