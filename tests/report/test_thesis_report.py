"""The thesis's tables and figures from similarity files: every cell is the mean it claims to be."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.similarity_scores import write_scores
from flip_pipeline.report.thesis_plan import ThesisPlan
from flip_pipeline.stages.thesis_report import thesis_report_stage

LAYERS = ["embeddings", "layer_01", "layer_02", "pooled"]
LANGS = {"de": "high", "fr": "high", "sw": "low"}


def similarity_rows(encoder: str, analysis: str, seed: int = 0) -> pd.DataFrame:
    """Rows shaped like the similarity stage's output, with random scores."""
    rng = np.random.default_rng(seed)
    rows = []
    pairs = ([(lang, "speech", lang, "text") for lang in LANGS] if analysis == "cross_modal" else
             [(a, "text", b, "text") for a in LANGS for b in LANGS])
    for layer in LAYERS:
        for la, ma, lb, mb in pairs:
            for method in ("svcca", "linear_cka"):
                score = 1.0 if la == lb and analysis != "cross_modal" else float(rng.uniform(0.3, 0.95))
                rows.append({"encoder": encoder, "analysis": analysis, "layer_a": layer, "layer_b": layer,
                             "language_a": la, "modality_a": ma, "language_b": lb, "modality_b": mb,
                             "resource_a": LANGS[la], "resource_b": LANGS[lb], "n": 40, "dim_a": 16, "dim_b": 16,
                             "reduced_a": 9, "reduced_b": 10, "method": method, "score": score,
                             "chance": float(rng.uniform(0.1, 0.3)), "chance_sd": 0.01, "null_mean": 0.2,
                             "null_p95": 0.25, "p_value": 0.01, "ci_low": score - 0.05, "ci_high": score + 0.05})
    return pd.DataFrame(rows)


@pytest.fixture
def files(tmp_path):
    out = {}
    for analysis in ("cross_modal", "cross_lingual_text"):
        frame = similarity_rows("sonar", analysis)
        path = tmp_path / f"{analysis}.parquet"
        write_scores(frame, path, {"settings": {"methods": ["svcca", "linear_cka"], "permutations": 7}})
        out[analysis] = (str(path), frame)
    return out


def test_cross_modal_summary_cells_are_final_layer_means(files, tmp_path):
    path, frame = files["cross_modal"]
    spec = {"layout": "cross_modal_summary", "labels": {"sonar": "SONAR"}, "caption": "c"}
    thesis_report_stage("table", "thesis_table5_1", spec, [path], str(tmp_path / "t51"))
    tidy = pd.read_csv(tmp_path / "t51.csv")
    final = frame[(frame.layer_a == "pooled") & (frame.method == "svcca")]
    row = tidy[(tidy.method == "svcca") & (tidy.resource == "all") & (tidy.layer == "pooled")].iloc[0]
    assert row.score == pytest.approx(final.score.mean(), abs=1e-4)
    assert row.chance == pytest.approx(final.chance.mean(), abs=1e-4)
    low = tidy[(tidy.method == "svcca") & (tidy.resource == "low")].iloc[0]
    assert low.score == pytest.approx(final[final.resource_a == "low"].score.mean(), abs=1e-4)
    change = tidy[(tidy.method == "svcca") & tidy.change.notna()].iloc[0]
    before = frame[(frame.layer_a == "layer_02") & (frame.method == "svcca")].score.mean()
    assert change.change == pytest.approx(final.score.mean() - before, abs=1e-4)
    md = (tmp_path / "t51.md").read_text()
    assert f"{final.score.mean():.3f} ({final.chance.mean():.3f})" in md and "SONAR" in md
    assert (tmp_path / "t51.tex").exists()
    assert '"permutations": 7' in md  # the settings that produced the scores
    assert list(dict.fromkeys(tidy.method)) == ["svcca", "linear_cka"]  # the thesis's order, not the alphabet's
    assert md.index("| svcca |") < md.index("| linear_cka |")


def test_cross_lingual_summary_leaves_out_same_language_pairs(files, tmp_path):
    path, frame = files["cross_lingual_text"]
    spec = {"layout": "cross_lingual_summary", "labels": {}, "caption": "c"}
    thesis_report_stage("table", "thesis_table5_2", spec, [path], str(tmp_path / "t52"))
    tidy = pd.read_csv(tmp_path / "t52.csv")
    final = frame[(frame.layer_a == "pooled") & (frame.method == "svcca") & (frame.language_a != frame.language_b)]
    row = tidy[(tidy.method == "svcca") & (tidy.analysis == "cross_lingual_text")].iloc[0]
    assert row.score == pytest.approx(final.score.mean(), abs=1e-4)  # the 1.0 diagonal is not averaged in
    assert row.pairs == len(final)


@pytest.mark.parametrize("layout,analysis,options", [
    ("cross_modal", "cross_modal", {}),
    ("cross_modal_by_resource", "cross_modal", {}),
    ("cross_lingual", "cross_lingual_text", {}),
    ("heatmap", "cross_lingual_text", {"layers": ["embeddings", "pooled"]}),
])
def test_figures_are_written(files, tmp_path, layout, analysis, options):
    spec = {"layout": layout, "labels": {"sonar": "SONAR"}, "caption": "a caption", **options}
    thesis_report_stage("figure", f"thesis_{layout}", spec, [files[analysis][0]], str(tmp_path / layout))
    for ext in ("png", "pdf"):
        assert (tmp_path / f"{layout}.{ext}").stat().st_size > 1000


def test_heatmap_of_a_missing_layer_names_it(files, tmp_path):
    spec = {"layout": "heatmap", "layers": ["layer_09"], "caption": ""}
    with pytest.raises(FlipInputError, match="layer_09.*embeddings, layer_01"):
        thesis_report_stage("figure", "thesis_heatmap_x_text", spec, [files["cross_lingual_text"][0]],
                            str(tmp_path / "h"))
    assert not list(tmp_path.glob("h.*"))


def test_a_similarity_file_without_chance_is_refused(files, tmp_path):
    path, frame = files["cross_modal"]
    bad = tmp_path / "bad.parquet"
    frame.drop(columns=["chance"]).to_parquet(bad)
    with pytest.raises(FlipInputError, match=r"bad.parquet: similarity file has no column\(s\) \['chance'\]"):
        thesis_report_stage("table", "thesis_table5_1", {"layout": "cross_modal_summary"}, [str(bad)],
                            str(tmp_path / "t"))


def thesis_config(**models):
    return {"corpora": {f"fleurs_{lang}": {"source": "fleurs"} for lang in LANGS},
            "thesis": {"languages": {lang: {"corpus": f"fleurs_{lang}", "resource": r} for lang, r in LANGS.items()},
                       "models": models}}


def test_plan_names_every_target_and_only_what_a_model_can_give():
    plan = ThesisPlan(thesis_config(sonar={"resource_figure": "thesis_fig5_3", "tsne_layers": ["embeddings", "pooled"]},
                                    minilm={"modalities": ["text"], "languages": ["de", "fr"]}), "R")
    outputs = plan.outputs()
    assert {"thesis_fig5_1", "thesis_fig5_3", "thesis_fig5_5", "thesis_table5_1", "thesis_table5_2",
            "thesis_heatmap_sonar_text", "thesis_heatmap_sonar_speech", "thesis_heatmap_sonar_speech_text",
            "thesis_heatmap_minilm_text", "thesis_tsne_sonar_embeddings", "thesis_tsne_sonar_pooled",
            "thesis_tsne_minilm_embeddings"} == set(outputs)
    assert plan.analyses("minilm") == ["cross_lingual_text"]
    # the text encoder is in the cross-lingual figure but not in the cross-modal one
    assert outputs["thesis_fig5_1"]["inputs"] == ["R/similarity/sonar/cross_modal.parquet"]
    assert "R/similarity/minilm/cross_lingual_text.parquet" in outputs["thesis_fig5_5"]["inputs"]
    assert plan.layers_manifests("minilm") == ["R/layers/minilm/fleurs_de/test/text_de/_SUCCESS",
                                               "R/layers/minilm/fleurs_fr/test/text_fr/_SUCCESS"]
    assert plan.view_dirs("sonar")["sw"] == {"text": "R/layers/sonar/fleurs_sw/test/text_sw",
                                             "speech": "R/layers/sonar/fleurs_sw/test/speech_sw"}
    assert set(plan.groups()["thesis"]) == set(outputs)
    assert plan.files("thesis_table5_1") == ["R/tables/thesis_table5_1.md", "R/tables/thesis_table5_1.csv",
                                             "R/tables/thesis_table5_1.tex", "R/tables/thesis_table5_1.html"]
    with pytest.raises(FlipInputError, match="'thesis_fig9' is not a thesis table or figure"):
        plan.output("thesis_fig9")


def test_plan_without_thesis_section_is_empty():
    assert ThesisPlan({"corpora": {}}, "R").outputs() == {}
