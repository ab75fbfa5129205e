"""What a score means at its size: chance level, permutation null, bootstrap interval.

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
* :func:`bootstrap_interval`: percentile interval of the score over sentences resampled
  with replacement (the same rows on both sides). A resample repeats rows: it holds
  about ``0.63 n`` distinct sentences, and CCA and CKA of repeated rows run high (at
  ``n = 251`` and reduced dimension 191, PWCCA of every resample is 1). So
  :mod:`.compare` leaves the interval out (NaN) where ``n`` is small for the dimension.

Every function returns NaN statistics when asked for zero draws.
"""

from __future__ import annotations

from collections.abc import Callable

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


def bootstrap_interval(score_rows: Callable[[np.ndarray], float], n: int, draws: int, level: float,
                       rng: np.random.Generator) -> tuple[float, float]:
    """Percentile interval at ``level`` (e.g. 0.95) of ``score_rows(rows)`` over ``draws``
    resamples of ``n`` row indices with replacement."""
    if draws <= 0:
        return NAN, NAN
    values = np.array([score_rows(rng.integers(0, n, size=n)) for _ in range(draws)])
    tail = 50.0 * (1.0 - level)
    low, high = np.nanpercentile(values, [tail, 100.0 - tail])
    return float(low), float(high)
