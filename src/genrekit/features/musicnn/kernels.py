"""Interchangeable kernels for musicnn's front end, chosen per machine, and the arithmetic precision.

Every front-end block of :class:`~genrekit.features.musicnn.network.MusicnnNet` computes
``max over frequency of conv2d(x, w)`` for a one-channel input. Which way of computing it is fastest
depends on the CPU (AVX2 or AVX-512, cache sizes), the torch build and the thread count: the Toeplitz
GEMM of :func:`~genrekit.features.musicnn.network.conv_max_over_freq` wins on AVX2 machines, oneDNN's
direct convolution on some AVX-512 ones. The exact (float32) candidates, per block:

- ``"gemm"`` / ``"gemm<N>"``: the Toeplitz matrix product, ``N`` outputs per matrix row (the default
  ``"gemm"`` is 4 bands for the timbral blocks and 16 frames for the temporal ones);
- ``"onednn"``: ``torch.nn.functional.conv2d`` (oneDNN) in the default (NCHW) layout, then the max;
- ``"onednn_cl"``: the same in the channels-last layout (the max then reads contiguous channels).

All of them sum the same products in another order: float32 rounding differences only.

Choice (:func:`select`): ``GENREKIT_MUSICNN_KERNEL`` forces one kernel family for every block
(``gemm``, ``onednn``, ``onednn_cl``; ``auto`` or unset = choose). Otherwise each block's candidates are
timed once, interleaved, on a few random patches (about a second on 2 cores), and the winners are cached in
``$XDG_CACHE_HOME/genrekit/musicnn_kernels.json`` (else ``~/.cache/genrekit``) under a key made of the CPU
model, its vector extensions, the torch version and the thread count; an unwritable or corrupt cache only
means timing again.

Precision (:func:`precision_setting`): ``GENREKIT_MUSICNN_PRECISION`` = ``float32`` (default, exact) or
``bfloat16`` (opt-in: the front-end convolutions, 96 % of the multiply-adds, in bfloat16 with float32
accumulation, everything else in float32; fast where the CPU has AVX512_BF16 or AMX). ``int8`` is refused
with the measured reason (see docs/benchmarks.md, "musicnn network speed").
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import torch

from genrekit.errors import ConfigError

__all__ = [
    "FAMILIES",
    "PRECISIONS",
    "cache_path",
    "cpu_report",
    "kernel_info",
    "kernel_setting",
    "machine_key",
    "precision_setting",
    "select",
]

FAMILIES = ("gemm", "onednn", "onednn_cl")
PRECISIONS = ("float32", "bfloat16")
#: candidates per block kind: "freq" = timbral (kf > 1), "time" = temporal (kf == 1)
CANDIDATES: dict[str, tuple[str, ...]] = {
    "freq": ("gemm2", "gemm4", "gemm8", "onednn", "onednn_cl"),
    "time": ("gemm8", "gemm16", "gemm32", "onednn"),
}
DEFAULT_KERNEL = "gemm"
_CACHE_FILE = "musicnn_kernels.json"
_CACHE_MAX_BYTES = 256 * 1024
_CACHE_MAX_ENTRIES = 64
_FLAGS = ("avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16", "avx512_fp16",
          "avx_vnni", "amx_bf16", "amx_int8", "amx_tile")  # fmt: skip
_INT8_REASON = (
    "int8 is not offered: on the CPUs measured (AVX-512 VNNI and AMX-INT8 included) torch's int8 "
    "matrix product is no faster than float32 for these shapes, and the dense layers it could quantize "
    "are under 1 % of the work (docs/benchmarks.md, 'musicnn network speed')"
)

#: what :func:`select` chose in this process: precision -> block -> kernel, and how
_CHOSEN: dict[str, dict[str, str]] = {}
_SOURCE: dict[str, str] = {}


# ---- settings -------------------------------------------------------------------------------------------
def kernel_setting() -> str:
    """``GENREKIT_MUSICNN_KERNEL``: ``"auto"`` (unset) or a kernel family of :data:`FAMILIES`."""
    value = os.environ.get("GENREKIT_MUSICNN_KERNEL", "").strip().lower() or "auto"
    if value != "auto" and value not in FAMILIES:
        raise ConfigError(
            f"GENREKIT_MUSICNN_KERNEL must be one of auto, {', '.join(FAMILIES)}, got {value!r}"
        )
    return value


def check_precision(value: str | None) -> str:
    """A valid precision name (None -> the ``GENREKIT_MUSICNN_PRECISION`` setting)."""
    if value is None:
        return precision_setting()
    name = str(value).strip().lower()
    name = {"fp32": "float32", "bf16": "bfloat16"}.get(name, name)
    if name == "int8":
        raise ConfigError(_INT8_REASON)
    if name not in PRECISIONS:
        raise ConfigError(f"musicnn precision must be one of {', '.join(PRECISIONS)}, got {value!r}")
    return name


def precision_setting() -> str:
    """``GENREKIT_MUSICNN_PRECISION``: ``"float32"`` (default, exact) or ``"bfloat16"`` (opt-in)."""
    value = os.environ.get("GENREKIT_MUSICNN_PRECISION", "").strip()
    try:
        return check_precision(value) if value else "float32"
    except ConfigError as exc:
        raise ConfigError(f"GENREKIT_MUSICNN_PRECISION: {exc}") from None


def dtype_of(precision: str) -> torch.dtype:
    return torch.bfloat16 if precision == "bfloat16" else torch.float32


# ---- the machine ----------------------------------------------------------------------------------------
@functools.cache
def cpu_report() -> dict[str, Any]:
    """CPU model, the vector extensions that matter here, and torch's own view of the CPU.

    Returns
    -------
    dict
        ``model`` (str), ``flags`` (list of str, from /proc/cpuinfo where readable), ``capability``
        (``torch.backends.cpu.get_cpu_capability()``), ``cpus`` (int), ``torch`` (version string).
    """
    model, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            text = f.read(1 << 20)
        for line in text.splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and value.strip():
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
                break
    except OSError:
        pass
    try:
        capability = torch.backends.cpu.get_cpu_capability()
    except Exception:  # noqa: BLE001  (older torch: the report is informative only)
        capability = "unknown"
    return {
        "model": model,
        "flags": [f for f in _FLAGS if f in flags],
        "capability": capability,
        "cpus": os.cpu_count() or 1,
        "torch": torch.__version__,
    }


def machine_key(precision: str = "float32") -> str:
    """The cache key: CPU model and extensions, torch version, thread count and precision."""
    cpu = cpu_report()
    raw = f"{cpu['model']}|{','.join(cpu['flags'])}|{cpu['capability']}|torch {cpu['torch']}"
    digest = hashlib.sha1(raw.encode()).hexdigest()[:12]
    return f"{digest}|threads={torch.get_num_threads()}|{precision}"


def cache_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "genrekit" / _CACHE_FILE


def _valid_choice(choice: Any, blocks: dict[str, str]) -> bool:
    return (
        isinstance(choice, dict)
        and set(choice) == set(blocks)
        and all(isinstance(v, str) and v in CANDIDATES[blocks[k]] for k, v in choice.items())
    )


def _read_cache() -> dict[str, Any]:
    try:
        path = cache_path()
        if path.stat().st_size > _CACHE_MAX_BYTES:
            return {}
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_cache(key: str, choice: dict[str, str]) -> None:
    """Add ``key -> choice`` to the cache file; any failure (read-only home, full disk) is ignored."""
    try:
        data = _read_cache()
        data.pop(key, None)
        while len(data) >= _CACHE_MAX_ENTRIES:
            data.pop(next(iter(data)))
        data[key] = {**choice, "_cpu": cpu_report()["model"], "_torch": torch.__version__}
        path = cache_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass


# ---- choosing -------------------------------------------------------------------------------------------
def _front_blocks(model: torch.nn.Module) -> dict[str, torch.nn.Module]:
    """The network's pooled convolution blocks: the modules that hold a kernel choice (``kernels``).

    Recognised by that attribute, so this module need not import the network (which imports it).
    """
    return {
        name: m for name, m in model.named_modules() if isinstance(getattr(m, "kernels", None), dict)
    }


def _kind(block: torch.nn.Module) -> str:
    return "freq" if block.conv.kernel_size[1] > 1 else "time"


def _family_kernel(family: str, kind: str) -> str:
    return family if family != "gemm" else ("gemm4" if kind == "freq" else "gemm16")


def _time_blocks(
    blocks: dict[str, torch.nn.Module], precision: str, *, n_patches: int = 2, rounds: int = 3
) -> dict[str, str]:
    """Per block, the candidate with the smallest best-of-``rounds`` time (candidates interleaved)."""
    gen = torch.Generator().manual_seed(0)
    x = torch.rand((n_patches, 1, 187, 96), generator=gen) * 4
    choice: dict[str, str] = {}
    with torch.inference_mode():
        for name, block in blocks.items():
            cands = CANDIDATES[_kind(block)]
            best = {c: float("inf") for c in cands}
            for c in cands:  # warm-up: oneDNN primitive creation, Toeplitz matrices
                block.pooled(x, c, precision)
            for _ in range(rounds):
                for c in cands:
                    t0 = time.perf_counter()
                    block.pooled(x, c, precision)
                    best[c] = min(best[c], time.perf_counter() - t0)
            choice[name] = min(cands, key=best.__getitem__)
    return choice


def select(model: torch.nn.Module, precision: str = "float32", *, retime: bool = False) -> dict[str, str]:
    """Set the front-end kernel of every block of ``model`` for ``precision``; returns block -> kernel.

    ``GENREKIT_MUSICNN_KERNEL`` forces a family; else the cached choice for this machine, else a short
    timing (then cached). ``retime=True`` ignores the cache. A model without front-end blocks (VGG) gets
    an empty dict.
    """
    blocks = _front_blocks(model)
    if not blocks:
        return {}
    precision = check_precision(precision)
    family = kernel_setting()
    kinds = {name: _kind(b) for name, b in blocks.items()}
    key = machine_key(precision)
    if family != "auto":
        choice, source = {n: _family_kernel(family, k) for n, k in kinds.items()}, "forced"
    else:
        cached = {} if retime else _read_cache().get(key)
        if isinstance(cached, dict):
            cached = {k: v for k, v in cached.items() if not k.startswith("_")}
        if not retime and _valid_choice(cached, kinds):
            choice, source = cached, "cached"
        else:
            choice, source = _time_blocks(blocks, precision), "timed"
            _write_cache(key, choice)
    for name, block in blocks.items():
        block.kernels[precision] = choice[name]
    _CHOSEN[precision] = dict(choice)
    _SOURCE[precision] = source
    return dict(choice)


def kernel_info(precision: str | None = None) -> dict[str, Any]:
    """The kernel and precision musicnn runs with on this machine, for ``genrekit models --verbose``.

    Loads nothing: the kernels are those chosen in this process (by loading a musicnn model), else the
    cached choice for this machine, else ``None`` (chosen at the first load). ``precision`` defaults to
    the ``GENREKIT_MUSICNN_PRECISION`` setting.

    Returns
    -------
    dict
        ``precision`` (the setting), ``kernel_setting`` (``auto`` or the forced family), ``kernels``
        (block -> kernel for that precision, or None), ``source`` (``forced``, ``cached``, ``timed`` or
        ``not chosen yet``), ``cpu`` (model), ``extensions`` (list), ``capability``, ``torch``,
        ``threads``, ``cache`` (path).
    """
    precision = check_precision(precision)
    family = kernel_setting()
    cpu = cpu_report()
    kernels: dict[str, str] | None = _CHOSEN.get(precision)
    source = _SOURCE.get(precision, "not chosen yet")
    if kernels is None and family == "auto":
        cached = _read_cache().get(machine_key(precision))
        if isinstance(cached, dict):
            kernels = {k: v for k, v in cached.items() if not k.startswith("_") and isinstance(v, str)}
            source = "cached"
    return {
        "precision": precision,
        "kernel_setting": family,
        "kernels": kernels,
        "source": source,
        "cpu": cpu["model"],
        "extensions": list(cpu["flags"]),
        "capability": cpu["capability"],
        "torch": cpu["torch"],
        "threads": torch.get_num_threads(),
        "cache": str(cache_path()),
    }


def describe(info: dict[str, Any] | None = None) -> str:
    """:func:`kernel_info` as one line, e.g. ``float32, kernels timbral gemm4/onednn_cl, temporal ...``."""
    info = info or kernel_info()
    ks = info["kernels"]
    kern = "chosen at first load" if not ks else " ".join(f"{k}={v}" for k, v in ks.items())
    return (
        f"musicnn: {info['precision']}, kernels {kern} ({info['source']}); CPU {info['cpu']} "
        f"[{' '.join(info['extensions']) or 'no listed extensions'}], torch {info['torch']} "
        f"({info['capability']}), {info['threads']} threads"
    )
