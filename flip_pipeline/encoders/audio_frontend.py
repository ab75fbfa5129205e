"""The parallel audio front end of the speech encoders: per-clip work in worker processes.

Decoding, resampling and filterbanks (:mod:`~flip_pipeline.encoders.audio_features`) take a
few milliseconds of CPU per clip: one thread feeds tens of clips per second, where a GPU
encodes hundreds. :class:`AudioFrontEnd` runs a per-clip function over a list of paths on
``workers`` processes and yields the results in input order, with at most ``queue`` clips
submitted and not yet consumed (a bounded queue: memory stays bounded, and the clips after
the ones being consumed are computed while the caller runs its model).

Only paths go to the workers, and arrays (or the :class:`AudioError` of a bad clip) come
back; the workers import :mod:`~flip_pipeline.encoders.audio_features` (numpy, soundfile,
scipy, fairseq2's filterbank converter) and run torch on one thread each, never a model.
They are forked from multiprocessing's fork server, which imports those modules once: no
fork of a process that holds CUDA or threads, and a new pool starts in milliseconds.
``workers=0`` runs the same functions in this process on one background thread (the serial
front end); the results are bitwise the same either way.

The default worker count is the job's CPUs (:func:`~flip_pipeline.device.job_cpus`: SLURM's
``--cpus-per-task``, else this process's CPU affinity); config key
``encoders.<name>.audio_workers``.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

from flip_pipeline.device import job_cpus
from flip_pipeline.encoders import audio_features
from flip_pipeline.encoders.audio_features import AudioError
from flip_pipeline.errors import FlipInputError

log = logging.getLogger(__name__)

#: Clips per task of the speech encoders' filterbank work (see :meth:`AudioFrontEnd.map`).
CLIPS_PER_TASK = 4
#: Modules the fork server imports once, so that each worker starts with them loaded.
PRELOAD = (__name__, audio_features.__name__, "torch", "fairseq2.data.audio", "scipy.signal", "soundfile")


def audio_workers(encoder: str, requested: int | None) -> int:
    """The worker count of ``encoders.<encoder>.audio_workers``: ``requested`` when given
    (0: in this process), else :func:`~flip_pipeline.device.job_cpus`."""
    if requested is None:
        return job_cpus()
    if isinstance(requested, bool) or not isinstance(requested, int) or requested < 0:
        raise FlipInputError(f"encoders.{encoder}.audio_workers: expected an integer >= 0, got {requested!r}")
    return requested


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)  # one process per CPU; more threads per process only contend


def _run(fn: Callable[[str], Any], paths: Sequence[str]) -> list[Any]:
    """``fn`` over ``paths`` in a worker: each result, or the :class:`AudioError` of a bad clip."""
    results: list[Any] = []
    for path in paths:
        try:
            results.append(fn(path))
        except AudioError as err:
            results.append(err)
    return results


class AudioFrontEnd:
    """Ordered, bounded parallel map of per-clip functions; a context manager.

    Args:
        workers: worker processes; 0 runs in this process on one background thread.
        queue: most clips submitted and not yet consumed (default: two chunks per worker).

    Leaving the ``with`` block, normally or by an exception, cancels the clips not yet
    started and waits for the workers to exit: no process outlives the block.
    """

    def __init__(self, workers: int, queue: int | None = None):
        if workers < 0:
            raise ValueError(f"workers must be >= 0, got {workers}")
        self.workers = workers
        self.queue = queue
        self._executor: Executor | None = None

    def __enter__(self) -> AudioFrontEnd:
        if self.workers == 0:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="audio-frontend")
        else:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(list(PRELOAD))
            self._executor = ProcessPoolExecutor(self.workers, mp_context=context, initializer=_init_worker)
        return self

    def __exit__(self, *exc_info) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)

    def map(self, fn: Callable[[str], Any], paths: Sequence[str], chunk: int = 1) -> Iterator[Any]:
        """Yield ``fn(path)`` for each path in order, or the :class:`AudioError` it raised.

        ``fn`` must be a module-level function (workers import it by name). ``chunk`` paths
        go to a worker at a time: fewer round trips (on 2 busy cores, 4 clips per task gave
        1.5x the clips/s of 1). Any other exception of ``fn``, or a worker that dies, is
        raised here.
        """
        if self._executor is None:
            raise RuntimeError("AudioFrontEnd.map outside its with block")
        executor = self._executor
        starts = iter(range(0, len(paths), chunk))
        pending: deque[Future] = deque()
        queue = self.queue if self.queue is not None else 2 * max(self.workers, 1) * chunk

        def top_up() -> None:
            while len(pending) * chunk < max(queue, chunk):
                start = next(starts, None)
                if start is None:
                    return
                pending.append(executor.submit(_run, fn, paths[start : start + chunk]))

        try:
            top_up()
            while pending:
                results = pending.popleft().result()
                top_up()
                yield from results
        finally:
            for future in pending:
                future.cancel()
