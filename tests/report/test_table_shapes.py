"""Report layouts (paper Tables 1–6, precision/recall and entity-recall figures) on synthetic summaries."""

import csv
import json
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers.report_entries import entry, report, write_eval

from flip_pipeline.errors import FlipInputError
from flip_pipeline.report.latex import escape
from flip_pipeline.stages.report import report_stage as write_report

NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?")


def md_rows(prefix):
    """Body rows of the Markdown table, as lists of cell strings, and its header."""
    lines = [line for line in open(f"{prefix}.md", encoding="utf-8") if line.startswith("|")]
    split = lambda line: [c.strip() for c in line.strip().strip("|").split("|")]  # noqa: E731
    return split(lines[0]), [split(line) for line in lines[2:]]


def numbers(cell):
    return [float(x) for x in NUMBER.findall(cell.replace("\u2212", "-"))]


def check_outputs(prefix, n_rows, n_labels):
    """Every rendering present and sane: numbers in range, booktabs LaTeX with one line per row."""
    header, rows = md_rows(prefix)
    assert len(rows) == n_rows
    for row in rows:
        assert len(row) == len(header)
        for cell in row[n_labels:]:
            values = numbers(cell)
            assert values and all(-100 <= v <= 100 for v in values), cell
            if not cell.startswith("*"):  # absolute numbers, not differences
                assert 0 <= values[0] <= 100
    md = open(f"{prefix}.md", encoding="utf-8").read()
    assert "in percent over" in md or "Test accuracy in percent" in md
    tex = open(f"{prefix}.tex", encoding="utf-8").read()
    for rule in (r"\toprule", r"\midrule", r"\bottomrule", r"\caption{", r"\label{tab:"):
        assert rule in tex
    depth = 0
    for ch in re.sub(r"\\[{}]", "", tex):
        depth += {"{": 1, "}": -1}.get(ch, 0)
        assert depth >= 0
    assert depth == 0
    assert r"5\% of text\_en \& more" in tex  # the caption is escaped
    body = tex.split(r"\midrule", 1)[1].split(r"\bottomrule")[0]
    assert sum(line.endswith(r"\\") for line in body.splitlines()) == n_rows
    with open(f"{prefix}.csv") as fh:
        return header, rows, list(csv.DictReader(fh)), tex


def test_rank_table_rows_and_cells(tmp_path):
    entries = []
    for method, rank, text, speech in [("flip", 128, 67.48, 65.81), ("lip", None, 59.45, 57.27),
                                       ("flip", 512, 76.77, 73.62), ("flip", "full", 77.29, 74.09)]:
        entries += [entry(tmp_path, "text_en", text, method=method, rank=rank, se=0.13),
                    entry(tmp_path, "speech_en", speech, method=method, rank=rank, se=0.14)]
    header, rows, tidy, tex = check_outputs(report(tmp_path, "rank", entries), 4, 2)
    assert header == ["Factorized", "Dimension", "Text", "Speech"]
    assert rows == [["✗", "Full", "59.45 (0.13)", "57.27 (0.14)"], ["✓", "Full", "77.29 (0.13)", "74.09 (0.14)"],
                    ["✓", "512", "76.77 (0.13)", "73.62 (0.14)"], ["✓", "128", "67.48 (0.13)", "65.81 (0.14)"]]
    assert len(tidy) == 8 and {float(r["accuracy"]) for r in tidy if r["Dimension"] == "512"} == {76.77, 73.62}
    assert r"$\times$ & Full & 59.45 (0.13) & 57.27 (0.14) \\" in tex


def test_rank_table_refuses_splice_and_duplicates(tmp_path):
    base = [entry(tmp_path, "text_en", 50.0)]
    with pytest.raises(FlipInputError, match=r"report rank: cannot place run 'splice-r.*method 'splice'"):
        report(tmp_path, "rank", base + [entry(tmp_path, "text_en", 30.0, method="splice", rank=None)])
    twin = entry(tmp_path, "text_en", 40.0, encoder="labse")
    with pytest.raises(FlipInputError, match="labse.*already fills row"):
        report(tmp_path, "rank", base + [twin])


def cross_entries(tmp_path, experiment, views, acc, hits, corpus):
    """Two single-view runs × two test views; ``acc[train][test]`` in percent, ``hits[train][test]``."""
    out = []
    for i, train in enumerate(views):
        for j, test in enumerate(views):
            ids = ["a", "b", "c"] if j == 0 else ["c", "a", "b"]  # second view stored in another order
            out.append(entry(tmp_path, test, acc[i][j], experiment=experiment, train_views=(train,),
                             corpus=corpus, hits=hits[i][j], ids=ids))
    return out


def test_cross_table_differences_and_jaccard(tmp_path):
    # model trained on text: hits a={1,2}, b={3}, c={} on text; on speech (order c, a, b): c={}, a={2,4}, b={3}
    same = [[[1, 2], [3], []], [[], [2, 4], [3]]]  # Jaccard: a 1/3, b 1, c skipped → mean 66.67, se 23.57
    other = [[[5], [], [6]], [[6], [5], []]]  # a {5}/{5}=1, b {}/{}=skip, c {6}/{6}=1 → 100 (0.00)
    en = cross_entries(tmp_path, "cross_en", ["text_en", "speech_en"], [[75.71, 70.46], [75.57, 72.68]],
                       [same, other], "mcv_en")
    de = cross_entries(tmp_path, "cross_de", ["text_de", "speech_de"], [[60.11, 58.17], [58.18, 60.60]],
                       [same, same], "mcv_de")
    header, rows, tidy, tex = check_outputs(report(tmp_path, "cross", en + de, groups={"cross_en": "EN"}), 4, 2)
    assert header == ["Group", "Training", "Accuracy Text", "Accuracy Speech", "Jaccard (Text, Speech)"]
    assert rows == [["EN", "Text", "75.71 (0.10)", "*−2.22*", "66.67 (23.57)"],
                    ["", "Speech", "*−0.14*", "72.68 (0.10)", "100.00 (0.00)"],
                    ["mcv_de", "Text", "60.11 (0.10)", "*−2.43*", "66.67 (23.57)"],
                    ["", "Speech", "*−1.93*", "60.60 (0.10)", "66.67 (23.57)"]]
    assert r"\cellcolor{lightgray}$-$2.22" in tex and "xcolor" in tex
    assert tex.count(r"\midrule") == 2  # after the header, between the groups
    row = next(r for r in tidy if r["group"] == "EN" and r["train_view"] == "text_en" and r["test_view"] == "speech_en")
    assert float(row["accuracy"]) == 70.46 and float(row["difference"]) == pytest.approx(-2.22)
    assert float(row["jaccard"]) == pytest.approx(200 / 3, abs=1e-3) and int(row["jaccard_n"]) == 2


def test_cross_table_needs_a_diagonal_run_and_same_ids(tmp_path):
    text_only = [entry(tmp_path, v, 50.0, experiment="x", train_views=("text_en",)) for v in ("text_en", "speech_en")]
    with pytest.raises(FlipInputError, match=r"report cross: cannot place run 'flip-r512-sonar-text_en-text_en'.*"
                                             r"no run trained on speech_en alone"):
        report(tmp_path, "cross", text_only)
    h = [[1], [2], []]
    hits = [[h, h], [h, h]]
    bad = cross_entries(tmp_path, "y", ["text_en", "speech_en"], [[50, 50], [50, 50]], hits, "c")
    pq.write_table(pa.table({"id": ["a", "b", "zz"], "hit_index": pa.array([[1], [], []], pa.list_(pa.int32()))}),
                   bad[1]["details"])
    with pytest.raises(FlipInputError, match=r"text_en.details.parquet and .*speech_en.details.parquet: the test "
                                             "sentence ids differ"):
        report(tmp_path, "cross", bad)


def vocab_entries(tmp_path, experiment, pair, acc, encoder="sonar"):
    """Runs on both views of ``pair`` with vocabulary in ``pair[0]`` then ``pair[1]``: ``acc[vocab][emb]``."""
    views = [f"text_{lang}" for lang in pair]
    out = []
    for v, vocab_view in enumerate(views):
        for e, view in enumerate(views):
            out.append(entry(tmp_path, view, acc[v][e], experiment=f"{experiment}_{pair[v]}", train_views=views,
                             vocab_view=vocab_view, encoder=encoder, corpus="europarl"))
    return out


def test_vocab_language_table_deltas(tmp_path):
    entries = (vocab_entries(tmp_path, "ende", ["en", "de"], [[69.44, 54.99], [44.17, 54.14]])
               + vocab_entries(tmp_path, "enfr", ["fr", "en"], [[54.27, 45.03], [53.87, 69.04]]))
    header, rows, tidy, _ = check_outputs(report(tmp_path, "vocab_language", entries), 2, 1)
    assert header == ["Pair", "Vocabulary (EN) EN-emb", "Vocabulary (EN) XX-emb (Δ)", "Vocabulary (XX) XX-emb",
                      "Vocabulary (XX) EN-emb (Δ)"]
    assert rows == [["EN-DE", "69.44 (0.10)", "54.99 (−14.45)", "54.14 (0.10)", "44.17 (−9.97)"],
                    ["EN-FR", "69.04 (0.10)", "53.87 (−15.17)", "54.27 (0.10)", "45.03 (−9.24)"]]
    deltas = {(r["Pair"], r["vocab_language"], r["embedding_language"]): r["delta"] for r in tidy}
    assert float(deltas[("EN-FR", "FR", "EN")]) == pytest.approx(-9.24) and deltas[("EN-FR", "FR", "FR")] == ""


def test_encoders_table_and_its_pair_check(tmp_path):
    entries = (vocab_entries(tmp_path, "sonar", ["en", "de"], [[69.44, 54.99], [44.17, 54.14]])
               + vocab_entries(tmp_path, "labse", ["en", "de"], [[60.22, 50.19], [40.72, 49.16]], encoder="labse"))
    header, rows, _, tex = check_outputs(report(tmp_path, "encoders", entries, labels={"sonar": "SONAR"}), 2, 1)
    assert header == ["Encoder", "Vocabulary (EN) EN", "Vocabulary (EN) DE", "Vocabulary (DE) DE",
                      "Vocabulary (DE) EN"]
    assert rows[0] == ["SONAR", "69.44 (0.10)", "54.99 (0.10)", "54.14 (0.10)", "44.17 (0.10)"]
    assert rows[1][0] == "labse" and rows[1][4] == "40.72 (0.10)"
    assert r"\multicolumn{2}{c}{Vocabulary (DE)}" in tex and r"\cmidrule(lr){2-3}" in tex
    mixed = entries + vocab_entries(tmp_path, "gem", ["en", "fr"], [[1, 2], [3, 4]], encoder="gemini")
    with pytest.raises(FlipInputError, match="report encoders: the encoders layout compares one language pair"):
        report(tmp_path, "encoders", mixed)
    single = entry(tmp_path, "text_en", 50.0, train_views=("text_en",))
    with pytest.raises(FlipInputError, match="cannot place run .*trained on one view"):
        report(tmp_path, "encoders", entries + [single])


def test_splice_table(tmp_path):
    entries = [entry(tmp_path, v, a, method=m, rank=r, se=0.19)
               for m, r, v, a in [("flip", 512, "text_en", 61.45), ("flip", 512, "speech_en", 58.83),
                                  ("splice", None, "text_en", 29.58), ("splice", None, "speech_en", 28.21)]]
    header, rows, _, _ = check_outputs(report(tmp_path, "splice", entries), 2, 1)
    assert header == ["Method", "Text", "Speech"]
    assert rows == [["SpLiCE", "29.58 (0.19)", "28.21 (0.19)"], ["FLiP", "61.45 (0.19)", "58.83 (0.19)"]]


def test_accuracy_layout_is_the_default(tmp_path):
    entries = [entry(tmp_path, view, 40.0 if encoder == "minilm" else 5.0, encoder=encoder, rank=128)
               for encoder in ("minilm", "gaussian") for view in ("text_en", "text_de")]
    prefix = str(tmp_path / "acc")
    write_report("table", "quick", {"caption": "c", "entries": entries}, [e["path"] for e in entries], prefix)
    header, rows = md_rows(prefix)
    assert header == ["encoder", "text_en FLiP r=128", "text_de FLiP r=128"]
    assert rows == [["minilm", "40.00 ± 0.10", "40.00 ± 0.10"], ["gaussian", "5.00 ± 0.10", "5.00 ± 0.10"]]
    with open(f"{prefix}.csv") as fh:
        assert next(csv.reader(fh)) == ["encoder", "encoder_label", "probe", "alpha", "train_views", "test_view",
                                        "accuracy", "accuracy_se", "n", "skipped", "run", "fingerprint"]


def test_tables_name_encoders_by_label_as_figures_do(tmp_path):
    entries = [{**entry(tmp_path, view, 40.0, encoder=encoder, rank=128), "encoder_label": label}
               for encoder, label in (("minilm", "all-MiniLM-L6-v2"), ("gaussian", None)) for view in ("text_en",)]
    prefix = str(tmp_path / "acc")
    write_report("table", "quick", {"caption": "c", "entries": entries}, [e["path"] for e in entries], prefix)
    assert [row[0] for row in md_rows(prefix)[1]] == ["all-MiniLM-L6-v2", "gaussian"]  # no label: the config key
    tidy = pd.read_csv(f"{prefix}.csv")
    assert list(tidy.encoder) == ["minilm", "gaussian"] and list(tidy.encoder_label) == ["all-MiniLM-L6-v2", "gaussian"]


def test_bad_specs_are_named(tmp_path):
    e = entry(tmp_path, "text_en", 50.0)
    with pytest.raises(FlipInputError, match="report t: unknown table layout 'nope'; known: accuracy, rank"):
        write_report("table", "t", {"layout": "nope", "entries": [e]}, [e["path"]], str(tmp_path / "t"))
    with pytest.raises(FlipInputError, match="report t: input .*other.json is not described"):
        write_report("table", "t", {"layout": "rank", "entries": [e]}, [str(tmp_path / "other.json")],
                     str(tmp_path / "t"))
    del e["vocab_view"]
    with pytest.raises(FlipInputError, match="report t: the spec entry of run .* has no 'vocab_view'"):
        write_report("table", "t", {"layout": "encoders", "entries": [e]}, [e["path"]], str(tmp_path / "t"))
    del e["method"]
    with pytest.raises(FlipInputError, match=r"t.*json: summary or its report spec entry lacks 'method'"):
        write_report("table", "t", {"layout": "rank", "entries": [e]}, [e["path"]], str(tmp_path / "t"))


def test_latex_escape():
    assert escape("a_b & 5% {x} #1 $ ~ ^ \\") == (r"a\_b \& 5\% \{x\} \#1 \$ \textasciitilde{} "
                                                  r"\textasciicircum{} \textbackslash{}")
    assert escape("\u22122.22 ± Δ") == r"$-$2.22 $\pm$ $\Delta$"


def assert_figure_files(prefix):
    with open(f"{prefix}.png", "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
    with open(f"{prefix}.pdf", "rb") as fh:
        assert fh.read(4) == b"%PDF"


def test_figures(tmp_path):
    entries = [entry(tmp_path, v, 50.0, method=m, rank=r) for m, r in [("lip", None), ("flip", 128)]
               for v in ("text_en", "speech_en")]
    for layout in ("accuracy", "pr_curves"):
        assert_figure_files(report(tmp_path, layout, entries, kind="figure"))
    recall = tmp_path / "er" / "entity_recall.json"
    recall.parent.mkdir()
    point = {"mean": 0.5, "std": 0.1, "se": 0.01, "n": 10}
    series = {"strict": [point] * 3, "partial": [point] * 3}
    recall.write_text(json.dumps({"ks": [1, 5, 10], "without_bias": series, "with_bias": series}))
    er = [{"path": str(recall), "run": "flip", "encoder": "sonar", "view": "speech_en"}]
    assert_figure_files(report(tmp_path, "entity_recall", er, kind="figure"))
    recall.write_text(json.dumps({"ks": [1, 5], "without_bias": series, "with_bias": series}))
    with pytest.raises(FlipInputError, match="entity_recall.json: without_bias.strict has 3 points for 2 ks"):
        report(tmp_path, "entity_recall", er, kind="figure")
    with pytest.raises(FlipInputError, match="unknown figure layout 'rank'"):
        report(tmp_path, "rank", entries, kind="figure")


def test_pr_curve_values(tmp_path):
    from flip_pipeline.report.figures import at_n_curve

    path, _ = write_eval(tmp_path, "text_en", 50.0)
    summary = json.load(open(path))
    curve = at_n_curve(summary, "recall", path)
    assert curve.N.tolist() == [1, 5, 10] and np.allclose(curve["mean"], [20, 40, 60])
    with pytest.raises(FlipInputError, match="no f2@N"):
        at_n_curve(summary, "f2", path)
