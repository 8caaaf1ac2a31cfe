"""Out-of-the-box genre prediction from the pretrained musicnn taggers (no training).

The MSD_musicnn and MTT_musicnn models each output 50 tag probabilities (sigmoids, not exclusive).
Their genre-like tags are mapped onto one documented taxonomy (:data:`TAXONOMY`); a genre's score is
the midpoint of the highest probability among its tags and their mean (``pooling="max_mean"``; the
plain max let "rock", pooling ten tags, win most guitar music), and the scores are normalised to sum
to 1. This is the ``musicnn`` pretrained model; the default model (``gtzan``) is a head trained on real
GTZAN clips (:mod:`genrekit.pretrained`). Instrument, mood
and era tags ("guitar", "sad", "80s") carry no genre and are left out; they stay available as raw tags.

The taxonomy (13 genres). GTZAN's disco and reggae have no tag in either model, so they are absent:

=============  ========================================================================================
genre          tags (MSD = Million Song Dataset model, MTT = MagnaTagATune model)
=============  ========================================================================================
ambient        MSD ambient, chillout; MTT ambient, new age
blues          MSD blues
classical      MTT classical, classic, opera, choral, choir, harpsichord
country        MSD country; MTT country
electronic     MSD electronic, electronica, electro, dance, House; MTT electronic, techno, dance
folk           MSD folk
hiphop         MSD Hip-Hop
jazz           MSD jazz
metal          MSD metal, heavy metal; MTT metal
pop            MSD pop, indie pop; MTT pop
rnb            MSD rnb, soul, funk
rock           MSD rock, alternative, alternative rock, classic rock, indie rock, hard rock, punk,
               Progressive rock, indie; MTT rock
world          MTT indian, sitar
=============  ========================================================================================
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from genrekit.errors import ConfigError, ModelError
from genrekit.features.musicnn.labels import MSD_TAGS, MTT_TAGS

#: genre -> list of "msd:<tag>" / "mtt:<tag>" sources.
TAXONOMY: dict[str, tuple[str, ...]] = {
    "ambient": ("msd:ambient", "msd:chillout", "mtt:ambient", "mtt:new age"),
    "blues": ("msd:blues",),
    "classical": ("mtt:classical", "mtt:classic", "mtt:opera", "mtt:choral", "mtt:choir", "mtt:harpsichord"),
    "country": ("msd:country", "mtt:country"),
    "electronic": (
        "msd:electronic",
        "msd:electronica",
        "msd:electro",
        "msd:dance",
        "msd:House",
        "mtt:electronic",
        "mtt:techno",
        "mtt:dance",
    ),
    "folk": ("msd:folk",),
    "hiphop": ("msd:Hip-Hop",),
    "jazz": ("msd:jazz",),
    "metal": ("msd:metal", "msd:heavy metal", "mtt:metal"),
    "pop": ("msd:pop", "msd:indie pop", "mtt:pop"),
    "rnb": ("msd:rnb", "msd:soul", "msd:funk"),
    "rock": (
        "msd:rock",
        "msd:alternative",
        "msd:alternative rock",
        "msd:classic rock",
        "msd:indie rock",
        "msd:hard rock",
        "msd:punk",
        "msd:Progressive rock",
        "msd:indie",
        "mtt:rock",
    ),
    "world": ("mtt:indian", "mtt:sitar"),
}

#: Column order of the "musicnn" extractor with output="tags": the 50 MSD tags, then the 50 MTT tags.
TAG_SOURCES: tuple[str, ...] = tuple(f"msd:{t}" for t in MSD_TAGS) + tuple(f"mtt:{t}" for t in MTT_TAGS)


def taxonomy_matrix(taxonomy: dict[str, tuple[str, ...]] = TAXONOMY) -> tuple[list[str], np.ndarray]:
    """Genres and a 0/1 membership matrix of shape (n_tags=100, n_genres) over :data:`TAG_SOURCES`."""
    index = {s: i for i, s in enumerate(TAG_SOURCES)}
    genres = sorted(taxonomy)
    m = np.zeros((len(TAG_SOURCES), len(genres)), dtype=np.float64)
    for j, g in enumerate(genres):
        for src in taxonomy[g]:
            if src not in index:
                raise ConfigError(
                    f"taxonomy genre {g!r} names unknown tag {src!r}; tags are msd:/mtt: + model tags"
                )
            m[index[src], j] = 1.0
    return genres, m


#: How a genre's tags are pooled into its score (see :meth:`TagGenreModel.genre_scores`).
POOLINGS: tuple[str, ...] = ("max_mean", "max", "mean", "noisy_or")
#: The default pooling, chosen on the 321 shared real GTZAN clips (benchmarks/bench_default_model.py;
#: nothing trained, every clip a test clip). Both networks' tags, macro recall over the 8 GTZAN genres
#: the taxonomy has / accuracy on blues, classical, jazz, pop / accuracy over all clips: max 0.498 /
#: 0.721 / 0.648 (rock 1.00 but metal 0.08: a genre pooling ten tags wins all guitar music), mean 0.485 /
#: 0.657 / 0.598 (classical falls to 0.43: its rare sub-form tags dilute it), noisy_or 0.471 / 0.709 /
#: 0.626, max_mean 0.495 / 0.749 / 0.664 (rock 0.79, classical 0.84).
DEFAULT_POOLING = "max_mean"


class TagGenreModel(ClassifierMixin, BaseEstimator):
    """Maps musicnn tag probabilities (n, 100) to genre probabilities (n, n_genres) with a fixed taxonomy.

    Parameters
    ----------
    taxonomy : dict or None
        genre -> tag sources; ``None`` for :data:`TAXONOMY`.
    sharpness : float
        Exponent applied to the genre scores before normalising (1 = plain ratio of scores).
    pooling : {"max_mean", "max", "mean", "noisy_or"}
        How a genre's ``k`` tag probabilities make its score: ``max_mean`` (the default: the midpoint of
        the best tag and the mean of all its tags, so a genre needs broad support among its tags, and
        one of many tags firing counts half), ``max`` (the best tag; the former rule, under which a
        genre with many tags wins by the max of them all), ``mean`` (their mean), ``noisy_or`` (the
        noisy-or normalised by the tag count, ``1 - prod(1 - p_i) ** (1 / k)``: the per-tag probability
        that, repeated ``k`` times independently, gives the genre's noisy-or).
    """

    def __init__(
        self,
        *,
        taxonomy: dict[str, tuple[str, ...]] | None = None,
        sharpness: float = 2.0,
        pooling: str = DEFAULT_POOLING,
    ) -> None:
        self.taxonomy = taxonomy
        self.sharpness = sharpness
        self.pooling = pooling

    def fit(self, X: Any = None, y: Any = None) -> TagGenreModel:
        """Check the parameters and build the taxonomy matrix; ``X`` and ``y`` are ignored (nothing learned).

        Sets ``membership_`` (n_tags, n_genres) and ``classes_`` (n_genres,), as the scikit-learn contract
        wants fitted state set here, not in ``__init__``. Returns ``self``.
        """
        if self.pooling not in POOLINGS:
            raise ConfigError(f"unknown tag pooling {self.pooling!r}; valid: {', '.join(POOLINGS)}")
        genres, self.membership_ = taxonomy_matrix(self.taxonomy or TAXONOMY)
        self.classes_ = np.asarray(genres)
        return self

    def genre_scores(self, tags: np.ndarray) -> np.ndarray:
        """Each genre's pooled tag probability (see ``pooling``), shape (n, n_genres)."""
        tags = np.asarray(tags, dtype=np.float64)
        if tags.ndim != 2 or tags.shape[1] != len(TAG_SOURCES):
            raise ModelError(f"expected (n, {len(TAG_SOURCES)}) musicnn tag probabilities, got {tags.shape}")
        if not hasattr(self, "membership_"):
            raise ModelError(
                "TagGenreModel is not fitted: call fit() first (it learns nothing; it builds the taxonomy)"
            )
        m = self.membership_
        best = np.max(tags[:, :, None] * m[None, :, :], axis=1)
        if self.pooling == "max":
            return best
        k = m.sum(axis=0)
        if self.pooling == "mean":
            return (tags @ m) / k
        if self.pooling == "max_mean":
            return 0.5 * (best + (tags @ m) / k)
        log_miss = np.log1p(-np.clip(tags, 0.0, 1.0 - 1e-9)) @ m  # log prod(1 - p_i) per genre
        return 1.0 - np.exp(log_miss / k)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Genre probabilities, shape (n, n_genres), rows summing to 1."""
        s = np.power(np.clip(self.genre_scores(X), 1e-9, 1.0), self.sharpness)
        return s / s.sum(axis=1, keepdims=True)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


DEFAULT_TAGGERS = ("musicnn", "musicnn-msd", "musicnn-mtt")


def taxonomy_model(name: str = "musicnn") -> TagGenreModel:
    """The tag-to-genre mapping of a pretrained tagger name: both networks' tags, or one network's.

    ``musicnn-msd`` / ``musicnn-mtt`` keep the taxonomy's tags of a single network (genres left
    without a tag are dropped). :func:`genrekit.predict.load_model` pairs it with the musicnn extractor.
    """
    if name not in DEFAULT_TAGGERS:
        raise ConfigError(f"unknown pretrained model {name!r}; valid: {', '.join(DEFAULT_TAGGERS)}")
    if name == "musicnn":
        return TagGenreModel().fit()
    keep = "msd:" if name == "musicnn-msd" else "mtt:"
    taxonomy = {g: tuple(s for s in srcs if s.startswith(keep)) for g, srcs in TAXONOMY.items()}
    return TagGenreModel(taxonomy={g: s for g, s in taxonomy.items() if s}).fit()


def top_tags(tags: np.ndarray, *, which: str = "msd", k: int = 10) -> list[tuple[str, float]]:
    """The ``k`` highest tags of one model from a (100,) or (n, 100) tag array (rows averaged)."""
    t = np.asarray(tags, dtype=np.float64)
    t = t.mean(axis=0) if t.ndim == 2 else t
    if which not in ("msd", "mtt"):
        raise ConfigError(f"which must be 'msd' or 'mtt', got {which!r}")
    part, names = (t[:50], MSD_TAGS) if which == "msd" else (t[50:], MTT_TAGS)
    order = np.argsort(-part)[:k]
    return [(names[i], float(part[i])) for i in order]
