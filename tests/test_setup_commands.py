"""The README needs two commands, `make run` and `make test`; each sets up what is missing
and is safe to repeat; CI runs exactly the README's test command."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    block = re.search(r"## Set up, run, test\n\n```bash\n(.*?)```", (REPO / "README.md").read_text(), re.S).group(1)
    return [line.split("#")[0].strip() for line in block.splitlines() if line.strip()]


def test_the_readme_has_two_commands_and_ci_runs_its_test_command():
    assert readme_commands() == ["make run", "make test"]
    ci = [line.strip() for line in (REPO / ".ci" / "run").read_text().splitlines()
          if line.strip() and not line.lstrip().startswith(("#", "set ", "cd ", "export "))]
    assert ci == ["make test"]


def test_make_sets_up_only_what_is_missing(tmp_path):
    """The Makefile's logic on stand-in scripts: set-up runs once, and again after pyproject.toml changes."""
    shutil.copy(REPO / "Makefile", tmp_path / "Makefile")
    (tmp_path / ".ci").mkdir()
    (tmp_path / "setup.sh").write_text("mkdir -p .venv/bin; echo setup >> log\n")
    (tmp_path / ".ci" / "install_slurm.sh").write_text("echo slurm >> log\n")
    (tmp_path / "pyproject.toml").write_text("[project]\n")
    for tool in ("pytest", "snakemake"):
        (tmp_path / ".venv" / "bin").mkdir(parents=True, exist_ok=True)
        script = tmp_path / ".venv" / "bin" / tool
        script.write_text(f"#!/bin/sh\necho {tool} \"$@\" >> log\n")
        script.chmod(0o755)
    for target in ("test", "test", "run"):
        subprocess.run(["make", "-s", target], cwd=tmp_path, check=True, capture_output=True)
    assert (tmp_path / "log").read_text().split("\n")[:-1] == ["setup", "slurm", "pytest", "slurm", "pytest",
                                                               "snakemake --cores all"]
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    subprocess.run(["make", "-s", "run"], cwd=tmp_path, check=True, capture_output=True)
    assert (tmp_path / "log").read_text().split("\n")[-3:-1] == ["setup", "snakemake --cores all"]


def _stub(folder: Path, name: str, body: str) -> None:
    script = folder / name
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)


def _install_slurm(tmp_path, installed: bool) -> subprocess.CompletedProcess:
    """.ci/install_slurm.sh as a non-root user (a stub `id`) on a PATH of stubs: SLURM's commands or none."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(parents=True)
    _stub(bin_dir, "id", "echo 1000")
    for cmd in ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "sacct", "scontrol") if installed else ():
        _stub(bin_dir, cmd, "echo slurm-wlm 22.05.8")
    return subprocess.run([shutil.which("bash"), str(REPO / ".ci" / "install_slurm.sh")], env={"PATH": str(bin_dir)},
                          capture_output=True, text=True)


def test_without_root_an_installed_slurm_is_ready_and_a_missing_one_is_skipped_saying_so(tmp_path):
    ready = _install_slurm(tmp_path / "a", installed=True)
    assert (ready.returncode, ready.stdout.strip()) == (0, "install_slurm.sh: slurm-wlm 22.05.8 with munge ready")
    skipped = _install_slurm(tmp_path / "b", installed=False)
    assert skipped.returncode == 0 and skipped.stdout == ""
    assert skipped.stderr.count("\n") == 1 and "munged slurmctld slurmd sbatch squeue sacct scontrol missing" in \
        skipped.stderr and "test_slurm.py will skip (and fail under CI=true)" in skipped.stderr


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root to become another user")
def test_make_test_runs_the_suite_for_a_user_who_is_not_root():
    """`make test` as `nobody` with the real SLURM install script: whether SLURM is there or not, pytest starts."""
    work = Path(tempfile.mkdtemp(prefix="flip-make-test-"))  # not under pytest's temp folder: nobody cannot enter that
    try:
        (work / ".ci").mkdir()
        shutil.copy(REPO / "Makefile", work / "Makefile")
        shutil.copy(REPO / ".ci" / "install_slurm.sh", work / ".ci" / "install_slurm.sh")
        (work / "setup.sh").write_text("mkdir -p .venv/bin; echo setup >> log\n")
        (work / "pyproject.toml").write_text("[project]\n")
        (work / ".venv" / "bin").mkdir(parents=True)
        _stub(work / ".venv" / "bin", "pytest", "echo pytest >> log")
        for path in [work, *work.rglob("*")]:
            path.chmod(0o777 if path.is_dir() else path.stat().st_mode | 0o666)
        done = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "make", "-s", "test"],
                              cwd=work, capture_output=True, text=True,
                              env={"PATH": os.environ["PATH"], "HOME": str(work)})
        assert done.returncode == 0, done.stderr
        assert (work / "log").read_text().split() == ["setup", "pytest"]
        assert "install_slurm.sh:" in done.stdout + done.stderr
    finally:
        shutil.rmtree(work)
