"""Constants and frozen configuration dataclasses: the one source of truth for audio parameters."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from genrekit.errors import ConfigError, unknown_name


def genrekit_version() -> str:
    """The installed genrekit version (``"0+unknown"`` when running from a source tree without install)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("genrekit")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
        return "0+unknown"

#: Sample rate of the hand-crafted and spectrogram features (the GTZAN/Kaggle convention).
SAMPLE_RATE = 22050
#: Sample rate of the musicnn models.
MUSICNN_SAMPLE_RATE = 16000
#: Default segment length and hop for segment-level features and predictions.
SEGMENT_S = 3.0
N_FFT = 2048
HOP_LENGTH = 512
N_MELS = 128
N_MFCC = 20
#: Longest audio `load` accepts unless told otherwise (one hour).
MAX_DURATION_S = 3600.0
#: The most genres (or tags) a ``top_k`` may ask for: the HTTP API's bound, and the CLI's ``--top-k``.
MAX_TOP_K = 50
#: Accepted input sample rates and channel counts.
MIN_SAMPLE_RATE = 1000
MAX_SAMPLE_RATE = 384000
MAX_CHANNELS = 64
#: soxr quality used for every resampling in the library.
RESAMPLE_QUALITY = "HQ"

#: The ten GTZAN genres, in the dataset's order.
GTZAN_GENRES: tuple[str, ...] = (
    "blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock",
)

#: File extensions recognised as audio, decoded by soundfile (libsndfile) directly.
SOUNDFILE_EXTENSIONS: tuple[str, ...] = (
    ".wav", ".wave", ".au", ".snd", ".aiff", ".aif", ".aifc", ".flac", ".ogg", ".oga", ".opus", ".mp3",
)
#: Extensions decoded through ffmpeg when it is installed.
FFMPEG_EXTENSIONS: tuple[str, ...] = (".m4a", ".aac", ".mp4", ".wma", ".webm", ".mka")
AUDIO_EXTENSIONS: tuple[str, ...] = SOUNDFILE_EXTENSIONS + FFMPEG_EXTENSIONS


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """Return a JSON-ready dict of a frozen dataclass config (tuples become lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(cfg).items()}


def config_from_dict(cls: type, d: dict[str, Any]) -> Any:
    """Rebuild a frozen dataclass config from a dict, refusing unknown keys.

    Raises
    ------
    ConfigError
        When ``d`` holds a key that ``cls`` does not have.
    """
    names = {f.name: f for f in fields(cls)}
    unknown = sorted(set(d) - set(names))
    if unknown:
        raise ConfigError(f"{cls.__name__} has no option(s) {unknown}; valid: {sorted(names)}")
    kwargs = {}
    for k, v in d.items():
        kwargs[k] = tuple(v) if isinstance(v, list) else v
    return cls(**kwargs)


# -------------------------------------------------------------------------------------- training configs
#: Segment-to-track aggregation rules (:mod:`genrekit.models.aggregate`).
AGGREGATIONS: tuple[str, ...] = ("mean_log", "mean_prob", "vote")
#: The model families :func:`genrekit.training.compare` and :func:`genrekit.tabular.compare_table` fit.
AUDIO_MODELS: tuple[str, ...] = ("knn", "logreg", "rf", "svm", "xgboost", "mlp")
TABLE_MODELS: tuple[str, ...] = ("logreg", "knn", "rf", "svm", "xgboost", "mlp")


_WORDS = {bool: "true or false", int: "an integer", float: "a number", str: "a string", dict: "an object",
          tuple: "a list", list: "a list", type(None): "null"}  # fmt: skip


def _kind(v: Any) -> str:
    return _WORDS.get(type(v), type(v).__name__)


@dataclass(frozen=True)
class _Recipe:
    """What the training configs share: model and split fields, their rules, ``replace``, ``to_dict``.

    Every field is a JSON value (strings, numbers, booleans, None, tuples, dicts), so a config is stored
    whole in a bundle and rebuilt with :meth:`from_dict`, refusing keys it does not have.
    """

    model: str = "svm"
    params: dict[str, Any] = field(default_factory=dict)
    models: tuple[str, ...] = AUDIO_MODELS
    model_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    search: bool = False
    cv_folds: int = 3
    split_file: str | None = None
    test_size: float = 0.2
    folds: int | None = None
    seed: int = 0

    def _want(self, name: str, *types: type, optional: bool = False) -> Any:
        v = getattr(self, name)
        if v is None and optional:
            return v
        if isinstance(v, list):  # from JSON, or a caller's list: stored as a tuple (frozen, hashable rows)
            object.__setattr__(self, name, v := tuple(v))
        if isinstance(v, bool) and bool not in types or not isinstance(v, types):
            wanted = " or ".join(_WORDS[t] for t in types) + (" or null" if optional else "")
            raise ConfigError(f"{type(self).__name__}.{name} must be {wanted}, got {v!r:.60}")
        if isinstance(v, dict):
            object.__setattr__(self, name, v := dict(v))  # the caller's dict is not shared
        return v

    def _choice(self, name: str, valid: tuple[str, ...]) -> None:
        if self._want(name, str) not in valid:
            raise unknown_name(name, getattr(self, name), valid)

    def _at_least(self, name: str, lo: int, *, optional: bool = False) -> None:
        v = self._want(name, int, optional=optional)
        if v is not None and v < lo:
            raise ConfigError(f"{name} must be >= {lo}, got {v}")

    def __post_init__(self) -> None:
        self._want("model", str)
        models = self._want("models", tuple)
        if not models or not all(isinstance(m, str) for m in models):
            raise ConfigError(f"models must list model kinds, got {models!r:.60}")
        self._want("params", dict)
        for kind, p in self._want("model_params", dict).items():
            if not isinstance(p, dict):
                raise ConfigError(f"model_params[{kind!r}] must be an object of parameters, got {p!r:.60}")
        self._want("search", bool)
        self._at_least("cv_folds", 2)
        if isinstance(self.split_file, Path):
            object.__setattr__(self, "split_file", str(self.split_file))
        self._want("split_file", str, optional=True)
        test_size = self._want("test_size", int, float)
        if not 0 <= test_size < 1:
            raise ConfigError(f"test_size must be in [0, 1), got {test_size}")
        self._at_least("folds", 2, optional=True)
        self._want("seed", int)

    def split_options(self) -> dict[str, Any]:
        """The keywords of :func:`genrekit.data.splits.make_split` this config fixes (its held-out split)."""
        return {"split_file": self.split_file, "test_size": self.test_size, "seed": self.seed}

    @classmethod
    def build(cls, config: Any = None, /, **overrides: Any) -> Any:
        """``config`` (the defaults when None) with ``overrides``: how the Python API builds a config."""
        if config is not None and not isinstance(config, cls):
            raise ConfigError(f"config must be a {cls.__name__}, got {type(config).__name__}")
        base = config if config is not None else cls()
        return base.replace(**overrides) if overrides else base

    def replace(self, **changes: Any) -> Any:
        """A copy with ``changes``, validated again (an unknown name: ConfigError listing the valid ones)."""
        return config_from_dict(type(self), {**self.to_dict(), **changes})

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (tuples become lists); :meth:`from_dict` rebuilds an equal config."""
        return config_to_dict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Any:
        """Rebuild a config from :meth:`to_dict` output, refusing keys it does not have."""
        if not isinstance(d, dict):
            raise ConfigError(f"{cls.__name__} must be built from an object, got {_kind(d)}")
        return config_from_dict(cls, d)


@dataclass(frozen=True)
class TrainConfig(_Recipe):
    """Every choice of a training run on audio: what :func:`genrekit.train`, ``compare`` and ``evaluate`` do.

    Built once (by the CLI from its options, or by the Python API from keyword overrides), taken by the
    workflows, and stored whole in the bundle (``bundle.json`` ``training``). Where the results go and
    how fast they come (``out``, ``report``, ``workers``, ``cache_dir``, ``progress``) are not training
    choices: the workflows take them as keywords and the bundle does not record them.

    Attributes
    ----------
    features, feature_options : str, dict
        Feature extractor name and its options (``{"n_mels": 96}``).
    model, params : str, dict
        The model kind :func:`~genrekit.training.train` fits and its parameters (``{"C": 0.1}``);
        ``compare`` gives ``params`` to every model.
    models, model_params : tuple of str, dict
        The kinds ``compare`` fits, and per-kind parameters over ``params`` (``{"svm": {"C": 3}}``).
    search, cv_folds : bool, int
        Grid-search each model with grouped, stratified ``cv_folds``-fold CV on the training side.
    split_file, split_missing : str or None, {"error", "ignore"}
        Split lists instead of a random grouped split, and what to do with entries naming no track.
    test_size : float
        Held-out share of tracks, in [0, 1) (0: train on everything).
    folds : int or None
        ``compare`` / ``evaluate``: K grouped folds instead of one split.
    aggregation : {"mean_log", "mean_prob", "vote"}
        Segment-to-track rule.
    calibrate : bool
        Fit a temperature on the validation tracks.
    augment, augment_copies : str, tuple of str or None; int
        Degradations added to training files (``"noise,codec"``), and copies per file.
    seed : int
    ablate, separability : bool
        ``compare``: feature-group ablation; genre-pair separability.
    importance, importance_repeats : bool, int
        ``evaluate``: permutation importance of the named features, and its repeats.
    """

    features: str = "handcrafted"
    feature_options: dict[str, Any] = field(default_factory=dict)
    split_missing: str = "error"
    aggregation: str = "mean_log"
    calibrate: bool = False
    augment: str | tuple[str, ...] | None = None
    augment_copies: int = 1
    ablate: bool = False
    separability: bool = False
    importance: bool = False
    importance_repeats: int = 5

    def __post_init__(self) -> None:
        super().__post_init__()
        self._want("features", str)
        self._want("feature_options", dict)
        self._choice("split_missing", ("error", "ignore"))
        self._choice("aggregation", AGGREGATIONS)
        for name in ("calibrate", "ablate", "separability", "importance"):
            self._want(name, bool)
        self._want("augment", str, tuple, optional=True)
        self._at_least("augment_copies", 1)
        self._at_least("importance_repeats", 1)
        if self.importance and self.folds:
            raise ConfigError(
                "importance is measured on the bundle as trained; it cannot be combined with folds"
            )

    def split_options(self) -> dict[str, Any]:
        return {**super().split_options(), "split_missing": self.split_missing}


@dataclass(frozen=True)
class TableTrainConfig(_Recipe):
    """Every choice of a training run on a feature table (``tabular.train_table`` and ``compare_table``).

    Attributes
    ----------
    label : str or None
        The table's label column (required unless the data is an already cleaned TabularData).
    features, exclude, id_column, artist_column, label_map, duplicates, min_label_count
        How the table is read and cleaned: the options of :func:`genrekit.data.tables.load_table`
        (``features``: the feature columns, ``"spotify"``, ``"auto"`` or None).
    extractor, extractor_options : str or None, dict
        ``"handcrafted"`` for a table with exactly that audio extractor's columns (the Kaggle GTZAN
        table): the bundle stores the extractor, so it classifies audio too.
    model, params, models, model_params, search, cv_folds, split_file, test_size, folds, seed
        As in :class:`TrainConfig`; ``params`` may hold ``transform`` (``standard``, ``power``, ``none``).
    grids : dict
        Per model kind, the search grid to use instead of the default one (may hold ``transform``).
    group_by : {"auto", "track", "artist"}
        What the split and the search folds group by.
    """

    label: str | None = None
    features: str | tuple[str, ...] | None = None
    exclude: tuple[str, ...] = ()
    id_column: str | None = "auto"
    artist_column: str | None = "auto"
    label_map: str | dict[str, Any] | None = None
    duplicates: str = "majority"
    min_label_count: int = 2
    extractor: str | None = None
    extractor_options: dict[str, Any] = field(default_factory=dict)
    model: str = "xgboost"  # (the shared fields with the defaults of tables)
    models: tuple[str, ...] = TABLE_MODELS
    grids: dict[str, dict[str, Any]] = field(default_factory=dict)
    group_by: str = "auto"

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("label", "id_column", "artist_column", "extractor"):
            self._want(name, str, optional=True)
        self._want("features", str, tuple, optional=True)
        self._want("exclude", tuple)
        if isinstance(self.label_map, Path):
            object.__setattr__(self, "label_map", str(self.label_map))
        self._want("label_map", str, dict, optional=True)
        self._want("duplicates", str)  # its rule (majority, drop) is load_table's, which names the table
        self._want("min_label_count", int)
        self._want("extractor_options", dict)
        for kind, g in self._want("grids", dict).items():
            if not isinstance(g, dict):
                raise ConfigError(f"grids[{kind!r}] must be an object {{parameter: [values]}}, got {g!r:.60}")
        self._choice("group_by", ("auto", "track", "artist"))
        if self.folds and self.split_file is not None:
            raise ConfigError("give either folds (grouped cross-validation) or split_file, not both")

    def split_options(self) -> dict[str, Any]:
        return {**super().split_options(), "group_by": self.group_by}

    def load_options(self) -> dict[str, Any]:
        """The keywords of :func:`genrekit.data.tables.load_table` (all but ``label``)."""
        names = ("features", "exclude", "id_column", "artist_column", "label_map", "duplicates",
                 "min_label_count")  # fmt: skip
        return {n: getattr(self, n) for n in names}


# ---------------------------------------------------------------------------------------- the service
#: The environment variable of each :class:`ServiceLimits` field: how ``genrekit serve --workers N`` hands
#: its limits to the worker processes (``genrekit.service.create_app_from_env`` reads them).
SERVICE_LIMITS_ENV: dict[str, str] = {
    "max_upload_mb": "GENREKIT_MAX_UPLOAD_MB",
    "max_in_flight": "GENREKIT_MAX_IN_FLIGHT",
    "max_queue": "GENREKIT_MAX_QUEUE",
    "max_duration_s": "GENREKIT_MAX_DURATION_S",
}


def _positive(value: Any, *, integer: bool = False, least: float = 0.0, inclusive: bool = False) -> bool:
    """A finite number above ``least`` (at least it, when ``inclusive``); an ``int`` when ``integer``."""
    if isinstance(value, bool) or not isinstance(value, int if integer else int | float):
        return False
    return math.isfinite(value) and (value >= least if inclusive else value > least)


@dataclass(frozen=True)
class ServiceLimits:
    """What each worker of the HTTP service accepts, checked when made.

    Attributes
    ----------
    max_upload_mb : float
        Cap on a request body in MB (2**20 bytes); larger bodies get 413.
    max_in_flight : int
        Requests decoded/classified at once (size of the inference thread pool).
    max_queue : int
        Requests allowed to wait for a slot; beyond that the answer is 503 with ``Retry-After``.
    max_duration_s : float or None
        Longest audio classified whole (seconds, from the header, before decoding); longer uploads get
        400 unless the request asks for ``crop_s``. ``None``: the library's own limit (one hour).

    Raises
    ------
    ConfigError
        A limit out of range.
    """

    max_upload_mb: float = 50.0
    max_in_flight: int = 2
    max_queue: int = 64
    max_duration_s: float | None = 1800.0

    def __post_init__(self) -> None:
        if not _positive(self.max_upload_mb):
            raise ConfigError(f"max_upload_mb must be a positive number, got {self.max_upload_mb!r}")
        if not _positive(self.max_in_flight, integer=True, least=1, inclusive=True):
            raise ConfigError(f"max_in_flight must be an integer >= 1, got {self.max_in_flight!r}")
        if not _positive(self.max_queue, integer=True, inclusive=True):
            raise ConfigError(f"max_queue must be an integer >= 0, got {self.max_queue!r}")
        if self.max_duration_s is not None and not _positive(self.max_duration_s):
            raise ConfigError(
                f"max_duration_s must be a positive number or None, got {self.max_duration_s!r}"
            )

    def environ(self) -> dict[str, str]:
        """The limits as the environment variables :meth:`from_environ` reads (None: left unset)."""
        return {SERVICE_LIMITS_ENV[k]: str(v) for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> ServiceLimits:
        """The limits set in ``environ`` (:data:`SERVICE_LIMITS_ENV`), the defaults for the rest.

        Raises
        ------
        ConfigError
            A variable that is not a number of the field's kind, or out of range.
        """
        values: dict[str, Any] = {}
        for f in fields(cls):
            name = SERVICE_LIMITS_ENV[f.name]
            raw = environ.get(name, "").strip()
            if not raw:
                continue
            try:
                values[f.name] = int(raw) if isinstance(f.default, int) else float(raw)
            except ValueError:
                raise ConfigError(f"environment variable {name}={raw!r} is not a valid number") from None
        return cls(**values)
