"""Gemini embeddings (``gemini-embedding-001`` by default) through the google-genai client.

Texts go to the API in batches (one ``batchEmbedContents`` call per ``batch_size`` texts).
Every vector that comes back is stored at once in a persistent per-text cache, so neither
a rerun nor a crash pays for a text twice. Rate-limit (429) and server (5xx) answers, and
dropped connections, are retried with exponential backoff that honours the server's retry
hint (``Retry-After`` header or ``google.rpc.RetryInfo`` in the error body).

The API key comes from the environment only (``GEMINI_API_KEY``, else ``GOOGLE_API_KEY``);
it is handed to the client and never logged, cached, or written into shard metadata.
A run whose texts are all cached needs no key at all.
"""

from __future__ import annotations

import email.utils
import hashlib
import importlib
import importlib.metadata
import logging
import os
import random
import re
import sqlite3
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.corpus_table import view_modality
from flip_pipeline.progress import advance

log = logging.getLogger(__name__)

API_KEY_VARIABLES = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
DEFAULT_MODEL = "gemini-embedding-001"
DEFAULT_CACHE_DIR = "~/.cache/flip-pipeline/gemini"
CACHE_FILE = "embeddings.sqlite"
RETRYABLE = frozenset({408, 429}) | frozenset(range(500, 600))


def cache_key(model: str, dim: int, task_type: str | None, text: str) -> str:
    """sha256 of everything that determines the vector: model, dimension, task type, text."""
    blob = "\0".join([model, str(dim), task_type or "", text]).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()


class EmbeddingCache:
    """A durable ``key → float32 vector`` store in one SQLite file.

    SQLite commits are atomic and, with ``synchronous=FULL``, durable: a crash loses at
    most the batch that was in flight. Several processes (parallel Snakemake jobs) may
    share one cache; SQLite serialises their writes.
    """

    def __init__(self, folder: str | os.PathLike[str]):
        self.path = Path(folder).expanduser() / CACHE_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self.path, timeout=120, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("CREATE TABLE IF NOT EXISTS embeddings (key TEXT PRIMARY KEY, vector BLOB NOT NULL)")
            self._db.commit()
        except sqlite3.Error as err:
            raise FlipInputError(f"{self.path}: cannot open the Gemini embedding cache: {err}") from None

    def get_many(self, keys: Iterable[str], dim: int) -> dict[str, np.ndarray]:
        """The cached vectors among ``keys`` (of length ``dim``; others are ignored)."""
        found: dict[str, np.ndarray] = {}
        keys = list(dict.fromkeys(keys))
        with self._lock:
            for lo in range(0, len(keys), 500):
                chunk = keys[lo : lo + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(f"SELECT key, vector FROM embeddings WHERE key IN ({marks})", chunk)
                for key, blob in rows:
                    vec = np.frombuffer(blob, dtype="<f4")
                    if vec.shape == (dim,):
                        found[key] = vec
        return found

    def put_many(self, items: dict[str, np.ndarray]) -> None:
        """Store vectors in one transaction (all or nothing)."""
        rows = [(k, np.asarray(v, dtype="<f4").tobytes()) for k, v in items.items()]
        with self._lock, self._db:
            self._db.executemany("INSERT OR REPLACE INTO embeddings (key, vector) VALUES (?, ?)", rows)

    def close(self) -> None:
        self._db.close()


def retry_hint_seconds(error: Exception) -> float | None:
    """The server's retry hint in seconds: ``Retry-After`` header, else ``RetryInfo.retryDelay``."""
    response = getattr(error, "response", None)
    headers = getattr(response, "headers", None)
    value = headers.get("retry-after") if headers is not None else None
    if value:
        value = value.strip()
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(value)
                return max(0.0, when.timestamp() - time.time())
            except (TypeError, ValueError):
                pass
    details = getattr(error, "details", None)
    if isinstance(details, dict):
        body = details.get("error", details)
        for item in body.get("details", []) if isinstance(body, dict) else []:
            if isinstance(item, dict) and str(item.get("@type", "")).endswith("google.rpc.RetryInfo"):
                match = re.fullmatch(r"\s*([0-9.]+)s\s*", str(item.get("retryDelay", "")))
                if match:
                    return float(match.group(1))
    return None


def check_base_url(name: str, value: object) -> None:
    """``encoders.<name>.base_url`` is an ``http``/``https`` URL with a host (and a valid port, if any).

    Checked when the encoder is built: a malformed endpoint would otherwise fail every call
    as a connection error and be retried as if the service were down.
    """
    if not _is_http_url(value):
        raise FlipInputError(f"encoders.{name}.base_url: {value!r} is not an http(s) URL with a host, "
                             "e.g. https://generativelanguage.googleapis.com/")


def _is_http_url(value: object) -> bool:
    """``http://host[:port]/…`` or ``https://…``, without whitespace."""
    if not isinstance(value, str) or any(c.isspace() for c in value):
        return False
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 (raises ValueError for a port that is not a number in 0–65535)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _transport_errors() -> tuple[type[BaseException], ...]:
    """Connection-level failures worth a retry, for whichever HTTP library the client uses."""
    classes: list[type[BaseException]] = [ConnectionError, TimeoutError]
    for module in ("httpx", "httpx2"):
        try:
            classes.append(importlib.import_module(module).TransportError)
        except (ImportError, AttributeError):
            continue
    return tuple(classes)


class GeminiEncoder:
    """Gemini text embeddings with batching, retries and a persistent cache.

    Args:
        name: config name (``encoders.<name>``).
        model: Gemini embedding model id.
        dim: ``output_dimensionality`` requested from the API (768, 1536, 3072, …).
        task_type: e.g. ``SEMANTIC_SIMILARITY``, ``RETRIEVAL_DOCUMENT``; ``None``: the API default.
        batch_size: texts per ``batchEmbedContents`` call (the API takes at most 100).
        normalize: L2-normalise vectors (Gemini normalises only its full 3072-d output).
        cache_dir: folder of the SQLite cache.
        base_url: API endpoint, an http(s) URL (default: the public Gemini API).
        max_attempts: tries per batch before giving up on 429/5xx/connection errors.
        initial_backoff_s, max_backoff_s: exponential backoff without a server hint.
        timeout_s: HTTP timeout per call.
    """

    def __init__(
        self,
        name: str,
        model: str = DEFAULT_MODEL,
        dim: int = 768,
        task_type: str | None = None,
        batch_size: int = 100,
        normalize: bool = False,
        cache_dir: str | os.PathLike[str] = DEFAULT_CACHE_DIR,
        base_url: str | None = None,
        max_attempts: int = 10,
        initial_backoff_s: float = 1.0,
        max_backoff_s: float = 120.0,
        timeout_s: float = 120.0,
    ):
        if base_url is not None:
            check_base_url(name, base_url)
        self.name, self.model_id, self.dim, self.task_type = name, model, int(dim), task_type
        self.batch_size, self.normalize, self.base_url = batch_size, normalize, base_url
        self.max_attempts, self.initial_backoff_s, self.max_backoff_s = max_attempts, initial_backoff_s, max_backoff_s
        self.timeout_s = timeout_s
        self.cache = EmbeddingCache(cache_dir)
        self._client = None
        self._random = random.Random()
        self.stats = {"cached": 0, "requested": 0, "calls": 0, "retries": 0}
        log.info(
            "encoder %s: Gemini %s, d=%d, task %s, batch %d, cache %s",
            name, model, self.dim, task_type or "default", batch_size, self.cache.path,
        )

    def check_view(self, view: str) -> None:
        if view_modality(view) != "text":
            raise FlipInputError(f"encoder {self.name!r} (gemini) encodes text views only, not {view!r}")

    def _get_client(self):
        if self._client is None:
            from google import genai
            from google.genai import types

            key = next((os.environ[v] for v in API_KEY_VARIABLES if os.environ.get(v)), None)
            if key is None:
                raise FlipInputError(
                    f"encoder {self.name!r}: set {' or '.join(API_KEY_VARIABLES)} in the environment "
                    "(the key is read from there only)"
                )
            options = types.HttpOptions(timeout=int(self.timeout_s * 1000))
            if self.base_url:
                options.base_url = self.base_url
            self._client = genai.Client(api_key=key, http_options=options)
        return self._client

    def _backoff(self, attempt: int, hint: float | None) -> float:
        if hint is not None:
            return min(hint, self.max_backoff_s)
        ceiling = min(self.max_backoff_s, self.initial_backoff_s * 2**attempt)
        return ceiling * (0.5 + 0.5 * self._random.random())

    def _request(self, texts: list[str]) -> np.ndarray:
        """One ``batchEmbedContents`` call with retries → ``(len(texts), dim)`` float32."""
        from google.genai import errors, types

        client = self._get_client()
        config = types.EmbedContentConfig(output_dimensionality=self.dim, task_type=self.task_type)
        for attempt in range(self.max_attempts):
            self.stats["calls"] += 1
            try:
                response = client.models.embed_content(model=self.model_id, contents=texts, config=config)
            except errors.APIError as err:
                if err.code not in RETRYABLE:
                    raise FlipInputError(
                        f"encoder {self.name!r}: Gemini {self.model_id} answered {err.code} {err.status}: {err.message}"
                    ) from None
                reason, hint = f"HTTP {err.code} {err.status or ''}".strip(), retry_hint_seconds(err)
            except _transport_errors() as err:
                reason, hint = f"{type(err).__name__}", None
            else:
                vectors = [e.values or [] for e in response.embeddings or []]
                if len(vectors) != len(texts) or any(len(v) != self.dim for v in vectors):
                    shapes = sorted({len(v) for v in vectors})
                    raise FlipInputError(
                        f"encoder {self.name!r}: Gemini returned {len(vectors)} vectors of sizes {shapes} "
                        f"for {len(texts)} texts; expected dimension {self.dim}"
                    )
                return np.asarray(vectors, dtype=np.float32)
            if attempt + 1 == self.max_attempts:
                break
            delay = self._backoff(attempt, hint)
            self.stats["retries"] += 1
            log.warning("gemini: %s on a batch of %d texts; retry %d in %.2f s", reason, len(texts), attempt + 1, delay)
            time.sleep(delay)
        raise FlipInputError(
            f"encoder {self.name!r}: Gemini {self.model_id} still failing after {self.max_attempts} attempts "
            f"(last: {reason}); rerun later: finished texts are cached"
        )

    def encode(self, ids: list[str], inputs: list[str], view: str) -> np.ndarray:
        keys = [cache_key(self.model_id, self.dim, self.task_type, text) for text in inputs]
        found = self.cache.get_many(keys, self.dim)
        missing: dict[str, str] = {}
        for key, text in zip(keys, inputs):
            if key not in found and key not in missing:
                missing[key] = text
        self.stats["cached"] += len(inputs) - sum(1 for k in keys if k in missing)
        todo = list(missing.items())
        advance(len(inputs) - len(todo))  # the stage's progress bar, if one is open: the cached rows at once
        for lo in range(0, len(todo), self.batch_size):
            batch = todo[lo : lo + self.batch_size]
            vectors = self._request([text for _, text in batch])
            fresh = {key: vec for (key, _), vec in zip(batch, vectors)}
            self.cache.put_many(fresh)  # durable before we move on: a crash does not pay twice
            found.update(fresh)
            self.stats["requested"] += len(batch)
            advance(len(batch))
        if todo:
            log.info("gemini: %d texts requested, %d from cache", len(todo), len(inputs) - len(todo))
        out = np.stack([found[k] for k in keys]).astype(np.float32) if keys else np.empty((0, self.dim), np.float32)
        if self.normalize:
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out

    def provenance(self) -> dict[str, str]:
        return {
            "model_id": self.model_id,
            "revision": f"output_dimensionality={self.dim};task_type={self.task_type or 'default'}",
            "normalisation": "l2" if self.normalize else "none",
            "google_genai": importlib.metadata.version("google-genai"),
        }
