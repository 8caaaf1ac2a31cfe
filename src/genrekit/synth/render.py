"""Rendering clips and writing the synthetic corpus (GTZAN layout plus manifest.csv)."""

from __future__ import annotations

import csv
import math
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from genrekit.config import SAMPLE_RATE
from genrekit.errors import ConfigError
from genrekit.synth.arrange import _arrange, _Ctx, _mix
from genrekit.synth.styles import (
    GENRES,
    N_BANDS,
    StyleParams,
    _check_genre,
    draw_band,
    draw_params,
)

_PEAK = 10.0 ** (-1.0 / 20.0)  # -1 dBFS


_MIN_SR, _MAX_SR = 8000, 192000


_MAX_DURATION_S = 600.0


def _check_render_args(duration_s: float, sr: int, seed: int) -> int:
    if not (isinstance(sr, (int, np.integer)) and _MIN_SR <= sr <= _MAX_SR):
        raise ConfigError(f"sr must be an integer in [{_MIN_SR}, {_MAX_SR}] Hz, got {sr!r}")
    if not (math.isfinite(duration_s) and 0.0 < duration_s <= _MAX_DURATION_S):
        raise ConfigError(f"duration_s must be in (0, {_MAX_DURATION_S}] seconds, got {duration_s!r}")
    n = int(round(duration_s * sr))
    if n < 1:
        raise ConfigError(f"duration_s={duration_s} at sr={sr} gives no samples")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    return n


def render(genre: str, *, duration_s: float = 10.0, sr: int = SAMPLE_RATE, seed: int = 0,
           params: StyleParams | None = None) -> np.ndarray:
    """Render a clip of ``genre``.

    Parameters
    ----------
    genre : str
        One of :data:`GENRES`.
    duration_s : float
        Length in seconds; the result has exactly ``round(duration_s * sr)`` samples.
    sr : int
        Sample rate in Hz.
    seed : int
        Non-negative seed. The parameters are ``draw_params(genre, np.random.default_rng(seed))``; the
        rendering (noise, humanising) uses an independent generator derived from the same seed.
    params : StyleParams, optional
        Render these parameters instead of drawing them (e.g. a band's clip from :func:`corpus_params`).

    Returns
    -------
    numpy.ndarray
        float32, shape ``(round(duration_s * sr),)``, finite, peak at -1 dBFS.

    Raises
    ------
    ConfigError
        For an unknown genre (the message lists the valid ones), params of another genre, or a
        duration, sample rate or seed out of range.
    """
    _check_genre(genre)
    n = _check_render_args(duration_s, sr, seed)
    if params is None:
        params = draw_params(genre, np.random.default_rng(seed))
    elif params.genre != genre:
        raise ConfigError(f"params are for genre {params.genre!r}, not {genre!r}")
    rng = np.random.default_rng([int(seed), 0x5EED])
    c = _Ctx(params, int(sr), n, rng)
    _arrange(c)
    y = _mix(c)[c.pre_n : c.pre_n + n]
    pk = float(np.max(np.abs(y)))
    y = y * (_PEAK / pk) if pk > 0 else y
    return np.nan_to_num(y, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)


def clip_seed(seed: int, genre: str, index: int) -> int:
    """Seed of clip ``index`` of ``genre`` in a corpus built with ``seed`` (stable across genre lists)."""
    ss = np.random.SeedSequence([int(seed), zlib.crc32(genre.encode()), int(index)])
    return int(ss.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


def _band_name(genre: str, k: int) -> str:
    return f"{genre}-band-{k}"


def corpus_params(genre: str, index: int, *, seed: int = 0) -> StyleParams:
    """The parameters :func:`write_corpus` renders clip ``index`` of ``genre`` with (band included)."""
    _check_genre(genre)
    k = index % N_BANDS
    band_rng = np.random.default_rng([int(seed), zlib.crc32(genre.encode()), 0xBA2D, k])
    band = draw_band(genre, band_rng, _band_name(genre, k))
    return draw_params(genre, np.random.default_rng(clip_seed(seed, genre, index)), band=band)


def _write_one(path: str, genre: str, index: int, seed: int, duration_s: float, sr: int) -> str:
    import soundfile as sf

    p = corpus_params(genre, index, seed=seed)
    y = render(genre, duration_s=duration_s, sr=sr, seed=clip_seed(seed, genre, index), params=p)
    sf.write(path, y, sr, subtype="PCM_16")
    return path


def write_corpus(out_dir: str | Path, *, per_genre: int = 10, duration_s: float = 10.0, seed: int = 0,
                 sr: int = SAMPLE_RATE, genres: Sequence[str] | None = None, workers: int = 1) -> list[Path]:
    """Write a synthetic corpus in the GTZAN layout and a ``manifest.csv``.

    Files are ``out_dir/<genre>/<genre>.00000.wav`` (16-bit PCM). ``manifest.csv`` has columns
    ``path`` (relative to ``out_dir``, forward slashes), ``label``, ``artist`` (``<genre>-band-<k>``, the
    synthetic band, ``k = index % N_BANDS``) and ``track_id`` (``<genre>.00000``).

    Parameters
    ----------
    out_dir : str or Path
        Created if missing; existing files of the same names are overwritten.
    per_genre : int
        Clips per genre (>= 1).
    duration_s, sr : float, int
        Clip length and sample rate.
    seed : int
        Corpus seed; clip ``i`` of genre ``g`` uses ``clip_seed(seed, g, i)``, so adding genres or clips
        leaves existing clips unchanged.
    genres : sequence of str, optional
        Subset of :data:`GENRES` (default all), in any order; duplicates are ignored.
    workers : int
        Parallel processes via joblib when not 1 (joblib's convention: -1 = all cores); the files do not
        depend on it.

    Returns
    -------
    list of Path
        The written wav files, sorted.

    Raises
    ------
    ConfigError
        For an unknown genre or a bad ``per_genre``/``workers``/duration/sample rate/seed.
    """
    if isinstance(genres, str):
        genres = [genres]
    gs = list(dict.fromkeys(GENRES if genres is None else genres))
    if not gs:
        raise ConfigError("genres must name at least one genre")
    for g in gs:
        _check_genre(g)
    if not isinstance(per_genre, (int, np.integer)) or per_genre < 1:
        raise ConfigError(f"per_genre must be an integer >= 1, got {per_genre!r}")
    if not isinstance(workers, (int, np.integer)) or isinstance(workers, bool) or workers == 0:
        raise ConfigError(f"workers must be a non-zero integer (1 = serial, -1 = all cores), got {workers!r}")
    _check_render_args(duration_s, sr, seed)
    root = Path(out_dir)
    jobs = []
    rows = []
    for g in gs:
        (root / g).mkdir(parents=True, exist_ok=True)
        for i in range(per_genre):
            track = f"{g}.{i:05d}"
            jobs.append((str(root / g / f"{track}.wav"), g, i))
            rows.append({"path": f"{g}/{track}.wav", "label": g, "artist": _band_name(g, i % N_BANDS),
                         "track_id": track})
    if workers != 1:
        from joblib import Parallel, delayed

        Parallel(n_jobs=workers)(delayed(_write_one)(pth, g, i, seed, duration_s, sr) for pth, g, i in jobs)
    else:
        for pth, g, i in jobs:
            _write_one(pth, g, i, seed, duration_s, sr)
    rows.sort(key=lambda r: r["path"])
    with open(root / "manifest.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=["path", "label", "artist", "track_id"])
        w.writeheader()
        w.writerows(rows)
    return sorted(Path(pth) for pth, _, _ in jobs)


def chord_loop(
    duration_s: float,
    sr: int = SAMPLE_RATE,
    *,
    seed: int = 0,
    harmonics: int = 4,
    hit_every_s: float = 0.25,
    hit_level: float = 0.4,
) -> np.ndarray:
    """A quick music-like signal with no style: a four-chord loop over a bass line, with noise-burst hits.

    Each 2 s chord (roots A3, F3, C4, G3, triads of harmonic tones) sits over its root an octave down;
    a decaying noise burst of ``hit_level`` falls every ``hit_every_s``. For tests and benchmarks that
    need music-like input cheaply (no arrangement, no mix), deterministic by ``seed``.

    Returns
    -------
    np.ndarray, float32, shape (round-down(duration_s * sr),)
        Peak 0.8.
    """
    rng = np.random.default_rng(seed)
    n = int(duration_s * sr)
    t = np.arange(n) / sr
    y = np.zeros(n)
    for i, start in enumerate(np.arange(0.0, duration_s, 2.0)):
        sel = (t >= start) & (t < start + 2.0)
        root = (220.0, 174.6, 261.6, 196.0)[i % 4]
        for ratio in (1.0, 1.26, 1.5):
            for h in range(1, harmonics + 1):
                y[sel] += 0.05 / h * np.sin(2 * np.pi * root * ratio * h * t[sel])
        y[sel] += 0.15 * np.sin(2 * np.pi * root / 2 * t[sel])
    hit = int(0.05 * sr)
    for start in np.arange(0.0, duration_s - 0.1, hit_every_s):
        i0 = int(start * sr)
        y[i0 : i0 + hit] += hit_level * rng.standard_normal(hit) * np.exp(-np.arange(hit) / (0.01 * sr))
    return (0.8 * y / np.abs(y).max()).astype(np.float32)
