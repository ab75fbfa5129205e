"""SpLiCE baseline: concept vocabulary, dictionary, nonnegative sparse solver, keywords, save/load."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.optimize
import torch
from threadpoolctl import threadpool_limits

from flip_pipeline.errors import FlipInputError
from flip_pipeline.metrics import adaptive_accuracy, hit_mask, span_reference
from flip_pipeline.models.controls.ceiling_floor import BowProjection
from flip_pipeline.probes.splice import (
    SpliceModel,
    SpliceSettings,
    build_splice_model,
    centre,
    concept_dictionary,
    embedding_mean,
    lipschitz_constant,
    nonnegative_lasso,
)
from flip_pipeline.stages.vocab import ConceptSettings, build_concepts


@pytest.fixture(autouse=True)
def one_thread():
    """These problems are tiny: on a busy machine thread hand-offs cost more than the work."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(1):
        yield
    torch.set_num_threads(before)


TOY = ["New York is big.", "New York is old!", "The big dog"]
# tokens: [new york is big] [new york is old] [the big dog]: N1 = 11 tokens, N2 = 8 bigram positions
# counts: new 2, york 2, is 2, big 2, old 1, the 1, dog 1; bigrams: new york 2, york is 2, others 1


def test_concepts_are_filtered_by_count_and_pmi_then_ranked_by_frequency():
    settings = ConceptSettings(unigrams=4, bigrams=1, min_count=2, min_bigram_count=2, min_pmi=2.0)
    vocab, counts = build_concepts(TOY, settings)
    # 'new york' and 'york is' tie (count 2, PMI ln(2·11²/(8·2·2)) = 2.023): alphabetical order decides
    assert vocab.concepts == ["big", "is", "new", "new york", "york"]
    row = counts.to_pylist()[3]
    assert (row["word"], row["count"], row["order"]) == ("new york", 2, 2)
    assert row["pmi"] == pytest.approx(math.log(2 * 11 * 11 / (8 * 2 * 2)))
    assert math.isnan(counts.to_pylist()[0]["pmi"])


def test_too_many_concepts_requested_names_the_config_key():
    with pytest.raises(FlipInputError, match=r"concepts\.en\.unigrams: 5 unigrams \(min_count 2\) .* only 4"):
        build_concepts(TOY, ConceptSettings(unigrams=5, bigrams=0, min_count=2), key="concepts.en")
    # PMI of the count-2 bigrams is 2.023 < 2.1: no candidate left
    with pytest.raises(FlipInputError, match=r"concepts\.bigrams: 1 bigrams .* only 0"):
        build_concepts(TOY, ConceptSettings(unigrams=1, bigrams=1, min_count=1, min_bigram_count=2, min_pmi=2.1))
    # 6 distinct within-sentence bigrams ('big new', 'old the' cross sentences and do not count)
    with pytest.raises(FlipInputError, match="only 6 pass"):
        build_concepts(TOY, ConceptSettings(unigrams=1, bigrams=7, min_count=1, min_bigram_count=1, min_pmi=-99))
    with pytest.raises(FlipInputError, match=r"concepts\.x\.bogus"):
        ConceptSettings.from_dict({"bogus": 1}, "concepts.x")


def test_dictionary_and_embeddings_are_normalised_centred_normalised():
    dictionary = concept_dictionary(torch.tensor([[2.0, 0.0], [0.0, 3.0]]))
    # unit rows [1,0], [0,1]; mean [.5,.5]; centred [.5,-.5], [-.5,.5]; normalised ±1/√2
    s = 1 / math.sqrt(2)
    torch.testing.assert_close(dictionary, torch.tensor([[s, -s], [-s, s]]))
    mean = embedding_mean([np.array([[4.0, 0.0]]), np.array([[0.0, 0.5]])])
    torch.testing.assert_close(mean, torch.tensor([0.5, 0.5]))
    torch.testing.assert_close(centre(torch.tensor([[0.0, 7.0]]), mean), torch.tensor([[-s, s]]))


def _objective(w: np.ndarray, d: np.ndarray, x: np.ndarray, lam: float) -> tuple[float, np.ndarray]:
    residual = w @ d - x
    return float(residual @ residual + lam * w.sum()), 2 * d @ residual + lam


def test_solver_matches_bounded_lbfgs_and_nnls():
    rng = np.random.default_rng(0)
    d = torch.nn.functional.normalize(torch.tensor(rng.standard_normal((40, 12))), dim=1)  # overcomplete
    x = torch.tensor(rng.standard_normal((4, 12)))
    w = nonnegative_lasso(d, x, 0.1, 5000, 1e-10, lipschitz_constant(d)).numpy()
    assert (w >= 0).all() and ((w > 0).sum(axis=1) < 40).all()
    for row in range(4):
        # on w ≥ 0, λ‖w‖₁ = λ Σ w is smooth: a bound-constrained quasi-Newton solves it exactly
        ref = scipy.optimize.minimize(_objective, np.zeros(40), args=(d.numpy(), x[row].numpy(), 0.1), jac=True,
                                      method="L-BFGS-B", bounds=[(0, None)] * 40,
                                      options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 10_000})
        assert _objective(w[row], d.numpy(), x[row].numpy(), 0.1)[0] == pytest.approx(ref.fun, abs=1e-9)
        np.testing.assert_allclose(w[row], ref.x, atol=1e-5)
    tall = d[:8]  # 8 atoms in 12 dimensions: λ = 0 is nonnegative least squares
    w0 = nonnegative_lasso(tall, x, 0.0, 5000, 1e-12, lipschitz_constant(tall)).numpy()
    for row in range(4):
        np.testing.assert_allclose(w0[row], scipy.optimize.nnls(tall.numpy().T, x[row].numpy())[0], atol=1e-6)


def test_solver_recovers_a_sparse_ground_truth():
    rng = np.random.default_rng(1)
    d = torch.nn.functional.normalize(torch.tensor(rng.standard_normal((30, 64)), dtype=torch.float32), dim=1)
    x = torch.stack([0.8 * d[3] + 0.5 * d[17], 0.6 * d[29]])
    w = nonnegative_lasso(d, x, 0.01, 2000, 1e-7, lipschitz_constant(d))
    assert set(w[0].topk(2).indices.tolist()) == {3, 17}
    assert w[1].argmax().item() == 29
    np.testing.assert_allclose(w[0, [3, 17]].numpy(), [0.8, 0.5], atol=0.03)
    assert (w[0].numpy() > 0.05).sum() == 2


def test_save_load_round_trip(tmp_path):
    model = SpliceModel(["a", "b c"], torch.eye(2), {"text_en": torch.tensor([0.1, 0.2])}, {"encoder": "toy"})
    model.save(tmp_path)
    loaded = SpliceModel.load(tmp_path)
    assert loaded.concepts == ["a", "b c"] and loaded.info["encoder"] == "toy"
    torch.testing.assert_close(loaded.dictionary, model.dictionary)
    torch.testing.assert_close(loaded.means["text_en"], model.means["text_en"])
    with pytest.raises(FlipInputError, match="no training mean for view 'speech_en'"):
        loaded.decompose(np.ones((1, 2), np.float32), "speech_en", SpliceSettings())


def test_decomposition_of_real_sentences_recovers_their_words(tatoeba_dir):
    train = [line for name in ("deu", "fra") for line in
             (tatoeba_dir / f"tatoeba.{name}-eng.eng").read_text(encoding="utf-8").splitlines()]
    test = (tatoeba_dir / "tatoeba.nld-eng.eng").read_text(encoding="utf-8").splitlines()[:100]
    concepts, _ = build_concepts(train, ConceptSettings(unigrams=300, bigrams=40, min_count=3, min_bigram_count=3,
                                                        min_pmi=1.0))
    encoder = BowProjection("bow", 256, seed=0)
    x_train = encoder.encode([f"t{i}" for i in range(len(train))], train, "text_en")
    model = build_splice_model(concepts.concepts, encoder, "text_en", {"text_en": [x_train[:1000], x_train[1000:]]})
    x = encoder.encode([f"s{i}" for i in range(len(test))], test, "text_en")

    settings = SpliceSettings(l1_penalty=0.25, max_iter=300, tol=1e-5)
    weights = model.decompose(x, "text_en", settings)
    assert weights.shape == (100, 340) and (weights.data > 0).all()
    assert np.diff(weights.indptr).mean() < 30  # sparse: a handful of concepts per sentence

    reference = span_reference(test, concepts.concepts, concepts.tokenizer)
    k = np.diff(reference.indptr)
    top, predicted = model.keywords(x, "text_en", int(k.max()), settings)
    np.testing.assert_allclose(weights[np.arange(100), top[:, 0]].A1, weights.max(axis=1).toarray().ravel())
    accuracy, evaluated = adaptive_accuracy(hit_mask(top, reference) & predicted, k)
    chance = np.mean(k[evaluated] / len(concepts))  # k random concepts out of C
    assert evaluated.sum() > 90
    assert np.nanmean(accuracy) > 0.6 > 20 * chance
