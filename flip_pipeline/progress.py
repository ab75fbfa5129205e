"""Progress you can see: a bar on a terminal, periodic plain lines in a log file, one summary line per stage.

A long stage opens ``with progress(total, unit, desc) as bar:`` and moves it (``bar.advance(n)``,
``bar.reach(done)``, ``bar.status("dev recall 0.431")``); code deep inside the stage, such as an
encoder's batch loop, calls the module's :func:`advance`, which moves the innermost open bar and
does nothing when none is open (an encoder used outside a stage). Where the stage's stderr is a
terminal the bar is tqdm's (rate, ETA, the status after it; log lines printed above it); where it is
not (a Snakemake job's log file, a pipe) a plain line is logged after every :data:`EVERY_PERCENT` percent more
or :data:`EVERY_S` seconds, whichever comes first, so a log file shows progress without a line per
batch. Every stage ends with :func:`stage_done`: one line saying what it read, what it wrote and how long
it took.
"""

from __future__ import annotations

import logging
import math
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

EVERY_PERCENT = 10  # a plain progress line after every 10% more ...
EVERY_S = 30.0  # ... and at least every 30 s

_OPEN: list[Progress] = []  # the bars open now, innermost last


def duration(seconds: float) -> str:
    """``"0.42 s"``, ``"12.3 s"``, ``"4 min 05 s"``, ``"2 h 03 min"``: a time span read at a glance."""
    if seconds < 1:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"


def count(n: int, unit: str = "") -> str:
    """``12,345 rows``: an integer with thousands separators, and its unit when given."""
    return f"{n:,} {unit}".strip()


class Progress:
    """How far one stage is: ``done`` of ``total`` units, shown as a bar or as periodic log lines.

    Args:
        total: units of work (rows, iterations, comparisons); 0 is allowed (nothing to do).
        unit: what a unit is, e.g. ``"rows"``, ``"it"``.
        desc: what is being done, the start of every line, e.g. ``"embed minilm text_en"``.
        log: the logger the plain lines go to.
        stream: where the bar is drawn; a bar only if it is a terminal (default: stderr).
        clock: seconds, monotonic (tests pass their own).
    """

    def __init__(self, total: int, unit: str, desc: str, log: logging.Logger, stream: TextIO | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.total, self.unit, self.desc, self.log, self.clock = max(int(total), 0), unit, desc, log, clock
        self.done, self.text = 0, ""
        self.started = self._last_line = clock()
        self._next_percent = EVERY_PERCENT
        self._lock = threading.Lock()
        stream = stream if stream is not None else sys.stderr
        self.bar = None
        if _is_terminal(stream):
            from tqdm.auto import tqdm

            self.bar = tqdm(total=self.total, unit=f" {unit}", desc=desc, file=stream, dynamic_ncols=True,
                            mininterval=0.5, leave=True)

    def advance(self, n: int = 1) -> None:
        """``n`` more units done."""
        if n <= 0:
            return
        with self._lock:
            self.done += n
            if self.bar is not None:
                self.bar.update(n)
            else:
                self._maybe_line()

    def reach(self, done: int) -> None:
        """At least ``done`` units done (a stage's checkpoint after the finer :func:`advance` of its parts)."""
        self.advance(done - self.done)

    def status(self, text: str) -> None:
        """A short note after the numbers, e.g. ``"dev recall 0.431 (best 0.452 at 9)"``."""
        self.text = text
        if self.bar is not None:
            self.bar.set_postfix_str(text, refresh=False)

    def line(self) -> str:
        """``"embed minilm text_en: 1,200/3,000 rows (40%), 85.3 rows/s, ETA 21.1 s; <status>"``."""
        elapsed = max(self.clock() - self.started, 1e-9)
        rate = self.done / elapsed
        percent = f" ({math.floor(100 * self.done / self.total)}%)" if self.total else ""
        speed = _speed(rate, self.unit)
        eta = f", ETA {duration((self.total - self.done) / rate)}" if 0 < self.done < self.total else ""
        status = f"; {self.text}" if self.text else ""
        return f"{self.desc}: {self.done:,}/{self.total:,} {self.unit}{percent}, {speed}{eta}{status}"

    def _maybe_line(self) -> None:
        if self.done >= self.total:  # the stage's summary line follows
            return
        now = self.clock()
        percent = 100 * self.done / self.total
        if percent >= self._next_percent or now - self._last_line >= EVERY_S:
            self.log.info("%s", self.line())
            self._last_line = now
            self._next_percent = percent + EVERY_PERCENT  # from this line on: no two lines a few rows apart

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _speed(rate: float, unit: str) -> str:
    """``"1,234 rows/s"``, ``"85.3 rows/s"``, ``"0.25 rows/s"``; slower than one per 10 s: ``"12.5 s/it"``."""
    if rate >= 100:
        return f"{rate:,.0f} {unit}/s"
    if rate >= 1 or rate == 0:
        return f"{rate:.1f} {unit}/s"
    if rate >= 0.1:
        return f"{rate:.2f} {unit}/s"
    return f"{1 / rate:,.1f} s/{unit}"


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed, or not a file
        return False


@contextmanager
def progress(total: int, unit: str, desc: str, log: logging.Logger, stream: TextIO | None = None,
             clock: Callable[[], float] = time.monotonic) -> Iterator[Progress]:
    """A :class:`Progress` open for the block, the one :func:`advance` moves; on a terminal, log lines
    are printed above its bar (tqdm's logging redirect) instead of through it."""
    bar = Progress(total, unit, desc, log, stream, clock)
    _OPEN.append(bar)
    try:
        if bar.bar is None:
            yield bar
        else:
            from tqdm.contrib.logging import logging_redirect_tqdm

            with logging_redirect_tqdm():
                yield bar
    finally:
        _OPEN.remove(bar)
        bar.close()


def advance(n: int = 1) -> None:
    """``n`` more units of the innermost open :func:`progress` (an encoder's batch); nothing if none is open."""
    if _OPEN:
        _OPEN[-1].advance(n)


def stage_done(log: logging.Logger, stage: str, started: float, **facts: str) -> str:
    """Log (and return) the stage's one summary line: ``"<stage> done in 12.3 s: read …; wrote …; …"``.

    Args:
        stage: the stage and what it worked on, e.g. ``"embed minilm text_en"``.
        started: ``time.perf_counter()`` when the stage began.
        facts: in order, each ``name=value`` written ``name value`` (``_`` as a space), e.g.
            ``read="corpora/sample/test.parquet (600 rows)"``, ``wrote=…``, ``best_iteration="9"``.
    """
    parts = "; ".join(f"{name.replace('_', ' ')} {value}" for name, value in facts.items())
    line = f"{stage} done in {duration(time.perf_counter() - started)}: {parts}"
    log.info("%s", line)
    return line
