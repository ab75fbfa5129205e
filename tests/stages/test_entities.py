"""The entities stage (spaCy's real en_core_web_sm) and strict/partial entity recall (paper §4.6)."""

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
from flip_pipeline.stages.entities import entities_stage, load_pipeline
from flip_pipeline.text import Tokenizer

EISEN = "Eisen was born in Brooklyn New York and was raised on Staten Island."
TOM = "Tom moved to Paris last year."
# What en_core_web_sm 3.8.0 tags (run and checked): it misses the rare name "Eisen", which the
# paper's example counts, and calls Staten Island a location (LOC), not a city or state (GPE).
EISEN_ENTITIES = [("Brooklyn", "GPE", 18, 26), ("New York", "GPE", 27, 35), ("Staten Island", "LOC", 54, 67)]
TOM_ENTITIES = [("Tom", "PERSON", 0, 3), ("Paris", "GPE", 13, 18), ("last year", "DATE", 19, 28)]


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "test.parquet"
    pq.write_table(pa.table({"id": ["a", "b", "c"], "text_en": [EISEN, "nothing to see", TOM]}), path)
    return path


def _tuples(record: dict) -> list[tuple]:
    """A record's entities as ``(text, label, start_char, end_char)``, each checked against the sentence."""
    for e in record["entities"]:
        assert record["text"][e["start_char"]:e["end_char"]] == e["text"], e
    return [(e["text"], e["label"], e["start_char"], e["end_char"]) for e in record["entities"]]


def test_flip_entities_writes_one_record_per_sentence(spacy_en, corpus, tmp_path):
    out = tmp_path / "entities" / "mcv" / "test" / "text_en.jsonl"
    assert main(["entities", "--corpus-table", str(corpus), "--view", "text_en", "--pipeline", spacy_en,
                 "--out", str(out)]) == 0
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(r["id"], r["text"]) for r in records] == [("a", EISEN), ("b", "nothing to see"), ("c", TOM)]
    assert [_tuples(r) for r in records] == [EISEN_ENTITIES, [], TOM_ENTITIES]
    assert read_entities(out, labels=["GPE"]) == (["a", "b", "c"], [["Brooklyn", "New York"], [], ["Paris"]])
    assert read_entities(out, labels=["PERSON"])[1] == [[], [], ["Tom"]]
    assert not list(out.parent.glob(".*tmp*"))


def test_the_stage_counts_sentences_and_entities(spacy_en, corpus, tmp_path):
    summary = entities_stage(corpus, "text_en", spacy_en, tmp_path / "e.jsonl", batch_size=2)
    assert summary == {"sentences": 3, "entities": 6, "with_entities": 2, "pipeline": spacy_en}


def test_unloadable_pipeline_is_a_clear_error(corpus, tmp_path, capsys):
    out = tmp_path / "e.jsonl"
    assert main(["entities", "--corpus-table", str(corpus), "--view", "text_en", "--pipeline",
                 str(tmp_path / "missing"), "--out", str(out)]) == 2
    assert "entities.pipeline: cannot load spaCy pipeline" in capsys.readouterr().err and not out.exists()
    spacy.blank("en").to_disk(tmp_path / "blank")
    with pytest.raises(FlipInputError, match="ner.pipe: .* no component that assigns entities"):
        load_pipeline(str(tmp_path / "blank"), key="ner.pipe")


def test_the_real_pipeline_without_its_ner_is_refused(spacy_en, tmp_path):
    assert "ner" in load_pipeline(spacy_en).pipe_names
    spacy.load(spacy_en, exclude=["ner"]).to_disk(tmp_path / "no_ner")
    with pytest.raises(FlipInputError, match=r"no component that assigns entities \(components: \['tok2vec', "
                                             r"'tagger', 'parser', 'attribute_ruler', 'lemmatizer'\]\)"):
        load_pipeline(str(tmp_path / "no_ner"))


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


def test_speech_views_are_refused(spacy_en, corpus, tmp_path):
    with pytest.raises(FlipInputError, match="text views, not 'speech_en'"):
        entities_stage(corpus, "speech_en", spacy_en, tmp_path / "e.jsonl")
