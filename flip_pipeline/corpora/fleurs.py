"""FLEURS (google/fleurs) as a speech–text corpus, one language per corpus entry.

Views ``text_{view}`` (the normalised transcription, or the raw one with
``transcription: raw``) and ``speech_{view}`` (the clip path relative to the corpus
root); ``view`` is ``view_language``, by default the FLEURS code's first part
(``de_de`` → ``de``). Row ``id`` is the FLEURS sentence id as a string, shared by every
language, so corpora of different languages intersect by id. FLEURS's splits give
``train``, ``dev`` and ``test``.

Two ways in, chosen by the config entry:

* ``release: PATH`` — the files of the hub repository ``google/fleurs``: PATH holds
  ``data/{language}/`` (or is the ``data`` folder itself) with ``{train,dev,test}.tsv``
  (tab-separated, no header; columns id, file name, raw transcription, normalised
  transcription, words, number of samples, gender) and ``audio/{split}.tar.gz``. An
  already extracted ``audio/{split}/`` folder is used in place (corpus root
  ``data/{language}``); otherwise the archive is extracted safely and streamed
  (:mod:`flip_pipeline.corpora.tar_audio`) into ``{audio_dir}/{language}/{split}/``
  (corpus root ``audio_dir``).
* ``release: null`` or absent, with ``hub`` — through ``datasets`` (a non-null
  ``release`` wins over ``hub``, so one entry can carry both and switch by ``release``). ``datasets`` 4 and
  later no longer run the repository's loading script (``fleurs.py``); what loads is the
  hub's Parquet export (branch ``refs/convert/parquet``, files
  ``{language}/{train,validation,test}/*.parquet``, the columns of the script: id,
  num_samples, path, audio, transcription, raw_transcription, gender, ...). By default
  ``hub: {}`` reads ``{export}/{language}/{split}/*.parquet`` with the ``parquet``
  builder, ``export`` = ``hf://datasets/google/fleurs@refs%2Fconvert%2Fparquet`` (a local
  folder in that layout works the same); ``data_files``, ``id``/``config`` or ``disk``
  replace that. Each split is loaded on its own, so reading ``test`` never fetches
  ``train``. Clip bytes are written once to ``{audio_dir}/{language}/{split}/{name}``.

Rows: an empty transcription (of the chosen kind) is skipped and counted
(``empty_skipped``); a row whose clip is missing stops the stage unless
``missing_audio: skip`` (:mod:`flip_pipeline.corpora.audio`). FLEURS has several
recordings (speakers) of one sentence id in a split; one is kept per id by
:func:`deduplicate` with the entry's ``seed`` (default 0), and the dropped count is in
``info.json`` (``duplicates_dropped``). Metadata columns: file_name, raw_transcription,
transcription, num_samples, gender (as the source spells it), split.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from flip_pipeline.corpora.audio import MissingAudio, list_files, place_hub_clip
from flip_pipeline.corpora.fleurs_languages import view_language
from flip_pipeline.corpora.hub import arrow_batches, check_columns, load_hub_split
from flip_pipeline.corpora.tar_audio import extract_flat
from flip_pipeline.corpora.tsv import read_tsv
from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.corpus_table import SPLITS, VIEW_PATTERN, with_audio_root

DEFAULT_EXPORT = "hf://datasets/google/fleurs@refs%2Fconvert%2Fparquet"
HUB_SPLITS = {"train": "train", "dev": "validation", "test": "test"}
TSV_COLUMNS = ["id", "file_name", "raw_transcription", "transcription", "words", "num_samples", "gender"]
TRANSCRIPTIONS = {"normalized": "transcription", "raw": "raw_transcription"}
META = ("file_name", "raw_transcription", "transcription", "num_samples", "gender")
DEDUPLICATION_RULE = (
    "per split, among the rows left after empty transcriptions and missing clips: the kept recording "
    "of each id is the one that comes first in numpy.random.default_rng(seed).permutation(n_rows) "
    "(n_rows = those rows, in source order); kept rows stay in source order"
)


def deduplicate(ids: list[str], seed: int) -> list[int]:
    """Positions of the rows to keep so that every id occurs once, ascending.

    The kept row of an id is its first in ``numpy.random.default_rng(seed).permutation(len(ids))``:
    the same ids and seed always keep the same rows; another seed picks among an id's
    recordings independently.
    """
    first: dict[str, int] = {}
    for position in np.random.default_rng(seed).permutation(len(ids)).tolist():
        first.setdefault(ids[position], position)
    return sorted(first.values())


def _resolve(path: str, base: Path) -> Path:
    path = os.path.expanduser(path)
    return (Path(path) if os.path.isabs(path) else base / path).resolve()


def _plain_name(name: str) -> bool:
    return bool(name) and name not in (".", "..") and "/" not in name and "\\" not in name


def read_fleurs(name: str, spec: dict[str, Any], base: Path) -> tuple[dict[str, pa.Table], dict[str, Any]]:
    """Build the split tables of a FLEURS corpus entry (see the module docstring).

    Returns ``({split: table}, info)``; ``info`` records the language, view, transcription
    kind, the way in, rows read, rows skipped (empty, missing audio), duplicates dropped
    and the deduplication seed and rule.
    """
    key = f"corpora.{name}"
    lang = spec["language"]
    view = spec.get("view_language") or view_language(lang)
    if not VIEW_PATTERN.match(f"text_{view}"):
        raise FlipInputError(f"{key}.view_language: {view!r} is not 2-3 lower-case letters (set view_language)")
    transcription = spec.get("transcription", "normalized")
    if transcription not in TRANSCRIPTIONS:
        raise FlipInputError(f"{key}.transcription: expected 'normalized' or 'raw', got {transcription!r}")
    seed = spec.get("seed", 0)
    missing = MissingAudio(key, spec.get("missing_audio", "error"))
    if spec.get("release") is not None:
        rows, roots, source = _release_rows(key, spec, base, lang)
    else:
        rows, roots, source = _hub_rows(key, spec, base, lang)
    tables: dict[str, pa.Table] = {}
    info: dict[str, Any] = {"language": lang, "view_language": view, "transcription": transcription, **source,
                            "audio_roots": {s: str(roots[s]) for s in SPLITS},
                            "rows_read": {s: len(rows[s]) for s in SPLITS},
                            "empty_skipped": {}, "duplicates_dropped": {}}
    for split in SPLITS:
        usable = []
        info["empty_skipped"][split] = 0
        for row in rows[split]:
            if not row[TRANSCRIPTIONS[transcription]].strip():
                info["empty_skipped"][split] += 1
            elif row["speech"] is None:
                missing.add(split, row["id"], row["expected"], row["where"])
            else:
                usable.append(row)
        kept = [usable[i] for i in deduplicate([r["id"] for r in usable], seed)]
        info["duplicates_dropped"][split] = len(usable) - len(kept)
        tables[split] = with_audio_root(_table(kept, view, transcription, split), roots[split])
    info.update(missing.check())
    info["deduplication"] = {"seed": seed, "rule": DEDUPLICATION_RULE}
    return tables, info


def _table(rows: list[dict[str, str]], view: str, transcription: str, split: str) -> pa.Table:
    data = {
        "id": pa.array([r["id"] for r in rows], pa.string()),
        f"text_{view}": pa.array([r[TRANSCRIPTIONS[transcription]].strip() for r in rows], pa.string()),
        f"speech_{view}": pa.array([r["speech"] for r in rows], pa.string()),
    }
    for column in META:
        data[column] = pa.array([r[column] for r in rows], pa.string())
    data["split"] = pa.array([split] * len(rows), pa.string())
    return pa.table(data)


# --- the release layout --------------------------------------------------------------------


def _language_dir(key: str, spec: dict[str, Any], base: Path, lang: str) -> Path:
    release = _resolve(spec["release"], base)
    candidates = (release / "data" / lang, release / lang)
    for folder in candidates:
        if folder.is_dir():
            return folder
    raise FlipInputError(f"{key}.release: neither {candidates[0]} nor {candidates[1]} exists (expected the "
                         f"FLEURS folder of {lang!r}: {{train,dev,test}}.tsv and audio/)")


def _tsv_rows(tsv: Path) -> list[dict[str, str]]:
    """The rows of a FLEURS split file, checked: integer id and sample count, a plain file
    name listed once."""
    _, lines = read_tsv(tsv, (), names=TSV_COLUMNS)
    rows, seen = [], {}
    for line, fields in lines:
        row = dict(zip(TSV_COLUMNS, fields))
        where = f"{tsv} line {line}"
        for column in ("id", "num_samples"):
            value = row[column].strip()
            if not value.isdecimal():
                raise FlipInputError(f"{where}: {column} {value!r} is not a non-negative integer")
            row[column] = str(int(value))  # the hub's integer spelling: "0012" -> "12"
        row["file_name"] = row["file_name"].strip()
        if not _plain_name(row["file_name"]):
            raise FlipInputError(f"{where}: file name {row['file_name']!r} is not a plain file name")
        if row["file_name"] in seen:
            raise FlipInputError(f"{where}: file {row['file_name']!r} already listed on line {seen[row['file_name']]}")
        seen[row["file_name"]] = line
        row["where"] = where
        rows.append(row)
    return rows


def _release_rows(key: str, spec: dict[str, Any], base: Path, lang: str):
    lang_dir = _language_dir(key, spec, base, lang)
    rows, roots = {}, {}
    for split in SPLITS:
        rows[split] = _tsv_rows(lang_dir / f"{split}.tsv")
        folder, archive = lang_dir / "audio" / split, lang_dir / "audio" / f"{split}.tar.gz"
        if folder.is_dir():
            files, roots[split], prefix, expected = list_files(folder), lang_dir, f"audio/{split}", f"{folder}/"
        elif archive.is_file():
            if "audio_dir" not in spec:
                raise FlipInputError(f"{key}.audio_dir: required to extract {archive} (the folder the clips go to)")
            roots[split] = _resolve(spec["audio_dir"], base)
            files = extract_flat(archive, roots[split] / lang / split)
            prefix, expected = f"{lang}/{split}", f"{archive}: member "
        else:
            raise FlipInputError(f"{key}.release: no audio for split {split!r}: neither {folder} nor {archive} exists")
        for row in rows[split]:
            row["speech"] = f"{prefix}/{row['file_name']}" if row["file_name"] in files else None
            row["expected"] = f"{expected}{row['file_name']}"
    return rows, roots, {"via": "release", "release": str(lang_dir)}


# --- the datasets path ---------------------------------------------------------------------


def hub_block(hub: dict[str, Any] | None, lang: str) -> tuple[dict[str, Any], dict[str, str]]:
    """``(block for load_hub_split, {our split: dataset split})`` of a ``hub:`` entry.

    Without ``id``, ``disk`` or ``data_files`` the block reads the Parquet export:
    ``{"id": "parquet", "data_files": {split: "{export}/{lang}/{split}/*.parquet"}}``.
    """
    hub = dict(hub or {})
    splits = {**HUB_SPLITS, **hub.pop("splits", {})}
    export = hub.pop("export", DEFAULT_EXPORT).rstrip("/")
    if not {"id", "disk", "data_files"} & set(hub):
        hub["data_files"] = {s: f"{export}/{lang}/{s}/*.parquet" for s in splits.values()}
    if "disk" not in hub:
        hub.setdefault("id", "parquet")
    return hub, splits


def _hub_rows(key: str, spec: dict[str, Any], base: Path, lang: str):
    hub, splits = hub_block(spec.get("hub"), lang)
    if "audio_dir" not in spec:
        raise FlipInputError(f"{key}.audio_dir: required with hub (the folder the clips are written to)")
    root = _resolve(spec["audio_dir"], base)
    rows = {}
    for split in SPLITS:
        block = dict(hub)
        if isinstance(hub.get("data_files"), dict) and splits[split] in hub["data_files"]:
            block["data_files"] = {splits[split]: hub["data_files"][splits[split]]}  # this split only
        dataset = load_hub_split(block, splits[split], base, key)
        rows[split] = _dataset_rows(dataset, key, root / lang / split, f"{lang}/{split}",
                                    f"{hub.get('disk') or hub['id']} split {splits[split]!r}")
    hub_info = {k: v for k, v in hub.items() if k != "cache_dir"}
    return rows, {s: root for s in SPLITS}, {"via": "hub", "hub": {**hub_info, "splits": splits}}


def _dataset_rows(dataset, key: str, clip_dir: Path, prefix: str, label: str) -> list[dict[str, str]]:
    """Rows of one hub split; clip bytes are written to ``clip_dir`` (speech ``prefix/name``)."""
    check_columns(dataset, ["id", "transcription", "raw_transcription", "audio"], f"{key}.hub")
    optional = [c for c in ("path", "num_samples", "gender") if c in dataset.column_names]
    gender = dataset.features.get("gender")
    gender_names = getattr(gender, "names", None)
    rows, seen, position = [], {}, 0
    for batch in arrow_batches(dataset, ["id", "transcription", "raw_transcription", "audio", *optional]):
        batch = batch.to_pydict()
        for i in range(len(batch["id"])):
            where = f"{label} row {position}"
            position += 1
            if batch["id"][i] is None or not str(batch["id"][i]).strip().isdecimal():
                raise FlipInputError(f"{key}: {where}: id {batch['id'][i]!r} is not a non-negative integer")
            audio = batch["audio"][i] or {}
            audio_path, audio_bytes = (audio, None) if isinstance(audio, str) else (audio.get("path"), audio.get("bytes"))
            label_path = audio_path or (batch["path"][i] if "path" in batch else None)
            file_name = os.path.basename(label_path or "")
            if not _plain_name(file_name):
                raise FlipInputError(f"{key}: {where} has no audio file name (audio.path / path)")
            if file_name in seen:
                raise FlipInputError(f"{key}: {where}: file {file_name!r} already in row {seen[file_name]}")
            seen[file_name] = position - 1
            speech = place_hub_clip(audio_bytes, audio_path, clip_dir / file_name, f"{prefix}/{file_name}")
            samples = batch["num_samples"][i] if "num_samples" in batch else None
            g = batch["gender"][i] if "gender" in batch else None
            rows.append({
                "id": str(int(batch["id"][i])), "file_name": file_name, "speech": speech,
                "transcription": batch["transcription"][i] or "", "raw_transcription": batch["raw_transcription"][i] or "",
                "num_samples": "" if samples is None else str(samples),
                "gender": "" if g is None else (gender_names[g] if gender_names and isinstance(g, int) else str(g)),
                "where": where, "expected": str(label_path),
            })
    return rows
