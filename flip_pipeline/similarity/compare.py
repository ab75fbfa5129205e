"""One comparison of two sets of sentence representations: every method, its chance, null and interval.

:func:`compare` takes two sets ``(n, d_a)``, ``(n, d_b)`` whose row ``i`` is the same
sentence and returns one record per method. SVCCA and PWCCA see the SVD-reduced sets
(:mod:`.reduce`), CKA the centred sets themselves (CKA needs no reduction and is not
changed by an orthogonal one); ``reduced_a``/``reduced_b`` are the dimensions the method
saw: each set's own (the share ``variance`` of it), or dimensions given by the caller (the
cross-lingual analyses' shared ones, :mod:`flip_pipeline.stages.shared_dimensions`). Chance
levels depend only on ``(method, n, dims)`` and are drawn from a seed made of those, so equal
sizes get equal chance levels wherever they occur, and a :class:`ChanceCache` computes each
one once. The resampled scores (``resamples``) come from resamples of the sentence *ids*
(:func:`~flip_pipeline.similarity.null.poisson_weights`), the same for every method and every
comparison holding an id, so the report can pair them across layers.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from flip_pipeline.errors import FlipInputError
from flip_pipeline.similarity.analysis_settings import METHOD_NAMES, SimilaritySettings
from flip_pipeline.similarity.cca import Whitened, pwcca, svcca, whiten
from flip_pipeline.similarity.cka import centred_gram, debiased_cka, linear_cka
from flip_pipeline.similarity.null import (
    bootstrap_draws,
    gaussian_chance,
    percentile_interval,
    permutation_null,
    poisson_weights,
)
from flip_pipeline.similarity.reduce import svd_reduce

log = logging.getLogger("flip.similarity")

RECORD_FIELDS = ("method", "score", "chance", "chance_sd", "null_mean", "null_p95", "p_value", "ci_low", "ci_high",
                 "n", "dim_a", "dim_b", "reduced_a", "reduced_b", "resamples")
MIN_ROWS = 4  # debiased CKA's estimator needs n ≥ 4


@dataclass(frozen=True)
class Method:
    """A similarity score as the null machinery needs it.

    Attributes:
        reduced: whether it sees the SVD-reduced sets (else the centred sets).
        prepare: ``(set (n, k), epsilon) → prepared`` (whitened set or centred Gram).
        score: ``(prepared a, prepared b) → float``.
        reorder: ``(prepared, row order (n,)) → prepared`` with its rows reordered.
    """

    reduced: bool
    prepare: Callable[[np.ndarray, float], Any]
    score: Callable[[Any, Any], float]
    reorder: Callable[[Any, np.ndarray], Any]


def _gram(x: np.ndarray, epsilon: float) -> np.ndarray:
    return centred_gram(x)


def _reorder_gram(gram: np.ndarray, order: np.ndarray) -> np.ndarray:
    return gram[np.ix_(order, order)]


METHODS: dict[str, Method] = {
    "svcca": Method(True, whiten, svcca, Whitened.rows),
    "pwcca": Method(True, whiten, pwcca, Whitened.rows),
    "linear_cka": Method(False, _gram, linear_cka, _reorder_gram),
    "debiased_cka": Method(False, _gram, debiased_cka, _reorder_gram),
}
assert tuple(METHODS) == METHOD_NAMES


class ChanceCache(dict):
    """``(method, n, dim_a, dim_b, draws, epsilon, seed) → (mean, sd)``: share it between the
    comparisons of one run."""


def _rng(seed: int, *parts: object) -> np.random.Generator:
    """A generator seeded by ``seed`` and ``parts`` (hashed as text): independent of call order."""
    return np.random.default_rng([seed, *(zlib.crc32(str(p).encode()) for p in parts)])


def check_pair(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str, ids_a=None, ids_b=None) -> None:
    """Two sets can be compared: 2-D, the same number ``n ≥ 4`` of rows and, when ids are
    given, the same ids in the same order; else an error naming both."""
    for x, name in ((a, name_a), (b, name_b)):
        if x.ndim != 2:
            raise FlipInputError(f"{name}: representations must be a 2-D (sentences, features) array, "
                                 f"got shape {x.shape}")
    if len(a) != len(b):
        raise FlipInputError(f"{name_a} has {len(a)} sentences but {name_b} has {len(b)}; "
                             "compare sets of the same sentences")
    if ids_a is not None and ids_b is not None:
        ids_a, ids_b = np.asarray(ids_a), np.asarray(ids_b)
        if len(ids_a) != len(a) or len(ids_b) != len(b):
            raise FlipInputError(f"{name_a}, {name_b}: as many ids as rows are needed")
        if not np.array_equal(ids_a, ids_b):
            row = int(np.argmax(ids_a != ids_b))
            raise FlipInputError(f"{name_a} and {name_b} differ in ids at row {row} "
                                 f"({str(ids_a[row])!r} vs {str(ids_b[row])!r}); rows must be the same sentences")
    if len(a) < MIN_ROWS:
        raise FlipInputError(f"{name_a}, {name_b}: {len(a)} sentences; at least {MIN_ROWS} are needed")


def compare(a: np.ndarray, b: np.ndarray, settings: SimilaritySettings, name_a: str = "a", name_b: str = "b",
            ids_a=None, ids_b=None, chance_cache: ChanceCache | None = None,
            dims: tuple[int, int] | None = None) -> list[dict[str, Any]]:
    """Every method of ``settings`` on the sets ``a`` ``(n, d_a)`` and ``b`` ``(n, d_b)``.

    Returns one record per method with the keys :data:`RECORD_FIELDS`: the score; the
    Gaussian chance level (mean and sd, at the dimensions the method sees); the
    permutation null (mean, 95th percentile, p-value); the bootstrap percentile interval
    ``ci_low``..``ci_high`` and the ``resamples`` behind it (``bootstrap`` scores, one per
    resample of the sentence ids ``ids_a``, or of the row positions without ids), NaN and
    empty (with a warning) where ``n < min_ratio ×`` the largest dimension a method sees (see
    :mod:`.null`); ``n``, the raw and the seen dimensions. ``dims``: the reduced dimensions
    of ``a`` and ``b`` for SVCCA/PWCCA instead of each set's own. Statistics with zero draws
    are NaN. ``name_a``/``name_b`` label errors, the warning and the draws' seeds.

    Raises:
        FlipInputError: different ``n`` or ids, ``n < 4``, a set without variance, or a
            reduced dimension ``k ≥ n - 1`` (CCA of ``k`` directions in the ``n - 1``
            dimensions of ``n`` centred sentences is 1 by construction).
    """
    a, b = np.asarray(a), np.asarray(b)
    check_pair(a, b, name_a, name_b, ids_a, ids_b)
    n = len(a)
    cache = ChanceCache() if chance_cache is None else chance_cache
    inputs = {False: (a, b)}
    if any(METHODS[m].reduced for m in settings.methods):
        inputs[True] = tuple(svd_reduce(x, settings.variance, settings.variance_convention, name, k)
                             for x, name, k in zip((a, b), (name_a, name_b), dims or (None, None)))
        for x, name in zip(inputs[True], (name_a, name_b)):
            if x.shape[1] >= n - 1:
                raise FlipInputError(
                    f"{name}: {n} sentences (n - 1 = {n - 1} dimensions once centred) are not more than its "
                    f"reduced dimension {x.shape[1]} ({settings.variance:g} of the variance, "
                    f"{settings.variance_convention}{', shared' if dims else ''}); CCA would be 1 by construction: "
                    "give more sentences or a lower variance")
    largest = max(x.shape[1] for pair in inputs.values() for x in pair)
    small = n < settings.min_ratio * largest
    if small:
        log.warning("%s vs %s: %d sentences for dimension %d (ratio %.2f < min_ratio %g): scores of independent "
                    "sets are far from 0 here (read each beside its chance level and null), and the bootstrap "
                    "interval, biased by repeated sentences, is left out", name_a, name_b, n, largest, n / largest,
                    settings.min_ratio)
    ids = [str(i) for i in (range(n) if ids_a is None else ids_a)]
    weights = None if small or settings.bootstrap == 0 else poisson_weights(ids, settings.bootstrap, settings.seed)
    return [_one_method(name, *inputs[METHODS[name].reduced], settings, cache, f"{name_a}|{name_b}", weights)
            | {"dim_a": a.shape[1], "dim_b": b.shape[1]} for name in settings.methods]


def _one_method(name: str, x: np.ndarray, y: np.ndarray, settings: SimilaritySettings, cache: ChanceCache,
                label: str, weights: np.ndarray | None) -> dict[str, Any]:
    method = METHODS[name]
    eps = settings.epsilon
    n, (dim_x, dim_y) = len(x), (x.shape[1], y.shape[1])

    def score_sets(u: np.ndarray, v: np.ndarray) -> float:
        return method.score(method.prepare(u, eps), method.prepare(v, eps))

    px, py = method.prepare(x, eps), method.prepare(y, eps)
    observed = method.score(px, py)
    key = (name, n, dim_x, dim_y, settings.chance_draws, eps, settings.seed)
    if key not in cache:
        cache[key] = gaussian_chance(score_sets, n, dim_x, dim_y, settings.chance_draws,
                                     _rng(settings.seed, "chance", *key))
    chance, chance_sd = cache[key]
    null_mean, null_p95, p_value = permutation_null(lambda order: method.score(px, method.reorder(py, order)), n,
                                                    observed, settings.permutations,
                                                    _rng(settings.seed, "permutation", name, label))
    draws = np.zeros(0) if weights is None else bootstrap_draws(lambda rows: score_sets(x[rows], y[rows]), weights,
                                                                MIN_ROWS)
    ci_low, ci_high = percentile_interval(draws, settings.interval)
    return {"method": name, "score": observed, "chance": chance, "chance_sd": chance_sd, "null_mean": null_mean,
            "null_p95": null_p95, "p_value": p_value, "ci_low": ci_low, "ci_high": ci_high, "n": n,
            "reduced_a": dim_x, "reduced_b": dim_y, "resamples": draws.astype(np.float32).tolist()}
