"""genrekit: tell which genre a piece of music belongs to.

The end-to-end names are importable from the package; they load their modules on first use, so
``import genrekit`` stays fast (torch, librosa and scikit-learn load only when needed)::

    import genrekit
    clf = genrekit.load_model()                 # pretrained "gtzan" head (10 genres), no training
    genrekit.list_models()                      # the pretrained model names: gtzan, musicnn, ...
    print(clf.predict("song.mp3").top_k(3))
    res = genrekit.train("music/", features="handcrafted", model="svm", out="model/")
    cfg = genrekit.TrainConfig(model="logreg", test_size=0.25)  # every training choice, in one value
    res = genrekit.train("music/", cfg, out="model/")           # res.bundle.training == cfg
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "Classifier",
    "Prediction",
    "TrainConfig",
    "compare",
    "evaluate",
    "load_audio",
    "list_models",
    "load_model",
    "train",
    "GenreKitError",
    "AudioError",
    "DatasetError",
    "ModelError",
    "ConfigError",
]

_LAZY: dict[str, tuple[str, str]] = {
    "Classifier": ("genrekit.predict", "Classifier"),
    "Prediction": ("genrekit.predict", "Prediction"),
    "load_model": ("genrekit.predict", "load_model"),
    "list_models": ("genrekit.pretrained", "list_models"),
    "load_audio": ("genrekit.audio", "load"),
    "train": ("genrekit.training", "train"),
    "TrainConfig": ("genrekit.config", "TrainConfig"),
    "evaluate": ("genrekit.training", "evaluate"),
    "compare": ("genrekit.training", "compare"),
    "GenreKitError": ("genrekit.errors", "GenreKitError"),
    "AudioError": ("genrekit.errors", "AudioError"),
    "DatasetError": ("genrekit.errors", "DatasetError"),
    "ModelError": ("genrekit.errors", "ModelError"),
    "ConfigError": ("genrekit.errors", "ConfigError"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'genrekit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
