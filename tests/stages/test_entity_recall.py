"""Entity-recall stage: a hand-set LiP whose rankings are known gives exact strict/partial recall."""

import json

import numpy as np
import pytest
from helpers.checkpoints import save_identity_lip

from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.shards import shard_name, write_manifest, write_shard
from flip_pipeline.stages.entity_recall import entity_recall_stage

WORDS = ["brooklyn", "new", "york", "staten", "island", "born", "the"]
# Scores are E x = x (E = I). Without the bias s1 ranks brooklyn new york staten island born the,
# s3 ranks born island staten york new brooklyn the; the bias puts "the" first in both.
EMBEDDINGS = {
    "s3": [0.1, 0.2, 0.3, 0.4, 0.5, 6.0, 0.0],
    "s1": [6.0, 5.0, 4.0, 3.0, 2.0, 1.0, 0.0],
    "s2": [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0],
}
ENTITIES = [
    {"id": "s1", "text": "...", "entities": [
        {"text": "Eisen", "label": "PERSON"}, {"text": "Brooklyn", "label": "GPE"},
        {"text": "New York", "label": "GPE"}, {"text": "Staten Island", "label": "GPE"}]},
    {"id": "s2", "text": "...", "entities": []},
    {"id": "s3", "text": "...", "entities": [{"text": "Born", "label": "PERSON"}]},
]


@pytest.fixture
def inputs(tmp_path):
    """(model folder, embeddings folder, entities file) of the hand-set example."""
    save_identity_lip(tmp_path / "model", WORDS)
    view = tmp_path / "emb"
    view.mkdir()
    write_shard(view / shard_name(0), list(EMBEDDINGS), np.array(list(EMBEDDINGS.values()), np.float32), {})
    write_manifest(view, [(shard_name(0), len(EMBEDDINGS))], {"dim": len(WORDS)})
    entities = tmp_path / "entities.jsonl"
    entities.write_text("".join(json.dumps(r) + "\n" for r in ENTITIES))
    return tmp_path / "model", view, entities


def means(result, bias, kind):
    return [point["mean"] for point in result[bias][kind]]


def test_strict_and_partial_recall_with_and_without_bias(inputs, tmp_path):
    out = tmp_path / "out" / "entity_recall.json"
    result = entity_recall_stage(*inputs, [1, 3, 5], out, average="entity")
    assert json.loads(out.read_text()) == result
    assert result["ks"] == [1, 3, 5] and result["n_sentences"] == 2 and result["n_entities"] == 5
    assert result["n_oov_entities"] == 1 and result["n_oov_tokens"] == 1  # "eisen"
    # entities scored: Brooklyn, New York, Staten Island (s1), Born (s3)
    assert means(result, "without_bias", "strict") == pytest.approx([2 / 4, 3 / 4, 1.0])
    assert means(result, "without_bias", "partial") == pytest.approx([2 / 4, 3 / 4, 1.0])
    assert means(result, "with_bias", "strict") == pytest.approx([0.0, 2 / 4, 3 / 4])
    assert means(result, "with_bias", "partial") == pytest.approx([0.0, 2.5 / 4, 3.5 / 4])
    first = result["without_bias"]["strict"][0]
    assert first["n"] == 4 and first["se"] == pytest.approx(0.5 / 2)


def test_recall_averaged_per_sentence_as_the_published_evaluation(inputs, tmp_path):
    """The default: each sentence's mean over its scored entities, then the mean over sentences
    (s1: Brooklyn, New York, Staten Island; s3: Born; Eisen has no vocabulary token)."""
    result = entity_recall_stage(*inputs, [1, 3, 5], tmp_path / "r.json")
    assert result["average"] == "sentence"
    assert means(result, "without_bias", "strict") == pytest.approx([(1 / 3 + 1) / 2, (2 / 3 + 1) / 2, 1.0])
    assert means(result, "with_bias", "strict") == pytest.approx([0.0, (1 / 3 + 1) / 2, (2 / 3 + 1) / 2])
    assert means(result, "with_bias", "partial") == pytest.approx([0.0, (1.5 / 3 + 1) / 2, (2.5 / 3 + 1) / 2])
    assert result["without_bias"]["strict"][0]["n"] == 2  # sentences, not entities
    with pytest.raises(FlipInputError, match="average 'token'"):
        entity_recall_stage(*inputs, [1], tmp_path / "r.json", average="token")


def test_labels_select_entities(inputs, tmp_path):
    result = entity_recall_stage(*inputs, [1, 3], tmp_path / "r.json", labels=["GPE"], average="entity")
    assert result["n_sentences"] == 1 and result["n_entities"] == 3 and result["n_oov_entities"] == 0
    assert means(result, "without_bias", "strict") == pytest.approx([1 / 3, 2 / 3])
    assert means(result, "with_bias", "partial") == pytest.approx([0.0, 1.5 / 3])
    with pytest.raises(FlipInputError, match="entities.jsonl: no sentence has an entity labelled"):
        entity_recall_stage(*inputs, [1], tmp_path / "r.json", labels=["ORG"])


def test_bad_inputs_are_named(inputs, tmp_path):
    model, view, entities = inputs
    with pytest.raises(FlipInputError, match="ks \\[0, 3\\]: each k must be between 1 and the 7 words"):
        entity_recall_stage(model, view, entities, [0, 3], tmp_path / "r.json")
    with pytest.raises(FlipInputError, match="ks \\[8\\]"):
        entity_recall_stage(model, view, entities, [8], tmp_path / "r.json")
    stray = tmp_path / "stray.jsonl"
    stray.write_text(json.dumps({"id": "zz", "entities": [{"text": "York", "label": "GPE"}]}) + "\n")
    with pytest.raises(FlipInputError, match="stray.jsonl: 1 ids are not in the embeddings .*emb \\(first: 'zz'\\)"):
        entity_recall_stage(model, view, stray, [1], tmp_path / "r.json")
    assert not (tmp_path / "r.json").exists()


def test_entities_without_a_vocabulary_token_are_an_error_not_nan(inputs, tmp_path):
    model, view, _ = inputs
    unknown = tmp_path / "unknown.jsonl"
    unknown.write_text(json.dumps({"id": "s1", "entities": [{"text": "Zzyzx", "label": "GPE"}]}) + "\n")
    with pytest.raises(FlipInputError, match=r"unknown.jsonl: nothing to score: none of its 1 entities"):
        entity_recall_stage(model, view, unknown, [1], tmp_path / "r.json")
