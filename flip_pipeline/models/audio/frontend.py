"""The parallel audio front end of the speech encoders: per-clip work in worker processes.

Decoding, resampling and filterbanks (:mod:`~flip_pipeline.models.audio.features`) take a
few milliseconds of CPU per clip: one thread feeds tens of clips per second, where a GPU
encodes hundreds. :class:`AudioFrontEnd` runs a per-clip function over a list of paths on
``workers`` processes and yields the results in input order, with at most ``queue`` clips
submitted and not yet consumed (a bounded queue: memory stays bounded, and the clips after
the ones being consumed are computed while the caller runs its model).

Only paths go to the workers, and arrays (or the :class:`AudioError` of a bad clip) come
back; the workers import :mod:`~flip_pipeline.models.audio.features` (numpy, soundfile,
scipy, fairseq2's filterbank converter) and run torch on one thread each, never a model.
They are forked from multiprocessing's fork server, which imports those modules once: no
fork of a process that holds CUDA or threads, and a new pool starts in milliseconds.
``workers=0`` runs the same worker loop in this process on one background thread (the
serial front end, its messages passed by reference); the results are bitwise the same
either way.

Each worker has a pipe of its own, whose far end only that worker holds, and no lock is
shared between workers. A worker killed at any moment (the OOM killer, a node's epilogue),
even halfway through sending a result, therefore ends its pipe: the consumer gets
:class:`AudioWorkerError` naming the worker instead of waiting forever. (A
``concurrent.futures.ProcessPoolExecutor`` can hang there: its workers share one result
pipe, and a message cut off by a killed writer blocks its reader.) A task goes to the
worker with the fewest tasks in flight; each worker computes its tasks in order and keeps
its results until the consumer reads them, so it never waits on the consumer.

The default worker count is the job's CPUs (:func:`~flip_pipeline.device.job_cpus`: SLURM's
``--cpus-per-task``, else this process's CPU affinity); config key
``encoders.<name>.audio_workers``.
"""

from __future__ import annotations

import itertools
import multiprocessing
import queue as queues
import threading
import traceback
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

from flip_pipeline.device import job_cpus
from flip_pipeline.errors import FlipInputError
from flip_pipeline.models.audio import features as audio_features
from flip_pipeline.models.audio.features import AudioError

#: Clips per task of the speech encoders' filterbank work (see :meth:`AudioFrontEnd.map`).
CLIPS_PER_TASK = 4
#: Modules the fork server imports once, so that each worker starts with them loaded.
PRELOAD = (__name__, audio_features.__name__, "torch", "fairseq2.data.audio", "scipy.signal", "soundfile")
#: Seconds a worker gets to exit after its pipe is closed, before it is killed.
EXIT_GRACE_S = 5.0


class AudioWorkerError(RuntimeError):
    """A worker of the audio front end died (was killed, or crashed) with clips in flight."""


def audio_workers(encoder: str, requested: int | None) -> int:
    """The worker count of ``encoders.<encoder>.audio_workers``: ``requested`` when given
    (0: in this process), else :func:`~flip_pipeline.device.job_cpus`."""
    if requested is None:
        return job_cpus()
    if isinstance(requested, bool) or not isinstance(requested, int) or requested < 0:
        raise FlipInputError(f"encoders.{encoder}.audio_workers: expected an integer >= 0, got {requested!r}")
    return requested


def _run(fn: Callable[[str], Any], paths: Sequence[str]) -> list[Any]:
    """``fn`` over ``paths`` in a worker: each result, or the :class:`AudioError` of a bad clip."""
    results: list[Any] = []
    for path in paths:
        try:
            results.append(fn(path))
        except AudioError as err:
            results.append(err)
    return results


def _send_results(conn: Connection | _LocalEnd, outbox: queues.SimpleQueue) -> None:
    """A worker's sender thread: ``(task id, ok, payload)`` messages from ``outbox`` to ``conn``
    until ``None``, or until the consumer has closed its end."""
    while (message := outbox.get()) is not None:
        try:
            conn.send(message)
            continue
        except (OSError, EOFError):
            return  # the consumer has closed its end
        except Exception as err:  # a payload that cannot be pickled: no byte of it went out
            task, _, payload = message
            failure = RuntimeError(f"the audio worker cannot send what it computed, "
                                   f"{type(payload).__name__} {payload!r:.200}: {err}")
        try:
            conn.send((task, False, failure))
        except (OSError, EOFError):
            return


def _serve(conn: Connection | _LocalEnd, one_thread: bool) -> None:
    """A worker's loop: ``(task id, fn, paths)`` from ``conn`` until the consumer closes it;
    each task's results are queued for the sender thread, so computing never waits on sending."""
    if one_thread:
        import torch

        torch.set_num_threads(1)  # one process per CPU; more threads per process only contend
    outbox: queues.SimpleQueue = queues.SimpleQueue()
    sender = threading.Thread(target=_send_results, args=(conn, outbox), daemon=True, name="audio-results")
    sender.start()
    try:
        while True:
            try:
                task, fn, paths = conn.recv()
            except (OSError, EOFError):
                return
            try:
                outbox.put((task, True, _run(fn, paths)))
            except Exception as err:
                err.add_note(f"in the audio front end's worker:\n{traceback.format_exc()}")
                outbox.put((task, False, err))
    finally:  # the consumer has closed its end: the sender's next send fails at once
        outbox.put(None)
        sender.join()
        conn.close()


class _LocalEnd:
    """One end of an in-process pipe between the consumer and the serial worker thread: the
    ``send``/``recv``/``close`` of a :class:`~multiprocessing.connection.Connection`, passing
    objects by reference (no copy). ``recv`` raises ``EOFError`` once the other end closed."""

    _CLOSED = object()

    def __init__(self, inbox: queues.SimpleQueue, outbox: queues.SimpleQueue):
        self._inbox, self._outbox = inbox, outbox

    @classmethod
    def pair(cls) -> tuple[_LocalEnd, _LocalEnd]:
        a, b = queues.SimpleQueue(), queues.SimpleQueue()
        return cls(a, b), cls(b, a)

    def send(self, message: Any) -> None:
        self._outbox.put(message)

    def recv(self) -> Any:
        message = self._inbox.get()
        if message is self._CLOSED:
            self._inbox.put(message)
            raise EOFError
        return message

    def close(self) -> None:
        self._outbox.put(self._CLOSED)


@dataclass
class _Worker:
    """The consumer's side of one worker: its pipe, its process (``None``: a thread here) and
    the tasks sent to it whose results have not arrived (``in_flight``) or not been taken."""

    conn: Connection | _LocalEnd
    process: multiprocessing.process.BaseProcess | None = None
    thread: threading.Thread | None = None
    in_flight: int = 0
    arrived: dict[int, tuple[bool, Any]] = field(default_factory=dict)
    abandoned: set[int] = field(default_factory=set)

    def died(self) -> AudioWorkerError:
        if self.process is None:
            return AudioWorkerError("the audio front end's worker thread ended with clips in flight")
        self.process.join(1.0)
        return AudioWorkerError(f"an audio front-end worker (pid {self.process.pid}) terminated abruptly "
                                f"(exit code {self.process.exitcode}) with clips in flight")

    def receive(self) -> tuple[int, bool, Any]:
        """The next message of this worker; :class:`AudioWorkerError` if it died instead."""
        if self.process is None or self.conn in wait([self.conn, self.process.sentinel]):
            try:
                return self.conn.recv()
            except (OSError, EOFError):
                pass  # cut off: the worker died halfway through a message
        raise self.died()

    def take(self, task: int) -> list[Any]:
        """The results of ``task``, reading (and keeping) this worker's earlier messages first."""
        while task not in self.arrived:
            done, ok, payload = self.receive()
            self.in_flight -= 1
            if done in self.abandoned:
                self.abandoned.discard(done)
            else:
                self.arrived[done] = (ok, payload)
        ok, payload = self.arrived.pop(task)
        if not ok:
            raise payload
        return payload

    def stop(self) -> None:
        """Close the pipe (the worker's next read ends its loop) and wait for the worker; a
        process still busy with clips is terminated, one that does not exit is killed."""
        self.conn.close()
        if self.thread is not None:
            self.thread.join()
        elif self.process is not None:
            if self.in_flight:
                self.process.terminate()
            self.process.join(EXIT_GRACE_S)
            if self.process.exitcode is None:
                self.process.kill()
                self.process.join()


class AudioFrontEnd:
    """Ordered, bounded parallel map of per-clip functions; a context manager.

    Args:
        workers: worker processes; 0 runs in this process on one background thread.
        queue: most clips submitted and not yet consumed; never fewer than two tasks per
            worker (the default), so that no worker idles through a round trip.

    Leaving the ``with`` block, normally or by an exception, drops the clips in flight and
    waits for the workers to exit: no process outlives the block.
    """

    def __init__(self, workers: int, queue: int | None = None):
        if workers < 0:
            raise ValueError(f"workers must be >= 0, got {workers}")
        self.workers = workers
        self.queue = queue
        self._pool: list[_Worker] = []
        self._tasks = itertools.count()

    def __enter__(self) -> AudioFrontEnd:
        try:
            if self.workers == 0:
                ours, theirs = _LocalEnd.pair()
                thread = threading.Thread(target=_serve, args=(theirs, False), daemon=True, name="audio-frontend")
                self._pool.append(_Worker(ours, thread=thread))
                thread.start()
            else:
                context = multiprocessing.get_context("forkserver")
                context.set_forkserver_preload(list(PRELOAD))
                for _ in range(self.workers):
                    ours, theirs = context.Pipe()
                    process = context.Process(target=_serve, args=(theirs, True), daemon=True,
                                              name="audio-frontend")
                    try:
                        process.start()
                    except BaseException:
                        ours.close()
                        raise
                    finally:
                        theirs.close()  # the worker holds the only other end: its death ends the pipe
                    self._pool.append(_Worker(ours, process=process))
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        pool, self._pool = self._pool, []
        for worker in pool:
            worker.stop()

    def map(self, fn: Callable[[str], Any], paths: Sequence[str], chunk: int = 1) -> Iterator[Any]:
        """Yield ``fn(path)`` for each path in order, or the :class:`AudioError` it raised.

        ``fn`` must be a module-level function (workers import it by name). ``chunk`` paths
        go to a worker at a time: fewer round trips (on 2 busy cores, 4 clips per task gave
        1.5x the clips/s of 1). Any other exception of ``fn`` is raised here, and a worker
        that dies raises :class:`AudioWorkerError`.
        """
        if not self._pool:
            raise RuntimeError("AudioFrontEnd.map outside its with block")
        starts = iter(range(0, len(paths), chunk))
        queue = max(self.queue or 0, 2 * max(self.workers, 1) * chunk)
        pending: deque[tuple[int, _Worker]] = deque()

        def top_up() -> None:
            while len(pending) * chunk < queue:
                start = next(starts, None)
                if start is None:
                    return
                worker = min(self._pool, key=lambda w: w.in_flight)
                task = next(self._tasks)
                try:
                    worker.conn.send((task, fn, paths[start : start + chunk]))
                except (OSError, EOFError):
                    raise worker.died() from None
                worker.in_flight += 1
                pending.append((task, worker))

        try:
            top_up()
            while pending:
                task, worker = pending.popleft()
                results = worker.take(task)
                top_up()
                yield from results
        finally:  # a map left early (an error, a generator dropped): its results are not kept
            for task, worker in pending:
                if worker.arrived.pop(task, None) is None:
                    worker.abandoned.add(task)
