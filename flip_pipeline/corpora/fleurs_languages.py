"""The thesis's FLEURS languages (``../shared/seeds/002_…``, Table 4.2) and FLEURS code helpers.

``THESIS_LANGUAGES`` maps the thesis's language code (ISO 639-3, as in Table 4.2) to a
:class:`ThesisLanguage`: the FLEURS config code, the view language of the corpus table
(the FLEURS code's first part, so ``de_de`` → ``text_de``), the resource level, the
columns of Table 4.2 as printed (name, script, family, test split size, unique sentences
"without duplicates") and the two model sets.

The table lists 36 languages: SeamlessM4T and SALMONN share one set of 30, SONAR has
another 30 (24 in common). The printed table marks membership with two "x" columns that
the text extraction of the thesis flattens; the sets here are those of §4.2 and the
appendix: SeamlessM4T/SALMONN = the 30 column headers of Table A.1 (which include
Amharic, Greek and Khmer, "not supported" by SONAR per §4.2); SONAR = the 24 rows marked
twice plus the six same-resource-level replacements marked once and absent from Table A.1
(asm, heb, lao, mal, swh, tel; all six have a SONAR speech encoder, none of amh, ell, hye,
kat, khm, sna does). The thesis's SONAR appendix tables (A.3, A.4) repeat the SeamlessM4T
headers; §4.2 and SONAR's encoder list say otherwise, so those headers are not used.

Printed as in the thesis: "Hant" for Mandarin (FLEURS's Mandarin is ``cmn_hans_cn``,
simplified script) and "Cryrillic" for Russian.
"""

from __future__ import annotations

from typing import NamedTuple

from flip_pipeline.errors import FlipInputError

RESOURCE_LEVELS = ("high", "medium", "low")
MODELS = ("seamlessm4t", "salmonn", "sonar")


class ThesisLanguage(NamedTuple):
    """One row of the thesis's Table 4.2 with its FLEURS config code."""

    fleurs: str  # FLEURS config code (hub config, release folder data/<fleurs>)
    view: str  # view language of the corpus table: text_<view>, speech_<view>
    resource: str  # "high" (>= 1000 h), "medium", "low" (<= 500 h), thesis §4.2
    name: str
    script: str
    family: str
    seamless_salmonn: bool  # analysed with SeamlessM4T and SALMONN
    sonar: bool  # analysed with SONAR
    test_rows: int  # "Split Size": entries of the FLEURS test split
    unique_rows: int  # "Without Duplicates": unique sentences of the test split


def _row(fleurs, resource, name, script, family, models, test_rows, unique_rows) -> ThesisLanguage:
    return ThesisLanguage(fleurs, view_language(fleurs), resource, name, script, family,
                          "S" in models, "O" in models, test_rows, unique_rows)


def view_language(fleurs_code: str) -> str:
    """The view language of a FLEURS config code: its first part (``de_de`` → ``de``,
    ``cmn_hans_cn`` → ``cmn``), an ISO 639-1 or 639-3 code."""
    return fleurs_code.split("_", 1)[0]


# models: S = SeamlessM4T/SALMONN, O = SONAR
THESIS_LANGUAGES: dict[str, ThesisLanguage] = {
    "amh": _row("am_et", "low", "Amharic", "Ethiopic", "Afro-Asiatic", "S", 516, 296),
    "arb": _row("ar_eg", "high", "Arabic", "Arabic", "Afro-Asiatic", "SO", 428, 283),
    "asm": _row("as_in", "low", "Assamese", "Bengali", "Indo-European", "O", 984, 349),
    "bul": _row("bg_bg", "low", "Bulgarian", "Cyrillic", "Indo-European", "SO", 658, 344),
    "cat": _row("ca_es", "high", "Catalan", "Latin", "Indo-European", "SO", 940, 350),
    "cmn": _row("cmn_hans_cn", "high", "Chinese Mandarin", "Hant", "Sino-Tibetan", "SO", 945, 349),
    "deu": _row("de_de", "high", "German", "Latin", "Indo-European", "SO", 862, 347),
    "ell": _row("el_gr", "medium", "Greek", "Greek", "Indo-European", "S", 650, 333),
    "eng": _row("en_us", "high", "English", "Latin", "Indo-European", "SO", 647, 350),
    "est": _row("et_ee", "medium", "Estonian", "Latin", "Uralic", "SO", 893, 345),
    "fin": _row("fi_fi", "high", "Finnish", "Latin", "Uralic", "SO", 918, 348),
    "fra": _row("fr_fr", "high", "French", "Latin", "Indo-European", "SO", 676, 332),
    "heb": _row("he_il", "low", "Hebrew", "Hebrew", "Afro-Asiatic", "O", 792, 347),
    "hin": _row("hi_in", "medium", "Hindi", "Devanagari", "Indo-European", "SO", 418, 265),
    "hye": _row("hy_am", "low", "Armenian", "Armenic", "Indo-European", "S", 932, 350),
    "ind": _row("id_id", "medium", "Indonesian", "Latin", "Austronesian", "SO", 687, 328),
    "ita": _row("it_it", "high", "Italian", "Latin", "Indo-European", "SO", 865, 346),
    "jpn": _row("ja_jp", "high", "Japanese", "Japanese", "Japonic", "SO", 650, 321),
    "kat": _row("ka_ge", "low", "Georgian", "Georgian", "Kartvelian", "S", 979, 350),
    "khm": _row("km_kh", "low", "Khmer", "Khmer", "Austroasiatic", "S", 949, 335),
    "kor": _row("ko_kr", "medium", "Korean", "Korean", "Koreanic", "SO", 382, 270),
    "lao": _row("lo_la", "low", "Lao", "Lao", "Tai-Kadai", "O", 405, 260),
    "lit": _row("lt_lt", "low", "Lithuanian", "Latin", "Indo-European", "SO", 986, 349),
    "mal": _row("ml_in", "low", "Malayalam", "Malayalam", "Dravidian", "O", 985, 344),
    "mar": _row("mr_in", "low", "Marathi", "Devanagari", "Indo-European", "SO", 1020, 349),
    "nld": _row("nl_nl", "high", "Dutch", "Latin", "Indo-European", "SO", 364, 251),
    "pes": _row("fa_ir", "low", "Persian", "Arabic", "Indo-European", "SO", 871, 324),
    "rus": _row("ru_ru", "medium", "Russian", "Cryrillic", "Indo-European", "SO", 775, 344),
    "sna": _row("sn_zw", "low", "Shona", "Latin", "Atlantic-Congo", "S", 925, 348),
    "snd": _row("sd_in", "low", "Sindhi", "Arabic", "Indo-European", "SO", 980, 350),
    "swh": _row("sw_ke", "low", "Swahili", "Latin", "Atlantic-Congo", "O", 487, 312),
    "tam": _row("ta_in", "medium", "Tamil", "Tamil", "Dravidian", "SO", 591, 336),
    "tel": _row("te_in", "medium", "Telugu", "Telugu", "Dravidian", "O", 472, 302),
    "tha": _row("th_th", "medium", "Thai", "Thai", "Tai-Kadai", "SO", 1020, 349),
    "tur": _row("tr_tr", "medium", "Turkish", "Latin", "Turkic", "SO", 743, 329),
    "yue": _row("yue_hant_hk", "low", "Cantonese", "Hant", "Sino-Tibetan", "SO", 819, 339),
}


def thesis_languages(model: str) -> dict[str, ThesisLanguage]:
    """The 30 languages the thesis analysed with ``model`` (``seamlessm4t``, ``salmonn`` or
    ``sonar``), in Table 4.2's order."""
    if model not in MODELS:
        raise FlipInputError(f"thesis languages: unknown model {model!r}; known: {', '.join(MODELS)}")
    column = "sonar" if model == "sonar" else "seamless_salmonn"
    return {code: lang for code, lang in THESIS_LANGUAGES.items() if getattr(lang, column)}
