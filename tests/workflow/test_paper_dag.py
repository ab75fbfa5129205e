"""The paper's grid in config.yaml: every named target plans, each only the jobs it needs,
and shared work (embeddings, vocabularies, bags of words) is planned once."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from helpers.published import write_published

from flip_pipeline.config.runs import expand_runs
from flip_pipeline.config.validation import load_config

REPO = Path(__file__).resolve().parents[2]
CONFIG = load_config(REPO / "config.yaml")
PAPER = CONFIG["paper"]


def dry_run(tmp_path: Path, *targets: str) -> list[tuple[str, str]]:
    """``(rule, first output)`` of every job ``snakemake -n`` plans for ``targets`` (fresh results folder)."""
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", *targets, "-n", "-s", str(REPO / "Snakefile"),
         "--directory", str(tmp_path), "--configfile", str(REPO / "config.yaml")],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return re.findall(r"^(?:local)?rule (\w+):\n\s+(?:input: .*\n\s+)?output: ([^,\n]+)", proc.stdout, re.M)


def test_the_paper_lists_every_table_and_figure():
    assert PAPER == ["table1_rank", "table2_modality", "table3_language", "table4_vocab_language",
                     "table5_encoders", "table6_splice", "fig1_entity_recall", "pr_curves"]


def test_table1_grid_is_the_papers():
    runs = {r.name for r in expand_runs(CONFIG, "t1_rank")}
    assert runs == {"lip-a0.5-sonar-text_en+speech_en", *(f"flip-r{r}-a0.5-sonar-text_en+speech_en"
                                                         for r in ("full", 512, 256, 128))}


def test_paper_plans_each_embedding_once_for_every_encoder_and_corpus(tmp_path):
    jobs = dry_run(tmp_path, "paper")
    outputs = [out for _, out in jobs]
    assert len(outputs) == len(set(outputs))  # nothing planned twice
    embeds = [out for rule, out in jobs if rule == "embed"]
    by_encoder = Counter(out.split("/")[2] for out in embeds)
    # SONAR: 3 MCV corpora x 2 views + 6 bitexts x 2 languages, x 3 splits; LaBSE, Gemini: Europarl EN-DE
    assert by_encoder == {"sonar": (3 * 2 + 6 * 2) * 3, "labse": 6, "gemini": 6}
    corpora = {out.split("/")[3] for out in embeds}
    # every corpus of the paper's grid; FLEURS's are the layer-wise family's (`snakemake thesis`)
    assert corpora == {name for name, c in CONFIG["corpora"].items()
                       if c["source"] not in ("sample", "flip_data", "fleurs")}
    assert Counter(rule for rule, _ in jobs)["report_table"] == 6
    assert not (tmp_path / "results").exists()  # a dry run writes nothing there (not even the report specs)
    # sim_threshold 0.0 on the speech+text experiments (Tables 1, 2, 6) only: their text-speech scores on the
    # train and dev splits of MCV; the text-only Europarl and Samanantar runs filter nothing
    assert sorted(out for rule, out in jobs if rule == "pair") == sorted(
        f"results/embeddings/sonar/mcv15_{lang}/{split}/sim_text_{lang}__speech_{lang}.parquet"
        for lang in ("en", "de", "fr") for split in ("train", "dev"))


@pytest.mark.parametrize("target", ["table3_language", "table6_splice"])
def test_a_table_plans_only_its_own_jobs(tmp_path, target):
    jobs = dry_run(tmp_path, target)
    experiments = set(CONFIG["tables"][target]["experiments"])
    for rule, out in jobs:
        if rule in ("train", "splice", "evaluate"):
            assert out.split("/")[2] in experiments, out
    rules = Counter(rule for rule, _ in jobs)
    if target == "table3_language":  # text only: no speech, no entities, no SpLiCE
        assert not any("speech" in out for _, out in jobs)
        assert rules["train"] == 12 and rules["evaluate"] == 24 and "splice" not in rules
    else:
        assert rules["splice"] == 1 and rules["train"] == 1


def test_table1_from_the_published_data_imports_and_embeds_nothing(tmp_path, tatoeba_dir):
    write_published(tmp_path / CONFIG["corpora"]["flipdata_mcv15_en"]["root"], tatoeba_dir)
    jobs = dry_run(tmp_path, "table1_rank_published")
    rules = Counter(rule for rule, _ in jobs)
    # sim_threshold 0.0 filters train and dev on the published scores, imported, never recomputed
    assert rules["import_flip_view"] == 6 and rules["import_flip_scores"] == 2 and "pair" not in rules
    assert "embed" not in rules and rules["train"] == 5 and rules["evaluate"] == 10
