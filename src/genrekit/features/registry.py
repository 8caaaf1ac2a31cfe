"""Feature extractors by name. Modules are imported lazily, so naming one does not import torch."""

from __future__ import annotations

import importlib
from typing import Any

from genrekit.errors import ConfigError, unknown_name
from genrekit.features.base import Extractor

#: name -> "module:ClassName"; the class is imported the first time the name is used.
_REGISTRY: dict[str, str] = {
    "handcrafted": "genrekit.features.handcrafted:HandcraftedExtractor",
    "logmel": "genrekit.features.spectrogram:LogMelExtractor",
    "mfcc": "genrekit.features.spectrogram:MFCCExtractor",
    "musicnn-msd": "genrekit.features.musicnn.extractor:MusicnnMSDExtractor",
    "musicnn-mtt": "genrekit.features.musicnn.extractor:MusicnnMTTExtractor",
    "musicnn": "genrekit.features.musicnn.extractor:MusicnnBothExtractor",
    "musicnn-mel": "genrekit.features.patches:MusicnnMelExtractor",
}


def available() -> list[str]:
    """Names of the registered extractors."""
    return sorted(_REGISTRY)


def register(name: str, target: str) -> None:
    """Register an extractor class given as ``"module:ClassName"``."""
    _REGISTRY[name] = target


def extractor_class(name: str) -> type[Extractor]:
    if name not in _REGISTRY:
        raise unknown_name("feature extractor", name, list(_REGISTRY))
    module, cls = _REGISTRY[name].split(":")
    return getattr(importlib.import_module(module), cls)


def get_extractor(name: str, **config: Any) -> Extractor:
    """Build the extractor ``name`` with config overrides.

    Raises
    ------
    ConfigError
        Unknown name (the message lists the valid ones) or an unknown config option.
    """
    cls = extractor_class(name)
    try:
        return cls(**config)
    except TypeError as exc:
        raise ConfigError(f"bad option for feature extractor {name!r}: {exc}") from None


def extractor_from_dict(d: dict[str, Any]) -> Extractor:
    """Rebuild an extractor from :meth:`Extractor.to_dict` output (as stored in a bundle)."""
    if not isinstance(d, dict) or "name" not in d:
        raise ConfigError(f"not an extractor description: {d!r}")
    return extractor_class(d["name"]).from_config_dict(d.get("config", {}))
