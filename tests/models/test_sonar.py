"""SONAR text and speech through our encoder, offline: the real sonar-space model classes
built with random weights from their architecture configs ("basic" text, "english"
speech), a stand-in SentencePiece model in fairseq2's NLLB tokenizer, espeak-ng speech."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pyarrow as pa
import pytest
import soundfile
from helpers.sonar import (
    SENTENCES,
    random_sonar_speech_encoder,
    random_sonar_text_encoder,
    spoken_clips,
    train_standin_tokenizer,
)

from flip_pipeline.corpora.fleurs_languages import thesis_languages
from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.corpus_table import write_corpus_table
from flip_pipeline.formats.shards import ViewEmbeddings
from flip_pipeline.models import build_encoder
from flip_pipeline.models.audio.features import load_audio
from flip_pipeline.models.batching import length_sorted_batches
from flip_pipeline.models.sonar.embed import SonarEncoder
from flip_pipeline.models.sonar.languages import LANGUAGE_CODES as SONAR_LANGUAGES
from flip_pipeline.stages.embed import embed_stage

TOL = 1e-4
#: Batched vs alone speech vectors. Measured here: cosine 1.0 (max difference 1.5e-6); a CI
#: CPU gave elementwise differences up to 0.06 (norm 18) on the unpadded single-clip path of
#: this 24-layer random-weight conformer, still cosine > 0.995. Letting padding leak into the
#: encoder gives cosine 0.56-0.66 on the padded rows, so 0.99 separates noise from a bug.
SPEECH_MIN_COSINE = 0.99
SPEECH_CARD = "sonar_speech_encoder_eng"


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory, tatoeba_dir):
    sentences = []
    for pair in ("deu", "fra", "ben", "hin", "tam", "tel"):
        for side in (pair, "eng"):
            lines = (tatoeba_dir / f"tatoeba.{pair}-eng.{side}").read_text(encoding="utf-8").splitlines()
            sentences += lines[:300]
    return train_standin_tokenizer(tmp_path_factory.mktemp("spm"), sentences)


@pytest.fixture(scope="module")
def text_model():
    return random_sonar_text_encoder("basic")  # the real SONAR text architecture, 766M parameters


@pytest.fixture(scope="module")
def speech_model():
    return random_sonar_speech_encoder("english")  # the real SONAR English speech architecture


@pytest.fixture(scope="module")
def wavs(tmp_path_factory) -> list[str]:
    return spoken_clips(tmp_path_factory.mktemp("wav"), SENTENCES[:4])


@pytest.fixture(scope="module")
def text_encoder(text_model, tokenizer) -> SonarEncoder:
    return SonarEncoder("sonar", batch_size=4, progress=False, text_model=text_model, text_tokenizer=tokenizer)


def test_length_sorted_batches_cover_every_row_once():
    lengths = [5, 1, 9, 3, 9, 2, 7]
    batches = length_sorted_batches(lengths, batch_size=3)
    assert sorted(np.concatenate(batches).tolist()) == list(range(7))
    assert [lengths[i] for i in batches[0]] == [9, 9, 7]
    budget = length_sorted_batches(lengths, batch_size=10, max_units=18)
    assert all(len(b) * max(lengths[i] for i in b) <= 18 for b in budget)
    assert sorted(np.concatenate(budget).tolist()) == list(range(7))


def test_text_shapes_and_batching_do_not_change_a_vector(text_encoder):
    ids = [f"r{i}" for i in range(len(SENTENCES))]
    batch = text_encoder.encode(ids, SENTENCES, "text_en")
    assert batch.shape == (len(SENTENCES), 1024) and batch.dtype == np.float32
    assert np.isfinite(batch).all() and np.linalg.norm(batch, axis=1).min() > 0
    for row in (0, 1, 3):  # short and long sentences, each alone
        alone = text_encoder.encode([ids[row]], [SENTENCES[row]], "text_en")
        np.testing.assert_allclose(alone[0], batch[row], atol=TOL, rtol=0)
    reversed_batch = text_encoder.encode(ids[::-1], SENTENCES[::-1], "text_en")
    np.testing.assert_allclose(reversed_batch[::-1], batch, atol=TOL, rtol=0)
    # the language token matters: the same string as German is another vector
    german = text_encoder.encode(ids[:1], SENTENCES[:1], "text_de")
    assert np.abs(german[0] - batch[0]).max() > 1e-3


def test_text_languages_and_views(text_encoder, text_model, tokenizer):
    assert [text_encoder.nllb_code(f"text_{x}") for x in ("en", "de", "fr", "bn", "hi", "ta", "te")] == [
        "eng_Latn", "deu_Latn", "fra_Latn", "ben_Beng", "hin_Deva", "tam_Taml", "tel_Telu",
    ]
    with pytest.raises(FlipInputError, match=r"SONAR has no language code for 'xx' \(view text_xx\).*encoders\.sonar\.languages"):
        text_encoder.check_view("text_xx")
    custom = SonarEncoder("s", languages={"xx": "tel_Telu"}, progress=False, text_model=text_model,
                          text_tokenizer=tokenizer)
    telugu = ["ఇది ఒక పుస్తకం."]
    np.testing.assert_allclose(
        custom.encode(["a"], telugu, "text_xx"), text_encoder.encode(["a"], telugu, "text_te"), atol=TOL, rtol=0
    )


def test_build_encoder_resolves_cards_without_loading():
    encoder = build_encoder("sonar", {"family": "sonar", "batch_size": 8, "precision": "bf16"})
    assert isinstance(encoder, SonarEncoder) and encoder.dim == 1024 and encoder.batch_size == 8
    for lang, card in (("en", "eng"), ("de", "deu"), ("fr", "fra"), ("bn", "ben"), ("hi", "hin"), ("ta", "tam")):
        encoder.check_view(f"speech_{lang}")  # the card is known to fairseq2's asset store (offline)
        assert encoder.speech_card(f"speech_{lang}") == f"sonar_speech_encoder_{card}"
    encoder.check_view("text_te")
    assert encoder.speech_card("speech_cmn") == encoder.speech_card("speech_zh") == "sonar_speech_encoder_cmn"
    for lang in ("bg", "cmn", "lo", "sd", "yue"):  # the rest of seed 002's SONAR languages
        encoder.check_view(f"speech_{lang}")
    assert {f"text_{lang.view}" for lang in thesis_languages("sonar").values()} <= {
        f"text_{lang}" for lang in SONAR_LANGUAGES}
    assert encoder._text_model is None and not encoder._speech_models  # nothing loaded
    with pytest.raises(FlipInputError, match="not a known SONAR model card"):
        build_encoder("s", {"family": "sonar", "speech_encoder": {"en": "sonar_speech_encoder_xyz"}}).check_view(
            "speech_en"
        )
    with pytest.raises(FlipInputError, match="not a known SONAR model card"):
        build_encoder("s", {"family": "sonar", "text_encoder": "no_such_card"}).check_view("text_en")
    assert encoder.provenance()["text_encoder"] == "text_sonar_basic_encoder"


def test_bf16_and_fp16_stay_close_to_fp32(tokenizer):
    import torch
    from sonar.models.sonar_text import get_sonar_text_encoder_hub

    hub = get_sonar_text_encoder_hub()
    small = dataclasses.replace(
        hub.get_arch_config("basic"), model_dim=256, num_encoder_layers=2, num_encoder_attn_heads=4, ffn_inner_dim=512
    )
    vectors = {}
    for precision in ("fp32", "bf16", "fp16"):
        torch.manual_seed(0)
        model = hub.create_new_model(small)
        encoder = SonarEncoder("s", precision=precision, progress=False, text_model=model, text_tokenizer=tokenizer)
        vectors[precision] = encoder.encode(list("abc"), SENTENCES[:3], "text_en")
        assert vectors[precision].dtype == np.float32 and next(model.parameters()).dtype == encoder.dtype
    for precision in ("bf16", "fp16"):
        a, b = vectors[precision], vectors["fp32"]
        cosine = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
        assert cosine.min() > 0.99, (precision, cosine)


def test_speech_shapes_resampling_and_batching_do_not_change_a_vector(speech_model, wavs):
    assert soundfile.info(wavs[0]).samplerate == 22050
    wave = load_audio(wavs[0])
    assert wave.dtype == np.float32 and abs(len(wave) / 16000 - soundfile.info(wavs[0]).duration) < 0.01
    encoder = SonarEncoder("sonar", speech_batch_size=4, progress=False, speech_models={SPEECH_CARD: speech_model})
    ids = [f"c{i}" for i in range(len(wavs))]
    batch = encoder.encode(ids, wavs, "speech_en")
    assert batch.shape == (len(wavs), 1024) and batch.dtype == np.float32 and np.isfinite(batch).all()
    for row in (1, 3):  # the longest clip and a short one, each alone
        alone = encoder.encode([ids[row]], [wavs[row]], "speech_en")[0]
        cosine = float(alone @ batch[row] / np.linalg.norm(alone) / np.linalg.norm(batch[row]))
        assert cosine > SPEECH_MIN_COSINE, (row, cosine)


@pytest.fixture(scope="module")
def bad_audio(tmp_path_factory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("bad")
    (folder / "zero.wav").write_bytes(b"")
    soundfile.write(folder / "noframes.wav", np.zeros(0, dtype=np.float32), 16000)
    soundfile.write(folder / "tiny.wav", np.zeros(80, dtype=np.float32), 16000)
    (folder / "junk.mp3").write_bytes(b"this is not audio at all" * 10)
    return {
        "missing": str(folder / "missing.wav"),
        "zero": str(folder / "zero.wav"),
        "noframes": str(folder / "noframes.wav"),
        "tiny": str(folder / "tiny.wav"),
        "junk": str(folder / "junk.mp3"),
    }


def test_bad_audio_is_reported_by_id_and_path(speech_model, wavs, bad_audio):
    encoder = SonarEncoder("sonar", progress=False, speech_models={SPEECH_CARD: speech_model})
    ids, paths = ["good", *bad_audio], [wavs[0], *bad_audio.values()]
    with pytest.raises(FlipInputError) as err:
        encoder.encode(ids, paths, "speech_en")
    message = str(err.value)
    assert "skip_bad_audio" in message and "good:" not in message and "5 rows with bad audio" in message
    for row_id, path in bad_audio.items():
        assert f"{row_id}: {path}" in message
    for reason in ("file not found", "empty file", "empty audio", "audio too short", "unreadable audio"):
        assert reason in message


def test_skipped_audio_rows_are_listed_in_the_manifest(speech_model, wavs, bad_audio, tmp_path):
    rows = [("a", wavs[0]), ("b", bad_audio["missing"]), ("c", wavs[1]), ("d", bad_audio["junk"]),
            ("e", bad_audio["zero"]), ("f", bad_audio["tiny"]), ("g", wavs[2])]
    table = tmp_path / "corpus" / "test.parquet"
    write_corpus_table(pa.table({"id": [r[0] for r in rows], "speech_en": [r[1] for r in rows]}), table)
    spec = {"family": "sonar", "skip_bad_audio": True, "speech_batch_size": 2}
    encoder = SonarEncoder("sonar", skip_bad_audio=True, speech_batch_size=2, progress=False,
                           speech_models={SPEECH_CARD: speech_model})
    out = tmp_path / "emb"
    info = embed_stage(table, "speech_en", "sonar", spec, out, shard_rows=3, encoder=encoder)
    manifest = json.loads((out / "_SUCCESS").read_text())
    assert info["skipped_rows"] == manifest["skipped_rows"] == 4
    assert [s["id"] for s in manifest["skipped"]] == ["b", "d", "e", "f"]
    assert bad_audio["junk"] in manifest["skipped"][1]["reason"]
    assert manifest["rows"] == 3 and [s["rows"] for s in manifest["shards"]] == [2, 0, 1]  # d, e, f: all skipped
    view = ViewEmbeddings(out)
    assert list(view.ids) == ["a", "c", "g"]
    alone = encoder.encode(["c"], [wavs[1]], "speech_en")[0]
    stored = view.read_rows(1, 2)[0]  # "c", batched with "a": the same vector up to noise (SPEECH_MIN_COSINE)
    assert float(alone @ stored / np.linalg.norm(alone) / np.linalg.norm(stored)) > SPEECH_MIN_COSINE

    # A rerun keeps every shard (their skipped rows are recorded in them) and embeds nothing.
    stamps = {p.name: p.stat().st_mtime_ns for p in out.glob("part-*.parquet")}

    class MustNotEncode:
        name, dim = "sonar", 1024

        def check_view(self, view):
            pass

        def encode_skipping(self, ids, inputs, view):
            raise AssertionError("a complete shard was embedded again")

    again = embed_stage(table, "speech_en", "sonar", spec, out, shard_rows=3, encoder=MustNotEncode())
    assert again["skipped"] == manifest["skipped"]
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("part-*.parquet")} == stamps
