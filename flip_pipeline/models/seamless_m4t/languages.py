"""The languages SeamlessM4T v2 takes as input, and the code of each view language (no torch).

Transcribed from the "Supported Languages" table of SeamlessM4T-large v1/v2
(``docs/m4t/README.md`` of facebookresearch/seamless_communication, which the hub's model
card ``facebook/seamless-m4t-v2-large`` links): its ``Source`` column says whether a language
is taken as source speech (``Sp``) and/or source text (``Tx``). The table has 104 rows:
every one is a speech source but ``zsm`` (Standard Malay, text only), every one a text
source but ``ast``, ``kam``, ``kea``, ``ltz``, ``oci``, ``xho`` and ``zlm`` (speech only); Mandarin
is ``cmn`` (simplified script) and ``cmn_Hant`` (traditional) in text, one language in speech.
The model card counts 101 speech and 96 text input languages.

A text input is marked by its code's language token, ``__{code}__`` (``__cmn__``). A view
language (``text_de`` → ``de``; FLEURS's code's first part, so ``cmn_hans_cn`` → ``cmn``) maps to
a code by :data:`VIEW_CODES` (FLEURS's and ISO 639-1's codes where they differ from the
model's: ``fa`` → ``pes``, Western Persian; ``zh`` and ``cmn`` → ``cmn``, Mandarin in simplified
script as FLEURS writes it; ``sw`` → ``swh``; ``yue`` → ``yue``), else to itself when it is one of
the model's codes (``eng``). ``encoders.<name>.languages`` overrides both; its codes are
checked against the table too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flip_pipeline.formats.corpus_table import view_language, view_modality

_TABLE = """
afr amh arb ary arz asm ast azj bel ben bos bul cat ceb ces ckb cmn cmn_Hant cym dan deu ell eng est eus fin fra
fuv gaz gle glg guj heb hin hrv hun hye ibo ind isl ita jav jpn kam kan kat kaz kea khk khm kir kor lao lit ltz
lug luo lvs mai mal mar mkd mlt mni mya nld nno nob npi nya oci ory pan pbt pes pol por ron rus slk slv sna snd
som spa srp swe swh tam tel tgk tgl tha tur ukr urd uzn vie xho yor yue zlm zsm zul
""".split()
#: Codes the model takes as source speech (every row of the table but ``zsm``).
SPEECH_CODES = frozenset(code for code in _TABLE if code != "zsm")
#: Codes the model takes as source text.
TEXT_CODES = frozenset(code for code in _TABLE if code not in {"ast", "kam", "kea", "ltz", "oci", "xho", "zlm"})

#: View language → SeamlessM4T code: every language of the thesis's Table 4.2 (seed 002)
#: that the model takes, and the paper's.
VIEW_CODES = {
    "af": "afr", "am": "amh", "ar": "arb", "as": "asm", "be": "bel", "bg": "bul", "bn": "ben", "bs": "bos",
    "ca": "cat", "cmn": "cmn", "cs": "ces", "cy": "cym", "da": "dan", "de": "deu", "el": "ell", "en": "eng",
    "es": "spa", "et": "est", "fa": "pes", "fi": "fin", "fr": "fra", "ga": "gle", "gl": "glg", "gu": "guj",
    "he": "heb", "hi": "hin", "hr": "hrv", "hu": "hun", "hy": "hye", "id": "ind", "is": "isl", "it": "ita",
    "ja": "jpn", "ka": "kat", "kk": "kaz", "km": "khm", "kn": "kan", "ko": "kor", "lo": "lao", "lt": "lit",
    "lv": "lvs", "mk": "mkd", "ml": "mal", "mr": "mar", "mt": "mlt", "my": "mya", "ne": "npi", "nl": "nld",
    "or": "ory", "pa": "pan", "pl": "pol", "pt": "por", "ro": "ron", "ru": "rus", "sd": "snd", "sk": "slk",
    "sl": "slv", "sn": "sna", "so": "som", "sr": "srp", "sv": "swe", "sw": "swh", "ta": "tam", "te": "tel",
    "tg": "tgk", "th": "tha", "tl": "tgl", "tr": "tur", "uk": "ukr", "ur": "urd", "uz": "uzn", "vi": "vie",
    "yo": "yor", "yue": "yue", "zh": "cmn", "zu": "zul",
}
MODEL = "SeamlessM4T v2"


def language_code(language: str, overrides: Mapping[str, str] | None = None) -> str | None:
    """The SeamlessM4T code of a view language (see the module), ``None`` when it has none."""
    if overrides and language in overrides:
        return overrides[language]
    return VIEW_CODES.get(language, language if language in SPEECH_CODES | TEXT_CODES else None)


def view_problem(spec: Mapping[str, Any], view: str, name: str = "<name>") -> str | None:
    """Why the SeamlessM4T v2 entry ``spec`` (``encoders.<name>``) cannot take ``view``, in one
    line naming the language; ``None`` when it can."""
    language, modality = view_language(view), view_modality(view)
    code = language_code(language, spec.get("languages"))
    if code is None:
        return (f"{MODEL} has no language code for {language!r} (view {view}): give its code under "
                f"encoders.{name}.languages (e.g. {language}: xxx)")
    supported = TEXT_CODES if modality == "text" else SPEECH_CODES
    if code not in supported:
        return (f"{MODEL} takes no {modality} in {language!r} (view {view}, code {code!r}: not a source "
                f"{modality} language of the model card's table)")
    return None
