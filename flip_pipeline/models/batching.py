"""Length-sorted batching: sort inputs by length, cut batches, put the results back in order.

Padding costs compute in proportion to the spread of lengths in a batch; sorting the
whole shard by length first makes that spread small. Batches are cut longest first so
that an out-of-memory batch shows up at once, not at the end of a shard.
:func:`prefetched` prepares the next batch (tokenise, pad, copy to the device) on a
thread while the model runs the current one; :func:`to_device` copies a batch from pinned
memory without making the host wait; :class:`HostCopies` brings the vectors back the same
way, so on a GPU the host queues batch after batch and never waits for one to finish.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np
import torch

T = TypeVar("T")
U = TypeVar("U")


def cpu_token_budget(max_tokens: int | None, device: str | torch.device, cpu_default: int) -> int | None:
    """The padded-token budget per batch: ``max_tokens`` when given, else ``cpu_default``
    on CPU (matrix products of a few hundred rows stay in cache, so batches sized by
    tokens beat a fixed number of sentences; see benchmarks/embed.py) and none on GPU."""
    if max_tokens is None and torch.device(device).type == "cpu":
        return cpu_default
    return max_tokens


def length_sorted_batches(lengths: Sequence[int], batch_size: int, max_units: int | None = None) -> list[np.ndarray]:
    """Group row indices into batches of similar length.

    Args:
        lengths: length of each row (tokens, audio frames, …), ``(n,)``.
        batch_size: most rows per batch.
        max_units: if given, most ``rows × longest row`` per batch (a padded-size budget);
            a single row longer than the budget still forms its own batch.

    Returns:
        Index arrays, longest rows first; every row index appears in exactly one batch.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    lengths = np.asarray(lengths, dtype=np.int64)
    order = np.argsort(-lengths, kind="stable")
    batches: list[np.ndarray] = []
    start = 0
    while start < len(order):
        longest = max(int(lengths[order[start]]), 1)
        rows = batch_size if max_units is None else max(1, min(batch_size, max_units // longest))
        batches.append(order[start : start + rows])
        start += rows
    return batches


def prefetched(prepare: Callable[[T], U], items: Iterable[T]) -> Iterator[U]:
    """``prepare(item)`` for each item in order, the next one computed on a background
    thread while the caller uses the current one (a queue of one: at most two prepared
    items exist). An exception of ``prepare`` is raised where its result is taken."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="prefetch") as thread:
        items = iter(items)
        pending = [thread.submit(prepare, item) for item in itertools.islice(items, 1)]
        while pending:
            ready = pending.pop().result()
            pending = [thread.submit(prepare, item) for item in itertools.islice(items, 1)]
            yield ready


def to_device(tensor: torch.Tensor, device: torch.device, dtype: torch.dtype | None = None) -> torch.Tensor:
    """``tensor`` (on the host) on ``device`` in ``dtype``: to a GPU through pinned memory without
    waiting for the copy (it is queued on the current stream, before the work that reads it)."""
    if device.type == "cuda":
        tensor = tensor.pin_memory()
    return tensor.to(device, dtype, non_blocking=device.type == "cuda")


class HostCopies:
    """Vectors of batches computed on a device, brought back to the host without waiting for them.

    :meth:`put` starts copying a batch's ``(rows, dim)`` vectors into pinned host memory on the
    device's stream and hands them to ``store(rows, float32 array)`` once ``lag`` later batches
    were put (or at :meth:`finish`), by which time they are long done: the host keeps queueing
    work instead of waiting at every batch. Vectors on the CPU are stored at once.
    """

    def __init__(self, store: Callable[[np.ndarray, np.ndarray], None], lag: int = 8):
        self.store, self.lag = store, lag
        self._pending: deque[tuple[np.ndarray, torch.Tensor, torch.cuda.Event]] = deque()

    def put(self, rows: np.ndarray, vectors: torch.Tensor) -> None:
        vectors = vectors.float()
        if vectors.device.type != "cuda":
            self.store(rows, vectors.numpy())
            return
        host = torch.empty(vectors.shape, dtype=torch.float32, pin_memory=True)
        host.copy_(vectors, non_blocking=True)
        done = torch.cuda.Event()
        done.record(torch.cuda.current_stream(vectors.device))
        self._pending.append((rows, host, done))
        while len(self._pending) > self.lag:
            self._store_oldest()

    def finish(self) -> None:
        """Store every batch still pending."""
        while self._pending:
            self._store_oldest()

    def _store_oldest(self) -> None:
        rows, host, done = self._pending.popleft()
        done.synchronize()
        self.store(rows, host.numpy())
