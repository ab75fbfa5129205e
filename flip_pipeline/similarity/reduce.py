"""SVD reduction of a set of representations to the dimension explaining a share of its variance.

SVCCA's first step (Raghu et al. 2017; thesis §3.1 step 2): centre the ``(n, d)`` set over
its rows, take its singular values ``s_1 ≥ … ≥ s_r`` (``r = min(n, d)``) and keep the top
``k`` singular directions, ``k`` the smallest with ``sum(w[:k]) / sum(w) ≥ variance``.

Two conventions for the weights ``w``:

* ``"squared"``: ``w = s²``, the variance each direction explains (the true explained
  variance, as PCA reports it).
* ``"singular_values"``: ``w = s``, as google/svcca's tutorial computes its "fraction of
  variance explained" (``np.sum(s[:20]) / np.sum(s)``). It keeps more directions than
  ``"squared"`` for the same threshold.

The default is ``"singular_values"``: the thesis ran the google/svcca recipe, and its target
dimensions (Appendix A.1: up to 198 of at most 250 at n = 251) are only reachable that
way for trained embeddings — under ``"squared"`` even isotropic Gaussian noise of
``(251, 1024)`` keeps only 191. The chance level (:mod:`.null`) is computed at the reduced
dimensions, so it follows whichever convention is used.
"""

from __future__ import annotations

import numpy as np

from flip_pipeline.errors import FlipInputError

CONVENTIONS = ("singular_values", "squared")
DEFAULT_CONVENTION = "singular_values"
DEFAULT_VARIANCE = 0.9
RANK_RTOL = 1e-6


def centre(x: np.ndarray) -> np.ndarray:
    """``x`` ``(n, d)`` minus its mean row, as float64."""
    x = np.asarray(x, dtype=np.float64)
    return x - x.mean(axis=0, keepdims=True)


def reduced_dimension(singular_values: np.ndarray, variance: float = DEFAULT_VARIANCE,
                      convention: str = DEFAULT_CONVENTION) -> int:
    """The number ``k ≥ 1`` of leading directions whose weights (``s`` or ``s²``, see the
    module) reach the share ``variance`` ∈ (0, 1] of the total; ``singular_values`` sorted
    decreasing."""
    if convention not in CONVENTIONS:
        raise FlipInputError(f"variance_convention {convention!r}: must be one of {', '.join(CONVENTIONS)}")
    if not 0.0 < variance <= 1.0:
        raise FlipInputError(f"variance {variance!r}: must be in (0, 1]")
    s = np.asarray(singular_values, dtype=np.float64)
    weights = s**2 if convention == "squared" else s
    total = weights.sum()
    if not total > 0:
        raise FlipInputError("the set has no variance (every row is the same)")
    share = np.cumsum(weights) / total
    # A share rounding just below 1.0 must not push k past the rank.
    return int(min(np.searchsorted(share, variance - 1e-12) + 1, len(s)))


def svd_reduce(x: np.ndarray, variance: float = DEFAULT_VARIANCE, convention: str = DEFAULT_CONVENTION,
               name: str = "set", k: int | None = None) -> np.ndarray:
    """The centred set ``x`` ``(n, d)`` in its top ``k`` singular directions: ``U_k · diag(s_k)``,
    float64 ``(n, k)``; ``k`` from :func:`reduced_dimension` unless given (a dimension shared by
    several sets, :mod:`flip_pipeline.stages.shared_dimensions`). ``name`` labels errors."""
    u, s = _decompose(x, name)
    if k is None:
        k = _own_dimension(s, variance, convention, name)
    elif not 1 <= k <= len(s):
        raise FlipInputError(f"{name}: reduced dimension {k} is not between 1 and its {len(s)} singular directions")
    return u[:, :k] * s[:k]


def own_dimension(x: np.ndarray, variance: float = DEFAULT_VARIANCE, convention: str = DEFAULT_CONVENTION,
                  name: str = "set") -> tuple[int, np.ndarray]:
    """``(k, s)``: the set's own reduced dimension (:func:`reduced_dimension`) and its singular
    values ``s`` (decreasing), for :func:`variance_kept` at another dimension."""
    _, s = _decompose(x, name)
    return _own_dimension(s, variance, convention, name), s


def variance_kept(singular_values: np.ndarray, k: int, convention: str = DEFAULT_CONVENTION) -> float:
    """The share of the weights (``s`` or ``s²``, see the module) that the top ``k`` directions hold."""
    s = np.asarray(singular_values, dtype=np.float64)
    weights = s**2 if convention == "squared" else s
    return float(weights[:k].sum() / weights.sum())


def _decompose(x: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    xc = centre(x)
    if xc.ndim != 2 or xc.shape[0] < 2:
        raise FlipInputError(f"{name}: needs at least 2 rows of representations, has shape {xc.shape}")
    return _left_singular(xc)


def _own_dimension(s: np.ndarray, variance: float, convention: str, name: str) -> int:
    try:
        return reduced_dimension(s, variance, convention)
    except FlipInputError as err:
        raise FlipInputError(f"{name}: {err}") from None


def _left_singular(xc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(U, s)`` of the thin SVD of ``xc`` ``(n, d)``, decreasing, from the eigenvectors of the
    smaller of ``xc xcᵀ`` and ``xcᵀ xc`` (about 5× faster than ``np.linalg.svd`` at
    ``251 × 1024``; the top directions, all the reduction keeps, are as accurate). The
    square root makes eigenvalue round-off (``~1e-16 s_1²``) a spurious ``~1e-8 s_1``, so
    singular values below ``RANK_RTOL · s_1`` count as zero (e.g. the direction centring removes)."""
    if xc.shape[0] <= xc.shape[1]:
        w, u = np.linalg.eigh(xc @ xc.T)
        w, u = w[::-1], u[:, ::-1]
        s = _clean(w)
        return u * np.where(s > 0, 1.0, 0.0), s
    w, v = np.linalg.eigh(xc.T @ xc)
    w, v = w[::-1], v[:, ::-1]
    s = _clean(w)
    us = xc @ v
    return us / np.where(s > 0, s, 1.0), s


def _clean(eigenvalues: np.ndarray) -> np.ndarray:
    """Singular values from decreasing Gram eigenvalues, those below ``RANK_RTOL · s_1`` set to 0."""
    s = np.sqrt(np.clip(eigenvalues, 0.0, None))
    s[s < RANK_RTOL * s[0]] = 0.0
    return s
