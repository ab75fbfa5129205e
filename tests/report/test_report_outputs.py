"""What the report shows: HTML tables, specs as files, encoder labels (in no fingerprint), stated error bars."""

import json
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from helpers.report_entries import entry, report

from flip_pipeline.config.runs import expand_runs
from flip_pipeline.config.validation import load_config
from flip_pipeline.formats.shards import encoder_fingerprint
from flip_pipeline.models import encoder_label
from flip_pipeline.plan.runs import ReportPlan
from flip_pipeline.report import figures
from flip_pipeline.report.html import to_html
from flip_pipeline.report.spec_files import spec_file
from flip_pipeline.report.table_model import Cell, Table

REPO = Path(__file__).resolve().parents[2]


class Cells(HTMLParser):
    """Every ``<th>``/``<td>`` text and its attributes, in order."""

    def __init__(self):
        super().__init__()
        self.cells, self._open = [], None

    def handle_starttag(self, tag, attrs):
        if tag in ("th", "td"):
            self._open = [tag, dict(attrs), ""]

    def handle_data(self, data):
        if self._open is not None:
            self._open[2] += data

    def handle_endtag(self, tag):
        if tag in ("th", "td") and self._open is not None:
            self.cells.append(tuple(self._open[:1]) + (self._open[1], self._open[2]))
            self._open = None


def test_a_table_is_an_html_table_with_its_spans_groups_differences_and_escaped_text():
    table = Table(["Pair", "EN-emb", "XX-emb (Δ)"], [[Cell("EN-DE <b>"), Cell("33.60 (1.20)"), Cell("−2.25", True)],
                                                    [Cell("EN-FR"), Cell("37.06 (1.35)"), Cell("−3.59", True)]],
                  1, pd.DataFrame(), "Δ: minus the first column & more.", spans=[("", 1), ("Vocabulary (EN)", 2)],
                  group_starts=[0, 1])
    page = to_html(table, "table4", "Table 4: 5% < 10%")
    parser = Cells()
    parser.feed(page)
    assert [c[2] for c in parser.cells] == ["", "Vocabulary (EN)", "Pair", "EN-emb", "XX-emb (Δ)", "EN-DE <b>",
                                           "33.60 (1.20)", "−2.25", "EN-FR", "37.06 (1.35)", "−3.59"]
    assert parser.cells[1][1] == {"colspan": "2"} and parser.cells[7][1] == {"class": "difference"}
    assert parser.cells[5][1] == {"class": "label"}
    assert "EN-DE &lt;b&gt;" in page and "5% &lt; 10%" in page and "&amp; more" in page
    assert page.count('<tr class="group">') == 1  # a rule above the second group, none above the first row


def test_report_writes_the_html_beside_md_csv_and_tex(tmp_path):
    prefix = report(tmp_path, "accuracy", [entry(tmp_path, "text_en", 75.7)])
    html = Path(f"{prefix}.html").read_text(encoding="utf-8")
    assert "<table>" in html and "75.70 ± 0.10" in html and "5% of text_en &amp; more" in html


def test_a_spec_file_is_named_by_its_content(tmp_path):
    spec = {"layout": "accuracy", "entries": [{"path": "a.json"}]}
    first = spec_file(tmp_path, "table", "t", spec)
    assert json.loads(Path(first).read_text()) == spec and Path(first).parent == tmp_path / ".specs" / "table"
    stamp = Path(first).stat().st_mtime_ns
    assert spec_file(tmp_path, "table", "t", dict(reversed(spec.items()))) == first  # same content, same file
    assert Path(first).stat().st_mtime_ns == stamp  # not written again
    assert spec_file(tmp_path, "table", "t", {**spec, "caption": "x"}) != first
    planned = spec_file(tmp_path, "table", "t", {**spec, "caption": "dry"}, write=False)  # a dry run's
    assert planned != first and not Path(planned).exists()


def test_a_label_names_an_encoder_in_figures_and_is_in_no_fingerprint():
    config = load_config(REPO / "config.yaml")
    labelled = json.loads(json.dumps(config))
    labelled["encoders"]["minilm"]["label"] = "MiniLM (another label)"
    runs = {r.name: r.fingerprint for r in expand_runs(config, "quickstart")}
    assert {r.name: r.fingerprint for r in expand_runs(labelled, "quickstart")} == runs
    spec = config["encoders"]["minilm"]
    assert encoder_fingerprint("minilm", spec) == encoder_fingerprint("minilm", {**spec, "label": "x"})
    entries = ReportPlan(labelled, "results").spec("quickstart_accuracy")["entries"]
    assert {e["encoder"]: e["encoder_label"] for e in entries} == {
        "minilm": "MiniLM (another label)", "bow_projection": "BoW projection (ceiling)",
        "gaussian": "Gaussian noise (floor)"}
    assert encoder_label("g", {"family": "gaussian", "dim": 4}) == "Gaussian noise (floor)"  # a family default
    assert encoder_label("my_labse", {"family": "sentence_transformers", "model": "x"}) == "my_labse"  # the key


@pytest.mark.parametrize("layout", ["accuracy", "pr_curves"])
def test_figures_name_encoders_by_label_and_say_what_the_error_bars_are(tmp_path, monkeypatch, layout):
    drawn = []
    monkeypatch.setattr(figures, "save_figure", lambda fig, prefix: drawn.append(fig))
    entries = [{**entry(tmp_path, view, 70.0, encoder="sonar"), "encoder_label": "SONAR (text+speech)"}
               for view in ("text_en", "speech_en")]
    report(tmp_path, layout, entries, kind="figure")
    fig = drawn[0]
    texts = [" ".join(t.get_text().split()) for ax in fig.axes for t in ax.get_xticklabels()]  # unwrapped
    legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend())]
    titles = [legend.get_title().get_text() for legend in legends]
    labels = [t.get_text() for legend in legends for t in legend.get_texts()]
    assert figures.SE_BARS in titles
    assert "SONAR (text+speech)" in texts or any("SONAR (text+speech)" in label for label in labels)
    assert not any("sonar " in label for label in labels) and "sonar" not in texts
