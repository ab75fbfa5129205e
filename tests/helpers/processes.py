"""Process ids for tests of the clean-up after killed writers (flip_pipeline.atomic)."""

from __future__ import annotations

import subprocess
import sys


def dead_pid() -> int:
    """The id of a process that has exited."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid
