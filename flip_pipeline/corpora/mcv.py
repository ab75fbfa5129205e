"""Mozilla Common Voice (v15: English, German, French) as a speech–text corpus.

One corpus entry per language; views ``text_{lang}`` (the prompt sentence, raw) and
``speech_{lang}`` (the clip path relative to the corpus root). The official splits are
kept: ``train``, ``dev``, ``test``.

Two ways in, chosen by the config entry:

* ``root``: the release layout ``{root}/{lang}/clips/*.mp3`` and
  ``{root}/{lang}/{train,dev,test}.tsv`` (tab-separated, quoting off, header with at
  least ``path`` and ``sentence``). The corpus root is ``root``; speech values are
  ``{lang}/clips/{path}``.
* ``hub``: a ``datasets`` dataset (default ``mozilla-foundation/common_voice_15_0``,
  config = the language, splits ``train``/``validation``/``test``). Audio is read
  undecoded: clip bytes are written once to ``{audio_dir}/{lang}/clips/{name}`` (the
  corpus root is ``audio_dir``); a row that only carries a local file path keeps that
  absolute path.

Ids are the clip file names without extension (``common_voice_en_19664034``), unique
in Common Voice. Rows with an empty sentence are skipped and counted
(``empty_skipped``); rows whose clip is missing stop the stage unless
``missing_audio: skip`` (see :mod:`flip_pipeline.corpora.audio`). The other TSV
columns (client_id, votes, age, gender, accents, locale, ...) are kept as string
metadata columns.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pyarrow as pa

from flip_pipeline.corpora.audio import MissingAudio, list_files, place_hub_clip
from flip_pipeline.corpora.hub import arrow_batches, check_columns, load_hub_split
from flip_pipeline.corpora.tsv import read_tsv
from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.corpus_table import SPLITS, with_audio_root

DEFAULT_HUB = {
    "id": "mozilla-foundation/common_voice_15_0",
    "splits": {"train": "train", "dev": "validation", "test": "test"},
    "text_column": "sentence",
    "audio_column": "audio",
    "path_column": "path",
}
RESERVED = {"id", "split"}


def _resolve(path: str, base: Path) -> Path:
    path = os.path.expanduser(path)
    return Path(path) if os.path.isabs(path) else base / path


def _stem(name: str) -> str:
    return os.path.splitext(os.path.basename(name))[0]


def _table(rows: dict[str, list], lang: str, meta: dict[str, list[str]], split: str) -> pa.Table:
    data = {
        "id": pa.array(rows["id"], pa.string()),
        f"text_{lang}": pa.array(rows["text"], pa.string()),
        f"speech_{lang}": pa.array(rows["speech"], pa.string()),
    }
    for column, values in meta.items():
        data[column] = pa.array(values, pa.string())
    data["split"] = pa.array([split] * len(rows["id"]), pa.string())
    return pa.table(data)


def read_mcv(name: str, spec: dict[str, Any], base: Path) -> tuple[dict[str, pa.Table], dict[str, Any]]:
    """Build the split tables of a Common Voice corpus entry (see the module docstring)."""
    if "root" in spec:
        return _read_release(name, spec, base)
    return _read_hub(name, spec, base)


def _read_release(name: str, spec: dict[str, Any], base: Path) -> tuple[dict[str, pa.Table], dict[str, Any]]:
    key = f"corpora.{name}"
    lang = spec["language"]
    root = _resolve(spec["root"], base).resolve()
    lang_dir = root / lang
    if not lang_dir.is_dir():
        raise FlipInputError(f"{key}.root: {lang_dir} does not exist (expected the release folder of {lang!r})")
    clips = list_files(lang_dir / "clips")
    missing = MissingAudio(key, spec.get("missing_audio", "error"))
    tables, empty = {}, {}
    for split in SPLITS:
        tsv = lang_dir / f"{split}.tsv"
        header, rows = read_tsv(tsv, ("path", "sentence"))
        col = {c: i for i, c in enumerate(header)}
        meta_cols = [c for c in header if c not in ("path", "sentence") and c not in RESERVED]
        out: dict[str, list] = {"id": [], "text": [], "speech": []}
        meta: dict[str, list[str]] = {c: [] for c in meta_cols}
        seen: dict[str, int] = {}
        empty[split] = 0
        for line, fields in rows:
            clip, sentence = fields[col["path"]].strip(), fields[col["sentence"]].strip()
            if not clip:
                raise FlipInputError(f"{tsv}: line {line}: empty 'path'")
            row_id = _stem(clip)
            if row_id in seen:
                raise FlipInputError(f"{tsv}: line {line}: clip {clip!r} already listed on line {seen[row_id]}")
            seen[row_id] = line
            if not sentence:
                empty[split] += 1
                continue
            if clip not in clips:
                missing.add(split, row_id, str(lang_dir / "clips" / clip), f"{tsv} line {line}")
                continue
            out["id"].append(row_id)
            out["text"].append(sentence)
            out["speech"].append(f"{lang}/clips/{clip}")
            for c in meta_cols:
                meta[c].append(fields[col[c]])
        tables[split] = with_audio_root(_table(out, lang, meta, split), root)
    info = {"audio_root": str(root), "empty_skipped": empty, **missing.check()}
    return tables, info


def _read_hub(name: str, spec: dict[str, Any], base: Path) -> tuple[dict[str, pa.Table], dict[str, Any]]:
    key = f"corpora.{name}"
    lang = spec["language"]
    hub = {"config": lang, **DEFAULT_HUB, **spec["hub"]}
    hub["splits"] = {**DEFAULT_HUB["splits"], **spec["hub"].get("splits", {})}
    if "audio_dir" not in spec:
        raise FlipInputError(f"{key}.audio_dir: required with hub (the folder the clips are written to)")
    root = _resolve(spec["audio_dir"], base).resolve()
    clip_dir = root / lang / "clips"
    text_col, audio_col, path_col = hub["text_column"], hub["audio_column"], hub["path_column"]
    missing = MissingAudio(key, spec.get("missing_audio", "error"))
    tables, empty = {}, {}
    for split in SPLITS:
        dataset = load_hub_split(hub, hub["splits"][split], base, key)
        check_columns(dataset, [text_col, audio_col], f"{key}.hub")
        meta_cols = [c for c in dataset.column_names if c not in (text_col, audio_col, path_col) and c not in RESERVED]
        columns = [text_col, audio_col] + ([path_col] if path_col in dataset.column_names else []) + meta_cols
        out: dict[str, list] = {"id": [], "text": [], "speech": []}
        meta: dict[str, list[str]] = {c: [] for c in meta_cols}
        seen: set[str] = set()
        empty[split] = 0
        row = 0
        for batch in arrow_batches(dataset, columns):
            batch = batch.to_pydict()
            for i in range(len(batch[text_col])):
                where = f"{hub.get('disk') or hub['id']} split {hub['splits'][split]!r} row {row}"
                row += 1
                audio = batch[audio_col][i]
                audio_path, audio_bytes = (audio, None) if isinstance(audio, str) or audio is None else (
                    audio.get("path"), audio.get("bytes"))
                label = (batch[path_col][i] if path_col in batch else None) or audio_path
                if not label:
                    raise FlipInputError(f"{key}: {where} has neither a clip path nor an audio path")
                clip = os.path.basename(label)
                row_id = _stem(clip)
                if row_id in seen:
                    raise FlipInputError(f"{key}: {where}: clip {clip!r} listed twice")
                seen.add(row_id)
                sentence = (batch[text_col][i] or "").strip()
                if not sentence:
                    empty[split] += 1
                    continue
                speech = place_hub_clip(audio_bytes, audio_path, clip_dir / clip, f"{lang}/clips/{clip}")
                if speech is None:
                    missing.add(split, row_id, str(audio_path or label), where)
                    continue
                out["id"].append(row_id)
                out["text"].append(sentence)
                out["speech"].append(speech)
                for c in meta_cols:
                    value = batch[c][i]
                    meta[c].append("" if value is None else str(value))
        tables[split] = with_audio_root(_table(out, lang, meta, split), root)
    hub_info = {k: v for k, v in hub.items() if k != "cache_dir"}
    info = {"audio_root": str(root), "hub": hub_info, "empty_skipped": empty, **missing.check()}
    return tables, info
