"""An offline huggingface_hub cache holding a published checkpoint, for tests of hub ids.

The hub's layout (huggingface_hub.file_download): ``models--{owner}--{name}/refs/main`` holds
the commit hash and ``snapshots/{hash}/`` the repository's files. With ``HF_HUB_OFFLINE=1`` a
hub id resolves from that cache alone (:func:`flip_pipeline.formats.checkpoint.resolve_checkpoint`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

HUB_ID = "BUT-FIT/FLiP-en-sonar/mcv15/rank-512"  # repository BUT-FIT/FLiP-en-sonar, subfolder mcv15/rank-512
COMMIT = "4f1c0ffee0ddba11deadbeef0123456789abcdef"  # the snapshot refs/main points at


def offline_hub_cache(tmp_path: Path, monkeypatch, write_checkpoint: Callable[[Path], object],
                      hub_id: str = HUB_ID) -> Path:
    """``tmp_path/hub``, an offline hub cache (HF_HUB_CACHE) holding ``hub_id``'s subfolder as
    ``write_checkpoint(folder)`` writes it; returns the cache.

    The hub reads HF_HUB_CACHE when it is imported, so its constant is set too; the CWD becomes
    ``tmp_path/cwd``, a folder without an ``owner`` folder (a local path would win over the id).
    """
    import huggingface_hub.constants

    owner, name, *subfolder = hub_id.split("/")
    cache = tmp_path / "hub"
    repo = cache / f"models--{owner}--{name}"
    write_checkpoint(Path(repo / "snapshots" / COMMIT, *subfolder))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)
    for key, value in (("HF_HUB_CACHE", str(cache)), ("HF_HUB_OFFLINE", True)):
        monkeypatch.setenv(key, str(int(value)) if value is True else value)
        monkeypatch.setattr(huggingface_hub.constants, key, value)
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    return cache
