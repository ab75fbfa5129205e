"""SpLiCE baseline (Bhalla et al. 2024; paper §3.4, §4.7): sparse nonnegative concept decompositions.

Following the public SpLiCE code (``splice/splice.py``, ``splice/model.py``):

* **dictionary** ``D`` ``(C, d)``: each concept is embedded as its text by the same encoder
  (view = the text view of the vocabulary's language); rows are L2-normalised, the mean
  row is subtracted and rows are L2-normalised again;
* **centring**: an embedding ``x`` is L2-normalised, the mean ``μ`` of the L2-normalised
  training embeddings of its view is subtracted and the result L2-normalised again
  (SpLiCE keeps one mean per modality: image and text; here one per view);
* **decomposition**: ``w* = argmin_{w ≥ 0} ‖w D − x̃‖² + λ ‖w‖₁`` per embedding — SpLiCE's
  objective and scale of ``l1_penalty`` (its ADMM minimises exactly this; its scikit-learn
  path rescales ``alpha = λ / 2d`` to match), i.e. ``½‖w D − x̃‖² + (λ/2)‖w‖₁``. Solved by
  FISTA (projected proximal gradient with Nesterov momentum and adaptive restart) batched
  over many embeddings in torch;
* **keywords**: the concepts of largest weight; concepts of weight 0 are not predictions.

A saved model is a folder: ``concepts.json`` (list of concept strings, index order),
``config.json`` (provenance) and ``splice.safetensors`` (``dictionary`` ``(C, d)`` and
``mean.{view}`` ``(d,)``, written last). No pickle.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load_file

from flip_pipeline.atomic import write_json, write_safetensors
from flip_pipeline.errors import FlipInputError
from flip_pipeline.files import read_json, read_json_object
from flip_pipeline.models.encoder import Encoder
from flip_pipeline.settings import settings_from_dict


@dataclass(frozen=True)
class SpliceSettings:
    """Solver settings.

    Attributes:
        l1_penalty: ``λ`` of the objective (SpLiCE's scale; its README uses 0.15–0.35).
        max_iter: FISTA iterations at most.
        tol: stop once no weight of the batch changes by more than this in one iteration.
        batch_size: embeddings decomposed at once (memory: a few ``batch_size × C`` floats).
    """

    l1_penalty: float = 0.25
    max_iter: int = 2000
    tol: float = 1e-6
    batch_size: int = 512

    @classmethod
    def from_dict(cls, spec: Mapping, key: str = "splice") -> SpliceSettings:
        """Settings from a config entry; an unknown field is an error naming ``{key}.{field}``."""
        return settings_from_dict(cls, spec, key)


def concept_dictionary(concept_embeddings: torch.Tensor) -> torch.Tensor:
    """``(C, d)`` → ``(C, d)``: rows normalised, mean-centred, normalised again (SpLiCE's dictionary)."""
    unit = F.normalize(concept_embeddings.float(), dim=1)
    return F.normalize(unit - unit.mean(dim=0), dim=1)


def embedding_mean(chunks: Iterable[np.ndarray]) -> torch.Tensor:
    """``(d,)`` mean of the L2-normalised rows of every ``(n_j, d)`` chunk (e.g. a training view's shards)."""
    total, count = None, 0
    for chunk in chunks:
        unit = F.normalize(torch.as_tensor(np.asarray(chunk), dtype=torch.float64), dim=1)
        total = unit.sum(dim=0) if total is None else total + unit.sum(dim=0)
        count += len(unit)
    if not count:
        raise FlipInputError("cannot centre embeddings: the training view has no rows")
    return (total / count).float()


def centre(x: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
    """``(B, d)``: ``normalize(normalize(x) − mean)``."""
    return F.normalize(F.normalize(x, dim=1) - mean, dim=1)


def lipschitz_constant(dictionary: torch.Tensor) -> float:
    """``2 σ_max(D)²``, the Lipschitz constant of the gradient of ``‖w D − x‖²``."""
    gram = dictionary.double().T @ dictionary.double()  # (d, d): cheaper than (C, C)
    return 2.0 * float(torch.linalg.eigvalsh(gram)[-1])


@torch.no_grad()
def nonnegative_lasso(
    dictionary: torch.Tensor, x: torch.Tensor, l1_penalty: float, max_iter: int, tol: float, lipschitz: float
) -> torch.Tensor:
    """Solve ``min_{w ≥ 0} ‖w D − x‖² + λ Σ_c w_c`` for every row of ``x`` at once (FISTA).

    Each iteration is a projected proximal-gradient step from the extrapolated point
    ``y``: ``w ← max(y − (∇ + λ)/L, 0)`` with ``∇ = 2 (y D − x) Dᵀ``; momentum is reset
    per row when it points uphill (O'Donoghue & Candès' gradient restart).

    Args:
        dictionary: ``D`` ``(C, d)``.
        x: ``(B, d)`` on the dictionary's device.
        l1_penalty: ``λ ≥ 0``.
        max_iter: iterations at most.
        tol: stop when the largest change of any weight in one iteration is below it.
        lipschitz: :func:`lipschitz_constant` of ``D``.

    Returns:
        ``(B, C)`` nonnegative weights.
    """
    step = 1.0 / lipschitz
    target = x @ dictionary.T  # (B, C)
    w = torch.zeros_like(target)
    y = w
    t = torch.ones(len(x), 1, dtype=x.dtype, device=x.device)
    for _ in range(max_iter):
        grad = 2.0 * ((y @ dictionary) @ dictionary.T - target)
        w_next = torch.clamp(y - step * (grad + l1_penalty), min=0.0)
        delta = w_next - w
        uphill = ((y - w_next) * delta).sum(dim=1, keepdim=True) > 0
        t_next = torch.where(uphill, torch.ones_like(t), (1 + torch.sqrt(1 + 4 * t * t)) / 2)
        y = w_next + torch.where(uphill, torch.zeros_like(t), (t - 1) / t_next) * delta
        w, t = w_next, t_next
        if float(delta.abs().max()) < tol:
            break
    return w


@dataclass
class SpliceModel:
    """A concept dictionary with the centring mean of each view it decomposes.

    Attributes:
        concepts: ``C`` concept strings, index order.
        dictionary: ``(C, d)`` float32, rows unit-norm (see :func:`concept_dictionary`).
        means: view → ``(d,)`` mean of its L2-normalised training embeddings.
        info: provenance written to ``config.json`` (encoder, vocabulary, views).
    """

    concepts: list[str]
    dictionary: torch.Tensor
    means: dict[str, torch.Tensor]
    info: dict = field(default_factory=dict)

    @functools.cached_property
    def lipschitz(self) -> float:
        return lipschitz_constant(self.dictionary)

    def _mean(self, view: str) -> torch.Tensor:
        if view not in self.means:
            raise FlipInputError(
                f"the SpLiCE model has no training mean for view {view!r}; it has {sorted(self.means)}")
        return self.means[view]

    def _weights(self, x: np.ndarray, view: str, settings: SpliceSettings) -> Iterator[torch.Tensor]:
        """Weights ``(b, C)`` of consecutive batches of embeddings ``x`` ``(n, d)`` of ``view``."""
        mean = self._mean(view)
        device = self.dictionary.device
        for lo in range(0, len(x), settings.batch_size):
            batch = torch.tensor(x[lo : lo + settings.batch_size], dtype=torch.float32, device=device)
            yield nonnegative_lasso(self.dictionary, centre(batch, mean), settings.l1_penalty, settings.max_iter,
                                    settings.tol, self.lipschitz)

    def decompose(self, x: np.ndarray, view: str, settings: SpliceSettings) -> sp.csr_matrix:
        """Sparse concept weights: CSR float32 ``(n, C)`` of embeddings ``x`` ``(n, d)`` of ``view``."""
        parts = [sp.csr_matrix(w.cpu().numpy()) for w in self._weights(x, view, settings)]
        return sp.vstack(parts, format="csr") if parts else sp.csr_matrix((0, len(self.concepts)), dtype=np.float32)

    def keywords(self, x: np.ndarray, view: str, depth: int, settings: SpliceSettings) -> tuple[np.ndarray, np.ndarray]:
        """The ``depth`` concepts of largest weight per embedding.

        Returns:
            ``(top, predicted)``: int64 ``(n, depth)`` concept indices, best first, and bool
            ``(n, depth)``, false where the weight is 0 (not a prediction: mask hits with it).
        """
        depth = min(depth, len(self.concepts))
        top = np.empty((len(x), depth), dtype=np.int64)
        predicted = np.empty((len(x), depth), dtype=bool)
        lo = 0
        for w in self._weights(x, view, settings):
            values, indices = w.topk(depth, dim=1, sorted=True)
            top[lo : lo + len(w)] = indices.cpu().numpy()
            predicted[lo : lo + len(w)] = (values > 0).cpu().numpy()
            lo += len(w)
        return top, predicted

    def ranker(self, view: str, settings: SpliceSettings):
        """A :data:`flip_pipeline.stages.evaluate.Ranker`: concepts by weight, zero weights not predicted."""
        return lambda x, depth: self.keywords(x, view, depth, settings)

    def save(self, out_dir: str | os.PathLike[str]) -> None:
        """Write ``concepts.json``, ``config.json`` and, last, ``splice.safetensors``, each atomically."""
        out_dir = Path(out_dir)
        write_json(out_dir / "concepts.json", self.concepts)
        write_json(out_dir / "config.json", {**self.info, "type": "splice", "concepts": len(self.concepts),
                                              "dim": int(self.dictionary.shape[1]), "views": sorted(self.means)})
        tensors = {"dictionary": self.dictionary.detach().cpu().contiguous()}
        tensors.update({f"mean.{v}": m.detach().cpu().contiguous() for v, m in self.means.items()})
        write_safetensors(out_dir / "splice.safetensors", tensors, {"format": "pt", "type": "splice"})

    @classmethod
    def load(cls, model_dir: str | os.PathLike[str], device: str | torch.device = "cpu") -> SpliceModel:
        model_dir = Path(model_dir)
        weights = model_dir / "splice.safetensors"
        if not weights.exists():
            raise FlipInputError(f"{model_dir}: no splice.safetensors")
        try:
            tensors = load_file(str(weights), device=str(device))
        except SafetensorError as err:
            raise FlipInputError(f"{weights}: not a safetensors file ({err})") from None
        concepts = read_json(model_dir / "concepts.json", "SpLiCE concept list")
        info = read_json_object(model_dir / "config.json", "SpLiCE model configuration")
        if not isinstance(concepts, list):
            raise FlipInputError(f"{model_dir / 'concepts.json'}: must hold a list of concepts")
        if "dictionary" not in tensors or tensors["dictionary"].shape[0] != len(concepts):
            raise FlipInputError(f"{weights}: needs a 'dictionary' with one row per concept of concepts.json "
                                 f"({len(concepts)})")
        means = {k.removeprefix("mean."): v for k, v in tensors.items() if k.startswith("mean.")}
        return cls(concepts, tensors["dictionary"], means, info)


def embed_concepts(concepts: list[str], encoder: Encoder, text_view: str, batch_size: int = 256) -> torch.Tensor:
    """``(C, d)`` float32: each concept string embedded as text of ``text_view``."""
    if not concepts:
        raise FlipInputError("cannot build a SpLiCE dictionary from an empty concept list")
    encoder.check_view(text_view)
    parts = []
    for lo in range(0, len(concepts), batch_size):
        chunk = concepts[lo : lo + batch_size]
        parts.append(encoder.encode([f"concept-{lo + i}" for i in range(len(chunk))], chunk, text_view))
    return torch.from_numpy(np.concatenate(parts).astype(np.float32, copy=False))


def build_splice_model(
    concepts: list[str], encoder: Encoder, text_view: str, train_views: Mapping[str, Iterable[np.ndarray]],
    device: str | torch.device = "cpu", batch_size: int = 256,
) -> SpliceModel:
    """Embed the concepts and take the centring mean of every training view.

    Args:
        concepts: concept strings (e.g. :attr:`ConceptVocabulary.concepts`).
        encoder: the encoder whose embeddings will be decomposed.
        text_view: the view the concepts are embedded as, e.g. ``"text_en"``.
        train_views: view → chunks ``(n_j, d)`` of its training embeddings.
        device: where the dictionary lives (the solver runs there).
        batch_size: concepts per ``encoder.encode`` call.
    """
    dictionary = concept_dictionary(embed_concepts(concepts, encoder, text_view, batch_size)).to(device)
    means = {view: embedding_mean(chunks).to(device) for view, chunks in train_views.items()}
    info = {"encoder": encoder.name, "concept_view": text_view, "provenance": encoder.provenance()}
    return SpliceModel(list(concepts), dictionary, means, info)
