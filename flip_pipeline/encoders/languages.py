"""Which views an encoder config can take, judged from the config alone (no model loaded, no
torch), so that a config naming a language its model lacks fails when the workflow starts.

The families that take a language carry their model's own list
(:mod:`flip_pipeline.encoders.sonar_languages`, :mod:`flip_pipeline.layers.seamless_m4t_languages`);
a ``composite`` is judged by the part of the view's modality; every other family takes any
language it is given (sentence-transformers models and the controls take no language code).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flip_pipeline.encoders import sonar_languages
from flip_pipeline.formats.corpus_table import view_modality
from flip_pipeline.layers import seamless_m4t_languages

#: SALMONN shares SeamlessM4T v2's languages (thesis Table 4.2).
PROBLEMS = {"sonar": sonar_languages.view_problem, "seamless_m4t": seamless_m4t_languages.view_problem,
            "salmonn": seamless_m4t_languages.view_problem}


def view_language_problem(spec: Mapping[str, Any], view: str, name: str) -> str | None:
    """Why the encoder configured as ``encoders.<name>`` = ``spec`` cannot take ``view`` (one line
    naming the language), or ``None``."""
    family = spec.get("family")
    if family == "composite":
        part = spec.get(view_modality(view))
        return view_language_problem(part, view, f"{name}.{view_modality(view)}") if isinstance(part, Mapping) else None
    check = PROBLEMS.get(family)
    return None if check is None else check(spec, view, name)
