"""An experiment grid of the config expanded into runs (:class:`Run`): probes × ranks × alphas × encoders ×
view pairs, a sweep's points, a published checkpoint's one run; each run's name, settings and fingerprint."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field, replace
from typing import Any

from flip_pipeline.config.views import checkpoint_vocab_view, corpus_train_views
from flip_pipeline.formats.pair_scores import similarity_views
from flip_pipeline.settings import BIAS_INIT, computing_entry, fingerprint_of

#: The rank of a FLiP run whose rank an experiment's ``sweep`` chooses on dev (``flip-rsweep-…``).
SWEPT_RANK = "sweep"
#: What a sweep maximises: the training summary's best dev recall (``result.best_dev_recall``).
SWEEP_CRITERION = "best_dev_recall"
#: What the run name of an experiment with a ``checkpoint`` ends in: ``flip-r512-sonar-published``.
PUBLISHED = "published"


def spell_setting(value: Any) -> str:
    """A swept value as it appears in a run name: ``0.0001``, ``1e-05``, ``256``, ``true``, ``null``, ``bf16``."""
    return value if isinstance(value, str) else json.dumps(value)


@dataclass(frozen=True)
class Run:
    """One training configuration of an experiment, with everything its jobs need.

    A run of an experiment with a ``sweep`` is either a *sweep point* (``sweep``: its swept
    settings; trained, never evaluated) or the *swept run* (``points``: the points it is chosen
    from by dev recall; evaluated, never trained: its model is the selected point's).
    """

    experiment: str
    probe: str
    rank: int | str | None
    alpha: float | None  # None: a published checkpoint (its training is not ours)
    encoder: str
    train_views: tuple[str, ...]
    corpus: str
    vocab: str | None  # None: a published checkpoint (its own vocab.json)
    target_view: str
    test_views: tuple[str, ...]
    training: dict[str, Any] = field(hash=False, compare=False)  # SpLiCE runs: the solver settings
    evaluation: dict[str, Any] = field(hash=False, compare=False)
    sources: dict[str, Any] = field(hash=False, compare=False)  # config entries of its encoder, corpus, vocab
    sweep: tuple[tuple[str, Any], ...] = ()  # a sweep point: (setting, value) pairs, keys sorted
    points: tuple[Run, ...] = field(default=(), hash=False, compare=False)  # a swept run: its points, grid order
    checkpoint: str | None = None  # an experiment's `checkpoint`: evaluated as published, never trained

    @property
    def name(self) -> str:
        """Wildcard-safe id, e.g. ``flip-r256-a0.5-minilm-text_en+text_de``; a sweep point adds its
        settings to its swept run's name: ``flip-rsweep-a0.5-minilm-text_en@rank=256,weight_decay=0.1``;
        a published checkpoint has no alpha nor training views: ``flip-r512-sonar-published``."""
        if self.checkpoint is not None:
            return f"{f'flip-r{self.rank}' if self.probe == 'flip' else 'lip'}-{self.encoder}-{PUBLISHED}"
        views = "+".join(self.train_views)
        if self.probe == "splice":  # no training objective: no alpha
            return f"splice-{self.encoder}-{views}"
        swept = dict(self.sweep)
        rank = SWEPT_RANK if "rank" in swept else self.rank
        probe = f"flip-r{rank}" if self.probe == "flip" else "lip"
        base = f"{probe}-a{self.alpha:g}-{self.encoder}-{views}"
        return f"{base}@" + ",".join(f"{key}={spell_setting(value)}" for key, value in self.sweep) if swept else base

    @property
    def sim_views(self) -> tuple[str, str] | None:
        """The two views whose pair scores filter this run's training and dev rows (``similarity_views``
        of :mod:`flip_pipeline.formats.pair_scores`), or ``None`` when ``training.sim_threshold`` keeps
        every row (unset or null; a SpLiCE run or a published checkpoint trains nothing)."""
        if self.probe == "splice" or self.checkpoint is not None or self.training.get("sim_threshold") is None:
            return None
        return similarity_views(self.train_views, corpus_train_views(self.sources["corpus"]))

    @property
    def model_kind(self) -> str:
        """What marks its model complete (:func:`flip_pipeline.formats.paths.model_files`): ``sweep``
        (the selection of a swept run), ``published`` (a fetched checkpoint), ``splice``, else the probe."""
        return "sweep" if self.points else PUBLISHED if self.checkpoint is not None else self.probe

    def _settings(self) -> dict[str, Any]:
        if self.checkpoint is not None:  # its fingerprint covers the id: another checkpoint is another model
            return {"experiment": self.experiment, "run": self.name, "checkpoint": self.checkpoint,
                    "probe": self.probe, "rank": self.rank, "encoder": self.encoder, "corpus": self.corpus,
                    "target_view": self.target_view}
        return {
            "experiment": self.experiment, "run": self.name, "probe": self.probe, "rank": self.rank,
            "alpha": self.alpha, "encoder": self.encoder,
            "train_views": list(self.train_views), "corpus": self.corpus, "vocab": self.vocab,
            "target_view": self.target_view, "training": self.training,
        }

    @property
    def fingerprint(self) -> str:
        """Hash of everything the run's model depends on: its settings and the config entries
        of its encoder, corpus and vocabulary (a change of any of them is another model); for a
        swept run, its points' fingerprints and the criterion (a changed grid is another choice)."""
        if self.points:
            return fingerprint_of({"points": [p.fingerprint for p in self.points], "criterion": SWEEP_CRITERION})
        return fingerprint_of({"run": self._settings(), **self.sources})

    def eval_fingerprint(self, view: str) -> str:
        """Hash of everything the evaluation on test ``view`` depends on: the model and ``evaluation``."""
        return fingerprint_of({"run": self.fingerprint, "evaluation": self.evaluation, "view": view})

    def spec(self) -> dict[str, Any]:
        """JSON-ready description passed to ``flip train`` / ``flip splice`` (recorded in the model's
        config.json; a sweep point's adds ``sweep``, its settings; a published checkpoint's goes to
        ``flip fetch-checkpoint``, with its ``checkpoint``), or for a swept run to ``flip select``
        (its points' names, fingerprints and settings, in grid order)."""
        if self.points:
            return {"experiment": self.experiment, "run": self.name, "fingerprint": self.fingerprint,
                    "criterion": SWEEP_CRITERION,
                    "points": [{"run": p.name, "fingerprint": p.fingerprint, "settings": dict(p.sweep)}
                               for p in self.points]}
        return {**self._settings(), "fingerprint": self.fingerprint, **({"sweep": dict(self.sweep)} if self.sweep else {})}


def _swept(run: Run, sweep: dict[str, list]) -> Run:
    """``run`` as the swept run of the grid ``sweep`` (keys sorted, values as listed), or as it is
    when nothing of the grid applies to it (LiP has no rank, SpLiCE no training)."""
    keys = sorted(key for key in sweep if run.probe != "splice" and (key != "rank" or run.probe == "flip"))
    if not keys:
        return run
    points = []
    for values in itertools.product(*(sweep[key] for key in keys)):
        settings = dict(zip(keys, values))
        training = {**run.training, **{k: v for k, v in settings.items() if k != "rank"}}
        points.append(replace(run, rank=settings.get("rank", run.rank), training=training,
                              sweep=tuple(settings.items())))
    return replace(run, rank=SWEPT_RANK if "rank" in keys else run.rank, points=tuple(points))


def expand_runs(config: dict[str, Any], experiment: str) -> list[Run]:
    """All evaluated runs of one experiment: probes × ranks (FLiP only) × alphas × encoders × view pairs.

    A single training view ignores ``alphas`` (it is alpha 1); LiP ignores ``ranks``. With a
    ``sweep``, each LiP or FLiP run is a swept run whose ``points`` are trained (one per
    combination of the swept values) and the best on dev recall is evaluated. An experiment with a
    ``checkpoint`` is one run, never trained (:attr:`Run.checkpoint`).
    """
    exp = config["experiments"][experiment]
    corpus = config["corpora"][exp["corpus"]]
    evaluation = {**config.get("evaluation", {}), **exp.get("evaluation", {})}
    if "checkpoint" in exp:  # one run: the checkpoint, in the space of its one encoder
        encoder, probe = exp["encoders"][0], exp["probe"]
        return [Run(experiment, probe, exp["rank"] if probe == "flip" else None, None, encoder, (), exp["corpus"],
                    None, checkpoint_vocab_view(exp, corpus, f"experiments.{experiment}"), tuple(exp["test_views"]),
                    {}, evaluation, {"encoder": computing_entry(config["encoders"][encoder]), "corpus": corpus},
                    checkpoint=exp["checkpoint"])]
    vocab = config["vocabularies"][exp["vocab"]]
    # the bias start's default is spelled out, so a model trained under the old one is another model
    training = {"bias_init": BIAS_INIT, **config.get("training", {}), **exp.get("training", {})}
    splice = {**config.get("splice", {}), **exp.get("splice", {})}
    sweep = exp.get("sweep", {})
    ranks = [SWEPT_RANK] if "rank" in sweep else exp.get("ranks", ["full"])
    runs: dict[str, Run] = {}
    for probe in exp["probes"]:
        for rank in (ranks if probe == "flip" else [None]):  # LiP, SpLiCE: no rank
            for views in exp["train_views"]:
                for alpha in (exp.get("alphas", [0.5]) if len(views) == 2 else [1.0]):
                    for encoder in exp["encoders"]:
                        run = Run(experiment, probe, rank, float(alpha), encoder, tuple(views), exp["corpus"],
                                  exp["vocab"], vocab["view"], tuple(exp["test_views"]),
                                  splice if probe == "splice" else training, evaluation,
                                  {"encoder": computing_entry(config["encoders"][encoder]), "corpus": corpus, "vocab": vocab})
                        runs.setdefault(run.name, _swept(run, sweep))
    return list(runs.values())
