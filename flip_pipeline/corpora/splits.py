"""The ``splits`` of a corpus entry: shares of train, dev and test that must add up to 1."""

from __future__ import annotations

import math
from typing import Any

from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.corpus_table import SPLITS

DEFAULT_FRACTIONS = {"train": 0.8, "dev": 0.1, "test": 0.1}


def split_fractions(spec: dict[str, Any], key: str) -> dict[str, float]:
    """``spec["splits"]`` completed and checked: ``{train, dev, test}`` adding up to 1.

    Without ``splits`` the default is 80/10/10; a missing ``train`` or ``dev`` takes its
    default and a missing ``test`` takes the rest. Shares that do not add up to 1 (which
    would silently shrink or overflow the test split) are an error naming ``key``.
    """
    given = spec.get("splits", DEFAULT_FRACTIONS)
    fractions = {s: float(given.get(s, DEFAULT_FRACTIONS[s])) for s in ("train", "dev")}
    fractions["test"] = float(given["test"]) if "test" in given else 1.0 - fractions["train"] - fractions["dev"]
    total = sum(fractions.values())
    shown = ", ".join(f"{s} {fractions[s]:g}" for s in SPLITS)
    if not math.isclose(total, 1.0, abs_tol=1e-6) or min(fractions.values()) <= 0:
        raise FlipInputError(f"{key}: the shares of train, dev and test must be positive and add up to 1, "
                             f"got {shown} (sum {total:g})")
    return fractions
