from __future__ import annotations

import numpy as np
import pytest

from genrekit.errors import ConfigError, ModelError
from genrekit.models.tagger import TAG_SOURCES, TAXONOMY, TagGenreModel, taxonomy_model, top_tags

SR = 16000


def test_taxonomy_names_real_tags_and_rows_sum_to_one(rng):
    model = TagGenreModel().fit()
    assert list(model.classes_) == sorted(TAXONOMY)
    tags = rng.uniform(0, 1, size=(7, len(TAG_SOURCES)))
    p = model.predict_proba(tags)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    # a genre's score is its best tag: only "msd:jazz" high -> jazz wins
    tags = np.full((1, len(TAG_SOURCES)), 0.01)
    tags[0, TAG_SOURCES.index("msd:jazz")] = 0.9
    assert model.predict(tags)[0] == "jazz"
    with pytest.raises(ModelError, match="musicnn tag probabilities"):
        model.predict_proba(np.zeros((2, 50)))
    with pytest.raises(ConfigError, match="unknown tag"):
        TagGenreModel(taxonomy={"polka": ("msd:polka",)}).fit()


def test_pooling_a_genre_of_many_tags_does_not_win_by_their_max():
    tags = np.full((1, len(TAG_SOURCES)), 0.05)
    for src, v in (("msd:rock", 0.6), ("msd:metal", 0.55), ("msd:heavy metal", 0.5), ("mtt:metal", 0.5)):
        tags[0, TAG_SOURCES.index(src)] = v
    assert TagGenreModel(pooling="max").fit().predict(tags)[0] == "rock"  # the former rule's bias
    model = TagGenreModel().fit()  # max_mean: (best + mean of the genre's tags) / 2
    assert model.pooling == "max_mean" and model.predict(tags)[0] == "metal"
    s = dict(zip(model.classes_, model.genre_scores(tags)[0], strict=True))
    assert s["rock"] == pytest.approx(0.5 * (0.6 + (0.6 + 9 * 0.05) / 10))
    assert s["metal"] == pytest.approx(0.5 * (0.55 + (0.55 + 0.5 + 0.5) / 3))
    # mean and noisy-or normalised by the tag count: exact values for a one-tag genre and a many-tag one
    s_mean = dict(zip(model.classes_, TagGenreModel(pooling="mean").fit().genre_scores(tags)[0], strict=True))
    assert s_mean["jazz"] == pytest.approx(0.05) and s_mean["rock"] == pytest.approx((0.6 + 9 * 0.05) / 10)
    s_or = dict(
        zip(model.classes_, TagGenreModel(pooling="noisy_or").fit().genre_scores(tags)[0], strict=True)
    )
    assert s_or["jazz"] == pytest.approx(0.05)
    assert s_or["rock"] == pytest.approx(1 - (0.4 * 0.95**9) ** 0.1)
    for pooling in ("max_mean", "max", "mean", "noisy_or"):
        np.testing.assert_allclose(TagGenreModel(pooling=pooling).fit().predict_proba(tags).sum(axis=1), 1.0)
    with pytest.raises(ConfigError, match="unknown tag pooling 'median'"):
        TagGenreModel(pooling="median").fit()


def test_top_tags():
    t = np.zeros(100)
    t[3], t[50 + 1] = 0.8, 0.7
    assert top_tags(t, which="msd", k=1) == [("indie", 0.8)]
    assert top_tags(t, which="mtt", k=1) == [("classical", 0.7)]


def _piano(seconds: float = 12.0) -> np.ndarray:
    """Solo piano-like notes: decaying harmonics of a C-major arpeggio, no drums."""
    rng = np.random.default_rng(1)
    y = np.zeros(int(seconds * SR), dtype=np.float32)
    n = int(0.5 * SR)
    t = np.arange(n) / SR
    for k, start in enumerate(range(0, len(y) - n, n)):
        f0 = 261.63 * 2 ** ([0, 4, 7, 12, 7, 4][k % 6] / 12)
        note = sum((0.6**h) * np.sin(2 * np.pi * f0 * (h + 1) * t) for h in range(6))
        y[start : start + n] += (note * np.exp(-3.0 * t) * (0.8 + 0.2 * rng.random())).astype(np.float32)
    return 0.5 * y / np.abs(y).max()


@pytest.fixture(scope="module")
def tagger():
    from genrekit.predict import load_model

    return load_model("musicnn")


@pytest.mark.slow
def test_piano_is_not_metal(tagger):
    pred = tagger.predict_audio(_piano(), SR)
    assert abs(sum(pred.probabilities.values()) - 1) < 1e-4
    assert pred.genre != "metal"
    assert pred.probabilities["classical"] > pred.probabilities["metal"]
    assert len(pred.segments) == 4  # 12 s -> four ~3 s patches


@pytest.mark.slow
def test_distorted_riff_with_fast_drums_ranks_metal_or_rock_above_classical(tagger):
    from genrekit.synth import render

    y = render("metal", duration_s=12.0, sr=22050, seed=4)
    pred = tagger.predict_audio(y, 22050)
    heavy = max(pred.probabilities["metal"], pred.probabilities["rock"])
    assert heavy > pred.probabilities["classical"]


def test_unknown_pretrained_name():
    with pytest.raises(ConfigError, match="musicnn-msd"):
        taxonomy_model("openl3")


def test_tag_model_follows_the_scikit_learn_contract():
    """__init__ stores parameters only; fit() checks them and sets the fitted state; clone() works."""
    from sklearn.base import clone

    model = TagGenreModel(pooling="bogus")  # no error yet: parameters are checked in fit
    assert not hasattr(model, "classes_") and model.get_params()["pooling"] == "bogus"
    with pytest.raises(ConfigError, match="unknown tag pooling 'bogus'"):
        model.fit()
    with pytest.raises(ModelError, match="not fitted"):
        TagGenreModel().predict_proba(np.zeros((1, len(TAG_SOURCES))))
    fitted = clone(TagGenreModel(pooling="mean")).fit()
    assert fitted.pooling == "mean" and list(fitted.classes_) == sorted(TAXONOMY)
