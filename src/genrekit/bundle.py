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
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from genrekit.config import genrekit_version
from genrekit.errors import ModelError
from genrekit.files import to_jsonable

FORMAT = "genrekit-bundle"
FORMAT_VERSION = 1
#: Type-name prefixes a skops file may contain; anything else is refused.
TRUSTED_PREFIXES: tuple[str, ...] = ("sklearn.", "numpy.", "scipy.sparse.", "genrekit.models.")



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
        import skops.io as sio

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
    (path / "bundle.json").write_text(json.dumps(to_jsonable(meta), indent=2, sort_keys=False) + "\n")
    return path


def read_meta(path: str | Path) -> dict[str, Any]:
    """Read and validate ``bundle.json`` of a bundle directory."""
    path = Path(path)
    meta_path = path / "bundle.json"
    if not meta_path.is_file():
        raise ModelError("not a genrekit bundle (no bundle.json)", source=path)
    try:
        meta = json.loads(meta_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"bundle.json is not valid JSON ({exc})", source=path) from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelError("bundle.json is not a genrekit bundle description", source=path)
    version = meta.get("format_version")
    if not isinstance(version, int):
        raise ModelError("bundle.json has no format_version", source=path)
    if version > FORMAT_VERSION:
        raise ModelError(
            f"bundle format version {version} is newer than this genrekit supports ({FORMAT_VERSION}); "
            f"it was written by genrekit {meta.get('genrekit_version')}: upgrade genrekit to load it",
            source=path,
        )
    for key, kind in (("labels", list), ("model", dict), ("weights", dict)):
        if key not in meta:
            raise ModelError(f"bundle.json lacks {key!r}", source=path)
        if not isinstance(meta[key], kind):
            raise ModelError(f"bundle.json's {key!r} is not a JSON {kind.__name__}", source=path)
    fmt = meta["model"].get("format")
    wanted = {"skops": "model.skops", "safetensors": "model.safetensors"}.get(str(fmt))
    if wanted is not None and wanted not in meta["weights"]:
        raise ModelError(
            f"bundle.json lists no digest for {wanted}; refusing to load it unchecked", source=path
        )
    return meta


def _check_skops_types(file: Path) -> list[str]:
    import skops.io as sio

    try:
        untrusted = sio.get_untrusted_types(file=file)
    except Exception as exc:  # noqa: BLE001 - any parse failure means a foreign or broken file
        raise ModelError(
            f"model.skops is not a readable skops file ({type(exc).__name__}: {exc})", source=file
        ) from None
    bad = [t for t in untrusted if not t.startswith(TRUSTED_PREFIXES)]
    if bad:
        raise ModelError(f"model.skops contains types that are not trusted: {bad}", source=file)
    return untrusted


def load_bundle(path: str | Path) -> Bundle:
    """Load a bundle directory or zip.

    Raises
    ------
    ModelError
        Missing or foreign files, a newer format version, weight files whose digest does not match
        ``bundle.json`` (tampered), or a skops file holding types outside the allow-list.
    """
    path = Path(path)
    if not path.exists():
        raise ModelError("model bundle not found", source=path)
    if path.is_file():
        if not zipfile.is_zipfile(path):
            raise ModelError("not a genrekit bundle (neither a directory nor a zip of one)", source=path)
        with tempfile.TemporaryDirectory() as tmp:
            try:
                with zipfile.ZipFile(path) as zf:
                    for info in zf.infolist():
                        name = Path(info.filename)
                        if name.is_absolute() or ".." in name.parts or len(name.parts) != 1:
                            raise ModelError(
                                f"zip member {info.filename!r} is not a bundle file", source=path
                            )
                    zf.extractall(tmp)
            except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
                raise ModelError(f"damaged bundle zip ({exc})", source=path) from None
            try:
                return load_bundle(Path(tmp))
            except ModelError as exc:  # name the user's zip, not the temporary folder
                raise ModelError(str(exc).replace(f"{tmp}: ", "", 1), source=path) from None
    meta = read_meta(path)
    for name, digest in meta["weights"].items():
        if Path(name).name != name:
            raise ModelError(f"weight file name {name!r} is not a plain file name", source=path)
        f = path / name
        if not f.is_file():
            raise ModelError(f"weight file {name} is missing", source=path)
        if _sha256(f) != digest:
            raise ModelError(
                f"weight file {name} does not match its digest in bundle.json (modified?)", source=path
            )
    model_meta = meta["model"]
    if model_meta.get("format") == "skops":
        import skops.io as sio

        f = path / "model.skops"
        trusted = _check_skops_types(f)
        try:
            model = sio.load(f, trusted=trusted)
        except Exception as exc:  # noqa: BLE001
            raise ModelError(f"cannot load model.skops ({type(exc).__name__}: {exc})", source=path) from None
    elif model_meta.get("format") == "safetensors":
        from safetensors.numpy import load_file

        from genrekit.models.registry import model_class

        try:
            tensors = load_file(str(path / "model.safetensors"))
        except Exception as exc:  # noqa: BLE001
            raise ModelError(f"cannot read model.safetensors ({exc})", source=path) from None
        model = model_class(model_meta["kind"]).from_bundle_state(model_meta.get("config", {}), tensors)
    else:
        raise ModelError(f"unknown model format {model_meta.get('format')!r}", source=path)
    labels = [str(c) for c in meta["labels"]]
    classes = getattr(model, "classes_", None)
    if classes is None or [str(c) for c in classes] != labels:
        raise ModelError("the model's classes do not match the labels in bundle.json", source=path)
    return Bundle(
        model=model,
        kind=model_meta.get("kind", "unknown"),
        labels=labels,
        extractor=meta.get("extractor"),
        feature_names=meta.get("feature_names"),
        aggregation=meta.get("aggregation", "mean_log"),
        params=model_meta.get("params", {}),
        metrics=meta.get("metrics", {}),
        data=meta.get("data", {}),
        extra=meta.get("extra", {}),
        genrekit_version=meta.get("genrekit_version", "unknown"),
        created=meta.get("created", ""),
    )


def copy_bundle(src: str | Path, dst: str | Path) -> Path:
    """Copy a bundle directory (validated first)."""
    read_meta(src)
    shutil.copytree(src, dst, dirs_exist_ok=True)
    return Path(dst)
