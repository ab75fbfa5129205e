"""Progress: a tqdm bar on a terminal, periodic plain lines in a log, one summary line per stage."""

from __future__ import annotations

import io
import logging

import numpy as np
import pytest

from flip_pipeline import progress as progress_module
from flip_pipeline.corpora.sample import generate_sample_corpus
from flip_pipeline.formats.bow import BagOfWords
from flip_pipeline.formats.corpus_table import write_corpus_table
from flip_pipeline.progress import advance, duration, progress, stage_done
from flip_pipeline.stages.bow import bow_stage
from flip_pipeline.stages.embed import embed_stage
from flip_pipeline.stages.train import train_stage
from flip_pipeline.stages.vocab import vocab_stage

LOG = logging.getLogger("test.progress")


class Clock:
    """Seconds that pass only when the test says so."""

    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _messages(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOG.name]


def test_without_a_terminal_a_line_every_ten_percent_and_every_thirty_seconds(caplog):
    clock = Clock()
    caplog.set_level(logging.INFO)
    with progress(100, "rows", "embed minilm text_en", LOG, io.StringIO(), clock) as bar:
        for _ in range(9):  # 9 rows: under 10%, and no time passes: nothing
            clock.now += 1
            bar.advance()
        assert _messages(caplog) == []
        clock.now += 1
        bar.advance()  # 10 rows in 10 s: 10%
        assert _messages(caplog) == ["embed minilm text_en: 10/100 rows (10%), 1.0 rows/s, ETA 1 min 30 s"]
        clock.now += 29  # slow now: a line after 30 s, before the next 10%
        bar.advance(2)
        bar.status("dev recall 0.431")
        assert len(_messages(caplog)) == 1
        clock.now += 2
        bar.advance()
        assert _messages(caplog)[-1] == ("embed minilm text_en: 13/100 rows (13%), 0.32 rows/s, ETA 4 min 34 s; "
                                         "dev recall 0.431")
        bar.reach(100)  # done: the stage's summary line says so, no progress line
    assert len(_messages(caplog)) == 2


def test_slow_units_show_seconds_per_unit_and_the_bar_starts_at_zero(caplog):
    clock = Clock()
    caplog.set_level(logging.INFO)
    with progress(10, "it", "train run", LOG, io.StringIO(), clock) as bar:
        clock.now += 12.5
        bar.advance()
        assert _messages(caplog) == ["train run: 1/10 it (10%), 12.5 s/it, ETA 1 min 52 s"]
    with progress(0, "rows", "embed", LOG, io.StringIO(), clock) as bar:  # nothing to do: no division by zero
        assert bar.line() == "embed: 0/0 rows, 0.0 rows/s"


def test_on_a_terminal_it_is_a_tqdm_bar_with_the_status_and_no_log_lines(caplog):
    caplog.set_level(logging.INFO)
    terminal = Terminal()
    with progress(100, "it", "train run", LOG, terminal) as bar:
        assert bar.bar is not None
        bar.advance(12)
        bar.status("dev recall 0.431 (best 0.452 at iteration 9)")
        bar.bar.refresh()
    drawn = terminal.getvalue()
    assert "train run" in drawn and "12/100" in drawn and "dev recall 0.431 (best 0.452 at iteration 9)" in drawn
    assert _messages(caplog) == []


def test_advance_moves_the_innermost_open_bar_and_nothing_outside_one():
    advance(5)  # no bar open: nothing happens
    with progress(10, "rows", "outer", LOG, io.StringIO()) as outer:
        with progress(4, "rows", "inner", LOG, io.StringIO()) as inner:
            advance(3)
        advance(2)
    assert (outer.done, inner.done) == (2, 3)
    assert progress_module._OPEN == []


def test_the_summary_line_and_durations():
    line = stage_done(LOG, "bow text_en", started=0.0, read="a.parquet (3 rows)", wrote="b.npz", rows_without_words="0")
    assert line.startswith("bow text_en done in ") and line.endswith(": read a.parquet (3 rows); wrote b.npz; "
                                                                     "rows without words 0")
    assert [duration(s) for s in (0.42, 12.34, 245, 7380)] == ["0.42 s", "12.3 s", "4 min 05 s", "2 h 03 min"]


def test_embed_logs_progress_within_a_shard_and_one_summary_line(tmp_path, caplog, monkeypatch):
    """The bag-of-words control reports every 1024 rows: a 3,000-row shard is seen at 34% and 68%."""
    monkeypatch.setattr(progress_module, "EVERY_PERCENT", 30)
    tables = generate_sample_corpus(3000, {"train": 1.0, "dev": 0.0}, ("en",), seed=1)
    write_corpus_table(tables["train"], tmp_path / "train.parquet")
    caplog.set_level(logging.INFO, logger="flip_pipeline")
    embed_stage(tmp_path / "train.parquet", "text_en", "bow", {"family": "bow_projection", "dim": 8}, tmp_path / "e",
               shard_rows=5000)
    lines = [r.getMessage() for r in caplog.records if r.name == "flip_pipeline.stages.embed"]
    assert [line.split(", ")[0] for line in lines[:2]] == ["embed bow text_en: 1,024/3,000 rows (34%)",
                                                         "embed bow text_en: 2,048/3,000 rows (68%)"]
    assert lines[-1].startswith("embed bow text_en done in ")
    assert f"read {tmp_path / 'train.parquet'} (3,000 rows); wrote {tmp_path / 'e'} (1 shards: 3,000 rows embedded" \
        in lines[-1]
    caplog.clear()
    embed_stage(tmp_path / "train.parquet", "text_en", "bow", {"family": "bow_projection", "dim": 8}, tmp_path / "e",
               shard_rows=5000)  # a rerun keeps the shard
    assert "0 rows embedded, 3,000 rows kept from before" in caplog.records[-1].getMessage()


@pytest.mark.parametrize("early_stopping", [True, False])
def test_train_says_why_it_stopped_the_best_iteration_and_where_it_saved(tmp_path, caplog, early_stopping):
    tables = generate_sample_corpus(400, {"train": 0.8, "dev": 0.2}, ("en",), seed=2)
    for split in ("train", "dev"):
        write_corpus_table(tables[split], tmp_path / f"{split}.parquet")
    vocab_stage("v", {"corpus": "c", "view": "text_en"}, tmp_path / "train.parquet", tmp_path / "vocab")
    for split in ("train", "dev"):
        bow_stage(tmp_path / "vocab", tmp_path / f"{split}.parquet", "text_en", tmp_path / f"{split}.npz")
        embed_stage(tmp_path / f"{split}.parquet", "text_en", "bow", {"family": "bow_projection", "dim": 32},
                   tmp_path / split, shard_rows=1000)
    assert BagOfWords.load(tmp_path / "dev.npz").counts.shape[0] == 80
    spec = {"experiment": "e", "run": "flip-r8-a1-bow-text_en", "probe": "flip", "rank": 8, "alpha": 1.0,
            "encoder": "bow", "train_views": ["text_en"], "target_view": "text_en",
            "training": {"batch_size": 64, "max_iterations": 6, "eval_every": 1, "patience": 0, "lr_patience": 0,
                         "lr": 1e-9, "early_stopping": early_stopping}}  # lr 1e-9: dev recall never improves
    caplog.set_level(logging.INFO)
    result = train_stage(spec, {"family": "bow_projection", "dim": 32}, tmp_path / "vocab", tmp_path / "train.npz",
                         tmp_path / "dev.npz", [tmp_path / "train"], [tmp_path / "dev"], None, tmp_path / "model", "cpu")
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("flip_pipeline.")]
    assert not any("{" in m for m in messages)  # no dict dumps
    last = messages[-1]
    if early_stopping:
        assert result["iterations"] == 1 and "stopped after 1 iterations" in last and "early stopping: 1 dev " \
            "evaluations without improvement (patience 0, every 1 iterations)" in last
    else:
        assert result["iterations"] == 6 and "max_iterations 6 reached" in last
    assert f"best dev recall {result['best_dev_recall']:.4f} at iteration 0 (kept)" in last
    assert f"wrote checkpoint {tmp_path / 'model'} (model.safetensors" in last
    assert np.isfinite(result["best_dev_recall"])


def test_tsne_moves_its_bar_with_scikit_learns_iteration_lines(caplog):
    from flip_pipeline.stages.tsne import _IterationReader

    caplog.set_level(logging.DEBUG, logger="flip_pipeline.stages.tsne")
    with progress(1000, "it", "tsne m layer_01", LOG, io.StringIO()) as bar:
        reader = _IterationReader(bar)
        reader.write("[t-SNE] Computing 91 nearest neighbors...\n[t-SNE] Iteration 50: error = 49.8, gradient norm = 0.1")
        reader.write("2 (50 iterations in 0.1s)\n[t-SNE] Iteration 250: error = 45.1\n")
        assert bar.done == 250
    assert "scikit-learn: [t-SNE] Computing 91 nearest neighbors..." in caplog.messages
