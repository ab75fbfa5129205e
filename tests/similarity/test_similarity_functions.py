"""SVCCA, PWCCA and CKA against their defining properties and against independent
implementations; the chance level, permutation null and bootstrap interval."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.linalg
from scipy.stats import ortho_group

from flip_pipeline.errors import FlipInputError
from flip_pipeline.similarity.analysis_settings import SimilaritySettings
from flip_pipeline.similarity.cca import canonical_correlations, pwcca, svcca, whiten
from flip_pipeline.similarity.cka import centred_gram, debiased_cka, linear_cka, unbiased_hsic
from flip_pipeline.similarity.compare import ChanceCache, compare
from flip_pipeline.similarity.null import gaussian_chance, paired_change, percentile_interval, poisson_weights
from flip_pipeline.similarity.reduce import reduced_dimension, svd_reduce

BARE = SimilaritySettings(chance_draws=0, permutations=0, bootstrap=0, min_ratio=0)


def scores(a, b, settings=BARE, **kw) -> dict[str, dict]:
    return {r["method"]: r for r in compare(a, b, settings, **kw)}


def related(rng, n=300, d_a=6, d_b=5, noise=1.0):
    z = rng.standard_normal((n, 3))
    return (z @ rng.standard_normal((3, d_a)) + noise * rng.standard_normal((n, d_a)),
            z @ rng.standard_normal((3, d_b)) + noise * rng.standard_normal((n, d_b)))


def test_reduced_dimension_conventions():
    s = np.array([4.0, 3.0, 2.0, 1.0])
    # squares 16, 9, 4, 1 (total 30): 25/30 = 0.83 < 0.9 ≤ 29/30; singular values: 9/10 = 0.9 at k = 3 too
    assert reduced_dimension(s, 0.9, "squared") == 3 and reduced_dimension(s, 0.8, "squared") == 2
    assert reduced_dimension(s, 0.7, "singular_values") == 2 and reduced_dimension(s, 0.7, "squared") == 2
    assert reduced_dimension(s, 0.5, "singular_values") == 2 and reduced_dimension(s, 0.5, "squared") == 1
    assert reduced_dimension(s, 1.0, "squared") == 4
    with pytest.raises(FlipInputError, match="variance_convention 'cubed'"):
        reduced_dimension(s, 0.9, "cubed")


def test_svd_reduce_matches_numpy_svd():
    x = np.random.default_rng(0).standard_normal((30, 50)) @ np.diag(np.linspace(3, 0.1, 50))
    for rows in (x, x.T[:, :30]):  # n < d and n > d take different routes
        reduced = svd_reduce(rows, 0.9, "squared")
        u, s, _ = np.linalg.svd(rows - rows.mean(0), full_matrices=False)
        k = reduced.shape[1]
        assert k == reduced_dimension(s, 0.9, "squared")
        np.testing.assert_allclose(np.abs(reduced), np.abs(u[:, :k] * s[:k]), atol=1e-8)


def test_svcca_of_a_set_with_itself_and_with_a_transformed_copy_is_one():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((200, 12)) @ rng.standard_normal((12, 12))
    copy = 3.5 * x @ ortho_group.rvs(12, random_state=2) + 7.0
    for other in (x, copy):
        got = scores(x, other)
        assert got["svcca"]["score"] == pytest.approx(1.0, abs=1e-6)
        assert got["pwcca"]["score"] == pytest.approx(1.0, abs=1e-6)
        assert got["linear_cka"]["score"] == pytest.approx(1.0, abs=1e-9)
        assert got["debiased_cka"]["score"] == pytest.approx(1.0, abs=1e-9)


def test_cka_invariant_to_orthogonal_transform_and_isotropic_scaling_not_to_anisotropic():
    rng = np.random.default_rng(3)
    a, b = related(rng, d_a=8, d_b=8)
    base = scores(a, b)
    moved = scores(a, 0.01 * b @ ortho_group.rvs(8, random_state=4))
    for method in ("linear_cka", "debiased_cka"):
        assert moved[method]["score"] == pytest.approx(base[method]["score"], abs=1e-10)
    stretched = scores(a, b * np.array([10.0, 1, 1, 1, 1, 1, 1, 0.1]))
    assert abs(stretched["linear_cka"]["score"] - base["linear_cka"]["score"]) > 0.01


def test_debiased_cka_is_near_zero_on_independent_sets_where_linear_cka_is_not():
    rng = np.random.default_rng(5)
    a, b = rng.standard_normal((300, 40)), rng.standard_normal((300, 40))
    got = scores(a, b)
    assert abs(got["debiased_cka"]["score"]) < 0.02
    assert got["linear_cka"]["score"] > 0.1  # the bias debiasing removes


def textbook_cca(x, y):
    """Canonical correlations and x-side weights from the generalised eigenproblem
    Σxy Σyy⁻¹ Σyx w = ρ² Σxx w (scipy.linalg.eigh on the covariance matrices)."""
    x, y = x - x.mean(0), y - y.mean(0)
    sxx, syy, sxy = x.T @ x, y.T @ y, x.T @ y
    rho2, w = scipy.linalg.eigh(sxy @ np.linalg.solve(syy, sxy.T), sxx)
    order = np.argsort(rho2)[::-1][: min(x.shape[1], y.shape[1])]
    return np.sqrt(np.clip(rho2[order], 0, 1)), w[:, order]


def test_cca_and_pwcca_agree_with_a_textbook_cca():
    rng = np.random.default_rng(6)
    x, y = related(rng, n=200, d_a=5, d_b=7)
    rho, w = textbook_cca(x, y)
    np.testing.assert_allclose(canonical_correlations(whiten(x), whiten(y)), rho, atol=1e-7)
    assert svcca(whiten(x), whiten(y)) == pytest.approx(rho.mean(), abs=1e-7)
    variates = (x - x.mean(0)) @ w  # x has fewer directions: PWCCA weighs its variates
    variates /= np.linalg.norm(variates, axis=0)
    alpha = np.abs(variates.T @ (x - x.mean(0))).sum(axis=1)
    assert pwcca(whiten(x), whiten(y)) == pytest.approx(float(rho @ alpha / alpha.sum()), abs=1e-6)


def test_cka_agrees_with_hsic_from_explicit_centering_matrices_and_a_brute_force_u_statistic():
    rng = np.random.default_rng(7)
    x, y = related(rng, n=9, d_a=4, d_b=3, noise=0.5)
    n = len(x)
    h = np.eye(n) - np.ones((n, n)) / n
    k, lm = x @ x.T, y @ y.T  # uncentred features, centred by H

    def hsic(a, b):
        return np.trace(a @ h @ b @ h) / (n - 1) ** 2

    expected = hsic(k, lm) / np.sqrt(hsic(k, k) * hsic(lm, lm))
    assert linear_cka(centred_gram(x), centred_gram(y)) == pytest.approx(expected, abs=1e-12)

    def u_statistic(a, b):  # Song et al. (2012): mean over ordered 4-tuples of distinct indices
        total = sum(a[i, j] * b[i, j] + a[i, j] * b[q, r] - 2 * a[i, j] * b[i, q]
                    for i, j, q, r in itertools.permutations(range(n), 4))
        return total / (n * (n - 1) * (n - 2) * (n - 3))

    kc, lc = centred_gram(x), centred_gram(y)
    assert unbiased_hsic(kc, lc) == pytest.approx(u_statistic(kc, lc), rel=1e-9)
    assert unbiased_hsic(k, lm) == pytest.approx(u_statistic(k, lm), rel=1e-9)
    expected = u_statistic(kc, lc) / np.sqrt(u_statistic(kc, kc) * u_statistic(lc, lc))
    assert debiased_cka(kc, lc) == pytest.approx(expected, rel=1e-9)


def test_gaussian_chance_agrees_with_monte_carlo_through_the_whole_procedure():
    """Independent raw Gaussian sets through reduction and CCA score what Gaussians at the
    reduced dimensions score: the chance level is a function of (n, k_a, k_b)."""
    rng = np.random.default_rng(8)
    settings = SimilaritySettings(variance_convention="squared", chance_draws=10, permutations=0, bootstrap=0,
                                  min_ratio=0, methods=("svcca",))
    cache = ChanceCache()  # the raw sets reduce to a few distinct dims: each chance level is drawn once
    monte_carlo, chances = [], []
    for _ in range(20):
        got = compare(rng.standard_normal((60, 200)), rng.standard_normal((60, 200)), settings, chance_cache=cache)[0]
        monte_carlo.append(got["score"])
        chances.append((got["chance"], got["chance_sd"]))
    chance, sd = np.mean(chances, axis=0)
    assert len(cache) < 10
    assert abs(np.mean(monte_carlo) - chance) < 3 * sd / np.sqrt(10)
    assert 0.5 < chance < 0.95 and sd < 0.05


def test_chance_at_the_thesis_sizes_is_high():
    """n = 251 sentences, reduced dimensions 190: independent sets score about 0.82 (issue 10)."""
    mean, sd = gaussian_chance(lambda a, b: svcca(whiten(a), whiten(b)), 251, 190, 190, 2,
                               np.random.default_rng(9))
    assert 0.80 < mean < 0.84 and sd < 0.01


def test_permutation_null_sits_at_chance_on_independent_data_and_far_below_related_scores():
    rng = np.random.default_rng(10)
    settings = SimilaritySettings(chance_draws=20, permutations=40, bootstrap=0, min_ratio=0)
    independent = scores(rng.standard_normal((120, 6)), rng.standard_normal((120, 6)), settings)
    for method, got in independent.items():
        assert abs(got["null_mean"] - got["chance"]) < 0.05, method
        assert got["p_value"] > 0.01, method
    for method, got in scores(*related(rng, n=120), settings).items():
        assert got["score"] > got["null_p95"] + 0.1 and got["p_value"] == pytest.approx(1 / 41), method


def test_bootstrap_interval_contains_the_score_and_narrows_with_n():
    rng = np.random.default_rng(11)
    settings = SimilaritySettings(chance_draws=0, permutations=0, bootstrap=40, interval=0.9, min_ratio=10)
    small = scores(*related(rng, n=80, d_a=4, d_b=4), settings)
    large = scores(*related(rng, n=320, d_a=4, d_b=4), settings)
    for method in small:
        for got in (small[method], large[method]):
            assert got["ci_low"] <= got["score"] <= got["ci_high"], method
        assert large[method]["ci_high"] - large[method]["ci_low"] < small[method]["ci_high"] - small[method]["ci_low"]


def test_small_n_warns_and_leaves_the_biased_bootstrap_out(caplog):
    rng = np.random.default_rng(12)
    settings = SimilaritySettings(chance_draws=0, permutations=0, bootstrap=5, min_ratio=10)
    got = scores(rng.standard_normal((30, 8)), rng.standard_normal((30, 8)), settings, name_a="nld text",
                 name_b="nld speech")
    assert "nld text vs nld speech: 30 sentences for dimension 8" in caplog.text
    assert np.isnan(got["svcca"]["ci_low"]) and np.isnan(got["linear_cka"]["ci_high"])


def test_draws_are_reproducible_under_the_seed():
    rng = np.random.default_rng(13)
    a, b = related(rng, n=80)
    settings = SimilaritySettings(chance_draws=3, permutations=5, bootstrap=5, min_ratio=0)
    first, again = compare(a, b, settings), compare(a, b, settings)
    assert first == again
    other = compare(a, b, SimilaritySettings(chance_draws=3, permutations=5, bootstrap=5, min_ratio=0, seed=1))
    assert other[0]["chance"] != first[0]["chance"] and other[0]["score"] == first[0]["score"]


def test_bad_input_is_named():
    rng = np.random.default_rng(14)
    a = rng.standard_normal((20, 30))
    with pytest.raises(FlipInputError, match="nld text has 20 sentences but nld speech has 19"):
        compare(a, a[:19], BARE, "nld text", "nld speech")
    with pytest.raises(FlipInputError, match=r"differ in ids at row 1 \('s1' vs 's9'\)"):
        compare(a, a, BARE, "x", "y", ids_a=[f"s{i}" for i in range(20)],
                ids_b=["s0", "s9", *[f"s{i}" for i in range(2, 20)]])
    with pytest.raises(FlipInputError, match=r"nld text: 20 sentences \(n - 1 = 19 dimensions once centred\) are not more than its reduced dimension 19"):
        compare(a, a, SimilaritySettings(variance=1.0, chance_draws=0, permutations=0, bootstrap=0), "nld text",
                "nld speech")
    with pytest.raises(FlipInputError, match="flat: the set has no variance"):
        compare(np.ones((20, 3)), a, BARE, "flat", "other")
    with pytest.raises(FlipInputError, match=r"similarity\.permutations: -1 must be an integer"):
        SimilaritySettings.from_dict({"permutations": -1}, "similarity")
    with pytest.raises(FlipInputError, match=r"settings\.methods: \('svcca', 'cca'\)"):
        SimilaritySettings.from_dict({"methods": ["svcca", "cca"]})
    with pytest.raises(FlipInputError, match=r"settings\.bogus: unknown setting"):
        SimilaritySettings.from_dict({"bogus": 1})
    with pytest.raises(FlipInputError, match=r"settings\.cross_lingual_dimensions: 'mean' must be one of shared"):
        SimilaritySettings.from_dict({"cross_lingual_dimensions": "mean"})
    with pytest.raises(FlipInputError, match=r"nld text: reduced dimension 25 is not between 1 and its 20"):
        compare(a, a, BARE, "nld text", "nld speech", dims=(25, 3))


def test_resamples_are_of_sentence_ids_the_same_in_every_comparison():
    ids = ["a", "b", "c"]
    first, other = poisson_weights(ids, 50, seed=0), poisson_weights(["c", "x", "a"], 50, seed=0)
    assert (first[:, 2] == other[:, 0]).all() and (first[:, 0] == other[:, 2]).all()  # an id's counts are its own
    assert not (poisson_weights(ids, 50, seed=1) == first).all()
    many = poisson_weights([str(i) for i in range(4000)], 5, seed=0)
    assert many.mean() == pytest.approx(1.0, abs=0.03) and many.var() == pytest.approx(1.0, abs=0.05)  # Poisson(1)
    # a comparison's resampled scores are its scores on the rows each resample repeats, for every method
    # (SVCCA/PWCCA on the sets as reduced once, on all sentences)
    rng = np.random.default_rng(15)
    a, b = related(rng, n=60)
    names = [f"s{i}" for i in range(60)]
    settings = SimilaritySettings(chance_draws=0, permutations=0, bootstrap=4, min_ratio=0)
    records = scores(a, b, settings, ids_a=names, ids_b=names)
    reduced = [svd_reduce(x, settings.variance, settings.variance_convention) for x in (a, b)]
    for draw, counts in enumerate(poisson_weights(names, 4, settings.seed)):
        rows = np.repeat(np.arange(60), counts)
        expected = {"svcca": svcca(*(whiten(x[rows]) for x in reduced)),
                    "pwcca": pwcca(*(whiten(x[rows]) for x in reduced)),
                    "linear_cka": linear_cka(centred_gram(a[rows]), centred_gram(b[rows])),
                    "debiased_cka": debiased_cka(centred_gram(a[rows]), centred_gram(b[rows]))}
        for method, record in records.items():
            assert record["resamples"][draw] == pytest.approx(expected[method], abs=1e-5), method
    assert len(records["svcca"]["resamples"]) == 4


def test_a_paired_change_sees_what_two_separate_intervals_miss():
    rng = np.random.default_rng(16)
    # three comparisons whose scores swing ±0.05 over resamples, the later layer 0.01 above on every one
    before = 0.8 + 0.05 * rng.standard_normal((3, 200))
    after = before + 0.01 + 0.002 * rng.standard_normal((3, 200))
    low, high, p = paired_change(before, after, 0.95)
    assert 0.0 < low < 0.01 < high < 0.02 and p == pytest.approx(1 / 201)
    assert percentile_interval(after.mean(axis=0), 0.95)[0] < percentile_interval(before.mean(axis=0), 0.95)[1]
    _, _, p_none = paired_change(before, before + 0.002 * rng.standard_normal((3, 200)), 0.95)
    assert p_none > 0.2
    before[1, :150] = np.nan  # resamples some comparison lacks are left out; none left: NaN
    assert np.isfinite(paired_change(before, after, 0.95)).all()
    before[0, 150:] = np.nan
    assert np.isnan(paired_change(before, after, 0.95)).all()
