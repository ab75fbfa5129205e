"""Load and validate ``config.yaml`` (experiments expand into runs in :mod:`flip_pipeline.config.runs`).

Validation has two layers: the JSON Schema ``flip_pipeline/schemas/config.schema.yaml``
(package data, so an installed package validates configs; the view pattern is filled in
from :data:`flip_pipeline.formats.corpus_table.VIEW_PATTERN`)
(unknown keys, wrong types) and cross-references checked here (an experiment naming a
corpus, encoder, vocabulary or view that does not exist). Either way the error names
the offending key, e.g. ``config.yaml: experiments.quickstart.ranks[0]: 0 is less than
the minimum of 1``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import jsonschema

from flip_pipeline.config.schema import key_path, load_schema
from flip_pipeline.config.thesis_checks import check_thesis
from flip_pipeline.config.views import checkpoint_vocab_view, corpus_train_views, corpus_views
from flip_pipeline.config.yaml_loader import read_config_file
from flip_pipeline.corpora.splits import split_fractions
from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.pair_scores import similarity_views
from flip_pipeline.models import view_language_problem

#: Keys an experiment with a ``checkpoint`` has no use for (it trains nothing), each with why.
CHECKPOINT_UNUSED = {
    "vocab": "its vocabulary is the checkpoint's vocab.json",
    "probes": "its probe is the checkpoint's: give `probe` (lip or flip)",
    "ranks": "its rank is the checkpoint's: give `rank` (an integer or full)",
    "alphas": "nothing is trained", "train_views": "nothing is trained", "training": "nothing is trained",
    "sweep": "nothing is trained", "splice": "nothing is trained",
}
#: Keys only an experiment with a ``checkpoint`` has.
CHECKPOINT_ONLY = ("probe", "rank", "vocab_view")


def validate_config(config: dict[str, Any], source: str = "config.yaml", files: Sequence[str] = ()) -> None:
    """Raise :class:`FlipInputError` naming the first offending key of ``config``.

    Args:
        config: the merged configuration.
        source: what it was read from, named in errors.
        files: the config files merged into it, in order; a schema error names the last one
            that sets the offending key (a typo in ``--configfile other.yaml`` is blamed on it).
    """
    _check_checkpoint_keys(config, source, files)
    validator = jsonschema.Draft202012Validator(load_schema())
    errors = sorted(validator.iter_errors(config), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))))
    if errors:
        err = jsonschema.exceptions.best_match(errors)
        path = list(err.absolute_path)
        if err.validator == "additionalProperties" and isinstance(err.instance, dict):
            path += sorted(set(err.instance) - set(err.schema.get("properties", {})))[:1]
        raise FlipInputError(f"{_blamed(path, source, files)}: {key_path(err.absolute_path)}: {err.message}")
    _check_references(config, source)


def _blamed(path: list, source: str, files: Sequence[str]) -> str:
    """The last of ``files`` that sets the key ``path``, else ``source``."""
    blamed = [f for f in files if _sets_key(read_config_file(f), path)]
    return blamed[-1] if blamed else source


def _check_checkpoint_keys(config: dict[str, Any], source: str, files: Sequence[str]) -> None:
    """An experiment with a ``checkpoint`` evaluates it as published: a training key there (or a
    ``probe``/``rank`` without one) is an error naming the key and why (the schema says only that
    the key is not allowed)."""
    experiments = config.get("experiments")
    for name, exp in (experiments.items() if isinstance(experiments, dict) else ()):
        if not isinstance(exp, dict):
            continue
        key = f"experiments.{name}"
        if "checkpoint" in exp:
            unused = [k for k in CHECKPOINT_UNUSED if k in exp]
            if unused:
                raise FlipInputError(f"{_blamed(['experiments', name, unused[0]], source, files)}: {key}.{unused[0]}: "
                                     f"an experiment with a checkpoint trains nothing ({CHECKPOINT_UNUSED[unused[0]]})")
            if exp.get("probe") == "lip" and "rank" in exp:
                raise FlipInputError(f"{_blamed(['experiments', name, 'rank'], source, files)}: {key}.rank: "
                                     "a LiP checkpoint has no rank (only probe: flip has one)")
            if exp.get("probe") == "flip" and "rank" not in exp:
                raise FlipInputError(f"{_blamed(['experiments', name], source, files)}: {key}.rank: a FLiP "
                                     "checkpoint needs its rank (the columns of E1, or full), for the tables")
            encoders = exp.get("encoders")
            if isinstance(encoders, list) and len(encoders) != 1:
                raise FlipInputError(f"{_blamed(['experiments', name, 'encoders'], source, files)}: {key}.encoders: "
                                     f"a checkpoint is evaluated in one embedding space, the encoder it was trained "
                                     f"on; got {len(encoders)} encoders")
        else:
            only = [k for k in CHECKPOINT_ONLY if k in exp]
            if only:
                raise FlipInputError(f"{_blamed(['experiments', name, only[0]], source, files)}: {key}.{only[0]}: "
                                     "only an experiment with a checkpoint has it (a trained one has probes, ranks "
                                     "and vocab)")


def _check_sim_threshold(config: dict[str, Any], exp: dict[str, Any], source: str, key: str) -> None:
    """A ``sim_threshold`` (swept, the experiment's or the top-level one) needs a pair of views to filter
    on (:func:`~flip_pipeline.formats.pair_scores.similarity_views`); else an error naming that key."""
    where, values = "training.sim_threshold", [config.get("training", {}).get("sim_threshold")]
    if "sim_threshold" in exp.get("training", {}):
        where, values = f"{key}.training.sim_threshold", [exp["training"]["sim_threshold"]]
    if "sim_threshold" in exp.get("sweep", {}):
        where, values = f"{key}.sweep.sim_threshold", exp["sweep"]["sim_threshold"]
    if set(exp["probes"]) == {"splice"} or all(value is None for value in values):
        return
    trainable = corpus_train_views(config["corpora"][exp["corpus"]])
    for i, views in enumerate(exp["train_views"]):
        if similarity_views(views, trainable) is None:
            raise FlipInputError(f"{source}: {where}: {key}.train_views[{i}] {views} has no text and speech pair "
                                 f"of one language in corpus {exp['corpus']!r} to filter rows on; set it to null")


def _check_published(encoder: dict[str, Any], corpus: dict[str, Any], exp: dict[str, Any], key: str, name: str) -> None:
    """Published embeddings exist only for flip_data corpora, and only they have a flip_data corpus's speech."""
    published = encoder["family"] == "published"
    if published and corpus["source"] != "flip_data":
        raise FlipInputError(f"{key}: encoder {name!r} (family published) imports the embeddings of a flip_data "
                             f"corpus, but corpus {exp['corpus']!r} has source {corpus['source']!r}")
    views = {v for pair in exp.get("train_views", []) for v in pair} | set(exp["test_views"])
    speech = sorted(v for v in views if v.startswith("speech_"))
    if corpus["source"] == "flip_data" and speech and not published:
        raise FlipInputError(f"{key}: corpus {exp['corpus']!r} (flip_data) has no audio, so encoder {name!r} "
                             f"cannot embed {speech[0]!r}; use an encoder of family published")


def _check_references(config: dict[str, Any], source: str) -> None:
    corpora, encoders, vocabs = config["corpora"], config["encoders"], config["vocabularies"]
    for name, spec in corpora.items():
        if "splits" in spec:
            split_fractions(spec, f"{source}: corpora.{name}.splits")
    for name, v in vocabs.items():
        if v["corpus"] not in corpora:
            raise FlipInputError(f"{source}: vocabularies.{name}.corpus: unknown corpus {v['corpus']!r}")
        if v["view"] not in corpus_train_views(corpora[v["corpus"]]) or not v["view"].startswith("text_"):
            raise FlipInputError(
                f"{source}: vocabularies.{name}.view: {v['view']!r} is not a text view of corpus {v['corpus']!r}'s "
                f"training split (views: {corpus_train_views(corpora[v['corpus']])})"
            )
    for name, exp in config["experiments"].items():
        key = f"experiments.{name}"
        if exp["corpus"] not in corpora:
            raise FlipInputError(f"{source}: {key}.corpus: unknown corpus {exp['corpus']!r}")
        if "checkpoint" in exp:
            _check_checkpoint_experiment(exp, config, source, key)
            continue
        if exp["vocab"] not in vocabs:
            raise FlipInputError(f"{source}: {key}.vocab: unknown vocabulary {exp['vocab']!r}")
        for i, enc in enumerate(exp["encoders"]):
            if enc not in encoders:
                raise FlipInputError(f"{source}: {key}.encoders[{i}]: unknown encoder {enc!r}")
            _check_published(encoders[enc], corpora[exp["corpus"]], exp, f"{source}: {key}.encoders[{i}]", enc)
        views = corpus_views(corpora[exp["corpus"]])
        target = vocabs[exp["vocab"]]["view"]
        if target not in views:
            raise FlipInputError(f"{source}: {key}.vocab: corpus {exp['corpus']!r} has no view {target!r}")
        trainable = corpus_train_views(corpora[exp["corpus"]])
        for i, pair in enumerate(exp["train_views"]):
            for view in pair:
                if view not in trainable:
                    where = "only in its test split" if view in views else "no view"
                    raise FlipInputError(f"{source}: {key}.train_views[{i}]: corpus {exp['corpus']!r} has {where} "
                                         f"{view!r} (training views: {trainable})")
        for i, view in enumerate(exp["test_views"]):
            if view not in views:
                raise FlipInputError(f"{source}: {key}.test_views[{i}]: corpus {exp['corpus']!r} has no view {view!r}")
        _check_view_languages(exp, encoders, f"{source}: {key}")
        _check_sweep(exp, source, key)
        _check_sim_threshold(config, exp, source, key)
        ranks_key = "sweep.rank" if "rank" in exp.get("sweep", {}) else "ranks"
        for i, rank in enumerate(exp.get("sweep", {}).get("rank", exp.get("ranks", ["full"]))):
            for enc in exp["encoders"]:
                dim = encoders[enc].get("dim")
                if isinstance(rank, int) and dim is not None and rank > dim:
                    raise FlipInputError(
                        f"{source}: {key}.{ranks_key}[{i}]: rank {rank} exceeds the dimension {dim} of encoder {enc!r}"
                    )
        if "splice" in exp["probes"] and vocabs[exp["vocab"]].get("kind", "words") != "concepts":
            raise FlipInputError(f"{source}: {key}.probes: splice needs a concept vocabulary "
                                 f"(vocabularies.{exp['vocab']}.kind: concepts)")
    for name, spec in config.get("entities", {}).items():
        if spec["corpus"] not in corpora:
            raise FlipInputError(f"{source}: entities.{name}.corpus: unknown corpus {spec['corpus']!r}")
        if spec["view"] not in corpus_views(corpora[spec["corpus"]]) or not spec["view"].startswith("text_"):
            raise FlipInputError(f"{source}: entities.{name}.view: {spec['view']!r} is not a text view of corpus "
                                 f"{spec['corpus']!r}")
    for section in ("tables", "figures"):
        for name, spec in config.get(section, {}).items():
            for i, exp in enumerate(spec["experiments"]):
                if exp not in config["experiments"]:
                    raise FlipInputError(f"{source}: {section}.{name}.experiments[{i}]: unknown experiment {exp!r}")
            for exp in spec.get("groups", {}):
                if exp not in spec["experiments"]:
                    raise FlipInputError(f"{source}: {section}.{name}.groups: {exp!r} is not one of its experiments")
            _check_select(spec, config["experiments"], f"{source}: {section}.{name}.select")
            if spec["layout"] == "entity_recall" and spec.get("entities") not in config.get("entities", {}):
                raise FlipInputError(f"{source}: {section}.{name}.entities: needs an entry of entities, "
                                     f"got {spec.get('entities')!r}")
    check_thesis(config, source)
    outputs = {*config.get("tables", {}), *config.get("figures", {})}
    for key in ("targets", "paper"):
        for i, target in enumerate(config.get(key, [])):
            if target not in outputs:
                raise FlipInputError(f"{source}: {key}[{i}]: {target!r} is neither a table nor a figure")


def _check_select(spec: dict[str, Any], experiments: dict[str, Any], key: str) -> None:
    """Each value a table's or figure's ``select`` keeps must be one of its experiments' (a typo
    would leave runs out, or none)."""
    exps = [experiments[e] for e in spec["experiments"]]
    known = {"encoders": [v for e in exps for v in e["encoders"]],
             "probes": [v for e in exps for v in e.get("probes", [e.get("probe")])],
             "ranks": [v for e in exps for v in e.get("ranks", [e.get("rank", "full")])],
             "train_views": [v for e in exps for v in e.get("train_views", [])],
             "test_views": [v for e in exps for v in e["test_views"]]}
    for option, values in spec.get("select", {}).items():
        for i, value in enumerate(values):
            if value not in known[option]:
                raise FlipInputError(f"{key}.{option}[{i}]: {value!r} is none of the {option} of its experiments "
                                     f"{spec['experiments']} ({', '.join(map(str, dict.fromkeys(known[option])))})")


def _check_checkpoint_experiment(exp: dict[str, Any], config: dict[str, Any], source: str, key: str) -> None:
    """The references of an experiment with a ``checkpoint``: its one encoder, its views, its rank."""
    corpus, encoders = config["corpora"][exp["corpus"]], config["encoders"]
    enc = exp["encoders"][0]
    if enc not in encoders:
        raise FlipInputError(f"{source}: {key}.encoders[0]: unknown encoder {enc!r}")
    _check_published(encoders[enc], corpus, exp, f"{source}: {key}.encoders[0]", enc)
    views = corpus_views(corpus)
    for i, view in enumerate(exp["test_views"]):
        if view not in views:
            raise FlipInputError(f"{source}: {key}.test_views[{i}]: corpus {exp['corpus']!r} has no view {view!r}")
    target = checkpoint_vocab_view(exp, corpus, f"{source}: {key}")
    if target not in views or not target.startswith("text_"):
        raise FlipInputError(f"{source}: {key}.vocab_view: {target!r} is not a text view of corpus "
                             f"{exp['corpus']!r} (views: {views})")
    dim, rank = encoders[enc].get("dim"), exp.get("rank")
    if isinstance(rank, int) and dim is not None and rank > dim:
        raise FlipInputError(f"{source}: {key}.rank: rank {rank} exceeds the dimension {dim} of encoder {enc!r}")


def _check_view_languages(exp: dict[str, Any], encoders: dict[str, Any], key: str) -> None:
    """Every encoder of an experiment takes the language of each of its views (its model's own
    list, :mod:`flip_pipeline.models`); else an error naming the view's key."""
    keyed = [(f"train_views[{i}]", view) for i, pair in enumerate(exp["train_views"]) for view in pair]
    keyed += [(f"test_views[{i}]", view) for i, view in enumerate(exp["test_views"])]
    for enc in exp["encoders"]:
        for where, view in keyed:
            problem = view_language_problem(encoders[enc], view, enc)
            if problem is not None:
                raise FlipInputError(f"{key}.{where}: encoder {enc!r}: {problem}")


def _check_sweep(exp: dict[str, Any], source: str, key: str) -> None:
    """An experiment's ``sweep`` (config key ``key``) varies what nothing else of the experiment
    fixes (its ``ranks`` or ``training``; the top-level ``training`` holds defaults), and trains something."""
    sweep = exp.get("sweep", {})
    for setting in sweep:
        fixed = "ranks" if setting == "rank" and "ranks" in exp else (
            f"training.{setting}" if setting in exp.get("training", {}) else None)
        if fixed:
            raise FlipInputError(f"{source}: {key}.sweep.{setting}: also fixed by {key}.{fixed}; "
                                 "sweep a setting or fix it, not both")
    if sweep and set(exp["probes"]) == {"splice"}:
        raise FlipInputError(f"{source}: {key}.sweep: SpLiCE has no training settings to sweep "
                             f"(probes: {exp['probes']})")
    if "rank" in sweep and "flip" not in exp["probes"]:
        raise FlipInputError(f"{source}: {key}.sweep.rank: only FLiP has a rank (probes: {exp['probes']})")


def _sets_key(data: Any, path: list) -> bool:
    """Whether the nested ``data`` of one config file holds the key ``path`` (keys and list indices)."""
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return False
    return True


def load_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and validate a config file."""
    config = read_config_file(path)
    validate_config(config, str(path))
    return config
