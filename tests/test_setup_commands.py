"""The README needs two commands, `make run` and `make test`; each sets up what is missing
and is safe to repeat; CI runs exactly the README's test command."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

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
