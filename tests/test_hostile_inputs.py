"""Hostile input, one class of problem per section, several representative inputs each: every
one is refused with one line naming the file, row, option or config key (exit status 2 from
the CLI), leaves no output behind, and never turns into a traceback or a silently wrong number.

Classes: device strings; input files and output folders (a folder for a file and the reverse,
missing, cut short, read-only, full); config files (YAML errors, keys given twice, empty, a
list; ``results`` a file; ``select`` naming nothing there); numeric options out of range;
``--spec`` (missing file, not an object, incomplete); embeddings of another encoder; a UTF-8
byte-order mark; ``flip keywords --view``; corrupt JSON beside a vocabulary or model. The
Snakemake lock left by a killed run: tests/test_run_lock.py and tests/workflow/test_crash_recovery.py.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from helpers.tiny import TINY

from flip_pipeline.cli import main
from flip_pipeline.config.yaml_loader import read_config_file
from flip_pipeline.corpora.sample import generate_sample_corpus
from flip_pipeline.device import resolve_device
from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.corpus_table import read_view, write_corpus_table
from flip_pipeline.formats.shards import ViewEmbeddings
from flip_pipeline.stages.corpus import corpus_stage

REPO = Path(__file__).resolve().parent.parent
BOW = {"family": "bow_projection", "dim": 16}


def refused(code: int, err: str, *needles: str) -> str:
    """The one error line of a refused ``flip`` call, checked: status 2, no traceback, each needle in it."""
    lines = [line for line in err.splitlines() if ": error: " in line]
    assert code == 2 and "Traceback" not in err and len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def flip(capsys, *args: str) -> tuple[int, str]:
    code = main([str(a) for a in args])
    return code, capsys.readouterr().err


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """A corpus (train/dev/test), a vocabulary, bags of words, embeddings and a LiP, made with the CLI."""
    root = tmp_path_factory.mktemp("run")
    tables = generate_sample_corpus(300, {"train": 0.6, "dev": 0.2, "test": 0.2}, ("en",), seed=2)
    for split, table in tables.items():
        write_corpus_table(table, root / f"{split}.parquet")
        assert main(["embed", "--name", "bow", "--spec", json.dumps(BOW), "--corpus-table",
                     str(root / f"{split}.parquet"), "--view", "text_en", "--out-dir", str(root / "emb" / split),
                     "--device", "cpu"]) == 0
    assert main(["vocab", "--name", "v", "--spec", json.dumps({"corpus": "s", "view": "text_en"}),
                 "--corpus-table", str(root / "train.parquet"), "--out-dir", str(root / "vocab")]) == 0
    for split in tables:
        assert main(["bow", "--vocab-dir", str(root / "vocab"), "--corpus-table", str(root / f"{split}.parquet"),
                     "--view", "text_en", "--out", str(root / f"{split}.npz")]) == 0
    assert main(["train", "--spec", json.dumps(RUN), "--encoder-spec", json.dumps(BOW), "--vocab-dir",
                 str(root / "vocab"), "--train-bow", str(root / "train.npz"), "--dev-bow", str(root / "dev.npz"),
                 "--train-embeddings", str(root / "emb" / "train"), "--dev-embeddings", str(root / "emb" / "dev"),
                 "--out-dir", str(root / "model"), "--device", "cpu"]) == 0
    return root


RUN = {"run": "r", "probe": "lip", "rank": None, "alpha": 1.0, "train_views": ["text_en"], "encoder": "bow",
       "target_view": "text_en", "training": {"max_iterations": 1, "batch_size": 64}}


def embed_args(run: Path, out: Path, *extra: str) -> list[str]:
    return ["embed", "--name", "bow", "--spec", json.dumps(BOW), "--corpus-table", str(run / "test.parquet"),
            "--view", "text_en", "--out-dir", str(out), *extra]


def evaluate_args(run: Path, embeddings: Path, out: Path, *extra: str) -> list[str]:
    return ["evaluate", "--model-dir", str(run / "model"), "--embeddings", str(embeddings),
            "--bow", str(run / "test.npz"), "--out", str(out), *extra]


# -- device strings: one checked function (flip_pipeline.device.resolve_device) -------------------------------


ABSENT_GPUS = [f"cuda:{torch.cuda.device_count()}", "cuda:17"] + ([] if torch.cuda.is_available() else ["cuda"])


@pytest.mark.parametrize("text, why", [("tpu", "is not a device"), ("CPU", "is not a device"),
                                       ("cuda:x", "is not a device"),
                                       *((gpu, "is not present") for gpu in ABSENT_GPUS)])
def test_a_device_that_is_not_there_is_refused_naming_the_option(text, why):
    with pytest.raises(FlipInputError, match=f"^--device: '{text}' {why}"):
        resolve_device(text, key="--device")
    assert resolve_device("cpu").type == "cpu" and resolve_device("auto").type in ("cpu", "cuda")


@pytest.mark.parametrize("device", ["tpu", ABSENT_GPUS[0]])
def test_embed_on_an_absent_device_exits_2_before_touching_its_output(run, tmp_path, capsys, device):
    out = tmp_path / "emb"
    refused(*flip(capsys, *embed_args(run, out, "--device", device)), "--device", device)
    assert not out.exists()


def test_train_on_an_absent_device_exits_2_without_a_model(run, tmp_path, capsys):
    code, err = flip(capsys, "train", "--spec", json.dumps(RUN), "--vocab-dir", run / "vocab", "--train-bow",
                     run / "train.npz", "--dev-bow", run / "dev.npz", "--train-embeddings", run / "emb" / "train",
                     "--dev-embeddings", run / "emb" / "dev", "--out-dir", tmp_path / "m", "--device", "tpu")
    refused(code, err, "--device: 'tpu'")
    assert not (tmp_path / "m").exists()


# -- input files and output folders: one place (flip_pipeline.files, flip_pipeline.atomic) -------------------


def test_a_folder_given_for_a_file_and_a_file_for_a_folder(run, tmp_path, capsys):
    refused(*flip(capsys, "bow", "--vocab-dir", run / "vocab", "--corpus-table", run / "emb", "--view", "text_en",
                  "--out", tmp_path / "b.npz"), f"{run / 'emb'}: is a folder, not a file")
    refused(*flip(capsys, "pair", "--a", run / "test.parquet", "--b", run / "emb" / "test", "--out", tmp_path / "p"),
            f"{run / 'test.parquet'}: is a file, not a folder")
    (tmp_path / "taken").write_text("a file")
    refused(*flip(capsys, *embed_args(run, tmp_path / "taken")), "taken: is a file, not a folder")
    refused(*flip(capsys, "bow", "--vocab-dir", run / "vocab", "--corpus-table", run / "test.parquet", "--view",
                  "text_en", "--out", tmp_path / "taken" / "b.npz"), "taken: is a file, not a folder")
    refused(*flip(capsys, "bow", "--vocab-dir", run / "vocab", "--corpus-table", run / "test.parquet", "--view",
                  "text_en", "--out", run / "emb"), f"{run / 'emb'}: cannot write: is a folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


def test_missing_and_cut_short_inputs_name_the_file(run, tmp_path, capsys):
    refused(*flip(capsys, "bow", "--vocab-dir", run / "vocab", "--corpus-table", tmp_path / "nope.parquet",
                  "--view", "text_en", "--out", tmp_path / "b.npz"), "nope.parquet: no such corpus table")
    cut = tmp_path / "cut.parquet"
    cut.write_bytes((run / "test.parquet").read_bytes()[:300])
    refused(*flip(capsys, "bow", "--vocab-dir", run / "vocab", "--corpus-table", cut, "--view", "text_en",
                  "--out", tmp_path / "b.npz"), "cut.parquet: not a readable corpus table")
    refused(*flip(capsys, "entity-recall", "--model-dir", run / "model", "--embeddings", run / "emb" / "test",
                  "--entities", tmp_path / "none.jsonl", "--out", tmp_path / "e.json"),
            "none.jsonl: no such entities file")
    assert not (tmp_path / "b.npz").exists() and not (tmp_path / "e.json").exists()


def _without_write_override() -> list[str]:
    """A command prefix under which root, too, obeys a folder's permission bits (no CAP_DAC_OVERRIDE)."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.fail("setpriv (util-linux) is needed to drop root's permission override")
    return ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--"]


def _flip_process(args: list[str], prefix: list[str] = (), preexec=None) -> subprocess.CompletedProcess:
    return subprocess.run([*prefix, sys.executable, "-m", "flip_pipeline.cli", *map(str, args)], capture_output=True,
                          text=True, preexec_fn=preexec, env={**os.environ, "PYTHONPATH": str(REPO)})


def test_a_read_only_output_folder_is_one_line_without_partial_output(run, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        for args, what in ((["bow", "--vocab-dir", run / "vocab", "--corpus-table", run / "test.parquet", "--view",
                             "text_en", "--out", locked / "b.npz"], "b.npz: cannot write: permission denied"),
                           (embed_args(run, locked / "emb", "--device", "cpu"),
                            "emb: cannot create the output folder")):
            proc = _flip_process(args, _without_write_override())
            refused(proc.returncode, proc.stderr, what)
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o755)


def _small_file_limit() -> None:
    """The process may write no file beyond 4 KiB, as a full disk stops a write (EFBIG, not a signal)."""
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def test_a_write_the_disk_cannot_hold_is_one_line_without_partial_output(run, tmp_path):
    for args, what in ((["bow", "--vocab-dir", run / "vocab", "--corpus-table", run / "train.parquet", "--view",
                         "text_en", "--out", tmp_path / "b.npz"], "b.npz: cannot write: file too large"),
                       (embed_args(run, tmp_path / "emb", "--device", "cpu"), "part-00000.parquet: cannot write")):
        proc = _flip_process(args, preexec=_small_file_limit)
        refused(proc.returncode, proc.stderr, what)
    assert not (tmp_path / "b.npz").exists() and not list((tmp_path / "emb").glob("*part-*"))


def test_a_full_disk_is_named_as_such():
    from flip_pipeline.files import os_error

    for errno_, words in ((28, "no space left on the device (disk full)"), (30, "read-only file system"),
                          (13, "permission denied")):
        err = os_error(OSError(errno_, os.strerror(errno_), "/x/y"), doing="cannot write")
        assert str(err) == f"/x/y: cannot write: {words}"


# -- config files: one YAML loader (flip_pipeline.config.yaml_loader) -----------------------------------------------


@pytest.mark.parametrize("text, message", [
    ("corpora:\n  a: [x\n", r"c\.yaml:3:1: not valid YAML"),
    ("experiments:\n  tiny: {corpus: a}\n  other: 1\n  tiny: {corpus: b}\n",
     r"c\.yaml:4:3: not valid YAML: key 'tiny' is given twice, on lines 2 and 4"),
    ("results: r\nresults: s\n", r"c\.yaml:2:1: not valid YAML: key 'results' is given twice, on lines 1 and 2"),
    ("", r"c\.yaml: empty; a config is a mapping"),
    ("# only a comment\n", r"c\.yaml: empty; a config is a mapping"),
    ("- corpora\n- encoders\n", r"c\.yaml:1:1: a config is a mapping of keys .* not a list"),
    ("just words\n", r"c\.yaml:1:1: a config is a mapping of keys .* not a str"),
])
def test_a_config_file_error_names_file_line_and_column(tmp_path, text, message):
    (tmp_path / "c.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(FlipInputError, match=message):
        read_config_file(tmp_path / "c.yaml")


def test_yaml_merge_keys_and_a_byte_order_mark_are_no_errors(tmp_path):
    (tmp_path / "c.yaml").write_text("\ufeffbase: &b {x: 1, y: 2}\nother:\n  <<: *b\n  y: 3\n", encoding="utf-8")
    assert read_config_file(tmp_path / "c.yaml") == {"base": {"x": 1, "y": 2}, "other": {"x": 1, "y": 3}}


def test_check_config_reads_files_as_the_workflow_does(tmp_path, capsys):
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(TINY), encoding="utf-8")
    (tmp_path / "more.yaml").write_text("training:\n  lr: 0.1\n  lr: 0.2\n", encoding="utf-8")
    refused(*flip(capsys, "check-config", tmp_path / "tiny.yaml", tmp_path / "more.yaml"),
            "more.yaml:3:3: not valid YAML: key 'lr' is given twice, on lines 2 and 3")
    (tmp_path / "more.yaml").write_text("tables:\n  tiny:\n    select: {encoders: [nope]}\n", encoding="utf-8")
    refused(*flip(capsys, "check-config", tmp_path / "tiny.yaml", tmp_path / "more.yaml"),
            "tables.tiny.select.encoders[0]: 'nope' is none of the encoders of its experiments ['tiny'] (bow)")
    assert main(["check-config", str(tmp_path / "tiny.yaml")]) == 0


def _snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory",
                           str(workdir), "--cores", "1", *args], capture_output=True, text=True, cwd=workdir)


def test_the_workflow_names_a_repeated_key_of_a_configfile_and_a_results_file(tmp_path):
    text = yaml.safe_dump(TINY)
    (tmp_path / "dup.yaml").write_text(text + "experiments:\n  other: {}\n", encoding="utf-8")
    proc = _snakemake(tmp_path, "-n", "--configfile", str(tmp_path / "dup.yaml"))
    said = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "dup.yaml:" in said and "key 'experiments' is given twice" in said, said[-2000:]
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump({**TINY, "results": "taken"}), encoding="utf-8")
    (tmp_path / "taken").write_text("a file")
    proc = _snakemake(tmp_path, "-n", "--configfile", str(tmp_path / "tiny.yaml"))
    said = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "taken: is a file, not a folder (the results folder" in said, said[-2000:]
    assert "Traceback" not in said and "NotADirectoryError" not in said


# -- numbers out of range: argument types (flip_pipeline.cli_types) -------------------------------------------


@pytest.mark.parametrize("option, value, why", [("--shard-rows", "-5", "-5 must be 1 or more"),
                                                ("--shard-rows", "0", "0 must be 1 or more"),
                                                ("--shard-rows", "ten", "'ten' is not a whole number")])
def test_shard_rows_out_of_range_are_refused(run, tmp_path, capsys, option, value, why):
    refused(*flip(capsys, *embed_args(run, tmp_path / "emb", option, value)), f"argument {option}: {why}")
    assert not (tmp_path / "emb").exists()


@pytest.mark.parametrize("values, why", [(["0"], "0 must be 1 or more"), (["5", "-1"], "-1 must be 1 or more"),
                                         (["5", "5"], "5 is given twice")])
def test_top_n_out_of_range_writes_no_precision_at_zero(run, tmp_path, capsys, values, why):
    out = tmp_path / "eval.json"
    refused(*flip(capsys, *evaluate_args(run, run / "emb" / "test", out, "--top-n", *values)), f"--top-n: {why}")
    assert not out.exists()


@pytest.mark.parametrize("args, why", [(["keywords", "-k", "0"], "argument -k/--top-k: 0 must be 1 or more"),
                                       (["entity-recall", "--ks", "3", "0"], "argument --ks: 0 must be 1 or more"),
                                       (["entities", "--batch-size", "-2"], "argument --batch-size: -2 must be 1")])
def test_other_counts_out_of_range_are_refused(capsys, args, why):
    refused(*flip(capsys, *args), why)


# -- --spec: a JSON object, complete (flip_pipeline.cli_types.spec_json, settings.require_keys, config.schema) --


@pytest.mark.parametrize("spec, why", [("@missing.json", "missing.json: no such spec file"),
                                       ("[1, 2]", "must be a JSON object {...}, not list"),
                                       ("{oops", "not valid JSON")])
def test_a_spec_that_is_no_json_object_is_refused(run, tmp_path, capsys, spec, why):
    args = embed_args(run, tmp_path / "emb")
    args[args.index("--spec") + 1] = spec
    refused(*flip(capsys, *args), f"argument --spec: {why}")


def test_incomplete_specs_name_the_key_they_lack(run, tmp_path, capsys):
    refused(*flip(capsys, "select", "--spec", json.dumps({"run": "x", "experiment": "e"}), "--point-dirs",
                  run / "model", "--out", tmp_path / "s.json"), "--spec (a swept run): lacks 'fingerprint'")
    point = {"experiment": "e", "run": "x", "fingerprint": "f", "criterion": "best_dev_recall",
             "points": [{"run": "p"}]}
    refused(*flip(capsys, "select", "--spec", json.dumps(point), "--point-dirs", run / "model", "--out",
                  tmp_path / "s.json"), "points[0]: lacks 'fingerprint'")
    refused(*flip(capsys, "report", "--kind", "table", "--name", "t", "--spec", json.dumps({"layout": "accuracy"}),
                  "--inputs", tmp_path / "x.json", "--out-prefix", tmp_path / "t"), "--spec: lacks 'entries'")
    args = embed_args(run, tmp_path / "emb")
    args[args.index("--spec") + 1] = json.dumps({"family": "bow_projection"})
    refused(*flip(capsys, *args), "--spec: encoders.bow: 'dim' is a required property")
    assert list(tmp_path.iterdir()) == []


# -- embeddings of another encoder: shard metadata checked where a stage expects one encoder --------------------


def test_shards_of_another_encoder_or_config_are_refused_where_one_is_expected(run, tmp_path, capsys):
    for name, spec in (("other", BOW), ("bow", {**BOW, "seed": 7})):
        emb = tmp_path / f"{name}-{spec.get('seed', 0)}"
        assert main(["embed", "--name", name, "--spec", json.dumps(spec), "--corpus-table", str(run / "test.parquet"),
                     "--view", "text_en", "--out-dir", str(emb), "--device", "cpu"]) == 0
        capsys.readouterr()
        out = tmp_path / "eval.json"
        refused(*flip(capsys, *evaluate_args(run, emb, out)), f"{emb}: embedded by encoder {name!r}",
                "needs encoder 'bow' (config fingerprint")
        assert not out.exists()
        refused(*flip(capsys, "pair", "--a", run / "emb" / "test", "--b", emb, "--out", tmp_path / "p.parquet"),
                f"{emb}: embedded by encoder {name!r}")
        refused(*flip(capsys, "keywords", "--model", run / "model", "--embeddings", emb / "part-00000.parquet"),
                f"part-00000.parquet: embedded by encoder {name!r}")
    refused(*flip(capsys, "train", "--spec", json.dumps({**RUN, "encoder": "other"}), "--vocab-dir", run / "vocab",
                  "--train-bow", run / "train.npz", "--dev-bow", run / "dev.npz", "--train-embeddings",
                  run / "emb" / "train", "--dev-embeddings", run / "emb" / "dev", "--out-dir", tmp_path / "m",
                  "--device", "cpu"), "embedded by encoder 'bow'", "run r needs encoder 'other'")
    assert not (tmp_path / "m").exists() and not (tmp_path / "p.parquet").exists()
    assert main(evaluate_args(run, run / "emb" / "test", tmp_path / "ok.json")) == 0  # its own encoder's: scored


def test_what_a_models_config_says_of_its_encoder():
    from flip_pipeline.formats.shards import encoder_fingerprint, model_encoder

    assert model_encoder({"encoder": "bow", "encoder_spec": BOW}) == ("bow", encoder_fingerprint("bow", BOW))
    assert model_encoder({"encoder": "sonar", "checkpoint": "BUT-FIT/x", "source": "/cache/x"}) == ("sonar", None)
    assert model_encoder({"encoder": "sonar_speech_encoder_eng", "rank": 512}) == (None, None)  # as published


# -- a UTF-8 byte-order mark: dropped where text files are read (flip_pipeline.files.read_text) ----------------


def test_a_byte_order_mark_keeps_the_id_column_of_a_tsv(tmp_path):
    root = tmp_path / "mine"
    root.mkdir()
    for split in ("train", "dev", "test"):
        rows = [f"{split}-{i}\tsentence {i} of {split}" for i in range(4)]
        (root / f"{split}.tsv").write_text("\ufeffid\ttext_en\n" + "\n".join(rows) + "\n", encoding="utf-8")
    corpus_stage("mine", {"source": "local", "root": str(root), "views": ["text_en"]}, tmp_path / "out", tmp_path)
    ids, texts = read_view(tmp_path / "out" / "dev.parquet", "text_en")
    assert ids == [f"dev-{i}" for i in range(4)] and texts[0] == "sentence 0 of dev"


def test_a_byte_order_mark_is_not_part_of_the_first_sentence_or_a_spec(run, tmp_path, capsys):
    (tmp_path / "a.en").write_text("\ufefffirst line\nsecond line\nthird line\n", encoding="utf-8")
    corpus_stage("c", {"source": "text_files", "views": {"text_en": "a.en"}, "splits": {"train": 0.34, "dev": 0.33,
                 "test": 0.33}, "seed": 0}, tmp_path / "out", tmp_path)
    texts = [t for split in ("train", "dev", "test") for t in read_view(tmp_path / "out" / f"{split}.parquet",
                                                                      "text_en")[1]]
    assert sorted(texts) == ["first line", "second line", "third line"]
    (tmp_path / "spec.json").write_text("\ufeff" + json.dumps(BOW), encoding="utf-8")
    args = embed_args(run, tmp_path / "emb", "--device", "cpu")
    args[args.index("--spec") + 1] = f"@{tmp_path / 'spec.json'}"
    assert main(args) == 0 and len(ViewEmbeddings(tmp_path / "emb")) == 60


# -- flip keywords --view ------------------------------------------------------------------------------------


@pytest.mark.parametrize("extra, why", [
    (["--text", "red apple", "--view", "english"], "argument --view: 'english' is not a view name"),
    (["--text", "red apple", "--view", "speech_en"], "--view speech_en: --text needs a text view"),
    (["--embeddings", "EMB", "--view", "text_de"], "--view text_de: names the language of --text; --embeddings"),
])
def test_keywords_refuse_a_view_that_does_not_apply(run, capsys, extra, why):
    shard = str(next((run / "emb" / "test").glob("part-*.parquet")))
    code, err = flip(capsys, "keywords", "--model", run / "model", *[shard if e == "EMB" else e for e in extra])
    refused(code, err, why)
    assert capsys.readouterr().out == ""


# -- corrupt JSON beside a vocabulary or a model -------------------------------------------------------------


@pytest.mark.parametrize("settings, why", [
    ('{"kind": "words", "pattern": ', "settings.json:1:30: vocabulary settings is not valid JSON"),
    ('["latin"]', "settings.json: vocabulary settings must hold a JSON object"),
    ('{"kind": "words"}', "vocabulary settings lack 'pattern'"),
    ('{"kind": "words", "pattern": "klingon"}', "token pattern recorded for it, 'klingon', is none of"),
])
def test_a_corrupt_vocabulary_settings_file_is_named(run, tmp_path, capsys, settings, why):
    vocab = tmp_path / "vocab"
    shutil.copytree(run / "vocab", vocab)
    (vocab / "settings.json").write_text(settings, encoding="utf-8")
    refused(*flip(capsys, "bow", "--vocab-dir", vocab, "--corpus-table", run / "test.parquet", "--view", "text_en",
                  "--out", tmp_path / "b.npz"), why)
    assert not (tmp_path / "b.npz").exists()


def test_a_corrupt_model_config_is_named(run, tmp_path, capsys):
    model = tmp_path / "model"
    shutil.copytree(run / "model", model)
    (model / "config.json").write_text('{"encoder": "bow", ', encoding="utf-8")
    refused(*flip(capsys, "keywords", "--model", model, "--text", "red apple"),
            "config.json:1:", "checkpoint configuration is not valid JSON")
