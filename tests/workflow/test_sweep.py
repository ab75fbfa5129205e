"""A swept experiment end to end: every point trained, the best on dev selected without the test
split, only it evaluated, the table naming the chosen settings and listing the points; a grown
grid trains only its new points."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from flip_pipeline.formats import paths
from flip_pipeline.report.latex import escape
from flip_pipeline.stages.evaluate import evaluate_stage

REPO = Path(__file__).resolve().parents[2]
RUN = "flip-rsweep-a1-bow-text_en"
CONFIG = {
    "results": "results", "device": "cpu",
    "corpora": {"tiny": {"source": "sample", "n_sentences": 400, "languages": ["en"],
                         "splits": {"train": 0.8, "dev": 0.1, "test": 0.1}, "seed": 0}},
    "encoders": {"bow": {"family": "bow_projection", "dim": 32}},
    "vocabularies": {"tiny_en": {"corpus": "tiny", "view": "text_en"}},
    "training": {"batch_size": 64, "max_iterations": 2, "eval_every": 1},
    "experiments": {"tiny": {"corpus": "tiny", "vocab": "tiny_en", "encoders": ["bow"], "probes": ["flip"],
                             "train_views": [["text_en"]], "test_views": ["text_en"], "sweep": {"rank": [2, 8]}}},
    "tables": {"tiny": {"layout": "accuracy", "experiments": ["tiny"], "caption": "tiny"}},
    "targets": ["tiny"],
}


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--configfile",
                           str(workdir / "sweep.yaml"), "--directory", str(workdir), "--cores", "2", *args],
                          capture_output=True, text=True, cwd=workdir)


def write_config(workdir: Path, ranks: list[int]) -> None:
    config = json.loads(json.dumps(CONFIG))
    config["experiments"]["tiny"]["sweep"]["rank"] = ranks
    (workdir / "sweep.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")


def models(workdir: Path) -> Path:
    return workdir / "results" / "models" / "tiny"


def table(workdir: Path) -> list[dict]:
    with open(workdir / "results" / "tables" / "tiny.csv") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("sweep")
    write_config(workdir, [2, 8])
    proc = snakemake(workdir)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return workdir


@pytest.mark.slow
def test_the_best_point_on_dev_is_selected_evaluated_and_reported(built):
    selection = json.loads((models(built) / RUN / "selected.json").read_text())
    points = [f"{RUN}@rank={r}" for r in (2, 8)]
    dev = {p: json.loads((models(built) / p / "config.json").read_text())["result"]["best_dev_recall"] for p in points}
    best = max(points, key=lambda p: (dev[p], -points.index(p)))  # ties: the first in grid order
    assert selection["selected_run"] == best and selection["settings"] == {"rank": int(best.split("=")[1])}
    assert [p["best_dev_recall"] for p in selection["points"]] == [dev[p] for p in points]
    assert [path.name for path in (built / "results" / "eval" / "tiny").iterdir()] == [RUN]  # points: not evaluated

    summary = json.loads(Path(paths.eval_summary(built / "results", "tiny", RUN, "text_en")).read_text())
    emb = paths.embedding_dir(built / "results", "bow", "tiny", "test", "text_en")
    bow = paths.bow_file(built / "results", "tiny_en", "tiny", "test", "text_en")
    again = evaluate_stage(models(built) / best, "probe", emb, bow, built / "direct" / "text_en.json")
    assert summary["accuracy"] == again["accuracy"]  # the swept run's evaluation is the selected model's
    assert Path(summary["selected_model"]).name == best

    rows = table(built)
    evaluation = [r for r in rows if r["record"] == "evaluation"]
    swept = [r for r in rows if r["record"] == "sweep point"]
    assert len(evaluation) == 1 and evaluation[0]["point"] == best and evaluation[0]["rank"] == best.split("=")[1]
    assert evaluation[0]["probe"] == f"FLiP r={best.split('=')[1]}"
    assert [r["point"] for r in swept] == points and [r["selected"] for r in swept] == [str(p == best) for p in points]
    assert [float(r["dev_recall"]) for r in swept] == pytest.approx([100 * dev[p] for p in points], abs=1e-4)
    note = f"{RUN}: rank={best.split('=')[1]} (dev recall {100 * dev[best]:.2f}; 2 points"
    assert note in (built / "results" / "tables" / "tiny.md").read_text()
    assert escape(note) in (built / "results" / "tables" / "tiny.tex").read_text()


@pytest.mark.slow
def test_a_grown_grid_trains_only_its_new_point_and_rebuilds_the_table(built):
    old = {p: (models(built) / f"{RUN}@rank={p}" / "model.safetensors").stat().st_mtime_ns for p in (2, 8)}
    old_eval = {r["fingerprint"] for r in table(built) if r["record"] == "evaluation"}
    write_config(built, [2, 8, 4])
    plan = snakemake(built, "-n")
    assert plan.returncode == 0, plan.stderr[-3000:]
    jobs = re.findall(r"^(?:local)?rule (\w+):\n(?:\s+input: .*\n)?\s+output: ([^,\n]+)", plan.stdout, re.M)
    assert sorted(rule for rule, _ in jobs) == ["evaluate", "report_table", "select", "train"]
    assert [out for rule, out in jobs if rule == "train"] == [f"results/models/tiny/{RUN}@rank=4/model.safetensors"]
    proc = snakemake(built)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert {p: (models(built) / f"{RUN}@rank={p}" / "model.safetensors").stat().st_mtime_ns for p in (2, 8)} == old
    rows = table(built)
    assert [r["point"] for r in rows if r["record"] == "sweep point"] == [f"{RUN}@rank={r}" for r in (2, 8, 4)]
    assert not old_eval & {r["fingerprint"] for r in rows if r["record"] == "evaluation"}  # nothing stale survives
