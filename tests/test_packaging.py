"""The package builds offline with the set-up's own tools, and its metadata says what the repository says."""

from __future__ import annotations

import email.parser
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from importlib.metadata import version as installed_version
from pathlib import Path

import pytest
import yaml

import flip_pipeline

REPO = Path(__file__).resolve().parent.parent
SETUPTOOLS = installed_version("setuptools")


def test_citation_and_license_agree_with_pyproject():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    citation = yaml.safe_load((REPO / "CITATION.cff").read_text(encoding="utf-8"))
    assert citation["version"] == flip_pipeline.__version__ and citation["license"] == project["license"] == "MIT"
    assert (REPO / "LICENSE").read_text().startswith("MIT License")
    paper = citation["preferred-citation"]
    assert [a["family-names"] for a in paper["authors"]] == ["Kesiraju", "Yusuf", "Sedláček", "Plchot", "Schwarz"]
    assert paper["url"] == "https://arxiv.org/abs/2604.18109" in project["urls"].values()


@pytest.mark.skipif(int(SETUPTOOLS.split(".")[0]) < 77 and os.environ.get("CI") != "true",
                    reason=f"setuptools {SETUPTOOLS} in this venv predates PEP 639; setup.sh installs >= 77")
def test_the_wheel_builds_offline_with_the_venvs_own_tools(tmp_path):
    """`pip wheel . --no-build-isolation --no-deps --no-index` on the tracked files: no download, no build env."""
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    for name in tracked:
        (tmp_path / "src" / name).parent.mkdir(parents=True, exist_ok=True)
        if (REPO / name).is_file():
            shutil.copy2(REPO / name, tmp_path / "src" / name)
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", ".", "--no-build-isolation", "--no-deps", "--no-index",
                           "-q", "-w", str(tmp_path / "dist")], cwd=tmp_path / "src", capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    wheel = next((tmp_path / "dist").glob("flip_pipeline-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        info = next(n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = email.parser.Parser().parsestr(archive.read(info).decode())
        entry_points = archive.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert metadata["Version"] == flip_pipeline.__version__ and metadata["License-Expression"] == "MIT"
    assert any(n.endswith("licenses/LICENSE") for n in names) and "flip_pipeline/schemas/config.schema.yaml" in names
    assert "flip = flip_pipeline.cli:main" in entry_points
    assert "FLiP paper (arXiv:2604.18109), https://arxiv.org/abs/2604.18109" in metadata.get_all("Project-URL")
    extras = set(metadata.get_all("Provides-Extra"))
    assert {"text", "sonar", "use", "gemini", "entities", "thesis", "workflow", "all", "test"} <= extras
    core = [r for r in metadata.get_all("Requires-Dist") if "extra ==" not in r]
    assert not [r for r in core if r.split()[0].split(">")[0].split("=")[0].split("<")[0] in
                {"snakemake", "spacy", "google-genai", "fairseq2", "sonar-space", "datasets"}], core
