"""Model bundles: a directory (or a zip of one) with ``bundle.json`` and weights that load without code.

Layout::

    bundle.json        format, versions, labels, feature extractor, aggregation, model kind/params,
                       training metrics, training-data fingerprint, digests of the weight files
    model.skops        scikit-learn models (skops, loaded with an explicit trusted-type allow-list)
    model.safetensors  torch models (tensors only; the network is rebuilt from bundle.json)

Loading never unpickles: a tampered weight file fails its digest, a foreign or untrusted one fails
with :class:`~genrekit.errors.ModelError` before anything in it runs.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from genrekit.bundle_schema import (
    MAX_META_BYTES,
    bundle_error,
    check_depth,
    decode_meta,
    parse_meta,
    read_meta_text,
    validate_meta,
)
from genrekit.config import TableTrainConfig, TrainConfig, genrekit_version
from genrekit.errors import GenreKitError, ModelError
from genrekit.files import to_jsonable

FORMAT = "genrekit-bundle"
FORMAT_VERSION = 1
#: The weight files a bundle may name (and the only zip members unpacked besides bundle.json).
WEIGHT_FILES: tuple[str, ...] = ("model.skops", "model.safetensors")

#: Every type a ``model.skops`` written by genrekit holds, found by saving each model family it builds
#: (knn, logreg, rf, svm, xgboost with and without PCA, mlp; two and three classes; the search grids'
#: variants): see ``tests/test_bundle_security.py``. Exact names, no prefixes: no function, method or
#: other class is loaded from a bundle. ``FunctionTransformer`` is absent on purpose (genrekit never
#: saves one).
SKOPS_ALLOWED_TYPES: frozenset[str] = frozenset(
    {
        # containers and primitives
        "builtins.dict", "builtins.list", "builtins.tuple", "builtins.str", "builtins.int",
        "builtins.float", "builtins.bool", "builtins.NoneType",
        # numpy arrays of plain dtypes and the MLP's random state
        "numpy.ndarray", "numpy.float32", "numpy.float64", "numpy.int32", "numpy.int64", "numpy.intp",
        "numpy.uint8", "numpy.bool_", "numpy.random.mtrand.RandomState",
        # the pipelines genrekit builds (genrekit.models.classical.make_model)
        "sklearn.pipeline.Pipeline",
        "sklearn.preprocessing._data.StandardScaler",
        "sklearn.preprocessing._data.PowerTransformer",
        "sklearn.preprocessing._label.LabelBinarizer",
        "sklearn.decomposition._pca.PCA",
        "sklearn.linear_model._logistic.LogisticRegression",
        "sklearn.neighbors._classification.KNeighborsClassifier",
        "sklearn.neighbors._kd_tree.KDTree",
        "sklearn.metrics._dist_metrics.EuclideanDistance64",
        "sklearn.ensemble._forest.RandomForestClassifier",
        "sklearn.tree._classes.DecisionTreeClassifier",
        "sklearn.tree._tree.Tree",
        "sklearn.svm._classes.SVC",
        "sklearn.calibration.CalibratedClassifierCV",
        "sklearn.calibration._CalibratedClassifier",
        "sklearn.calibration._SigmoidCalibration",
        "sklearn.neural_network._multilayer_perceptron.MLPClassifier",
        "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
        "genrekit.models.classical.XGBoostClassifier",
    }
)
#: skops node kinds allowed: data and objects only (no FunctionNode, MethodNode, OperatorFuncNode, ...).
SKOPS_NODES: frozenset[str] = frozenset(
    {
        "DictNode", "ListNode", "TupleNode", "JsonNode", "TypeNode", "ObjectNode", "NdArrayNode",
        "TreeNode", "RandomStateNode", "CachedNode",
    }
)
#: Zip limits (bundle zips, and the zip that is a skops file), checked before anything is unpacked.
ZIP_MAX_MEMBERS = 64
ZIP_MAX_TOTAL_BYTES = 1 << 30
ZIP_MAX_RATIO = 200
#: A skops file is itself a zip with one member per array (a 300-tree forest has 1,502).
SKOPS_MAX_MEMBERS = 100_000
#: Largest and deepest ``schema.json`` inside a skops file (a 300-tree forest's is about 5 MB, 12 deep).
SKOPS_MAX_SCHEMA_BYTES = 256 << 20
SKOPS_MAX_DEPTH = 100
#: Members smaller than this are exempt from the ratio rule (a small JSON file compresses well).
ZIP_RATIO_MIN_BYTES = 1 << 20



@dataclass
class Bundle:
    """A trained model and everything needed to reproduce its predictions.

    Attributes
    ----------
    model : estimator
        scikit-learn contract: ``predict_proba`` (n, n_classes) and ``classes_``.
    kind : str
        Model family name (``svm``, ``cnn``, ...).
    labels : list of str
        The classes, in ``model.classes_`` order.
    extractor : dict or None
        ``Extractor.to_dict()`` of the features the model was trained on; ``None`` for tabular models.
    feature_names : list of str or None
        Column names of the model's input (tabular models, and a check for audio ones).
    aggregation : str
        Segment-to-track aggregation (``mean_log``, ``mean_prob``, ``vote``).
    training : TrainConfig, TableTrainConfig or None
        Every choice of the run that trained the model, stored whole (``bundle.json`` ``training``);
        None for bundles written before it was recorded.
    """

    model: Any
    kind: str
    labels: list[str]
    extractor: dict[str, Any] | None
    feature_names: list[str] | None = None
    aggregation: str = "mean_log"
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    training: TrainConfig | TableTrainConfig | None = None
    genrekit_version: str = field(default_factory=genrekit_version)
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))



def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def save_bundle(bundle: Bundle, path: str | Path) -> Path:
    """Write ``bundle`` to a directory, or to a zip file when ``path`` ends in ``.zip``.

    Returns
    -------
    Path
        The directory or zip written.
    """
    path = Path(path)
    if path.suffix.lower() == ".zip":
        with tempfile.TemporaryDirectory() as tmp:
            inner = save_bundle(bundle, Path(tmp) / "bundle")
            path.parent.mkdir(parents=True, exist_ok=True)
            with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
                for f in sorted(inner.iterdir()):
                    zf.write(f, f.name)
        return path
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelError(f"cannot create the bundle directory: {exc.strerror}", source=path) from None
    weights: dict[str, str] = {}
    model_config: dict[str, Any] = {}
    if hasattr(model := bundle.model, "bundle_state"):
        from safetensors.numpy import save_file

        model_config, tensors = model.bundle_state()
        save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, str(path / "model.safetensors"))
        weights["model.safetensors"] = _sha256(path / "model.safetensors")
        fmt = "safetensors"
    else:
        sio = skops_io()
        sio.dump(model, path / "model.skops")
        weights["model.skops"] = _sha256(path / "model.skops")
        fmt = "skops"
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "genrekit_version": bundle.genrekit_version,
        "created": bundle.created,
        "labels": list(bundle.labels),
        "extractor": bundle.extractor,
        "feature_names": bundle.feature_names,
        "aggregation": bundle.aggregation,
        "model": {"kind": bundle.kind, "format": fmt, "params": bundle.params, "config": model_config},
        "weights": weights,
        "metrics": bundle.metrics,
        "data": bundle.data,
        "extra": bundle.extra,
    }
    if bundle.training is not None:
        meta["training"] = {"config": type(bundle.training).__name__, "options": bundle.training.to_dict()}
    (path / "bundle.json").write_text(json.dumps(to_jsonable(meta), indent=2, sort_keys=False) + "\n")
    return path


def read_meta(path: str | Path, *, name: str | Path | None = None) -> dict[str, Any]:
    """Read and validate ``bundle.json`` of a bundle directory (bounded size, depth and values).

    Parameters
    ----------
    path : path
        The bundle directory.
    name : path, optional
        How to name the bundle in errors (the user's zip when ``path`` is where it was unpacked).

    Raises
    ------
    ModelError
        One line naming the bundle and the field: too large, too deep, not JSON, a wrong type, a value
        out of range, a newer format version.
    """
    path = Path(path)
    name = path if name is None else name
    meta_path = path / "bundle.json"
    if not meta_path.is_file():
        raise ModelError("not a genrekit bundle (no bundle.json)", source=name)
    return meta_from_text(read_meta_text(meta_path, name), name)


def meta_from_text(text: str, name: str | Path) -> dict[str, Any]:
    """Parse and validate the text of ``bundle.json`` (see :mod:`genrekit.bundle_schema`)."""
    meta = parse_meta(text, name)
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise bundle_error(name, "bundle.json is not a genrekit bundle description")
    version = meta.get("format_version")
    if isinstance(version, int) and not isinstance(version, bool) and version > FORMAT_VERSION:
        raise bundle_error(
            name,
            f"bundle format version {version} is newer than this genrekit supports ({FORMAT_VERSION}); "
            f"it was written by genrekit {str(meta.get('genrekit_version'))[:64]}: upgrade genrekit to "
            "load it",
        )
    validate_meta(meta, name)
    _training_config(meta, name)  # the stored config obeys its own rules (unknown options refused)
    fmt = meta["model"]["format"]
    wanted = {"skops": "model.skops", "safetensors": "model.safetensors"}[fmt]
    if wanted not in meta["weights"]:
        raise bundle_error(name, f"bundle.json lists no digest for {wanted}; refusing to load it unchecked")
    for file in meta["weights"]:
        if file not in WEIGHT_FILES:
            raise bundle_error(
                name, f"weights names {file!r}; a bundle's weight files are {list(WEIGHT_FILES)}"
            )
    return meta


def skops_io() -> Any:
    """``skops.io``, imported without the walk through every scikit-learn module that its import does.

    At import, skops builds its default trusted-type list with ``sklearn.utils.all_estimators()``, which
    imports every scikit-learn submodule and, through them, torch, dask, pandas and pytest: 1-2 s of a
    cold ``genrekit classify``. genrekit never relies on that list: every type in a ``model.skops`` is
    checked against ``SKOPS_ALLOWED_TYPES`` before loading (:func:`skops_types`) and loading passes
    exactly that list. So ``all_estimators`` gives nothing while skops is imported: skops's own
    defaults then trust fewer types, never more. (A function-level import: it buys that start-up time.)
    """
    if "skops.io" not in sys.modules:
        import sklearn.utils

        walk = sklearn.utils.all_estimators
        sklearn.utils.all_estimators = lambda *args, **kwargs: []
        try:
            import skops.io  # noqa: F401 - imported here for its side effect on sys.modules
        finally:
            sklearn.utils.all_estimators = walk
    return sys.modules["skops.io"]


def _node_types(tree: Any) -> set[tuple[str, str]]:
    """Every (node kind, type path) in a skops tree, walked without recursion and without building."""
    skops_io()
    from skops.io._audit import Node
    from skops.io._utils import get_module

    found: set[tuple[str, str]] = set()
    seen: set[int] = set()
    stack = [tree]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        found.add((type(node).__name__, f"{node.module_name}.{node.class_name}"))
        for child in node.children.values():
            if isinstance(child, dict):
                child = list(child.values())
            items = child if isinstance(child, list) else [child]
            for item in items:
                if isinstance(item, Node):
                    stack.append(item)
                elif isinstance(item, type):
                    found.add(("type", f"{get_module(item)}.{item.__name__}"))
    return found


def skops_types(file: Path, name: str | Path) -> list[str]:
    """The type paths in ``file``, refused unless every one is in :data:`SKOPS_ALLOWED_TYPES`.

    The zip is checked against the limits first, its ``schema.json`` for size and depth; then skops
    builds its node tree (no object is created, nothing imported from the file runs) and every node and
    type in it is compared with the exact allow-list, and every node kind with :data:`SKOPS_NODES`.

    Raises
    ------
    ModelError
        A file that is not a readable skops zip, or one holding a node kind or type outside the lists
        (the message names the first such type).
    """
    skops_io()
    from skops.io._audit import get_tree
    from skops.io._utils import read_schema

    entries = _zip_entry_count(file)
    if entries is not None and entries > SKOPS_MAX_MEMBERS:
        raise bundle_error(name, f"model.skops has {entries} members; at most {SKOPS_MAX_MEMBERS} allowed")
    try:
        with zipfile.ZipFile(file) as zf:
            infos = check_zip_limits(zf, name, what="model.skops", max_members=SKOPS_MAX_MEMBERS)
            schema = next((i for i in infos if i.filename == "schema.json"), None)
            if schema is None:
                raise bundle_error(name, "model.skops is not a readable skops file (no schema.json)")
            if schema.file_size > SKOPS_MAX_SCHEMA_BYTES:
                raise bundle_error(name, f"model.skops has a schema.json of {schema.file_size:,} bytes; "
                                   f"at most {SKOPS_MAX_SCHEMA_BYTES:,} allowed")
            text = zf.read(schema).decode("utf-8", "replace")
            check_depth(text, name, max_depth=SKOPS_MAX_DEPTH, what="model.skops's schema.json")
            schema_obj, context = read_schema(zf)
            tree = get_tree(schema_obj, context, trusted=None)
    except ModelError:
        raise
    except Exception as exc:  # noqa: BLE001 - any parse failure means a foreign or broken file
        raise bundle_error(
            name, f"model.skops is not a readable skops file ({type(exc).__name__}: {_short(exc)})"
        ) from None
    found = _node_types(tree)
    bad_nodes = sorted({kind for kind, _ in found if kind != "type" and kind not in SKOPS_NODES})
    bad_types = sorted({t for _, t in found if t not in SKOPS_ALLOWED_TYPES})
    if bad_types or bad_nodes:
        bad = [f"type {t}" for t in bad_types] + [f"a {n}" for n in bad_nodes]
        shown = ", ".join(bad[:4]) + (f" and {len(bad) - 4} more" if len(bad) > 4 else "")
        raise bundle_error(
            name,
            f"model.skops holds {shown}, which genrekit does not load (only the model classes genrekit "
            "saves are allowed)",
        )
    return sorted({t for _, t in found})


def _short(exc: BaseException, limit: int = 160) -> str:
    s = " ".join(str(exc).split())
    return s if len(s) <= limit else s[: limit - 3] + "..."


def check_zip_limits(
    zf: zipfile.ZipFile, name: str | Path, *, what: str, max_members: int = ZIP_MAX_MEMBERS
) -> list[zipfile.ZipInfo]:
    """Refuse a zip over the member-count, size or compression-ratio limits, from its directory only.

    The declared sizes are what :mod:`zipfile` enforces when a member is read (it stops at the declared
    size and checks the CRC), so checking them here bounds what reading can produce.
    """
    infos = zf.infolist()
    if len(infos) > max_members:
        raise bundle_error(name, f"{what} has {len(infos)} members; at most {max_members} allowed")
    total = 0
    for info in infos:
        if info.flag_bits & 0x1:
            raise bundle_error(name, f"{what} member {info.filename!r} is encrypted")
        total += info.file_size
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > ZIP_RATIO_MIN_BYTES and ratio > ZIP_MAX_RATIO:
            raise bundle_error(
                name,
                f"{what} member {info.filename!r} expands {ratio:,.0f} times ({info.file_size:,} bytes); "
                f"at most {ZIP_MAX_RATIO} times allowed (zip bomb?)",
            )
    if total > ZIP_MAX_TOTAL_BYTES:
        raise bundle_error(
            name, f"{what} unpacks to {total:,} bytes; at most {ZIP_MAX_TOTAL_BYTES:,} allowed"
        )
    return infos


def _zip_entry_count(path: Path) -> int | None:
    """Entries the zip's end record declares (read before zipfile parses the whole directory)."""
    try:
        with open(path, "rb") as fp:
            end = zipfile._EndRecData(fp)  # type: ignore[attr-defined]
    except OSError:
        return None
    return None if end is None else int(end[zipfile._ECD_ENTRIES_TOTAL])  # type: ignore[attr-defined]


def _extract_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, dest: Path, name: str | Path) -> None:
    """Copy one member to ``dest``, counting bytes (never more than its checked, declared size)."""
    written = 0
    with zf.open(info) as src, open(dest, "wb") as out:
        while chunk := src.read(1 << 20):
            written += len(chunk)
            if written > info.file_size:  # pragma: no cover - zipfile stops at the declared size
                raise bundle_error(name, f"zip member {info.filename!r} is longer than it declares")
            out.write(chunk)


def _load_zip(path: Path) -> Bundle:
    """Load a zipped bundle: limits checked, ``bundle.json`` validated, only its weight files unpacked."""
    entries = _zip_entry_count(path)
    if entries is not None and entries > ZIP_MAX_MEMBERS:
        raise bundle_error(path, f"the zip has {entries} members; at most {ZIP_MAX_MEMBERS} allowed")
    with tempfile.TemporaryDirectory(prefix="genrekit-bundle-") as tmp:
        try:
            with zipfile.ZipFile(path) as zf:
                infos = check_zip_limits(zf, path, what="the zip")
                by_name: dict[str, zipfile.ZipInfo] = {}
                for info in infos:
                    member = Path(info.filename)
                    plain = len(member.parts) == 1 and member.name not in ("", ".", "..")
                    if member.is_absolute() or not plain or "\\" in info.filename:
                        raise bundle_error(path, f"zip member {info.filename!r} is not a bundle file")
                    if info.filename in by_name:
                        raise bundle_error(path, f"zip member {info.filename!r} appears twice")
                    by_name[info.filename] = info
                if "bundle.json" not in by_name:
                    raise ModelError("not a genrekit bundle (no bundle.json)", source=path)
                if by_name["bundle.json"].file_size > MAX_META_BYTES:
                    raise bundle_error(path, f"bundle.json is larger than {MAX_META_BYTES >> 20} MiB")
                meta_bytes = zf.read(by_name["bundle.json"])
                meta = meta_from_text(decode_meta(meta_bytes, path), path)
                for file in meta["weights"]:
                    if file not in by_name:
                        raise bundle_error(path, f"weight file {file} is missing")
                    _extract_member(zf, by_name[file], Path(tmp) / file, path)
                (Path(tmp) / "bundle.json").write_bytes(meta_bytes)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, zlib.error,
                NotImplementedError, RuntimeError) as exc:
            raise bundle_error(path, f"damaged bundle zip ({_short(exc)})") from None
        return _load_dir(Path(tmp), path)


def load_bundle(path: str | Path) -> Bundle:
    """Load a bundle directory or zip.

    Raises
    ------
    ModelError
        Missing or foreign files, a ``bundle.json`` outside its schema (types, ranges, size, depth), a
        newer format version, a zip over its limits, weight files whose digest does not match
        ``bundle.json`` (tampered), or a skops file holding a type outside the exact allow-list.
    """
    path = Path(path)
    if not path.exists():
        raise ModelError("model bundle not found", source=path)
    if path.is_file():
        if not zipfile.is_zipfile(path):
            raise ModelError("not a genrekit bundle (neither a directory nor a zip of one)", source=path)
        return _load_zip(path)
    return _load_dir(path, path)


def _load_dir(path: Path, name: str | Path) -> Bundle:
    meta = read_meta(path, name=name)
    for file, digest in meta["weights"].items():
        f = path / file
        if not f.is_file():
            raise bundle_error(name, f"weight file {file} is missing")
        if _sha256(f) != digest:
            raise bundle_error(
                name, f"weight file {file} does not match its digest in bundle.json (modified?)"
            )
    extractor = _check_extractor(meta, name)
    model_meta = meta["model"]
    if model_meta["format"] == "skops":
        sio = skops_io()
        f = path / "model.skops"
        trusted = skops_types(f, name)
        try:
            model = sio.load(f, trusted=trusted)
        except Exception as exc:  # noqa: BLE001
            raise bundle_error(
                name, f"cannot load model.skops ({type(exc).__name__}: {_short(exc)})"
            ) from None
    else:
        from safetensors.numpy import load_file

        from genrekit.models.registry import model_class

        try:
            tensors = load_file(str(path / "model.safetensors"))
        except Exception as exc:  # noqa: BLE001
            raise bundle_error(name, f"cannot read model.safetensors ({_short(exc)})") from None
        try:
            model = model_class(model_meta["kind"]).from_bundle_state(model_meta.get("config", {}), tensors)
        except GenreKitError as exc:
            raise bundle_error(name, exc.message) from None
        except Exception as exc:  # noqa: BLE001 - tensors that do not fit the described network
            raise bundle_error(
                name, f"model.safetensors does not fit the network in bundle.json ({type(exc).__name__}: "
                f"{_short(exc)})"
            ) from None
    labels = [str(c) for c in meta["labels"]]
    classes = getattr(model, "classes_", None)
    if classes is None or [str(c) for c in classes] != labels:
        raise bundle_error(name, "the model's classes do not match the labels in bundle.json")
    _check_input_width(model, extractor, meta.get("feature_names"), name)
    return Bundle(
        model=model,
        kind=model_meta["kind"],
        labels=labels,
        extractor=meta.get("extractor"),
        feature_names=meta.get("feature_names"),
        aggregation=meta.get("aggregation", "mean_log"),
        params=model_meta.get("params", {}),
        metrics=meta.get("metrics", {}),
        data=meta.get("data", {}),
        extra=meta.get("extra", {}),
        training=_training_config(meta, name),
        genrekit_version=meta.get("genrekit_version", "unknown"),
        created=meta.get("created", ""),
    )


def _training_config(meta: dict[str, Any], name: str | Path) -> TrainConfig | TableTrainConfig | None:
    """The stored config rebuilt with its own rules: an unknown option or a bad value names the bundle."""
    spec = meta.get("training")
    if spec is None:
        return None
    cls = {c.__name__: c for c in (TrainConfig, TableTrainConfig)}[spec["config"]]
    try:
        return cls.from_dict(spec["options"])
    except GenreKitError as exc:
        raise bundle_error(name, f"training: {exc.message}") from None


def _check_extractor(meta: dict[str, Any], name: str | Path) -> Any:
    """Build the extractor's config once: its own rules (musicnn's rate, n_mfcc <= n_mels) name the bundle."""
    spec = meta.get("extractor")
    if spec is None:
        return None
    from genrekit.features.registry import extractor_from_dict

    try:
        extractor = extractor_from_dict(spec)
        names = list(extractor.names)
    except GenreKitError as exc:
        raise bundle_error(name, f"extractor: {exc.message}") from None
    feature_names = meta.get("feature_names")
    if feature_names is not None and list(feature_names) != names:
        raise bundle_error(
            name, f"feature_names ({len(feature_names)}) do not match the {spec['name']!r} extractor's "
            f"output ({len(names)} values)"
        )
    return extractor


def _check_input_width(model: Any, extractor: Any, feature_names: list[str] | None, name: str | Path) -> None:
    """The model must take as many values a row as the extractor (or the feature names) gives."""
    want = len(extractor.names) if extractor is not None else None
    if want is None and feature_names is not None:
        want = len(feature_names)
    shape = getattr(model, "frame_shape_", None)
    have = int(shape[0]) * int(shape[1]) if shape is not None else getattr(model, "n_features_in_", None)
    if want is not None and have is not None and int(have) != want:
        raise bundle_error(name, f"the model takes rows of {have} values but its features have {want}")


def copy_bundle(src: str | Path, dst: str | Path) -> Path:
    """Copy a bundle directory (validated first)."""
    read_meta(src)
    shutil.copytree(src, dst, dirs_exist_ok=True)
    return Path(dst)
