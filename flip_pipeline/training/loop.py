"""The training loop of LiP and FLiP (paper §2.2–2.3 and §3.5).

AdamW (lr 5e-3), learning rate halved when dev recall plateaus, early stopping on dev
recall, at most 100 iterations (an iteration is one pass over the training data),
batch 6000, the bias initialised Xavier-normal as the published code runs it (or to the log
unigram distribution it documents: ``training.bias_init``), L1 on the word matrix
by proximal soft-thresholding after each step, eq. 4's alpha mixing of the two views.
The best model by dev recall is kept.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from flip_pipeline.atomic import strict_json
from flip_pipeline.device import available_memory
from flip_pipeline.errors import FlipInputError
from flip_pipeline.metrics import hit_mask, hits_within, reference_sets
from flip_pipeline.probes.lip import Probe, make_probe
from flip_pipeline.probes.objective import weighted_count_nll
from flip_pipeline.probes.ranking import top_words
from flip_pipeline.progress import progress
from flip_pipeline.settings import BIAS_INIT, BIAS_INITS, settings_from_dict
from flip_pipeline.training.batches import Batch, TrainingData
from flip_pipeline.training.precision import check_precision, matmul_precision
from flip_pipeline.training.resident import ResidentData, resident_or_streamed, storage_dtype
from flip_pipeline.training.stopping import DevCriterion

log = logging.getLogger(__name__)


@dataclass
class TrainSettings:
    """Optimisation settings; the defaults are the paper's (and the published config's).

    Attributes:
        lr: AdamW learning rate.
        weight_decay: decoupled weight decay on the projection matrices (not the bias).
        l1: L1 strength λ on the word matrix; threshold per step is ``lr · λ``.
        batch_size: sentences per step (each contributes one row per weighted view).
        max_iterations: passes over the training data.
        eval_every: iterations between dev evaluations.
        patience: dev evaluations without improvement tolerated; the next one stops
            training (the published rule: patience 5 stops at the 6th).
        min_iterations: no early stop before this many iterations, whatever dev recall
            does (:mod:`flip_pipeline.training.stopping`).
        lr_factor, lr_patience: learning rate × ``lr_factor`` after more than
            ``lr_patience`` evaluations without improvement (``ReduceLROnPlateau``).
        early_stopping: stop when patience runs out (else run all iterations).
        bias_init: ``xavier`` (default: Xavier-normal, std ``sqrt(2 / (W + 1))``, what the
            published training code runs, its log-unigram assignment being lost, and so what
            produced the paper's numbers) or ``log_unigram`` (the documented formula,
            :meth:`Probe.init_bias_log_unigram`). With ``log_unigram`` the word frequencies sit
            in ``b`` from the start and the bias-free scores ``E x`` that dev recall and
            evaluation rank by are PMI-like; with ``xavier`` ``E x`` learns them (docs/training.md,
            "Bias initialisation and the bias-free criterion").
        dev_depth_factor, dev_max_depth: dev recall looks at the top
            ``min(dev_max_depth, ceil(factor · k_i))`` words (published: 2 and 100).
        precision: ``tf32`` (float32; TF32 matrix products on a CUDA GPU, the same numbers as
            ``fp32`` on a CPU), ``fp32`` (true float32 everywhere) or ``bf16`` (the word layer's
            products in bf16, fp32 accumulation and log-sum-exp): :mod:`flip_pipeline.training.precision`.
        seed: seeds initialisation and shuffling.
        chunk_batches: batches per contiguous chunk read from the shards.
        stream_workers: threads that read and decode the shards and build the batches of the
            streamed path (:meth:`~flip_pipeline.training.batches.TrainingData.batches`);
            ``None``: the job's CPUs (:func:`flip_pipeline.device.job_cpus`).
        sim_threshold: train and pick the best iteration only on rows whose pair of views
            (:attr:`flip_pipeline.config.runs.Run.sim_views`) has a similarity score above this (the
            published filter, applied there to the training and the dev data); ``None`` keeps
            every row.
        logits_memory_mb: cap (MiB) on the ``(rows, W)`` logit buffer of one step; a batch that
            needs more is processed in row chunks (same gradient, bounded memory). ``None``:
            :data:`CPU_LOGITS_MB` on a CPU, :data:`GPU_LOGITS_SHARE` of a GPU's free memory when
            training starts (:func:`logits_budget_mb`; the value used is recorded).
        resident_memory_gb: GiB (2³⁰ bytes) the kept rows of the training views may take
            when held whole on the training device (host RAM on the CPU, device memory on a
            GPU; ``n × d × views`` values plus the CSR bag of words), batches then gathered
            there by index (:mod:`flip_pipeline.training.resident`); over it they are
            streamed from the shards. ``None``: half of the memory the job still has there
            (GPU free memory; host available memory within a cgroup or SLURM limit).
            0: always stream.
        resident_dtype: storage dtype of resident views, ``float32``, ``float16`` or
            ``bfloat16`` (half the memory; batches are float32 either way, and the
            conversion error is measured on the loaded values and recorded).
    """

    lr: float = 5e-3
    weight_decay: float = 0.0
    l1: float = 1e-4
    batch_size: int = 6000
    max_iterations: int = 100
    eval_every: int = 3
    patience: int = 5
    min_iterations: int = 0
    lr_factor: float = 0.5
    lr_patience: int = 2
    early_stopping: bool = True
    bias_init: str = BIAS_INIT
    dev_depth_factor: float = 2.0
    dev_max_depth: int = 100
    precision: str = "tf32"
    seed: int = 0
    chunk_batches: int = 8
    stream_workers: int | None = None
    sim_threshold: float | None = None
    logits_memory_mb: float | None = None
    resident_memory_gb: float | None = None
    resident_dtype: str = "float32"

    def __post_init__(self) -> None:
        storage_dtype(self.resident_dtype)  # refused here, before any data is read
        check_precision(self.precision)
        if self.bias_init not in BIAS_INITS:
            raise FlipInputError(f"training.bias_init: {self.bias_init!r}; expected one of {', '.join(BIAS_INITS)}")
        if self.resident_memory_gb is not None and self.resident_memory_gb < 0:
            raise FlipInputError(f"training.resident_memory_gb: {self.resident_memory_gb} is negative; "
                                 "null (default budget), 0 (always stream) or GiB")

    @classmethod
    def from_dict(cls, values: dict[str, Any], key: str = "training") -> TrainSettings:
        """Settings from the ``training`` config entry (unknown fields are an error naming the key)."""
        return settings_from_dict(cls, values, key)


@dataclass
class DevSet:
    """Dev embeddings per view ``(n, d)`` and the reference sets ``(n, W)`` of the target text."""

    views: list[np.ndarray]
    reference: Any
    k: np.ndarray


def dev_recall(probe: Probe, dev: DevSet, settings: TrainSettings) -> float:
    """Mean over views of the mean per-sentence recall at ``min(max, ceil(factor · k))`` (no bias)."""
    keep = dev.k > 0
    depth = np.minimum(settings.dev_max_depth, np.ceil(settings.dev_depth_factor * dev.k)).astype(np.int64)
    scores = []
    for x in dev.views:
        top = top_words(probe, x[keep], int(depth.max()), use_bias=False)
        hits = hits_within(hit_mask(top, dev.reference[keep]), depth[keep])
        scores.append(float(np.mean(hits / dev.k[keep])))
    return float(np.mean(scores))


def make_dev_set(views: list[np.ndarray], counts, source: str) -> DevSet:
    """Dev set from per-view embeddings ``(n, d)`` and the target text's counts ``(n, W)``."""
    reference = reference_sets(counts)
    k = np.diff(reference.indptr)
    if not (k > 0).any():
        raise FlipInputError(f"{source}: no dev sentence has an in-vocabulary token; dev recall is undefined")
    return DevSet(views, reference, k)


#: ``training.logits_memory_mb`` on a CPU when it is not set (MiB).
CPU_LOGITS_MB = 1024.0
#: Share of a GPU's free memory the logit buffer may take when ``logits_memory_mb`` is not set.
GPU_LOGITS_SHARE = 0.25


def logits_budget_mb(configured: float | None, device: torch.device) -> float:
    """MiB the ``(rows, W)`` logit buffer of a step may take: ``configured`` when set, else
    :data:`CPU_LOGITS_MB` on a CPU and :data:`GPU_LOGITS_SHARE` of the GPU's free memory now."""
    if configured is not None:
        return float(configured)
    if device.type == "cpu":
        return CPU_LOGITS_MB
    free, _ = available_memory(device)
    return GPU_LOGITS_SHARE * free / 2**20


def _row_spans(batch: Batch, chunk: int) -> list[tuple[int, int, int, int]]:
    """``(lo, hi, a, b)`` per row chunk of at most ``chunk`` rows: rows ``lo:hi`` hold the counts
    ``a:b``. One chunk is known without asking the device (no wait between steps)."""
    n_rows, nnz = batch.x.shape[0], batch.rows.shape[0]
    if n_rows <= chunk:
        return [(0, n_rows, 0, nnz)]
    bounds = torch.arange(0, n_rows + chunk, chunk, device=batch.rows.device).clamp_(max=n_rows)
    nnz_bounds = torch.searchsorted(batch.rows, bounds).tolist()  # rows are sorted
    bounds = bounds.tolist()
    return [(lo, hi, a, b) for lo, hi, a, b in zip(bounds, bounds[1:], nnz_bounds, nnz_bounds[1:]) if lo < hi]


def train_step(
    probe: Probe, opt: torch.optim.Optimizer, batch: Batch, settings: TrainSettings, elementwise: str = "auto",
) -> torch.Tensor:
    """One proximal-gradient step on eq. 4.

    The ``(N, W)`` logit buffer is processed in row chunks of at most ``settings.logits_memory_mb``
    (:func:`logits_budget_mb`; gradients accumulate over chunks; the step is the same), its float32
    matrix products in ``settings.precision``'s mode (:func:`~flip_pipeline.training.precision.matmul_precision`),
    its elementwise passes as ``elementwise`` says (:func:`~flip_pipeline.probes.objective.weighted_count_nll`).

    Returns:
        the batch's negative log-likelihood, a 0-dim tensor on the training device: nothing here
        waits for the device, which runs the step while the host prepares the next one.
    """
    device = probe.b.device
    element_bytes = 2 if settings.precision == "bf16" else 4  # the logit buffer's dtype
    budget = logits_budget_mb(settings.logits_memory_mb, device)
    chunk = max(1, int(budget * 2**20 // (element_bytes * probe.vocab_size)))
    opt.zero_grad(set_to_none=True)
    total = torch.zeros((), device=device)
    with matmul_precision(settings.precision, device):
        for lo, hi, a, b in _row_spans(batch, chunk):
            loss = weighted_count_nll(
                probe.hidden(batch.x[lo:hi]), probe.words, probe.b.view(-1), batch.rows[a:b] - lo,
                batch.cols[a:b], batch.vals[a:b], batch.totals[lo:hi], bf16=settings.precision == "bf16",
                elementwise=elementwise,
            )
            loss.backward()
            total += loss.detach()
    opt.step()
    probe.prox_l1(opt.param_groups[0]["lr"] * settings.l1)
    return total


def epoch_batches(
    data: TrainingData, resident: ResidentData | None, settings: TrainSettings, rng: np.random.Generator,
    device: torch.device,
) -> Iterator[Batch]:
    """One epoch of shuffled batches: gathered on the device from ``resident``, else streamed from ``data``."""
    if resident is not None:
        return resident.batches(settings.batch_size, rng)
    return data.batches(settings.batch_size, rng, device, settings.chunk_batches, settings.stream_workers)


def make_optimizer(probe: Probe, settings: TrainSettings) -> torch.optim.AdamW:
    matrices = [p for name, p in probe.named_parameters() if name != "b"]
    groups = [{"params": matrices, "weight_decay": settings.weight_decay}, {"params": [probe.b], "weight_decay": 0.0}]
    fused = probe.b.device.type == "cuda"
    return torch.optim.AdamW(groups, lr=settings.lr, fused=fused)


def train_probe(
    kind: str,
    rank: int | None,
    data: TrainingData,
    dev: DevSet,
    settings: TrainSettings,
    device: torch.device,
    log_path: str | Path,
    desc: str = "train",
) -> tuple[Probe, dict]:
    """Train a probe; write one JSON line per iteration to ``log_path``.

    The training views are held on ``device`` when they fit ``settings.resident_memory_gb``
    (:func:`flip_pipeline.training.resident.resident_or_streamed`), else streamed; the
    choice is logged and recorded as ``data_path`` in the summary and in the log's first line.
    Progress (iterations of ``max_iterations``, the last and best dev recall, ETA) is shown
    as :mod:`flip_pipeline.progress` shows it, each line starting with ``desc``.

    Returns:
        ``(best probe, summary)`` where the summary has the best dev recall, the iteration
        it was reached at, iterations run, why training stopped (``stopped``), wall time and
        the data path.
    """
    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    probe = make_probe(kind, data.bow.counts.shape[1], data.dim, rank)
    if settings.bias_init == "log_unigram":  # else the Xavier-normal bias of make_probe, as published
        probe.init_bias_log_unigram(data.word_counts())
    probe.to(device)
    resident, data_path = resident_or_streamed(data, settings.resident_memory_gb, settings.resident_dtype, device)
    settings = replace(settings, logits_memory_mb=logits_budget_mb(settings.logits_memory_mb, device))  # recorded
    opt = make_optimizer(probe, settings)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(
        opt, mode="max", factor=settings.lr_factor, patience=settings.lr_patience
    )
    criterion = DevCriterion(settings.patience, settings.min_iterations, dev_recall(probe, dev, settings))
    best_state, best_iteration = copy.deepcopy(probe.state_dict()), 0
    started = time.perf_counter()
    iteration = 0
    stopped = f"max_iterations {settings.max_iterations} reached"
    with open(log_path, "w", encoding="utf-8") as log_file, \
            progress(settings.max_iterations, "it", desc, log) as bar:
        log_file.write(strict_json({"iteration": 0, "dev_recall": criterion.best, "data_path": data_path}) + "\n")
        bar.status(f"dev recall {criterion.best:.3f} before training")
        for iteration in range(1, settings.max_iterations + 1):
            nll, tokens, steps = torch.zeros((), device=device), 0, 0
            for batch in epoch_batches(data, resident, settings, rng, device):
                nll += train_step(probe, opt, batch, settings)
                tokens += batch.tokens
                steps += 1
            record = {
                "iteration": iteration,
                "steps": steps,
                "nll_per_token": float(nll) / max(tokens, 1),
                "lr": opt.param_groups[0]["lr"],
                "word_matrix_zeros": float((probe.words == 0).float().mean()),
                "seconds": round(time.perf_counter() - started, 3),
            }
            if iteration % settings.eval_every == 0:
                score = dev_recall(probe, dev, settings)
                plateau.step(score)
                if criterion.update(score):
                    best_state, best_iteration = copy.deepcopy(probe.state_dict()), iteration
                record.update(dev_recall=score, stale_evaluations=criterion.stale, best_iteration=best_iteration)
                bar.status(f"dev recall {score:.3f} (best {criterion.best:.3f} at iteration {best_iteration})")
            log_file.write(strict_json(record) + "\n")
            log_file.flush()
            log.debug("iteration %d/%d: nll/token %.4f, lr %.3g%s", iteration, settings.max_iterations,
                      record["nll_per_token"], record["lr"],
                      f", dev recall {record['dev_recall']:.4f}" if "dev_recall" in record else "")
            bar.advance()
            if settings.early_stopping and criterion.should_stop(iteration):
                stopped = (f"early stopping: {criterion.stale} dev evaluations without improvement "
                           f"(patience {settings.patience}, every {settings.eval_every} iterations)")
                break
    probe.load_state_dict(best_state)
    summary = {
        "best_dev_recall": criterion.best,
        "best_iteration": best_iteration,
        "iterations": iteration,
        "stopped": stopped,
        "train_rows": len(data),
        "train_rows_without_in_vocab_token": data.rows_without_words(),
        "seconds": round(time.perf_counter() - started, 3),
        "data_path": data_path,
        "settings": asdict(settings),
    }
    return probe, summary
