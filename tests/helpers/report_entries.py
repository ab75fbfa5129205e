"""Report spec entries over synthetic evaluation files, for the report layout tests: one evaluation summary and
its details per (run, test view), described as :class:`~flip_pipeline.plan.runs.ReportPlan` describes them."""

import json

import pyarrow as pa
import pyarrow.parquet as pq

from flip_pipeline.stages.report import report_stage as write_report


def write_eval(folder, view, acc, se=0.1, n=100, hits=None, ids=None):
    """``{view}.json`` and ``{view}.details.parquet`` under ``folder``; accuracy given in percent."""
    folder.mkdir(parents=True, exist_ok=True)
    hits = hits if hits is not None else [[0], [1]]
    ids = ids if ids is not None else [f"s{i}" for i in range(len(hits))]
    summary = {"accuracy": {"mean": acc / 100, "std": 0.3, "se": se / 100, "n": n}, "n_sentences": n,
               "n_skipped_no_in_vocab_token": 0, "use_bias": False, "k_mean": 5.0}
    for i, top in enumerate((1, 5, 10)):
        summary[f"precision@{top}"] = {"mean": 0.6 - 0.1 * i, "std": 0.2, "se": 0.01, "n": n}
        summary[f"recall@{top}"] = {"mean": 0.2 + 0.2 * i, "std": 0.2, "se": 0.01, "n": n}
    (folder / f"{view}.json").write_text(json.dumps(summary))
    details = pa.table({"id": ids, "k": pa.array([3] * len(ids), pa.int32()), "accuracy": [0.5] * len(ids),
                        "hit_index": pa.array(hits, pa.list_(pa.int32()))})
    pq.write_table(details, folder / f"{view}.details.parquet")
    return str(folder / f"{view}.json"), str(folder / f"{view}.details.parquet")


def entry(tmp_path, view, acc, *, experiment="exp", method="flip", rank=512, train_views=("text_en", "speech_en"),
          encoder="sonar", vocab_view="text_en", corpus="mcv_en", se=0.1, hits=None, ids=None):
    """One report spec entry with its evaluation files written."""
    run = f"{method}-r{rank}-{encoder}-{'+'.join(train_views)}-{vocab_view}"
    path, details = write_eval(tmp_path / experiment / run, view, acc, se, hits=hits, ids=ids)
    return {"path": path, "details": details, "experiment": experiment, "run": run, "method": method, "rank": rank,
            "alpha": 0.5 if len(train_views) == 2 else 1.0, "encoder": encoder, "corpus": corpus,
            "vocab": f"voc_{vocab_view}", "vocab_view": vocab_view, "train_views": list(train_views), "view": view}


def report(tmp_path, layout, entries, kind="table", **options):
    """Run ``write_report`` and return the output prefix."""
    prefix = str(tmp_path / "out" / layout)
    spec = {"layout": layout, "caption": f"A {layout} table: 5% of text_en & more", "entries": entries, **options}
    write_report(kind, layout, spec, [e["path"] for e in entries], prefix)
    return prefix
