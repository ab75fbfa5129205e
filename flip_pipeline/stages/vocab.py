"""The vocab stage: fit a vocabulary of words or concepts on the training sentences of a text view.

Words (paper §3.3; scikit-learn's CountVectorizer): tokens of
:class:`~flip_pipeline.text.Tokenizer`, the ``max_words`` most frequent kept (corpus
frequency, ties broken alphabetically), words seen fewer than ``min_count`` times dropped.

Concepts (paper §3.4, following SpLiCE's vocabulary of frequent words and bigrams):

* unigram and bigram counts over the training sentences; bigrams are adjacent token
  pairs inside one sentence (never across sentences);
* candidates: unigrams seen ``min_count``+ times; bigrams seen ``min_bigram_count``+ times
  whose pointwise mutual information ``PMI(a b) = ln[(c(a b)/N₂) / ((c(a)/N₁)(c(b)/N₁))]``
  is at least ``min_pmi`` (``N₁`` tokens, ``N₂`` bigram positions, natural log);
* the ``unigrams`` and ``bigrams`` most frequent candidates are kept (ties alphabetical);
  asking for more than there are candidates is an error naming the config key.

Both are written in one layout by :func:`~flip_pipeline.formats.vocabulary.write_vocabulary`.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.corpus_table import read_view, view_language
from flip_pipeline.formats.vocabulary import ConceptVocabulary, Vocabulary, write_vocabulary
from flip_pipeline.progress import count, stage_done
from flip_pipeline.settings import require_keys, settings_from_dict
from flip_pipeline.text import Tokenizer, default_pattern, letter_scripts

log = logging.getLogger(__name__)

MAX_WORDS = 100_000  # the paper's vocabulary size
SCRIPT_SAMPLE = 10_000  # texts whose letters an empty-vocabulary error describes


def vocab_stage(name: str, spec: dict[str, Any], corpus_table: str | os.PathLike[str],
                out_dir: str | os.PathLike[str]) -> None:
    """Fit vocabulary ``vocabularies.<name>`` (``spec``) on the view of ``corpus_table`` and write ``out_dir``.

    ``spec["kind"]`` is ``words`` (default) or ``concepts``; ``pattern`` defaults to the
    view language's (:func:`~flip_pipeline.text.default_pattern`).
    """
    started = time.perf_counter()
    require_keys(spec, ("view",), f"vocabularies.{name}")
    _, texts = read_view(corpus_table, spec["view"])
    read = f"{corpus_table} ({spec['view']}, {count(len(texts), 'sentences')})"
    pattern = spec.get("pattern", default_pattern(view_language(spec["view"])))
    settings = {"name": name, **spec, "source": str(corpus_table), "sentences": len(texts)}
    kind = spec.get("kind", "words")
    if kind == "concepts":
        chosen = {k: v for k, v in spec.items() if k not in ("corpus", "view", "kind", "max_words")}
        key = f"vocabularies.{name}"
        concepts, counts = build_concepts(texts, ConceptSettings.from_dict({**chosen, "pattern": pattern}, key), key)
        write_vocabulary(out_dir, concepts.concepts, concepts.tokenizer, counts, settings, kind)
        stage_done(log, f"vocab {name}", started, read=read,
                   wrote=f"{out_dir} ({count(len(concepts.concepts), 'concepts')}, pattern {pattern})")
        return
    vocab, counts = build_vocabulary(texts, pattern, spec.get("max_words", MAX_WORDS), spec.get("min_count", 1),
                                     f"vocabularies.{name}")
    write_vocabulary(out_dir, vocab.words, vocab.tokenizer, counts, settings, kind)
    stage_done(log, f"vocab {name}", started, read=read, wrote=f"{out_dir} ({count(len(vocab.words), 'words')}, "
                                                              f"pattern {pattern})")


def build_vocabulary(texts: list[str], pattern: str, max_words: int, min_count: int = 1,
                     key: str | None = None) -> tuple[Vocabulary, pa.Table]:
    """Fit a vocabulary on ``texts``.

    Args:
        texts: raw training sentences.
        pattern: ``latin`` or ``indic``.
        max_words: keep the most frequent words (corpus frequency; ties alphabetical).
        min_count: drop words seen fewer times.
        key: config key of the vocabulary (``vocabularies.<name>``), named in errors.

    Returns:
        ``(vocabulary, counts)`` with counts columns ``word, index, count, doc_freq``.
    """
    tokenizer = Tokenizer(pattern)
    term_freq: Counter[str] = Counter()
    doc_freq: Counter[str] = Counter()
    for text in texts:
        tokens = tokenizer.tokens(text)
        term_freq.update(tokens)
        doc_freq.update(set(tokens))
    ranked = sorted((w for w, c in term_freq.items() if c >= min_count), key=lambda w: (-term_freq[w], w))
    words = sorted(ranked[:max_words])
    if not words:
        raise _empty_vocabulary(texts, pattern, min_count, key)
    counts = pa.table(
        {
            "word": words,
            "index": np.arange(len(words), dtype=np.int32),
            "count": np.array([term_freq[w] for w in words], dtype=np.int64),
            "doc_freq": np.array([doc_freq[w] for w in words], dtype=np.int64),
        }
    )
    return Vocabulary(words, tokenizer), counts


def _empty_vocabulary(texts: list[str], pattern: str, min_count: int, key: str | None) -> FlipInputError:
    """The error for a vocabulary without words; for ``latin``, advice on ``pattern: indic``."""
    message = f"vocabulary is empty: no token of pattern {pattern!r} occurs {min_count}+ times"
    if pattern == "latin":
        message += "; " + _latin_advice(texts, f"{key}.pattern" if key else "pattern")
    return FlipInputError(f"{key}: {message}" if key else message)


def _latin_advice(texts: list[str], pattern_key: str) -> str:
    """Points to ``indic``, and says so when most letters of (the first SCRIPT_SAMPLE) ``texts`` are not Latin."""
    advice = f"set `{pattern_key}: indic` (tokens: runs of non-space characters, any script)"
    scripts = letter_scripts(texts[:SCRIPT_SAMPLE])
    letters = sum(scripts.values())
    other = letters - scripts["LATIN"]
    if 2 * other <= letters:
        return f"for scripts other than Latin {advice}"
    main = max((s for s in scripts if s != "LATIN"), key=scripts.__getitem__)
    where = "the texts" if len(texts) <= SCRIPT_SAMPLE else f"the first {SCRIPT_SAMPLE} texts"
    return (f"{100 * other // letters}% of the letters of {where} are not Latin script (mostly {main.title()}), "
            f"which pattern 'latin' drops: {advice}")


@dataclass(frozen=True)
class ConceptSettings:
    """How a concept vocabulary is selected (the paper: 6,500 unigrams + 3,500 bigrams)."""

    unigrams: int = 6500
    bigrams: int = 3500
    min_count: int = 5
    min_bigram_count: int = 5
    min_pmi: float = 3.0
    pattern: str = "latin"

    @classmethod
    def from_dict(cls, spec: Mapping, key: str = "concepts") -> ConceptSettings:
        """Settings from a config entry; an unknown field is an error naming ``{key}.{field}``."""
        return settings_from_dict(cls, spec, key)


def _ngram_counts(texts: list[str], tokenizer: Tokenizer) -> tuple[Counter[str], Counter[str]]:
    """Unigram and within-sentence bigram counts (bigrams as ``"a b"``)."""
    unigrams: Counter[str] = Counter()
    bigrams: Counter[str] = Counter()
    for text in texts:
        tokens = tokenizer.tokens(text)
        unigrams.update(tokens)
        bigrams.update(f"{a} {b}" for a, b in zip(tokens, tokens[1:]))
    return unigrams, bigrams


def bigram_pmi(bigrams: Counter[str], unigrams: Counter[str]) -> dict[str, float]:
    """``PMI(a b) = ln[(c(a b)/N₂) / ((c(a)/N₁)(c(b)/N₁))]`` of every counted bigram (nats)."""
    n1, n2 = sum(unigrams.values()), sum(bigrams.values())
    pmi = {}
    for gram, times in bigrams.items():
        a, b = gram.split(" ")
        pmi[gram] = math.log(times * n1 * n1 / (n2 * unigrams[a] * unigrams[b]))
    return pmi


def _top(counts: Counter[str], candidates: list[str], wanted: int, what: str, key: str) -> list[str]:
    """The ``wanted`` most frequent candidates (ties alphabetical); an error naming ``key`` if too few."""
    if wanted > len(candidates):
        raise FlipInputError(f"{key}: {wanted} {what} requested but only {len(candidates)} pass the filters")
    return sorted(candidates, key=lambda g: (-counts[g], g))[:wanted]


def build_concepts(
    texts: list[str], settings: ConceptSettings, key: str = "concepts"
) -> tuple[ConceptVocabulary, pa.Table]:
    """Fit a concept vocabulary on training sentences (module docstring).

    Args:
        texts: raw training sentences.
        settings: sizes and filters.
        key: config key of the settings, named in errors (``{key}.unigrams``, ``{key}.bigrams``).

    Returns:
        ``(vocabulary, counts)`` with counts columns ``word, index, count, order, pmi``
        (``order`` 1 or 2; ``pmi`` NaN for unigrams).
    """
    tokenizer = Tokenizer(settings.pattern)
    unigrams, bigrams = _ngram_counts(texts, tokenizer)
    pmi = bigram_pmi(bigrams, unigrams)
    uni_ok = [w for w, c in unigrams.items() if c >= settings.min_count]
    bi_ok = [g for g, c in bigrams.items() if c >= settings.min_bigram_count and pmi[g] >= settings.min_pmi]
    chosen = _top(unigrams, uni_ok, settings.unigrams, f"unigrams (min_count {settings.min_count})",
                  f"{key}.unigrams")
    chosen += _top(bigrams, bi_ok, settings.bigrams,
                   f"bigrams (min_bigram_count {settings.min_bigram_count}, min_pmi {settings.min_pmi})",
                   f"{key}.bigrams")
    concepts = sorted(chosen)
    counts = pa.table(
        {
            "word": concepts,
            "index": np.arange(len(concepts), dtype=np.int32),
            "count": np.array([bigrams[c] if " " in c else unigrams[c] for c in concepts], dtype=np.int64),
            "order": np.array([len(c.split(" ")) for c in concepts], dtype=np.int8),
            "pmi": np.array([pmi.get(c, np.nan) for c in concepts], dtype=np.float64),
        }
    )
    return ConceptVocabulary(concepts, tokenizer), counts


