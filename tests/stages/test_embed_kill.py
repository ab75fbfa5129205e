"""``flip embed`` killed with SIGKILL at random moments: every rerun completes, every id
appears exactly once across the shards, and every shard opens with pyarrow."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from flip_pipeline.corpora.sample import generate_sample_corpus
from flip_pipeline.formats.corpus_table import write_corpus_table
from flip_pipeline.formats.shards import ViewEmbeddings
from flip_pipeline.stages.embed import embed_stage

SPEC = {"family": "bow_projection", "dim": 32}
ROWS, SHARD_ROWS = 6000, 50
SHARDS = ROWS // SHARD_ROWS
TRIALS = 10


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, list[str]]:
    table = generate_sample_corpus(ROWS, {"train": 1.0}, languages=("en",), seed=3)["train"]
    path = tmp_path_factory.mktemp("corpus") / "train.parquet"
    write_corpus_table(table, path)
    return path, table.column("id").to_pylist()


def _command(corpus: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "flip_pipeline.cli", "embed", "--name", "bow", "--spec", json.dumps(SPEC),
            "--corpus-table", str(corpus), "--view", "text_en", "--out-dir", str(out),
            "--shard-rows", str(SHARD_ROWS), "--device", "cpu"]


def _finished_shards(out: Path) -> int:
    try:
        return sum(1 for name in os.listdir(out) if name.startswith("part-"))
    except FileNotFoundError:
        return 0


def _run_and_kill(corpus: Path, out: Path, rng: random.Random) -> str:
    """Start ``flip embed`` and SIGKILL it once ``target`` shards exist plus a random delay
    (``target`` may be past the last shard: then it dies while writing the manifest, or
    after it finished). Returns where it was killed."""
    target = rng.randrange(0, SHARDS + 2)
    extra = rng.choice([0.0, 0.0005, 0.002, 0.01])
    proc = subprocess.Popen(_command(corpus, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while proc.poll() is None and _finished_shards(out) < target:
            time.sleep(0.0005)
        time.sleep(extra)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=120)
    return f"target {target} shards (+{extra * 1000:.1f} ms): {_finished_shards(out)} shards on disk"


def _check_complete(out: Path, ids: list[str], reference: np.ndarray) -> None:
    manifest = json.loads((out / "_SUCCESS").read_text())
    assert manifest["rows"] == len(ids) and len(manifest["shards"]) == SHARDS
    seen: list[str] = []
    for path in sorted(out.glob("part-*.parquet")):
        table = pq.read_table(path)  # every shard on disk opens
        seen += table.column("id").to_pylist()
    assert seen == ids, "an id is missing, duplicated or out of order"
    assert not list(out.glob(".part-*")), "a temporary file was left behind"
    view = ViewEmbeddings(out)
    np.testing.assert_array_equal(view.read_rows(0, len(view)), reference)


@pytest.mark.slow
def test_sigkill_at_random_moments_then_rerun(corpus, tmp_path):
    corpus_path, ids = corpus
    clean = tmp_path / "clean"
    embed_stage(corpus_path, "text_en", "bow", SPEC, clean, SHARD_ROWS)
    reference = ViewEmbeddings(clean).read_rows(0, ROWS)

    rng = random.Random(20240607)
    moments = []
    for trial in range(TRIALS):
        out = tmp_path / f"trial{trial:02d}"
        for _ in range(2 if trial % 3 == 1 else 1):  # some trials are killed twice before the rerun
            moments.append(_run_and_kill(corpus_path, out, rng))
        if trial == TRIALS - 1:  # the last rerun through the CLI as well
            result = subprocess.run(_command(corpus_path, out), capture_output=True, text=True, timeout=300)
            assert result.returncode == 0, result.stderr
        else:
            embed_stage(corpus_path, "text_en", "bow", SPEC, out, SHARD_ROWS)
        _check_complete(out, ids, reference)
    on_disk = [int(m.split(": ")[1].split()[0]) for m in moments]
    assert min(on_disk) < SHARDS and max(on_disk) > 0, f"kills did not land mid-run: {moments}"
