"""Entities files: named entities of the sentences of one text view, as JSON lines.

File ``entities/{entities}.jsonl``, one JSON object per sentence in corpus order::

    {"id": "...", "text": "...", "entities": [{"text": "New York", "label": "GPE",
                                              "start_char": 27, "end_char": 35}, ...]}

Character offsets index the raw text as stored in the corpus table.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable

from flip_pipeline.atomic import atomic_path, strict_json
from flip_pipeline.errors import FlipInputError
from flip_pipeline.files import read_lines


def write_records(path: str | os.PathLike[str], records: Iterable[dict]) -> int:
    """Write JSON lines atomically; returns the number of records."""
    count = 0
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        for record in records:
            fh.write(strict_json(record) + "\n")
            count += 1
    return count


def read_entities(
    path: str | os.PathLike[str], labels: Iterable[str] | None = None
) -> tuple[list[str], list[list[str]]]:
    """``(ids, entity texts per sentence)`` of an entities file, optionally only the given labels."""
    keep = set(labels) if labels is not None else None
    ids: list[str] = []
    texts: list[list[str]] = []
    for line_no, line in enumerate(read_lines(path, "entities file"), 1):
        if line.strip():
            try:
                record = json.loads(line)
                ents = [e["text"] for e in record["entities"] if keep is None or e["label"] in keep]
                ids.append(record["id"])
            except (json.JSONDecodeError, KeyError, TypeError) as err:
                raise FlipInputError(f"{path}:{line_no}: not an entities record: {err}") from None
            texts.append(ents)
    return ids, texts
