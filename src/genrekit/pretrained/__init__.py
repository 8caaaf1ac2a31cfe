"""Named pretrained models: what ``load_model(NAME)`` and ``classify --model NAME`` use with no training.

========  ==========================================================================================
name      what
========  ==========================================================================================
gtzan     the default: a genre head over musicnn (MSD) embeddings trained on real GTZAN clips
          (10 genres), shipped in this package as a bundle (``pretrained/gtzan/``), temperature-
          calibrated; rebuilt by ``tools/train_default_model.py``
musicnn   musicnn tags of both networks (MSD and MTT) mapped through the fixed 13-genre taxonomy of
          :mod:`genrekit.models.tagger` (covers electronic, folk, rnb, ambient, world; no disco, reggae)
musicnn-msd, musicnn-mtt
          the taxonomy with one network's tags only (one forward pass per patch)
========  ==========================================================================================

Nothing here downloads anything: the shipped bundle is package data, the networks' weights come from
the installed ``musicnn`` wheel. This module only describes the models (it imports no network and no
estimator); :func:`genrekit.predict.load_model` builds them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genrekit.errors import ConfigError

__all__ = ["DEFAULT_MODEL", "PretrainedModel", "get", "list_models", "names", "unknown_model"]

DEFAULT_MODEL = "gtzan"
PACKAGE_DIR = Path(__file__).parent

#: The taxonomy models' figures, measured by ``benchmarks/bench_default_model.py`` on the 321 shared real
#: GTZAN clips (no training involved, so every clip is a test clip): macro recall over the 10 GTZAN
#: genres (disco and reggae, which the taxonomy lacks, count 0), accuracy on the 4 complete genres
#: (blues, classical, jazz, pop), accuracy over all clips. Refreshed with the benchmark.
TAXONOMY_SCORES: dict[str, dict[str, float]] = {
    "musicnn": {"macro_recall": 0.495, "accuracy_complete4": 0.749, "accuracy": 0.664},
    "musicnn-msd": {"macro_recall": 0.454, "accuracy_complete4": 0.546, "accuracy": 0.517},
    "musicnn-mtt": {"macro_recall": 0.267, "accuracy_complete4": 0.422, "accuracy": 0.371},
}


@dataclass(frozen=True)
class PretrainedModel:
    """One named pretrained model.

    Attributes
    ----------
    name : str
    kind : {"bundle", "taxonomy"}
        A bundle shipped in the package, or the fixed tag -> genre mapping of musicnn's taggers.
    description : str
    genres : tuple of str
        The labels it answers.
    networks : tuple of str
        The musicnn networks run per patch (``"msd"``, ``"mtt"``).
    accuracy : dict
        Measured figures (see the module docstring of where each comes from); may be empty.
    path : Path or None
        The bundle directory (``kind == "bundle"``).
    """

    name: str
    kind: str
    description: str
    genres: tuple[str, ...]
    networks: tuple[str, ...]
    accuracy: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "default": self.name == DEFAULT_MODEL,
            "description": self.description,
            "genres": list(self.genres),
            "networks": list(self.networks),
            "accuracy": dict(self.accuracy),
        }


def _bundle_model(name: str, description: str) -> PretrainedModel:
    from genrekit.bundle import read_meta

    path = PACKAGE_DIR / name
    meta = read_meta(path)  # a ModelError when the package data is missing or broken
    cv = (meta.get("metrics") or {}).get("cv", {})
    accuracy = {k: cv[k] for k in ("macro_recall", "accuracy_complete4", "accuracy") if k in cv}
    if accuracy:
        accuracy["measured"] = cv.get("protocol", "cross-validation on the shared GTZAN clips")
    extractor = meta.get("extractor") or {}
    networks = {"musicnn-msd": ("msd",), "musicnn-mtt": ("mtt",)}.get(
        extractor.get("name", ""), ("msd", "mtt")
    )
    return PretrainedModel(name, "bundle", description, tuple(meta["labels"]), networks, accuracy, path)


def _taxonomy_model(name: str) -> PretrainedModel:
    from genrekit.models.tagger import TAXONOMY

    keep = {"musicnn": ("msd", "mtt"), "musicnn-msd": ("msd",), "musicnn-mtt": ("mtt",)}[name]
    genres = tuple(sorted(g for g, tags in TAXONOMY.items() if any(t.split(":")[0] in keep for t in tags)))
    which = "both networks'" if len(keep) == 2 else f"the {keep[0].upper()} network's"
    scores = dict(TAXONOMY_SCORES.get(name, {}))
    if scores:
        scores["measured"] = "all 321 shared GTZAN clips (a fixed rule: nothing trained on them)"
    return PretrainedModel(
        name,
        "taxonomy",
        f"musicnn tags ({which}) mapped through the fixed {len(genres)}-genre taxonomy",
        genres,
        keep,
        scores,
    )


_DESCRIPTIONS = {
    "gtzan": "genre head over musicnn embeddings trained on real GTZAN clips, calibrated (the default)",
}
_ORDER = ("gtzan", "musicnn", "musicnn-msd", "musicnn-mtt")


def names() -> tuple[str, ...]:
    """The pretrained model names, the default first."""
    return _ORDER


def unknown_model(name: str) -> ConfigError:
    """The error for a model name that is neither a pretrained model nor a bundle, listing the names."""
    return ConfigError(
        f"unknown model {name!r}: not a pretrained model name nor a bundle directory/zip; "
        f"pretrained models: {', '.join(_ORDER)} (see `genrekit models`)"
    )


def get(name: str) -> PretrainedModel:
    """The pretrained model ``name``.

    Raises
    ------
    ConfigError
        An unknown name (the message lists the valid ones).
    ModelError
        The shipped bundle's files are missing or broken (a damaged installation).
    """
    if name not in _ORDER:
        raise unknown_model(name)
    if name in _DESCRIPTIONS:
        return _bundle_model(name, _DESCRIPTIONS[name])
    return _taxonomy_model(name)


def list_models() -> list[PretrainedModel]:
    """Every pretrained model, the default (:data:`DEFAULT_MODEL`) first."""
    return [get(n) for n in _ORDER]
