"""Model families by name: classical scikit-learn pipelines now, torch networks as they are added."""

from __future__ import annotations

import importlib
from typing import Any

from genrekit.errors import unknown_name
from genrekit.models.classical import CLASSICAL_KINDS, make_model, param_grid

#: Torch model kinds: name -> "module:ClassName" (imported lazily so classical use never imports torch).
NEURAL_KINDS: dict[str, str] = {
    "dnn": "genrekit.models.neural.dnn:DNNClassifier",
    "cnn": "genrekit.models.neural.cnn:CNNClassifier",
    "musicnn-finetune": "genrekit.models.neural.finetune:MusicnnFinetuneClassifier",
}

#: The feature extractor each family reads when none is named (``train --model cnn`` needs log-mel
#: matrices, ``musicnn-finetune`` musicnn's mel patches; the classical families summary vectors).
DEFAULT_FEATURES: dict[str, str] = {"dnn": "mfcc", "cnn": "logmel", "musicnn-finetune": "musicnn-mel"}


def default_features(kind: str) -> str:
    """The feature extractor ``kind`` trains on by default; unknown kinds raise ConfigError."""
    if kind not in CLASSICAL_KINDS and kind not in NEURAL_KINDS:
        raise unknown_name("model", kind, available())
    return DEFAULT_FEATURES.get(kind, "handcrafted")


def available() -> list[str]:
    """Every model kind that ``build_model`` accepts."""
    return list(CLASSICAL_KINDS) + sorted(NEURAL_KINDS)


def model_class(kind: str) -> type:
    """The class of a torch model kind (for rebuilding it from a bundle)."""
    if kind not in NEURAL_KINDS:
        raise unknown_name("model", kind, available())
    module, cls = NEURAL_KINDS[kind].split(":")
    return getattr(importlib.import_module(module), cls)


def build_model(kind: str, *, random_state: int = 0, n_jobs: int = 1, **params: Any) -> Any:
    """Build an unfitted model of ``kind``; unknown kinds raise ConfigError listing the valid ones."""
    if kind in CLASSICAL_KINDS:
        return make_model(kind, random_state=random_state, n_jobs=n_jobs, **params)
    return model_class(kind)(random_state=random_state, **params)


def search_grid(kind: str) -> dict[str, list[Any]]:
    """The parameter grid ``--search`` explores for ``kind``."""
    if kind in CLASSICAL_KINDS:
        return param_grid(kind)
    return dict(getattr(model_class(kind), "search_grid", {}))
