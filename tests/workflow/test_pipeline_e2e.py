"""The quickstart end to end through Snakemake, from an empty results folder."""

import base64
import csv
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from helpers.readme import readme_python, readme_sql
from PIL import Image

from flip_pipeline.cli import build_parser

REPO = Path(__file__).resolve().parents[2]
STAGES = ["corpus", "embed", "vocab", "bow", "train", "evaluate", "report", "keywords", "import-flip-view",
          "import-flip-scores"]


def snakemake(workdir, *args):
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--configfile",
           str(REPO / "config.yaml"), "--directory", str(workdir), *args]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=workdir)


@pytest.mark.parametrize("stage", STAGES)
def test_every_stage_has_help(stage, capsys):
    with pytest.raises(SystemExit) as done:
        build_parser().parse_args([stage, "--help"])
    assert done.value.code == 0
    assert "usage: flip " + stage in capsys.readouterr().out


def test_lint_is_clean():
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--lint"], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0 and "workflow is in a good condition" in proc.stdout + proc.stderr, proc.stdout


@pytest.mark.slow
def test_quickstart_end_to_end(tmp_path):
    proc = snakemake(tmp_path, "--cores", "2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = tmp_path / "results"

    with open(results / "tables" / "quickstart.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 12  # 3 encoders x (LiP, FLiP) x 2 test views
    for row in rows:
        assert 0 <= float(row["accuracy"]) <= 100 and int(row["n"]) > 0
    acc = {(r["encoder"], r["probe"], r["test_view"]): float(r["accuracy"]) for r in rows}
    assert acc[("bow_projection", "FLiP r=128", "text_en")] > 90  # ceiling control
    assert acc[("gaussian", "FLiP r=128", "text_en")] < 15  # floor control
    assert acc[("minilm", "FLiP r=128", "text_en")] > acc[("gaussian", "FLiP r=128", "text_en")] + 30
    con = duckdb.connect()
    con.execute(f"SET file_search_path = '{tmp_path}'")  # docs/formats.md's query, run from the folder holding results/
    queried = con.execute(readme_sql()[1]).fetchall()
    assert len(queried) == 12 and {r[0] for r in queried} == {"quickstart"}
    assert sorted(a for *_, a in queried) == pytest.approx(sorted(float(r["accuracy"]) for r in rows), abs=0.006)
    md = (results / "tables" / "quickstart.md").read_text()
    assert "| all-MiniLM-L6-v2 |" in md and "±" in md  # rows named by label, as in the figures

    for ext in ("png", "pdf"):
        assert (results / "figures" / f"quickstart_accuracy.{ext}").stat().st_size > 1000
    with Image.open(results / "figures" / "quickstart_accuracy.png") as img:
        img.verify()

    model = results / "models" / "quickstart" / "flip-r128-a0.5-bow_projection-text_en+text_de"
    keywords = subprocess.run(
        [sys.executable, "-m", "flip_pipeline.cli", "keywords", "--model", str(model), "-k", "3",
         "--text", "My sister sells twelve red umbrellas in Paris on Monday."],
        capture_output=True, text=True,
    )
    assert keywords.returncode == 0, keywords.stderr
    assert set(keywords.stdout.split("\t")[1].split()) <= {"sister", "sells", "twelve", "red", "umbrellas",
                                                           "paris", "on", "monday", "in", "my"}

    api = subprocess.run([sys.executable, "-c", readme_python()], capture_output=True, text=True, cwd=tmp_path)
    assert api.returncode == 0, api.stderr  # the README's Python example, as written, on these results
    assert "'farmer'" in api.stdout or "'apples'" in api.stdout, api.stdout

    again = snakemake(tmp_path, "--cores", "2", "-n")
    assert "Nothing to be done" in again.stdout + again.stderr

    report = snakemake(tmp_path, "--report", "report.html")
    assert report.returncode == 0, report.stderr[-3000:]
    page = (tmp_path / "report.html").read_text(encoding="utf-8")  # texts in it are JSON-escaped JavaScript strings
    assert "how much lexical content does a sentence-embedding space keep?" in page  # the landing page
    embedded = re.findall(r"data:text/html;charset=utf8;filename=quickstart\.html;base64,([A-Za-z0-9+/=]+)", page)
    table = base64.b64decode(embedded[0]).decode()
    assert "<table>" in table and '<td class="label">all-MiniLM-L6-v2</td>' in table and " ± " in table  # a table, its cells
    assert "English vocabulary.." not in page and "English vocabulary.\\nCells are mean" in page  # one full stop
    assert "error bars are \\u00b1 1 standard error of that mean" in page
    params = re.findall(r'"params": "((?:[^"\\]|\\.)*)"', page)
    assert params and all("entries" not in p and "{" not in p for p in params), params  # no JSON in the pane
    assert any(p.startswith("spec=results/.specs/table/quickstart.") for p in params), params
