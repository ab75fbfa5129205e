"""Figure files are reproducible: the same figure saved twice is the same bytes (PDF and PNG)."""

import time

import pytest

plt = pytest.importorskip("matplotlib.pyplot")

from flip_pipeline.report.figures import save_figure  # noqa: E402


def _figure():
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([1, 2, 3], [3, 1, 2], label="a")
    ax.legend()
    return fig


def test_the_same_figure_is_the_same_bytes(tmp_path):
    save_figure(_figure(), str(tmp_path / "first"))
    time.sleep(1.1)  # a creation date would now differ by a second
    save_figure(_figure(), str(tmp_path / "second"))
    for ext in ("pdf", "png"):
        first, second = (tmp_path / f"first.{ext}").read_bytes(), (tmp_path / f"second.{ext}").read_bytes()
        assert first == second, ext
    assert b"CreationDate" not in (tmp_path / "first.pdf").read_bytes()
