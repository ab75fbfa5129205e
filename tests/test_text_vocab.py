"""Tokenisation and vocabularies follow the paper's CountVectorizer conventions."""

import json

import numpy as np
import pyarrow as pa
import pytest
from sklearn.feature_extraction.text import CountVectorizer

from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.bow import BagOfWords
from flip_pipeline.formats.corpus_table import write_corpus_table
from flip_pipeline.formats.vocabulary import Vocabulary, write_vocabulary
from flip_pipeline.stages.vocab import build_vocabulary, vocab_stage
from flip_pipeline.text import TOKEN_PATTERNS, Tokenizer, strip_punctuation


def test_latin_tokens_lowercase_strip_punctuation_and_accents():
    t = Tokenizer("latin")
    assert t.tokens("Don't stop — «Très» BIEN, café! a I 3.5") == ["dont", "stop", "tres", "bien", "cafe", "35"]


def test_indic_tokens_keep_script_and_drop_danda():
    assert Tokenizer("indic").tokens("मेरा नाम राम है। और?") == ["मेरा", "नाम", "राम", "है", "और"]


def test_unknown_pattern_is_rejected():
    with pytest.raises(ValueError, match="unknown token pattern"):
        Tokenizer("cyrillic")


def test_vocabulary_matches_countvectorizer_on_real_sentences(tatoeba_dir):
    texts = (tatoeba_dir / "tatoeba.fra-eng.eng").read_text(encoding="utf-8").splitlines()
    vocab, counts = build_vocabulary(texts, "latin", max_words=10**9)
    cv = CountVectorizer(token_pattern=TOKEN_PATTERNS["latin"], lowercase=True, strip_accents="ascii")
    stripped = [strip_punctuation(t) for t in texts]
    matrix = cv.fit_transform(stripped)
    assert vocab.index == cv.vocabulary_
    ours, _ = vocab.bag_of_words(texts)
    assert (ours != matrix).nnz == 0
    assert counts.column("count").to_pylist() == np.asarray(matrix.sum(axis=0)).ravel().tolist()


def test_top_n_by_frequency_ties_alphabetical_indices_alphabetical():
    texts = ["zz zz yy", "bb aa cc", "zz yy cc"]
    vocab, counts = build_vocabulary(texts, "latin", max_words=3)
    # counts: zz 3, yy 2, cc 2, aa 1, bb 1 → keep zz, cc, yy; indexed alphabetically
    assert vocab.words == ["cc", "yy", "zz"]
    assert counts.column("count").to_pylist() == [2, 2, 3]


def test_bag_of_words_counts_and_oov(tmp_path):
    vocab = Vocabulary(["apple", "red"], Tokenizer("latin"))
    counts, oov = vocab.bag_of_words(["Red apple, red!", "blue sky", ""])
    assert counts.toarray().tolist() == [[1, 2], [0, 0], [0, 0]]
    assert oov.tolist() == [0, 2, 0]
    bow = BagOfWords(np.array(["a", "b", "c"]), counts, oov)
    bow.save(tmp_path / "x.npz")
    back = BagOfWords.load(tmp_path / "x.npz")
    assert (back.counts != counts).nnz == 0 and back.ids.tolist() == ["a", "b", "c"]


def test_vocab_files_reload_and_empty_vocabulary_is_an_error(tmp_path):
    vocab, counts = build_vocabulary(["bb aa cc", "aa"], "latin", max_words=10)
    write_vocabulary(tmp_path, vocab.words, vocab.tokenizer, counts, {"view": "text_en"})
    assert json.loads((tmp_path / "vocab.json").read_text()) == {"aa": 0, "bb": 1, "cc": 2}
    assert Vocabulary.load(tmp_path).words == ["aa", "bb", "cc"]
    with pytest.raises(FlipInputError, match="vocabulary is empty"):
        build_vocabulary(["a b c", "!"], "latin", max_words=10)  # single letters are not tokens


def test_json_outputs_are_strict_json(tmp_path):
    from flip_pipeline.atomic import write_json

    write_json(tmp_path / "s.json", {"mean": float("nan"), "se": float("inf"), "n": 0, "rows": [1.5, float("-inf")]})
    text = (tmp_path / "s.json").read_text()
    strict = json.loads(text, parse_constant=lambda name: pytest.fail(f"non-strict JSON constant {name}"))
    assert strict == {"mean": None, "se": None, "n": 0, "rows": [1.5, None]}


CYRILLIC = ["Мама мыла раму.", "Это мой дом, а это твой дом."]
DEVANAGARI = ["मेरा नाम राम है।", "और यह मेरा घर है"]


@pytest.mark.parametrize("texts, script", [(CYRILLIC, "Cyrillic"), (DEVANAGARI, "Devanagari")])
def test_an_empty_latin_vocabulary_of_another_script_points_to_indic(texts, script):
    with pytest.raises(FlipInputError) as err:
        build_vocabulary(texts, "latin", max_words=10)
    message = str(err.value)
    assert message.startswith("vocabulary is empty: no token of pattern 'latin' occurs 1+ times; ")
    assert f"100% of the letters of the texts are not Latin script (mostly {script})" in message
    assert "set `pattern: indic`" in message and "\n" not in message
    assert build_vocabulary(texts, "indic", max_words=10)[0].words  # the advice holds


def test_an_empty_latin_vocabulary_of_latin_text_mentions_indic_without_blaming_the_script():
    with pytest.raises(FlipInputError) as err:
        build_vocabulary(["aa bb", "cc Жж"], "latin", max_words=10, min_count=5)
    message = str(err.value)
    assert message.startswith("vocabulary is empty: no token of pattern 'latin' occurs 5+ times; ")
    assert "`pattern: indic`" in message and "not Latin" not in message


def test_the_vocab_stage_names_the_vocabulary_key(tmp_path):
    write_corpus_table(pa.table({"id": ["a", "b"], "text_ru": CYRILLIC}), tmp_path / "train.parquet")
    with pytest.raises(FlipInputError) as err:
        vocab_stage("ru", {"corpus": "c", "view": "text_ru"}, tmp_path / "train.parquet", tmp_path / "out")
    message = str(err.value)
    assert message.startswith("vocabularies.ru: vocabulary is empty: no token of pattern 'latin' occurs 1+ times")
    assert "(mostly Cyrillic)" in message and "set `vocabularies.ru.pattern: indic`" in message
    assert not (tmp_path / "out").exists()
