"""Who holds the Snakemake lock of a working folder, and whether that run is gone.

Snakemake locks a working folder by writing the files a run reads and writes to
``.snakemake/locks/{n}.input.lock`` and ``{n}.output.lock``, and removes the folder when the
run ends, or when ``snakemake --unlock`` is run. A run killed with SIGKILL (a node failure, a
scheduler's time limit, the out-of-memory killer) leaves them, and Snakemake then refuses
every later run here. It records no owner, so the workflow writes one beside the lock files
when its run starts (``onstart``): ``.snakemake/locks/flip-owner-{host}-{pid}.json`` with the
machine, process id, process group, start time, command and the lock files it holds.
Snakemake removes the record with the lock folder.

A holder is judged (:func:`holders`):

``running``       its process is alive (same machine, same process id and start time);
``jobs running``  its process is gone but jobs it started still run: its process group (when it
                  led one) has members, or the cluster still lists a job it submitted (SLURM);
``gone``          its process is gone on this machine, and none of its jobs can still run;
``elsewhere``     another machine (a shared file system): its process table is not ours to read;
``unknown``       lock files no record claims (a run killed as it started, or another workflow).

Only a ``gone`` holder's lock is stale: :func:`clear_stale` removes it.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LOCK_FILE = re.compile(r"[0-9]+\.(input|output)\.lock")
OWNER_PREFIX = "flip-owner-"
GONE, RUNNING, JOBS_RUNNING, ELSEWHERE, UNKNOWN = "gone", "running", "jobs running", "elsewhere", "unknown"


def this_machine() -> dict[str, str]:
    """What tells this machine and its process table apart from others sharing the file system:
    host name, boot id (another boot: the process ids are not the same processes) and process
    id namespace (containers); an empty string where it cannot be read."""
    return {"host": socket.gethostname(), "boot_id": _read("/proc/sys/kernel/random/boot_id"),
            "pid_namespace": _link("/proc/self/ns/pid")}


def process_start(pid: int) -> str:
    """When process ``pid`` started (clock ticks since boot, ``/proc/{pid}/stat``); empty if unknown."""
    stat = _read(f"/proc/{pid}/stat")
    return stat.rpartition(")")[2].split()[19] if stat else ""


def record_owner(lock_dir: str | os.PathLike[str], command: list[str], locks: list[str] | None = None,
                 pid: int | None = None) -> Path | None:
    """Write the owner record of the run ``pid`` (default: this process) holding the lock files
    ``locks`` of ``lock_dir`` (names; by default those no other record claims); ``None``
    (nothing written) when it holds none."""
    lock_dir = Path(lock_dir)
    pid = os.getpid() if pid is None else pid
    claimed = {name for holder in _records(lock_dir) for name in holder.get("locks", [])}
    mine = sorted(locks if locks is not None else (name for name in _lock_files(lock_dir) if name not in claimed))
    if not mine:
        return None
    record = {**this_machine(), "pid": pid, "process_group": os.getpgid(pid), "process_start": process_start(pid),
              "started": time.strftime("%Y-%m-%d %H:%M:%S"), "command": command, "locks": mine}
    path = lock_dir / f"{OWNER_PREFIX}{record['host']}-{pid}.json"
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(record, indent=1), encoding="utf-8")
    os.replace(tmp, path)
    return path


@dataclass
class Holder:
    """The run holding some lock files: its owner ``record`` (``{}`` when none claims them), the
    lock file names, its :data:`state` and, for ``jobs running``, what still runs."""

    record: dict[str, Any]
    locks: list[str]
    state: str
    path: Path | None = None  # the owner record's file
    still_running: str = ""

    def describe(self) -> str:
        """``"pid 123 on this host, started 2024-01-02 10:00:00: snakemake --cores 2"``."""
        if not self.record:
            return f"no owner record; lock files {', '.join(self.locks)}"
        where = "this host" if self.state != ELSEWHERE else f"host {self.record.get('host')}"
        command = " ".join(self.record.get("command") or [])
        return f"pid {self.record.get('pid')} on {where}, started {self.record.get('started')}: {command}"


def holders(lock_dir: str | os.PathLike[str], incomplete: list[dict[str, Any]] = (),
            active_cluster_jobs: Any = None) -> list[Holder]:
    """Every run holding a lock file of ``lock_dir``, judged (see the module).

    Args:
        lock_dir: ``.snakemake/locks``.
        incomplete: the incomplete markers of the folder (``.snakemake/incomplete``): a cluster job
            id they record (``external_jobid``) may still run after its Snakemake run is gone.
        active_cluster_jobs: ``ids -> set of those still queued or running``, or ``None`` when
            unknown; default :func:`active_slurm_jobs`.
    """
    lock_dir = Path(lock_dir)
    files = _lock_files(lock_dir)
    found, claimed = [], set()
    for path, record in _records(lock_dir, with_paths=True):
        locks = [name for name in record.get("locks", []) if name in files]
        if locks:
            claimed.update(locks)
            state, running = _judge(record, incomplete, active_cluster_jobs or active_slurm_jobs)
            found.append(Holder(record, locks, state, path, running))
    unclaimed = sorted(set(files) - claimed)
    if unclaimed:
        found.append(Holder({}, unclaimed, UNKNOWN))
    return found


def clear_stale(lock_dir: str | os.PathLike[str], found: list[Holder]) -> list[Holder]:
    """Remove the lock files and owner records of the ``gone`` holders among ``found``; the
    holders cleared. The lock folder goes too once nothing is left in it."""
    lock_dir = Path(lock_dir)
    cleared = [holder for holder in found if holder.state == GONE]
    for holder in cleared:
        for name in holder.locks:
            (lock_dir / name).unlink(missing_ok=True)
        if holder.path is not None:
            holder.path.unlink(missing_ok=True)
    if cleared and lock_dir.is_dir() and not any(lock_dir.iterdir()):
        shutil.rmtree(lock_dir, ignore_errors=True)
    return cleared


RECOVERY = "rerun with --rerun-incomplete (profiles/local and profiles/slurm set it)"
ADVICE = {
    RUNNING: "it is still running: wait for it to end",
    JOBS_RUNNING: "it is gone, but {still_running}: wait for them to end or stop them, then " + RECOVERY
                  + " (a rerun removes the lock itself)",
    ELSEWHERE: f"it may still be running there: wait for it; if that machine failed, run `snakemake --unlock` here, "
               f"then {RECOVERY}",
    UNKNOWN: f"if no other Snakemake run uses this folder, run `snakemake --unlock`, then {RECOVERY}",
}


def recover_from_killed_runs(state_dir: str | os.PathLike[str], command: list[str]) -> list[str]:
    """Remove the lock of every run killed on this machine (:func:`clear_stale`) from
    ``state_dir`` (``.snakemake``) and return what to tell the user, one message each: the lock
    removed and the command that redoes the run's unfinished jobs (``command``, this Snakemake
    run's, as a real run with ``--rerun-incomplete``), or who holds a lock kept and what to do."""
    lock_dir = Path(state_dir) / "locks"
    if not lock_dir.is_dir():
        return []
    markers = incomplete_markers(state_dir)
    found = holders(lock_dir, markers)
    said = []
    for holder in clear_stale(lock_dir, found):
        redo = f" {len(markers)} of its outputs are unfinished; to redo them: {recovery_command(command)}"
        said.append(f"Removed the lock left by a Snakemake run that is gone ({holder.describe()}): it was killed "
                    f"before it ended.{redo if markers else ''}")
    making = " (and first calls the outputs it is making incomplete)" if markers else ""
    for holder in (h for h in found if h.state != GONE):
        advice = ADVICE[holder.state].format(still_running=holder.still_running)
        said.append(f"This folder is locked by a Snakemake run ({holder.describe()}): {advice}. Snakemake refuses "
                    f"a run that needs files it reads or writes{making}.")
    return said


def recovery_command(command: list[str]) -> str:
    """``command`` (a Snakemake command line) as the real run that redoes a killed run's unfinished
    jobs: without ``-n`` or ``--unlock``, with ``--rerun-incomplete``."""
    words = [w for w in command if w not in ("-n", "--dry-run", "--dryrun", "--unlock")]
    return shlex.join(words + ["--rerun-incomplete"] * ("--rerun-incomplete" not in words and "--ri" not in words))


def incomplete_markers(state_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The records of the outputs Snakemake marked incomplete in ``state_dir`` (``.snakemake``):
    ``{"external_jobid": ...}`` each (``{}`` for one that is unreadable)."""
    markers = []
    for path in sorted(Path(state_dir, "incomplete").rglob("*")):
        if path.is_file():
            try:
                record = json.loads(path.read_text(encoding="utf-8") or "{}")
            except (OSError, ValueError):
                record = {}
            markers.append(record if isinstance(record, dict) else {})
    return markers


def active_slurm_jobs(job_ids: set[str]) -> set[str] | None:
    """Those of ``job_ids`` that SLURM still lists for this user (queued or running: ``squeue``);
    ``None`` when that cannot be known (no ``squeue`` here, or it failed)."""
    if not job_ids:
        return set()
    squeue = shutil.which("squeue")
    if squeue is None:
        return None
    try:
        listed = subprocess.run([squeue, "--noheader", "--format=%i", f"--user={getpass.getuser()}"],
                                capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if listed.returncode != 0:
        return None
    return {line.strip().split("_")[0] for line in listed.stdout.splitlines() if line.strip()} & job_ids


def _judge(record: dict[str, Any], incomplete: list[dict[str, Any]], active_cluster_jobs: Any) -> tuple[str, str]:
    """``(state, what still runs)`` of the run an owner record describes."""
    here = this_machine()
    if any(record.get(key) != value for key, value in here.items() if value):
        return ELSEWHERE, ""
    pid, group = record.get("pid"), record.get("process_group")
    if not isinstance(pid, int):
        return UNKNOWN, ""
    if _alive(pid) and process_start(pid) == record.get("process_start", ""):
        return RUNNING, ""
    if group == pid and _group_alive(pid):  # it led its process group: its local jobs are still members
        return JOBS_RUNNING, f"its jobs in process group {pid} (stop them: kill -- -{pid})"
    submitted = {str(m["external_jobid"]) for m in incomplete if m.get("external_jobid") is not None}
    if submitted:
        active = active_cluster_jobs(submitted)
        if active is None:
            return JOBS_RUNNING, f"cluster jobs {', '.join(sorted(submitted))}, which may still run"
        if active:
            return JOBS_RUNNING, f"cluster jobs {', '.join(sorted(active))} (squeue lists them; scancel to stop)"
    return GONE, ""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _lock_files(lock_dir: Path) -> list[str]:
    try:
        return sorted(name for name in os.listdir(lock_dir) if LOCK_FILE.fullmatch(name))
    except OSError:
        return []


def _records(lock_dir: Path, with_paths: bool = False) -> list[Any]:
    out = []
    for path in sorted(lock_dir.glob(f"{OWNER_PREFIX}*.json")):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # unreadable: its lock files count as unclaimed (unknown), never as stale
        if isinstance(record, dict):
            out.append((path, record) if with_paths else record)
    return out


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError:
        return ""


def _link(path: str) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return ""
