"""Who holds a Snakemake lock and whether that run is gone (flip_pipeline.run_lock): only a run
provably gone on this machine, with none of its jobs left, is stale; a run on another machine,
a live one, or one whose jobs still run never is."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers.processes import dead_pid

from flip_pipeline.run_lock import (
    ELSEWHERE,
    GONE,
    JOBS_RUNNING,
    RUNNING,
    UNKNOWN,
    active_slurm_jobs,
    clear_stale,
    holders,
    incomplete_markers,
    process_start,
    record_owner,
    recover_from_killed_runs,
    recovery_command,
    this_machine,
)


def locked(folder: Path, *names: str) -> Path:
    """``folder/.snakemake/locks`` holding the lock files ``names`` (as Snakemake writes them)."""
    locks = folder / ".snakemake" / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    for name in names:
        (locks / name).write_text("results/x\n")
    return locks


def owner(locks: Path, pid: int, names: list[str], **changes) -> None:
    record = {**this_machine(), "pid": pid, "process_group": pid, "process_start": process_start(pid),
              "started": "2024-01-01 00:00:00", "command": ["snakemake", "--cores", "2"], "locks": names, **changes}
    (locks / f"flip-owner-{record['host']}-{pid}.json").write_text(json.dumps(record))


def states(locks: Path, **kwargs) -> list[str]:
    return [holder.state for holder in holders(locks, **kwargs)]


def test_this_process_holding_the_lock_is_running_and_never_cleared(tmp_path):
    locks = locked(tmp_path, "0.input.lock", "0.output.lock")
    assert record_owner(locks, ["snakemake", "-n"]) is not None
    found = holders(locks)
    assert [h.state for h in found] == [RUNNING] and found[0].locks == ["0.input.lock", "0.output.lock"]
    assert f"pid {os.getpid()} on this host" in found[0].describe()
    assert clear_stale(locks, found) == [] and len(list(locks.iterdir())) == 3


def test_a_dead_process_on_this_machine_is_gone_and_its_lock_is_cleared(tmp_path):
    locks = locked(tmp_path, "0.input.lock", "0.output.lock", "1.output.lock")
    owner(locks, dead_pid(), ["0.input.lock", "0.output.lock"])
    owner(locks, os.getpid(), ["1.output.lock"])  # a second run, alive: its lock stays
    found = holders(locks)
    assert sorted(h.state for h in found) == sorted([GONE, RUNNING])
    cleared = clear_stale(locks, found)
    assert len(cleared) == 1 and sorted(p.name for p in locks.iterdir()) == [
        "1.output.lock", f"flip-owner-{this_machine()['host']}-{os.getpid()}.json"]
    owner(locks, dead_pid(), ["1.output.lock"])
    (locks / f"flip-owner-{this_machine()['host']}-{os.getpid()}.json").unlink()
    clear_stale(locks, holders(locks))
    assert not locks.exists()  # nothing left: the folder goes, as Snakemake's own unlock removes it


@pytest.mark.parametrize("changes", [{"host": "node-17"}, {"boot_id": "another-boot"}, {"pid_namespace": "pid:[1]"}])
def test_a_run_on_another_machine_is_never_judged_stale(tmp_path, changes):
    locks = locked(tmp_path, "0.output.lock")
    owner(locks, dead_pid(), ["0.output.lock"], **changes)
    found = holders(locks)
    assert [h.state for h in found] == [ELSEWHERE] and clear_stale(locks, found) == []
    assert "on host" in found[0].describe() and (locks / "0.output.lock").exists()


def test_lock_files_no_record_claims_are_unknown(tmp_path):
    locks = locked(tmp_path, "0.input.lock", "3.output.lock")
    (locks / "flip-owner-x-1.json").write_text("{cut short")  # unreadable: claims nothing
    assert states(locks) == [UNKNOWN] and clear_stale(locks, holders(locks)) == []
    assert "no owner record; lock files 0.input.lock, 3.output.lock" in holders(locks)[0].describe()


def test_a_reused_process_id_is_not_the_run(tmp_path):
    locks = locked(tmp_path, "0.output.lock")
    owner(locks, os.getpid(), ["0.output.lock"], process_start="1")  # this pid, but started at another time
    assert states(locks) == [GONE]


def test_a_run_whose_jobs_outlive_it_is_not_stale(tmp_path):
    """Snakemake killed alone leaves its local jobs running in its process group."""
    leader = subprocess.Popen([sys.executable, "-c", "import subprocess; subprocess.Popen(['sleep', '60'])"],
                              start_new_session=True)
    leader.wait()
    try:
        locks = locked(tmp_path, "0.output.lock")
        owner(locks, leader.pid, ["0.output.lock"], process_start="gone")
        found = holders(locks)
        assert [h.state for h in found] == [JOBS_RUNNING] and f"kill -- -{leader.pid}" in found[0].still_running
        assert clear_stale(locks, found) == []
    finally:
        os.killpg(leader.pid, signal.SIGKILL)
    deadline = time.time() + 10
    while time.time() < deadline and states(locks) != [GONE]:
        time.sleep(0.05)
    assert states(locks) == [GONE]


def test_cluster_jobs_of_a_killed_run_keep_its_lock_while_they_may_run(tmp_path):
    locks = locked(tmp_path, "0.output.lock")
    owner(locks, dead_pid(), ["0.output.lock"])
    (tmp_path / ".snakemake" / "incomplete").mkdir()
    (tmp_path / ".snakemake" / "incomplete" / "cmVzdWx0cy94").write_text('{"external_jobid": "4242"}')
    markers = incomplete_markers(tmp_path / ".snakemake")
    assert markers == [{"external_jobid": "4242"}]
    assert states(locks, incomplete=markers, active_cluster_jobs=lambda ids: {"4242"}) == [JOBS_RUNNING]
    assert states(locks, incomplete=markers, active_cluster_jobs=lambda ids: None) == [JOBS_RUNNING]
    assert states(locks, incomplete=markers, active_cluster_jobs=lambda ids: set()) == [GONE]


def test_slurm_is_asked_which_jobs_it_still_lists(tmp_path, monkeypatch):
    fake = tmp_path / "bin" / "squeue"  # stands in for SLURM's squeue: lists two of this user's jobs
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\nprintf '4242\\n77_3\\n'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    assert active_slurm_jobs({"4242", "77", "5"}) == {"4242", "77"}
    fake.write_text("#!/bin/sh\necho 'slurm_load_jobs error: Unable to contact slurm controller' >&2\nexit 1\n")
    assert active_slurm_jobs({"4242"}) is None
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert active_slurm_jobs({"4242"}) is None and active_slurm_jobs(set()) == set()


def test_what_a_run_says_about_the_locks_it_finds(tmp_path):
    locks = locked(tmp_path, "0.output.lock", "1.output.lock")
    owner(locks, dead_pid(), ["0.output.lock"])
    owner(locks, dead_pid(), ["1.output.lock"], host="node-17")
    (tmp_path / ".snakemake" / "incomplete").mkdir()
    (tmp_path / ".snakemake" / "incomplete" / "cmVzdWx0cy94").write_text('{"external_jobid": null}')
    said = recover_from_killed_runs(tmp_path / ".snakemake", ["snakemake", "-n", "--cores", "2", "my table"])
    assert len(said) == 2 and said[0].startswith("Removed the lock left by a Snakemake run that is gone (pid")
    assert said[0].endswith("1 of its outputs are unfinished; to redo them: snakemake --cores 2 'my table' "
                            "--rerun-incomplete")
    assert "on host node-17" in said[1] and "`snakemake --unlock` here, then rerun with --rerun-incomplete" in said[1]
    assert not (locks / "0.output.lock").exists() and (locks / "1.output.lock").exists()
    assert [p.name.startswith("flip-owner-node-17-") for p in locks.glob("flip-owner-*")] == [True]
    assert recovery_command(["snakemake", "--unlock", "--ri"]) == "snakemake --ri"
    assert recover_from_killed_runs(tmp_path / "elsewhere", ["snakemake"]) == []
