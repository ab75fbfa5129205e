"""Control encoders that calibrate the probe.

* :class:`BowProjection` (ceiling): a fixed random projection of the sentence's bag of
  words. Lexical content is linearly present by construction, so a good probe should
  recover nearly all of it.
* :class:`GaussianNoise` (floor): a random Gaussian vector per row id. It carries no
  information about the sentence, so a probe must score near chance on held-out rows.
"""

from __future__ import annotations

import hashlib

import numpy as np

from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.corpus_table import view_language, view_modality
from flip_pipeline.progress import advance
from flip_pipeline.text import Tokenizer, default_pattern

PROGRESS_ROWS = 1024  # the bag-of-words projection reports its progress every this many rows


def _stable_seed(key: str, seed: int) -> int:
    """A 64-bit seed from a string, identical across processes and platforms."""
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8, key=seed.to_bytes(8, "little")).digest()
    return int.from_bytes(digest, "little")


class BowProjection:
    """``embedding = Σ_t count(t) · v_t`` with ``v_t ~ N(0, I/d)`` fixed per token ``t``.

    Tokens come from the paper's tokeniser for the view's language; ``v_t`` is drawn
    from a generator seeded by a hash of the token, so no vocabulary is needed and the
    same token always maps to the same vector.
    """

    def __init__(self, name: str, dim: int, seed: int = 0):
        self.name, self.dim, self.seed = name, dim, seed
        self._vectors: dict[str, np.ndarray] = {}

    def check_view(self, view: str) -> None:
        if view_modality(view) != "text":
            raise FlipInputError(f"encoder {self.name!r} (bow_projection) encodes text views only, not {view!r}")

    def _vector(self, token: str) -> np.ndarray:
        vec = self._vectors.get(token)
        if vec is None:
            rng = np.random.default_rng(_stable_seed(token, self.seed))
            vec = (rng.standard_normal(self.dim) / np.sqrt(self.dim)).astype(np.float32)
            self._vectors[token] = vec
        return vec

    def encode(self, ids: list[str], inputs: list[str], view: str) -> np.ndarray:
        tokenizer = Tokenizer(default_pattern(view_language(view)))
        out = np.zeros((len(inputs), self.dim), dtype=np.float32)
        for row, text in enumerate(inputs):
            for token in tokenizer.tokens(text):
                out[row] += self._vector(token)
            if row % PROGRESS_ROWS == PROGRESS_ROWS - 1:
                advance(PROGRESS_ROWS)  # the stage's progress bar, if one is open
        advance(len(inputs) % PROGRESS_ROWS)
        return out

    def provenance(self) -> dict[str, str]:
        return {"model_id": "control:bow_projection", "revision": f"seed={self.seed}", "normalisation": "none"}


class GaussianNoise:
    """``embedding ~ N(0, I)`` drawn from a generator seeded by a hash of the row id."""

    def __init__(self, name: str, dim: int, seed: int = 0):
        self.name, self.dim, self.seed = name, dim, seed

    def check_view(self, view: str) -> None:
        """Every view is accepted: the input is ignored."""

    def encode(self, ids: list[str], inputs: list[str], view: str) -> np.ndarray:
        rows = [np.random.default_rng(_stable_seed(f"{view}\0{i}", self.seed)).standard_normal(self.dim) for i in ids]
        advance(len(ids))  # the stage's progress bar, if one is open (fast: one step a call)
        return np.asarray(rows, dtype=np.float32).reshape(len(ids), self.dim)

    def provenance(self) -> dict[str, str]:
        return {"model_id": "control:gaussian", "revision": f"seed={self.seed}", "normalisation": "none"}
