"""Linear CKA (Kornblith et al. 2019) and its debiased form on centred Gram matrices.

Both take the linear-kernel Gram matrices of the *centred* sets, ``K = X_c X_cᵀ`` and
``L = Y_c Y_cᵀ`` (``n × n``), so that a permutation null reorders ``L`` and nothing is
recomputed from the features.

* Linear CKA: ``⟨K, L⟩_F / (‖K‖_F ‖L‖_F)`` (HSIC with centred Grams; the ``(n-1)⁻²``
  factors cancel).
* Debiased linear CKA: the same ratio with the unbiased HSIC estimator of Song et al.
  (2012) (Nguyen, Raghu and Kornblith 2021 call it debiased CKA): with ``K̃``, ``L̃`` the
  Grams with zeroed diagonals,
  ``HSIC_u = [tr(K̃L̃) + 1ᵀK̃1 · 1ᵀL̃1 / ((n-1)(n-2)) − 2/(n-2) · 1ᵀK̃L̃1] / (n(n-3))``.
  Its expectation on independent sets is 0; it needs ``n ≥ 4``.
"""

from __future__ import annotations

import numpy as np

from flip_pipeline.similarity.reduce import centre


def centred_gram(x: np.ndarray) -> np.ndarray:
    """``X_c X_cᵀ`` of the set ``x`` ``(n, d)`` centred over rows: float64 ``(n, n)``."""
    xc = centre(x)
    return xc @ xc.T


def linear_cka(k: np.ndarray, l: np.ndarray) -> float:  # noqa: E741 (the papers' names)
    """Linear CKA of two centred Gram matrices ``(n, n)``; 0 when either set has no variance."""
    denominator = np.sqrt(np.sum(k * k) * np.sum(l * l))
    return float(np.sum(k * l) / denominator) if denominator > 0 else 0.0


def unbiased_hsic(k: np.ndarray, l: np.ndarray) -> float:  # noqa: E741
    """Song et al.'s unbiased HSIC estimator of two Gram matrices ``(n, n)``, ``n ≥ 4``."""
    n = k.shape[0]
    kt = k - np.diag(np.diag(k))
    lt = l - np.diag(np.diag(l))
    row_k, row_l = kt.sum(axis=1), lt.sum(axis=1)
    trace = np.sum(kt * lt)
    total = row_k.sum() * row_l.sum() / ((n - 1) * (n - 2))
    cross = 2.0 / (n - 2) * (row_k @ row_l)
    return float((trace + total - cross) / (n * (n - 3)))


def debiased_cka(k: np.ndarray, l: np.ndarray) -> float:  # noqa: E741
    """Debiased linear CKA of two Gram matrices ``(n, n)``, ``n ≥ 4``; NaN when a self-HSIC is ≤ 0."""
    denominator = unbiased_hsic(k, k) * unbiased_hsic(l, l)
    return float(unbiased_hsic(k, l) / np.sqrt(denominator)) if denominator > 0 else float("nan")
