"""TrainConfig / TableTrainConfig: validation, replace, the dict round trip, one config from CLI and API."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from genrekit.bundle import Bundle, load_bundle, save_bundle
from genrekit.cli import app
from genrekit.config import TableTrainConfig, TrainConfig
from genrekit.errors import ConfigError, ModelError
from genrekit.models.classical import make_model

runner = CliRunner()
HUGE = "x" * (5 << 20)  # a config value past bundle.json's 4 MiB


# ------------------------------------------------------------------------------------------ validation
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"test_size": 1.0}, r"test_size must be in \[0, 1\), got 1.0"),
        ({"test_size": "0.2"}, r"TrainConfig.test_size must be an integer or a number, got '0.2'"),
        ({"seed": True}, "TrainConfig.seed must be an integer, got True"),
        ({"folds": 1}, "folds must be >= 2, got 1"),
        ({"cv_folds": 0}, "cv_folds must be >= 2, got 0"),
        ({"augment_copies": 0}, "augment_copies must be >= 1, got 0"),
        ({"aggregation": "median"}, "unknown aggregation 'median'; valid aggregations: mean_log, mean_prob"),
        ({"split_missing": "skip"}, "unknown split_missing 'skip'; valid split_missings: error, ignore"),
        ({"models": []}, r"models must list model kinds, got \(\)"),
        ({"model_params": {"svm": 3}}, r"model_params\['svm'\] must be an object of parameters, got 3"),
        ({"feature_options": "n_mels=96"}, "TrainConfig.feature_options must be an object, got 'n_mels=96'"),
        ({"importance": True, "folds": 3}, "importance is measured on the bundle as trained"),
        ({"n_mels": 96}, r"TrainConfig has no option\(s\) \['n_mels'\]; valid: \['ablate', "),
    ],
)
def test_a_bad_choice_is_one_config_error(change, message):
    with pytest.raises(ConfigError, match=message) as info:
        TrainConfig().replace(**change)
    assert "\n" not in str(info.value)


def test_table_config_rules():
    with pytest.raises(ConfigError, match="give either folds .* or split_file, not both"):
        TableTrainConfig(folds=3, split_file="lists/")
    with pytest.raises(ConfigError, match="unknown group_by 'album'; valid group_bys: artist, auto, track"):
        TableTrainConfig(group_by="album")
    with pytest.raises(ConfigError, match=r"grids\['svm'\] must be an object"):
        TableTrainConfig(grids={"svm": [1, 2]})
    cfg = TableTrainConfig(label="genre", exclude=["year"], label_map=Path("map.csv"), features="spotify")
    assert cfg.exclude == ("year",) and cfg.label_map == "map.csv"
    assert cfg.load_options() == {
        "features": "spotify", "exclude": ("year",), "id_column": "auto", "artist_column": "auto",
        "label_map": "map.csv", "duplicates": "majority", "min_label_count": 2,
    }  # fmt: skip


def test_frozen_replace_and_dict_round_trip():
    cfg = TrainConfig(
        model="logreg", params={"C": 0.5, "hidden": [64, 32]}, models=["knn", "svm"],
        split_file=Path("a/b.txt"), augment=["noise", "codec"], model_params={"svm": {"C": 3}}, seed=7,
    )  # fmt: skip
    assert cfg.models == ("knn", "svm") and cfg.augment == ("noise", "codec") and cfg.split_file == "a/b.txt"
    with pytest.raises(AttributeError):
        cfg.seed = 1  # type: ignore[misc]
    d = cfg.to_dict()
    assert json.loads(json.dumps(d)) == d  # JSON values only
    assert TrainConfig.from_dict(json.loads(json.dumps(d))) == cfg
    other = cfg.replace(seed=8)
    assert other.seed == 8 and cfg.seed == 7 and other.replace(seed=7) == cfg
    params = {"C": 1.0}
    own = TrainConfig(params=params)
    params["C"] = 2.0  # the caller's dict is copied, not shared
    assert own.params == {"C": 1.0}
    assert TrainConfig.build(None, model="knn") == TrainConfig(model="knn")
    assert TrainConfig.build(cfg) is cfg
    with pytest.raises(ConfigError, match="config must be a TrainConfig, got TableTrainConfig"):
        TrainConfig.build(TableTrainConfig())
    t = TableTrainConfig(label="g", grids={"svm": {"C": [1, 10]}}, folds=4)
    assert TableTrainConfig.from_dict(json.loads(json.dumps(t.to_dict()))) == t


# ------------------------------------------------------------------------------------------- bundles
def _bundle(rng, training):
    X = rng.normal(size=(60, 3)).astype(np.float32)
    y = np.where(X[:, 0] > 0, "rock", "jazz")
    model = make_model("logreg").fit(X, y)
    return Bundle(model=model, kind="logreg", labels=["jazz", "rock"], extractor=None,
                  feature_names=["a", "b", "c"], training=training)  # fmt: skip


def test_a_bundle_stores_its_config_whole(tmp_path, rng):
    cfg = TrainConfig(model="logreg", params={"C": 0.5}, augment="noise", seed=3, test_size=0.25)
    path = save_bundle(_bundle(rng, cfg), tmp_path / "b")
    meta = json.loads((path / "bundle.json").read_text())
    assert meta["training"] == {"config": "TrainConfig", "options": cfg.to_dict()}
    assert load_bundle(path).training == cfg
    table = TableTrainConfig(label="genre", model="logreg", grids={"logreg": {"C": [0.1, 1]}})
    z = save_bundle(_bundle(rng, table), tmp_path / "t.zip")
    assert load_bundle(z).training == table


def _rewrite(path, change):
    meta = json.loads((path / "bundle.json").read_text())
    change(meta)
    (path / "bundle.json").write_text(json.dumps(meta))


def test_old_bundles_load_and_bad_configs_are_refused(tmp_path, rng):
    path = save_bundle(_bundle(rng, TrainConfig()), tmp_path / "b")
    _rewrite(path, lambda m: m.pop("training"))  # written before configs were stored
    assert load_bundle(path).training is None
    cases = [
        (lambda m: m.update(training={"config": "TrainConfig", "options": {"n_mels": 96}}),
         r"training: TrainConfig has no option\(s\) \['n_mels'\]"),
        (lambda m: m.update(training={"config": "TrainConfig", "options": {"test_size": 7}}),
         r"training: test_size must be in \[0, 1\), got 7"),
        (lambda m: m.update(training={"config": "os.system", "options": {}}),
         "training.config = \"os.system\" is not one of"),
        (lambda m: m.update(training={"config": "TrainConfig", "options": [1, 2]}),
         "training.options has the wrong type"),
        (lambda m: m.update(training={"config": "TrainConfig", "options": {}, "code": "x"}),
         "training.code is not a known field"),
        (lambda m: m.update(training={"config": "TrainConfig", "options": {"params": {"p": HUGE}}}),
         "bundle.json is larger than 4 MiB"),
    ]  # fmt: skip
    for change, message in cases:
        fresh = save_bundle(_bundle(rng, TrainConfig()), tmp_path / "c")
        _rewrite(fresh, change)
        with pytest.raises(ModelError, match=message):
            load_bundle(fresh)


# ----------------------------------------------------------------------------------- one config, two ways
def _captured(monkeypatch, module, name):
    seen = {}

    def fake(data, config, **run):
        seen.update(config=config, run=run)
        raise SystemExit(0)

    monkeypatch.setattr(module, name, fake)
    return seen


def test_cli_and_api_build_the_same_config(monkeypatch, tmp_path):
    from genrekit import tabular, training

    seen = _captured(monkeypatch, training, "train")
    runner.invoke(app, ["train", str(tmp_path), "--out", str(tmp_path / "m"), "--model", "logreg",
                        "-p", "C=0.5", "-o", "n_mfcc=13", "--test-size", "0.25", "--split-missing", "ignore",
                        "--augment", "noise", "--seed", "3", "--workers", "2"])  # fmt: skip
    api, _ = training.resolve_config(
        model="logreg", params={"C": 0.5}, features="handcrafted", feature_options={"n_mfcc": 13},
        test_size=0.25, split_missing="ignore", augment="noise", seed=3,
    )  # fmt: skip
    assert seen["config"] == api and seen["run"]["workers"] == 2 and seen["run"]["out"] == tmp_path / "m"

    seen = _captured(monkeypatch, training, "compare")
    runner.invoke(app, ["compare", str(tmp_path), "--report", str(tmp_path / "r"), "--models", "knn,svm",
                        "-p", "random_state=1", "-p", "svm:C=3", "--folds", "3", "--ablate"])  # fmt: skip
    assert seen["config"] == TrainConfig(
        models=("knn", "svm"), model_params={"knn": {"random_state": 1}, "svm": {"random_state": 1, "C": 3}},
        folds=3, ablate=True,
    )  # fmt: skip

    seen = _captured(monkeypatch, tabular, "train_table")
    runner.invoke(app, ["tabular", "train", "t.csv", "--label", "genre", "--out", str(tmp_path / "m"),
                        "--model", "logreg", "-p", "C=0.1", "--grid", '{"C": [1, 10]}',
                        "--exclude", "year,key", "--id-column", "none", "--group-by", "track",
                        "--test-size", "0"])  # fmt: skip
    api = tabular.resolve_table_config(
        label="genre", model="logreg", params={"C": 0.1}, grid={"C": [1, 10]}, exclude=["year", "key"],
        id_column=None, group_by="track", test_size=0,
    )  # fmt: skip
    assert seen["config"] == api and api.grids == {"logreg": {"C": [1, 10]}}


def test_split_options_are_the_make_split_keywords_each_config_fixes():
    from inspect import signature

    from genrekit.config import TableTrainConfig, TrainConfig
    from genrekit.data.splits import make_split

    audio = TrainConfig(split_file="lists/", test_size=0.3, seed=4, split_missing="ignore").split_options()
    assert audio == {"split_file": "lists/", "test_size": 0.3, "seed": 4, "split_missing": "ignore"}
    table = TableTrainConfig(test_size=0.25, seed=2, group_by="artist").split_options()
    assert table == {"split_file": None, "test_size": 0.25, "seed": 2, "group_by": "artist"}
    assert set(audio) | set(table) <= set(signature(make_split).parameters)


def test_service_limits_check_and_round_trip_through_the_environment():
    """One declaration of the service limits: checked when made, the same after the workers' environment."""
    from genrekit.config import SERVICE_LIMITS_ENV, ServiceLimits

    limits = ServiceLimits(max_upload_mb=2.5, max_in_flight=3, max_queue=0, max_duration_s=60.0)
    env = limits.environ()
    assert env == {
        "GENREKIT_MAX_UPLOAD_MB": "2.5",
        "GENREKIT_MAX_IN_FLIGHT": "3",
        "GENREKIT_MAX_QUEUE": "0",
        "GENREKIT_MAX_DURATION_S": "60.0",
    }
    assert set(env) == set(SERVICE_LIMITS_ENV.values())
    assert ServiceLimits.from_environ(env) == limits
    assert ServiceLimits.from_environ({"GENREKIT_MAX_QUEUE": " "}) == ServiceLimits()
    assert ServiceLimits(max_duration_s=None).environ().get("GENREKIT_MAX_DURATION_S") is None
    for bad in (
        {"max_upload_mb": 0},
        {"max_upload_mb": float("nan")},
        {"max_in_flight": 0},
        {"max_in_flight": 1.5},
        {"max_in_flight": True},
        {"max_queue": -1},
        {"max_duration_s": float("inf")},
    ):
        name = next(iter(bad))
        with pytest.raises(ConfigError, match=name):
            ServiceLimits(**bad)
    with pytest.raises(ConfigError, match="GENREKIT_MAX_IN_FLIGHT='three' is not a valid number"):
        ServiceLimits.from_environ({"GENREKIT_MAX_IN_FLIGHT": "three"})
    with pytest.raises(ConfigError, match="max_queue must be an integer >= 0"):
        ServiceLimits.from_environ({"GENREKIT_MAX_QUEUE": "-3"})
