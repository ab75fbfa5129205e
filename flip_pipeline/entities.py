"""The entities stage: named entities of a text view, tagged by a spaCy pipeline.

The paper tags its test data with Gemini-2.5-Flash-Lite (§3.3); here any spaCy pipeline
that assigns ``doc.ents`` does the tagging (an installed package name such as
``en_core_web_sm``, or a folder written by ``nlp.to_disk``), so entity recall (§4.6) runs
offline and reproducibly.

Output ``entities/{corpus}/{split}/{view}.jsonl``, one JSON object per sentence in corpus
order::

    {"id": "...", "text": "...", "entities": [{"text": "New York", "label": "GPE",
                                              "start_char": 27, "end_char": 35}, ...]}

Character offsets index the raw text as stored in the corpus table. Written atomically.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

from flip_pipeline.atomic import atomic_path
from flip_pipeline.corpora.table import read_view, view_modality
from flip_pipeline.errors import FlipInputError


def load_pipeline(name_or_path: str, key: str = "entities.pipeline"):
    """Load a spaCy pipeline that assigns ``doc.ents``; a clear error naming ``key`` otherwise.

    Returns:
        the ``spacy.language.Language``.
    """
    import spacy

    try:
        nlp = spacy.load(name_or_path)
    except (OSError, ValueError, ImportError, KeyError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise FlipInputError(f"{key}: cannot load spaCy pipeline {name_or_path!r} (an installed package "
                             f"name or a folder written by nlp.to_disk): {first}") from None
    if not any("doc.ents" in nlp.get_pipe_meta(name).assigns for name in nlp.pipe_names):
        raise FlipInputError(f"{key}: spaCy pipeline {name_or_path!r} has no component that assigns entities "
                             f"(components: {nlp.pipe_names})")
    return nlp


def tag(nlp, ids: list[str], texts: list[str], batch_size: int = 256) -> Iterable[dict]:
    """One record ``{id, text, entities: [{text, label, start_char, end_char}]}`` per sentence."""
    for row_id, text, doc in zip(ids, texts, nlp.pipe(texts, batch_size=batch_size)):
        entities = [{"text": e.text, "label": e.label_, "start_char": e.start_char, "end_char": e.end_char}
                    for e in doc.ents]
        yield {"id": row_id, "text": text, "entities": entities}


def write_records(path: str | os.PathLike[str], records: Iterable[dict]) -> int:
    """Write JSON lines atomically; returns the number of records."""
    count = 0
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    return count


def read_entities(
    path: str | os.PathLike[str], labels: Iterable[str] | None = None
) -> tuple[list[str], list[list[str]]]:
    """``(ids, entity texts per sentence)`` of an entities file, optionally only the given labels."""
    keep = set(labels) if labels is not None else None
    ids: list[str] = []
    texts: list[list[str]] = []
    with open(path, encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, 1):
            try:
                record = json.loads(line)
                ents = [e["text"] for e in record["entities"] if keep is None or e["label"] in keep]
                ids.append(record["id"])
            except (json.JSONDecodeError, KeyError, TypeError) as err:
                raise FlipInputError(f"{path}:{line_no}: not an entities record: {err}") from None
            texts.append(ents)
    return ids, texts


def entities_stage(corpus_table: str | os.PathLike[str], view: str, pipeline: str, out: str | os.PathLike[str],
                   batch_size: int = 256, key: str = "entities.pipeline") -> dict:
    """Tag one text view of a corpus split and write ``out`` (``entities/{corpus}/{split}/{view}.jsonl``).

    Returns:
        a summary: sentences, entities, sentences with at least one entity.
    """
    if view_modality(view) != "text":
        raise FlipInputError(f"{corpus_table}: entities are tagged on text views, not {view!r}")
    nlp = load_pipeline(pipeline, key)
    ids, texts = read_view(corpus_table, view)
    counts = {"entities": 0, "with_entities": 0}

    def counted(records: Iterable[dict]) -> Iterable[dict]:
        for record in records:
            counts["entities"] += len(record["entities"])
            counts["with_entities"] += bool(record["entities"])
            yield record

    sentences = write_records(Path(out), counted(tag(nlp, ids, texts, batch_size)))
    return {"sentences": sentences, **counts, "pipeline": pipeline}
