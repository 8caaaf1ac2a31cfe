"""The schema of ``bundle.json``: types and ranges for every field that reaches numpy, torch or a loop.

A bundle is untrusted input (its author writes ``bundle.json`` as well as the weights), so its
description is read in three bounded steps before anything is built from it:

1. at most :data:`MAX_META_BYTES` bytes are read (:func:`read_meta_text`);
2. the nesting depth is measured on the raw text, before ``json.loads`` could recurse
   (:func:`check_depth`);
3. the parsed object is validated by the pydantic models below (:func:`validate_meta`): every number
   that sizes an array, a filter bank, a network or a loop has a type and a closed range, and the
   ranges admit everything genrekit itself writes.

Every violation is one :class:`~genrekit.errors.ModelError` line naming the bundle and the field, e.g.
``bundle m/: extractor.config.n_fft = 1099511627776 is out of range [16, 65536]``.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, model_validator

from genrekit.config import MAX_SAMPLE_RATE, MIN_SAMPLE_RATE
from genrekit.errors import ModelError

__all__ = [
    "BundleMeta",
    "LIMITS",
    "MAX_DEPTH",
    "MAX_META_BYTES",
    "bundle_error",
    "check_depth",
    "parse_meta",
    "read_meta_text",
    "validate_meta",
]

#: Largest ``bundle.json`` read (genrekit writes a few kB; a training history of a long run stays far
#: below this).
MAX_META_BYTES = 4 << 20
#: Deepest nesting of objects/arrays in ``bundle.json`` (genrekit writes at most about 8).
MAX_DEPTH = 64
#: Most weight files a bundle may name.
MAX_WEIGHT_FILES = 8
#: Most classes (labels) a bundle may have.
MAX_CLASSES = 10_000
#: Longest label, feature name or other short string.
MAX_NAME_CHARS = 256
#: Most input features (a flattened 128 x 130 log-mel is 16,640; a musicnn patch 96 x 187 = 17,952).
MAX_FEATURES = 1 << 20
#: Most parameters a torch network described by ``bundle.json`` may have (1 GiB of float32).
MAX_NET_PARAMS = 1 << 28

#: Cross-field limits on the extractor (genrekit's defaults: 43 frames/s, 66,150 samples and
#: 133,250 spectrogram cells a segment, no overlap).
MAX_FRAMES_PER_S = 2000
MAX_SEGMENT_SAMPLES = 1 << 24
MAX_OVERLAP = 20
MAX_SPECTROGRAM_CELLS = 1 << 24

#: The closed ranges, by field (also listed in docs/security.md).
LIMITS: dict[str, tuple[float, float]] = {
    "sr": (MIN_SAMPLE_RATE, MAX_SAMPLE_RATE),
    "n_fft": (16, 65536),
    "hop_length": (1, 65536),
    "n_mels": (1, 512),
    "n_mfcc": (1, 128),
    "segment_s": (0.05, 600.0),
    "hop_s": (0.05, 600.0),
    "batch_size": (1, 4096),
    "temperature": (1e-3, 1e3),
    "format_version": (1, 1_000_000),
    "frame_axis": (1, 1 << 16),
    "width": (1, 1 << 16),
    "channels": (1, 4096),
    "pool": (1, 64),
    "n_layers": (0, 32),
    "dropout": (0.0, 1.0),
    "n_threads": (1, 1024),
}


# ------------------------------------------------------------------------------------------- values
class _Bad(ValueError):
    """A field's problem, worded to follow ``<field> = <value>``."""


def _int(lo: int, hi: int) -> Any:
    def check(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise _Bad(f"has the wrong type ({_type_name(v)}, expected an integer)")
        if not lo <= v <= hi:
            raise _Bad(f"is out of range [{lo}, {hi}]")
        return int(v)

    return Annotated[int, BeforeValidator(check)]


def _float(lo: float, hi: float, *, hi_open: bool = False) -> Any:
    def check(v: Any) -> float:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise _Bad(f"has the wrong type ({_type_name(v)}, expected a number)")
        if isinstance(v, int) and not lo <= v <= hi:  # before float(v), which overflows past 1e308
            raise _Bad(f"is out of range [{lo}, {hi}{')' if hi_open else ']'}")
        if not math.isfinite(v):
            raise _Bad("is not a finite number")
        if not (lo <= v < hi if hi_open else lo <= v <= hi):
            raise _Bad(f"is out of range [{lo}, {hi}{')' if hi_open else ']'}")
        return float(v)

    return Annotated[float, BeforeValidator(check)]


def _str(max_chars: int = MAX_NAME_CHARS) -> Any:
    def check(v: Any) -> str:
        if not isinstance(v, str):
            raise _Bad(f"has the wrong type ({_type_name(v)}, expected a string)")
        if len(v) > max_chars:
            raise _Bad(f"is longer than {max_chars} characters")
        return v

    return Annotated[str, BeforeValidator(check)]


def _bool(v: Any) -> bool:
    if not isinstance(v, bool):
        raise _Bad(f"has the wrong type ({_type_name(v)}, expected true or false)")
    return v


def _list(max_len: int, min_len: int = 0) -> Any:
    def check(v: Any) -> list[Any]:
        if not isinstance(v, list):
            raise _Bad(f"has the wrong type ({_type_name(v)}, expected a list)")
        if not min_len <= len(v) <= max_len:
            raise _Bad(f"has {len(v)} entries; allowed: {min_len} to {max_len}")
        return v

    return BeforeValidator(check)


def _dict(v: Any) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise _Bad(f"has the wrong type ({_type_name(v)}, expected an object)")
    return v


def _type_name(v: Any) -> str:
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "list", dict: "object",
            type(None): "null"}.get(type(v), type(v).__name__)


Bool = Annotated[bool, BeforeValidator(_bool)]
Name = _str()
Obj = Annotated[dict[str, Any], BeforeValidator(_dict)]
Pad = Literal["repeat", "zero", "drop"]
Width = _int(*LIMITS["width"])
Pool = Annotated[list[_int(*LIMITS["pool"])], _list(2, 2)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


# ------------------------------------------------------------------------------------------ extractor
class ExtractorConfig(_Open):
    """The built-in extractors' options, bounded; each extractor's own config refuses keys it lacks."""

    sr: _int(*LIMITS["sr"]) | None = None
    n_fft: _int(*LIMITS["n_fft"]) | None = None
    hop_length: _int(*LIMITS["hop_length"]) | None = None
    n_mels: _int(*LIMITS["n_mels"]) | None = None
    n_mfcc: _int(*LIMITS["n_mfcc"]) | None = None
    segment_s: _float(*LIMITS["segment_s"]) | None = None
    hop_s: _float(*LIMITS["hop_s"]) | None = None
    pad: Pad = "repeat"
    summary: Bool | Literal["mean_std"] | None = False  # spectrograms: a flag; handcrafted: the rule or None
    extended: Bool = False
    output: Literal["embedding", "tags", "both"] = "embedding"
    pooled_midend: Bool = False
    batch_size: _int(*LIMITS["batch_size"]) | None = None

    @model_validator(mode="after")
    def _work_is_bounded(self) -> ExtractorConfig:
        """Cross-field rules: each field in range can still multiply into an unbounded amount of work."""
        sr = self.sr or 22050
        if self.hop_length is not None and sr / self.hop_length > MAX_FRAMES_PER_S:
            raise _Bad(
                f"hop_length = {self.hop_length} at sr = {sr} gives {sr / self.hop_length:,.0f} frames per "
                f"second; at most {MAX_FRAMES_PER_S:,} allowed"
            )
        if self.segment_s is not None:
            if self.segment_s * sr > MAX_SEGMENT_SAMPLES:
                raise _Bad(
                    f"segment_s = {self.segment_s} at sr = {sr} is {self.segment_s * sr:,.0f} samples a "
                    f"segment; at most {MAX_SEGMENT_SAMPLES:,} allowed"
                )
            if self.hop_s is not None and self.segment_s / self.hop_s > MAX_OVERLAP:
                raise _Bad(
                    f"segment_s / hop_s = {self.segment_s / self.hop_s:,.1f} (segments overlapping that "
                    f"many times); at most {MAX_OVERLAP} allowed"
                )
            if self.n_fft is not None and self.hop_length is not None:
                cells = (self.n_fft // 2 + 1) * (self.segment_s * sr / self.hop_length)
                if cells > MAX_SPECTROGRAM_CELLS:
                    raise _Bad(
                        f"n_fft = {self.n_fft} with hop_length = {self.hop_length} and segment_s = "
                        f"{self.segment_s} makes spectrograms of {cells:,.0f} cells a segment; at most "
                        f"{MAX_SPECTROGRAM_CELLS:,} allowed"
                    )
        return self


class ExtractorSpec(_Strict):
    name: Name  # checked against the extractor registry (which can be extended) when the bundle loads
    config: ExtractorConfig = ExtractorConfig()


# ------------------------------------------------------------------------------------------- networks
class Architecture(_Open):
    """``model.config.architecture`` of the torch models (dense, conv2d, musicnn-finetune)."""

    type: Literal["dense", "conv2d", "musicnn-finetune"]
    in_dim: _int(1, MAX_FEATURES) | None = None
    hidden: Annotated[list[Width], _list(LIMITS["n_layers"][1])] | None = None
    n_classes: _int(2, MAX_CLASSES)
    dropout: _float(*LIMITS["dropout"], hi_open=True)
    bands: _int(*LIMITS["frame_axis"]) | None = None
    frames: _int(*LIMITS["frame_axis"]) | None = None
    input_pool: Pool | None = None
    channels: Annotated[list[_int(*LIMITS["channels"])], _list(LIMITS["n_layers"][1], 1)] | None = None
    pools: Annotated[list[Pool], _list(LIMITS["n_layers"][1])] | None = None
    backbone: Literal["MSD_musicnn", "MTT_musicnn"] | None = None
    embed_dim: Width | None = None
    head_units: Annotated[list[Width], _list(LIMITS["n_layers"][1])] | None = None


class NetParams(_Open):
    """The torch estimator's constructor parameters that act at prediction time."""

    batch_size: _int(*LIMITS["batch_size"]) | None = None
    n_threads: _int(*LIMITS["n_threads"]) | None = None
    frame_shape: Annotated[list[_int(*LIMITS["frame_axis"])], _list(2, 2)] | None = None


class NetConfig(_Open):
    """``model.config`` of a safetensors bundle."""

    estimator: Literal["DNNClassifier", "CNNClassifier", "MusicnnFinetuneClassifier"]
    params: NetParams = NetParams()
    classes: Annotated[list[Name], _list(MAX_CLASSES, 2)]
    frame_shape: Annotated[list[_int(*LIMITS["frame_axis"])], _list(2, 2)]
    architecture: Architecture


class ModelSpec(_Strict):
    kind: Name
    format: Literal["skops", "safetensors"]
    params: Obj = {}
    config: Obj = {}


# --------------------------------------------------------------------------------------------- bundle
class Training(_Strict):
    """The run's config: its class, and its options (checked field by field by the config itself)."""

    config: Literal["TrainConfig", "TableTrainConfig"]
    options: Obj


class Extra(_Open):
    temperature: _float(*LIMITS["temperature"]) | None = None


class BundleMeta(_Open):
    """``bundle.json``; unknown top-level keys are kept (and ignored) for forward compatibility."""

    format: Literal["genrekit-bundle"]
    format_version: _int(*LIMITS["format_version"])
    genrekit_version: _str(64) = "unknown"
    created: _str(64) = ""
    labels: Annotated[list[Name], _list(MAX_CLASSES, 2)]
    extractor: ExtractorSpec | None = None
    feature_names: Annotated[list[Name], _list(MAX_FEATURES, 1)] | None = None
    aggregation: Literal["mean_log", "mean_prob", "vote"] = "mean_log"
    model: ModelSpec
    weights: Annotated[dict[_str(64), Annotated[str, BeforeValidator(lambda v: _sha(v))]],
                       BeforeValidator(lambda v: _weights(v))]
    metrics: Obj = {}
    data: Obj = {}
    extra: Extra = Extra()
    training: Training | None = None


_SHA = re.compile(r"[0-9a-f]{64}")


def _sha(v: Any) -> str:
    if not isinstance(v, str) or not _SHA.fullmatch(v):
        raise _Bad("is not a sha256 hex digest")
    return v


def _weights(v: Any) -> dict[str, Any]:
    v = _dict(v)
    if len(v) > MAX_WEIGHT_FILES:
        raise _Bad(f"names {len(v)} files; at most {MAX_WEIGHT_FILES} allowed")
    return v


# -------------------------------------------------------------------------------------------- reading
def bundle_error(bundle: str | Path, message: str) -> ModelError:
    """The one-line error for ``bundle`` (its path as the user gave it)."""
    return ModelError(message, source=f"bundle {bundle}")


def read_meta_text(file: Path, bundle: str | Path) -> str:
    """Read ``bundle.json`` (at most :data:`MAX_META_BYTES` + 1 bytes) as UTF-8 text."""
    try:
        with open(file, "rb") as f:
            raw = f.read(MAX_META_BYTES + 1)
    except OSError as exc:
        raise bundle_error(bundle, f"cannot read bundle.json ({exc.strerror})") from None
    return decode_meta(raw, bundle)


def decode_meta(raw: bytes, bundle: str | Path) -> str:
    if len(raw) > MAX_META_BYTES:
        raise bundle_error(bundle, f"bundle.json is larger than {MAX_META_BYTES >> 20} MiB")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise bundle_error(bundle, "bundle.json is not UTF-8 text") from None


_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)  # unrolled: linear time


def check_depth(
    text: str, bundle: str | Path, *, max_depth: int = MAX_DEPTH, what: str = "bundle.json"
) -> None:
    """Refuse JSON text nested deeper than ``max_depth`` (measured without parsing it)."""
    bare = _STRING.sub("", text).encode("utf-8", "replace")
    arr = np.frombuffer(bare, dtype=np.uint8)
    step = np.isin(arr, (ord("["), ord("{"))).astype(np.int32) - np.isin(arr, (ord("]"), ord("}")))
    depth = int(np.cumsum(step).max(initial=0))
    if depth > max_depth:
        raise bundle_error(bundle, f"{what} is nested {depth} deep; at most {max_depth} allowed")


def parse_meta(text: str, bundle: str | Path) -> Any:
    """``json.loads`` after the depth check; every parse failure is a ModelError."""
    check_depth(text, bundle)
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, huge ints; recursion is belt and braces
        raise bundle_error(bundle, f"bundle.json is not valid JSON ({_one_line(str(exc))})") from None


def _one_line(s: str, limit: int = 120) -> str:
    s = " ".join(s.split())
    return s if len(s) <= limit else s[: limit - 3] + "..."


def _show(v: Any) -> str:
    """`` = <value>`` for scalars; nothing for lists and objects (the message says what they are)."""
    if isinstance(v, (dict, list)):
        return ""
    return " = " + _one_line(json.dumps(v) if isinstance(v, (str, bool)) or v is None else repr(v), 40)


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif str(part).startswith(("function-", "lax-", "json-")) or part in ("str", "int", "float"):
            continue  # pydantic's names of union branches and validators, not fields
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def validation_message(exc: ValidationError) -> str:
    """The first problem of a pydantic error as ``<field> = <value> <problem>``."""
    errors = exc.errors(include_url=False)
    # a union reports every branch; prefer the branch that did not fail on a type
    err = next((e for e in errors if e["type"] != "none_required"), errors[0])
    where = _loc(tuple(err["loc"]))
    kind, value = err["type"], err.get("input")
    if kind == "missing":
        return f"{where} is missing"
    if kind == "extra_forbidden":
        return f"{where} is not a known field"
    if kind == "value_error":
        msg = str(err.get("ctx", {}).get("error", err["msg"]))
        if isinstance(value, dict):  # a cross-field rule: the message names the fields
            return f"{where}: {msg}"
        return f"{where}{_show(value)} {msg}"
    if kind in ("literal_error", "enum"):
        return f"{where}{_show(value)} is not one of {err.get('ctx', {}).get('expected', '?')}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"{where}{_show(value)} has the wrong type ({_type_name(value)}, expected an object)"
    return f"{where}{_show(value)} {_one_line(err['msg'])}"


def validate_meta(meta: Any, bundle: str | Path) -> BundleMeta:
    """Validate parsed ``bundle.json``; the first problem found is raised as one line."""
    if not isinstance(meta, dict) or meta.get("format") != "genrekit-bundle":
        raise bundle_error(bundle, "bundle.json is not a genrekit bundle description")
    try:
        parsed = BundleMeta.model_validate(meta)
        if parsed.model.format == "safetensors":
            net = NetConfig.model_validate(parsed.model.config)
            n = net_params(net.architecture)
            if n > MAX_NET_PARAMS:
                raise bundle_error(
                    bundle,
                    f"model.config.architecture describes a network of {n:,} parameters; "
                    f"at most {MAX_NET_PARAMS:,} allowed",
                )
    except ValidationError as exc:
        prefix = "model.config." if "NetConfig" in exc.title else ""
        raise bundle_error(bundle, prefix + validation_message(exc)) from None
    except (ArithmeticError, TypeError, ValueError) as exc:  # pragma: no cover - a validator's own slip
        raise bundle_error(bundle, f"bundle.json holds an unusable value ({_one_line(str(exc))})") from None
    return parsed


def net_params(arch: Architecture) -> int:
    """Parameter count the architecture implies (an upper bound good enough to refuse absurd sizes)."""

    def dense(d: int, widths: list[int], n_classes: int) -> int:
        total = 0
        for w in [*widths, n_classes]:
            total += d * w + w
            d = w
        return total

    if arch.type == "dense":
        return dense(arch.in_dim or 1, list(arch.hidden or []), arch.n_classes)
    if arch.type == "conv2d":
        total, c_in = 0, 1
        for c in arch.channels or []:
            total += 9 * c_in * c + 2 * c
            c_in = c
        return total + 2 * c_in * arch.n_classes + arch.n_classes
    return dense(arch.embed_dim or 1, list(arch.head_units or []), arch.n_classes)
