"""SALMONN (Tang et al., 2024), the thesis's decoder-only model (seed 002 §4.1.3), layer by layer.

* :mod:`.checkpoint`: released ``.pth``/``.pt`` checkpoints → safetensors, without executing a pickle;
* :mod:`.beats`: the BEATs audio encoder (microsoft/unilm ``beats/``), written here;
* :mod:`.window_qformer`: the window-level Q-Former over transformers' ``Blip2QFormerModel``;
* :mod:`.model`: the assembled model (Whisper encoder + BEATs → Q-Former → Llama decoder with
  LoRA merged at load) and its one forward pass per batch;
* :mod:`.layers`: the per-layer representations behind the ``LayerEncoder`` protocol.
"""
