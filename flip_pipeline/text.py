"""Text normalisation and tokenisation, shared by vocabularies, bags of words and metrics.

The paper lower-cases text, strips punctuation and tokenises with scikit-learn's
CountVectorizer conventions (the published code builds its vocabulary that way):

* ``latin`` pattern ``(?u)\\b\\w\\w+\\b`` (tokens of two or more word characters),
  accents folded to ASCII (``strip_accents="ascii"``);
* ``indic`` pattern ``\\S+`` (any run of non-space characters), accents kept, because
  folding Brahmic scripts to ASCII would delete them.

Order of operations, identical everywhere a token is produced:
punctuation removed (the published ``remove_punc`` set plus every Unicode ``P*``
character) → whitespace collapsed → lower-cased → accents folded (latin only) →
pattern applied.
"""

from __future__ import annotations

import functools
import re
import string
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import regex

TOKEN_PATTERNS: dict[str, str] = {"latin": r"(?u)\b\w\w+\b", "indic": r"\S+"}

# The published FLiP `remove_punc` characters: ASCII punctuation, typographic quotes,
# zero-width joiners and the em dash.
_PUBLISHED_PUNCTUATION = string.punctuation + "’“”‘[]\u200c\u200b\u2060—"


# Every Unicode punctuation character (category P*) plus the published set.
_PUNCTUATION = regex.compile("[\\p{P}" + regex.escape(_PUBLISHED_PUNCTUATION) + "]")
_WHITESPACE = re.compile(r"\s+")


def strip_punctuation(text: str) -> str:
    """Remove punctuation and collapse runs of whitespace to one space (no lower-casing)."""
    return _WHITESPACE.sub(" ", _PUNCTUATION.sub("", text)).strip()


def fold_accents_ascii(text: str) -> str:
    """NFKD-decompose and drop every non-ASCII code point (scikit-learn's ``strip_accents='ascii'``)."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


@dataclass(frozen=True)
class Tokenizer:
    """The paper's analyser for one script family.

    Attributes:
        pattern: ``"latin"`` or ``"indic"`` (a key of :data:`TOKEN_PATTERNS`).
    """

    pattern: str = "latin"

    def __post_init__(self) -> None:
        if self.pattern not in TOKEN_PATTERNS:
            raise ValueError(
                f"unknown token pattern {self.pattern!r}; expected one of {sorted(TOKEN_PATTERNS)}"
            )

    @functools.cached_property
    def _regex(self) -> re.Pattern[str]:
        return re.compile(TOKEN_PATTERNS[self.pattern])

    def normalise(self, text: str) -> str:
        """Punctuation stripped, lower-cased, accents folded for latin."""
        text = strip_punctuation(text).lower()
        if self.pattern == "latin":
            text = fold_accents_ascii(text)
        return text

    def tokens(self, text: str) -> list[str]:
        """All tokens of ``text`` in order, repeats kept."""
        return self._regex.findall(self.normalise(text))


def letter_scripts(texts: Iterable[str]) -> Counter[str]:
    """The letters of ``texts`` counted by script: the first word of their Unicode names (``LATIN``, ``CYRILLIC``, …)."""
    return Counter(unicodedata.name(ch, "UNNAMED").split(" ")[0] for text in texts for ch in text if ch.isalpha())


# Languages written in Brahmic scripts: tokenised with the `indic` pattern, accents kept.
INDIC_LANGUAGES = frozenset({"as", "bn", "gu", "hi", "kn", "ml", "mr", "or", "pa", "ta", "te"})


def default_pattern(language: str) -> str:
    """The paper's token pattern for a language code: ``indic`` for Brahmic scripts, else ``latin``."""
    return "indic" if language in INDIC_LANGUAGES else "latin"
