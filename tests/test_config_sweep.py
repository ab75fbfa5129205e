"""An experiment's `sweep`: its points (one trained run each, own fingerprint), the swept run
chosen from them, and the config errors that name the key."""

import copy
from pathlib import Path

import pytest

from flip_pipeline.config.runs import expand_runs
from flip_pipeline.config.validation import load_config, validate_config
from flip_pipeline.errors import FlipInputError
from flip_pipeline.plan.runs import ReportPlan

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def config():
    return load_config(REPO / "config.yaml")


def swept(config, sweep, **exp):
    """config.yaml with the quickstart experiment sweeping ``sweep`` (its ranks dropped)."""
    out = copy.deepcopy(config)
    quick = out["experiments"]["quickstart"]
    quick.pop("ranks")
    quick.update(sweep=sweep, **exp)
    return out


def runs(config):
    return {r.name: r for r in expand_runs(config, "quickstart") if r.encoder == "minilm"}


def test_a_sweep_expands_into_points_each_a_run_of_its_own(config):
    c = swept(config, {"rank": [64, 128], "weight_decay": [0, 0.1], "l1": [1e-5]})
    validate_config(c)
    flip, lip = runs(c)["flip-rsweep-a0.5-minilm-text_en+text_de"], runs(c)["lip-a0.5-minilm-text_en+text_de"]
    assert [p.name for p in flip.points] == [f"flip-rsweep-a0.5-minilm-text_en+text_de@l1=1e-05,rank={r},weight_decay={w}"
                                             for r in (64, 128) for w in (0, 0.1)]  # keys sorted, values as listed
    assert [(p.rank, p.training["weight_decay"], p.training["l1"]) for p in flip.points] == [
        (64, 0, 1e-5), (64, 0.1, 1e-5), (128, 0, 1e-5), (128, 0.1, 1e-5)]
    assert all(p.training["batch_size"] == 256 for p in flip.points)  # the experiment's other settings stay
    assert [p.name for p in lip.points] == [f"lip-a0.5-minilm-text_en+text_de@l1=1e-05,weight_decay={w}"
                                            for w in (0, 0.1)]  # LiP has no rank
    assert len({p.fingerprint for p in flip.points + lip.points}) == 6
    assert flip.spec()["points"][0] == {"run": flip.points[0].name, "fingerprint": flip.points[0].fingerprint,
                                        "settings": {"l1": 1e-5, "rank": 64, "weight_decay": 0}}
    assert flip.points[1].spec()["sweep"] == {"l1": 1e-5, "rank": 64, "weight_decay": 0.1}
    plan = ReportPlan(c, "results")  # points are trained, only swept runs are evaluated
    entries = plan.spec("quickstart")["entries"]
    assert {e["run"] for e in entries if e["encoder"] == "minilm"} == {flip.name, lip.name}
    assert all(e["model"].endswith("/selected.json") and e["selection"] == e["model"] for e in entries
               if e["method"] != "splice")
    assert plan.run("quickstart", flip.points[2].name).rank == 128


def test_a_changed_grid_keeps_the_points_it_still_has(config):
    before = runs(swept(config, {"weight_decay": [0, 0.1]}, ranks=[128]))["flip-r128-a0.5-minilm-text_en+text_de"]
    grown = swept(config, {"weight_decay": [0, 0.1, 0.2]}, ranks=[128])
    after = runs(grown)["flip-r128-a0.5-minilm-text_en+text_de"]
    kept = {p.name: p.fingerprint for p in before.points}
    assert {p.name: p.fingerprint for p in after.points[:2]} == kept  # same names and fingerprints: not retrained
    assert after.points[2].name.endswith("@weight_decay=0.2") and after.fingerprint != before.fingerprint
    changed = copy.deepcopy(grown)
    changed["training"]["lr"] = 0.001  # a setting every point shares: every point is another model
    assert not {p.fingerprint for p in runs(changed)[after.name].points} & set(kept.values())


def test_an_experiment_without_a_sweep_is_unchanged(config):
    plain = runs(config)["flip-r128-a0.5-minilm-text_en+text_de"]
    assert not plain.points and not plain.sweep and plain.model_kind == "flip" and "sweep" not in plain.spec()


def _error(config, sweep, **exp):
    with pytest.raises(FlipInputError) as err:
        validate_config(swept(config, sweep, **exp))
    return str(err.value)


@pytest.mark.parametrize("sweep, exp, expected", [
    ({"momentum": [0.9]}, {}, ("experiments.quickstart.sweep: Additional properties are not allowed "
                                      "('momentum' was unexpected)")),
    ({"lr": []}, {}, "experiments.quickstart.sweep.lr: [] should be non-empty"),
    ({}, {}, "experiments.quickstart.sweep: {} should be non-empty"),
    ({"lr": [-0.1]}, {}, "experiments.quickstart.sweep.lr[0]: -0.1 is less than or equal to the minimum of 0"),
    ({"weight_decay": [0, 0.0]}, {}, "experiments.quickstart.sweep.weight_decay: [0, 0.0] has non-unique elements"),
    ({"batch_size": [64, 128]}, {}, "experiments.quickstart.sweep.batch_size: also fixed by "
                                    "experiments.quickstart.training.batch_size"),
    ({"rank": [64]}, {"ranks": [128]}, "experiments.quickstart.sweep.rank: also fixed by experiments.quickstart.ranks"),
    ({"rank": [64, 512]}, {}, "experiments.quickstart.sweep.rank[1]: rank 512 exceeds the dimension 384"),
    ({"rank": [64]}, {"probes": ["lip"]}, "experiments.quickstart.sweep.rank: only FLiP has a rank"),
])
def test_a_bad_sweep_is_an_error_naming_the_key(config, sweep, exp, expected):
    assert expected in _error(config, sweep, **exp)


def test_a_sweep_of_splice_alone_is_an_error(config):
    c = copy.deepcopy(config)
    c["experiments"]["t6_splice"].update(probes=["splice"], sweep={"lr": [0.001]})
    with pytest.raises(FlipInputError, match="experiments.t6_splice.sweep: SpLiCE has no training settings"):
        validate_config(c)
