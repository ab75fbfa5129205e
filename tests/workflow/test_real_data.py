"""Real-data check on Tatoeba English with all-MiniLM-L6-v2 and the two controls.

Runs workflow/checks/tatoeba.yaml through Snakemake (fewer iterations than the full
check, same data): FLiP beats LiP on held-out accuracy, the bag-of-words control scores
above 90%, the Gaussian control below 10%.
"""

import csv
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_tatoeba_probe_quality(tmp_path, tatoeba_dir):
    config = yaml.safe_load((REPO / "workflow" / "checks" / "tatoeba.yaml").read_text())
    config["corpora"]["tatoeba_en"]["views"]["text_en"] = str(tatoeba_dir / "*-eng.eng")
    config["training"]["max_iterations"] = 20  # the full check runs 40; FLiP leads LiP from about 12 on
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--configfile", "config.yaml",
         "--directory", str(tmp_path), "--cores", "2"],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    tables = tmp_path / config["results"] / "tables"
    acc = {}
    for name in ("tatoeba_check", "tatoeba_ceiling"):
        with open(tables / f"{name}.csv") as fh:
            acc.update({(r["encoder"], r["probe"]): float(r["accuracy"]) for r in csv.DictReader(fh)})
        print((tables / f"{name}.md").read_text())
    assert acc[("minilm", "FLiP r=full")] > acc[("minilm", "LiP")]
    assert max(acc[("bow_projection", "LiP")], acc[("bow_projection", "FLiP r=full")]) > 90
    assert max(acc[("gaussian", "LiP")], acc[("gaussian", "FLiP r=full")]) < 10
