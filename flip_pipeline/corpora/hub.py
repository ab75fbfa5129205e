"""Reading a corpus split through the ``datasets`` library (hub id, packaged builder or disk).

One ``hub:`` config block serves every source that can come from ``datasets``::

    hub:
      id: Helsinki-NLP/europarl     # hub dataset id, or a packaged builder ("parquet", "csv", ...)
      config: de-en                 # dataset config (MCV: the language code)
      revision: main                # optional git revision on the hub
      data_files: {train: data/x.parquet}   # optional, for packaged builders
      disk: data/my_dataset         # instead of id: a folder written by Dataset(Dict).save_to_disk
      cache_dir: ~/.cache/...       # optional datasets cache

The same :func:`datasets.load_dataset` call runs against the hub and, in the tests, a
local parquet file through the ``parquet`` builder, so the code path is exercised offline.
Rows are read as Arrow batches (no audio decoding, nothing held whole in memory).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from flip_pipeline.errors import FlipInputError
from flip_pipeline.extras import require


def _resolve(path: str, base: Path) -> str:
    """A local path relative to ``base``; a URL (``hf://datasets/...``, ``https://...``) as given."""
    if "://" in path:
        return path
    path = os.path.expanduser(path)
    return path if os.path.isabs(path) else str(base / path)


def _data_files(value: Any, base: Path) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        return _resolve(value, base)
    if isinstance(value, list):
        return [_resolve(v, base) for v in value]
    return {k: _data_files(v, base) for k, v in value.items()}


def load_hub_split(hub: dict[str, Any], split: str, base: Path, key: str):
    """Load split ``split`` (the dataset's own split name) as a :class:`datasets.Dataset`.

    Raises :class:`FlipInputError` naming ``key`` when the dataset, config or split cannot
    be loaded (offline without a cached copy, unknown id, missing split).
    """
    require("workflow", f"{key}.hub (a corpus from the dataset hub)", "datasets")
    import datasets

    where = f"{key}.hub"
    try:
        if "disk" in hub:
            loaded = datasets.load_from_disk(_resolve(hub["disk"], base))
            if isinstance(loaded, datasets.DatasetDict):
                if split not in loaded:
                    raise FlipInputError(f"{where}.disk: {hub['disk']!r} has no split {split!r}; it has {list(loaded)}")
                return loaded[split]
            return loaded
        kwargs: dict[str, Any] = {"split": split}
        if hub.get("revision"):
            kwargs["revision"] = hub["revision"]
        if hub.get("data_files") is not None:
            kwargs["data_files"] = _data_files(hub["data_files"], base)
        if hub.get("cache_dir"):
            kwargs["cache_dir"] = _resolve(hub["cache_dir"], base)
        return datasets.load_dataset(hub["id"], hub.get("config"), **kwargs)
    except FlipInputError:
        raise
    # datasets raises many types (FileNotFoundError, ConnectionError, ValueError, ...)
    except Exception as err:  # noqa: BLE001
        name = hub.get("disk") or hub.get("id")
        raise FlipInputError(
            f"{where}: cannot load split {split!r} of {name!r} (config {hub.get('config')!r}): "
            f"{type(err).__name__}: {err}"
        ) from None


def check_columns(dataset, columns: list[str], key: str) -> None:
    """Raise :class:`FlipInputError` naming ``key`` if ``dataset`` lacks any of ``columns``."""
    missing = [c for c in columns if c not in dataset.column_names]
    if missing:
        raise FlipInputError(f"{key}: dataset has no column(s) {missing}; it has {dataset.column_names}")


def arrow_batches(dataset, columns: list[str], batch_size: int = 10_000) -> Iterator[pa.Table]:
    """Yield ``columns`` of ``dataset`` as Arrow tables of ``batch_size`` rows, undecoded."""
    subset = dataset.select_columns(columns).with_format("arrow")
    yield from subset.iter(batch_size=batch_size)


def read_text_columns(dataset, columns: dict[str, str], key: str) -> dict[str, pa.ChunkedArray]:
    """``{view: column}`` → ``{view: string array}``. A column may name a field of a struct
    (translation dict) column as ``translation.de``."""
    top = sorted({c.split(".", 1)[0] for c in columns.values()})
    check_columns(dataset, top, key)
    table = pa.concat_tables(list(arrow_batches(dataset, top))) if len(dataset) else None
    out = {}
    for view, column in columns.items():
        if table is None:
            out[view] = pa.chunked_array([], pa.string())
            continue
        name, _, field = column.partition(".")
        values = table.column(name)
        if field:
            if not pa.types.is_struct(values.type) or values.type.get_field_index(field) < 0:
                raise FlipInputError(f"{key}: column {name!r} (type {values.type}) has no field {field!r}")
            values = pc.struct_field(values, field)
        out[view] = values
    return out
