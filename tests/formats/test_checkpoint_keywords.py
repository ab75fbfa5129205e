"""Checkpoints in the published layout load and answer `flip keywords`."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers.hub import COMMIT, HUB_ID, offline_hub_cache
from safetensors.torch import save_file

from flip_pipeline.cli import main
from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.checkpoint import load_checkpoint, resolve_checkpoint, save_checkpoint
from flip_pipeline.formats.shards import write_shard
from flip_pipeline.formats.vocabulary import Vocabulary
from flip_pipeline.probes.lip import FLiP, make_probe
from flip_pipeline.text import Tokenizer

WORDS = ["apple", "berlin", "red", "the", "train"]


def _checkpoint_dir(folder, tensors):
    """``folder`` with ``tensors`` in model.safetensors and the five WORDS in vocab.json."""
    folder.mkdir()
    save_file(tensors, str(folder / "model.safetensors"))
    (folder / "vocab.json").write_text(json.dumps({w: i for i, w in enumerate(WORDS)}))
    return folder


def _flip_tensors(first="apple", second="berlin"):
    """FLiP's E1, E2, b over WORDS (rank 2, dimension 3): embedding axis 0 reads ``first``, axis 1 ``second``."""
    e1 = torch.zeros(5, 2)
    e1[WORDS.index(first), 0] = 1.0
    e1[WORDS.index(second), 1] = 1.0
    b = torch.tensor([[-9.0], [-9.0], [-9.0], [5.0], [-9.0]])  # "the" dominates only with the bias
    return {"E1": e1, "E2": torch.eye(2, 3), "b": b}


def _published_dir(tmp_path, compiled=False):
    """A folder laid out like BUT-FIT/FLiP-en-sonar/mcv15/rank-512 (small sizes)."""
    prefix = "_orig_mod." if compiled else ""
    d = _checkpoint_dir(tmp_path / "rank-2", {f"{prefix}{k}": v for k, v in _flip_tensors().items()})
    (d / "config.json").write_text(json.dumps({"rank": 2}))
    return d


@pytest.mark.parametrize("compiled", [False, True])
def test_published_layout_loads(tmp_path, compiled):
    probe, vocab, _ = load_checkpoint(_published_dir(tmp_path, compiled))
    assert isinstance(probe, FLiP) and probe.rank == 2 and probe.dim == 3
    assert vocab.words == WORDS


def _shard(tmp_path):
    """Two embeddings: s1 along axis 0, s2 along axis 1."""
    shard = tmp_path / "part-00000.parquet"
    write_shard(shard, ["s1", "s2"], np.array([[3.0, 0.0, 0.0], [0.0, 3.0, 0.0]], np.float32), {})
    return shard


def test_flip_keywords_on_embeddings_with_and_without_bias(tmp_path, capsys):
    model = _published_dir(tmp_path)
    shard = _shard(tmp_path)
    assert main(["keywords", "--model", str(model), "--embeddings", str(shard), "-k", "1"]) == 0
    assert capsys.readouterr().out.splitlines() == ["s1\tapple", "s2\tberlin"]
    assert main(["keywords", "--model", str(model), "--embeddings", str(shard), "-k", "2", "--bias"]) == 0
    assert capsys.readouterr().out.splitlines() == ["s1\tthe apple", "s2\tthe berlin"]


def _our_checkpoint(folder):
    """A LiP checkpoint written by save_checkpoint that reads each word's own bow_projection direction."""
    vocab = Vocabulary(WORDS, Tokenizer("latin"))
    probe = make_probe("lip", len(WORDS), 16)
    spec = {"family": "bow_projection", "dim": 16}
    from flip_pipeline.models.controls.ceiling_floor import BowProjection

    control = BowProjection("bow", 16)
    with torch.no_grad():
        probe.E.copy_(torch.from_numpy(np.stack([control._vector(w) for w in WORDS])))
        probe.b.zero_()
    save_checkpoint(folder, probe, vocab, {"encoder": "bow", "encoder_spec": spec, "target_view": "text_en"})
    return probe


def test_roundtrip_of_our_checkpoint_and_text_query(tmp_path, capsys):
    probe = _our_checkpoint(tmp_path)
    again, vocab2, config = load_checkpoint(tmp_path)
    assert config["type"] == "lip" and vocab2.words == WORDS
    torch.testing.assert_close(again.E, probe.E)
    assert main(["keywords", "--model", str(tmp_path), "--text", "Red apples? No: red apple!", "-k", "2"]) == 0
    assert capsys.readouterr().out.strip().split("\t")[1] == "red apple"


def test_bad_checkpoints_are_named(tmp_path):
    d = _published_dir(tmp_path)
    (d / "vocab.json").write_text(json.dumps({"apple": 0}))
    with pytest.raises(FlipInputError, match="5 words but vocab.json has 1"):
        load_checkpoint(d)
    with pytest.raises(FlipInputError, match="no model.safetensors"):
        load_checkpoint(tmp_path / "empty")
    with pytest.raises(FlipInputError, match="rank 9 must be between 1 and the embedding dimension 4"):
        make_probe("flip", 10, 4, rank=9)


@pytest.mark.parametrize("tensors, message", [
    ({"E1": torch.zeros(5, 4), "E2": torch.zeros(3, 8), "b": torch.zeros(5, 1)},
     "E1 is 5x4 and E2 is 3x8: the columns of E1 and the rows of E2 (the rank) must agree"),
    ({"E1": torch.zeros(5, 2), "E2": torch.zeros(2, 3), "b": torch.zeros(4, 1)},
     "b is 4x1 but E1 has 5 rows (words); expected b of 5x1"),
    ({"E": torch.zeros(5, 3), "b": torch.zeros(5, 2)}, "b is 5x2 but E has 5 rows (words); expected b of 5x1"),
    ({"E": torch.zeros(5), "b": torch.zeros(5, 1)}, "E is 1-d (5); expected a matrix words x dim"),
    ({"E1": torch.zeros(5, 2, 1), "E2": torch.zeros(2, 3), "b": torch.zeros(5)}, "E1 is 3-d (5x2x1); expected a matrix words x rank"),
])
def test_tensors_of_wrong_shapes_are_named(tmp_path, tensors, message):
    d = _checkpoint_dir(tmp_path / "m", tensors)
    with pytest.raises(FlipInputError, match=re.escape(f"{d / 'model.safetensors'}: {message}")) as err:
        load_checkpoint(d)
    assert "\n" not in str(err.value)


def test_a_pickle_named_model_safetensors_is_not_unpickled(tmp_path):
    d = _published_dir(tmp_path)
    ran = tmp_path / "payload-ran"
    # A pickle whose payload would create `ran`: refused as a non-safetensors file, never run.
    payload = b"cos\nsystem\n(S'touch " + str(ran).encode() + b"'\ntR."
    (d / "model.safetensors").write_bytes(payload)
    with pytest.raises(FlipInputError, match=re.escape(f"{d / 'model.safetensors'}: not a safetensors file")):
        load_checkpoint(d)
    assert not ran.exists()


@pytest.mark.parametrize("extra, message", [
    ({"W": torch.zeros(3)}, "unexpected tensors ['W']; a FLiP checkpoint holds exactly E1, E2, b"),
    ({"_orig_mod.W": torch.zeros(3), "E": torch.zeros(5, 3)},
     "unexpected tensors ['E', 'W']; a FLiP checkpoint holds exactly E1, E2, b"),
])
def test_extra_tensors_are_named(tmp_path, extra, message):
    tensors = {"E1": torch.zeros(5, 2), "E2": torch.zeros(2, 3), "b": torch.zeros(5, 1), **extra}
    d = _checkpoint_dir(tmp_path / "m", tensors)
    with pytest.raises(FlipInputError, match=re.escape(f"{d / 'model.safetensors'}: {message}")):
        load_checkpoint(d)


def test_a_tensor_stored_with_and_without_the_compile_prefix_is_named(tmp_path):
    tensors = {"E": torch.zeros(5, 3), "_orig_mod.E": torch.ones(5, 3), "b": torch.zeros(5, 1)}
    d = _checkpoint_dir(tmp_path / "m", tensors)
    with pytest.raises(FlipInputError, match="tensor E is stored twice, as E and _orig_mod.E"):
        load_checkpoint(d)


@pytest.mark.parametrize("name", ["E1", "E2", "b"])
def test_non_finite_tensors_are_named(tmp_path, name):
    tensors = {"E1": torch.zeros(5, 2), "E2": torch.zeros(2, 3), "b": torch.zeros(5, 1)}
    tensors[name] = tensors[name].clone()
    tensors[name].view(-1)[:2] = torch.tensor([float("nan"), float("-inf")])
    d = _checkpoint_dir(tmp_path / "m", tensors)
    with pytest.raises(FlipInputError, match=re.escape(f"model.safetensors: tensor {name} has 2 non-finite values")):
        load_checkpoint(d)


@pytest.mark.parametrize("k", ["0", "-5"])
def test_keywords_refuse_a_top_k_below_one(tmp_path, capsys, k):
    _our_checkpoint(tmp_path)
    assert main(["keywords", "--model", str(tmp_path), "--text", "red apple", "-k", k]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.splitlines() == [f"flip keywords: error: argument -k/--top-k: {k} must be 1 or more "
                                              "(usage: flip keywords --help)"]


@pytest.mark.parametrize("text", ["", " \t "])
def test_keywords_refuse_an_empty_text(tmp_path, capsys, text):
    _our_checkpoint(tmp_path)
    assert main(["keywords", "--model", str(tmp_path), "--text", "red apple", text, "-k", "1"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.splitlines() == [
        "flip keywords: error: --text: text 1 (counting from 0) is empty or only whitespace"]


def test_keywords_into_a_closed_pipe_exit_quietly_with_141(tmp_path):
    _our_checkpoint(tmp_path)
    read_end, write_end = os.pipe()
    os.close(read_end)  # like `| head -1` once head has exited: every write fails with EPIPE
    cmd = [sys.executable, "-m", "flip_pipeline.cli", "keywords", "--model", str(tmp_path), "--text", "red apple",
           "an apple", "-k", "2"]
    try:
        result = subprocess.run(cmd, stdout=write_end, stderr=subprocess.PIPE, timeout=300)
    finally:
        os.close(write_end)
    assert result.stderr.decode() == "" and result.returncode == 141


def _save_flip(folder, first="apple", second="berlin"):
    """A FLiP checkpoint written by save_checkpoint (keys E1, E2, b, as published) into ``folder``."""
    probe = FLiP(len(WORDS), 3, 2)
    probe.load_state_dict(_flip_tensors(first, second))
    save_checkpoint(folder, probe, Vocabulary(WORDS, Tokenizer("latin")), {"rank": 2})
    return folder


@pytest.fixture
def hub_cache(tmp_path, monkeypatch):
    """An offline hub cache (HF_HUB_CACHE) holding BUT-FIT/FLiP-en-sonar's mcv15/rank-512 (tests/helpers/hub.py)."""
    return offline_hub_cache(tmp_path, monkeypatch, _save_flip)


def test_flip_keywords_by_hub_id_read_the_offline_hub_cache(hub_cache, tmp_path, capsys):
    snapshot = hub_cache / "models--BUT-FIT--FLiP-en-sonar" / "snapshots" / COMMIT
    assert resolve_checkpoint(HUB_ID) == snapshot / "mcv15" / "rank-512"
    shard = _shard(tmp_path)
    assert main(["keywords", "--model", HUB_ID, "--embeddings", str(shard), "-k", "1"]) == 0
    assert capsys.readouterr().out.splitlines() == ["s1\tapple", "s2\tberlin"]
    assert main(["keywords", "--model", HUB_ID, "--embeddings", str(shard), "-k", "2", "--bias"]) == 0
    assert capsys.readouterr().out.splitlines() == ["s1\tthe apple", "s2\tthe berlin"]


def test_a_local_folder_named_like_the_hub_id_wins(hub_cache, tmp_path, capsys):
    _save_flip(tmp_path / "cwd" / HUB_ID, first="berlin", second="apple")  # the cached one, swapped
    assert resolve_checkpoint(HUB_ID) == Path(HUB_ID)
    assert main(["keywords", "--model", HUB_ID, "--embeddings", str(_shard(tmp_path)), "-k", "1"]) == 0
    assert capsys.readouterr().out.splitlines() == ["s1\tberlin", "s2\tapple"]


@pytest.mark.parametrize("model, where", [
    ("BUT-FIT/FLiP-en-sonar/mcv15/rank-256", "hub repository BUT-FIT/FLiP-en-sonar (subfolder mcv15/rank-256)"),
    ("BUT-FIT/FLiP-de-sonar/mcv15/rank-512", "hub repository BUT-FIT/FLiP-de-sonar (subfolder mcv15/rank-512)"),
    ("BUT-FIT/FLiP-de-sonar", "hub repository BUT-FIT/FLiP-de-sonar"),
])
def test_a_hub_id_missing_from_the_offline_cache_is_one_line(hub_cache, tmp_path, capsys, model, where):
    assert main(["keywords", "--model", model, "--embeddings", str(_shard(tmp_path))]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.splitlines() == [f"flip keywords: error: {model}: no such local folder, and {where} "
                                              f"is not in the local cache {hub_cache} (HF_HUB_OFFLINE=1)"]


@pytest.mark.parametrize("model", ["rank-512", "/no/such/folder", "BUT-FIT/../rank-512", "BUT-FIT//rank-512",
                                   "BUT--FIT/FLiP-en-sonar"])
def test_a_missing_folder_that_is_no_hub_id_is_named(hub_cache, model):
    with pytest.raises(FlipInputError) as err:
        resolve_checkpoint(model)
    assert str(err.value) == f"{model}: no such checkpoint folder, and not a hub id owner/name[/subfolder][@revision]"


def test_a_fresh_process_reads_hf_hub_cache_from_the_environment(hub_cache, tmp_path):
    cmd = [sys.executable, "-m", "flip_pipeline.cli", "keywords", "--model", HUB_ID, "--embeddings",
           str(_shard(tmp_path)), "-k", "1"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert (result.returncode, result.stdout.splitlines()) == (0, ["s1\tapple", "s2\tberlin"]), result.stderr
