"""Atomic writes leave either the whole file or none, and clean up after killed writers."""

from __future__ import annotations

import os
import socket

from helpers.processes import dead_pid

from flip_pipeline.atomic import remove_orphaned_temporaries, write_json, write_text

HOST = socket.gethostname()


def test_the_next_write_removes_temporaries_that_killed_writers_left(tmp_path):
    pid = dead_pid()
    stale = [tmp_path / f".config.json.tmp-{HOST}-{pid}", tmp_path / f".fig.png.tmp-{HOST}-{pid}"]
    live = tmp_path / f".config.json.tmp-{HOST}-{os.getppid()}"  # its writer is alive: left alone
    for path in [*stale, live]:
        path.write_text("half written")
    write_json(tmp_path / "config.json", {"a": 1})
    assert not stale[0].exists() and stale[1].exists()  # only the target written now is cleaned
    write_text(tmp_path / "fig.png", "x")
    assert not stale[1].exists() and live.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [live.name, "config.json", "fig.png"]


def test_a_killed_writers_folder_goes_and_another_hosts_temporary_stays(tmp_path):
    pid = dead_pid()
    stale = tmp_path / f".audio.tmp-{HOST}-{pid}"
    (stale / "sub").mkdir(parents=True)
    (stale / "sub" / "a.wav").write_bytes(b"RIFF")
    elsewhere = tmp_path / f".audio.tmp-{HOST}x-{pid}"  # a writer on another node of a shared file system
    elsewhere.mkdir()
    remove_orphaned_temporaries(tmp_path, "audio")
    assert not stale.exists() and elsewhere.exists()
