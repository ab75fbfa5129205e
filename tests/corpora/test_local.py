"""A user's own corpus in a local folder: {split}.tsv or {split}.{lang}.txt."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flip_pipeline.corpora import load_corpus_splits
from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.corpus_table import read_view
from flip_pipeline.stages.corpus import corpus_stage

SPLITS = ("train", "dev", "test")


def pairs(tatoeba_dir: Path, n: int) -> list[tuple[str, str]]:
    en = (tatoeba_dir / "tatoeba.ben-eng.eng").read_text(encoding="utf-8").split("\n")[:n]
    bn = (tatoeba_dir / "tatoeba.ben-eng.ben").read_text(encoding="utf-8").split("\n")[:n]
    return list(zip(en, bn))


@pytest.fixture
def tsv_folder(tmp_path, tatoeba_dir) -> Path:
    root = tmp_path / "mine"
    (root / "audio").mkdir(parents=True)
    data = pairs(tatoeba_dir, 30)
    for s, split in enumerate(SPLITS):
        lines = ["id\ttext_en\ttext_bn\tspeech_en\tspeaker"]
        for i in range(10):
            en, bn = data[s * 10 + i]
            wav = f"audio/{split}_{i}.wav"
            (root / wav).write_bytes(b"RIFF placeholder")
            lines.append(f"{split}-{i}\t{en}\t{bn}\t{wav}\tspk{i % 2}")
        (root / f"{split}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def test_tsv_folder(tsv_folder, tatoeba_dir, tmp_path):
    spec = {"source": "local", "root": str(tsv_folder), "views": ["text_en", "text_bn", "speech_en"]}
    out = tmp_path / "out"
    corpus_stage("mine", spec, out, tmp_path)
    ids, bn = read_view(out / "dev.parquet", "text_bn")
    assert ids[0] == "dev-0" and bn[0] == pairs(tatoeba_dir, 11)[10][1].strip()
    _, wavs = read_view(out / "test.parquet", "speech_en")
    assert wavs[3] == str(tsv_folder.resolve() / "audio" / "test_3.wav")
    info = json.loads((out / "info.json").read_text())
    assert info["format"] == "tsv" and info["rows"] == {"train": 10, "dev": 10, "test": 10}


def test_tsv_without_id_column_and_empty_cells(tmp_path, tatoeba_dir):
    root = tmp_path / "noid"
    root.mkdir()
    data = pairs(tatoeba_dir, 5)
    for split in SPLITS:
        lines = ["text_en\ttext_bn"] + [f"{en}\t{bn}" for en, bn in data]
        lines[2] = ""  # blank line: not a row
        lines[3] = " \tসে"  # empty English side: skipped and counted
        (root / f"{split}.tsv").write_text("\n".join(lines), encoding="utf-8")
    spec = {"source": "local", "root": str(root), "views": ["text_en", "text_bn"]}
    tables, info = load_corpus_splits("noid", spec, tmp_path)
    assert info["empty_skipped"] == {"train": 1, "dev": 1, "test": 1}
    assert tables["dev"].column("id").to_pylist() == ["noid-dev-0000000", "noid-dev-0000003", "noid-dev-0000004"]


def test_tsv_view_that_does_not_exist(tsv_folder, tmp_path):
    spec = {"source": "local", "root": str(tsv_folder), "views": ["text_en", "text_de"]}
    with pytest.raises(FlipInputError, match=r"train.tsv: missing column\(s\) \['text_de'\]"):
        load_corpus_splits("mine", spec, tmp_path)


def test_tsv_duplicate_id_and_missing_audio(tsv_folder, tmp_path):
    spec = {"source": "local", "root": str(tsv_folder), "views": ["text_en", "speech_en"]}
    (tsv_folder / "audio" / "dev_4.wav").unlink()
    with pytest.raises(FlipInputError, match=r"1 audio file\(s\) missing.*'dev-4'.*dev.tsv line 6"):
        load_corpus_splits("mine", spec, tmp_path)
    tables, info = load_corpus_splits("mine", {**spec, "missing_audio": "skip"}, tmp_path)
    assert tables["dev"].num_rows == 9 and info["missing_audio_skipped"] == {"dev": 1}
    train = tsv_folder / "train.tsv"
    train.write_text(train.read_text(encoding="utf-8").replace("train-1\t", "train-0\t"), encoding="utf-8")
    with pytest.raises(FlipInputError, match=r"train.tsv: line 3: id 'train-0' already used on line 2"):
        load_corpus_splits("mine", {**spec, "missing_audio": "skip"}, tmp_path)


def test_txt_folder(tmp_path, tatoeba_dir):
    root = tmp_path / "txt"
    root.mkdir()
    data = pairs(tatoeba_dir, 24)
    for s, split in enumerate(SPLITS):
        chunk = data[s * 8 : (s + 1) * 8]
        (root / f"{split}.en.txt").write_text("\n".join(e for e, _ in chunk) + "\n", encoding="utf-8")
        (root / f"{split}.bn.txt").write_text("\n".join(b for _, b in chunk) + "\n", encoding="utf-8")
    spec = {"source": "local", "root": "txt", "views": ["text_en", "text_bn"]}
    tables, info = load_corpus_splits("t", spec, tmp_path)
    assert info["format"] == "txt"
    row = tables["test"].to_pylist()[5]
    assert row["id"] == "t-test-0000005" and row["text_bn"] == data[21][1].strip()
    with pytest.raises(FlipInputError, match=r"no file matches .*train.de.txt"):
        load_corpus_splits("t", {**spec, "views": ["text_en", "text_de"]}, tmp_path)
    with pytest.raises(FlipInputError, match=r"corpora.t.views: the txt layout holds text views only"):
        load_corpus_splits("t", {**spec, "views": ["speech_en"], "format": "txt"}, tmp_path)


def test_unknown_source_and_missing_root(tmp_path):
    with pytest.raises(FlipInputError, match=r"corpora.x.source: unknown source 'tarball'; known: sample, text_fil"):
        load_corpus_splits("x", {"source": "tarball"}, tmp_path)
    with pytest.raises(FlipInputError, match=r"corpora.x.root: folder .*nowhere does not exist"):
        load_corpus_splits("x", {"source": "local", "root": "nowhere", "views": ["text_en"]}, tmp_path)


def test_an_empty_split_of_a_local_corpus_names_its_root_not_a_splits_key(tsv_folder, tmp_path):
    (tsv_folder / "dev.tsv").write_text("id\ttext_en\ttext_bn\tspeech_en\tspeaker\n", encoding="utf-8")
    spec = {"source": "local", "root": str(tsv_folder), "views": ["text_en"]}
    with pytest.raises(FlipInputError) as err:
        corpus_stage("mine", spec, tmp_path / "out", tmp_path)
    assert f"corpora.mine.root ({tsv_folder}" in str(err.value) and "'dev' would be empty" in str(err.value)
    assert "splits" not in str(err.value).split(":")[0]
