"""A config with a typo or a dangling reference stops the run with the key named."""

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from flip_pipeline.config.runs import expand_runs
from flip_pipeline.config.validation import load_config, validate_config
from flip_pipeline.errors import FlipInputError
from flip_pipeline.probes.objective import view_weights

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def config():
    return load_config(REPO / "config.yaml")


def _error(config, mutate):
    bad = copy.deepcopy(config)
    mutate(bad)
    with pytest.raises(FlipInputError) as err:
        validate_config(bad)
    return str(err.value)


def test_typo_key_is_named(config):
    msg = _error(config, lambda c: c["training"].update(batchsize=10))
    assert "training" in msg and "'batchsize' was unexpected" in msg


def test_resident_settings_are_checked(config):
    ok = copy.deepcopy(config)
    ok["training"].update(resident_memory_gb=None, resident_dtype="bfloat16")
    validate_config(ok)
    ok["training"].update(resident_memory_gb=0)
    validate_config(ok)
    assert "training.resident_dtype" in _error(config, lambda c: c["training"].update(resident_dtype="int8"))
    assert "training.resident_memory_gb" in _error(config, lambda c: c["training"].update(resident_memory_gb=-1))



def test_stopping_and_bias_settings_are_checked(config):
    ok = copy.deepcopy(config)
    ok["training"].update(bias_init="xavier", min_iterations=12, patience=0)
    validate_config(ok)
    assert "training.bias_init" in _error(config, lambda c: c["training"].update(bias_init="zero"))
    assert "training.min_iterations" in _error(config, lambda c: c["training"].update(min_iterations=-1))

def test_wrong_type_is_named(config):
    msg = _error(config, lambda c: c["experiments"]["quickstart"].update(ranks=["big"]))
    assert "experiments.quickstart.ranks[0]" in msg


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (lambda c: c["experiments"]["quickstart"].update(encoders=["minilm", "laser"]),
         "experiments.quickstart.encoders[1]: unknown encoder 'laser'"),
        (lambda c: c["experiments"]["quickstart"].update(test_views=["text_it"]),
         "experiments.quickstart.test_views[0]: corpus 'sample' has no view 'text_it'"),
        (lambda c: c["experiments"]["quickstart"].update(ranks=[512]),
         "experiments.quickstart.ranks[0]: rank 512 exceeds the dimension 384 of encoder 'bow_projection'"),
        (lambda c: c["tables"]["quickstart"].update(experiments=["quickstart", "table9"]),
         "tables.quickstart.experiments[1]: unknown experiment 'table9'"),
        (lambda c: c["tables"]["table3_language"]["groups"].update(t9="XX"),
         "tables.table3_language.groups: 't9' is not one of its experiments"),
        (lambda c: c["figures"]["fig1_entity_recall"].update(entities="ner"),
         "figures.fig1_entity_recall.entities: needs an entry of entities, got 'ner'"),
        (lambda c: c["experiments"]["t6_splice"].update(vocab="mcv15_en"),
         "experiments.t6_splice.probes: splice needs a concept vocabulary"),
        (lambda c: c["paper"].append("table7"), "paper[8]: 'table7' is neither a table nor a figure"),
        (lambda c: c["entities"]["mcv15_en_test"].update(view="speech_en"),
         "entities.mcv15_en_test.view: 'speech_en' is not a text view of corpus 'mcv15_en'"),
        (lambda c: c["corpora"]["sample"].update(source="mcv13"), "corpora.sample.source"),
        (lambda c: c["experiments"]["t1_rank"].update(encoders=["sonar", "sonar_published"]),
         ("experiments.t1_rank.encoders[1]: encoder 'sonar_published' (family published) imports the embeddings "
          "of a flip_data corpus, but corpus 'mcv15_en' has source 'mcv'")),
        (lambda c: c["experiments"]["t1_rank_published"].update(encoders=["minilm"]),
         ("experiments.t1_rank_published.encoders[0]: corpus 'flipdata_mcv15_en' (flip_data) has no audio, so "
          "encoder 'minilm' cannot embed 'speech_en'")),
        (lambda c: c["encoders"]["sonar_published"].update(dim=1024), "encoders.sonar_published"),
    ],
)
def test_dangling_references_are_named(config, mutate, expected):
    assert expected in _error(config, mutate)


def test_runs_expand_the_grid(config):
    runs = expand_runs(config, "quickstart")
    assert len(runs) == 6  # (LiP + FLiP r=128) × 3 encoders × 1 view pair × 1 alpha
    flip = next(r for r in runs if r.probe == "flip" and r.encoder == "minilm")
    assert flip.name == "flip-r128-a0.5-minilm-text_en+text_de"
    assert view_weights(flip.alpha, len(flip.train_views)) == [0.5, 0.5] and flip.target_view == "text_en"
    assert flip.training["batch_size"] == 256 and flip.training["lr"] == 0.005


def test_every_run_spells_out_its_bias_start(config):
    """The default bias start (xavier, the published code's) is in every trained run's settings, so a model
    trained when the default was log_unigram is another model (another fingerprint), not reused."""
    assert all(r.training["bias_init"] == "xavier" for e in config["experiments"] for r in expand_runs(config, e)
               if r.probe != "splice" and r.checkpoint is None)
    old_default = copy.deepcopy(config)
    old_default["training"]["bias_init"] = "log_unigram"
    unset = copy.deepcopy(config)
    del unset["training"]["bias_init"]
    fingerprints = {name: {r.name: r.fingerprint for r in expand_runs(c, "quickstart")}
                    for name, c in (("config", config), ("old", old_default), ("unset", unset))}
    assert fingerprints["unset"] == fingerprints["config"]
    assert not set(fingerprints["old"].values()) & set(fingerprints["config"].values())


def test_sim_threshold_filters_on_the_text_speech_pair(config):
    """The paper's speech+text experiments filter on their text-speech scores (text first: the published
    data's sim_text_en__speech_en), Table 2's single-view runs on their language's pair; the rest on none."""
    views = {e: {r.name: r.sim_views for r in expand_runs(config, e)}
             for e in ("t1_rank", "t2_modality_de", "t6_splice", "t1_rank_published", "t3_language_de", "quickstart")}
    assert set(views["t1_rank"].values()) == set(views["t1_rank_published"].values()) == {("text_en", "speech_en")}
    assert views["t2_modality_de"] == {"flip-r512-a1-sonar-text_de": ("text_de", "speech_de"),
                                       "flip-r512-a1-sonar-speech_de": ("text_de", "speech_de")}
    assert views["t6_splice"] == {"splice-sonar-text_en+speech_en": None,
                                  "flip-r512-a0.5-sonar-text_en+speech_en": ("text_en", "speech_en")}
    assert set(views["t3_language_de"].values()) == set(views["quickstart"].values()) == {None}
    swapped = copy.deepcopy(config)
    swapped["experiments"]["t1_rank"]["train_views"] = [["speech_en", "text_en"]]
    assert {r.sim_views for r in expand_runs(swapped, "t1_rank")} == {("text_en", "speech_en")}
    off = copy.deepcopy(config)
    off["experiments"]["t1_rank"]["training"]["sim_threshold"] = None  # null keeps every row
    assert {r.sim_views for r in expand_runs(off, "t1_rank")} == {None}


@pytest.mark.parametrize("mutate, key", [
    (lambda c: c["training"].update(sim_threshold=0.0), "training.sim_threshold"),
    (lambda c: c["experiments"]["t3_language_de"].update(training={"sim_threshold": 0.5}),
     "experiments.t3_language_de.training.sim_threshold"),
    (lambda c: c["experiments"]["t3_language_de"].update(sweep={"sim_threshold": [None, 0.0]}),
     "experiments.t3_language_de.sweep.sim_threshold"),
])
def test_sim_threshold_without_a_pair_to_filter_on_is_named(config, mutate, key):
    msg = _error(config, mutate)
    assert msg.startswith(f"config.yaml: {key}: experiments.") and "has no text and speech pair" in msg, msg


def _sonar_on_amharic(config):
    bad = copy.deepcopy(config)
    bad["thesis"]["models"]["sonar"]["languages"].append("am")
    return bad


@pytest.mark.parametrize("bad, target, expected", [
    (lambda c: {**c, "training": {"batchsize": 10}}, [], "'batchsize' was unexpected"),
    # a language the model cannot take fails the thesis's dry run, not its layers jobs hours later
    (_sonar_on_amharic, ["thesis"], "thesis.models.sonar.languages[30]: SONAR has no speech encoder for 'am'"),
])
def test_snakemake_stops_on_a_bad_config_before_any_job(tmp_path, config, bad, target, expected):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad(config)))
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", *target, "--configfile", str(path), "--directory", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True,
    )
    assert proc.returncode != 0
    assert expected in proc.stdout + proc.stderr
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("splits, total", [({"train": 0.5, "dev": 0.1, "test": 0.1}, "0.7"),
                                           ({"train": 0.8, "dev": 0.2, "test": 0.2}, "1.2"),
                                           ({"train": 0.95, "dev": 0.1}, "1")])
def test_splits_that_do_not_add_up_to_one_are_named(config, splits, total):
    msg = _error(config, lambda c: c["corpora"]["sample"].update(splits=splits))
    assert "corpora.sample.splits" in msg and "add up to 1" in msg and f"sum {total}" in msg


def test_splits_are_checked_when_a_corpus_is_built_by_hand(tmp_path):
    from flip_pipeline.stages.corpus import corpus_stage

    spec = {"source": "sample", "n_sentences": 100, "languages": ["en"], "splits": {"train": 0.9, "dev": 0.2,
                                                                                     "test": 0.1}}
    with pytest.raises(FlipInputError, match=r"corpora\.s\.splits: .*sum 1\.2"):
        corpus_stage("s", spec, tmp_path / "out", tmp_path)
    assert not (tmp_path / "out").exists()
    corpus_stage("s", {**spec, "splits": {"train": 0.8, "dev": 0.1}}, tmp_path / "ok", tmp_path)  # test: the rest
    assert (tmp_path / "ok" / "test.parquet").exists()


def test_thesis_grid_is_the_thesis_table(config):
    """config.yaml's layer-wise grid: every language of seed 002's Table 4.2 with its FLEURS code
    and resource level, and each model on the thesis's 30 languages for it."""
    from flip_pipeline.corpora.fleurs_languages import THESIS_LANGUAGES, thesis_languages

    thesis = config["thesis"]
    for lang in THESIS_LANGUAGES.values():
        entry = thesis["languages"][lang.view]
        assert entry["resource"] == lang.resource
        assert config["corpora"][entry["corpus"]]["language"] == lang.fleurs
    for model, name in (("seamless_m4t", "seamlessm4t"), ("sonar", "sonar"), ("salmonn", "salmonn")):
        expected = [lang.view for lang in thesis_languages(name).values()]
        assert thesis["models"][model]["languages"] == expected and len(expected) == 30


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (lambda c: c["thesis"]["languages"]["de"].update(corpus="fleurs_xx"),
         "thesis.languages.de.corpus: unknown corpus 'fleurs_xx'"),
        (lambda c: c["thesis"]["models"].update(whisper={}), "thesis.models.whisper: unknown encoder 'whisper'"),
        (lambda c: c["thesis"]["models"]["sonar"].update(languages=["de", "xx"]),
         "thesis.models.sonar.languages[1]: 'xx' is not one of thesis.languages"),
        (lambda c: c["thesis"]["languages"]["de"].update(corpus="sample"),
         "thesis.models.seamless_m4t: corpus 'sample' of language 'de' has no view speech_de"),
        (lambda c: c["thesis"]["models"]["sonar"].update(layers=["embeddings"], tsne_layers=["pooled"]),
         "thesis.models.sonar.tsne_layers: ['pooled'] are not among its layers ['embeddings']"),
        (lambda c: c["thesis"]["similarity"].update(variance=1.5), "thesis.similarity.variance: 1.5 must be in (0, 1]"),
        (lambda c: c["thesis"]["similarity"].update(cross_lingual_dimensions="mean"),
         "thesis.similarity.cross_lingual_dimensions: 'mean' is not one of ['shared', 'per_set']"),
        (lambda c: c["thesis"]["tsne"].update(perplexity=0), "thesis.tsne.perplexity"),
        # languages the models cannot take, named with the key and the language
        (lambda c: c["thesis"]["models"]["sonar"]["languages"].append("el"),
         "thesis.models.sonar.languages[30]: SONAR has no speech encoder for 'el' (view speech_el"),
        (lambda c: c["encoders"]["seamless_m4t"].update(languages={"de": "ger"}),
         "thesis.models.seamless_m4t.languages[5]: SeamlessM4T v2 takes no text in 'de' (view text_de, code 'ger'"),
        # ... and an experiment's view an encoder cannot take
        (lambda c: c["encoders"]["sonar"].update(languages={"de": "deu_Grek"}),
         "experiments.t2_modality_de.train_views[0]: encoder 'sonar': SONAR's text encoder (text_sonar_basic_encoder) "
         "takes no language 'deu_Grek' (view text_de"),
        # layers a model lacks, or a map without its text partner
        (lambda c: c["thesis"]["models"]["seamless_m4t"].update(tsne_layers=["pooled"]),
         "thesis.models.seamless_m4t.tsne_layers[0]: a seamless_m4t model has no layer 'pooled'"),
        (lambda c: c["thesis"]["models"]["sonar"].update(heatmap_changes=[["layer_24", "adaptor"]]),
         "thesis.models.sonar.heatmap_changes[0][1]: a sonar model has no layer 'adaptor'"),
        (lambda c: c["thesis"]["models"]["sonar"].update(layers=["embeddings", "layer_00"]),
         "thesis.models.sonar.layers[1]: 'layer_00': encoder layers count from layer_01"),
        (lambda c: c["thesis"]["models"]["seamless_m4t"].update(
            layers=["embeddings", "adaptor"], tsne_layers=["adaptor"], heatmap_layers=["embeddings"],
            heatmap_changes=[], tsne_id_layers=[]),
         "thesis.models.seamless_m4t.tsne_layers: 'adaptor' is a speech layer mapped with its text partner (the "
         "last encoder layer, as in the similarity stage), which is not among its layers"),
        (lambda c: c["thesis"]["models"]["sonar"].update(tsne_id_layers=["layer_02"]),
         "thesis.models.sonar.tsne_id_layers: ['layer_02'] are not among its tsne_layers"),
        (lambda c: c["thesis"]["models"].update(gemini={}), "thesis.models.gemini: encoder 'gemini' has family "
         "'gemini', which has no per-layer"),
    ],
)
def test_thesis_references_are_checked(config, mutate, expected):
    assert expected in _error(config, mutate)
