"""The README and docs/ stay true to the repository: every relative link finds its file and heading, every
config key of the schema is in the configuration reference, the README stays a landing page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def anchors(page: Path) -> set[str]:
    """GitHub's heading anchors of a Markdown page: lower case, punctuation but `-` and `_` dropped, spaces `-`."""
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    headings = re.findall(r"^#+ (.+)$", text, re.M)
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-") for heading in headings}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_finds_its_file_and_heading(page):
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        assert linked.exists(), f"{page.name}: {target}: no such file"
        if anchor:
            assert anchor in anchors(linked), f"{page.name}: {target}: no such heading in {linked.name}"


def schema_keys(node, found: set[str]) -> set[str]:
    """Every property name anywhere in the JSON Schema (under properties, $defs, if/then, any nesting)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):
                found.update(value)
            schema_keys(value, found)
    elif isinstance(node, list):
        for value in node:
            schema_keys(value, found)
    return found


def test_the_configuration_reference_names_every_key_of_the_schema():
    schema = yaml.safe_load((REPO / "flip_pipeline" / "schemas" / "config.schema.yaml").read_text())
    reference = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`[\w.<>\[\]]*?([\w]+)`", reference))
    assert sorted(schema_keys(schema, set()) - named) == []


def test_the_readme_is_a_landing_page():
    assert len((REPO / "README.md").read_text(encoding="utf-8").splitlines()) <= 150
