"""Atomic writes leave either the whole file or none, and clean up after killed writers."""

from __future__ import annotations

import os
import subprocess
import sys

from flip_pipeline.atomic import write_json, write_text


def dead_pid() -> int:
    """The id of a process that has exited."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_the_next_write_removes_temporaries_that_killed_writers_left(tmp_path):
    pid = dead_pid()
    stale = [tmp_path / f".config.json.tmp-{pid}", tmp_path / f".fig.png.tmp-{pid}"]
    live = tmp_path / f".config.json.tmp-{os.getppid()}"  # its writer is alive: left alone
    for path in [*stale, live]:
        path.write_text("half written")
    write_json(tmp_path / "config.json", {"a": 1})
    assert not stale[0].exists() and stale[1].exists()  # only the target written now is cleaned
    write_text(tmp_path / "fig.png", "x")
    assert not stale[1].exists() and live.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [live.name, "config.json", "fig.png"]
