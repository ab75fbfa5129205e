"""Length-sorted batching: sort inputs by length, cut batches, put the results back in order.

Padding costs compute in proportion to the spread of lengths in a batch; sorting the
whole shard by length first makes that spread small. Batches are cut longest first so
that an out-of-memory batch shows up at once, not at the end of a shard.
:func:`prefetched` prepares the next batch (tokenise, pad, copy to the device) on a
thread while the model runs the current one.
"""

from __future__ import annotations

import itertools
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
