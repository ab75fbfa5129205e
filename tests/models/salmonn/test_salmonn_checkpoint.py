"""The checkpoint converter: a torch.save round trip, and a pickle that would run code refused."""

import hashlib
import json

import pytest
import torch
from safetensors import safe_open

from flip_pipeline.errors import FlipInputError
from flip_pipeline.models.salmonn.checkpoint import convert_checkpoint, load_converted


class _Payload:
    """Unpickling calls ``open(marker, "w")``: a file appears if the pickle is executed."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


def test_a_nested_checkpoint_round_trips(tmp_path):
    torch.manual_seed(0)
    weight = torch.randn(4, 3)
    state = {"model": {"speech_Qformer.bert.layer.0.weight": weight, "query_tokens": torch.randn(1, 1, 8),
                       "tied": weight, "half": torch.randn(5).half(), "steps": [torch.arange(3), torch.ones(2)]},
             "cfg": {"encoder_layers": 12, "layer_norm_first": False, "activation_fn": "gelu", "dropout": 0.1,
                     "predictor": None}}
    source = tmp_path / "ckpt.pth"
    torch.save(state, source)
    report = convert_checkpoint(source, tmp_path / "out" / "ckpt.safetensors")
    sha = hashlib.sha256(source.read_bytes()).hexdigest()
    assert report["sha256"] == sha and report["tensors"] == 6
    assert (tmp_path / "out" / "ckpt.safetensors.sha256").read_text() == f"{sha}  ckpt.pth\n"
    tensors, plain = load_converted(tmp_path / "out" / "ckpt.safetensors", "test")
    assert plain == {"cfg.encoder_layers": 12, "cfg.layer_norm_first": False, "cfg.activation_fn": "gelu",
                     "cfg.dropout": 0.1, "cfg.predictor": None}
    flat = {"model.speech_Qformer.bert.layer.0.weight": weight, "model.query_tokens": state["model"]["query_tokens"],
            "model.tied": weight, "model.half": state["model"]["half"], "model.steps.0": torch.arange(3),
            "model.steps.1": torch.ones(2)}
    assert tensors.keys() == flat.keys()
    for key, value in flat.items():
        assert tensors[key].dtype == value.dtype and torch.equal(tensors[key], value), key
    with safe_open(str(tmp_path / "out" / "ckpt.safetensors"), framework="pt") as handle:
        meta = handle.metadata()
    assert meta["flip.source_sha256"] == sha and meta["flip.source"] == "ckpt.pth"
    assert json.loads(meta["flip.plain"])["cfg.encoder_layers"] == 12


def test_a_pickle_that_would_run_code_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    source = tmp_path / "evil.pth"
    torch.save({"model": {"w": torch.ones(2)}, "hook": _Payload(marker)}, source)
    target = tmp_path / "evil.safetensors"
    with pytest.raises(FlipInputError, match=r"evil\.pth: refused, not only tensors.*would import io\.open") as info:
        convert_checkpoint(source, target)
    assert "\n" not in str(info.value)
    assert not marker.exists() and not target.exists() and not (tmp_path / "evil.safetensors.sha256").exists()
    # the payload is real: an unrestricted load runs it
    proof = tmp_path / "proof"
    torch.save(_Payload(proof), tmp_path / "proof.pth")
    torch.load(tmp_path / "proof.pth", weights_only=False)
    assert proof.exists()


def test_bad_sources_are_one_line_errors(tmp_path):
    with pytest.raises(FlipInputError, match=r"missing\.pth: no such checkpoint"):
        convert_checkpoint(tmp_path / "missing.pth", tmp_path / "x.safetensors")
    (tmp_path / "text.pth").write_text("not a checkpoint")
    with pytest.raises(FlipInputError, match=r"text\.pth: (not a PyTorch checkpoint|refused)"):
        convert_checkpoint(tmp_path / "text.pth", tmp_path / "x.safetensors")
    torch.save({"cfg": {"a": 1}}, tmp_path / "empty.pth")
    with pytest.raises(FlipInputError, match="empty.pth: holds no tensors"):
        convert_checkpoint(tmp_path / "empty.pth", tmp_path / "x.safetensors")
    assert not (tmp_path / "x.safetensors").exists()
    with pytest.raises(FlipInputError, match=r"encoders\.s\.beats: converted weight file .*nope\.safetensors not "
                                             r"found; .*flip convert-weights"):
        load_converted(tmp_path / "nope.safetensors", "encoders.s.beats")
