"""Shared fixtures. Tests run offline: no model or dataset hub is reachable."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

REPO = Path(__file__).resolve().parent.parent
TATOEBA = REPO.parent / "shared" / "data" / "tatoeba"


@pytest.fixture(scope="session")
def tatoeba_dir() -> Path:
    """``../shared/data/tatoeba`` (real sentences, read in place, never copied)."""
    if not TATOEBA.is_dir():
        pytest.fail(f"{TATOEBA} is missing: the shared data folder must sit beside the repository")
    return TATOEBA
