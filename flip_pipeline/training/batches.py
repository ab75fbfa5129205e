"""Training batches streamed from embedding shards and a CSR bag of words.

Memory stays bounded as the corpus grows: embeddings are read a *chunk* (a contiguous
slice of ``chunk_batches × batch_size`` rows) at a time from the shards, and the bag of
words stays sparse. Shuffling: every epoch visits the chunks in a random order and
permutes the rows inside each chunk, so batches differ from epoch to epoch.

:meth:`TrainingData.batches` keeps a device fed: a pool of ``workers`` threads reads and
decodes each chunk in pieces (one per row group and view, at once; Arrow and numpy release
the GIL), then builds the chunk's batches at once, each straight into pinned host memory when
the device is a GPU, while the next chunk is read; each batch is copied to the GPU on a side
stream that the training stream waits for, so copies overlap the steps. At most three chunks
are held: the one being read, the one whose batches are built, and its built batches.
:meth:`TrainingData.serial_batches` is the path it replaces (one background thread reading
the next chunk whole; batches built in line): the same batches, kept as the reference the
tests and ``benchmarks/data_path.py`` compare it with.

This is the path for views that do not fit the training device's memory budget; those
that do are held there whole and gathered by index (:mod:`flip_pipeline.training.resident`).
Both build the same :class:`Batch` (:func:`weighted_rows` stacks the views' targets).
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch

from flip_pipeline.device import job_cpus
from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.bow import BagOfWords
from flip_pipeline.formats.shards import ViewEmbeddings
from flip_pipeline.training.alignment import AlignedView


@dataclass
class Batch:
    """One optimisation batch with every weighted view stacked.

    Attributes:
        x: ``(N, d)`` float32 embeddings, views stacked (``N = B × n_views``).
        rows, cols: ``(nnz,)`` int64 coordinates of the counts in the stacked batch.
        vals: ``(nnz,)`` float32 counts × the row's view weight (``α`` or ``1 − α``).
        totals: ``(N,)`` float32 weighted word count per row.
        tokens: unweighted in-vocabulary tokens in the batch (per view), for logging.
    """

    x: torch.Tensor
    rows: torch.Tensor
    cols: torch.Tensor
    vals: torch.Tensor
    totals: torch.Tensor
    tokens: int

    def tensors(self) -> tuple[torch.Tensor, ...]:
        return self.x, self.rows, self.cols, self.vals, self.totals

    def to(self, device: torch.device, non_blocking: bool = False) -> Batch:
        """The batch on ``device`` (itself when it is there already)."""
        moved = [t.to(device, non_blocking=non_blocking) for t in self.tensors()]
        return Batch(*moved, self.tokens)


def weighted_rows(
    local_rows: torch.Tensor, cols: torch.Tensor, counts: torch.Tensor, row_sums: torch.Tensor, n_rows: int,
    weights: list[float],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The sparse targets of a batch with its views stacked in ``weights`` order.

    Args:
        local_rows, cols: ``(nnz,)`` int64 batch row (sorted) and word of each count.
        counts: ``(nnz,)`` float32 counts; row_sums: ``(n_rows,)`` float32 word count per row.
        n_rows: sentences in the batch (``B``); weights: one weight per view.

    Returns:
        ``rows``, ``cols``, ``vals`` ``(V·nnz,)`` and ``totals`` ``(V·B,)`` of :class:`Batch`: view
        ``v``'s copy of row ``i`` is row ``v·B + i``, its counts and total × ``weights[v]``.
    """
    rows = torch.cat([local_rows + v * n_rows for v in range(len(weights))])
    vals = torch.cat([counts * w for w in weights])
    return rows, cols.repeat(len(weights)), vals, torch.cat([row_sums * w for w in weights])


def _targets(counts: sp.csr_matrix, weights: list[float], device: torch.device, pin: bool = False):
    """``rows, cols, vals, totals`` of :func:`weighted_rows` for the counts ``(B, W)`` of a batch, on
    ``device`` (built on the host, in pinned memory, if ``pin``), and its unweighted token count."""
    b = counts.shape[0]
    as_t = lambda a: torch.from_numpy(np.ascontiguousarray(a)).to(device, non_blocking=True)  # noqa: E731
    local_rows = np.repeat(np.arange(b, dtype=np.int64), np.diff(counts.indptr))
    row_sums = np.asarray(counts.sum(axis=1), dtype=np.float32).ravel()
    targets = weighted_rows(as_t(local_rows), as_t(counts.indices.astype(np.int64)),
                            as_t(counts.data.astype(np.float32)), as_t(row_sums), b, weights)
    return tuple(t.pin_memory() for t in targets) if pin else targets, int(counts.data.sum())


def stack_views(xs: list[np.ndarray], weights: list[float], counts: sp.csr_matrix, device: torch.device) -> Batch:
    """Build a :class:`Batch` from per-view embeddings ``(B, d)`` sharing the counts ``(B, W)``."""
    targets, tokens = _targets(counts, weights, device)
    x = np.concatenate(xs) if len(xs) > 1 else xs[0]
    return Batch(torch.from_numpy(np.ascontiguousarray(x)).to(device, non_blocking=True), *targets, tokens)


def gather_batch(xs: list[np.ndarray], rows: np.ndarray, weights: list[float], counts: sp.csr_matrix,
                 pin: bool) -> Batch:
    """The :class:`Batch` of the rows ``rows`` of per-view embeddings ``xs`` (each ``(n, d)``) and of
    ``counts`` ``(n, W)``, on the host: :func:`stack_views` of those rows, each view's rows
    gathered straight into the stacked ``(B·V, d)`` tensor (one copy), in pinned memory if ``pin``
    (so that a copy to a GPU runs while the host goes on)."""
    b, dim = len(rows), xs[0].shape[1]
    if pin:  # torch's pinned allocator keeps freed blocks for the next batch
        x = torch.empty((b * len(xs), dim), dtype=torch.float32, pin_memory=True)
    else:  # numpy maps large arrays in huge pages: a fresh batch costs far fewer page faults
        x = torch.from_numpy(np.empty((b * len(xs), dim), dtype=np.float32))
    stacked = x.numpy()
    for v, view in enumerate(xs):  # mode "clip": rows are in range, and "raise" buffers the copy
        np.take(view, rows, axis=0, out=stacked[v * b : (v + 1) * b], mode="clip")
    targets, tokens = _targets(counts[rows], weights, torch.device("cpu"), pin)
    return Batch(x, *targets, tokens)


class _DeviceCopies:
    """Host batches copied to a CUDA device on a side stream: the copy of a batch runs while the
    device still works on the steps queued before it; the consumer's stream waits for it only
    where it uses the batch. Elsewhere batches pass as they are."""

    def __init__(self, device: torch.device):
        self.device = device
        self.stream = torch.cuda.Stream(device) if device.type == "cuda" else None

    def __call__(self, batch: Batch) -> Batch:
        if self.stream is None:
            return batch.to(self.device)
        with torch.cuda.stream(self.stream):
            moved = batch.to(self.device, non_blocking=True)
        consumer = torch.cuda.current_stream(self.device)
        consumer.wait_stream(self.stream)
        for tensor in moved.tensors():
            tensor.record_stream(consumer)  # its memory is not reused before the consumer is done
        return moved


class TrainingData:
    """Weighted views of one corpus split paired with the bag of words of the target text.

    Args:
        views: embedded views, e.g. text and speech, each ``n`` rows of dimension ``d``.
        weights: one weight per view (``α``, ``1 − α``); views of weight 0 are dropped.
        bow: bag of words of the target text view, rows aligned with the views.
        bow_path: file of ``bow``, for error messages.
        keep: optional ``(n,)`` bool mask of the rows to train on (the published
            ``sim_threshold`` filter, see :func:`flip_pipeline.stages.pair.similarity_mask`).
            Rows a view's encoder skipped (listed in its manifest) are dropped as well.
    """

    def __init__(
        self, views: list[ViewEmbeddings], weights: list[float], bow: BagOfWords, bow_path: str,
        keep: np.ndarray | None = None,
    ):
        kept = [(v, w) for v, w in zip(views, weights) if w > 0]
        if not kept:
            raise FlipInputError("every training view has weight 0; set alpha so at least one view counts")
        dims = {str(v.view_dir): v.dim for v, _ in kept}
        if len(set(dims.values())) != 1:
            raise FlipInputError(f"training views have different embedding dimensions: {dims}")
        self.views = [AlignedView(v, bow.ids, bow_path) for v, _ in kept]
        self.weights = [w for _, w in kept]
        self.bow = bow
        self.dim = self.views[0].dim
        self.keep = np.ones(len(bow.ids), dtype=bool) if keep is None else np.asarray(keep, dtype=bool)
        if len(self.keep) != len(bow.ids):
            raise FlipInputError(f"{bow_path}: the row filter has {len(self.keep)} rows, the corpus {len(bow.ids)}")
        for view in self.views:  # rows an encoder skipped (bad audio) are not trained on
            self.keep = self.keep & view.present
        if not self.keep.any():
            raise FlipInputError(f"{bow_path}: the row filter keeps {int(self.keep.sum())} of {len(bow.ids)} rows")

    def __len__(self) -> int:
        """Rows trained on (after the optional filter)."""
        return int(self.keep.sum())

    def rows_without_words(self) -> int:
        """Kept sentences with no in-vocabulary token: they add nothing to the objective (counted, kept)."""
        return int(((np.diff(self.bow.counts.indptr) == 0) & self.keep).sum())

    def word_counts(self) -> np.ndarray:
        """``(W,)`` corpus frequency of every vocabulary word in the kept rows."""
        return np.asarray(self.bow.counts[self.keep].sum(axis=0)).ravel()

    def _read_chunk(self, lo: int, hi: int) -> list[np.ndarray]:
        return [v.read_rows(lo, hi) for v in self.views]

    def _start_read(self, pool: ThreadPoolExecutor, lo: int, hi: int) -> tuple[list[np.ndarray], list[Future]]:
        """Every view's rows ``[lo, hi)`` read by ``pool`` into new arrays, one task per row group
        piece and view: ``(arrays, tasks)``; the arrays are complete once every task is."""
        starts = self.views[0].row_group_starts()
        cuts = [lo, *starts[(starts > lo) & (starts < hi)].tolist(), hi]
        arrays = [np.empty((hi - lo, self.dim), dtype=np.float32) for _ in self.views]
        tasks = [pool.submit(view.read_rows, a, b, out[a - lo : b - lo])
                 for view, out in zip(self.views, arrays) for a, b in zip(cuts, cuts[1:])]
        return arrays, tasks

    def batches(
        self, batch_size: int, rng: np.random.Generator, device: torch.device, chunk_batches: int = 8,
        workers: int | None = None,
    ) -> Iterator[Batch]:
        """One epoch of shuffled batches, read and built by ``workers`` threads (default: the job's
        CPUs, :func:`flip_pipeline.device.job_cpus`) and copied to ``device`` (see the module
        docstring). The same batches, in the same order, as :meth:`serial_batches` with ``rng`` in
        the same state."""
        n = len(self.bow.ids)
        chunk = batch_size * chunk_batches
        starts = rng.permutation(np.arange(0, n, chunk))
        to_device, pin = _DeviceCopies(device), device.type == "cuda"
        with ThreadPoolExecutor(max_workers=workers or job_cpus(), thread_name_prefix="stream") as pool:
            reading = self._start_read(pool, int(starts[0]), min(n, int(starts[0]) + chunk))
            for i, lo in enumerate(starts):
                hi = min(n, int(lo) + chunk)
                xs, tasks = reading
                for task in tasks:
                    task.result()
                order = rng.permutation(hi - lo)
                order = order[self.keep[lo + order]]
                counts = self.bow.counts[int(lo) : hi]
                built = [pool.submit(gather_batch, xs, order[s : s + batch_size], self.weights, counts, pin)
                         for s in range(0, len(order), batch_size)]
                if i + 1 < len(starts):  # queued after the builds: they come first
                    nxt = int(starts[i + 1])
                    reading = self._start_read(pool, nxt, min(n, nxt + chunk))
                for task in built:
                    yield to_device(task.result())

    def serial_batches(
        self, batch_size: int, rng: np.random.Generator, device: torch.device, chunk_batches: int = 8
    ) -> Iterator[Batch]:
        """One epoch of shuffled batches, the next chunk read whole on one background thread and
        batches built in line (the reference :meth:`batches` is compared with)."""
        n = len(self.bow.ids)
        chunk = batch_size * chunk_batches
        starts = rng.permutation(np.arange(0, n, chunk))
        with ThreadPoolExecutor(max_workers=1) as reader:
            future = reader.submit(self._read_chunk, int(starts[0]), min(n, int(starts[0]) + chunk))
            for i, lo in enumerate(starts):
                hi = min(n, int(lo) + chunk)
                xs = future.result()
                if i + 1 < len(starts):
                    nxt = int(starts[i + 1])
                    future = reader.submit(self._read_chunk, nxt, min(n, nxt + chunk))
                order = rng.permutation(hi - lo)
                order = order[self.keep[lo + order]]
                counts = self.bow.counts[int(lo) : hi]
                for s in range(0, len(order), batch_size):
                    idx = order[s : s + batch_size]
                    yield stack_views([x[idx] for x in xs], self.weights, counts[idx], device)
