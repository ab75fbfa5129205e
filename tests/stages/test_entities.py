"""The entities stage (a spaCy pipeline built in code) and strict/partial entity recall (paper §4.6)."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import spacy

from flip_pipeline.cli import main
from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.entities import read_entities
from flip_pipeline.metrics import entity_recall, entity_reference
from flip_pipeline.stages.entities import load_pipeline
from flip_pipeline.text import Tokenizer

EISEN = "Eisen was born in Brooklyn New York and was raised on Staten Island."


@pytest.fixture
def ruler_pipeline(tmp_path):
    nlp = spacy.blank("en")
    nlp.add_pipe("entity_ruler").add_patterns([
        {"label": "PERSON", "pattern": "Eisen"},
        {"label": "GPE", "pattern": "Brooklyn"},
        {"label": "GPE", "pattern": "New York"},
        {"label": "GPE", "pattern": "Staten Island"},
    ])
    path = tmp_path / "ner"
    nlp.to_disk(path)
    return path


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "test.parquet"
    pq.write_table(pa.table({"id": ["a", "b"], "text_en": [EISEN, "nothing to see"]}), path)
    return path


def test_flip_entities_writes_one_record_per_sentence(ruler_pipeline, corpus, tmp_path):
    out = tmp_path / "entities" / "mcv" / "test" / "text_en.jsonl"
    assert main(["entities", "--corpus-table", str(corpus), "--view", "text_en", "--pipeline", str(ruler_pipeline),
                 "--out", str(out)]) == 0
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in records] == ["a", "b"] and records[1]["entities"] == []
    assert records[0]["entities"][2] == {"text": "New York", "label": "GPE", "start_char": 27, "end_char": 35}
    assert [EISEN[e["start_char"]:e["end_char"]] for e in records[0]["entities"]] == [
        "Eisen", "Brooklyn", "New York", "Staten Island"]
    assert read_entities(out, labels=["GPE"]) == (["a", "b"], [["Brooklyn", "New York", "Staten Island"], []])
    assert not list(out.parent.glob(".*tmp*"))


def test_unloadable_pipeline_is_a_clear_error(corpus, tmp_path, capsys):
    out = tmp_path / "e.jsonl"
    assert main(["entities", "--corpus-table", str(corpus), "--view", "text_en", "--pipeline",
                 str(tmp_path / "missing"), "--out", str(out)]) == 2
    assert "entities.pipeline: cannot load spaCy pipeline" in capsys.readouterr().err and not out.exists()
    spacy.blank("en").to_disk(tmp_path / "blank")
    with pytest.raises(FlipInputError, match="ner.pipe: .* no component that assigns entities"):
        load_pipeline(str(tmp_path / "blank"), key="ner.pipe")


def test_strict_and_partial_recall_on_the_papers_example():
    words = sorted(set(Tokenizer("latin").tokens(EISEN)) - {"eisen"})  # 'eisen' out of vocabulary
    index = {w: i for i, w in enumerate(words)}
    sentence, tokens, oov = entity_reference([["Eisen", "Brooklyn", "New York", "Staten Island"]] * 2,
                                             Tokenizer("latin"), index)
    assert sentence.tolist() == [0, 0, 0, 0, 1, 1, 1, 1] and oov.tolist() == [1, 0, 0, 0] * 2
    ranked = lambda text: [index[w] for w in text.split()]  # noqa: E731
    top = np.array([
        ranked("brooklyn born raised was in york and on new staten"),  # frequent words first (with bias)
        ranked("brooklyn york new staten island born raised was in and"),  # without bias
    ])
    recall = entity_recall(top, sentence, tokens, [1, 5, 10])
    nan = np.nan
    #                      Eisen  Brooklyn NewYork Staten   (sentence 0)  then sentence 1
    np.testing.assert_array_equal(recall["strict"], [
        [nan, 1, 0, 0, nan, 1, 0, 0],
        [nan, 1, 0, 0, nan, 1, 1, 1],
        [nan, 1, 1, 0, nan, 1, 1, 1],
    ])
    np.testing.assert_array_equal(recall["partial"], [
        [nan, 1, 0, 0, nan, 1, 0, 0],
        [nan, 1, 0, 0, nan, 1, 1, 1],
        [nan, 1, 1, 0.5, nan, 1, 1, 1],
    ])
    with pytest.raises(ValueError, match="exceeds"):
        entity_recall(top, sentence, tokens, [11])


def test_speech_views_are_refused(ruler_pipeline, corpus, tmp_path):
    from flip_pipeline.stages.entities import entities_stage

    with pytest.raises(FlipInputError, match="text views, not 'speech_en'"):
        entities_stage(corpus, "speech_en", str(ruler_pipeline), tmp_path / "e.jsonl")
