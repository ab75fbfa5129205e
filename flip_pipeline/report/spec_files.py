"""A report job's spec as a file named by its content, so the rule's parameters stay readable.

``snakemake --report`` shows each report item's job parameters; a table's spec (its entries:
every evaluation with its run, paths and fingerprints) as a JSON string there is a wall of
escaped quotes. The rules pass ``--spec @file`` instead, the file written when the job's
parameters are evaluated: ``{results}/.specs/{kind}/{name}.{digest}.json``. The digest is of
the content, so a changed spec is a changed parameter (Snakemake reruns the job, as it did
when the JSON itself was the parameter) and an unchanged one is the same file; ``flip report``
reads the same JSON either way.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flip_pipeline.atomic import write_text
from flip_pipeline.formats import paths
from flip_pipeline.settings import fingerprint_of


def spec_file(results: paths.Root, kind: str, name: str, spec: dict[str, Any], write: bool = True) -> str:
    """The path of ``spec`` as a file, for ``--spec @<path>``: written unless it is there already or ``write``
    is off (a dry run plans the same path and leaves the results folder as it was)."""
    path = paths.spec_file(results, kind, name, fingerprint_of(spec))
    if write and not Path(path).is_file():
        write_text(path, json.dumps(spec, sort_keys=True, indent=1) + "\n")  # atomic: parallel jobs may race
    return path
