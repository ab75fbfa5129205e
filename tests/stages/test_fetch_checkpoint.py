"""`flip fetch-checkpoint`: a published checkpoint (hub id or folder) copied into a run's model folder,
its tensors checked against the probe and rank its experiment declares, each mismatch naming that key."""

from __future__ import annotations

import json

import pytest
import torch
from helpers.hub import HUB_ID, offline_hub_cache

from flip_pipeline.cli import main
from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.checkpoint import load_checkpoint, save_checkpoint
from flip_pipeline.formats.vocabulary import Vocabulary
from flip_pipeline.probes.lip import make_probe
from flip_pipeline.stages.fetch_checkpoint import fetch_checkpoint_stage
from flip_pipeline.text import Tokenizer

WORDS = ["apple", "berlin", "farmer", "the"]


def flip_checkpoint(rank: int, dim: int = 6):
    def write(folder):
        torch.manual_seed(0)
        save_checkpoint(folder, make_probe("flip", len(WORDS), dim, rank), Vocabulary(WORDS, Tokenizer("latin")),
                        {"pattern": "latin", "rank": rank})
    return write


def spec(**keys):
    return {"experiment": "published", "run": "flip-r3-sonar-published", "checkpoint": HUB_ID, "probe": "flip",
            "rank": 3, "fingerprint": "f00d", **keys}


def test_a_hub_id_is_copied_with_the_run_recorded(tmp_path, monkeypatch):
    offline_hub_cache(tmp_path, monkeypatch, flip_checkpoint(3))
    out = tmp_path / "models" / "published" / "run"
    assert main(["fetch-checkpoint", "--spec", json.dumps(spec()), "--out-dir", str(out)]) == 0
    probe, vocab, config = load_checkpoint(out)
    assert (probe.kind, probe.rank, vocab.words) == ("flip", 3, WORDS)
    assert config["fingerprint"] == "f00d" and config["checkpoint"] == HUB_ID and config["pattern"] == "latin"
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.safetensors", "vocab.json"]


def test_full_rank_is_the_embedding_dimension(tmp_path, monkeypatch):
    offline_hub_cache(tmp_path, monkeypatch, flip_checkpoint(6))
    fetch_checkpoint_stage(spec(rank="full"), tmp_path / "out")
    with pytest.raises(FlipInputError, match=r"^experiments.published.rank: full \(rank 6\), but .* has rank 4 "):
        flip_checkpoint(4)(tmp_path / "four")
        fetch_checkpoint_stage(spec(rank="full", checkpoint=str(tmp_path / "four")), tmp_path / "out4")


def test_a_declared_rank_or_probe_its_tensors_contradict_is_named(tmp_path, monkeypatch):
    offline_hub_cache(tmp_path, monkeypatch, flip_checkpoint(3))
    with pytest.raises(FlipInputError, match=r"^experiments.published.rank: 512 \(rank 512\), but "
                                             rf"{HUB_ID} \(.*\) has rank 3 .*; set rank: 3$"):
        fetch_checkpoint_stage(spec(rank=512), tmp_path / "out")
    with pytest.raises(FlipInputError, match=r"^experiments.published.probe: lip, but .* holds a flip checkpoint "
                                             r"\(E1, E2, b\); set probe: flip$"):
        fetch_checkpoint_stage(spec(probe="lip", rank=None), tmp_path / "out")
    assert not (tmp_path / "out").exists()  # nothing half-copied


def test_a_missing_hub_id_is_named(tmp_path, monkeypatch):
    offline_hub_cache(tmp_path, monkeypatch, flip_checkpoint(3))
    missing = "BUT-FIT/FLiP-de-sonar/mcv15/rank-512"
    with pytest.raises(FlipInputError, match=rf"^{missing}: no such local folder"):
        fetch_checkpoint_stage(spec(checkpoint=missing), tmp_path / "out")
