"""An experiment with a `checkpoint` (a published checkpoint by hub id or folder): one run, never
trained, named and fingerprinted by the checkpoint; every training key there is an error naming it."""

import copy
from pathlib import Path

import pytest
import yaml

from flip_pipeline.config.runs import expand_runs
from flip_pipeline.config.validation import load_config, validate_config
from flip_pipeline.errors import FlipInputError
from flip_pipeline.plan.runs import ReportPlan

REPO = Path(__file__).resolve().parent.parent
HUB_ID = "BUT-FIT/FLiP-en-sonar/mcv15/rank-512"
PUBLISHED = {"checkpoint": HUB_ID, "corpus": "mcv15_en", "encoders": ["sonar"], "probe": "flip", "rank": 512,
             "test_views": ["text_en", "speech_en"]}


@pytest.fixture(scope="module")
def config():
    out = load_config(REPO / "config.yaml")
    out["experiments"]["published_en"] = dict(PUBLISHED)
    out["tables"]["published_en"] = {"layout": "rank", "experiments": ["published_en"]}
    validate_config(out)
    return out


def with_experiment(config, drop=(), **keys):
    out = copy.deepcopy(config)
    exp = out["experiments"]["published_en"]
    for key in drop:
        exp.pop(key)
    exp.update(keys)
    return out


def error(config, drop=(), **keys):
    with pytest.raises(FlipInputError) as err:
        validate_config(with_experiment(config, drop, **keys))
    return str(err.value)


def test_a_checkpoint_is_one_run_named_and_fingerprinted_by_it(config):
    [run] = expand_runs(config, "published_en")
    assert run.name == "flip-r512-sonar-published" and run.model_kind == "published"
    assert (run.checkpoint, run.probe, run.rank, run.encoder, run.target_view) == (HUB_ID, "flip", 512, "sonar", "text_en")
    assert run.spec()["checkpoint"] == HUB_ID and run.spec()["fingerprint"] == run.fingerprint
    other = expand_runs(with_experiment(config, checkpoint="BUT-FIT/FLiP-en-sonar/mcv15/rank-256"), "published_en")[0]
    assert other.name == run.name and other.fingerprint != run.fingerprint  # another id: nothing of it is reused
    assert other.eval_fingerprint("text_en") != run.eval_fingerprint("text_en")
    [lip] = expand_runs(with_experiment(config, drop=["rank"], probe="lip"), "published_en")
    assert lip.name == "lip-sonar-published" and lip.rank is None
    [full] = expand_runs(with_experiment(config, rank="full"), "published_en")
    assert full.name == "flip-rfull-sonar-published"


def test_its_table_rows_come_from_the_declared_probe_and_rank(config):
    entries = ReportPlan(config, "results").spec("published_en")["entries"]
    assert [(e["view"], e["method"], e["rank"], e["run"]) for e in entries] == [
        (view, "flip", 512, "flip-r512-sonar-published") for view in ("text_en", "speech_en")]
    assert entries[0]["model"] == "results/models/published_en/flip-r512-sonar-published/model.safetensors"
    assert entries[0]["vocab"] is None and entries[0]["vocab_view"] == "text_en" and entries[0]["train_views"] == []


@pytest.mark.parametrize("key, value", [
    ("ranks", [512]), ("probes", ["flip"]), ("vocab", "mcv15_en"), ("alphas", [0.5]),
    ("train_views", [["text_en"]]), ("training", {"lr": 0.001}), ("sweep", {"rank": [256]}),
])
def test_a_training_key_beside_a_checkpoint_is_named(config, key, value):
    msg = error(config, **{key: value})
    assert msg.startswith(f"config.yaml: experiments.published_en.{key}: an experiment with a checkpoint trains nothing")


def test_the_declared_probe_and_rank_are_checked(config):
    assert "experiments.published_en.rank: a FLiP checkpoint needs its rank" in error(config, drop=["rank"])
    assert "experiments.published_en.rank: a LiP checkpoint has no rank" in error(config, probe="lip")
    assert "experiments.published_en.probe: 'splice' is not one of ['lip', 'flip']" in error(config, probe="splice")
    assert "experiments.published_en: 'probe' is a required property" in error(config, drop=["probe"])
    assert "experiments.published_en.rank: rank 4096 exceeds the dimension 384 of encoder 'gaussian'" in error(
        config, encoders=["gaussian"], rank=4096)
    assert "experiments.published_en.rank: 0 is less than the minimum of 1" in error(config, rank=0)


def test_its_references_are_checked(config):
    assert "experiments.published_en.encoders: a checkpoint is evaluated in one embedding space" in error(
        config, encoders=["sonar", "labse"])
    assert "experiments.published_en.encoders[0]: unknown encoder 'nope'" in error(config, encoders=["nope"])
    assert "experiments.published_en.test_views[0]: corpus 'mcv15_en' has no view 'text_de'" in error(
        config, test_views=["text_de"])
    assert "experiments.published_en.corpus: unknown corpus 'nope'" in error(config, corpus="nope")
    assert "experiments.published_en.checkpoint: 3 is not of type 'string'" in error(config, checkpoint=3)
    assert "experiments.published_en: 'test_views' is a required property" in error(config, drop=["test_views"])


def test_the_vocab_view_is_the_corpus_text_view_unless_named(config):
    two = error(config, corpus="europarl_en_de", test_views=["text_de"])
    assert "experiments.published_en.vocab_view: corpus 'europarl_en_de' has the text views" in two
    named = with_experiment(config, corpus="europarl_en_de", test_views=["text_de"], vocab_view="text_en")
    validate_config(named)
    assert expand_runs(named, "published_en")[0].target_view == "text_en"
    assert "experiments.published_en.vocab_view: 'speech_en' is not a text view" in error(config, vocab_view="speech_en")


def test_checkpoint_keys_without_a_checkpoint_are_named(config):
    msg = error(config, drop=["checkpoint"])
    assert msg.startswith("config.yaml: experiments.published_en.probe: only an experiment with a checkpoint has it")


def test_the_error_names_the_config_file_that_sets_the_key(config, tmp_path):
    extra = tmp_path / "extra.yaml"
    extra.write_text(yaml.safe_dump({"experiments": {"published_en": {"ranks": [512]}}}), encoding="utf-8")
    bad = with_experiment(config, ranks=[512])
    with pytest.raises(FlipInputError, match=rf"^{extra}: experiments.published_en.ranks: "):
        validate_config(bad, "merged", [str(REPO / "config.yaml"), str(extra)])
