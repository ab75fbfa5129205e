"""A tiny SALMONN, built once per session (offline: random weights, a tokenizer trained here)."""

import pytest
from helpers.salmonn import tiny_salmonn
from helpers.sonar import SENTENCES

from flip_pipeline.models.salmonn.model import PROMPT, PROMPT_TEMPLATE


@pytest.fixture(scope="session")
def salmonn_files(tmp_path_factory, tatoeba_dir) -> dict[str, str]:
    lines = (tatoeba_dir / "tatoeba.deu-eng.eng").read_text(encoding="utf-8").splitlines()[:300]
    return tiny_salmonn(tmp_path_factory.mktemp("salmonn"), lines + SENTENCES + [PROMPT_TEMPLATE.format(PROMPT)] * 20)
