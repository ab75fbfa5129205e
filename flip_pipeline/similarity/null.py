"""What a score means at its size: chance level, permutation null, bootstrap interval and paired change.

All three take the score as a function, so one code path serves every method.

* :func:`gaussian_chance`: the score of independent standard-Gaussian sets of the same
  ``n`` and the dimensions the method itself sees — for SVCCA/PWCCA the *reduced*
  dimensions ``(k_a, k_b)``, given straight to CCA, for CKA the raw ones. CCA of reduced
  sets depends only on the two spans in ``R^n``; a Gaussian ``(n, k)`` spans a uniformly
  random ``k``-dimensional subspace, so the chance level is a function of ``(n, k_a, k_b)``
  alone: at ``n = 251``, ``k_a = k_b = 190`` it is 0.82 (also what independent
  ``(251, 1024)`` Gaussians score through the whole procedure with the ``"squared"``
  convention, which reduces them to 191). Reducing the Gaussians from the raw
  dimensions instead would give the noise's own reduced dimensions, not the data's.
* :func:`permutation_null`: the score after shuffling the rows of one set, which breaks
  the sentence pairing and keeps each set's own spectrum; p-value
  ``(1 + #{null ≥ score}) / (1 + permutations)``.
* :func:`poisson_weights`, :func:`bootstrap_draws`, :func:`percentile_interval`: the score
  over resamples of the sentences, each sentence id drawn ``Poisson(1)`` times (the Poisson
  bootstrap, Hanley and MacGibbon 2006): the count of an id in resample ``b`` depends only on
  the seed, ``b`` and the id, so every comparison, layer, side and method of one resample sees
  the same sentences. That makes changes *paired*: :func:`paired_change` takes the resampled
  scores of two layers (or two of anything) and gives the interval and p-value of their
  difference from the same resamples. A resample repeats sentences: it holds about
  ``0.63 n`` distinct ones, and CCA and CKA of repeated rows run high (at ``n = 251`` and
  reduced dimension 191, PWCCA of every resample is 1). So :mod:`.compare` leaves intervals
  and resamples out (NaN, empty) where ``n`` is small for the dimension.

Every function returns NaN statistics when asked for zero draws.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence

import numpy as np

NAN = float("nan")


def gaussian_chance(score: Callable[[np.ndarray, np.ndarray], float], n: int, dim_a: int, dim_b: int,
                    draws: int, rng: np.random.Generator) -> tuple[float, float]:
    """Mean and standard deviation (``ddof=1``; NaN for one draw) of ``score(x, y)`` over
    ``draws`` pairs of independent standard-Gaussian sets ``(n, dim_a)``, ``(n, dim_b)``."""
    if draws <= 0:
        return NAN, NAN
    values = np.array([score(rng.standard_normal((n, dim_a)), rng.standard_normal((n, dim_b)))
                       for _ in range(draws)])
    return float(values.mean()), float(values.std(ddof=1)) if draws > 1 else NAN


def permutation_null(score_permuted: Callable[[np.ndarray], float], n: int, observed: float,
                     permutations: int, rng: np.random.Generator) -> tuple[float, float, float]:
    """``(mean, 95th percentile, p-value)`` of ``score_permuted(order)`` over ``permutations``
    random orders of ``n`` rows (one set's rows reordered against the other's)."""
    if permutations <= 0:
        return NAN, NAN, NAN
    values = np.array([score_permuted(rng.permutation(n)) for _ in range(permutations)])
    p_value = (1 + int(np.sum(values >= observed))) / (1 + permutations)
    return float(values.mean()), float(np.percentile(values, 95)), float(p_value)


def poisson_weights(ids: Sequence[str], draws: int, seed: int) -> np.ndarray:
    """``(draws, n)`` int: how often resample ``b`` takes each of the ``n`` sentence ``ids``,
    ``Poisson(1)`` counts drawn per id from a generator seeded by ``seed`` and the id alone."""
    out = np.zeros((draws, len(ids)), dtype=np.int64)
    for column, sentence in enumerate(ids):
        out[:, column] = np.random.default_rng([seed, zlib.crc32(f"resample|{sentence}".encode())]).poisson(1.0, draws)
    return out


def bootstrap_draws(score_rows: Callable[[np.ndarray], float], weights: np.ndarray, min_rows: int = 4) -> np.ndarray:
    """``(draws,)``: ``score_rows(rows)`` of each resample, ``rows`` the row indices repeated by
    ``weights`` ``(draws, n)`` (:func:`poisson_weights`); NaN for a resample of fewer than
    ``min_rows`` rows."""
    values = np.full(len(weights), np.nan)
    for b, counts in enumerate(weights):
        rows = np.repeat(np.arange(len(counts)), counts)
        if len(rows) >= min_rows:
            values[b] = score_rows(rows)
    return values


def percentile_interval(values: np.ndarray, level: float) -> tuple[float, float]:
    """Percentile interval at ``level`` (e.g. 0.95) of the finite ``values``; NaN when there are none."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if not len(values):
        return NAN, NAN
    tail = 50.0 * (1.0 - level)
    low, high = np.percentile(values, [tail, 100.0 - tail])
    return float(low), float(high)


def paired_change(before: np.ndarray, after: np.ndarray, level: float) -> tuple[float, float, float]:
    """``(low, high, p)`` of the change ``after − before`` of a mean over comparisons.

    Args:
        before, after: ``(comparisons, draws)`` resampled scores, column ``b`` of both from the
            same resample of sentences (:func:`poisson_weights`).
        level: interval level, e.g. 0.95.

    Returns:
        The percentile interval of the resampled mean change and its two-sided p-value against
        no change, ``(1 + 2 · min(#{Δ* ≤ 0}, #{Δ* ≥ 0})) / (1 + B)`` capped at 1, over the ``B``
        resamples where every comparison has both scores; NaN when there are none.
    """
    delta = np.atleast_2d(np.asarray(after, dtype=np.float64) - np.asarray(before, dtype=np.float64))
    delta = delta[:, np.isfinite(delta).all(axis=0)]
    if not delta.size:
        return NAN, NAN, NAN
    delta = delta.mean(axis=0)
    low, high = percentile_interval(delta, level)
    p_value = min(1.0, (1 + 2 * min(int(np.sum(delta <= 0)), int(np.sum(delta >= 0)))) / (1 + len(delta)))
    return low, high, float(p_value)
