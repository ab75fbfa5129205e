"""Bad audio (missing, empty, unreadable, too short or too long clips) reported by row id and
path, shared by the encoders of speech views (SONAR speech, the filterbank control)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from flip_pipeline.errors import FlipInputError


def describe(bad: Mapping[str, str], limit: int = 10) -> str:
    """``"id: path: reason; …"`` for the first ``limit`` rows of ``{id: "path: reason"}``."""
    lines = [f"{row_id}: {reason}" for row_id, reason in list(bad.items())[:limit]]
    more = f"; and {len(bad) - limit} more" if len(bad) > limit else ""
    return "; ".join(lines) + more


def bad_audio_error(encoder: str, view: str, bad: Mapping[str, str]) -> FlipInputError:
    """The error for rows with bad audio when ``encoders.<encoder>.skip_bad_audio`` is off."""
    return FlipInputError(
        f"encoder {encoder!r}, view {view!r}: {len(bad)} rows with bad audio "
        f"(set encoders.{encoder}.skip_bad_audio to leave them out): {describe(bad)}"
    )


def encode_or_raise(encoder, ids: list[str], inputs: list[str], view: str) -> np.ndarray:
    """``encoder.encode_skipping`` for callers that need every row: bad audio raises, named."""
    embeddings, skipped = encoder.encode_skipping(ids, inputs, view)
    if skipped:
        raise FlipInputError(f"encoder {encoder.name!r}, view {view!r}: bad audio: {describe(skipped)}")
    return embeddings
