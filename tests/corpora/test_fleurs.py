"""FLEURS: the release layout and the `datasets` path, on fixtures the tests write.

Release layout (the files of the hub repository google/fleurs): ``data/{lang}/{split}.tsv``
without header (id, file name, raw transcription, normalised transcription, words,
number of samples, gender) and ``data/{lang}/audio/{split}.tar.gz`` of wav files under a
``{split}/`` folder. Three languages share sentence ids; the clips are spoken by
espeak-ng. German and English test splits hold two recordings of one sentence id.
The hub path reads the same rows from Parquet files in the layout of the hub's Parquet
export (``{lang}/{train,validation,test}/0000.parquet``) through ``datasets``.
"""

from __future__ import annotations

import io
import json
import shutil
import socket
import tarfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers.fleurs import write_split, write_tar
from helpers.processes import dead_pid
from helpers.sonar import espeak_available, synthesize

from flip_pipeline.cli import main
from flip_pipeline.corpora import load_corpus_splits
from flip_pipeline.corpora.fleurs import DEFAULT_EXPORT, deduplicate, hub_block
from flip_pipeline.corpora.fleurs_languages import THESIS_LANGUAGES, thesis_languages
from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.corpus_table import read_view

# sentence id -> (raw transcription, normalised transcription) per language
SENTENCES = {
    "de_de": {1001: "Guten Morgen!", 1002: "Danke schön.", 1003: "Wo ist der Bahnhof?", 1004: "Ich heiße Anna.",
              1005: "Es regnet heute.", 1006: "Das Haus ist groß."},
    "fr_fr": {1001: "Bonjour !", 1003: "Où est la gare ?", 1004: "Je m'appelle Anna.", 1006: "La maison est grande.",
              1007: "Il fait beau."},
    "en_us": {1002: "Thank you.", 1003: "Where is the station?", 1004: "My name is Anna.", 1005: "It rains today.",
              1006: "The house is big."},
}
VOICES = {"de_de": "de", "fr_fr": "fr", "en_us": "en"}
# per split: (sentence id, espeak speed); an id twice = two recordings (speakers) of one sentence
LAYOUT = {
    "de_de": {"train": [(1001, 175), (1002, 175)], "dev": [(1003, 175)],
              "test": [(1004, 175), (1005, 175), (1006, 175), (1005, 130)]},
    "fr_fr": {"train": [(1001, 175)], "dev": [(1003, 175)], "test": [(1004, 175), (1006, 175), (1007, 175)]},
    "en_us": {"train": [(1002, 175)], "dev": [(1003, 175)], "test": [(1005, 175), (1004, 175), (1006, 175), (1004, 130)]},
}


def normalise(raw: str) -> str:
    return "".join(c for c in raw.lower() if c.isalnum() or c in " '").strip()


def file_name(lang: str, split: str, k: int) -> str:
    """A FLEURS-style numeric clip name, distinct per language, split and row."""
    return f"{1_000_000 + 1000 * list(LAYOUT).index(lang) + 100 * ('train', 'dev', 'test').index(split) + k}.wav"


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[tuple[str, str, int], bytes]:
    """(lang, split, row) -> wav bytes spoken by espeak-ng (18 clips, about 1 s each)."""
    if not espeak_available():
        pytest.fail("espeak-ng is missing: apt-get install espeak-ng (setup.sh does)")
    folder = tmp_path_factory.mktemp("espeak")
    out = {}
    for lang, splits in LAYOUT.items():
        for split, rows in splits.items():
            for k, (sid, speed) in enumerate(rows):
                wav = synthesize(SENTENCES[lang][sid], folder / f"{lang}_{split}_{k}.wav", VOICES[lang], speed)
                out[lang, split, k] = wav.read_bytes()
    return out


def write_release(root: Path, clips: dict) -> Path:
    """The google/fleurs repository layout for the three languages; returns ``root``."""
    for lang, splits in LAYOUT.items():
        for split, rows in splits.items():
            write_split(root / "data" / lang, split, [
                (sid, file_name(lang, split, k), SENTENCES[lang][sid], normalise(SENTENCES[lang][sid]), clips[lang, split, k])
                for k, (sid, _) in enumerate(rows)])
    return root


@pytest.fixture(scope="module")
def release_master(tmp_path_factory, clips) -> Path:
    return write_release(tmp_path_factory.mktemp("fleurs_master"), clips)


@pytest.fixture
def release(tmp_path, release_master) -> Path:
    """A private copy of the release (tests may damage it)."""
    return Path(shutil.copytree(release_master, tmp_path / "fleurs"))


def spec(root: Path, lang: str = "de_de", **extra) -> dict:
    return {"source": "fleurs", "language": lang, "release": str(root), "audio_dir": "audio", **extra}


def test_release_views_ids_audio_and_info(release, clips, tmp_path):
    tables, info = load_corpus_splits("fleurs_de", spec(release), tmp_path)
    test = tables["test"]
    assert test.column_names == ["id", "text_de", "speech_de", "file_name", "raw_transcription", "transcription",
                                 "num_samples", "gender", "split"]
    assert sorted(test.column("id").to_pylist()) == ["1004", "1005", "1006"]
    row = {r["id"]: r for r in test.to_pylist()}["1004"]
    assert row["text_de"] == "ich heiße anna"  # the normalised transcription by default
    assert row["raw_transcription"] == "Ich heiße Anna." and row["gender"] == "MALE"
    assert row["speech_de"] == f"de_de/test/{file_name('de_de', 'test', 0)}"
    assert {s: t.num_rows for s, t in tables.items()} == {"train": 2, "dev": 1, "test": 3}
    assert info["via"] == "release" and info["release"] == str((release / "data" / "de_de").resolve())
    assert info["rows_read"] == {"train": 2, "dev": 1, "test": 4}
    assert info["duplicates_dropped"] == {"train": 0, "dev": 0, "test": 1}
    assert info["empty_skipped"] == {"train": 0, "dev": 0, "test": 0}
    assert info["missing_audio_skipped"] == {} and info["deduplication"]["seed"] == 0
    assert info["audio_roots"]["test"] == str((tmp_path / "audio").resolve())


def test_extracted_clips_are_the_archive_bytes(release, clips, tmp_path):
    out = tmp_path / "out"
    assert main(["corpus", "--name", "fleurs_de", "--spec", json.dumps(spec(release)),
                 "--out-dir", str(out), "--base", str(tmp_path)]) == 0
    ids, paths = read_view(out / "train.parquet", "speech_de")
    assert ids == ["1001", "1002"]
    assert [Path(p).read_bytes() for p in paths] == [clips["de_de", "train", 0], clips["de_de", "train", 1]]
    assert Path(paths[0]).read_bytes()[:4] == b"RIFF"
    info = json.loads((out / "info.json").read_text())
    assert info["rows"] == {"train": 2, "dev": 1, "test": 3} and info["source"]["source"] == "fleurs"
    _, texts = read_view(out / "dev.parquet", "text_de")
    assert texts == ["wo ist der bahnhof"]


def test_ids_intersect_across_languages(release, tmp_path):
    ids = {}
    for lang in LAYOUT:
        tables, _ = load_corpus_splits(f"fleurs_{lang}", spec(release, lang), tmp_path)
        ids[lang] = set(tables["test"].column("id").to_pylist())
        assert f"text_{lang[:2]}" in tables["test"].column_names
    assert ids["de_de"] & ids["fr_fr"] & ids["en_us"] == {"1004", "1006"}
    assert ids["de_de"] & ids["en_us"] == {"1004", "1005", "1006"}
    assert "1007" in ids["fr_fr"] - ids["de_de"]


def test_raw_transcription_and_view_language(release, tmp_path):
    tables, info = load_corpus_splits("f", spec(release, "fr_fr", transcription="raw", view_language="fra"), tmp_path)
    assert tables["test"].column("text_fra").to_pylist() == ["Je m'appelle Anna.", "La maison est grande.", "Il fait beau."]
    assert tables["test"].column("transcription").to_pylist()[0] == "je m'appelle anna"
    assert info["transcription"] == "raw" and info["view_language"] == "fra"


def kept_file(tables) -> str:
    return {r["id"]: r["file_name"] for r in tables["test"].to_pylist()}["1005"]


def test_duplicates_removed_by_the_seeded_rule(release, tmp_path):
    # de_de test rows: 1004, 1005 (k=1), 1006, 1005 (k=3); the kept 1005 is the one first in the permutation
    chosen = {}
    for seed in range(6):
        tables, info = load_corpus_splits("fleurs_de", spec(release, seed=seed), tmp_path)
        order = list(np.random.default_rng(seed).permutation(4))
        expected = 1 if order.index(1) < order.index(3) else 3
        assert kept_file(tables) == file_name("de_de", "test", expected)
        assert tables["test"].column("id").to_pylist() == (["1004", "1005", "1006"] if expected == 1
                                                           else ["1004", "1006", "1005"])  # source order
        chosen[seed] = expected
    assert set(chosen.values()) == {1, 3}  # another seed keeps the other recording
    again, _ = load_corpus_splits("fleurs_de", spec(release, seed=4), tmp_path)
    assert kept_file(again) == file_name("de_de", "test", chosen[4])


def test_deduplicate_keeps_one_row_per_id_deterministically():
    ids = [str(i % 7) for i in range(40)]
    kept = deduplicate(ids, 3)
    assert sorted(ids[i] for i in kept) == sorted(set(ids)) and kept == sorted(kept)
    assert deduplicate(ids, 3) == kept
    assert any(deduplicate(ids, s) != kept for s in range(4, 8))
    assert deduplicate([], 0) == []


def test_already_extracted_folder_is_used_in_place(release, clips, tmp_path):
    lang_dir = release / "data" / "de_de"
    for split in ("train", "dev", "test"):
        archive = lang_dir / "audio" / f"{split}.tar.gz"
        with tarfile.open(archive) as tar:
            tar.extractall(lang_dir / "audio", filter="data")  # makes audio/{split}/
        archive.unlink()
    entry = {"source": "fleurs", "language": "de_de", "release": str(release / "data")}  # the data folder itself
    tables, info = load_corpus_splits("fleurs_de", entry, tmp_path)
    assert tables["dev"].column("speech_de").to_pylist() == [f"audio/dev/{file_name('de_de', 'dev', 0)}"]
    assert info["audio_roots"]["dev"] == str(lang_dir.resolve())
    assert not (tmp_path / "audio").exists()


# --- bad input -----------------------------------------------------------------------------


def test_missing_tsv_and_missing_language(release, tmp_path):
    (release / "data" / "de_de" / "dev.tsv").unlink()
    with pytest.raises(FlipInputError, match=r"de_de/dev.tsv: file not found"):
        load_corpus_splits("fleurs_de", spec(release), tmp_path)
    with pytest.raises(FlipInputError, match=r"corpora.fleurs_it.release: neither .*data/it_it nor"):
        load_corpus_splits("fleurs_it", spec(release, "it_it"), tmp_path)


@pytest.mark.parametrize("damage, message", [
    (lambda f: f[:6], r"test.tsv: line 2 has 6 fields, expected 7 \(id, file_name"),
    (lambda f: ["x12", *f[1:]], r"test.tsv line 2: id 'x12' is not a non-negative integer"),
    (lambda f: [*f[:5], "many", f[6]], r"test.tsv line 2: num_samples 'many'"),
    (lambda f: [f[0], "../escape.wav", *f[2:]], r"test.tsv line 2: file name '../escape.wav' is not a plain file name"),
])
def test_malformed_row(release, tmp_path, damage, message):
    tsv = release / "data" / "de_de" / "test.tsv"
    lines = tsv.read_text(encoding="utf-8").split("\n")
    lines[1] = "\t".join(damage(lines[1].split("\t")))
    tsv.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(FlipInputError, match=message):
        load_corpus_splits("fleurs_de", spec(release), tmp_path)


@pytest.mark.parametrize("member", ["../evil.wav", "/abs/evil.wav", "link"])
def test_unsafe_tar_member_is_refused_and_nothing_extracted(release, clips, tmp_path, member):
    archive = release / "data" / "de_de" / "audio" / "dev.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo(member)
        if member == "link":
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
            tar.addfile(info)
        else:
            info.size = 4
            tar.addfile(info, io.BytesIO(b"RIFF"))
    with pytest.raises(FlipInputError, match=rf"dev.tar.gz: unsafe member '{member}'"):
        load_corpus_splits("fleurs_de", spec(release), tmp_path)
    assert not (tmp_path / "audio" / "de_de" / "dev").exists()
    assert not list((tmp_path / "audio" / "de_de").glob(".dev*"))  # no partial folder left


def test_a_killed_extractions_folder_is_removed_by_the_next(release, clips, tmp_path):
    """A SIGKILLed extraction leaves its temporary folder; the next one into the same target removes it."""
    audio = tmp_path / "audio" / "de_de"
    stale = audio / f".dev.tmp-{socket.gethostname()}-{dead_pid()}"
    stale.mkdir(parents=True)
    (stale / "half.wav").write_bytes(b"RIFF")
    load_corpus_splits("fleurs_de", spec(release), tmp_path)
    assert not stale.exists() and (audio / "dev").is_dir()
    assert sorted(p.name for p in audio.iterdir() if p.name.startswith(".")) == []


def test_corrupt_archive_and_missing_audio_dir(release, tmp_path):
    (release / "data" / "de_de" / "audio" / "test.tar.gz").write_bytes(b"not a gzip file")
    with pytest.raises(FlipInputError, match=r"test.tar.gz: cannot extract the archive"):
        load_corpus_splits("fleurs_de", spec(release), tmp_path)
    entry = {k: v for k, v in spec(release).items() if k != "audio_dir"}
    with pytest.raises(FlipInputError, match=r"corpora.fleurs_de.audio_dir: required to extract .*train.tar.gz"):
        load_corpus_splits("fleurs_de", entry, tmp_path)


def test_missing_clip_is_an_error_or_skipped_and_recorded(release, clips, tmp_path):
    lang_dir = release / "data" / "fr_fr"
    name = file_name("fr_fr", "test", 1)
    write_tar(lang_dir / "audio" / "test.tar.gz", {f"test/{file_name('fr_fr', 'test', k)}": clips["fr_fr", "test", k]
                                                   for k in (0, 2)})
    with pytest.raises(FlipInputError, match=rf"1 audio file\(s\) missing.*id '1006'.*test.tar.gz: member {name}"):
        load_corpus_splits("fleurs_fr", spec(release, "fr_fr"), tmp_path)
    tables, info = load_corpus_splits("fleurs_fr", spec(release, "fr_fr", missing_audio="skip"), tmp_path)
    assert tables["test"].column("id").to_pylist() == ["1004", "1007"]
    assert info["missing_audio_skipped"] == {"test": 1}
    assert info["missing_audio_examples"][0]["where"].endswith("test.tsv line 2")


def test_a_changed_archive_is_extracted_again(release, clips, tmp_path):
    load_corpus_splits("fleurs_en", spec(release, "en_us"), tmp_path)
    archive = release / "data" / "en_us" / "audio" / "dev.tar.gz"
    name = file_name("en_us", "dev", 0)
    write_tar(archive, {f"dev/{name}": clips["de_de", "dev", 0]})
    load_corpus_splits("fleurs_en", spec(release, "en_us"), tmp_path)
    assert (tmp_path / "audio" / "en_us" / "dev" / name).read_bytes() == clips["de_de", "dev", 0]


# --- the datasets path ---------------------------------------------------------------------


def write_export(folder: Path, clips: dict, lang: str = "de_de") -> None:
    """The hub's Parquet export of one language: the columns of the fleurs.py features."""
    features = {
        "id": {"dtype": "int32", "_type": "Value"}, "num_samples": {"dtype": "int32", "_type": "Value"},
        "path": {"dtype": "string", "_type": "Value"}, "audio": {"sampling_rate": 16000, "_type": "Audio"},
        "transcription": {"dtype": "string", "_type": "Value"}, "raw_transcription": {"dtype": "string", "_type": "Value"},
        "gender": {"names": ["male", "female", "other"], "_type": "ClassLabel"},
        "language": {"dtype": "string", "_type": "Value"},
    }
    metadata = {b"huggingface": json.dumps({"info": {"features": features}}).encode()}
    for split, hub_split in (("train", "train"), ("dev", "validation"), ("test", "test")):
        rows = LAYOUT[lang][split]
        names = [file_name(lang, split, k) for k in range(len(rows))]
        audio = [{"bytes": clips[lang, split, k], "path": names[k]} for k in range(len(rows))]
        if split == "train":
            audio[1] = {"bytes": None, "path": names[1]}  # no bytes and no local file: missing
        table = pa.table({
            "id": pa.array([sid for sid, _ in rows], pa.int32()),
            "num_samples": pa.array([len(clips[lang, split, k]) // 2 for k in range(len(rows))], pa.int32()),
            "path": [f"/converter/cache/{hub_split}/{n}" for n in names],
            "audio": pa.array(audio, pa.struct([("bytes", pa.binary()), ("path", pa.string())])),
            "transcription": [normalise(SENTENCES[lang][sid]) for sid, _ in rows],
            "raw_transcription": [SENTENCES[lang][sid] for sid, _ in rows],
            "gender": pa.array([k % 2 for k in range(len(rows))], pa.int64()),
            "language": ["German"] * len(rows),
        }).replace_schema_metadata(metadata)
        (folder / lang / hub_split).mkdir(parents=True)
        pq.write_table(table, folder / lang / hub_split / "0000.parquet")


def test_default_hub_block_reads_the_parquet_export():
    block, splits = hub_block({}, "nl_nl")
    assert splits == {"train": "train", "dev": "validation", "test": "test"}
    assert block == {"id": "parquet", "data_files": {
        s: f"hf://datasets/google/fleurs@refs%2Fconvert%2Fparquet/nl_nl/{s}/*.parquet" for s in splits.values()}}
    assert DEFAULT_EXPORT.startswith("hf://datasets/google/fleurs@")
    assert hub_block({"disk": "saved"}, "nl_nl")[0] == {"disk": "saved"}


def test_hub_path_offline_writes_clips_and_matches_the_release(release, clips, tmp_path):
    pytest.importorskip("datasets")
    write_export(tmp_path / "export", clips)
    entry = {"source": "fleurs", "language": "de_de", "release": None, "audio_dir": "hub_audio", "seed": 0,
             "hub": {"export": "export", "cache_dir": str(tmp_path / "hf")}}
    with pytest.raises(FlipInputError, match=r"1 audio file\(s\) missing.*id '1002'"):
        load_corpus_splits("fleurs_de", entry, tmp_path)
    out = tmp_path / "out"
    assert main(["corpus", "--name", "fleurs_de", "--spec", json.dumps({**entry, "missing_audio": "skip"}),
                 "--out-dir", str(out), "--base", str(tmp_path)]) == 0
    ids, paths = read_view(out / "test.parquet", "speech_de")
    from_release, _ = load_corpus_splits("fleurs_de", spec(release), tmp_path)
    assert ids == from_release["test"].column("id").to_pylist()  # same rows, same duplicate kept
    assert paths[0] == str((tmp_path / "hub_audio" / "de_de" / "test" / file_name("de_de", "test", 0)).resolve())
    assert Path(paths[0]).read_bytes() == clips["de_de", "test", 0]
    table = pq.read_table(out / "test.parquet")
    assert table.column("text_de").to_pylist() == from_release["test"].column("text_de").to_pylist()
    assert table.column("gender").to_pylist()[:2] == ["male", "female"]
    info = json.loads((out / "info.json").read_text())
    assert info["via"] == "hub" and info["hub"]["splits"]["dev"] == "validation"
    assert info["missing_audio_skipped"] == {"train": 1} and info["duplicates_dropped"]["test"] == 1
    assert info["rows"] == {"train": 1, "dev": 1, "test": 3}


# --- the thesis's languages ----------------------------------------------------------------


def test_thesis_language_table():
    assert len(THESIS_LANGUAGES) == 36
    seamless, sonar = thesis_languages("seamlessm4t"), thesis_languages("sonar")
    assert len(seamless) == len(sonar) == 30 and thesis_languages("salmonn") == seamless
    assert set(seamless) - set(sonar) == {"amh", "ell", "hye", "kat", "khm", "sna"}
    assert set(sonar) - set(seamless) == {"asm", "heb", "lao", "mal", "swh", "tel"}
    assert THESIS_LANGUAGES["nld"].unique_rows == 251 == min(lang.unique_rows for lang in seamless.values())
    assert THESIS_LANGUAGES["cmn"].fleurs == "cmn_hans_cn" and THESIS_LANGUAGES["cmn"].view == "cmn"
    assert {lang.resource for lang in THESIS_LANGUAGES.values()} == {"high", "medium", "low"}
    views = [lang.view for lang in THESIS_LANGUAGES.values()]
    assert len(set(views)) == 36
    with pytest.raises(FlipInputError, match="unknown model 'whisper'"):
        thesis_languages("whisper")


# --- config --------------------------------------------------------------------------------


def test_config_schema_accepts_fleurs_entries_and_names_bad_keys():
    import yaml

    from flip_pipeline.config.validation import validate_config
    from flip_pipeline.config.views import corpus_views

    config = yaml.safe_load((Path(__file__).resolve().parents[2] / "config.yaml").read_text(encoding="utf-8"))
    entry = {"source": "fleurs", "language": "cmn_hans_cn", "release": None, "hub": {}, "audio_dir": "a", "seed": 1,
             "transcription": "raw", "missing_audio": "skip"}
    config["corpora"]["fleurs_cmn"] = entry
    validate_config(config)
    assert corpus_views(entry) == ["text_cmn", "speech_cmn"]
    assert corpus_views({**entry, "view_language": "zh"}) == ["text_zh", "speech_zh"]
    for bad, where in [({"transcription": "lower"}, "corpora.fleurs_cmn.transcription"),
                       ({"language": "German"}, "corpora.fleurs_cmn.language"),
                       ({"hub": {"columns": {}}}, "corpora.fleurs_cmn.hub"),
                       ({"view_language": "chinese"}, "corpora.fleurs_cmn.view_language")]:
        config["corpora"]["fleurs_cmn"] = {**entry, **bad}
        with pytest.raises(FlipInputError, match=where):
            validate_config(config)


def test_two_members_with_one_name_are_refused(release, clips, tmp_path):
    write_tar(release / "data" / "de_de" / "audio" / "train.tar.gz",
              {"train/a.wav": clips["de_de", "train", 0], "other/a.wav": clips["de_de", "train", 1]})
    with pytest.raises(FlipInputError, match=r"train.tar.gz: member 'other/a.wav': a second file named 'a.wav'"):
        load_corpus_splits("fleurs_de", spec(release), tmp_path)
