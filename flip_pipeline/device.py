"""Choose the compute device once per process and log the choice; the memory and CPUs a job has."""

from __future__ import annotations

import functools
import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path

import torch

from flip_pipeline.errors import FlipInputError

log = logging.getLogger(__name__)

#: A cgroup v1 limit at or above this is "no limit" (the kernel writes 2^63 rounded down to a page).
_UNLIMITED = 2**60


#: What a device string may be: ``auto`` (CUDA when present, else the CPU), ``cpu``, ``cuda`` or ``cuda:N``.
DEVICE_PATTERN = re.compile(r"auto|cpu|cuda(?::(?P<index>[0-9]+))?")
DEVICES = "auto, cpu, cuda or cuda:N"


def resolve_device(text: str, *, key: str = "--device") -> torch.device:
    """The device ``text`` names, checked: the one place a device string (config ``device:``,
    ``--device``) becomes a :class:`torch.device`.

    ``auto`` → CUDA when present, else CPU; ``cpu``; ``cuda`` (GPU 0) or ``cuda:N``. A string of
    another form, or a GPU this machine does not have, is a :class:`FlipInputError` naming
    ``key`` (the option or config key the string came from) and the GPUs there are.
    """
    match = DEVICE_PATTERN.fullmatch(str(text).strip())
    if match is None:
        raise FlipInputError(f"{key}: {text!r} is not a device; use {DEVICES}")
    name = match.group(0)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if int(match.group("index") or 0) >= count:
        there = f"{count} CUDA GPU(s), cuda:0 to cuda:{count - 1}" if count else "no CUDA GPU that torch can use"
        raise FlipInputError(f"{key}: {text!r} is not present: this machine has {there}; use cpu or auto")
    return torch.device(name)


@functools.lru_cache(maxsize=None)
def pick_device(requested: str = "auto", key: str = "--device", log_level: int = logging.INFO) -> torch.device:
    """:func:`resolve_device` of ``requested`` (errors name ``key``), logged once per process at
    ``log_level`` (``flip keywords``: debug, its stderr stays quiet) with the device's name, torch's
    version and the CPU threads."""
    device = resolve_device(requested, key=key)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    log.log(log_level, "device: %s (%s), torch %s, %d CPU threads", device, name, torch.__version__,
            torch.get_num_threads())
    return device


def job_cpus(env: Mapping[str, str] = os.environ) -> int:
    """CPUs this job may use: SLURM's ``SLURM_CPUS_PER_TASK`` (``--cpus-per-task``) when set,
    else the CPUs this process may run on (``os.sched_getaffinity``)."""
    slurm = env.get("SLURM_CPUS_PER_TASK", "").strip()
    if slurm.isdigit() and int(slurm) > 0:
        return int(slurm)
    return len(os.sched_getaffinity(0))


def available_memory(device: torch.device) -> tuple[int, str]:
    """``(bytes, source)``: memory still free for this job on ``device`` and where the figure comes from.

    A GPU: its free memory (``torch.cuda.mem_get_info``). The CPU: :func:`host_memory_available`.
    """
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free), f"free memory of {device}"
    return host_memory_available()


def host_memory_available(
    proc: Path = Path("/proc"), cgroup: Path = Path("/sys/fs/cgroup"), env: Mapping[str, str] = os.environ,
) -> tuple[int, str]:
    """``(bytes, source)``: the smallest of the host's ``MemAvailable``, the headroom of this
    process's memory cgroup (v2 ``memory.max``, v1 ``memory.limit_in_bytes``; usage minus
    reclaimable page cache) and SLURM's per-job limit (``SLURM_MEM_PER_NODE``, or
    ``SLURM_MEM_PER_CPU × SLURM_CPUS_ON_NODE``, MB) minus this process's resident size.
    Limits that are absent or unlimited are left out."""
    found = [(_meminfo_available(proc / "meminfo"), "MemAvailable of /proc/meminfo"),
             _cgroup_headroom(proc / "self" / "cgroup", cgroup), _slurm_headroom(env, proc / "self" / "statm")]
    known = [(max(0, b), source) for b, source in found if b is not None]
    return min(known) if known else (0, "no memory figure readable")


def _meminfo_available(path: Path) -> int | None:
    for line in _lines(path):
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024  # kB
    return None


def _cgroup_headroom(self_cgroup: Path, root: Path) -> tuple[int | None, str]:
    """Limit − (usage − inactive file cache) of the first memory cgroup found (v2, then v1)."""
    groups = dict(line.split(":", 2)[1:] for line in _lines(self_cgroup) if line.count(":") >= 2)
    layouts = (("", "memory.max", "memory.current", "inactive_file"),
               ("memory", "memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file"))
    for controller, limit_file, usage_file, cache_key in layouts:
        relative = groups.get(controller, "/").lstrip("/")
        for folder in (root / controller / relative, root / controller):
            limit = _number(folder / limit_file)
            if limit is None:
                continue
            if limit >= _UNLIMITED:
                break
            usage = _number(folder / usage_file) or 0
            cache = dict(line.split() for line in _lines(folder / "memory.stat") if len(line.split()) == 2)
            return limit - usage + int(cache.get(cache_key, 0)), f"cgroup limit {folder / limit_file}"
    return None, ""


def _slurm_headroom(env: Mapping[str, str], statm: Path) -> tuple[int | None, str]:
    if env.get("SLURM_MEM_PER_NODE"):
        limit_mb, source = int(env["SLURM_MEM_PER_NODE"]), "SLURM_MEM_PER_NODE"
    elif env.get("SLURM_MEM_PER_CPU") and env.get("SLURM_CPUS_ON_NODE"):
        limit_mb = int(env["SLURM_MEM_PER_CPU"]) * int(env["SLURM_CPUS_ON_NODE"])
        source = "SLURM_MEM_PER_CPU × SLURM_CPUS_ON_NODE"
    else:
        return None, ""
    pages = _lines(statm)
    resident = int(pages[0].split()[1]) * os.sysconf("SC_PAGE_SIZE") if pages else 0
    return limit_mb * 2**20 - resident, f"{source} minus this process's resident memory"


def _number(path: Path) -> int | None:
    """An integer file of the cgroup interface; ``max`` (v2's no limit) reads as unlimited."""
    lines = _lines(path)
    if not lines:
        return None
    return _UNLIMITED if lines[0].strip() == "max" else int(lines[0])


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text().splitlines()
    except OSError:
        return []
