"""Offline stand-ins for the paper's corpora, written in each source's real on-disk layout.

* Common Voice 15 (``mcv15_{lang}``): the release layout ``{lang}/clips/*.wav`` and
  ``{lang}/{train,dev,test}.tsv`` (v15 header, tab-separated, quoting off) with real
  Tatoeba sentences spoken by espeak-ng, distinct sentences in every split.
* Europarl (``europarl_en_{de,fr}``): the Moses plain-text release
  ``europarl-v7.{pair}.{lang}``, one sentence a line.
* Samanantar (``samanantar_en_{bn,hi,ta,te}``): the released folders ``en-{lang}/train.{en,lang}``.

The bitexts are the Tatoeba pair files (``../shared/data/tatoeba``), copied under the
release names; the corpus stage cleans, deduplicates and splits them by ``split_sizes``.
The returned entries mirror the paper corpora of ``config.yaml`` with ``root`` in place of
``hub``. Shared by the stand-in tests and the offline paper run.
"""

from __future__ import annotations

import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from flip_pipeline.corpora.europarl import language_pair
from flip_pipeline.corpora.mcv import SPLITS
from flip_pipeline.corpora.text_files import read_aligned_columns
from helpers.sonar import synthesize

#: Common Voice 15's TSV header (``path`` and ``sentence`` are the columns the loader needs).
MCV_HEADER = ["client_id", "path", "sentence_id", "sentence", "sentence_domain", "up_votes", "down_votes",
              "age", "gender", "accents", "variant", "locale", "segment"]
#: Speech language → Tatoeba file its sentences come from (English from a pair no bitext uses).
MCV_SENTENCES = {"en": "tatoeba.nld-eng.eng", "de": "tatoeba.deu-eng.deu", "fr": "tatoeba.fra-eng.fra"}
#: Bitext language (ISO 639-1) → Tatoeba code (ISO 639-3), per source, as in the paper.
#: Bitext source → (its corpus root under ``root``, {language: Tatoeba code}), the paper's pairs.
BITEXTS = {
    "europarl": ("europarl", {"de": "deu", "fr": "fra"}),
    "samanantar": ("samanantar/v2", {"bn": "ben", "hi": "hin", "ta": "tam", "te": "tel"}),
}


def speakable_sentences(path: Path, n: int) -> list[str]:
    """The first ``n`` distinct non-empty lines of ``path`` that fit a TSV field and an
    espeak-ng argument (no tab, no leading ``-``); raises if there are fewer."""
    lines = read_aligned_columns({"text": path.name}, path.parent)["text"]
    usable = [s for s in dict.fromkeys(lines) if s and "\t" not in s and not s.startswith("-")]
    if len(usable) < n:
        raise ValueError(f"{path}: {len(usable)} usable sentences, {n} asked for")
    return usable[:n]


def write_mcv_release(root: Path, lang: str, sentences: list[str], n_per_split: tuple[int, int, int]) -> None:
    """Write ``{root}/{lang}/clips/common_voice_{lang}_{i}.wav`` (espeak-ng, voice ``lang``)
    and ``{root}/{lang}/{split}.tsv``: consecutive blocks of ``sentences`` per split.
    Clips already on disk are kept (espeak-ng is deterministic)."""
    clips = root / lang / "clips"
    names = [f"common_voice_{lang}_{i}.wav" for i in range(len(sentences))]
    todo = [(s, clips / name) for s, name in zip(sentences, names) if not (clips / name).is_file()]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        list(pool.map(lambda job: synthesize(job[0], job[1], voice=lang), todo))
    start = 0
    for split, n in zip(SPLITS, n_per_split):
        rows = ["\t".join(MCV_HEADER)]
        for i in range(start, start + n):
            fields = {"client_id": "espeak-ng", "path": names[i], "sentence_id": str(i), "sentence": sentences[i],
                      "up_votes": "2", "down_votes": "0", "locale": lang}
            rows.append("\t".join(fields.get(column, "") for column in MCV_HEADER))
        (root / lang / f"{split}.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
        start += n


def release_file(source: str, lang: str, side: str) -> str:
    """The released file of one side of the English–``lang`` bitext, relative to the corpus root."""
    if source == "europarl":
        return f"europarl-v7.{language_pair(['en', lang])}.{side}"
    return f"en-{lang}/train.{side}"


def write_standin_corpora(
    root: Path,
    tatoeba_dir: Path,
    n_per_split: tuple[int, int, int] = (240, 40, 40),
    speech_langs: tuple[str, ...] = ("en",),
) -> dict[str, dict[str, Any]]:
    """Write the stand-in corpora under ``root``; return their ``corpora:`` config entries.

    Args:
        root: output folder (``cv-corpus-15.0-standin/``, ``europarl/``, ``samanantar/v2/``).
        tatoeba_dir: the Tatoeba folder, read in place.
        n_per_split: ``(train, dev, test)`` rows: exact for Common Voice; for the bitexts
            dev and test exact and train a cap (Tamil and Telugu have 307 and 234 pairs).
        speech_langs: Common Voice languages to synthesise (keys of :data:`MCV_SENTENCES`).

    Returns:
        ``{name: entry}`` with absolute paths: ``mcv15_{lang}`` (views ``text_{lang}``,
        ``speech_{lang}``), ``europarl_en_{de,fr}`` and ``samanantar_en_{bn,hi,ta,te}``
        (views ``text_en``, ``text_{lang}``).
    """
    root = Path(root).resolve()
    corpora: dict[str, dict[str, Any]] = {}
    mcv_root = root / "cv-corpus-15.0-standin"
    for lang in speech_langs:
        sentences = speakable_sentences(tatoeba_dir / MCV_SENTENCES[lang], sum(n_per_split))
        write_mcv_release(mcv_root, lang, sentences, n_per_split)
        corpora[f"mcv15_{lang}"] = {"source": "mcv", "language": lang, "root": str(mcv_root), "missing_audio": "error"}
    sizes = dict(zip(SPLITS, n_per_split))
    for source, (folder, languages) in BITEXTS.items():
        for lang, code3 in languages.items():
            for side, suffix in (("en", "eng"), (lang, code3)):
                _copy(tatoeba_dir / f"tatoeba.{code3}-eng.{suffix}", root / folder / release_file(source, lang, side))
            corpora[f"{source}_en_{lang}"] = {"source": source, "languages": ["en", lang], "root": str(root / folder),
                                              "split_sizes": dict(sizes), "deduplicate": True, "seed": 0}
    return corpora


def _copy(source: Path, target: Path) -> None:
    """Copy one Tatoeba file to its release name (the layouts are the same: a sentence a line)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
