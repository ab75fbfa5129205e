"""One Target for every table and figure of config.yaml, the paper's and the thesis's: what the report job
reads, depends on, gets as its spec and writes; a name given twice refused, an unknown or mistyped one named."""

from __future__ import annotations

import copy
import re
import subprocess
import sys
from pathlib import Path

import pytest

from flip_pipeline.config.validation import load_config
from flip_pipeline.errors import FlipInputError
from flip_pipeline.plan.runs import ReportPlan
from flip_pipeline.plan.targets import TargetPlan
from flip_pipeline.plan.thesis import ThesisPlan

REPO = Path(__file__).resolve().parents[2]
CONFIG = load_config(REPO / "config.yaml")


@pytest.fixture
def config():
    return copy.deepcopy(CONFIG)


def test_a_paper_table_is_its_config_entry_with_the_runs_it_shows(config):
    target = TargetPlan(config, "R").target("table1_rank")
    spec = ReportPlan(config, "R").spec("table1_rank")
    assert (target.name, target.kind, target.layout, target.family) == ("table1_rank", "table", "rank", "paper")
    assert target.spec == spec and target.caption == config["tables"]["table1_rank"]["caption"]
    assert target.inputs == tuple(e["path"] for e in spec["entries"])
    assert all(re.fullmatch(r"R/eval/t1_rank/[^/]+/[^/]+\.json", path) for path in target.inputs), target.inputs
    assert target.models == tuple(dict.fromkeys(e["model"] for e in spec["entries"]))  # each once
    assert len(target.models) == 5  # LiP and FLiP at four ranks
    assert target.files == ("R/tables/table1_rank.md", "R/tables/table1_rank.csv", "R/tables/table1_rank.tex",
                            "R/tables/table1_rank.html")


def test_a_thesis_figure_is_its_thesis_output_with_no_models(config):
    target = TargetPlan(config, "R").target("thesis_fig5_1")
    thesis = ThesisPlan(config, "R")
    assert (target.kind, target.layout, target.family, target.models) == ("figure", "cross_modal", "thesis", ())
    assert target.spec == thesis.report_spec("thesis_fig5_1") and "entries" not in target.spec
    assert target.inputs == tuple(thesis.output("thesis_fig5_1")["inputs"])
    assert target.inputs and all(p.endswith("/cross_modal.parquet") for p in target.inputs)
    assert target.caption.endswith("(seed 002, Figure 5.1).")
    assert target.files == ("R/figures/thesis_fig5_1.png", "R/figures/thesis_fig5_1.pdf")


def test_every_name_and_group_has_its_files(config):
    plan = TargetPlan(config, "R")
    names = plan.names()
    assert names[:len(config["tables"])] == list(config["tables"]) and set(ThesisPlan(config, "R").outputs()) < set(names)
    named = plan.named_files()
    assert named["paper"] == [f for name in config["paper"] for f in plan.files(name)]
    assert set(named["thesis"]) == {f for name in ThesisPlan(config, "R").outputs() for f in plan.files(name)}
    assert plan.default_files() == [f for name in config["targets"] for f in plan.files(name)]


def test_a_name_given_by_a_config_table_and_the_thesis_is_refused_naming_both(config):
    config["tables"]["thesis_table5_1"] = config["tables"]["quickstart"]
    with pytest.raises(FlipInputError, match=r"a thesis output \(config key thesis\) and tables.thesis_table5_1 of "
                                             r"the config are both named 'thesis_table5_1'"):
        TargetPlan(config, "R")


def test_a_resource_figure_named_like_a_config_figure_is_refused_naming_its_key(config):
    model = next(iter(config["thesis"]["models"]))
    config["thesis"]["models"][model]["resource_figure"] = "thesis_mine"
    config["figures"]["thesis_mine"] = config["figures"]["quickstart_accuracy"]
    with pytest.raises(FlipInputError, match=rf"thesis.models.{model}.resource_figure and figures.thesis_mine"):
        TargetPlan(config, "R")


def test_a_table_and_a_figure_of_one_name_or_a_group_name_are_refused(config):
    config["figures"]["quickstart"] = config["figures"]["quickstart_accuracy"]
    with pytest.raises(FlipInputError, match="figures.quickstart of the config and tables.quickstart"):
        TargetPlan(config, "R")
    del config["figures"]["quickstart"]
    config["tables"]["paper"] = config["tables"]["quickstart"]
    with pytest.raises(FlipInputError, match="tables.paper of the config: 'paper' is the name of a group target"):
        TargetPlan(config, "R")


def test_an_unknown_name_is_one_error_listing_the_known(config):
    with pytest.raises(FlipInputError, match=r"'tabel1_rank' is no table or figure of this config "
                                             r"\(known: quickstart, .*table1_rank, .*thesis_fig5_1, "):
        TargetPlan(config, "R").target("tabel1_rank")


def test_a_figure_asked_for_as_a_table_is_refused(config):
    plan = TargetPlan(config, "R")
    with pytest.raises(FlipInputError, match=r"'quickstart_accuracy' is a figure \(figures.quickstart_accuracy of "
                                             r"the config\), not a table"):
        plan.target("quickstart_accuracy", "table")
    with pytest.raises(FlipInputError, match=r"'thesis_table5_2' is a table .*not a figure"):
        plan.target("thesis_table5_2", "figure")
    assert plan.target("thesis_table5_2", "table").kind == "table"


def test_the_workflow_refuses_a_figure_name_as_a_table_file(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "results/tables/quickstart_accuracy.md", "-n", "-s",
         str(REPO / "Snakefile"), "--directory", str(tmp_path), "--configfile", str(REPO / "config.yaml")],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 1
    assert "'quickstart_accuracy' is a figure (figures.quickstart_accuracy of the config), not a table" in proc.stdout + proc.stderr
