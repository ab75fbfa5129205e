"""Mozilla Common Voice: the release layout and the `datasets` path, on fixtures the tests write.

Release layout: ``{root}/{lang}/clips/*.mp3`` and ``{root}/{lang}/{train,dev,test}.tsv``
with the v15 header (tab-separated, quoting off). The clip files hold placeholder bytes:
the corpus stage records paths and never decodes audio. Sentences are real Tatoeba
sentences read in place.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from flip_pipeline.corpora import load_corpus_splits
from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.corpus_table import AUDIO_ROOT_KEY, read_view, write_corpus_table
from flip_pipeline.stages.corpus import corpus_stage

HEADER = ["client_id", "path", "sentence_id", "sentence", "sentence_domain", "up_votes", "down_votes",
          "age", "gender", "accents", "variant", "locale", "segment"]
SIZES = {"train": 12, "dev": 4, "test": 4}


def sentences(tatoeba_dir: Path, n: int) -> list[str]:
    return (tatoeba_dir / "tatoeba.deu-eng.deu").read_text(encoding="utf-8").split("\n")[:n]


def write_release(root: Path, lang: str, texts: list[str]) -> dict[str, list[str]]:
    """Write the MCV release layout; return the clip names per split."""
    clips = root / lang / "clips"
    clips.mkdir(parents=True)
    names, i = {}, 0
    for split, n in SIZES.items():
        rows = ["\t".join(HEADER)]
        names[split] = []
        for _ in range(n):
            name = f"common_voice_{lang}_{1000 + i}.mp3"
            (clips / name).write_bytes(b"ID3 placeholder " + name.encode())
            rows.append("\t".join([f"client{i % 3}", name, f"sid{i}", texts[i], "", "2", "0",
                                   "twenties", "", "", "", lang, ""]))
            names[split].append(name)
            i += 1
        (root / lang / f"{split}.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return names


@pytest.fixture
def release(tmp_path, tatoeba_dir) -> Path:
    texts = sentences(tatoeba_dir, 20)
    texts[2] = 'Er sagte "nein".'  # quotes are ordinary characters with quoting off
    write_release(tmp_path / "cv-corpus-15.0", "de", texts)
    return tmp_path / "cv-corpus-15.0"


def spec(root: Path, **extra) -> dict:
    return {"source": "mcv", "language": "de", "root": str(root), **extra}


def test_release_official_splits_and_views(release, tatoeba_dir, tmp_path):
    tables, info = load_corpus_splits("mcv_de", spec(release), tmp_path)
    assert {s: t.num_rows for s, t in tables.items()} == SIZES
    train = tables["train"]
    assert train.column_names[:3] == ["id", "text_de", "speech_de"]
    assert {"client_id", "age", "locale", "up_votes", "split"} <= set(train.column_names)
    row = train.to_pylist()[2]
    assert row["id"] == "common_voice_de_1002"
    assert row["text_de"] == 'Er sagte "nein".'
    assert row["speech_de"] == "de/clips/common_voice_de_1002.mp3"
    assert train.schema.metadata[AUDIO_ROOT_KEY.encode()].decode() == str(release.resolve())
    assert info["empty_skipped"] == {"train": 0, "dev": 0, "test": 0}


def test_read_view_returns_absolute_audio_paths(release, tmp_path):
    out = tmp_path / "results" / "corpora" / "mcv_de"
    corpus_stage("mcv_de", spec(release), out, tmp_path)
    ids, paths = read_view(out / "dev.parquet", "speech_de")
    assert ids[0] == "common_voice_de_1012"
    assert paths[0] == str(release.resolve() / "de" / "clips" / "common_voice_de_1012.mp3")
    assert all(Path(p).is_file() for p in paths)
    _, texts = read_view(out / "dev.parquet", "text_de")
    assert not Path(texts[0]).is_absolute()  # text views are untouched


def test_read_view_without_audio_root_resolves_against_table_folder(tmp_path):
    table = pa.table({"id": ["a", "b"], "speech_en": ["clips/a.wav", "/abs/b.wav"]})
    write_corpus_table(table, tmp_path / "t" / "train.parquet")
    _, paths = read_view(tmp_path / "t" / "train.parquet", "speech_en")
    assert paths == [str((tmp_path / "t").resolve() / "clips" / "a.wav"), "/abs/b.wav"]


def test_missing_clip_is_an_error_naming_id_and_path(release, tmp_path):
    (release / "de" / "clips" / "common_voice_de_1013.mp3").unlink()
    with pytest.raises(FlipInputError) as err:
        load_corpus_splits("mcv_de", spec(release), tmp_path)
    message = str(err.value)
    assert "corpora.mcv_de: 1 audio file(s) missing" in message
    assert "common_voice_de_1013" in message and "dev.tsv line 3" in message
    assert "missing_audio: skip" in message


def test_missing_clip_skipped_and_counted(release, tmp_path):
    (release / "de" / "clips" / "common_voice_de_1013.mp3").unlink()
    (release / "de" / "clips" / "common_voice_de_1000.mp3").unlink()
    out = tmp_path / "out"
    corpus_stage("mcv_de", spec(release, missing_audio="skip"), out, tmp_path)
    info = json.loads((out / "info.json").read_text())
    assert info["missing_audio_skipped"] == {"dev": 1, "train": 1}
    assert {e["id"] for e in info["missing_audio_examples"]} == {"common_voice_de_1000", "common_voice_de_1013"}
    assert info["rows"] == {"train": 11, "dev": 3, "test": 4}


def test_empty_sentence_skipped_and_counted(release, tmp_path):
    tsv = release / "de" / "test.tsv"
    lines = tsv.read_text(encoding="utf-8").split("\n")
    fields = lines[1].split("\t")
    fields[3] = "  "
    lines[1] = "\t".join(fields)
    tsv.write_text("\n".join(lines), encoding="utf-8")
    tables, info = load_corpus_splits("mcv_de", spec(release), tmp_path)
    assert info["empty_skipped"]["test"] == 1 and tables["test"].num_rows == 3


def test_tsv_missing_column(release, tmp_path):
    tsv = release / "de" / "train.tsv"
    tsv.write_text(tsv.read_text(encoding="utf-8").replace("\tsentence\t", "\ttext\t", 1), encoding="utf-8")
    with pytest.raises(FlipInputError, match=r"train.tsv: missing column\(s\) \['sentence'\]"):
        load_corpus_splits("mcv_de", spec(release), tmp_path)


def test_tsv_bad_row_and_non_utf8(release, tmp_path):
    tsv = release / "de" / "dev.tsv"
    original = tsv.read_bytes()
    tsv.write_bytes(original + b"only\ttwo fields\n")
    with pytest.raises(FlipInputError, match=r"dev.tsv: line 6 has 2 fields, the header has 13"):
        load_corpus_splits("mcv_de", spec(release), tmp_path)
    tsv.write_bytes(original.replace(b"twenties", b"zw\xf6lf", 1))
    with pytest.raises(FlipInputError, match=r"dev.tsv: line 2 is not valid UTF-8"):
        load_corpus_splits("mcv_de", spec(release), tmp_path)


def test_missing_language_folder(tmp_path):
    with pytest.raises(FlipInputError, match=r"corpora.mcv_fr.root: .*/fr does not exist"):
        load_corpus_splits("mcv_fr", {"source": "mcv", "language": "fr", "root": str(tmp_path)}, tmp_path)


# --- the datasets path ---------------------------------------------------------------------


def write_hub_parquet(folder: Path, texts: list[str]) -> None:
    """Parquet files as the hub serves Common Voice: an Audio struct column {bytes, path}."""
    features = {"client_id": {"dtype": "string", "_type": "Value"}, "path": {"dtype": "string", "_type": "Value"},
                "audio": {"sampling_rate": 48000, "_type": "Audio"}, "sentence": {"dtype": "string", "_type": "Value"},
                "up_votes": {"dtype": "int64", "_type": "Value"}}
    metadata = {b"huggingface": json.dumps({"info": {"features": features}}).encode()}
    offset = 0
    for split, n in (("train", 6), ("validation", 3), ("test", 3)):
        names = [f"common_voice_fr_{500 + offset + i}.mp3" for i in range(n)]
        audio = [{"bytes": b"ID3 hub " + name.encode(), "path": name} for name in names]
        audio[0] = {"bytes": None, "path": names[0]}  # no bytes and no local file: missing
        table = pa.table({
            "client_id": [f"c{i}" for i in range(n)], "path": names,
            "audio": pa.array(audio, pa.struct([("bytes", pa.binary()), ("path", pa.string())])),
            "sentence": texts[offset : offset + n], "up_votes": list(range(n)),
        }).replace_schema_metadata(metadata)
        pq.write_table(table, folder / f"{split}.parquet")
        offset += n


def test_hub_path_writes_clips_and_records_missing(tmp_path, tatoeba_dir):
    pytest.importorskip("datasets")
    texts = (tatoeba_dir / "tatoeba.fra-eng.fra").read_text(encoding="utf-8").split("\n")[:12]
    write_hub_parquet(tmp_path, texts)
    hub = {"id": "parquet", "data_files": {s: f"{s}.parquet" for s in ("train", "validation", "test")},
           "cache_dir": str(tmp_path / "hf")}
    entry = {"source": "mcv", "language": "fr", "hub": hub, "audio_dir": "audio"}
    with pytest.raises(FlipInputError, match=r"3 audio file\(s\) missing.*common_voice_fr_500"):
        load_corpus_splits("mcv_fr", entry, tmp_path)
    out = tmp_path / "out"
    corpus_stage("mcv_fr", {**entry, "missing_audio": "skip"}, out, tmp_path)
    ids, paths = read_view(out / "train.parquet", "speech_fr")
    assert ids[0] == "common_voice_fr_501"
    assert paths[0] == str((tmp_path / "audio" / "fr" / "clips" / "common_voice_fr_501.mp3").resolve())
    assert Path(paths[0]).read_bytes() == b"ID3 hub common_voice_fr_501.mp3"
    _, text = read_view(out / "dev.parquet", "text_fr")
    assert text[0] == texts[7].strip()
    info = json.loads((out / "info.json").read_text())
    assert info["missing_audio_skipped"] == {"train": 1, "dev": 1, "test": 1}
    assert pq.read_table(out / "train.parquet").column("up_votes").to_pylist()[0] == "1"
