"""Canonical correlations with google/svcca's regularisation, their mean (SVCCA) and PWCCA.

The regularisation follows google/svcca's ``cca_core.get_cca_similarity``: covariances
with ``n - 1`` in the denominator, each set's covariance divided by its largest absolute
entry, directions whose rescaled variance is below ``epsilon`` dropped, ``epsilon · I``
added before the (pseudo-)inverse square root. A set is whitened once (:func:`whiten`);
the canonical correlations of two whitened sets are the singular values of ``A_xᵀ A_y``.
Permuting the rows of one set leaves its whitening unchanged, so a permutation null needs
only the products (:mod:`.null`).

The SVCCA score is the mean of *all* ``min(k_x, k_y)`` coefficients, as the thesis (§3.1)
and the google/svcca tutorial (``np.mean(results["cca_coef1"])``) take it; the ``"mean"``
entry of ``cca_core`` instead averages the leading coefficients holding 98% of their sum.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flip_pipeline.similarity.reduce import centre

EPSILON = 1e-10  # the thesis's (§4.3) and the google/svcca tutorial's


@dataclass(frozen=True)
class Whitened:
    """One set prepared for CCA.

    Attributes:
        basis: ``A`` ``(n, k')``, float64: the centred kept directions times the inverse
            square root of their regularised covariance, scaled so that ``Aᵀ A ≈ I``.
        data: the centred kept directions themselves ``(n, k')`` (PWCCA weighs by them).
    """

    basis: np.ndarray
    data: np.ndarray

    def rows(self, index: np.ndarray) -> Whitened:
        """The same set with its rows reordered by ``index`` (a permutation), whitening kept."""
        return Whitened(self.basis[index], self.data[index])


def whiten(x: np.ndarray, epsilon: float = EPSILON) -> Whitened:
    """Prepare the set ``x`` ``(n, k)`` for CCA (google/svcca's regularisation, see the module)."""
    xc = centre(x)
    n = xc.shape[0]
    cov = xc.T @ xc / (n - 1)
    scale = np.max(np.abs(cov))
    if not scale > 0:
        return Whitened(np.zeros((n, 0)), np.zeros((n, 0)))
    keep = np.abs(np.diag(cov)) / scale >= epsilon
    kept = xc[:, keep]
    w, v = np.linalg.eigh(cov[np.ix_(keep, keep)] / scale + epsilon * np.eye(int(keep.sum())))
    # pinv, then the square root: eigenvalues below numpy's pinv cut-off count as zero.
    inv_sqrt = np.zeros_like(w)
    big = w > 1e-15 * w.max()
    inv_sqrt[big] = w[big] ** -0.5
    basis = (kept / np.sqrt((n - 1) * scale)) @ (v * inv_sqrt) @ v.T
    return Whitened(basis, kept)


def canonical_correlations(a: Whitened, b: Whitened) -> np.ndarray:
    """The ``min(k_a, k_b)`` canonical correlations of two whitened sets, decreasing, in [0, 1]."""
    if a.basis.shape[1] == 0 or b.basis.shape[1] == 0:
        return np.zeros(1)
    return np.clip(np.linalg.svd(a.basis.T @ b.basis, compute_uv=False), 0.0, 1.0)


def svcca(a: Whitened, b: Whitened) -> float:
    """Mean canonical correlation of two whitened (SVD-reduced) sets."""
    return float(canonical_correlations(a, b).mean())


def pwcca(a: Whitened, b: Whitened) -> float:
    """Projection-weighted mean canonical correlation (Morcos et al. 2018, eq. in §2.3).

    On the set with fewer directions (``a`` on a tie, as google/svcca's ``pwcca.py``), the
    weight of the ``i``-th canonical variate ``h_i`` (unit norm) is ``Σ_j |⟨h_i, z_j⟩|`` over
    that set's centred directions ``z_j``; weights are normalised to sum to 1 and the
    score is ``Σ_i α_i ρ_i``.
    """
    if a.basis.shape[1] == 0 or b.basis.shape[1] == 0:
        return 0.0
    u, rho, vt = np.linalg.svd(a.basis.T @ b.basis, full_matrices=False)
    side, directions = (a, u) if a.basis.shape[1] <= b.basis.shape[1] else (b, vt.T)
    variates = side.basis @ directions  # (n, m): canonical variates of the smaller set
    variates /= np.maximum(np.linalg.norm(variates, axis=0, keepdims=True), np.finfo(float).tiny)
    weights = np.abs(variates.T @ side.data).sum(axis=1)
    return float(np.clip(rho, 0.0, 1.0) @ (weights / weights.sum()))
