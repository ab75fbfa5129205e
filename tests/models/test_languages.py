"""The language lists of SONAR and SeamlessM4T v2: transcribed from their sources, every
language of the thesis's grid resolved to the model's own code, and the rest refused."""

from __future__ import annotations

from importlib import resources

import pytest
import yaml

from flip_pipeline.corpora.fleurs_languages import THESIS_LANGUAGES, thesis_languages
from flip_pipeline.models import view_language_problem
from flip_pipeline.models.seamless_m4t import languages as m4t
from flip_pipeline.models.sonar import languages as sonar_languages

SONAR = {"family": "sonar"}
SEAMLESS = {"family": "seamless_m4t", "model": "facebook/seamless-m4t-v2-large"}


def sonar_card(name: str) -> list[dict]:
    return list(yaml.safe_load_all(resources.files("sonar").joinpath("cards", name).read_text(encoding="utf-8")))


def test_sonar_lists_are_the_installed_sonar_space_cards():
    (text,) = [card for card in sonar_card("text_sonar_basic_encoder.yaml") if card["name"] == "text_sonar_basic_encoder"]
    assert sonar_languages.TEXT_CODES == set(text["tokenizer_config"]["_set_"]["langs"])
    assert len(sonar_languages.TEXT_CODES) == 202
    speech = {card["name"].removeprefix("sonar_speech_encoder_") for card in sonar_card("sonar_speech_encoder.yaml")}
    assert sonar_languages.SPEECH_LANGUAGES == speech - {"base"} and len(sonar_languages.SPEECH_LANGUAGES) == 57


def test_seamless_table_counts():
    # 104 rows of the model card's table; cmn_Hant is Mandarin in traditional script, one more text code
    assert len(m4t.SPEECH_CODES) == 103 and len(m4t.TEXT_CODES) == 97
    assert {"ast", "kam", "kea", "ltz", "oci", "xho", "zlm"} <= m4t.SPEECH_CODES - m4t.TEXT_CODES
    assert m4t.TEXT_CODES - m4t.SPEECH_CODES == {"zsm"}


# The thesis's 30 + 30 languages (seed 002, Table 4.2) with each model's code, by hand from the
# model card (SeamlessM4T) and FLORES-200 (SONAR's text encoder): "view=code" pairs.
SEAMLESS_CODES = dict(pair.split("=") for pair in """
am=amh ar=arb bg=bul ca=cat cmn=cmn de=deu el=ell en=eng et=est fi=fin fr=fra hi=hin hy=hye id=ind it=ita ja=jpn
ka=kat km=khm ko=kor lt=lit mr=mar nl=nld fa=pes ru=rus sn=sna sd=snd ta=tam th=tha tr=tur yue=yue""".split())
SONAR_CODES = dict(pair.split("=") for pair in """
ar=arb_Arab as=asm_Beng bg=bul_Cyrl ca=cat_Latn cmn=zho_Hans de=deu_Latn en=eng_Latn et=est_Latn fi=fin_Latn
fr=fra_Latn he=heb_Hebr hi=hin_Deva id=ind_Latn it=ita_Latn ja=jpn_Jpan ko=kor_Hang lo=lao_Laoo lt=lit_Latn
ml=mal_Mlym mr=mar_Deva nl=nld_Latn fa=pes_Arab ru=rus_Cyrl sd=snd_Arab sw=swh_Latn ta=tam_Taml te=tel_Telu
th=tha_Thai tr=tur_Latn yue=yue_Hant""".split())


def test_every_shipped_language_resolves_to_the_models_own_code():
    seamless = {lang.view for lang in thesis_languages("seamlessm4t").values()}
    sonar = {lang.view for lang in thesis_languages("sonar").values()}
    assert seamless == set(SEAMLESS_CODES) and sonar == set(SONAR_CODES) and len(seamless) == len(sonar) == 30
    for language, code in SEAMLESS_CODES.items():
        assert m4t.language_code(language) == code
        for modality in ("text", "speech"):
            assert view_language_problem(SEAMLESS, f"{modality}_{language}", "m4t") is None, (language, modality)
    for language, code in SONAR_CODES.items():
        assert sonar_languages.text_code(language) == code
        for modality in ("text", "speech"):
            assert view_language_problem(SONAR, f"{modality}_{language}", "sonar") is None, (language, modality)
    # Mandarin and Persian: FLEURS's codes (cmn_hans_cn, fa_ir) are not the models'
    assert m4t.language_code("zh") == "cmn" and sonar_languages.text_code("zh") == "zho_Hans"
    assert sonar_languages.speech_language(sonar_languages.text_code("cmn")) == "cmn"
    assert sonar_languages.speech_language(sonar_languages.text_code("yue")) == "yue"
    assert sonar_languages.speech_language(sonar_languages.text_code("fa")) == "pes"
    assert {lang.fleurs for lang in THESIS_LANGUAGES.values() if lang.view in ("cmn", "yue", "fa")} == {
        "cmn_hans_cn", "yue_hant_hk", "fa_ir"}


@pytest.mark.parametrize("spec, view, expected", [
    (SONAR, "speech_am", "SONAR has no speech encoder for 'am' (view speech_am: sonar_speech_encoder_amh"),
    (SONAR, "speech_el", "sonar_speech_encoder_ell is not one of sonar-space's 57 speech encoders"),
    (SONAR, "text_xx", "SONAR has no language code for 'xx' (view text_xx): give its FLORES-200 code under "
                       "encoders.enc.languages"),
    ({**SONAR, "languages": {"en": "eng_Latin"}}, "text_en", "takes no language 'eng_Latin'"),
    (SEAMLESS, "text_xx", "SeamlessM4T v2 has no language code for 'xx' (view text_xx)"),
    (SEAMLESS, "text_ast", "SeamlessM4T v2 takes no text in 'ast' (view text_ast, code 'ast'"),
    (SEAMLESS, "speech_zsm", "SeamlessM4T v2 takes no speech in 'zsm'"),
    ({**SEAMLESS, "languages": {"de": "ger"}}, "text_de", "takes no text in 'de' (view text_de, code 'ger'"),
    ({"family": "composite", "text": SONAR, "speech": {"family": "fbank_projection", "dim": 8}}, "text_xx",
     "encoders.enc.text.languages"),
])
def test_languages_a_model_cannot_take_are_named(spec, view, expected):
    assert expected in view_language_problem(spec, view, "enc")


def test_what_is_judged_at_run_time_is_left_alone():
    assert view_language_problem({**SONAR, "text_encoder": "my_card"}, "text_en", "s") is None  # a custom card
    assert view_language_problem({**SONAR, "speech_encoder": {"am": "my_amharic_card"}}, "speech_am", "s") is None
    assert view_language_problem({"family": "sentence_transformers", "model": "x"}, "text_xx", "st") is None
    assert view_language_problem(SEAMLESS, "text_eng", "m4t") is None  # a model code is itself
    assert view_language_problem({**SONAR, "languages": {"xx": "tel_Telu"}}, "text_xx", "s") is None
