"""Europarl and Samanantar sources and the shared split-by-counts helper.

Fixtures are written by the tests in each source's real layout from the real Tatoeba
sentences (read in place from ../shared/data/tatoeba): Moses pair files
(europarl-v7.de-en.{de,en}), Samanantar pair folders (en-hi/train.{en,hi}) and local
``datasets`` parquet files with the hub column layouts (translation dict; src/tgt).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from flip_pipeline.corpora import load_corpus_splits
from flip_pipeline.corpora.bitext import build_parallel_splits, split_by_counts
from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.corpus_table import read_view
from flip_pipeline.stages.corpus import corpus_stage


def tatoeba_pair(tatoeba_dir: Path, code3: str, n: int) -> tuple[list[str], list[str]]:
    eng = (tatoeba_dir / f"tatoeba.{code3}-eng.eng").read_text(encoding="utf-8").split("\n")[:n]
    other = (tatoeba_dir / f"tatoeba.{code3}-eng.{code3}").read_text(encoding="utf-8").split("\n")[:n]
    return eng, other


def write_lines(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


# --- split_by_counts ---------------------------------------------------------------------


def test_split_by_counts_sizes_disjoint_and_deterministic():
    a = split_by_counts(1000, {"dev": 100, "test": 50}, seed=3)
    b = split_by_counts(1000, {"dev": 100, "test": 50}, seed=3)
    assert {k: len(v) for k, v in a.items()} == {"train": 850, "dev": 100, "test": 50}
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert len(np.unique(np.concatenate(list(a.values())))) == 1000
    assert all(np.all(np.diff(v) > 0) for v in a.values())
    c = split_by_counts(1000, {"dev": 100, "test": 50}, seed=4)
    assert not np.array_equal(a["dev"], c["dev"])


def test_split_by_counts_train_cap_keeps_dev_and_test():
    full = split_by_counts(1000, {"dev": 100, "test": 50}, seed=0)
    capped = split_by_counts(1000, {"dev": 100, "test": 50, "train": 300}, seed=0)
    assert len(capped["train"]) == 300
    assert set(capped["train"]) <= set(full["train"])
    assert np.array_equal(full["dev"], capped["dev"]) and np.array_equal(full["test"], capped["test"])


def test_split_by_counts_too_few_rows_names_key():
    with pytest.raises(FlipInputError, match=r"corpora.x.split_sizes: dev 10 \+ test 10 .* out of 15"):
        split_by_counts(15, {"dev": 10, "test": 10}, seed=0, key="corpora.x.split_sizes")


def test_parallel_splits_skip_empty_and_duplicates():
    en = ["a b", "", "c d", "a b", "  e f ", "g h", "i j", "k l"]
    de = ["A B", "X", "C D", "A B", "E F", "", "I J", "K L"]
    tables, counts = build_parallel_splits(
        {"text_en": en, "text_de": de}, "c", {"split_sizes": {"dev": 1, "test": 1}}, "corpora.c"
    )
    assert counts == {"rows_read": 8, "empty_skipped": 2, "duplicates_skipped": 1, "rows_usable": 5}
    rows = {r["id"]: r for s in tables.values() for r in s.to_pylist()}
    assert set(rows) == {"c-00000000", "c-00000002", "c-00000004", "c-00000006", "c-00000007"}
    assert rows["c-00000004"]["text_en"] == "e f"  # whitespace trimmed
    assert sum(t.num_rows for t in tables.values()) == 5


# --- Europarl ------------------------------------------------------------------------------


@pytest.fixture
def moses_dir(tmp_path, tatoeba_dir) -> Path:
    """The Moses release layout: europarl-v7.de-en.de / europarl-v7.de-en.en."""
    en, de = tatoeba_pair(tatoeba_dir, "deu", 300)
    en[5], de[7] = "", "   "  # two empty sides: skipped and counted
    en.append(en[0])
    de.append(de[0])  # one duplicate pair
    root = tmp_path / "europarl"
    write_lines(root / "europarl-v7.de-en.en", en)
    write_lines(root / "europarl-v7.de-en.de", de)
    return root


def test_europarl_moses_files(moses_dir, tatoeba_dir, tmp_path):
    spec = {"source": "europarl", "languages": ["en", "de"], "root": str(moses_dir),
            "split_sizes": {"dev": 20, "test": 30}, "seed": 1}
    tables, info = load_corpus_splits("ep", spec, tmp_path)
    assert info["rows_read"] == 301 and info["empty_skipped"] == 2 and info["duplicates_skipped"] == 1
    assert {s: t.num_rows for s, t in tables.items()} == {"train": 248, "dev": 20, "test": 30}
    en, de = tatoeba_pair(tatoeba_dir, "deu", 300)
    for row in tables["dev"].to_pylist():
        line = int(row["id"].split("-")[1])
        assert (row["text_en"], row["text_de"]) == (en[line].strip(), de[line].strip())
    # the same config gives the same split
    again, _ = load_corpus_splits("ep", spec, tmp_path)
    assert all(again[s].equals(tables[s]) for s in tables)


def test_europarl_explicit_files_and_build(moses_dir, tmp_path):
    spec = {"source": "europarl", "languages": ["en", "de"],
            "files": {"text_en": "europarl/*.en", "text_de": "europarl/*.de"},
            "split_sizes": {"dev": 10, "test": 10, "train": 100}}
    out = tmp_path / "out"
    corpus_stage("ep", spec, out, tmp_path)
    ids, texts = read_view(out / "train.parquet", "text_de")
    assert len(ids) == 100 and all(texts)
    assert set(pq.read_schema(out / "dev.parquet").names) == {"id", "text_en", "text_de", "split"}


def test_europarl_misaligned_files_error(moses_dir, tmp_path):
    write_lines(moses_dir / "europarl-v7.de-en.de", ["nur eine Zeile"])
    spec = {"source": "europarl", "languages": ["en", "de"], "root": str(moses_dir)}
    with pytest.raises(FlipInputError, match="different line counts"):
        load_corpus_splits("ep", spec, tmp_path)


def test_europarl_non_utf8_names_file_and_line(moses_dir, tmp_path):
    path = moses_dir / "europarl-v7.de-en.de"
    lines = path.read_bytes().split(b"\n")
    lines[3] = b"Gr\xfc\xdfe"  # Latin-1, not UTF-8
    path.write_bytes(b"\n".join(lines))
    spec = {"source": "europarl", "languages": ["en", "de"], "root": str(moses_dir)}
    with pytest.raises(FlipInputError, match=r"europarl-v7.de-en.de: line 4 is not valid UTF-8"):
        load_corpus_splits("ep", spec, tmp_path)


def test_europarl_hub_translation_dict(tmp_path, tatoeba_dir):
    """The hub layout (one `translation` struct column) through datasets' parquet builder."""
    en, fr = tatoeba_pair(tatoeba_dir, "fra", 200)
    table = pa.table({"translation": pa.array([{"en": e, "fr": f} for e, f in zip(en, fr)])})
    pq.write_table(table, tmp_path / "train-00000-of-00001.parquet")
    spec = {"source": "europarl", "languages": ["en", "fr"],
            "hub": {"id": "parquet", "data_files": {"train": "train-*.parquet"}, "cache_dir": str(tmp_path / "hf")},
            "split_sizes": {"dev": 10, "test": 10}}
    tables, info = load_corpus_splits("epfr", spec, tmp_path)
    assert sum(t.num_rows for t in tables.values()) == info["rows_usable"]
    row = tables["test"].to_pylist()[0]
    line = int(row["id"].split("-")[1])
    assert (row["text_en"], row["text_fr"]) == (en[line].strip(), fr[line].strip())
    assert info["hub"]["config"] == "en-fr"


def test_europarl_hub_missing_dataset_is_clear(tmp_path):
    spec = {"source": "europarl", "languages": ["en", "de"], "hub": {"id": "no-such-org/no-such-dataset"}}
    with pytest.raises(FlipInputError, match=r"corpora.ep.hub: cannot load split 'train' of 'no-such-org/no-such"):
        load_corpus_splits("ep", spec, tmp_path)


# --- Samanantar ----------------------------------------------------------------------------


def test_samanantar_release_folder(tmp_path, tatoeba_dir):
    en, hi = tatoeba_pair(tatoeba_dir, "hin", 150)
    write_lines(tmp_path / "v2" / "en-hi" / "train.en", en)
    write_lines(tmp_path / "v2" / "en-hi" / "train.hi", hi)
    spec = {"source": "samanantar", "languages": ["en", "hi"], "root": "v2", "split_sizes": {"dev": 15, "test": 15}}
    tables, info = load_corpus_splits("sam", spec, tmp_path)
    assert tables["dev"].num_rows == 15 and tables["test"].num_rows == 15
    assert tables["train"].num_rows == info["rows_usable"] - 30
    row = tables["train"].to_pylist()[0]
    assert row["text_hi"] == hi[int(row["id"].split("-")[1])].strip()


def test_samanantar_hub_src_tgt_from_disk_and_parquet(tmp_path, tatoeba_dir):
    datasets = pytest.importorskip("datasets")
    en, ta = tatoeba_pair(tatoeba_dir, "tam", 120)
    ds = datasets.Dataset.from_dict({"idx": list(range(len(en))), "src": en, "tgt": ta})
    ds.save_to_disk(str(tmp_path / "saved"))
    ds.to_parquet(str(tmp_path / "ta.parquet"))
    sizes = {"dev": 10, "test": 10}
    disk = {"source": "samanantar", "languages": ["en", "ta"], "hub": {"disk": "saved"}, "split_sizes": sizes}
    hub = {"source": "samanantar", "languages": ["en", "ta"], "split_sizes": sizes,
           "hub": {"id": "parquet", "data_files": "ta.parquet", "cache_dir": str(tmp_path / "hf")}}
    from_disk, _ = load_corpus_splits("ta", disk, tmp_path)
    from_hub, _ = load_corpus_splits("ta", hub, tmp_path)
    assert all(from_disk[s].equals(from_hub[s]) for s in from_disk)
    assert from_hub["train"].column_names == ["id", "text_en", "text_ta", "split"]


def test_samanantar_hub_wrong_column_named(tmp_path):
    datasets = pytest.importorskip("datasets")
    datasets.Dataset.from_dict({"english": ["a"], "tamil": ["b"]}).save_to_disk(str(tmp_path / "saved"))
    spec = {"source": "samanantar", "languages": ["en", "ta"], "hub": {"disk": "saved"}}
    with pytest.raises(FlipInputError, match=r"corpora.ta.hub.columns: dataset has no column\(s\) \['src', 'tgt'\]"):
        load_corpus_splits("ta", spec, tmp_path)
