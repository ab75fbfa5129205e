"""Safe, streaming extraction of an audio archive (``.tar.gz``) into one flat folder.

The archive is read once, member by member (tarfile's stream mode: no index of the
archive and no clip held whole in memory). Every member must pass the standard library's
``tarfile.data_filter`` (no ``..`` escaping the folder, no device file), have a relative
name and be a regular file or a folder: links are refused. A file is written as its
base name, so the folder is flat; two members with the same base name are an error.

The folder appears complete or not at all: files go to a temporary sibling folder that
is renamed onto the target at the end, with a stamp (the archive's path, size and
modification time) that lets a later run reuse it and makes a changed archive re-extract.
The temporary folder of an extraction that was killed (gigabytes for a FLEURS split) is
removed by the next extraction into the same target on the same host.
"""

from __future__ import annotations

import glob
import json
import os
import posixpath
import shutil
import tarfile
from pathlib import Path

from flip_pipeline.atomic import remove_orphaned_temporaries, temporary_sibling
from flip_pipeline.corpora.audio import list_files
from flip_pipeline.errors import FlipInputError
from flip_pipeline.files import output_folder

STAMP = ".extracted.json"


def _stamp(archive: Path) -> dict[str, object]:
    stat = archive.stat()
    return {"archive": str(archive), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _is_current(target: Path, stamp: dict[str, object]) -> bool:
    try:
        return json.loads((target / STAMP).read_text(encoding="utf-8")) == stamp
    except (OSError, ValueError):
        return False


def _check_member(member: tarfile.TarInfo, archive: Path, dest: Path) -> None:
    if member.name.startswith(("/", "\\")):  # data_filter would strip the slash and accept it
        raise FlipInputError(f"{archive}: unsafe member {member.name!r}: an absolute path")
    try:
        tarfile.data_filter(member, str(dest))
    except tarfile.FilterError as err:
        raise FlipInputError(f"{archive}: unsafe member {member.name!r}: {err}") from None
    if not (member.isfile() or member.isdir()):
        raise FlipInputError(f"{archive}: unsafe member {member.name!r}: not a regular file or folder (a link?)")


def extract_flat(archive: Path, target: Path) -> set[str]:
    """Extract the regular files of ``archive`` into ``target`` (flat, by base name).

    Returns the names of the files in ``target``. Reuses ``target`` when its stamp matches
    the archive. Raises :class:`FlipInputError` naming the archive (and the member) when
    it is unreadable, has an unsafe member, or two members share a base name; ``target``
    is then left as it was.
    """
    stamp = _stamp(archive)
    if _is_current(target, stamp):
        return list_files(target) - {STAMP}
    output_folder(target.parent)
    remove_orphaned_temporaries(target.parent, glob.escape(target.name))
    partial = temporary_sibling(target)
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    try:
        with tarfile.open(archive, "r|gz") as tar:
            for member in tar:
                _check_member(member, archive, partial)
                if not member.isfile():
                    continue
                name = posixpath.basename(member.name)
                out = partial / name
                if name == STAMP:
                    raise FlipInputError(f"{archive}: member {member.name!r}: {STAMP!r} is reserved for the stamp")
                if out.exists():
                    raise FlipInputError(f"{archive}: member {member.name!r}: a second file named {name!r}")
                source = tar.extractfile(member)
                with source, open(out, "wb") as sink:
                    shutil.copyfileobj(source, sink, 1 << 20)
        (partial / STAMP).write_text(json.dumps(stamp), encoding="utf-8")
        shutil.rmtree(target, ignore_errors=True)
        try:
            os.replace(partial, target)
        except OSError:
            if not _is_current(target, stamp):  # else another job extracted the same archive meanwhile
                raise
    except (tarfile.TarError, EOFError, OSError) as err:
        raise FlipInputError(f"{archive}: cannot extract the archive: {type(err).__name__}: {err}") from None
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return list_files(target) - {STAMP}
