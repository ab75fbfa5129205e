"""A real single-node SLURM cluster (Debian's munge, slurmctld and slurmd) for tests.

Everything lives in one temporary folder: the munge key, slurm.conf, the controller's
state and the node's spool. The daemons run as root in the foreground as children of
this process, listen on loopback ports chosen at start, and are stopped by
:meth:`SlurmCluster.stop`. Nothing under /etc is touched.

The node runs "configless", as many real clusters do: slurmd fetches slurm.conf from
slurmctld and publishes it at /run/slurm/conf, where SLURM commands inside jobs find it.
(The snakemake SLURM jobstep executor strips every SLURM_* variable, SLURM_CONF included,
from the ``srun`` it starts inside a job, so a cluster found only through SLURM_CONF does
not work.) Commands run by the test itself get ``SLURM_CONF`` (see
:meth:`SlurmCluster.env`). munge serves its default socket, /run/munge/munge.socket.2: a
munged already answering there is used, otherwise one is started with a fresh key and
stopped at the end.

No accounting daemon: the snakemake SLURM executor is told to poll ``squeue`` (it needs
``MinJobAge`` of at least three times its first status-check delay, set below), and
finished jobs are recorded by ``jobcomp/filetxt`` in ``jobcomp.log``, the cluster's
history of every job it ran.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd")
CLUSTER_NAME = "flipci"
NODE_NAME = "flipnode"
PARTITION = "debug"
MUNGE_SOCKET = Path("/run/munge/munge.socket.2")
RUN_CONF = Path("/run/slurm/conf")


class SlurmStartError(RuntimeError):
    """The cluster could not be brought up; the message carries the daemons' logs."""


def binaries_present() -> bool:
    """True when every daemon and client command the cluster needs is on PATH."""
    return all(shutil.which(cmd) for cmd in (*DAEMONS, "sbatch", "squeue", "scontrol", "sinfo"))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _node_resources() -> tuple[int, int]:
    """(CPUs, RealMemory in MB) of this machine, as slurmd itself reports them."""
    out = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, check=True).stdout
    fields = dict(tok.split("=", 1) for tok in out.split() if "=" in tok)
    return int(fields["CPUs"]), int(fields["RealMemory"])


class SlurmCluster:
    """Start with :meth:`start`, stop with :meth:`stop` (also on a failed start)."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.conf = self.root / "slurm.conf"
        self.jobcomp_log = self.root / "jobcomp.log"
        self.munge_socket = MUNGE_SOCKET
        self._procs: dict[str, subprocess.Popen] = {}

    # -- environment -------------------------------------------------------------------
    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """``base`` (default: this process's environment) pointed at this cluster."""
        env = dict(os.environ if base is None else base)
        env["SLURM_CONF"] = str(self.conf)
        for var in [v for v in env if v.startswith(("SLURM_JOB", "SBATCH_", "SLURM_CLUSTER"))]:
            del env[var]
        return env

    # -- start / stop ------------------------------------------------------------------
    def start(self, timeout: float = 60.0) -> "SlurmCluster":
        try:
            self._write_files()
            self._start_munge()
            self._spawn("slurmctld", ["slurmctld", "-D", "-i", "-f", str(self.conf)])
            self._wait(lambda: self._ok(["scontrol", "ping"]) and "UP" in self._out(["scontrol", "ping"]),
                       timeout, "slurmctld answering scontrol ping")
            self._clear_run_conf(stale_only=True)
            self._spawn("slurmd", ["slurmd", "-D", "-N", NODE_NAME, "--conf-server", f"127.0.0.1:{self.ctld_port}"])
            self._wait(self._node_idle, timeout, f"node {NODE_NAME} idle in sinfo")
        except BaseException as err:
            logs = self.logs()
            self.stop()
            if isinstance(err, SlurmStartError):
                raise SlurmStartError(f"{err}\n{logs}") from None
            raise SlurmStartError(f"SLURM did not start: {err!r}\n{logs}") from err
        return self

    def stop(self) -> None:
        for name in reversed(list(self._procs)):
            proc = self._procs[name]
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)
        self._procs.clear()
        self._clear_run_conf(stale_only=False)

    def _clear_run_conf(self, stale_only: bool) -> None:
        """Remove /run/slurm/conf when it points into this cluster (or, stale_only, nowhere)."""
        if not RUN_CONF.is_symlink():
            return
        target = Path(os.readlink(RUN_CONF))
        if (stale_only and not target.exists()) or (not stale_only and self.root in target.parents):
            RUN_CONF.unlink()

    # -- queries -----------------------------------------------------------------------
    def jobcomp_records(self) -> list[dict[str, str]]:
        """One dict per finished job (JobId, JobName, JobState, ExitCode, ...)."""
        if not self.jobcomp_log.exists():
            return []
        records = []
        for line in self.jobcomp_log.read_text().splitlines():
            fields = {}
            for tok in line.split():
                if "=" in tok:
                    key, value = tok.split("=", 1)
                    fields[key] = value
            if fields:
                records.append(fields)
        return records

    def logs(self) -> str:
        parts = []
        for name in ("munged.log", "slurmctld.log", "slurmd.log"):
            path = self.root / "log" / name
            if path.exists():
                text = path.read_text(errors="replace")[-4000:]
                parts.append(f"--- {path} (tail) ---\n{text}")
        return "\n".join(parts)

    # -- internals ---------------------------------------------------------------------
    def _write_files(self) -> None:
        for sub in ("munge", "log", "state", "spool", "run"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        # munged insists on owner-only folders and key
        os.chmod(self.root / "munge", 0o700)
        key = self.root / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        os.chmod(key, 0o400)
        cpus, mem = _node_resources()
        ctld_port, d_port = _free_port(), _free_port()
        self.ctld_port = ctld_port
        conf = f"""\
# Written by tests/helpers/slurm_cluster.py: a one-node cluster on loopback, daemons as root.
ClusterName={CLUSTER_NAME}
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={d_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
SlurmctldParameters=enable_configless
StateSaveLocation={self.root / "state"}
SlurmdSpoolDir={self.root / "spool"}
SlurmctldPidFile={self.root / "run" / "slurmctld.pid"}
SlurmdPidFile={self.root / "run" / "slurmd.pid"}
SlurmctldLogFile={self.root / "log" / "slurmctld.log"}
SlurmdLogFile={self.root / "log" / "slurmd.log"}
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc={self.jobcomp_log}
MpiDefault=none
SwitchType=switch/none
LaunchParameters=use_interactive_step
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
# the node offers twice its cores, so two 2-thread jobs share it (they mostly wait on
# start-up); slurmd takes the node's size from this file instead of the hardware
SlurmdParameters=config_overrides
# finished jobs stay visible to squeue for 10 minutes (the executor polls squeue)
MinJobAge=600
KillWait=5
InactiveLimit=0
Waittime=0
NodeName={NODE_NAME} NodeAddr=127.0.0.1 NodeHostname={NODE_NAME} CPUs={2 * cpus} RealMemory={mem} State=UNKNOWN
PartitionName={PARTITION} Nodes={NODE_NAME} Default=YES MaxTime=INFINITE State=UP
"""
        self.conf.write_text(conf)

    def _start_munge(self) -> None:
        if self._munge_works():
            return  # a munged of this machine already serves the default socket
        munge_dir = self.root / "munge"
        self.munge_socket.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        self._spawn(
            "munged",
            ["munged", "--foreground", "--force", f"--key-file={munge_dir / 'munge.key'}",
             f"--socket={self.munge_socket}", f"--pid-file={munge_dir / 'munged.pid'}",
             f"--seed-file={munge_dir / 'munged.seed'}", f"--log-file={self.root / 'log' / 'munged.log'}"],
        )
        self._wait(self._munge_works, 20, f"munged answering on {self.munge_socket}")

    def _munge_works(self) -> bool:
        if not self.munge_socket.exists():
            return False
        try:
            cred = subprocess.run(["munge", "-n", "-S", str(self.munge_socket)], capture_output=True, timeout=10)
            check = subprocess.run(["unmunge", "-S", str(self.munge_socket)], input=cred.stdout,
                                   capture_output=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return False
        return cred.returncode == 0 and check.returncode == 0

    def _spawn(self, name: str, cmd: list[str]) -> None:
        log = open(self.root / "log" / f"{name}.stdout", "ab")
        self._procs[name] = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, env=self.env(), start_new_session=True
        )
        log.close()

    def _out(self, cmd: list[str]) -> str:
        res = subprocess.run(cmd, capture_output=True, text=True, env=self.env(), timeout=20)
        return res.stdout + res.stderr

    def _ok(self, cmd: list[str]) -> bool:
        try:
            return subprocess.run(cmd, capture_output=True, env=self.env(), timeout=20).returncode == 0
        except subprocess.TimeoutExpired:
            return False

    def _node_idle(self) -> bool:
        out = self._out(["sinfo", "-h", "-N", "-o", "%N %t"])
        return any(line.split()[:2] == [NODE_NAME, "idle"] for line in out.splitlines() if line.strip())

    def _wait(self, predicate, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in self._procs.items():
                if proc.poll() is not None:
                    raise SlurmStartError(f"{name} exited with status {proc.returncode} while waiting for {what}")
            if predicate():
                return
            time.sleep(0.5)
        raise SlurmStartError(f"timed out after {timeout:.0f}s waiting for {what}")
