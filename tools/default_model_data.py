"""Per-patch musicnn outputs of the shared GTZAN clips, clean and degraded, cached as npz.

Shared by ``tools/train_default_model.py`` (the recipe of the shipped ``gtzan`` model) and
``benchmarks/bench_default_model.py`` (the cross-validation of every candidate head). One pass per
condition computes every output of both networks (penultimate embeddings, tags, pooled mid-end) for all
clips, so the heads are compared on exactly the same numbers.

Conditions: ``clean``; ``noise_white@10``, ``noise_pink@10`` (dB SNR), ``mp3@16`` (kbps) for the
robustness check; ``aug`` (each clip gets one degradation drawn from white/pink noise at 5-20 dB SNR or
MP3 at 16-48 kbps, seeded by the clip) for training augmentation; ``aug2``, ``aug3`` ... further copies
(independent draws). Degradations run on the 16 kHz signal
the networks see (as ``genrekit robustness`` does).
"""

from __future__ import annotations

import csv
import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genrekit.audio import load
from genrekit.degrade import apply
from genrekit.features.musicnn import network
from genrekit.features.musicnn.extractor import MusicnnMSDExtractor

SR = 16000
NETS = (("msd", "MSD_musicnn"), ("mtt", "MTT_musicnn"))
OUTPUTS = ("pen", "tag", "midmean", "midmax")
EVAL_CONDITIONS = ("noise_white@10", "noise_pink@10", "mp3@16")
AUG_CHOICES = (("noise_white", 5.0, 20.0), ("noise_pink", 5.0, 20.0), ("mp3", 16.0, 48.0))
GENRES = ("blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock")


@dataclass(frozen=True)
class Clip:
    path: Path
    label: str
    split: str


def read_manifest(root: str | os.PathLike) -> list[Clip]:
    """The clips of ``root/manifest.csv`` (path,label,split,note), in file order."""
    root = Path(root)
    with open(root / "manifest.csv", newline="") as fh:
        return [Clip(root / r["path"], r["label"], r["split"]) for r in csv.DictReader(fh)]


def aug_condition(copy: int) -> str:
    """The condition name of training copy ``copy`` (0-based): ``aug``, ``aug2``, ``aug3`` ..."""
    return "aug" if copy == 0 else f"aug{copy + 1}"


def degrade(y: np.ndarray, condition: str, index: int) -> np.ndarray:
    """``y`` (16 kHz) under ``condition`` (see the module docstring); seeded by the clip's index."""
    if condition == "clean":
        return y
    rng = np.random.default_rng([20261205, index, sum(map(ord, condition))])
    if condition.startswith("aug"):  # "aug", "aug2", ...: one independent draw per copy
        name, lo, hi = AUG_CHOICES[int(rng.integers(len(AUG_CHOICES)))]
        return apply(name, float(rng.uniform(lo, hi)), y, SR, rng)
    name, level = condition.split("@")
    return apply(name, float(level), y, SR, rng)


def patch_outputs(y: np.ndarray, nets: tuple[str, ...] = ("msd", "mtt")) -> dict[str, np.ndarray]:
    """Every per-patch output of the networks ``nets`` for 16 kHz audio: ``{"msd_pen": (n, 200), ...}``."""
    patches = MusicnnMSDExtractor().patches(y)
    network.configure_threads()
    out: dict[str, np.ndarray] = {}
    for prefix, model in NETS:
        if prefix not in nets:
            continue
        res = network.run(network.load_musicnn(model), patches, midend=True, batch_size=16)
        out[f"{prefix}_pen"] = res["penultimate"]
        out[f"{prefix}_tag"] = res["taggram"]
        out[f"{prefix}_midmean"] = res["mean_pool"]
        out[f"{prefix}_midmax"] = res["max_pool"]
    return {k: v.astype(np.float32) for k, v in out.items()}


def eval_subset(clips: list[Clip]) -> np.ndarray:
    """The clips degraded for the robustness check (CPU budget): every clip of the small genres and
    every third clip of the large ones (50 or more clips), as indices into ``clips``."""
    labels = [c.label for c in clips]
    out: list[int] = []
    for g in sorted(set(labels)):
        idx = [i for i, lab in enumerate(labels) if lab == g]
        out += idx[::3] if len(idx) >= 50 else idx
    return np.array(sorted(out), dtype=np.int64)


def all_outputs(
    clips: list[Clip],
    condition: str,
    *,
    cache_dir: str | os.PathLike | None = None,
    nets: tuple[str, ...] = ("msd",),
) -> dict[str, np.ndarray]:
    """:func:`outputs` of every clip under ``condition``, assembled from two cached parts: the
    :func:`eval_subset` clips (shared with earlier runs) and the rest; rows ordered by clip."""
    sub = eval_subset(clips)
    rest = np.setdiff1d(np.arange(len(clips)), sub)
    parts = [outputs(clips, condition, cache_dir=cache_dir, nets=nets, subset=s) for s in (sub, rest)]
    merged = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    order = np.argsort(merged["clip"], kind="stable")
    return {k: v[order] for k, v in merged.items()}


def clips_key(clips: list[Clip]) -> str:
    """A short digest of the clip list (paths and labels): the training data's fingerprint."""
    return hashlib.sha256("\n".join(f"{c.path.name}|{c.label}" for c in clips).encode()).hexdigest()[:12]


def cache_path(
    cache_dir: Path,
    clips: list[Clip],
    condition: str,
    nets: tuple[str, ...],
    subset: np.ndarray | None = None,
) -> Path:
    key = hashlib.sha256("\n".join(f"{c.path}|{c.label}" for c in clips).encode()).hexdigest()[:12]
    tag = "" if tuple(nets) == ("msd", "mtt") else "_" + "-".join(nets)
    if subset is not None:
        tag += "_sub" + hashlib.sha256(np.asarray(subset, dtype=np.int64).tobytes()).hexdigest()[:6]
    return cache_dir / f"gtzan_musicnn_{condition.replace('@', '_')}{tag}_{key}.npz"


def outputs(
    clips: list[Clip],
    condition: str = "clean",
    *,
    cache_dir: str | os.PathLike | None = None,
    verbose: bool = True,
    nets: tuple[str, ...] = ("msd", "mtt"),
    subset: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Per-patch outputs of every clip (or of the clips ``subset``) under ``condition``, stacked: keys of
    :func:`patch_outputs` plus ``clip`` (n_patches,) the clip index of each row (into ``clips``). Cached
    in ``cache_dir`` when given."""
    path = cache_path(Path(cache_dir), clips, condition, nets, subset) if cache_dir is not None else None
    if path is not None and path.exists():
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    parts: dict[str, list[np.ndarray]] = {}
    t0 = time.perf_counter()
    todo = range(len(clips)) if subset is None else [int(i) for i in subset]
    for done, i in enumerate(todo):
        clip = clips[i]
        y, _ = load(clip.path, sr=SR)
        res = patch_outputs(degrade(y, condition, i), nets)
        for k, v in res.items():
            parts.setdefault(k, []).append(v)
        parts.setdefault("clip", []).append(np.full(len(v), i, dtype=np.int32))
        if verbose and (done + 1) % 50 == 0:
            print(
                f"  [{condition}] {done + 1}/{len(todo)} clips, {time.perf_counter() - t0:.0f} s", flush=True
            )
    data = {k: np.concatenate(v, axis=0) for k, v in parts.items()}
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, **data)
    return data
