"""The workflow on a real SLURM cluster, through profiles/slurm and the official executor.

A one-node cluster (Debian's munge, slurmctld, slurmd; see tests/helpers/slurm_cluster.py) is
started for this module. A small quickstart (the overlay below, used for both runs) is run

1. locally with profiles/local: the reference table;
2. through ``snakemake --profile profiles/slurm --config gpus=0 device=cuda``: the CPU-only
   node cannot give the embed jobs CUDA, they FAIL under SLURM and Snakemake names their
   SLURM logs, while the corpus, vocabulary and bag-of-words jobs finish;
3. through the same profile without the bad override: the rerun submits only what is
   missing, leaves finished outputs untouched, and ends with the local run's table, byte
   for byte (training is seeded and deterministic on CPU).

The daemons need root and the SLURM binaries (``.ci/install_slurm.sh`` installs them).
Without the binaries the tests skip, except under CI, where they fail.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch
from helpers.slurm_cluster import PARTITION, SlurmCluster, SlurmStartError, binaries_present
from safetensors.torch import load_file

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
ACCOUNT = "flipci"

# Both runs use this overlay on config.yaml (deep-merged by --configfile): one encoder,
# one probe, a smaller corpus and fewer iterations keep 13 SLURM jobs within minutes.
SMALL_CONFIG = """\
corpora:
  sample:
    n_sentences: 1500
experiments:
  quickstart:
    encoders: [bow_projection]
    probes: [flip]
    test_views: [text_en]
    training:
      max_iterations: 20
targets: [quickstart]
"""

SUBMITTED = re.compile(r"Job (\d+) has been submitted with SLURM jobid (\d+) \(log: (\S+)\)\.")


def _ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _workdir(path: Path) -> Path:
    """A copy of the workflow (Snakefile, rules, conda envs, config) so no run touches REPO/results."""
    path.mkdir(parents=True)
    shutil.copy2(REPO / "Snakefile", path / "Snakefile")
    shutil.copy2(REPO / "config.yaml", path / "config.yaml")
    shutil.copytree(REPO / "workflow", path / "workflow")
    shutil.copytree(REPO / "envs", path / "envs")  # rules name their conda env; Snakemake records it
    (path / "small.yaml").write_text(SMALL_CONFIG)
    return path


def _snakemake_cmd(args: list[str], env: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    env = dict(env)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"  # `flip` for the jobs
    return [sys.executable, "-m", "snakemake", "--configfile", "small.yaml", *args], env


def _snakemake(workdir: Path, args: list[str], env: dict[str, str], timeout: int = 420):
    cmd, env = _snakemake_cmd(args, env)
    return subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout)


def _mtimes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in sorted(root.rglob("*")) if p.is_file()}


@dataclass
class SlurmRun:
    proc: subprocess.CompletedProcess
    submitted: dict[str, tuple[str, str]] = field(default_factory=dict)  # slurm id -> (snakemake id, log)

    @property
    def output(self) -> str:
        return self.proc.stdout + self.proc.stderr

    @classmethod
    def of(cls, proc: subprocess.CompletedProcess) -> "SlurmRun":
        run = cls(proc)
        for sm_id, slurm_id, log in SUBMITTED.findall(run.output):
            run.submitted[slurm_id] = (sm_id, log)
        return run


@dataclass
class Scenario:
    cluster: SlurmCluster
    workdir: Path
    local_results: Path
    failing: SlurmRun
    resumed: SlurmRun
    mtimes_after_failure: dict[str, int]
    mtimes_after_rerun: dict[str, int]
    records: list[dict[str, str]]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    if not binaries_present():
        msg = "SLURM is not installed (munged, slurmctld, slurmd, sbatch, squeue): run `.ci/install_slurm.sh` as root"
        if _ci():
            pytest.fail(f"CI is set but {msg}")
        pytest.skip(msg)
    if os.geteuid() != 0:
        pytest.fail("the test cluster's daemons run as root (SlurmUser=root): run the SLURM tests as root")
    cluster = SlurmCluster(tmp_path_factory.mktemp("slurm"))
    try:
        cluster.start()
    except SlurmStartError as err:
        pytest.fail(f"SLURM did not start:\n{err}")
    yield cluster
    cluster.stop()


@pytest.fixture(scope="module")
def scenario(cluster, tmp_path_factory) -> Scenario:
    # The reference: the same small quickstart run locally (profiles/local, 2 cores), in
    # the background while the SLURM runs mostly wait on the cluster.
    local_dir = _workdir(tmp_path_factory.mktemp("local") / "wf")
    local_cmd, local_env = _snakemake_cmd(
        ["--profile", str(REPO / "profiles/local"), "--cores", "2", "--config", "gpus=0"],
        {k: v for k, v in os.environ.items() if not k.startswith("SLURM")},
    )
    local_log = open(local_dir / "snakemake.out", "w")
    local = subprocess.Popen(local_cmd, cwd=local_dir, env=local_env, stdout=local_log, stderr=subprocess.STDOUT)

    workdir = _workdir(tmp_path_factory.mktemp("onslurm") / "wf")
    env = cluster.env()
    # partition and account come from the profile's environment variables, as a user would set them
    env.update(FLIP_SLURM_PARTITION=PARTITION, FLIP_SLURM_ACCOUNT=ACCOUNT)
    common = [
        "--profile", str(REPO / "profiles/slurm"),
        # this cluster keeps no accounting database: poll squeue (finished jobs stay in it
        # for MinJobAge=600 s) and start polling after 1 s instead of 40
        "--slurm-status-command", "squeue",
        "--slurm-init-seconds-before-status-checks", "1",
    ]
    failing = SlurmRun.of(_snakemake(workdir, [*common, "--config", "gpus=0", "device=cuda"], env))
    mtimes_after_failure = _mtimes(workdir / "results")
    time.sleep(1.1)  # any rewrite of a finished output would now show in its mtime
    resumed = SlurmRun.of(_snakemake(workdir, [*common, "--config", "gpus=0"], env))
    local.wait(timeout=420)
    local_log.close()
    assert local.returncode == 0, "local run failed:\n" + (local_dir / "snakemake.out").read_text()[-6000:]
    return Scenario(
        cluster=cluster,
        workdir=workdir,
        local_results=local_dir / "results",
        failing=failing,
        resumed=resumed,
        mtimes_after_failure=mtimes_after_failure,
        mtimes_after_rerun=_mtimes(workdir / "results"),
        records=cluster.jobcomp_records(),
    )


def _fail_context(s: Scenario) -> str:
    return (
        f"--- failing run (rc {s.failing.proc.returncode}) ---\n{s.failing.output[-5000:]}\n"
        f"--- rerun (rc {s.resumed.proc.returncode}) ---\n{s.resumed.output[-5000:]}\n{s.cluster.logs()[-3000:]}"
    )


@pytest.mark.slow
def test_failed_slurm_job_is_reported_with_its_log(scenario):
    s = scenario
    assert s.failing.proc.returncode != 0, _fail_context(s)
    by_id = {r["JobId"]: r for r in s.records}
    failed = [jid for jid in s.failing.submitted if by_id.get(jid, {}).get("JobState") == "FAILED"]
    assert failed, f"no SLURM job of the failing run ended FAILED\n{_fail_context(s)}"
    for jid in failed:
        slurm_log = Path(s.failing.submitted[jid][1])
        assert slurm_log.is_file(), f"SLURM log {slurm_log} of failed job {jid} is missing"
        assert str(slurm_log.relative_to(s.workdir)).startswith("logs/slurm/rule_embed/")
        # Snakemake's error report names the failed SLURM job and its log file
        assert f"SLURM-job '{jid}' failed" in s.failing.output, _fail_context(s)
        assert str(slurm_log) in s.failing.output, _fail_context(s)
        # the log holds the stage's own error (no CUDA on this node)
        assert "embed" in slurm_log.read_text(errors="replace")
    assert "Error in rule embed" in s.failing.output
    # the stages that need no GPU finished before the run stopped
    for done in ("corpora/sample/info.json", "vocab/sample_en/vocab.json", "bow/sample_en/sample/train/text_en.npz"):
        assert done in s.mtimes_after_failure, f"{done} missing after the failing run\n{_fail_context(s)}"


@pytest.mark.slow
def test_rerun_resumes_without_recomputing_finished_outputs(scenario):
    s = scenario
    assert s.resumed.proc.returncode == 0, _fail_context(s)
    unchanged = {p: t for p, t in s.mtimes_after_failure.items() if s.mtimes_after_rerun.get(p) == t}
    assert unchanged == s.mtimes_after_failure, "the rerun rewrote outputs the failing run had finished"
    rules_rerun = set(re.findall(r"^(?:local)?rule (\w+):", s.resumed.output, flags=re.M))
    assert {"corpus", "vocab", "bow"}.isdisjoint(rules_rerun), rules_rerun
    assert {"embed", "train", "evaluate", "report_table"} <= rules_rerun, rules_rerun


@pytest.mark.slow
def test_every_job_ran_as_a_slurm_job_without_gpu_request(scenario):
    s = scenario
    submitted = {**s.failing.submitted, **s.resumed.submitted}
    by_id = {r["JobId"]: r for r in s.records}
    assert set(submitted) <= set(by_id), f"jobs missing from the cluster's job history: {set(submitted) - set(by_id)}"
    # first run: corpus, vocab, bow x3 finish and embed x5 fail; the rerun: embed x5,
    # train, evaluate (report_table is one of the Snakefile's localrules: rendered in the
    # Snakemake process, never queued). Only the embed jobs of the first run failed.
    assert len(s.failing.submitted) >= 6 and len(s.resumed.submitted) >= 4, _fail_context(s)
    assert not [log for _, log in submitted.values() if "/rule_report_table/" in log], _fail_context(s)
    for jid, (_, log) in s.failing.submitted.items():
        expected = "FAILED" if "/rule_embed/" in log else "COMPLETED"
        assert by_id[jid]["JobState"] == expected, (log, by_id[jid])
    for jid in s.resumed.submitted:
        rec = by_id[jid]
        assert rec["JobState"] == "COMPLETED", rec
        assert Path(s.resumed.submitted[jid][1]).is_file()  # slurm-keep-successful-logs
    for jid in submitted:
        rec = by_id[jid]
        assert rec["Partition"] == PARTITION and rec["Account"] == ACCOUNT, rec
        assert "gres/gpu" not in rec.get("Tres", ""), f"gpus=0 but job {jid} asked for a GPU: {rec}"
    # embed and train ask for 2 CPUs and 8 GB, as their rules declare
    train_ids = [jid for jid, (_, log) in s.resumed.submitted.items() if "/rule_train/" in log]
    assert len(train_ids) == 1
    assert by_id[train_ids[0]]["Tres"].startswith("cpu=2,mem=8000M"), by_id[train_ids[0]]


@pytest.mark.slow
def test_slurm_results_equal_local_results(scenario):
    s = scenario
    local_table = s.local_results
    assert s.resumed.proc.returncode == 0, _fail_context(s)
    slurm = s.workdir / "results"
    for rel in ("tables/quickstart.csv", "tables/quickstart.md"):
        assert (slurm / rel).read_bytes() == (local_table / rel).read_bytes(), rel
    # the trained probe itself is the same, bit for bit (its tensors: the order of the
    # safetensors header's metadata keys varies from process to process)
    models = sorted(p.relative_to(slurm) for p in slurm.glob("models/*/*/model.safetensors"))
    assert models
    for rel in models:
        ours, ref = load_file(slurm / rel), load_file(local_table / rel)
        assert ours.keys() == ref.keys(), rel
        for key in ours:
            assert torch.equal(ours[key], ref[key]), (rel, key)


def _dry_run_resources(workdir: Path, extra: list[str]) -> dict[str, list[dict[str, str]]]:
    """rule -> the resources of each of its jobs, as a dry run under profiles/slurm prints them."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM", "FLIP_SLURM"))}
    env["FLIP_SLURM_GPU_PARTITION"] = "gpu"
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--forceall", "--profile", str(REPO / "profiles/slurm"), *extra],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    jobs: dict[str, list[dict[str, str]]] = {}
    for block in re.split(r"\n(?=rule \w+:)", proc.stdout):
        head = re.match(r"rule (\w+):", block)
        res = re.search(r"^\s+resources: (.*)$", block, flags=re.M)
        if head and res:
            pairs = dict(kv.split("=", 1) for kv in res.group(1).split(", "))
            wc = re.search(r"^\s+wildcards: (.*)$", block, flags=re.M)
            pairs["wildcards"] = wc.group(1) if wc else ""
            jobs.setdefault(head.group(1), []).append(pairs)
    return jobs


def test_gpu_requests_follow_config(tmp_path):
    """Fast, no cluster needed: embed/train ask for `gpus` GPUs (default 1), nothing else does."""
    workdir = _workdir(tmp_path / "wf")
    jobs = _dry_run_resources(workdir, [])
    for job in jobs["train"]:
        assert job["gpu"] == "1" and job["slurm_partition"] == "gpu", job
    for job in jobs["embed"]:
        neural = "encoder=minilm" in job["wildcards"]
        assert job["gpu"] == ("1" if neural else "0"), job
    for rule in ("corpus", "vocab", "bow", "evaluate", "report_table"):
        for job in jobs[rule]:
            assert "gpu" not in job and job.get("slurm_partition") != "gpu", (rule, job)
    off = _dry_run_resources(workdir, ["--config", "gpus=0"])
    assert all(job["gpu"] == "0" for rule in ("embed", "train") for job in off[rule])
