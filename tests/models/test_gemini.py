"""Gemini embeddings: the real google-genai client against a loopback server that speaks
the embedding endpoint and fails about 30% of calls with 429 / 500 / 503."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from helpers.gemini import FakeGemini, fake_vector

from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.corpus_table import write_corpus_table
from flip_pipeline.formats.shards import ViewEmbeddings
from flip_pipeline.models import build_encoder
from flip_pipeline.models.gemini import GeminiEncoder, cache_key, retry_hint_seconds

API_KEY = "AIzaSy-flip-test-7f3a9c1e5b2d-secret"
DIM = 64
N = 230


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, tatoeba_dir) -> tuple[Path, list[str]]:
    """The first N distinct English sentences of a Tatoeba pair, as a corpus table."""
    lines = (tatoeba_dir / "tatoeba.deu-eng.eng").read_text(encoding="utf-8").splitlines()
    texts = list(dict.fromkeys(line for line in lines if line.strip()))[:N]
    path = tmp_path_factory.mktemp("corpus") / "test.parquet"
    write_corpus_table(pa.table({"id": [f"t{i:04d}" for i in range(len(texts))], "text_en": texts}), path)
    return path, texts


def _spec(server: FakeGemini, cache: Path) -> dict:
    return {
        "family": "gemini", "dim": DIM, "task_type": "SEMANTIC_SIMILARITY", "batch_size": 10,
        "cache_dir": str(cache), "base_url": server.base_url,
        "initial_backoff_s": 0.01, "max_backoff_s": 0.05, "max_attempts": 12,
    }


def _flip_embed(corpus: Path, spec: dict, out: Path, log: Path, key: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("GEMINI_API_KEY", "GOOGLE_API_KEY")}
    if key is not None:
        env["GEMINI_API_KEY"] = key
    cmd = [sys.executable, "-m", "flip_pipeline.cli", "-v", "embed", "--name", "gemini", "--spec", json.dumps(spec),
           "--corpus-table", str(corpus), "--view", "text_en", "--out-dir", str(out), "--shard-rows", "50",
           "--device", "cpu"]
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as err:
        return subprocess.run(cmd, env=env, stdout=err, stderr=err, timeout=300)


def _assert_key_absent(*folders: Path) -> None:
    for folder in folders:
        for path in folder.rglob("*"):
            if path.is_file():
                assert API_KEY.encode() not in path.read_bytes(), f"the API key leaked into {path}"


def _assert_vectors(out: Path, texts: list[str]) -> None:
    view = ViewEmbeddings(out)
    assert list(view.ids) == [f"t{i:04d}" for i in range(len(texts))]
    got = view.read_rows(0, len(view))
    want = np.array([fake_vector("gemini-embedding-001", t, DIM, "SEMANTIC_SIMILARITY") for t in texts], np.float32)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
    assert view.metadata["model_id"] == "gemini-embedding-001"


def test_flip_embed_survives_rate_limits_and_server_errors_and_rerun_uses_cache(corpus, tmp_path):
    corpus_path, texts = corpus
    cache, out, logs = tmp_path / "cache", tmp_path / "out", tmp_path / "logs"
    with FakeGemini(API_KEY, failure_rate=0.3, seed=1) as server:
        result = _flip_embed(corpus_path, _spec(server, cache), out, logs / "run1.log", API_KEY)
        assert result.returncode == 0, (logs / "run1.log").read_text()
        assert not server.rejected
        assert sum(server.failures.values()) >= 5 and 429 in server.failures and max(server.failures) >= 500
        assert set(server.served) == set(texts)
        assert set(server.served.values()) == {1}, "a text was requested successfully more than once"
        _assert_vectors(out, texts)
        manifest = json.loads((out / "_SUCCESS").read_text())
        assert manifest["rows"] == len(texts) and "skipped" not in manifest

        # A rerun into a fresh folder is served from the cache: no request at all, no key needed.
        calls = server.calls
        result = _flip_embed(corpus_path, _spec(server, cache), tmp_path / "out2", logs / "run2.log", None)
        assert result.returncode == 0, (logs / "run2.log").read_text()
        assert server.calls == calls
        _assert_vectors(tmp_path / "out2", texts)
    assert "retry" in (logs / "run1.log").read_text()
    _assert_key_absent(out, tmp_path / "out2", logs, cache)


def test_a_crash_mid_run_does_not_pay_twice(corpus, tmp_path):
    corpus_path, texts = corpus
    cache, out, logs = tmp_path / "cache", tmp_path / "out", tmp_path / "logs"
    with FakeGemini(API_KEY, failure_rate=0.0) as server:
        server.outage_after = 8  # 8 batches of 10 succeed, then the service is down
        spec = {**_spec(server, cache), "max_attempts": 3}
        result = _flip_embed(corpus_path, spec, out, logs / "run1.log", API_KEY)
        assert result.returncode == 2
        assert "still failing after 3 attempts" in (logs / "run1.log").read_text()
        assert sum(server.served.values()) == 80
        server.outage_after = None
        result = _flip_embed(corpus_path, spec, out, logs / "run2.log", API_KEY)
        assert result.returncode == 0, (logs / "run2.log").read_text()
        assert set(server.served) == set(texts) and set(server.served.values()) == {1}
    _assert_vectors(out, texts)
    _assert_key_absent(out, logs, cache)


def test_in_process_batching_dedup_and_errors(tmp_path, monkeypatch):
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    monkeypatch.setenv("GEMINI_API_KEY", API_KEY)
    with FakeGemini(API_KEY, failure_rate=0.0, max_batch=3) as server:
        spec = {"family": "gemini", "dim": 8, "batch_size": 3, "cache_dir": str(tmp_path), "base_url": server.base_url}
        encoder = build_encoder("g", spec)
        assert isinstance(encoder, GeminiEncoder)
        texts = ["a b", "c d", "a b", "e f", "g h"]
        out = encoder.encode(list("12345"), texts, "text_en")
        assert out.shape == (5, 8) and out.dtype == np.float32
        np.testing.assert_array_equal(out[0], out[2])
        assert server.calls == 2 and sum(server.served.values()) == 4  # duplicates requested once
        with pytest.raises(FlipInputError, match="text views only"):
            encoder.check_view("speech_en")

    monkeypatch.setenv("GEMINI_API_KEY", "wrong-key")
    with FakeGemini(API_KEY) as server:
        encoder = GeminiEncoder("g", dim=8, cache_dir=tmp_path / "c2", base_url=server.base_url)
        with pytest.raises(FlipInputError, match="400") as err:
            encoder.encode(["1"], ["x"], "text_en")
        assert "wrong-key" not in str(err.value)

    with FakeGemini(API_KEY) as server:
        closed_port = server.base_url  # nothing listens there once the server is gone
    encoder = GeminiEncoder("g", dim=8, cache_dir=tmp_path / "c4", base_url=closed_port, max_attempts=2,
                            initial_backoff_s=0.01)
    with pytest.raises(FlipInputError, match="still failing after 2 attempts .last: ConnectError"):
        encoder.encode(["1"], ["x"], "text_en")

    monkeypatch.delenv("GEMINI_API_KEY")
    encoder = GeminiEncoder("g", dim=8, cache_dir=tmp_path / "c3")
    with pytest.raises(FlipInputError, match="GEMINI_API_KEY or GOOGLE_API_KEY"):
        encoder.encode(["1"], ["x"], "text_en")


def test_cache_key_and_retry_hints():
    assert cache_key("m", 8, None, "x") != cache_key("m", 16, None, "x") != cache_key("m", 8, "T", "x")

    class Response:
        def __init__(self, headers):
            self.headers = headers

    class Error(Exception):
        def __init__(self, headers, details):
            self.response, self.details = Response(headers), details

    assert retry_hint_seconds(Error({"retry-after": "7"}, {})) == 7.0
    info = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1.5s"}
    assert retry_hint_seconds(Error({}, {"error": {"details": [info]}})) == 1.5
    assert retry_hint_seconds(Error({}, {"error": {"message": "x"}})) is None


@pytest.mark.parametrize("url", [
    "not a url", "htp:/x", "generativelanguage.googleapis.com", "https://", "http://:8080/", "ftp://127.0.0.1/",
    "http://127.0.0.1:99999/", "http://127.0.0.1:port/", "http://local host/", "",
])
def test_a_malformed_base_url_is_named_when_the_encoder_is_built(tmp_path, url):
    spec = {"family": "gemini", "dim": 8, "cache_dir": str(tmp_path / "cache"), "base_url": url}
    with pytest.raises(FlipInputError) as err:
        build_encoder("g", spec)
    assert str(err.value).startswith(f"encoders.g.base_url: {url!r} is not an http(s) URL with a host")
    assert not (tmp_path / "cache").exists()  # refused before anything was made


def test_well_formed_base_urls_are_accepted(tmp_path):
    for url in ("http://127.0.0.1:8080/", "https://localhost/v1beta/", "http://[::1]:9/"):
        assert build_encoder("g", {"family": "gemini", "cache_dir": str(tmp_path), "base_url": url}).base_url == url
