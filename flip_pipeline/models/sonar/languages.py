"""The languages SONAR takes, and the code of each view language (no torch: config validation reads it).

Transcribed from sonar-space 0.5's own asset cards (``sonar/cards/`` of the package; a test
holds these lists to the installed cards):

* text: the 202 FLORES-200 codes of ``text_sonar_basic_encoder`` (``tokenizer_config.langs``),
  the language tokens the NLLB tokenizer of the text encoder accepts (``eng_Latn``, ``zho_Hans``);
* speech: the 57 languages of ``sonar_speech_encoder.yaml``: one speech encoder per language,
  ``sonar_speech_encoder_{iso3}`` (``eng``, ``cmn``, ``yue``; ``base`` is the shared architecture).

A view language (``text_de`` → ``de``; FLEURS's code's first part, so ``cmn_hans_cn`` → ``cmn``)
maps to a FLORES-200 code by :data:`LANGUAGE_CODES` (FLEURS's and ISO 639-1's codes where
they differ from FLORES-200's: ``fa`` → ``pes_Arab``, Western Persian; ``cmn``/``zh`` →
``zho_Hans``, FLEURS's Mandarin being simplified script; ``yue`` → ``yue_Hant``; ``sw`` →
``swh_Latn``), else to the one FLORES-200 code whose first part it is (``swh`` → ``swh_Latn``;
``zho`` has two scripts, so it needs an entry). ``encoders.<name>.languages`` overrides both.
Its speech encoder is named by the code's first part, except Mandarin's: NLLB writes it
``zho`` and SONAR's encoder is ``sonar_speech_encoder_cmn`` (:data:`SPEECH_CARD_LANGUAGE`).

The lists hold for the default cards; a config naming other cards (``text_encoder``,
``tokenizer``, a ``speech_encoder`` mapping or template) is checked against fairseq2's asset
store when the encoder is built instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flip_pipeline.formats.corpus_table import view_language, view_modality

DEFAULT_TEXT_ENCODER = "text_sonar_basic_encoder"
DEFAULT_SPEECH_ENCODER = "sonar_speech_encoder_{iso3}"

#: ``text_sonar_basic_encoder``'s languages (sonar-space 0.5, ``cards/text_sonar_basic_encoder.yaml``).
TEXT_CODES = frozenset("""
ace_Arab ace_Latn acm_Arab acq_Arab aeb_Arab afr_Latn ajp_Arab aka_Latn amh_Ethi apc_Arab arb_Arab ars_Arab
ary_Arab arz_Arab asm_Beng ast_Latn awa_Deva ayr_Latn azb_Arab azj_Latn bak_Cyrl bam_Latn ban_Latn bel_Cyrl
bem_Latn ben_Beng bho_Deva bjn_Arab bjn_Latn bod_Tibt bos_Latn bug_Latn bul_Cyrl cat_Latn ceb_Latn ces_Latn
cjk_Latn ckb_Arab crh_Latn cym_Latn dan_Latn deu_Latn dik_Latn dyu_Latn dzo_Tibt ell_Grek eng_Latn epo_Latn
est_Latn eus_Latn ewe_Latn fao_Latn pes_Arab fij_Latn fin_Latn fon_Latn fra_Latn fur_Latn fuv_Latn gla_Latn
gle_Latn glg_Latn grn_Latn guj_Gujr hat_Latn hau_Latn heb_Hebr hin_Deva hne_Deva hrv_Latn hun_Latn hye_Armn
ibo_Latn ilo_Latn ind_Latn isl_Latn ita_Latn jav_Latn jpn_Jpan kab_Latn kac_Latn kam_Latn kan_Knda kas_Arab
kas_Deva kat_Geor knc_Arab knc_Latn kaz_Cyrl kbp_Latn kea_Latn khm_Khmr kik_Latn kin_Latn kir_Cyrl kmb_Latn
kon_Latn kor_Hang kmr_Latn lao_Laoo lvs_Latn lij_Latn lim_Latn lin_Latn lit_Latn lmo_Latn ltg_Latn ltz_Latn
lua_Latn lug_Latn luo_Latn lus_Latn mag_Deva mai_Deva mal_Mlym mar_Deva min_Latn mkd_Cyrl plt_Latn mlt_Latn
mni_Beng khk_Cyrl mos_Latn mri_Latn zsm_Latn mya_Mymr nld_Latn nno_Latn nob_Latn npi_Deva nso_Latn nus_Latn
nya_Latn oci_Latn gaz_Latn ory_Orya pag_Latn pan_Guru pap_Latn pol_Latn por_Latn prs_Arab pbt_Arab quy_Latn
ron_Latn run_Latn rus_Cyrl sag_Latn san_Deva sat_Beng scn_Latn shn_Mymr sin_Sinh slk_Latn slv_Latn smo_Latn
sna_Latn snd_Arab som_Latn sot_Latn spa_Latn als_Latn srd_Latn srp_Cyrl ssw_Latn sun_Latn swe_Latn swh_Latn
szl_Latn tam_Taml tat_Cyrl tel_Telu tgk_Cyrl tgl_Latn tha_Thai tir_Ethi taq_Latn taq_Tfng tpi_Latn tsn_Latn
tso_Latn tuk_Latn tum_Latn tur_Latn twi_Latn tzm_Tfng uig_Arab ukr_Cyrl umb_Latn urd_Arab uzn_Latn vec_Latn
vie_Latn war_Latn wol_Latn xho_Latn ydd_Hebr yor_Latn yue_Hant zho_Hans zho_Hant zul_Latn
""".split())

#: The languages with a speech encoder (sonar-space 0.5, ``cards/sonar_speech_encoder.yaml``).
SPEECH_LANGUAGES = frozenset("""
arb cat cym dan deu eng est fin fra ind ita kor nld pes por ron spa swh tgl tur uzn asm bel ben bos bul ces cmn
guj heb hin hrv jpn kan lao lit lvs mal mar mkd mlt npi ory pan pol rus slk slv snd srp tam tel tha ukr urd vie
yue
""".split())

#: View language (ISO 639-1, or FLEURS's ISO 639-3 where there is no two-letter code) →
#: FLORES-200 code: every language of the thesis's Table 4.2 (seed 002) and the paper's.
LANGUAGE_CODES = {
    "am": "amh_Ethi", "ar": "arb_Arab", "as": "asm_Beng", "bg": "bul_Cyrl", "bn": "ben_Beng", "ca": "cat_Latn",
    "cmn": "zho_Hans", "cs": "ces_Latn", "cy": "cym_Latn", "da": "dan_Latn", "de": "deu_Latn", "el": "ell_Grek",
    "en": "eng_Latn", "es": "spa_Latn", "et": "est_Latn", "fa": "pes_Arab", "fi": "fin_Latn", "fr": "fra_Latn",
    "gu": "guj_Gujr", "he": "heb_Hebr", "hi": "hin_Deva", "hr": "hrv_Latn", "hu": "hun_Latn", "hy": "hye_Armn",
    "id": "ind_Latn", "it": "ita_Latn", "ja": "jpn_Jpan", "ka": "kat_Geor", "km": "khm_Khmr", "kn": "kan_Knda",
    "ko": "kor_Hang", "lo": "lao_Laoo", "lt": "lit_Latn", "lv": "lvs_Latn", "ml": "mal_Mlym", "mr": "mar_Deva",
    "nl": "nld_Latn", "or": "ory_Orya", "pa": "pan_Guru", "pl": "pol_Latn", "pt": "por_Latn", "ro": "ron_Latn",
    "ru": "rus_Cyrl", "sd": "snd_Arab", "sk": "slk_Latn", "sl": "slv_Latn", "sn": "sna_Latn", "sv": "swe_Latn",
    "sw": "swh_Latn", "ta": "tam_Taml", "te": "tel_Telu", "th": "tha_Thai", "tr": "tur_Latn", "uk": "ukr_Cyrl",
    "ur": "urd_Arab", "vi": "vie_Latn", "yue": "yue_Hant", "zh": "zho_Hans",
}
#: Speech-encoder language where it is not the FLORES-200 code's first part.
SPEECH_CARD_LANGUAGE = {"zho": "cmn"}
_BY_FIRST_PART: dict[str, list[str]] = {}
for _code in sorted(TEXT_CODES):
    _BY_FIRST_PART.setdefault(_code.split("_")[0], []).append(_code)


def text_code(language: str, overrides: Mapping[str, str] | None = None) -> str | None:
    """The FLORES-200 code of a view language (see the module), ``None`` when it has none."""
    if overrides and language in overrides:
        return overrides[language]
    if language in LANGUAGE_CODES:
        return LANGUAGE_CODES[language]
    candidates = _BY_FIRST_PART.get(language, [])
    return candidates[0] if len(candidates) == 1 else None


def speech_language(code: str) -> str:
    """The ``{iso3}`` of a FLORES-200 code's speech encoder: ``deu_Latn`` → ``deu``, ``zho_Hans`` → ``cmn``."""
    iso3 = code.split("_")[0]
    return SPEECH_CARD_LANGUAGE.get(iso3, iso3)


def view_problem(spec: Mapping[str, Any], view: str, name: str = "<name>") -> str | None:
    """Why the SONAR encoder configured as ``spec`` (an ``encoders.<name>`` entry) cannot take
    ``view``, in one line naming the language (``name``: the encoder's config name); ``None``
    when it can, or when ``spec`` names cards whose languages are checked when the encoder is built."""
    language, modality = view_language(view), view_modality(view)
    code = text_code(language, spec.get("languages"))
    if modality == "speech" and isinstance(spec.get("speech_encoder"), Mapping):
        return None  # an explicit card per language: fairseq2's asset store knows them
    if code is None:
        return (f"SONAR has no language code for {language!r} (view {view}): give its FLORES-200 code under "
                f"encoders.{name}.languages (e.g. {language}: xxx_Latn)")
    default_text = spec.get("text_encoder", DEFAULT_TEXT_ENCODER) == DEFAULT_TEXT_ENCODER and not spec.get("tokenizer")
    if modality == "text" and default_text and code not in TEXT_CODES:
        return (f"SONAR's text encoder ({DEFAULT_TEXT_ENCODER}) takes no language {code!r} (view {view}; "
                f"its {len(TEXT_CODES)} FLORES-200 codes are in sonar-space's card)")
    if modality == "speech" and spec.get("speech_encoder", DEFAULT_SPEECH_ENCODER) == DEFAULT_SPEECH_ENCODER:
        iso3 = speech_language(code)
        if iso3 not in SPEECH_LANGUAGES:
            return (f"SONAR has no speech encoder for {language!r} (view {view}: sonar_speech_encoder_{iso3} is not "
                    f"one of sonar-space's {len(SPEECH_LANGUAGES)} speech encoders)")
    return None
