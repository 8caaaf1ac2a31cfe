"""Torch classifiers: overfitting, learning, early stopping, augmentation scope, bundles, reproducibility."""

from __future__ import annotations

import io
import sys

import numpy as np
import pytest
import torch
from sklearn.base import clone

from genrekit.bundle import Bundle, load_bundle, save_bundle
from genrekit.errors import ConfigError, ModelError
from genrekit.models import augment as augment_mod
from genrekit.models.neural import (
    CNNClassifier,
    DNNClassifier,
    MusicnnFinetuneClassifier,
    auto_input_pool,
    conv_pools,
    grouped_validation_split,
    track_neighbours,
)
from genrekit.models.neural.trainer import _resolve_threads
from genrekit.models.registry import build_model, model_class, search_grid

SHAPE = (8, 16)
FAST = {"verbose": False, "n_threads": 1}


def stripes(n: int, rng: np.random.Generator, *, seg_per_track: int = 4) -> tuple[np.ndarray, ...]:
    """Two classes of noisy 8x16 'spectrograms': horizontal ("h") or vertical ("v") stripes.

    Returns X (n, 128) float32, y (n,), groups (n,): ``seg_per_track`` consecutive rows per track.
    """
    n_tracks = n // seg_per_track
    labels = np.array(["h", "v"])[np.arange(n_tracks) % 2]
    y = np.repeat(labels, seg_per_track)
    X = rng.normal(0.0, 1.0, size=(n, *SHAPE)).astype(np.float32)
    X[y == "h", ::2, :] += 1.5
    X[y == "v", :, ::2] += 1.5
    groups = np.repeat([f"t{i:03d}" for i in range(n_tracks)], seg_per_track)
    return X.reshape(n, -1), y, groups


def small(kind: str, **kw: object) -> DNNClassifier | CNNClassifier:
    if kind == "dnn":
        return DNNClassifier(hidden_units=(32,), frame_shape=SHAPE, **FAST, **kw)
    return CNNClassifier(channels=(8, 16), frame_shape=SHAPE, **FAST, **kw)


def musicnn_available() -> bool:
    try:
        from genrekit.features.musicnn.network import weights_dir

        weights_dir("MSD_musicnn")
    except Exception:  # noqa: BLE001 - any failure means the pretrained weights are not usable here
        return False
    return True


needs_musicnn = pytest.mark.skipif(not musicnn_available(), reason="musicnn weights package not installed")


def mel_patches_data(n: int, rng: np.random.Generator, frames: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """musicnn-like log-mel patches (96 bands first): class "lo" is loud in low bands, "hi" in high ones."""
    X = rng.uniform(0.0, 0.5, size=(n, 96, frames)).astype(np.float32)
    y = np.array(["hi", "lo"])[np.arange(n) % 2]
    X[y == "lo", :30] += 2.0
    X[y == "hi", 60:] += 2.0
    return X.reshape(n, -1), y


# ---- learning ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["dnn", "cnn"])
def test_overfits_a_tiny_batch(kind: str, rng: np.random.Generator) -> None:
    X, y, _ = stripes(16, rng)
    y = np.array(["a", "b"])[rng.integers(0, 2, 16)]  # random labels: only memorisation helps
    m = small(
        kind, epochs=60, lr=1e-2, dropout=0.0, weight_decay=0.0, val_size=0.0, patience=None, batch_size=16
    )
    m.fit(X, y)
    loss = m.history_["loss"]
    assert loss[-1] < 0.1 * loss[0]
    assert m.history_["val_loss"] == []  # no validation split asked for
    np.testing.assert_array_equal(m.predict(X), y)


@pytest.mark.parametrize("kind", ["dnn", "cnn"])
def test_learns_above_chance_within_a_few_epochs(kind: str, rng: np.random.Generator) -> None:
    X, y, g = stripes(160, rng)
    Xt, yt, _ = stripes(80, rng)
    m = small(kind, epochs=6, lr=1e-2).fit(X, y, groups=g)
    assert len(m.history_["loss"]) <= 6
    acc = float((m.predict(Xt) == yt).mean())
    assert acc > 0.8, acc


def test_sklearn_contract(rng: np.random.Generator) -> None:
    X, y, g = stripes(40, rng)
    m = small("cnn", epochs=2)
    assert m.fit(X, y, groups=g) is m
    assert m.classes_.tolist() == ["h", "v"]
    p = m.predict_proba(X[:7])
    assert p.shape == (7, 2)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    assert set(m.history_) == {"loss", "acc", "val_loss", "val_acc", "lr"}
    assert len(m.history_["val_acc"]) == len(m.history_["loss"]) == len(m.epoch_times_s_)
    c = clone(m)
    assert c.get_params() == m.get_params() and not hasattr(c, "net_")
    assert m.n_params_ == sum(p.numel() for p in m.net_.parameters())


def test_early_stopping_restores_the_best_epoch(rng: np.random.Generator) -> None:
    # pure noise with random track labels: validation loss gets worse as the network memorises
    X = rng.normal(size=(120, 128)).astype(np.float32)
    groups = np.repeat([f"t{i}" for i in range(30)], 4)
    y = np.repeat(np.array(["a", "b"])[rng.integers(0, 2, 30)], 4)
    m = DNNClassifier(
        hidden_units=(256,),
        epochs=40,
        lr=1e-2,
        dropout=0.0,
        weight_decay=0.0,
        patience=3,
        class_weight=None,
        val_size=0.3,
        lr_schedule="none",
        **FAST,
    ).fit(X, y, groups=groups)
    val = m.history_["val_loss"]
    assert len(val) < 40  # stopped early
    assert m.best_epoch_ == int(np.argmin(val)) + 1
    assert len(val) == m.best_epoch_ + 3  # exactly `patience` epochs after the best
    rows = np.isin(groups, m.val_groups_)
    assert 0 < rows.sum() < len(rows)
    p = m.predict_proba(X[rows])
    idx = np.searchsorted(m.classes_, y[rows])
    restored = float(-np.log(p[np.arange(rows.sum()), idx]).mean())
    assert restored == pytest.approx(val[m.best_epoch_ - 1], rel=1e-4)
    assert restored < val[-1]


def test_standardisation_uses_the_training_rows_only(rng: np.random.Generator) -> None:
    X, y, g = stripes(64, rng)
    X = X * 3.0 + 5.0
    m = small("dnn", epochs=1).fit(X, y, groups=g)
    train = ~np.isin(g, m.val_groups_)
    m3 = X[train].reshape(-1, *SHAPE)
    np.testing.assert_allclose(m.norm_mean_, m3.mean(axis=(0, 2)), rtol=1e-5)
    np.testing.assert_allclose(m.norm_std_, m3.std(axis=(0, 2)), rtol=1e-4)
    assert not np.allclose(m.norm_mean_, X.reshape(-1, *SHAPE).mean(axis=(0, 2)), rtol=1e-6)


def test_lr_schedules(rng: np.random.Generator) -> None:
    X, y, g = stripes(48, rng)
    cos = small("dnn", epochs=4, lr=1e-2, lr_schedule="cosine", patience=None).fit(X, y, groups=g)
    lrs = cos.history_["lr"]
    assert lrs[0] == pytest.approx(1e-2) and all(a > b for a, b in zip(lrs, lrs[1:], strict=False))
    flat = small("dnn", epochs=3, lr=1e-2, lr_schedule="none").fit(X, y, groups=g)
    assert flat.history_["lr"] == [pytest.approx(1e-2)] * len(flat.history_["lr"])
    with pytest.raises(ConfigError, match="lr_schedule"):
        small("dnn", lr_schedule="step").fit(X, y)


def test_augmentation_touches_training_batches_only(rng: np.random.Generator, monkeypatch) -> None:
    X, y, g = stripes(64, rng)
    X[:, 0] = np.arange(64)  # the first cell of each row is its row number
    seen: list[np.ndarray] = []
    real = augment_mod.Augmenter.before_standardise

    def spy(self, x, rng):  # noqa: ANN001
        seen.append(np.asarray(x)[:, 0, 0].copy())
        return real(self, x, rng)

    monkeypatch.setattr(augment_mod.Augmenter, "before_standardise", spy)
    m = small(
        "cnn", epochs=3, augment="reverse,gain,noise,specaugment,mixup", augment_options={"reverse_p": 0.0}
    )
    m.fit(X, y, groups=g)
    used = set(np.concatenate(seen).astype(int).tolist())
    val_rows = set(np.flatnonzero(np.isin(g, m.val_groups_)).tolist())
    assert val_rows and used and not used & val_rows
    n_calls = len(seen)
    m.predict_proba(X)
    assert len(seen) == n_calls  # prediction never augments


def test_augmented_training_still_learns(rng: np.random.Generator) -> None:
    X, y, g = stripes(160, rng)
    Xt, yt, _ = stripes(80, rng)
    m = small("cnn", epochs=8, lr=3e-3, augment="crop,reverse,gain,noise,specaugment,mixup").fit(
        X, y, groups=g
    )
    assert float((m.predict(Xt) == yt).mean()) > 0.75


# ---- reproducibility, threads, global state ------------------------------------------------------------
def test_fixed_seed_reproduces_training_and_leaves_global_state_alone(rng: np.random.Generator) -> None:
    X, y, g = stripes(48, rng)
    torch.manual_seed(123)
    state = torch.get_rng_state()
    threads = torch.get_num_threads()
    kw = {"epochs": 3, "augment": "reverse,specaugment,mixup,crop"}
    a = small("cnn", random_state=5, **kw).fit(X, y, groups=g)
    b = small("cnn", random_state=5, **kw).fit(X, y, groups=g)
    c = small("cnn", random_state=6, **kw).fit(X, y, groups=g)
    assert a.history_ == b.history_
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    assert not np.array_equal(a.predict_proba(X), c.predict_proba(X))
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.get_num_threads() == threads


# ---- bundles ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["dnn", "cnn"])
def test_bundle_round_trip_gives_identical_predictions(kind: str, rng: np.random.Generator, tmp_path) -> None:
    X, y, g = stripes(48, rng)
    m = small(kind, epochs=2, augment="reverse").fit(X, y, groups=g)
    path = save_bundle(
        Bundle(model=m, kind=kind, labels=list(m.classes_), extractor=None), tmp_path / "b.zip"
    )
    back = load_bundle(path).model
    assert type(back) is type(m)
    assert back.get_params() == m.get_params()
    assert back.best_epoch_ == m.best_epoch_ and back.history_ == m.history_
    np.testing.assert_array_equal(back.predict_proba(X), m.predict_proba(X))
    cfg, tensors = m.bundle_state()
    assert cfg["architecture"]["type"] == ("dense" if kind == "dnn" else "conv2d")
    assert all(isinstance(v, np.ndarray) for v in tensors.values())


def test_from_bundle_state_refuses_foreign_or_mismatched_state(rng: np.random.Generator) -> None:
    X, y, g = stripes(32, rng)
    m = small("cnn", epochs=1).fit(X, y, groups=g)
    cfg, tensors = m.bundle_state()
    with pytest.raises(ModelError, match="not a DNNClassifier"):
        DNNClassifier.from_bundle_state(cfg, tensors)
    bad = dict(cfg, architecture=dict(cfg["architecture"], channels=[8, 32]))
    with pytest.raises(ModelError, match="do not fit the architecture"):
        CNNClassifier.from_bundle_state(bad, tensors)


# ---- input checks, registry, helpers -------------------------------------------------------------------
def test_input_checks(rng: np.random.Generator) -> None:
    X, y, g = stripes(16, rng)
    with pytest.raises(ModelError, match="needs frame_shape"):
        CNNClassifier(**FAST).fit(X, y)
    with pytest.raises(ModelError, match="does not match rows of 128"):
        CNNClassifier(frame_shape=(8, 8), **FAST).fit(X, y)
    with pytest.raises(ConfigError, match="unknown augmentation"):
        small("dnn", augment="reverse,warp").fit(X, y)
    with pytest.raises(ModelError, match="single class"):
        small("dnn").fit(X, np.full(16, "h"))
    m = DNNClassifier(hidden_units=(8,), epochs=1, **FAST).fit(X, y)  # rows as plain vectors
    assert m.frame_shape_ == (128, 1)
    with pytest.raises(ModelError, match="trained on"):
        m.predict_proba(X[:, :64])
    with pytest.raises(ModelError, match="not fitted"):
        small("cnn").predict_proba(X)


def test_registry_builds_the_neural_kinds() -> None:
    m = build_model("cnn", random_state=3, frame_shape=SHAPE, epochs=2)
    assert isinstance(m, CNNClassifier) and m.random_state == 3 and m.frame_shape == SHAPE
    assert (
        model_class("dnn") is DNNClassifier and model_class("musicnn-finetune") is MusicnnFinetuneClassifier
    )
    for kind in ("dnn", "cnn", "musicnn-finetune"):
        grid = search_grid(kind)
        assert grid and int(np.prod([len(v) for v in grid.values()])) <= 4
        assert set(grid) <= set(model_class(kind)().get_params())


def test_grouped_validation_split_keeps_tracks_whole() -> None:
    groups = np.repeat([f"t{i}" for i in range(20)], 3)
    y = np.repeat(np.arange(20) % 2, 3)
    tr, va = grouped_validation_split(y, groups, 0.2, np.random.default_rng(0))
    assert not set(groups[tr]) & set(groups[va])
    assert len(tr) + len(va) == 60
    assert len(set(groups[va])) == 4 and set(y[va]) == {0, 1}  # 20 % of each class's 10 tracks
    tr0, va0 = grouped_validation_split(y, groups, 0.0, np.random.default_rng(0))
    assert len(va0) == 0 and len(tr0) == 60
    # a class with one track keeps it for training
    tr1, va1 = grouped_validation_split(
        np.array([0, 0, 1, 1]), np.array(["a", "a", "b", "c"]), 0.5, np.random.default_rng(0)
    )
    assert set(va1.tolist()) <= {2, 3} and len(va1) == 1


def test_track_neighbours_follow_row_order() -> None:
    prev, nxt = track_neighbours(np.array(["a", "b", "a", "a", "c", "b"]))
    np.testing.assert_array_equal(prev, [-1, -1, 0, 2, -1, 1])
    np.testing.assert_array_equal(nxt, [2, 5, 3, -1, -1, -1])


def test_conv_pools_stop_at_one() -> None:
    assert conv_pools(8, 16, 4) == [(2, 2), (2, 2), (2, 2), (1, 2)]
    assert conv_pools(128, 130, 4) == [(2, 2)] * 4
    assert auto_input_pool(128, 130) == (2, 2) and auto_input_pool(20, 130) == (1, 2)
    assert auto_input_pool(*SHAPE) == (1, 1)


def test_cnn_input_pool_in_the_architecture(rng: np.random.Generator) -> None:
    X = rng.normal(size=(12, 64 * 8)).astype(np.float32)
    y = np.repeat(["a", "b"], 6)
    m = CNNClassifier(channels=(4, 4), frame_shape=(64, 8), epochs=1, **FAST).fit(X, y)
    assert m.arch_["input_pool"] == [2, 1] and m.arch_["pools"] == [[2, 2], [2, 2]]
    assert isinstance(m.net_.features[0], torch.nn.AvgPool2d)
    with pytest.raises(ConfigError, match="input_pool"):
        CNNClassifier(channels=(4,), frame_shape=(64, 8), input_pool=(2, 16), **FAST).fit(X, y)


def test_thread_count_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("GENREKIT_TORCH_THREADS", "1")
    assert _resolve_threads(None) == 1 and _resolve_threads(2) == 2
    monkeypatch.setenv("GENREKIT_TORCH_THREADS", "many")
    with pytest.raises(ConfigError, match="GENREKIT_TORCH_THREADS"):
        _resolve_threads(None)


def test_progress_bar_on_a_terminal(rng: np.random.Generator, monkeypatch) -> None:
    class FakeTTY(io.StringIO):
        def isatty(self) -> bool:
            return True

    fake = FakeTTY()
    monkeypatch.setattr(sys, "stderr", fake)
    X, y, g = stripes(32, rng)
    CNNClassifier(channels=(4,), frame_shape=SHAPE, epochs=2, n_threads=1, verbose=True).fit(X, y, groups=g)
    out = fake.getvalue()
    assert "epoch 2" in out and "val_acc" in out
    fake.truncate(0)
    CNNClassifier(channels=(4,), frame_shape=SHAPE, epochs=1, n_threads=1, verbose=False).fit(X, y, groups=g)
    assert fake.getvalue().strip("\x00") == ""


def test_history_plots_in_the_report(rng: np.random.Generator, tmp_path) -> None:
    from genrekit.render import plot_history

    X, y, g = stripes(32, rng)
    m = small("dnn", epochs=2).fit(X, y, groups=g)
    assert plot_history(m.history_, tmp_path / "h.png").stat().st_size > 1000


# ---- musicnn fine-tuning -----------------------------------------------------------------------------
@needs_musicnn
def test_musicnn_head_overfits_and_round_trips(rng: np.random.Generator, tmp_path) -> None:
    X, y = mel_patches_data(16, rng)
    m = MusicnnFinetuneClassifier(epochs=40, lr=1e-2, dropout=0.0, val_size=0.0, patience=None, **FAST)
    m.fit(X, y)
    assert m.frame_shape_ == (96, 24)
    assert m.history_["loss"][-1] < 0.1 * m.history_["loss"][0]
    assert not m.backbone_trained_
    cfg, tensors = m.bundle_state()
    assert "pretrained" in cfg["backbone"] and not any(k.startswith("backbone.") for k in tensors)
    path = save_bundle(
        Bundle(model=m, kind="musicnn-finetune", labels=list(m.classes_), extractor=None), tmp_path / "b"
    )
    back = load_bundle(path).model
    np.testing.assert_array_equal(back.predict_proba(X), m.predict_proba(X))


@pytest.mark.slow
@needs_musicnn
def test_musicnn_unfreezing_trains_the_backbone(rng: np.random.Generator) -> None:
    X, y = mel_patches_data(24, rng, frames=16)
    groups = np.repeat(np.arange(12), 2)
    m = MusicnnFinetuneClassifier(
        epochs=3,
        unfreeze_epochs=2,
        lr=1e-3,
        backbone_lr_scale=0.1,
        augment="reverse,mixup",
        augment_views=1,
        val_size=0.34,
        patience=None,
        **FAST,
    ).fit(X, y, groups=groups)
    assert len(m.history_["loss"]) == 5 and m.stage1_epochs_ == 3
    assert m.history_["lr"][-1] == pytest.approx(1e-3)
    if m.backbone_trained_:  # stage 2 lowered the validation loss: the backbone moved
        from genrekit.features.musicnn.network import load_musicnn

        pre = load_musicnn("MSD_musicnn").state_dict()
        now = m.net_.backbone.state_dict()
        assert any(not torch.equal(pre[k], now[k]) for k in pre if k.endswith("weight"))
        assert m.best_epoch_ > 3
        cfg, tensors = m.bundle_state()
        assert any(k.startswith("backbone.") for k in tensors)
        back = MusicnnFinetuneClassifier.from_bundle_state(cfg, tensors)
        np.testing.assert_array_equal(back.predict_proba(X), m.predict_proba(X))
    else:
        assert m.best_epoch_ <= 3
    assert all(not p.requires_grad for p in m.net_.parameters())


@needs_musicnn
def test_musicnn_finetune_rejects_other_features(rng: np.random.Generator) -> None:
    X, y, _ = stripes(16, rng)
    with pytest.raises(ModelError, match="musicnn-mel"):
        MusicnnFinetuneClassifier(**FAST).fit(X, y)


# ---- musicnn-mel features ------------------------------------------------------------------------------
def test_musicnn_mel_extractor(tone_440: tuple[np.ndarray, int]) -> None:
    from genrekit.features.musicnn.preprocess import mel_patches
    from genrekit.features.registry import extractor_from_dict, get_extractor

    y, sr = tone_440
    y = np.concatenate([y, y])  # 6 s: two full patches
    ex = get_extractor("musicnn-mel")
    assert ex.frame_shape == (96, 187) and ex.dim == 96 * 187 and ex.sr == 16000
    feats = ex(y, sr)
    assert feats.shape == (2, 96 * 187)
    from genrekit.audio import resample

    ref = mel_patches(resample(y, sr, 16000))
    np.testing.assert_allclose(feats.reshape(2, 96, 187), ref.transpose(0, 2, 1), rtol=1e-6)
    times = ex.segment_times(len(y), sr)
    assert times.shape == (2, 2) and times[0, 0] == 0.0 and times[1, 0] == pytest.approx(187 * 256 / 16000)
    assert np.all(times[:, 1] <= len(y) / sr)
    assert ex.names[0] == "mel00_t000" and ex.names[-1] == "mel95_t186"
    back = extractor_from_dict(ex.to_dict())
    assert back.config == ex.config
    short = get_extractor("musicnn-mel", segment_s=1.0, hop_s=0.5)
    assert short.frame_shape == (96, 62)
    assert len(short(y, sr)) == len(short.segment_times(len(y), sr))
    with pytest.raises(ConfigError, match="16000 Hz"):
        get_extractor("musicnn-mel", sr=22050)


# ---- through the training workflow ----------------------------------------------------------------------
def test_fit_and_score_through_training(rng: np.random.Generator) -> None:
    from genrekit.training import FeatureSet, fit_model, score_model

    X, y, g = stripes(96, rng)
    fs = FeatureSet(
        X, y, g, np.full(len(y), None, dtype=object), [f"c{i}" for i in range(128)], frame_shape=SHAPE
    )
    fitted = fit_model("cnn", fs, params={"channels": (8, 16), "epochs": 4, "lr": 1e-2, **FAST}, seed=1)
    m = fitted.model
    assert m.frame_shape_ == SHAPE and m.random_state == 1
    assert m.val_groups_ and set(m.val_groups_) <= set(g)  # the grouped split got the track ids
    run = score_model("cnn", m, fs)
    assert run.extra["history"]["loss"] == m.history_["loss"]
    assert run.result.track.accuracy > 0.8


@pytest.mark.slow
def test_train_bundle_and_classify_audio(tmp_path) -> None:
    from genrekit.predict import load_model
    from genrekit.synth import write_corpus
    from genrekit.training import train

    paths = write_corpus(tmp_path / "corpus", per_genre=4, duration_s=6.0, genres=["classical", "metal"])
    res = train(
        tmp_path / "corpus",
        features="logmel",
        model="cnn",
        params={"channels": (4, 8), "epochs": 3, **FAST},
        test_size=0.0,
        out=tmp_path / "bundle",
    )
    meta = (tmp_path / "bundle" / "bundle.json").read_text()
    assert '"conv2d"' in meta and "model.safetensors" in meta
    clf = load_model(tmp_path / "bundle")
    pred = clf.predict(paths[0])
    assert pred.genre in ("classical", "metal") and len(pred.segments) == 2
    np.testing.assert_allclose(
        clf.segment_proba(*_load(paths[0]))[0], res.classifier.segment_proba(*_load(paths[0]))[0]
    )


def _load(path) -> tuple[np.ndarray, int]:  # noqa: ANN001
    from genrekit.audio import load

    return load(path)
