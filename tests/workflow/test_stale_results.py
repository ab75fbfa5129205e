"""Nothing stale survives: a table is rebuilt, or refused naming the run, when the model or
configuration behind one of its evaluations is gone (issue: a stale table after a killed retraining)."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from helpers.tiny import TINY

from flip_pipeline.cli import main
from flip_pipeline.plan.runs import ReportPlan

REPO = Path(__file__).resolve().parents[2]

LIP = "lip-a1-bow-text_en"


def write_config(workdir: Path, **training) -> Path:
    config = {**TINY, "training": {**TINY["training"], **training}}
    path = workdir / "tiny.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def snakemake_cmd(workdir: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--configfile",
            str(workdir / "tiny.yaml"), "--directory", str(workdir), "--cores", "2", *args]


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(snakemake_cmd(workdir, *args), capture_output=True, text=True, cwd=workdir)


def table_rows(workdir: Path) -> dict[str, dict]:
    with open(workdir / "results" / "tables" / "tiny.csv") as fh:
        return {row["run"]: row for row in csv.DictReader(fh)}


def model_config(workdir: Path, run: str) -> dict:
    return json.loads((workdir / "results" / "models" / "tiny" / run / "config.json").read_text())


@pytest.fixture()
def built(tmp_path):
    write_config(tmp_path)
    proc = snakemake(tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return tmp_path


@pytest.mark.slow
def test_a_killed_retraining_after_a_config_change_rebuilds_the_table(built):
    before, old_table = table_rows(built), table_fingerprint(built)
    old = model_config(built, LIP)["fingerprint"]
    assert before[LIP]["fingerprint"] and old
    write_config(built, lr=0.001)
    job = subprocess.Popen(snakemake_cmd(built), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=built,
                           start_new_session=True)
    deadline = time.time() + 300
    trains = []
    while time.time() < deadline and not trains:  # kill -9 the first `flip train` job once it runs
        out = subprocess.run(["pgrep", "-f", "flip train"], capture_output=True, text=True).stdout.split()
        trains = [int(pid) for pid in out if int(pid) != os.getpid()]
        time.sleep(0.2)
    assert trains, "no training job started after the learning-rate change"
    for pid in trains:
        os.kill(pid, signal.SIGKILL)
    job.wait(timeout=300)

    again = snakemake(built)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "Nothing to be done" not in again.stdout + again.stderr
    after = table_rows(built)
    new = model_config(built, LIP)
    assert new["training"]["lr"] == 0.001 and new["fingerprint"] != old
    for run, row in after.items():  # every row from the new configuration, each model present
        assert row["fingerprint"] != before[run]["fingerprint"], run
        assert (built / "results" / "models" / "tiny" / run / "model.safetensors").exists()
    assert table_fingerprint(built) != old_table


def table_fingerprint(workdir: Path) -> str:
    return (workdir / "results" / "tables" / "tiny.md").read_text().split("Configuration fingerprint ")[1][:16]


@pytest.mark.slow
def test_a_model_deleted_by_a_failed_training_stops_the_run_naming_the_run_and_the_fix(built):
    model = built / "results" / "models" / "tiny" / LIP / "model.safetensors"
    model.unlink()  # what Snakemake leaves after a failed `--forcerun train`
    plan = snakemake(built, "-n")
    said = plan.stdout + plan.stderr
    assert plan.returncode != 0 and "Nothing to be done" not in said
    assert f"run {LIP!r} of experiment 'tiny' lost its model" in said and str(model.relative_to(built)) in said
    command = said.split("remove them and rerun to rebuild: ")[1].split("\n")[0]
    assert subprocess.run(command, shell=True, cwd=built).returncode == 0  # the command it gives
    plan = snakemake(built, "-n")
    for rule in ("rule train:", "rule evaluate:", "rule report_table:"):
        assert rule in plan.stdout + plan.stderr, rule
    assert snakemake(built).returncode == 0 and model.exists()


@pytest.mark.slow
def test_the_report_refuses_an_evaluation_of_another_configuration(built, capsys):
    spec = ReportPlan(yaml.safe_load((built / "tiny.yaml").read_text()), str(built / "results")).spec("tiny")
    inputs = [e["path"] for e in spec["entries"]]
    summary = Path(inputs[0])
    record = json.loads(summary.read_text())
    summary.write_text(json.dumps({**record, "fingerprint": "0" * 16}))
    code = main(["report", "--kind", "table", "--name", "tiny", "--spec", json.dumps(spec), "--inputs", *inputs,
                 "--out-prefix", str(built / "again")])
    err = capsys.readouterr().err
    assert code == 2 and "was made by another configuration" in err and spec["entries"][0]["run"] in err
    summary.write_text(json.dumps(record))
    model = Path(spec["entries"][0]["model"])
    model.rename(model.with_suffix(".gone"))
    code = main(["report", "--kind", "table", "--name", "tiny", "--spec", json.dumps(spec), "--inputs", *inputs,
                 "--out-prefix", str(built / "again")])
    err = capsys.readouterr().err
    assert code == 2 and "is missing" in err and "snakemake --forcerun" in err
    assert not (built / "again.md").exists()
