"""Pretrained musicnn (Pons & Serra, ISC licence) in PyTorch, with the weights of the musicnn wheel.

No TensorFlow anywhere: :mod:`.checkpoint` reads the TF-1 checkpoints shipped in ``musicnn==0.1.0``
(install it with ``pip install --no-deps musicnn==0.1.0``) with numpy, :mod:`.network` rebuilds the
networks in torch, :mod:`.kernels` picks their fastest exact kernels on this machine and the opt-in
bfloat16 precision (:func:`kernel_info` reports both), :mod:`.preprocess` makes the log-mel patches,
:mod:`.labels` lists the 50 tags of each model, and :mod:`.extractor` exposes embeddings and tags as
feature extractors (``"musicnn-msd"``, ``"musicnn-mtt"``, ``"musicnn"``).

Names are imported lazily, so ``import genrekit.features.musicnn`` does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "read_checkpoint": "checkpoint",
    "list_variables": "checkpoint",
    "load_musicnn": "network",
    "run": "network",
    "kernel_info": "kernels",
    "MODELS": "network",
    "mel_patches": "preprocess",
    "logmel": "preprocess",
    "MSD_TAGS": "labels",
    "MTT_TAGS": "labels",
    "MusicnnMSDExtractor": "extractor",
    "MusicnnMTTExtractor": "extractor",
    "MusicnnBothExtractor": "extractor",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
