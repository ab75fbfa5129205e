"""SONAR text and speech layer by layer: the real sonar-space classes from shrunken
architecture configs with random weights, a stand-in SentencePiece model in fairseq2's NLLB
tokenizer, espeak-ng speech."""

import numpy as np
import pyarrow as pa
import pytest
import torch
from helpers.layers import small_sonar_text_encoder
from helpers.sonar import SENTENCES, small_sonar_speech_encoder, spoken_clips, train_standin_tokenizer

from flip_pipeline.errors import FlipInputError
from flip_pipeline.formats.corpus_table import write_corpus_table
from flip_pipeline.formats.shards import ViewEmbeddings
from flip_pipeline.models.batching import length_sorted_batches
from flip_pipeline.models.layer_encoder import select_layers
from flip_pipeline.models.sonar.embed import SonarEncoder
from flip_pipeline.models.sonar.layers import SonarLayers
from flip_pipeline.stages.embed import embed_stage
from flip_pipeline.stages.layers import layers_stage

TEXT = ["embeddings", "layer_01", "layer_02", "layer_03", "pooled"]
SPEECH = ["embeddings", "layer_01", "layer_02", "pooled"]
CARD = "sonar_speech_encoder_eng"


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory, tatoeba_dir):
    lines = []
    for side in ("eng", "deu"):
        lines += (tatoeba_dir / f"tatoeba.deu-eng.{side}").read_text(encoding="utf-8").splitlines()[:200]
    return train_standin_tokenizer(tmp_path_factory.mktemp("spm"), lines, vocab_size=500)


@pytest.fixture(scope="module")
def text_model():
    return small_sonar_text_encoder()


@pytest.fixture(scope="module")
def speech_model():
    return small_sonar_speech_encoder()


@pytest.fixture(scope="module")
def wavs(tmp_path_factory) -> list[str]:
    return spoken_clips(tmp_path_factory.mktemp("wav"), SENTENCES[:4])


@pytest.fixture(scope="module")
def text_layers(text_model, tokenizer):
    return SonarLayers("sonar", batch_size=4, progress=False, text_model=text_model, text_tokenizer=tokenizer)


def test_text_layers_names_widths_and_layer_norm(text_layers):
    assert text_layers.layer_names("text_en") == TEXT
    out = text_layers.encode_layers(list("abcdef"), SENTENCES, "text_en", TEXT)
    assert {k: v.shape for k, v in out.items()} == {name: (6, 64) for name in TEXT}
    assert all(v.dtype == np.float32 and np.isfinite(v).all() for v in out.values())
    assert len({v.tobytes() for v in out.values()}) == len(TEXT)  # every layer is another representation
    assert [text_layers.layer_norm("text_en", name) for name in ("layer_03", "pooled")] == ["before", "after"]
    with pytest.raises(FlipInputError, match="has no layer 'adaptor'"):
        select_layers(["adaptor"], text_layers.layer_names("text_en"), "sonar", "text_en")


def test_hooked_layers_are_the_models_own_hidden_states(text_layers, text_model, tokenizer):
    """Unpadded, one sentence: embeddings = the frontend output, layer_03 = the last layer's
    output before the final layer norm, pooled = the mean of the normalised output."""
    from fairseq2.nn import BatchLayout

    out = text_layers.encode_layers(["a"], SENTENCES[:1], "text_en", TEXT)
    tokens = tokenizer.create_encoder(lang="eng_Latn", mode="source")(SENTENCES[0]).unsqueeze(0)
    layout = BatchLayout.of(tokens)
    with torch.inference_mode():
        frontend, frontend_layout = text_model.encoder_frontend(tokens, layout)
        encoded = text_model.encoder(frontend, frontend_layout)  # no final norm inside the encoder
        normed = text_model.layer_norm(encoded)
    np.testing.assert_allclose(out["embeddings"][0], frontend[0].mean(0).numpy(), atol=1e-5, rtol=0)
    np.testing.assert_allclose(out["layer_03"][0], encoded[0].mean(0).numpy(), atol=1e-5, rtol=0)
    np.testing.assert_allclose(out["pooled"][0], normed[0].mean(0).numpy(), atol=1e-5, rtol=0)


def test_text_padding_and_batch_composition_do_not_change_a_sentence(text_layers):
    batch = text_layers.encode_layers(list("abcdef"), SENTENCES, "text_en", TEXT)
    for row in (0, 3):  # short sentences, padded in the batch with the long ones
        alone = text_layers.encode_layers(["x"], [SENTENCES[row]], "text_en", TEXT)
        for name in TEXT:
            np.testing.assert_allclose(alone[name][0], batch[name][row], atol=1e-4, rtol=0)


def test_pooled_equals_the_embed_stage_vector(text_model, tokenizer, text_layers, tmp_path):
    table = tmp_path / "corpus.parquet"
    write_corpus_table(pa.table({"id": list("abcdef"), "text_en": SENTENCES}), table)
    spec = {"family": "sonar", "batch_size": 4}
    embedder = SonarEncoder("sonar", batch_size=4, progress=False, text_model=text_model, text_tokenizer=tokenizer)
    embedder.encode(["a"], SENTENCES[:1], "text_en")  # learns the width of this small model (64, not 1024)
    embed_stage(table, "text_en", "sonar", spec, tmp_path / "emb", shard_rows=4, encoder=embedder)
    layers_stage(table, "text_en", "sonar", spec, ["pooled", "layer_02"], tmp_path / "lay", shard_rows=4,
                   encoder=text_layers)
    embedded, pooled = ViewEmbeddings(tmp_path / "emb"), ViewEmbeddings(tmp_path / "lay" / "pooled")
    assert list(pooled.ids) == list(embedded.ids) == list("abcdef")
    np.testing.assert_allclose(pooled.read_rows(0, 6), embedded.read_rows(0, 6), atol=1e-5, rtol=0)
    assert pooled.metadata["layer"] == "pooled" and pooled.metadata["layer_norm"] == "after"


def test_one_forward_pass_per_batch_records_every_layer(text_layers, text_model, tokenizer):
    calls = {"model": 0, "frontend": 0, "layer_01": 0}
    counters = [(text_model, "model"), (text_model.encoder_frontend, "frontend"), (text_model.encoder.layers[0], "layer_01")]
    handles = [module.register_forward_hook(lambda *a, key=key: calls.__setitem__(key, calls[key] + 1))
               for module, key in counters]
    try:
        text_layers.encode_layers(list("abcdef"), SENTENCES, "text_en", TEXT)
    finally:
        for handle in handles:
            handle.remove()
    token_encoder = tokenizer.create_encoder(lang="eng_Latn", mode="source")
    batches = len(length_sorted_batches([len(token_encoder(s)) for s in SENTENCES], 4, text_layers.max_tokens))
    assert batches >= 2 and calls == dict.fromkeys(calls, batches)
    assert not text_model.encoder._layer_hooks and not text_model.encoder_frontend._forward_hooks  # removed


def test_speech_layers_from_espeak_audio(speech_model, wavs):
    layers = SonarLayers("sonar", speech_batch_size=4, progress=False, speech_models={CARD: speech_model})
    assert layers.layer_names("speech_en") == SPEECH
    batch = layers.encode_layers(list("abcd"), wavs, "speech_en", SPEECH)
    assert {k: v.shape for k, v in batch.items()} == {name: (4, 64) for name in SPEECH}
    plain = SonarEncoder("sonar", speech_batch_size=4, progress=False, speech_models={CARD: speech_model})
    np.testing.assert_allclose(batch["pooled"], plain.encode(list("abcd"), wavs, "speech_en"), atol=1e-5, rtol=0)
    alone = layers.encode_layers(["d"], wavs[3:], "speech_en", SPEECH)  # the shortest clip, padded above
    for name in SPEECH:
        a, b = alone[name][0], batch[name][3]
        assert float(a @ b / np.linalg.norm(a) / np.linalg.norm(b)) > 0.999, name
    with pytest.raises(FlipInputError, match="has no layer 'layer_03'"):
        select_layers(["layer_03"], layers.layer_names("speech_en"), "sonar", "speech_en")


def test_stage_on_speech_with_skipped_audio(speech_model, wavs, tmp_path):
    missing = str(tmp_path / "missing.wav")
    (tmp_path / "junk.wav").write_bytes(b"not audio" * 20)
    rows = [("a", wavs[0]), ("c", wavs[1]), ("b", missing), ("d", str(tmp_path / "junk.wav")), ("e", wavs[2])]
    table = tmp_path / "corpus.parquet"
    write_corpus_table(pa.table({"id": [r[0] for r in rows], "speech_en": [r[1] for r in rows]}), table)
    spec = {"family": "sonar", "skip_bad_audio": True, "speech_batch_size": 2}
    layers = SonarLayers("sonar", skip_bad_audio=True, speech_batch_size=2, progress=False,
                         speech_models={CARD: speech_model})
    out = tmp_path / "lay"
    info = layers_stage(table, "speech_en", "sonar", spec, "all", out, shard_rows=2, encoder=layers)
    assert info["layers"] == SPEECH and info["rows"] == 3 and info["skipped_rows"] == 2
    assert [s["id"] for s in info["skipped"]] == ["b", "d"] and missing in info["skipped"][0]["reason"]
    assert info["layer_norm"] == {"embeddings": "before", "layer_01": "before", "layer_02": "before", "pooled": "after"}
    for name in SPEECH:
        view = ViewEmbeddings(out / name)
        assert list(view.ids) == ["a", "c", "e"] and [s["rows"] for s in view.manifest["shards"]] == [2, 0, 1]
    direct = layers.encode_layers(["e"], [wavs[2]], "speech_en", ["pooled"])["pooled"]
    np.testing.assert_allclose(ViewEmbeddings(out / "pooled").read_rows(2, 3), direct, atol=1e-5, rtol=0)
    stamps = {p: p.stat().st_mtime_ns for p in out.glob("*/part-*.parquet")}
    again = layers_stage(table, "speech_en", "sonar", spec, "all", out, shard_rows=2, encoder=layers)
    assert again == info | {"skipped": info["skipped"]}
    assert {p: p.stat().st_mtime_ns for p in out.glob("*/part-*.parquet")} == stamps  # every shard kept
