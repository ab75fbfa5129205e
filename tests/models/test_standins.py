"""The offline stand-ins of a paper run: the ``fbank_projection`` speech control, the
``composite`` encoder that serves a text and a speech view under one name, and the
stand-in corpora (espeak-ng Common Voice, Tatoeba Europarl/Samanantar) in their real layouts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from helpers.paper import BITEXTS, write_standin_corpora
from helpers.sonar import bad_audio_files, espeak_available, spoken_clips

from flip_pipeline.corpora.tsv import read_tsv
from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.corpus_table import read_view
from flip_pipeline.formats.shards import ViewEmbeddings
from flip_pipeline.models import build_encoder
from flip_pipeline.models.audio.features import audio_duration
from flip_pipeline.stages.corpus import corpus_stage
from flip_pipeline.stages.embed import embed_stage

FBANK = {"family": "fbank_projection", "dim": 384, "seed": 0}
BOW = {"family": "bow_projection", "dim": 384}
COMPOSITE = {"family": "composite", "text": BOW, "speech": FBANK}
SENTENCES = ["Tom is here.", "Where is the station?", "Thank you very much for your help yesterday."]
SIZES = {"train": 240, "dev": 40, "test": 40}


@pytest.fixture(scope="module")
def wavs(tmp_path_factory) -> list[str]:
    return spoken_clips(tmp_path_factory.mktemp("wav"), SENTENCES)


@pytest.fixture(scope="module")
def bad_audio(tmp_path_factory) -> dict[str, str]:
    return bad_audio_files(tmp_path_factory.mktemp("bad"))


# --- fbank_projection ----------------------------------------------------------------------


def test_fbank_projection_shape_determinism_and_distinct_clips(wavs):
    encoder = build_encoder("fbank", FBANK)
    ids = [f"c{i}" for i in range(len(wavs))]
    out = encoder.encode(ids, wavs, "speech_en")
    assert out.shape == (3, 384) and out.dtype == np.float32 and np.isfinite(out).all()
    np.testing.assert_array_equal(out, build_encoder("fbank", FBANK).encode(ids, wavs, "speech_en"))
    alone = encoder.encode(ids[1:2], wavs[1:2], "speech_en")[0]
    np.testing.assert_allclose(alone, out[1], rtol=1e-5, atol=1e-4)  # batch-independent up to BLAS rounding
    assert not np.allclose(out, build_encoder("fbank", {**FBANK, "seed": 1}).encode(ids, wavs, "speech_en"))
    # Different clips differ well beyond rounding (per-clip standardised filterbanks would not).
    features = np.stack([encoder.features(w) for w in wavs])
    assert features.shape == (3, 160)
    gaps = [np.linalg.norm(out[i] - out[j]) / np.linalg.norm(out[i]) for i in range(3) for j in range(i)]
    assert min(gaps) > 0.01, gaps
    assert encoder.provenance()["model_id"] == "control:fbank_projection"


def test_fbank_projection_rejects_text_views():
    encoder = build_encoder("fbank", FBANK)
    with pytest.raises(FlipInputError, match=r"encoder 'fbank' \(fbank_projection\) encodes speech views .* 'text_en'"):
        encoder.check_view("text_en")
    with pytest.raises(FlipInputError, match="speech views"):
        encoder.encode(["a"], ["Tom is here."], "text_en")


def test_fbank_projection_reports_bad_audio_by_id_and_path(wavs, bad_audio):
    ids, paths = ["good", *bad_audio], [wavs[0], *bad_audio.values()]
    with pytest.raises(FlipInputError) as err:
        build_encoder("fbank", FBANK).encode(ids, paths, "speech_en")
    message = str(err.value)
    assert "4 rows with bad audio" in message and "encoders.fbank.skip_bad_audio" in message
    assert "good:" not in message
    for row_id, path in bad_audio.items():
        assert f"{row_id}: {path}" in message
    for reason in ("file not found", "empty file", "audio too short", "unreadable audio"):
        assert reason in message

    skipping = build_encoder("fbank", {**FBANK, "skip_bad_audio": True})
    kept, skipped = skipping.encode_skipping(ids, paths, "speech_en")
    assert list(skipped) == list(bad_audio) and skipped["junk"].startswith(bad_audio["junk"] + ": ")
    np.testing.assert_array_equal(kept, skipping.encode(["good"], [wavs[0]], "speech_en"))
    with pytest.raises(FlipInputError, match="bad audio: missing: "):
        skipping.encode(ids, paths, "speech_en")


# --- composite -----------------------------------------------------------------------------


def test_composite_routes_views_to_their_parts(wavs):
    composite = build_encoder("mix", COMPOSITE)
    assert composite.dim == 384
    ids = ["a", "b", "c"]
    text = composite.encode(ids, SENTENCES, "text_de")
    speech = composite.encode(ids, wavs, "speech_en")
    np.testing.assert_array_equal(text, build_encoder("t", BOW).encode(ids, SENTENCES, "text_de"))
    np.testing.assert_array_equal(speech, build_encoder("s", FBANK).encode(ids, wavs, "speech_en"))
    kept, skipped = composite.encode_skipping(ids, SENTENCES, "text_en")  # a part without encode_skipping
    assert skipped == {} and np.array_equal(kept, composite.encode(ids, SENTENCES, "text_en"))
    composite.check_view("speech_fr")
    with pytest.raises(FlipInputError, match=r"'mix.speech' \(bow_projection\) encodes text views only"):
        build_encoder("mix", {**COMPOSITE, "speech": BOW}).check_view("speech_en")
    provenance = composite.provenance()
    assert provenance["text.model_id"] == "control:bow_projection"
    assert provenance["speech.model_id"] == "control:fbank_projection"
    assert provenance["model_id"] == "composite:control:bow_projection|control:fbank_projection"


def test_composite_config_errors_name_the_key():
    with pytest.raises(FlipInputError, match=r"encoders\.mix\.speech: dimension 128 differs .* encoders\.mix\.text"):
        build_encoder("mix", {**COMPOSITE, "speech": {**FBANK, "dim": 128}})
    with pytest.raises(FlipInputError, match=r"encoders\.mix\.speech: expected an encoder config"):
        build_encoder("mix", {"family": "composite", "text": BOW, "speech": "fbank"})
    with pytest.raises(FlipInputError, match=r"encoders\.mix\.text\.family: unknown family 'nope'"):
        build_encoder("mix", {**COMPOSITE, "text": {"family": "nope"}})


# --- stand-in corpora ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def standins(tmp_path_factory, tatoeba_dir) -> tuple[dict[str, dict], dict]:
    """The stand-in corpora written and built as ``flip corpus`` builds them."""
    if not espeak_available():
        pytest.fail("espeak-ng is missing: apt-get install espeak-ng (setup.sh does)")
    root = tmp_path_factory.mktemp("standins")
    entries = write_standin_corpora(root / "data", tatoeba_dir, tuple(SIZES.values()))
    for name, spec in entries.items():
        corpus_stage(name, spec, root / "corpora" / name, root)
    return entries, root / "corpora"


def test_standin_corpora_have_the_papers_names_and_views(standins):
    entries, built = standins
    bitexts = [f"{source}_en_{lang}" for source, (_, langs) in BITEXTS.items() for lang in langs]
    assert list(entries) == ["mcv15_en", *bitexts]
    assert bitexts == ["europarl_en_de", "europarl_en_fr", "samanantar_en_bn", "samanantar_en_hi",
                       "samanantar_en_ta", "samanantar_en_te"]
    for name, spec in entries.items():
        views = ["text_en", "speech_en"] if name == "mcv15_en" else [f"text_{lang}" for lang in spec["languages"]]
        for split in SIZES:
            columns = pq.read_schema(built / name / f"{split}.parquet").names
            assert [c for c in columns if c.startswith(("text_", "speech_"))] == views, (name, split, columns)


def test_standin_common_voice_is_spoken_tatoeba(standins):
    entries, built = standins
    spec = entries["mcv15_en"]
    info = json.loads((built / "mcv15_en" / "info.json").read_text())
    assert info["rows"] == SIZES
    texts = {}
    for split, size in SIZES.items():
        _, paths = read_view(built / "mcv15_en" / f"{split}.parquet", "speech_en")
        _, texts[split] = read_view(built / "mcv15_en" / f"{split}.parquet", "text_en")
        assert all(p.startswith(spec["root"] + "/en/clips/") and p.endswith(".wav") for p in paths)
        assert all(audio_duration(p) > 0.3 for p in paths[:5])
        _, rows = read_tsv(Path(spec["root"]) / "en" / f"{split}.tsv", ("path", "sentence"))
        assert len(rows) == size
    assert len({t for split in texts.values() for t in split}) == sum(SIZES.values())  # distinct across splits


def test_standin_bitexts_split_the_tatoeba_pairs(standins, tatoeba_dir):
    entries, built = standins
    for name, spec in entries.items():
        if name == "mcv15_en":
            continue
        info = json.loads((built / name / "info.json").read_text())
        expected = {"train": min(SIZES["train"], info["rows_usable"] - 80), "dev": 40, "test": 40}
        assert info["rows"] == expected, name
        other = spec["languages"][1]
        code3 = BITEXTS[spec["source"]][1][other]
        source = (tatoeba_dir / f"tatoeba.{code3}-eng.{code3}").read_text(encoding="utf-8").split("\n")
        ids, texts = read_view(built / name / "dev.parquet", f"text_{other}")
        for row_id, text in zip(ids, texts):
            assert text == source[int(row_id.rsplit("-", 1)[1])].strip(), (name, row_id)
    assert json.loads((built / "samanantar_en_te" / "info.json").read_text())["rows"]["train"] < SIZES["train"]


def test_composite_embeds_both_views_of_the_standin_speech_corpus(standins, tmp_path):
    """A paper run embeds the text and the speech view of one corpus with one encoder name."""
    _, built = standins
    composite = build_encoder("mix", COMPOSITE)
    table = built / "mcv15_en" / "dev.parquet"
    for view in ("text_en", "speech_en"):
        info = embed_stage(table, view, "mix", COMPOSITE, tmp_path / view, shard_rows=16, encoder=composite)
        assert info["dim"] == 384 and "skipped" not in info
        embeddings = ViewEmbeddings(tmp_path / view)
        ids, inputs = read_view(table, view)
        assert list(embeddings.ids) == ids
        # atol: on AMX CPUs a batch of 3 and one of 16 differ by up to 5e-6 (kernel choice, not padding)
        np.testing.assert_allclose(embeddings.read_rows(0, 3), composite.encode(ids[:3], inputs[:3], view),
                                   rtol=1e-5, atol=1e-5)
