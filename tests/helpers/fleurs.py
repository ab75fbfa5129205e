"""FLEURS release folders written by the tests: the google/fleurs repository's layout,
``data/{lang}/{split}.tsv`` (no header: id, file name, raw transcription, normalised
transcription, words, number of samples, gender) and ``data/{lang}/audio/{split}.tar.gz``
of wav files under ``{split}/``."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path


def write_tar(path: Path, members: dict[str, bytes]) -> None:
    """A ``.tar.gz`` holding ``{member name: bytes}``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def write_split(folder: Path, split: str, rows: list[tuple[int, str, str, str, bytes]]) -> None:
    """One split of one language: ``rows`` of (sentence id, clip file name, raw transcription,
    normalised transcription, wav bytes) as ``{split}.tsv`` and ``audio/{split}.tar.gz``."""
    lines, members = [], {}
    for k, (sid, name, raw, normalised, wav) in enumerate(rows):
        words = "|".join(normalised.split())
        lines.append("\t".join([str(sid), name, raw, normalised, words, str(len(wav) // 2),
                                "FEMALE" if k % 2 else "MALE"]))
        members[f"{split}/{name}"] = wav
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{split}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    write_tar(folder / "audio" / f"{split}.tar.gz", members)
