"""text_files: a pool of files minus `exclude`d lines, and a `test` split read from other files."""

from __future__ import annotations

from pathlib import Path

import pytest

from flip_pipeline.config.validation import validate_config
from flip_pipeline.corpora import load_corpus_splits
from flip_pipeline.errors import FlipInputError


def _write(folder: Path, name: str, lines: list[str]) -> None:
    (folder / name).write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")


@pytest.fixture
def files(tmp_path: Path) -> Path:
    _write(tmp_path, "a-eng.eng", [f"pool sentence {i}" for i in range(40)] + ["shared one", "pool sentence 0"])
    _write(tmp_path, "b-eng.eng", ["held out b", "pool sentence 1"])
    _write(tmp_path, "deu-eng.eng", ["shared one", "test two", "test three", ""])
    _write(tmp_path, "deu-eng.deu", ["geteilt eins", "Test zwei", "Test drei", "leer"])
    return tmp_path


def test_pool_excludes_lines_and_tests_on_other_files(files):
    spec = {"source": "text_files", "views": {"text_en": "*-eng.eng"},
            "exclude": {"text_en": ["b-eng.eng"]},
            "test": {"text_en": "deu-eng.eng", "text_de": "deu-eng.deu"},
            "splits": {"train": 0.5, "dev": 0.25, "test": 0.25}, "seed": 1}
    tables, counts = load_corpus_splits("c", spec, files)
    train, dev, test = (tables[s].to_pydict() for s in ("train", "dev", "test"))
    pool = set(train["text_en"]) | set(dev["text_en"])
    # the glob reads 48 lines (a, b and the test's English side): one empty, three repeats, b's two lines and the
    # three test sentences go; of the 39 left, half train, a quarter dev, the rest is left out
    assert counts["rows_read"] == 48 and counts["empty_skipped"] == 1 and counts["duplicates_skipped"] == 3
    assert counts["excluded_skipped"] == 2 and counts["test_overlap_skipped"] == 3
    assert not pool & {"held out b", "pool sentence 1", "shared one", "test two", "test three"}
    assert len(train["id"]) == 20 and len(dev["id"]) == 10 and counts["pool_unused"] == 9
    assert test["text_en"] == ["shared one", "test two", "test three"] and counts["test_empty_skipped"] == 1
    assert test["text_de"] == ["geteilt eins", "Test zwei", "Test drei"] and "text_de" not in train
    assert not set(test["id"]) & set(train["id"] + dev["id"])


def test_pool_without_options_is_unchanged(files):
    spec = {"source": "text_files", "views": {"text_en": "a-eng.eng"}, "seed": 0}
    tables, counts = load_corpus_splits("c", spec, files)
    assert sum(t.num_rows for t in tables.values()) == 41 and counts == {
        "rows_read": 42, "empty_skipped": 0, "duplicates_skipped": 1}


def test_test_files_must_hold_every_pool_view(files):
    spec = {"source": "text_files", "views": {"text_en": "a-eng.eng"}, "test": {"text_de": "deu-eng.deu"}}
    with pytest.raises(FlipInputError, match="test files give no 'text_en'"):
        load_corpus_splits("c", spec, files)


def test_exclude_names_a_missing_file(files):
    spec = {"source": "text_files", "views": {"text_en": "a-eng.eng"}, "exclude": {"text_en": "nothing-*.eng"}}
    with pytest.raises(FlipInputError, match="no file matches .*nothing"):
        load_corpus_splits("c", spec, files)


def test_config_refuses_training_on_a_test_only_view():
    config = {
        "corpora": {"c": {"source": "text_files", "views": {"text_en": "a"}, "test": {"text_en": "b", "text_de": "c"}}},
        "encoders": {"g": {"family": "gaussian", "dim": 8}},
        "vocabularies": {"v": {"corpus": "c", "view": "text_en"}},
        "experiments": {"e": {"corpus": "c", "vocab": "v", "encoders": ["g"], "probes": ["lip"],
                              "train_views": [["text_en"]], "test_views": ["text_en", "text_de"]}},
    }
    validate_config(config)  # testing on text_de is fine
    config["experiments"]["e"]["train_views"] = [["text_de"]]
    with pytest.raises(FlipInputError, match=r"train_views\[0\]: corpus 'c' has only in its test split 'text_de'"):
        validate_config(config)
    config["experiments"]["e"]["train_views"] = [["text_en"]]
    config["vocabularies"]["v"]["view"] = "text_de"
    with pytest.raises(FlipInputError, match="vocabularies.v.view: 'text_de' is not a text view of corpus 'c'"):
        validate_config(config)
