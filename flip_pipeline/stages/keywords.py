"""The keywords stage (``flip keywords``): the top-ranked words (paper eq. 5) of sentences or stored
embeddings under a trained probe, ranked by :func:`~flip_pipeline.probes.ranking.top_words`."""

from __future__ import annotations

import logging

from flip_pipeline.device import pick_device
from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.checkpoint import load_checkpoint, resolve_checkpoint
from flip_pipeline.formats.corpus_table import VIEW_PATTERN, view_modality
from flip_pipeline.formats.shards import model_encoder, read_embedding_file
from flip_pipeline.models import build_encoder
from flip_pipeline.probes.ranking import top_words


def keywords_stage(
    model: str, texts: list[str] | None, embeddings_path: str | None, top_k: int, use_bias: bool,
    view: str | None = None, device: str = "auto",
) -> list[tuple[str, list[str]]]:
    """Keywords for sentences (embedded with the model's recorded encoder) or stored embeddings.

    ``model`` is a checkpoint folder or a hub id (:func:`~flip_pipeline.formats.checkpoint.resolve_checkpoint`).
    ``top_k`` must be 1 or more and no text empty (errors name the ``flip keywords`` flags).
    ``device`` (``auto``, ``cpu``, ``cuda[:i]``) embeds and ranks.
    Returns ``[(row id, [word, …])]``; for ``texts`` the id is the sentence itself.
    """
    _check_query(texts, top_k, view, embeddings_path is not None)
    model_dir = resolve_checkpoint(model)
    chosen = pick_device(device, log_level=logging.DEBUG)  # a query tool: its stderr stays quiet
    probe, vocab, config = load_checkpoint(model_dir, chosen)
    if embeddings_path is not None:
        ids, x = read_embedding_file(embeddings_path, probe.dim, *model_encoder(config), f"model {model_dir}")
    else:
        if not config.get("encoder_spec"):
            raise FlipInputError(f"{model_dir}/config.json records no encoder_spec; use --embeddings instead of --text")
        view = view or config.get("target_view", "text_en")
        encoder = build_encoder(config["encoder"], config["encoder_spec"], str(chosen))
        encoder.check_view(view)
        ids, x = list(texts), encoder.encode([f"query-{i}" for i in range(len(texts))], list(texts), view)
    top = top_words(probe, x, top_k, use_bias=use_bias)
    return [(row_id, [vocab.words[j] for j in row]) for row_id, row in zip(ids, top)]


def _check_query(texts: list[str] | None, top_k: int, view: str | None, stored: bool) -> None:
    """At least one keyword asked for, no text that is empty or only whitespace, and a ``view``
    only for texts (``stored`` embeddings are already embedded), a text view."""
    if top_k < 1:
        raise FlipInputError(f"-k/--top-k must be 1 or more, not {top_k}")
    if view is not None and stored:
        raise FlipInputError(f"--view {view}: names the language of --text; --embeddings are embedded already")
    if view is not None and not (VIEW_PATTERN.match(view) and view_modality(view) == "text"):
        raise FlipInputError(f"--view {view}: --text needs a text view, text_xx (e.g. text_en)")
    for i, text in enumerate(texts or []):
        if not text.strip():
            raise FlipInputError(f"--text: text {i} (counting from 0) is empty or only whitespace")
