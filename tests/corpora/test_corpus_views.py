"""Config entries of the corpus sources: the schema, corpus_views and the paper's corpora."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from flip_pipeline.config.validation import validate_config
from flip_pipeline.config.views import corpus_views
from flip_pipeline.errors import FlipInputError

REPO = Path(__file__).resolve().parents[2]
PAPER = REPO / "config.yaml"  # the paper's corpora sit beside the quickstart's

MINIMAL = {
    "corpora": {},
    "encoders": {"gaussian": {"family": "gaussian", "dim": 8}},
    "vocabularies": {},
    "experiments": {},
}


def config_with(corpora: dict, vocab_corpus: str | None = None, view: str = "text_en") -> dict:
    config = copy.deepcopy(MINIMAL)
    config["corpora"] = corpora
    if vocab_corpus:
        config["vocabularies"] = {"v": {"corpus": vocab_corpus, "view": view}}
    return config


def test_paper_corpora_validate_and_views():
    corpora = yaml.safe_load(PAPER.read_text(encoding="utf-8"))["corpora"]
    corpora.pop("sample")
    fleurs = {name: corpora.pop(name) for name in list(corpora) if corpora[name]["source"] == "fleurs"}
    assert len(fleurs) == 36  # the layer-wise family's (seed 002, Table 4.2; tests/test_config.py)
    assert corpus_views(fleurs["fleurs_cmn"]) == ["text_cmn", "speech_cmn"]
    assert set(corpora) == {"mcv15_en", "mcv15_de", "mcv15_fr", "europarl_en_de", "europarl_en_fr",
                            "samanantar_en_bn", "samanantar_en_hi", "samanantar_en_ta", "samanantar_en_te",
                            "flipdata_mcv15_en"}  # the published FLiP data (table1_rank_published)
    config = config_with(corpora)
    config["vocabularies"] = {
        f"v_{name}": {"corpus": name, "view": corpus_views(spec)[0]} for name, spec in corpora.items()
    }
    validate_config(config, "config.yaml")
    assert corpus_views(corpora["mcv15_fr"]) == ["text_fr", "speech_fr"]
    assert corpus_views(corpora["europarl_en_de"]) == ["text_en", "text_de"]
    assert corpus_views(corpora["samanantar_en_te"]) == ["text_en", "text_te"]
    assert corpus_views(corpora["flipdata_mcv15_en"]) == ["text_en", "speech_en"]
    for name, spec in corpora.items():
        if spec["source"] not in ("mcv", "flip_data"):
            assert spec["split_sizes"]["dev"] == spec["split_sizes"]["test"] == 10000, name


@pytest.mark.parametrize("spec", [
    {"source": "mcv", "language": "en", "root": "cv"},
    {"source": "mcv", "language": "en", "hub": {"id": "mozilla-foundation/common_voice_15_0"}, "audio_dir": "a",
     "missing_audio": "skip"},
    {"source": "europarl", "languages": ["en", "de"], "files": {"text_en": "a.en", "text_de": "a.de"},
     "split_sizes": {"dev": 5, "test": 5, "train": 100}, "seed": 2, "deduplicate": False},
    {"source": "samanantar", "languages": ["en", "hi"],
     "hub": {"disk": "saved", "columns": {"text_en": "src", "text_hi": "tgt"}}},
    {"source": "local", "root": "mine", "views": ["text_en", "speech_en"], "format": "tsv"},
    {"source": "flip_data", "root": "data/cv_15/en/sonar_embeddings", "language": "en", "drop_nonfinite": False},
])
def test_valid_entries(spec):
    validate_config(config_with({"c": spec}, "c"))


@pytest.mark.parametrize(("spec", "pattern"), [
    ({"source": "tarball"}, r"corpora.c.source: 'tarball' is not one of"),
    ({"source": "mcv", "language": "en"}, r"corpora.c"),
    ({"source": "mcv", "language": "en", "root": "cv", "missing_audio": "ignore"}, r"corpora.c.missing_audio"),
    ({"source": "europarl", "languages": ["de", "fr"], "root": "ep"}, r"corpora.c.languages"),
    ({"source": "europarl", "languages": ["en", "de"], "root": "ep", "split_sizes": {"dev": 10}},
     r"corpora.c.split_sizes: 'test' is a required property"),
    ({"source": "samanantar", "languages": ["en", "hi"], "hub": {"config": "hi"}}, r"corpora.c.hub"),
    ({"source": "local", "root": "x", "views": ["english"]}, r"corpora.c.views\[0\]"),
    ({"source": "flip_data", "root": "x", "encoder": "sonar"}, r"corpora.c: Additional properties"),
])
def test_invalid_entries_name_the_key(spec, pattern):
    with pytest.raises(FlipInputError, match=pattern):
        validate_config(config_with({"c": spec}, "c"))


def test_view_that_does_not_exist_in_a_source():
    spec = {"source": "europarl", "languages": ["en", "de"], "root": "ep"}
    with pytest.raises(FlipInputError, match=r"vocabularies.v.view: 'text_fr' is not a text view of corpus 'c'"):
        validate_config(config_with({"c": spec}, "c", view="text_fr"))
    flip = {"source": "flip_data", "root": "x"}
    assert corpus_views(flip) == ["text_en", "speech_en"]
