"""The memory a job can still use: the host's available memory within any cgroup or SLURM limit."""

from __future__ import annotations

import os
from pathlib import Path

from flip_pipeline.device import host_memory_available


def _files(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def test_host_memory_is_the_smallest_of_meminfo_cgroup_and_slurm(tmp_path):
    proc, cgroup = tmp_path / "proc", tmp_path / "cg"
    _files(proc, {"meminfo": "MemTotal: 9000000 kB\nMemAvailable: 8000000 kB\n", "self/statm": "10 1000 5\n",
                  "self/cgroup": "0::/job/step\n"})
    assert host_memory_available(proc, cgroup, {}) == (8000000 * 1024, "MemAvailable of /proc/meminfo")
    _files(cgroup, {"job/step/memory.max": "3000000000\n", "job/step/memory.current": "1000000000\n",
                    "job/step/memory.stat": "anon 5\ninactive_file 500000000\n"})
    assert host_memory_available(proc, cgroup, {}) == (2_500_000_000, f"cgroup limit {cgroup}/job/step/memory.max")
    slurm = host_memory_available(proc, cgroup, {"SLURM_MEM_PER_CPU": "500", "SLURM_CPUS_ON_NODE": "2"})
    assert slurm[0] == 1000 * 2**20 - 1000 * os.sysconf("SC_PAGE_SIZE") and slurm[1].startswith("SLURM_MEM_PER_CPU")
    _files(proc, {"self/cgroup": "4:memory:/slurm/job_1\n0::/\n"})
    _files(cgroup, {"memory/slurm/job_1/memory.limit_in_bytes": "2000000000\n",
                    "memory/slurm/job_1/memory.usage_in_bytes": "500000000\n",
                    "memory/slurm/job_1/memory.stat": "cache 9\ntotal_inactive_file 100000000\n", "memory.max": "max\n"})
    assert host_memory_available(proc, cgroup, {})[0] == 1_600_000_000  # v1; v2's root has no limit
    _files(cgroup, {"memory/slurm/job_1/memory.limit_in_bytes": "9223372036854771712\n"})
    assert host_memory_available(proc, cgroup, {})[1] == "MemAvailable of /proc/meminfo"
