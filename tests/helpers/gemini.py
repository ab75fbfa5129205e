"""A loopback HTTP server that speaks the Gemini API's ``batchEmbedContents`` route.

``POST /v1/models/{model}:batchEmbedContents`` (or ``/v1beta/…``) with ``x-goog-api-key`` and
``{"requests": [{"model": "models/…", "content": {"parts": [{"text": …}]},
"outputDimensionality": d, "taskType": …}, …]}`` answers ``{"embeddings": [{"values":
[…]}, …]}`` (the Gemini Developer API shapes the google-genai client sends and parses).
A seeded share of calls fails with 429 (with a ``Retry-After`` header or a
``google.rpc.RetryInfo`` body) or 500/503, as the real service does under load.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

ROUTE = re.compile(r"^/v1(?:beta)?/models/(?P<model>[^/:]+):batchEmbedContents$")


def fake_vector(model: str, text: str, dim: int, task: str | None) -> list[float]:
    """The vector the fake service returns: a pure function of its inputs."""
    seed = int.from_bytes(hashlib.sha256(f"{model}\0{dim}\0{task}\0{text}".encode()).digest()[:8], "little")
    return np.random.default_rng(seed).standard_normal(dim).astype(np.float32).round(6).tolist()


class FakeGemini:
    """Run with ``with FakeGemini(key, failure_rate=0.3) as server: …server.base_url…``.

    Attributes:
        calls: every request received (including failed and rejected ones).
        served: texts answered successfully, counted per text.
        failures: answers that were injected errors, by status code.
    """

    def __init__(self, api_key: str, failure_rate: float = 0.0, seed: int = 0, max_batch: int = 100):
        self.api_key, self.failure_rate, self.max_batch = api_key, failure_rate, max_batch
        self.outage_after: int | None = None  # after this many successful calls, every call answers 503
        self.successes = 0
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.calls = 0
        self.served: Counter[str] = Counter()
        self.failures: Counter[int] = Counter()
        self.rejected: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def _answer(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):  # noqa: N802 (http.server naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                fake.handle(self, body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def handle(self, handler, body: bytes) -> None:
        with self.lock:
            self.calls += 1
            roll = self.random.random()
            kind = self.random.choice(["429-header", "429-retryinfo", "500", "503"])
        match = ROUTE.match(handler.path.split("?")[0])
        if not match:
            self.rejected.append(f"route {handler.path}")
            return handler._answer(404, {"error": {"code": 404, "message": "not found", "status": "NOT_FOUND"}})
        if handler.headers.get("x-goog-api-key") != self.api_key:
            self.rejected.append("key")
            return handler._answer(
                400, {"error": {"code": 400, "message": "API key not valid", "status": "INVALID_ARGUMENT"}}
            )
        requests = json.loads(body)["requests"]
        if len(requests) > self.max_batch:
            self.rejected.append(f"batch of {len(requests)}")
            return handler._answer(400, {"error": {"code": 400, "message": "too many", "status": "INVALID_ARGUMENT"}})
        if self.outage_after is not None and self.successes >= self.outage_after:
            with self.lock:
                self.failures[503] += 1
            return handler._answer(503, {"error": {"code": 503, "message": "down", "status": "UNAVAILABLE"}})
        if roll < self.failure_rate:
            code = int(kind[:3])
            with self.lock:
                self.failures[code] += 1
            if kind == "429-header":
                error = {"code": 429, "message": "Resource exhausted", "status": "RESOURCE_EXHAUSTED"}
                return handler._answer(429, {"error": error}, {"Retry-After": "0"})
            if kind == "429-retryinfo":
                info = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "0.01s"}
                error = {"code": 429, "message": "Quota exceeded", "status": "RESOURCE_EXHAUSTED", "details": [info]}
                return handler._answer(429, {"error": error})
            status = "INTERNAL" if code == 500 else "UNAVAILABLE"
            return handler._answer(code, {"error": {"code": code, "message": "try again", "status": status}})
        model = match.group("model")
        embeddings = []
        for request in requests:
            text = "".join(part.get("text", "") for part in request["content"]["parts"])
            dim = int(request.get("outputDimensionality", 3072))
            embeddings.append({"values": fake_vector(model, text, dim, request.get("taskType"))})
        with self.lock:
            self.successes += 1
            self.served.update(
                "".join(p.get("text", "") for p in r["content"]["parts"]) for r in requests
            )
        handler._answer(200, {"embeddings": embeddings})

    def __enter__(self) -> FakeGemini:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
