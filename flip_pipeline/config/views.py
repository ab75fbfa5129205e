"""The views a corpus entry of the config produces, and the text view an experiment with a checkpoint
predicts: read by the validation and by the expansion of experiments into runs."""

from __future__ import annotations

from typing import Any

from flip_pipeline.corpora.fleurs_languages import view_language as fleurs_view_language
from flip_pipeline.errors import FlipInputError


def corpus_views(spec: dict[str, Any]) -> list[str]:
    """The view columns a corpus source produces."""
    if spec["source"] == "sample":
        return [f"text_{lang}" for lang in spec.get("languages", ["en", "de", "fr"])]
    if spec["source"] in ("mcv", "flip_data"):
        # flip_data: speech_{lang} exists as imported embeddings only (the table has no audio)
        lang = spec.get("language", "en")
        return [f"text_{lang}", f"speech_{lang}"]
    if spec["source"] in ("europarl", "samanantar"):
        return [f"text_{lang}" for lang in spec["languages"]]
    if spec["source"] == "fleurs":
        lang = spec.get("view_language") or fleurs_view_language(spec["language"])
        return [f"text_{lang}", f"speech_{lang}"]
    return list(dict.fromkeys([*spec["views"], *spec.get("test", {})]))


def corpus_train_views(spec: dict[str, Any]) -> list[str]:
    """The views a corpus's train and dev splits hold: all of them, except a text_files
    corpus's views given only by its ``test`` files (tested, never trained on)."""
    return list(spec["views"]) if spec["source"] == "text_files" else corpus_views(spec)


def checkpoint_vocab_view(exp: dict[str, Any], corpus: dict[str, Any], where: str = "") -> str:
    """The text view whose words an experiment with a ``checkpoint`` predicts: its ``vocab_view``,
    else the one text view of its corpus (an error naming ``{where}.vocab_view`` when there are more)."""
    if "vocab_view" in exp:
        return exp["vocab_view"]
    texts = [v for v in corpus_views(corpus) if v.startswith("text_")]
    if len(texts) != 1:
        raise FlipInputError(f"{where}.vocab_view: corpus {exp['corpus']!r} has the text views {texts}; "
                             "name the one the checkpoint's words are counted on")
    return texts[0]
