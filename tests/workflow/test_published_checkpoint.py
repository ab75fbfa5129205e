"""An experiment with a `checkpoint` end to end: a published checkpoint named by hub id (here in an
offline hub cache) is fetched into the run's model folder, never trained; its bag of words is counted
against its own vocab.json; its evaluation is what `flip evaluate --model-dir <hub id>` gives, and a
table reports it. Planning (`snakemake -n`) reads nothing from the hub."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from helpers.hub import HUB_ID, offline_hub_cache

from flip_pipeline.cli import main
from flip_pipeline.corpora import sample
from flip_pipeline.formats import paths
from flip_pipeline.formats.checkpoint import save_checkpoint
from flip_pipeline.formats.vocabulary import Vocabulary
from flip_pipeline.probes.lip import make_probe
from flip_pipeline.text import Tokenizer

REPO = Path(__file__).resolve().parents[2]
RUN = "flip-r4-bow-published"
CONFIG = {
    "results": "results", "device": "cpu",
    "corpora": {"tiny": {"source": "sample", "n_sentences": 200, "languages": ["en"],
                         "splits": {"train": 0.8, "dev": 0.1, "test": 0.1}, "seed": 0}},
    "encoders": {"bow": {"family": "bow_projection", "dim": 32}},
    "vocabularies": {},
    "experiments": {"published": {"checkpoint": HUB_ID, "corpus": "tiny", "encoders": ["bow"], "probe": "flip",
                                  "rank": 4, "test_views": ["text_en"]}},
    "tables": {"published": {"layout": "rank", "experiments": ["published"], "caption": "published"}},
    "targets": ["published"],
}
JOB = re.compile(r"^(?:local)?rule (\w+):\n(?:\s+input: .*\n)?\s+output: ([^,\n]+)", re.M)


def english_words() -> list[str]:
    """Every English word of the sample corpus's lexicon, so its sentences have in-vocabulary words."""
    tokens = Tokenizer("latin").tokens
    lexicon = [*sample.SUBJECTS, *sample.VERBS, *sample.NUMBERS, *sample.ADJECTIVES, *sample.NOUNS, *sample.PLACES,
               *sample.TIMES]
    return sorted({word for entry in lexicon for word in tokens(entry[0])})


def write_checkpoint(folder: Path) -> None:
    """A FLiP of rank 4 over 32-d embeddings, as the hub would hold a published one."""
    words = english_words()
    torch.manual_seed(0)
    save_checkpoint(folder, make_probe("flip", len(words), 32, 4), Vocabulary(words, Tokenizer("latin")),
                    {"note": "published"})


def snakemake(workdir: Path, config: dict, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    (workdir / "published.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--configfile",
                           str(workdir / "published.yaml"), "--directory", str(workdir), "--cores", "2", *args],
                          capture_output=True, text=True, cwd=workdir, env=env)


def jobs(proc: subprocess.CompletedProcess) -> list[tuple[str, str]]:
    assert proc.returncode == 0, proc.stderr[-3000:]
    return JOB.findall(proc.stdout)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("published")
    with pytest.MonkeyPatch.context() as mp:
        cache = offline_hub_cache(tmp, mp, write_checkpoint)
        workdir = tmp / "work"
        workdir.mkdir()
        empty = {**os.environ, "HF_HUB_CACHE": str(tmp / "empty-cache")}
        plan = jobs(snakemake(workdir, CONFIG, "-n", env=empty))  # planning: no hub needed
        proc = snakemake(workdir, CONFIG)
        assert proc.returncode == 0, proc.stderr[-3000:]
        yield {"workdir": workdir, "cache": cache, "plan": plan, "tmp": tmp}


@pytest.mark.slow
def test_nothing_is_trained_and_the_checkpoint_is_fetched(built):
    rules = sorted(rule for rule, _ in built["plan"])
    assert "train" not in rules and "vocab" not in rules and "bow" not in rules
    assert rules == sorted(["corpus", "embed", "fetch_checkpoint", "checkpoint_bow", "evaluate", "report_table"])
    assert ("fetch_checkpoint", f"results/models/published/{RUN}/model.safetensors") in built["plan"]
    model = built["workdir"] / "results" / "models" / "published" / RUN
    assert sorted(p.name for p in model.iterdir()) == ["config.json", "model.safetensors", "vocab.json"]
    [snapshot] = (built["cache"] / "models--BUT-FIT--FLiP-en-sonar" / "snapshots").iterdir()
    source = snapshot / "mcv15" / "rank-512"
    assert (model / "model.safetensors").read_bytes() == (source / "model.safetensors").read_bytes()
    assert (model / "vocab.json").read_bytes() == (source / "vocab.json").read_bytes()
    config = json.loads((model / "config.json").read_text())
    assert config["checkpoint"] == HUB_ID and config["note"] == "published" and config["fingerprint"]


@pytest.mark.slow
def test_its_evaluation_is_flip_evaluate_of_the_hub_id_and_a_table_reports_it(built, monkeypatch):
    results = built["workdir"] / "results"
    offline_hub_cache(built["tmp"] / "again", monkeypatch, write_checkpoint)  # the same checkpoint, offline
    summary = json.loads(Path(paths.eval_summary(results, "published", RUN, "text_en")).read_text())
    emb = paths.embedding_dir(results, "bow", "tiny", "test", "text_en")
    bow = paths.checkpoint_bow_file(results, "published", RUN, "test", "text_en")
    direct_bow, direct = built["tmp"] / "direct.npz", built["tmp"] / "direct.json"
    table = results.parent / paths.corpus_table("results", "tiny", "test")
    assert main(["bow", "--vocab-dir", HUB_ID, "--corpus-table", str(table), "--view", "text_en",
                 "--out", str(direct_bow)]) == 0
    assert main(["evaluate", "--model-dir", HUB_ID, "--embeddings", emb, "--bow", str(direct_bow),
                 "--out", str(direct)]) == 0
    again = json.loads(direct.read_text())
    assert summary["accuracy"] == again["accuracy"] and summary["accuracy"]["n"] > 0
    assert Path(bow).read_bytes() == direct_bow.read_bytes()
    with open(results / "tables" / "published.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["run"], r["method"], r["rank"], r["test_view"]) for r in rows] == [(RUN, "flip", "4", "text_en")]
    assert float(rows[0]["accuracy"]) == pytest.approx(100 * summary["accuracy"]["mean"], abs=1e-4)


@pytest.mark.slow
def test_another_checkpoint_is_fetched_again_and_nothing_of_the_old_one_stays(built):
    snapshot = next((built["cache"] / "models--BUT-FIT--FLiP-en-sonar" / "snapshots").iterdir())
    config = json.loads(json.dumps(CONFIG))
    config["experiments"]["published"]["checkpoint"] = str(snapshot / "mcv15" / "rank-512")  # a local folder
    rules = sorted(rule for rule, _ in jobs(snakemake(built["workdir"], config, "-n")))
    assert rules == ["checkpoint_bow", "evaluate", "fetch_checkpoint", "report_table"]


@pytest.mark.slow
def test_entity_recall_reads_the_fetched_checkpoint_as_a_trained_run(built):
    config = json.loads(json.dumps(CONFIG))
    config["entities"] = {"tiny_en": {"corpus": "tiny", "view": "text_en", "pipeline": "en_core_web_sm"}}
    config["figures"] = {"recall": {"layout": "entity_recall", "experiments": ["published"], "entities": "tiny_en"}}
    planned = jobs(snakemake(built["workdir"], config, "-n", "recall"))
    assert sorted(rule for rule, _ in planned) == ["entities", "entity_recall", "report_figure"]  # the model stands
    assert ("entity_recall", f"results/entity_recall/published/{RUN}/text_en.tiny_en.json") in planned
