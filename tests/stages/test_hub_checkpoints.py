"""`flip evaluate` and `flip entity-recall` read a published checkpoint by its hub id, as `flip keywords` does.

The hub id resolves from an offline hub cache built under tmp_path (tests/helpers/hub.py), and
every result must be the one the same checkpoint gives as a local folder.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers.checkpoints import save_identity_lip
from helpers.hub import COMMIT, HUB_ID, offline_hub_cache
from helpers.shards import write_view

from flip_pipeline.cli import main
from flip_pipeline.formats.bow import BagOfWords
from flip_pipeline.formats.corpus_table import write_corpus_table
from flip_pipeline.formats.sweep_choice import write_selection

WORDS = ["brooklyn", "new", "york", "island", "born", "the"]
IDS = ["s1", "s2", "s3"]
# Scores are E x = x (E = I): s1 ranks brooklyn new york island born the, s3 born first; the bias ranks "the" first.
X = np.array([[6, 5, 4, 3, 2, 0], [0, 0, 0, 0, 0, 1], [0.1, 0.2, 0.3, 0.4, 6, 0]], np.float32)
TEXTS = ["The Brooklyn Bridge, York.", "the zebra", "Born on an island"]  # test text: bridge, zebra, on, an are OOV
ENTITIES = [
    {"id": "s1", "text": "...", "entities": [{"text": "Brooklyn", "label": "GPE"}, {"text": "New York", "label": "GPE"}]},
    {"id": "s2", "text": "...", "entities": []},
    {"id": "s3", "text": "...", "entities": [{"text": "Born", "label": "PERSON"}]},
]
MISSING = "BUT-FIT/FLiP-de-sonar/mcv15/rank-512"  # not in the cache


@pytest.fixture
def inputs(tmp_path, monkeypatch):
    """``(local checkpoint folder, arguments shared by evaluate and entity-recall)``, with HUB_ID in
    an offline hub cache holding the same checkpoint (the CWD: a folder without a BUT-FIT folder)."""
    local = save_identity_lip(tmp_path / "local", WORDS)
    offline_hub_cache(tmp_path, monkeypatch, lambda folder: shutil.copytree(local, folder))
    write_view(tmp_path / "emb", IDS, X, "text_en")
    write_corpus_table(pa.table({"id": IDS, "text_en": TEXTS}), tmp_path / "test.parquet")
    assert main(["bow", "--vocab-dir", str(local), "--corpus-table", str(tmp_path / "test.parquet"), "--view",
                 "text_en", "--out", str(tmp_path / "test.npz")]) == 0  # against the checkpoint's vocab.json
    (tmp_path / "entities.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ENTITIES))
    return local, tmp_path


def _evaluate(model, root, name, *extra):
    out = root / f"{name}.json"
    assert main(["evaluate", "--model-dir", str(model), "--embeddings", str(root / "emb"), "--bow",
                 str(root / "test.npz"), "--out", str(out), "--top-n", "1", "2", *extra]) == 0
    return json.loads(out.read_text()), pq.read_table(out.with_suffix(".details.parquet"))


def _entity_recall(model, root, name):
    out = root / f"{name}.entities.json"
    assert main(["entity-recall", "--model-dir", str(model), "--embeddings", str(root / "emb"), "--entities",
                 str(root / "entities.jsonl"), "--ks", "1", "3", "--out", str(out)]) == 0
    return out.read_text()


@pytest.mark.parametrize("bias", [[], ["--use-bias"]])
def test_evaluate_by_hub_id_gives_what_the_local_folder_gives(inputs, bias):
    local, root = inputs
    by_folder, folder_details = _evaluate(local, root, "local", *bias)
    by_id, id_details = _evaluate(HUB_ID, root, "hub", *bias)
    assert (by_folder.pop("model"), by_id.pop("model")) == (str(local), HUB_ID)  # recorded as asked for
    assert by_id.pop("checkpoint_folder") == str(root / "hub" / "models--BUT-FIT--FLiP-en-sonar" / "snapshots" / COMMIT
                                                 / "mcv15" / "rank-512")  # the commit it came from
    assert by_id == by_folder and "selected_model" not in by_id
    assert id_details.equals(folder_details)
    assert by_id["precision@1"]["mean"] == pytest.approx(2 / 3 if bias else 1.0)  # the bias puts "the" first


def test_flip_bow_by_hub_id_counts_against_the_checkpoints_vocabulary(inputs):
    local, root = inputs
    assert main(["bow", "--vocab-dir", HUB_ID, "--corpus-table", str(root / "test.parquet"), "--view", "text_en",
                 "--out", str(root / "hub.npz")]) == 0
    by_id, by_folder = BagOfWords.load(root / "hub.npz"), BagOfWords.load(root / "test.npz")
    assert list(by_id.ids) == IDS and (by_id.counts != by_folder.counts).nnz == 0
    assert list(by_id.oov_types) == list(by_folder.oov_types) == [1, 1, 2]
    assert [sorted(WORDS[i] for i in row.indices) for row in by_id.counts] == [
        ["brooklyn", "the", "york"], ["the"], ["born", "island"]]


def test_entity_recall_by_hub_id_gives_what_the_local_folder_gives(inputs):
    local, root = inputs
    by_id = _entity_recall(HUB_ID, root, "hub")
    assert by_id == _entity_recall(local, root, "local")
    strict = [point["mean"] for point in json.loads(by_id)["without_bias"]["strict"]]
    assert strict == [0.75, 1.0]  # k=1: s1 brooklyn (1 of 2), s3 born; k=3: new york too


def test_a_swept_runs_folder_still_loads_its_selected_point(inputs):
    local, root = inputs
    swept = root / "models" / "swept"
    shutil.copytree(local, root / "models" / "point")
    write_selection(swept / "selected.json", {
        "experiment": "e", "run": "swept", "fingerprint": "f", "criterion": "best_dev_recall", "selected": "../point",
        "selected_run": "point", "settings": {}, "points": []})
    by_sweep, details = _evaluate(swept, root, "swept")
    assert by_sweep.pop("selected_model") == str(root / "models" / "point")
    by_folder, folder_details = _evaluate(local, root, "local")
    assert {**by_sweep, "model": None} == {**by_folder, "model": None} and details.equals(folder_details)
    assert _entity_recall(swept, root, "swept") == _entity_recall(local, root, "local")


@pytest.mark.parametrize("command", ["evaluate", "entity-recall"])
def test_a_hub_id_missing_from_the_offline_cache_is_one_line_naming_it(inputs, capsys, command):
    _, root = inputs
    args = (["--bow", str(root / "test.npz")] if command == "evaluate" else
            ["--entities", str(root / "entities.jsonl"), "--ks", "1"])
    out = root / "missing.json"
    assert main([command, "--model-dir", MISSING, "--embeddings", str(root / "emb"), *args, "--out", str(out)]) == 2
    stdout, err = capsys.readouterr()
    assert stdout == "" and err.splitlines() == [
        f"flip {command}: error: {MISSING}: no such local folder, and hub repository BUT-FIT/FLiP-de-sonar "
        f"(subfolder mcv15/rank-512) is not in the local cache {root / 'hub'} (HF_HUB_OFFLINE=1)"]
    assert not out.exists()


def test_a_hub_id_pinned_to_its_commit_gives_the_same_and_another_revision_is_named(inputs, capsys):
    local, root = inputs
    pinned, _ = _evaluate(f"{HUB_ID}@{COMMIT}", root, "pinned")
    by_folder, _ = _evaluate(local, root, "local")
    assert pinned.pop("model") == f"{HUB_ID}@{COMMIT}" and pinned.pop("checkpoint_folder").endswith(
        f"snapshots/{COMMIT}/mcv15/rank-512")
    assert {**pinned, "model": None} == {**by_folder, "model": None}
    other = "0" * 40
    out = root / "other.json"
    assert main(["evaluate", "--model-dir", f"{HUB_ID}@{other}", "--embeddings", str(root / "emb"), "--bow",
                 str(root / "test.npz"), "--out", str(out)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"flip evaluate: error: {HUB_ID}@{other}: no such local folder, and hub repository BUT-FIT/FLiP-en-sonar "
        f"at revision {other} (subfolder mcv15/rank-512) is not in the local cache {root / 'hub'} (HF_HUB_OFFLINE=1)"]
    assert not out.exists()
