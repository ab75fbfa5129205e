"""The thesis's tables and figures from similarity files: every cell is the mean it claims to be."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats import paths
from flip_pipeline.formats.similarity_scores import write_scores
from flip_pipeline.formats.tsne_map import write_map
from flip_pipeline.plan.thesis import ThesisPlan
from flip_pipeline.stages.report import report_stage

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
                             "null_p95": 0.25, "p_value": 0.01, "ci_low": score - 0.05, "ci_high": score + 0.05,
                             "resamples": (score + 0.02 * rng.standard_normal(20)).tolist()})
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
    report_stage("table", "thesis_table5_1", spec, [path], str(tmp_path / "t51"))
    tidy = pd.read_csv(tmp_path / "t51.csv")
    final = frame[(frame.layer_a == "pooled") & (frame.method == "svcca")]
    row = tidy[(tidy.method == "svcca") & (tidy.resource == "all") & (tidy.layer == "pooled")].iloc[0]
    assert row.score == pytest.approx(final.score.mean(), abs=1e-4)
    assert row.chance == pytest.approx(final.chance.mean(), abs=1e-4)
    low = tidy[(tidy.method == "svcca") & (tidy.resource == "low")].iloc[0]
    assert low.score == pytest.approx(final[final.resource_a == "low"].score.mean(), abs=1e-4)
    change = tidy[(tidy.method == "svcca") & (tidy.step == "extra_stage") & (tidy.resource == "all")].iloc[0]
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
    report_stage("table", "thesis_table5_2", spec, [path], str(tmp_path / "t52"))
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
    report_stage("figure", f"thesis_{layout}", spec, [files[analysis][0]], str(tmp_path / layout))
    for ext in ("png", "pdf"):
        assert (tmp_path / f"{layout}.{ext}").stat().st_size > 1000


def test_heatmap_of_a_missing_layer_names_it(files, tmp_path):
    spec = {"layout": "heatmap", "layers": ["layer_09"], "caption": ""}
    with pytest.raises(FlipInputError, match="layer_09.*embeddings, layer_01"):
        report_stage("figure", "thesis_heatmap_x_text", spec, [files["cross_lingual_text"][0]],
                     str(tmp_path / "h"))
    assert not list(tmp_path.glob("h.*"))


def test_a_similarity_file_without_chance_is_refused(files, tmp_path):
    path, frame = files["cross_modal"]
    bad = tmp_path / "bad.parquet"
    frame.drop(columns=["chance"]).to_parquet(bad)
    with pytest.raises(FlipInputError, match=r"bad.parquet: similarity file lacks columns \['chance'\]"):
        report_stage("table", "thesis_table5_1", {"layout": "cross_modal_summary"}, [str(bad)],
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
            "thesis_tsne_minilm_embeddings", "thesis_layer_changes", "thesis_dimensions_sonar_speech",
            "thesis_dimensions_sonar_text", "thesis_dimensions_cross_lingual", "thesis_table4_2"} == set(outputs)
    assert plan.analyses("minilm") == ["cross_lingual_text"]
    # the text encoder is in the cross-lingual figure but not in the cross-modal one
    assert outputs["thesis_fig5_1"]["inputs"] == ["R/similarity/sonar/cross_modal.parquet"]
    assert "R/similarity/minilm/cross_lingual_text.parquet" in outputs["thesis_fig5_5"]["inputs"]
    assert plan.layers_manifests("minilm") == ["R/layers/minilm/fleurs_de/test/text_de/_SUCCESS",
                                               "R/layers/minilm/fleurs_fr/test/text_fr/_SUCCESS"]
    assert plan.view_dirs("sonar")["sw"] == {"text": "R/layers/sonar/fleurs_sw/test/text_sw",
                                             "speech": "R/layers/sonar/fleurs_sw/test/speech_sw"}
    assert set(plan.groups()["thesis"]) == set(outputs)
    assert paths.report_files("R", outputs["thesis_table5_1"]["kind"], "thesis_table5_1") == [
        "R/tables/thesis_table5_1.md", "R/tables/thesis_table5_1.csv", "R/tables/thesis_table5_1.tex",
        "R/tables/thesis_table5_1.html"]
    with pytest.raises(FlipInputError, match="'thesis_fig9' is not a thesis table or figure"):
        plan.output("thesis_fig9")


def test_plan_without_thesis_section_is_empty():
    assert ThesisPlan({"corpora": {}}, "R").outputs() == {}


def test_plan_of_a_model_with_an_adaptor_gives_each_analysis_its_layers():
    m4t = {"layers": ["embeddings", "layer_01", "layer_02", "adaptor"], "heatmap_layers": ["embeddings", "adaptor"],
           "heatmap_changes": [["layer_02", "adaptor"], ["embeddings", "layer_02"]],
           "tsne_layers": ["layer_02", "adaptor"], "tsne_id_layers": ["adaptor"]}
    plan = ThesisPlan(thesis_config(m4t=m4t), "R")
    outputs = plan.outputs()
    assert outputs["thesis_heatmap_m4t_text"]["layers"] == ["embeddings"]  # the text side has no adaptor
    assert outputs["thesis_heatmap_m4t_speech_text"]["layers"] == ["embeddings", "adaptor"]
    assert outputs["thesis_heatmap_change_m4t_text"]["changes"] == [["embeddings", "layer_02"]]
    assert outputs["thesis_heatmap_change_m4t_speech"]["changes"] == m4t["heatmap_changes"]
    assert outputs["thesis_tsne_ids_m4t_adaptor"]["inputs"] == ["R/tsne/m4t/adaptor.parquet"]
    assert "thesis_tsne_ids_m4t_layer_02" not in outputs
    assert plan.layer_list("m4t", "text") == ["embeddings", "layer_01", "layer_02"]
    assert plan.layer_list("m4t", "speech") == m4t["layers"]
    assert plan.similarity_inputs("m4t", "cross_lingual_text")[-1] == "R/similarity/m4t/cross_lingual_dimensions.parquet"
    assert "R/similarity/m4t/cross_lingual_dimensions.parquet" not in plan.similarity_inputs("m4t", "cross_modal")
    per_set = thesis_config(m4t=m4t)
    per_set["thesis"]["similarity"] = {"cross_lingual_dimensions": "per_set"}
    assert ThesisPlan(per_set, "R").similarity_inputs("m4t", "cross_lingual_text") == plan.layers_manifests("m4t")
    assert set(plan.groups()["thesis_dimensions"]) == {"thesis_dimensions_m4t_speech", "thesis_dimensions_m4t_text",
                                                       "thesis_dimensions_cross_lingual"}
    assert outputs["thesis_table4_2"]["inputs"][:2] == ["R/corpora/fleurs_de/info.json",
                                                        "R/corpora/fleurs_de/test.parquet"]


def test_tables_give_each_change_its_paired_interval_or_say_why_not(files, tmp_path):
    path, frame = files["cross_modal"]
    spec = {"layout": "cross_modal_summary", "labels": {}, "caption": "c"}
    report_stage("table", "thesis_table5_1", spec, [path], str(tmp_path / "t51"))
    tidy = pd.read_csv(tmp_path / "t51.csv")
    steps = tidy[(tidy.method == "svcca") & tidy.step.notna() & (tidy.resource == "all")].set_index("step")
    assert steps.layer.to_dict() == {"first_to_last": "layer_01 → layer_02", "extra_stage": "layer_02 → pooled"}
    for row in steps.itertuples():
        assert row.change_ci_low <= row.change <= row.change_ci_high and 0 < row.change_p_value <= 1
    assert set(tidy[tidy.step == "extra_stage"].resource) == {"all", "high", "low"}  # per resource level too
    md = (tmp_path / "t51.md").read_text()
    assert "p " in md and "[" in md and "no interval" not in md.split("\n\n")[2]
    # without resamples (n small for the dimension): no interval, and the note says why
    bare = tmp_path / "bare.parquet"
    write_scores(frame.assign(resamples=[[] for _ in range(len(frame))]), bare, {"settings": {}})
    report_stage("table", "thesis_table5_1", spec, [str(bare)], str(tmp_path / "bare"))
    md = (tmp_path / "bare.md").read_text()
    assert "no interval†" in md and "n < similarity.min_ratio" in md
    assert pd.read_csv(tmp_path / "bare.csv").change_ci_low.isna().all()
    # every step of every curve
    report_stage("table", "thesis_layer_changes", {"layout": "layer_changes", "caption": "c"},
                 [path, files["cross_lingual_text"][0]], str(tmp_path / "steps"))
    steps = pd.read_csv(tmp_path / "steps.csv")
    assert len(steps) == 2 * 2 * 3  # analyses × methods × steps between 4 layers
    one = steps[(steps.analysis == "cross_modal") & (steps.method == "svcca") & (steps.layer_to == "layer_01")].iloc[0]
    by_layer = frame[frame.method == "svcca"].groupby("layer_a").score.mean()
    assert one.change == pytest.approx(by_layer["layer_01"] - by_layer["embeddings"], abs=1e-4)
    assert one.comparisons == 3


def test_appendix_dimension_tables(files, tmp_path):
    path, frame = files["cross_modal"]
    for modality, dim in (("speech", 9), ("text", 10)):
        spec = {"layout": "cross_modal_dimensions", "modality": modality, "labels": {"sonar": "SONAR"}, "caption": ""}
        report_stage("table", f"thesis_dimensions_sonar_{modality}", spec, [path], str(tmp_path / modality))
        tidy = pd.read_csv(tmp_path / f"{modality}.csv")
        assert set(tidy.dim) == {dim} and len(tidy) == len(LAYERS) * len(LANGS)
        assert "| layer_01 | " + " | ".join([str(dim)] * 3) + " |" in (tmp_path / f"{modality}.md").read_text()
    dims = pd.DataFrame({"encoder": "sonar", "modality": ["speech", "speech", "text"],
                         "layer": ["layer_01", "pooled", "layer_01"], "dim": [117, 154, 153], "sets": 3,
                         "own_min": 100, "own_max": [117, 154, 153], "kept_min": 0.9, "n_min": 194, "n_max": 194})
    write_scores(dims, tmp_path / "dims.parquet", {"settings": {"variance": 0.9}})
    spec = {"layout": "cross_lingual_dimensions", "labels": {"sonar": "SONAR"}, "caption": "", "shared": True}
    report_stage("table", "thesis_dimensions_cross_lingual", spec, [str(tmp_path / "dims.parquet")],
                 str(tmp_path / "a7"))
    md = (tmp_path / "a7.md").read_text()
    assert "| Layer | SONAR speech | SONAR text |" in md and "| layer_01 | 117 | 153 |" in md and "| pooled | 154 |  |" in md


def test_extra_stages_of_two_models_are_rows_in_the_order_of_the_inputs(tmp_path):
    """`adaptor` (one model) and `speech_encoder` (another) rank alike after the encoder layers: their rows
    follow the inputs, not the hash order of a set (which changes with PYTHONHASHSEED from run to run)."""
    paths = []
    for model, stage in (("m4t", "adaptor"), ("sal", "speech_encoder")):
        dims = pd.DataFrame({"encoder": model, "modality": "speech", "layer": ["layer_01", stage], "dim": [5, 6],
                             "sets": 3, "own_min": 4, "own_max": [5, 6], "kept_min": 0.9, "n_min": 30, "n_max": 30})
        paths.append(str(tmp_path / f"{model}.parquet"))
        write_scores(dims, paths[-1], {"settings": {"variance": 0.9}})
    spec = {"layout": "cross_lingual_dimensions", "caption": ""}
    for inputs in (paths, paths[::-1]):
        report_stage("table", "thesis_dimensions_cross_lingual", spec, inputs, str(tmp_path / "a7"))
        rows = [line.split(" | ")[0] for line in (tmp_path / "a7.md").read_text().splitlines() if line.startswith("| ")]
        stages = [row for row in rows if row in ("| adaptor", "| speech_encoder")]
        assert stages == ["| adaptor", "| speech_encoder"][:: 1 if inputs == paths else -1]


def test_table_4_2_check_compares_what_was_read(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    inputs = []
    for corpus, read, kept in (("fleurs_nl", 364, 251), ("fleurs_de", 862, 340)):
        folder = tmp_path / "corpora" / corpus
        folder.mkdir(parents=True)
        (folder / "info.json").write_text(json.dumps({"rows_read": {"test": read}, "duplicates_dropped": {
            "test": read - kept}, "empty_skipped": {"test": 0}}))
        pq.write_table(pa.table({"id": [str(i) for i in range(kept)]}), folder / "test.parquet")
        inputs += [str(folder / "info.json"), str(folder / "test.parquet")]
    languages = {"nl": {"corpus": "fleurs_nl", "fleurs": "nl_nl", "resource": "high", "models": ["m"]},
                 "de": {"corpus": "fleurs_de", "fleurs": "de_de", "resource": "high", "models": ["m"]}}
    report_stage("table", "thesis_table4_2", {"layout": "fleurs_counts", "languages": languages,
                                               "split": "test", "caption": ""}, inputs, str(tmp_path / "t42"))
    tidy = pd.read_csv(tmp_path / "t42.csv").set_index("language")
    assert tidy.loc["nl", ["thesis_rows", "rows_read", "thesis_unique", "unique_read"]].tolist() == [364, 364, 251, 251]
    assert bool(tidy.loc["nl", "same"]) and not bool(tidy.loc["de", "same"])  # the thesis kept 347 German sentences
    assert tidy.loc["de", "thesis_unique"] == 347 and tidy.loc["de", "duplicates_dropped"] == 522


def test_appendix_figures_are_written(files, tmp_path):
    _, frame = files["cross_lingual_text"]
    speech_text = frame.assign(analysis="cross_lingual_speech_text", modality_a="speech")
    speech_text.loc[speech_text.layer_a == "pooled", "layer_a"] = "adaptor"  # a speech-only last stage
    speech_text.loc[speech_text.layer_a == "adaptor", "layer_b"] = "layer_02"
    path = tmp_path / "st.parquet"
    write_scores(speech_text, path, {"settings": {}})
    for layout, options in (("heatmap", {"layers": ["embeddings", "adaptor"]}),
                            ("heatmap_change", {"changes": [["layer_02", "adaptor"], ["embeddings", "layer_02"]]})):
        report_stage("figure", f"thesis_{layout}", {"layout": layout, "caption": "c", **options}, [str(path)],
                     str(tmp_path / layout))
        assert (tmp_path / f"{layout}.png").stat().st_size > 1000
    with pytest.raises(FlipInputError, match=r"heatmap_changes \['pooled'\] are not among the layers"):
        report_stage("figure", "x", {"layout": "heatmap_change", "changes": [["layer_02", "pooled"]]},
                     [str(path)], str(tmp_path / "x"))
    points = pd.DataFrame({"id": [str(i % 20) for i in range(80)], "language": ["de", "fr"] * 40,
                           "modality": ["text"] * 40 + ["speech"] * 40, "resource": "high",
                           "x": np.arange(80.0), "y": np.arange(80.0) % 7})
    write_map(tmp_path / "map.parquet", points, {"encoder": "m4t", "layer": "adaptor",
                                                 "layers": json.dumps({"speech": "adaptor", "text": "layer_02"})})
    report_stage("figure", "thesis_tsne_ids_m4t_adaptor", {"layout": "tsne_ids", "caption": "c"},
                 [str(tmp_path / "map.parquet")], str(tmp_path / "ids"))
    assert (tmp_path / "ids.png").stat().st_size > 1000
