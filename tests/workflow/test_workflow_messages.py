"""What Snakemake runs say about bad configs and folders: the file, line or key at fault."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from helpers.tiny import TINY

REPO = Path(__file__).resolve().parents[2]


def snakemake(workdir: Path, *args: str, configfiles=("tiny.yaml",)) -> subprocess.CompletedProcess:
    files = ["--configfile", *(str(workdir / f) for f in configfiles)]
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), *files, "--directory", str(workdir),
           "--cores", "2", *args]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=workdir)


def write(workdir: Path, name: str, config: dict) -> None:
    (workdir / name).write_text(yaml.safe_dump(config), encoding="utf-8")


def test_a_yaml_syntax_error_in_config_yaml_names_file_line_and_column(tmp_path):
    (tmp_path / "config.yaml").write_text("corpora:\n  sample: [source: sample\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-n"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode != 0 and "config.yaml:3:1: not valid YAML" in proc.stdout + proc.stderr


def test_a_typo_in_a_second_configfile_is_blamed_on_that_file(tmp_path):
    write(tmp_path, "tiny.yaml", TINY)
    write(tmp_path, "other.yaml", {"training": {"batchsize": 10}})
    proc = snakemake(tmp_path, "-n", configfiles=("tiny.yaml", "other.yaml"))
    said = proc.stdout + proc.stderr
    assert proc.returncode != 0 and f"{tmp_path / 'other.yaml'}: training: " in said and "'batchsize'" in said
    write(tmp_path, "other.yaml", {"training": {"lr": 0.01}})
    write(tmp_path, "tiny.yaml", {**TINY, "training": {**TINY["training"], "batchsize": 3}})
    proc = snakemake(tmp_path, "-n", configfiles=("tiny.yaml", "other.yaml"))
    assert f"{tmp_path / 'tiny.yaml'}: training: " in proc.stdout + proc.stderr


@pytest.mark.slow
def test_a_results_folder_with_a_space_runs(tmp_path):
    write(tmp_path, "tiny.yaml", {**TINY, "results": "my results"})
    proc = snakemake(tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "my results" / "tables" / "tiny.md").exists()


@pytest.mark.slow
def test_a_second_run_at_once_says_the_folder_is_locked(tmp_path):
    write(tmp_path, "tiny.yaml", TINY)
    first = subprocess.Popen([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--configfile",
                              str(tmp_path / "tiny.yaml"), "--directory", str(tmp_path), "--cores", "1"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not list((tmp_path / ".snakemake" / "incomplete").glob("*")):
            time.sleep(0.1)
        second = snakemake(tmp_path)
        said = second.stdout + second.stderr
        assert second.returncode != 0 and "This folder is locked by a Snakemake run (pid" in said, said[-2000:]
        assert "it is still running: wait for it to end" in said
    finally:
        first.wait(timeout=300)
    assert first.returncode == 0
