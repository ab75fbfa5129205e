"""Choose the compute device once per process and log the choice."""

from __future__ import annotations

import functools
import logging

import torch

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=None)
def pick_device(requested: str = "auto") -> torch.device:
    """``"auto"`` → CUDA when present, else CPU; ``"cpu"``/``"cuda"``/``"cuda:1"`` as given."""
    if requested == "auto":
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(requested)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    log.info("device: %s (%s), torch %s, %d CPU threads", device, name, torch.__version__, torch.get_num_threads())
    return device
