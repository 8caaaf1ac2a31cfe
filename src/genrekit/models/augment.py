"""Data augmentation for spectrogram segments: pure functions and the switchable :class:`Augmenter`.

Every function works on a batch of feature matrices ``x`` of shape ``(batch, bands, frames)`` (time on
the last axis) and returns a new array; random choices come from an explicit ``np.random.Generator``.
The trainer in :mod:`genrekit.models.neural` applies them to training batches only, in this order::

    crop -> reverse -> gain -> noise      on the raw features (dB, MFCC or musicnn log-compressed mel)
    standardise per band
    specaugment                           masks set to 0 = the training mean of the band
    mixup                                 on inputs and one-hot targets

Gain and noise act on the *sound* the features describe, so they need to know the feature scale:

``"db"``
    ``10*log10(power)`` (the ``logmel`` extractor). A gain of ``g`` dB adds ``g`` to every cell;
    noise is added in the power domain.
``"mfcc"``
    orthonormal DCT-II over ``n_mels`` dB bands, first ``n_mfcc`` rows (the ``mfcc`` extractor). A gain of
    ``g`` dB adds ``g * sqrt(n_mels)`` to coefficient 0 only (the DCT of a constant); for noise the
    cepstrum is zero-padded to ``n_mels`` and inverted (the smoothed dB envelope the coefficients keep),
    noise is added in power, and the result transformed back and truncated.
``"log1p"``
    ``log10(1 + 10000 * power)`` (musicnn's input, the ``musicnn-mel`` extractor).

Noise is white at a signal-to-noise ratio drawn per example from ``snr_db``: its expected power per
cell is the mean power of the example divided by ``10**(snr/10)`` (the mel filters are area-normalised,
so white noise has equal expected power in every band), with gamma-distributed cell-to-cell spread.

"Random crop within the track" cannot cut new audio from features that are already computed, so it is
done with the neighbouring segments of the same track: a window of the segment's length starting at a
random frame of the segment and running into the next segment (or from the previous one into it), i.e.
a time shift of up to one segment within the track, exact up to the frame at the segment boundary.
When a segment has no neighbour (one-segment tracks, or rows without a track id) a random sub-window of
at least ``crop_min_fraction`` of the frames is taken and stretched back to the full width by linear
interpolation (a crop plus a mild time stretch).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import scipy.fft

from genrekit.config import N_MELS
from genrekit.errors import ConfigError

__all__ = [
    "AUGMENTATIONS",
    "SCALES",
    "AugmentConfig",
    "Augmenter",
    "add_noise",
    "crop_resize",
    "freq_mask",
    "from_power",
    "mixup",
    "parse_augment",
    "random_gain",
    "spec_augment",
    "time_mask",
    "time_reverse",
    "to_power",
    "window_across",
]

#: Augmentation names, in the order they are applied.
AUGMENTATIONS: tuple[str, ...] = ("crop", "reverse", "gain", "noise", "specaugment", "mixup")
#: Feature scales gain and noise understand (see the module docstring).
SCALES: tuple[str, ...] = ("db", "mfcc", "log1p")
_LOG1P_C = 10000.0


def parse_augment(spec: str | Sequence[str] | None) -> tuple[str, ...]:
    """Validate an augmentation list given as ``"reverse,specaugment"`` or a sequence of names.

    Returns
    -------
    tuple of str
        The names, de-duplicated, in application order (:data:`AUGMENTATIONS`).

    Raises
    ------
    ConfigError
        An unknown name (the message lists the valid ones).
    """
    if spec is None:
        return ()
    items = spec.replace(";", ",").split(",") if isinstance(spec, str) else list(spec)
    names = {str(s).strip().lower() for s in items} - {"", "none"}
    unknown = sorted(names - set(AUGMENTATIONS))
    if unknown:
        raise ConfigError(f"unknown augmentation(s) {unknown}; valid: {', '.join(AUGMENTATIONS)}")
    return tuple(a for a in AUGMENTATIONS if a in names)


def _check_batch(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 3:
        raise ConfigError(f"augmentations take a batch of shape (batch, bands, frames), got shape {x.shape}")
    return x


# ---------------------------------------------------------------------------------------- scale helpers
def to_power(x: np.ndarray, *, scale: str, n_mels: int = N_MELS) -> np.ndarray:
    """Features -> (mel band) power, float64.

    Parameters
    ----------
    x : np.ndarray, shape (batch, bands, frames)
    scale : {"db", "mfcc", "log1p"}
    n_mels : int
        Mel bands behind the cepstrum (``"mfcc"`` only); the result then has ``n_mels`` bands.

    Returns
    -------
    np.ndarray, float64, shape (batch, bands or n_mels, frames)
    """
    x = np.asarray(x, dtype=np.float64)
    if scale == "db":
        return 10.0 ** (x / 10.0)
    if scale == "mfcc":
        if x.shape[1] > n_mels:
            raise ConfigError(f"{x.shape[1]} MFCC rows cannot come from n_mels={n_mels} bands")
        full = np.zeros((x.shape[0], n_mels, x.shape[2]))
        full[:, : x.shape[1]] = x
        return 10.0 ** (scipy.fft.idct(full, axis=1, type=2, norm="ortho") / 10.0)
    if scale == "log1p":
        return (10.0**x - 1.0) / _LOG1P_C
    raise ConfigError(f"unknown feature scale {scale!r}; valid: {', '.join(SCALES)}")


def from_power(p: np.ndarray, *, scale: str, n_bands: int | None = None) -> np.ndarray:
    """Inverse of :func:`to_power`; ``n_bands`` = MFCC rows to keep (``"mfcc"`` only).

    Returns
    -------
    np.ndarray, float64, shape (batch, bands, frames)
    """
    p = np.maximum(np.asarray(p, dtype=np.float64), 1e-30)
    if scale == "db":
        return 10.0 * np.log10(p)
    if scale == "mfcc":
        c = scipy.fft.dct(10.0 * np.log10(p), axis=1, type=2, norm="ortho")
        return c[:, : (n_bands or c.shape[1])]
    if scale == "log1p":
        return np.log10(1.0 + _LOG1P_C * p)
    raise ConfigError(f"unknown feature scale {scale!r}; valid: {', '.join(SCALES)}")


# ---------------------------------------------------------------------------------------- pure functions
def time_reverse(x: np.ndarray) -> np.ndarray:
    """Flip every matrix in time (the spectrogram of the time-reversed segment, up to window asymmetry).

    Parameters
    ----------
    x : np.ndarray, shape (batch, bands, frames)

    Returns
    -------
    np.ndarray, same shape; applying it twice gives ``x`` back.
    """
    return np.ascontiguousarray(_check_batch(x)[..., ::-1])


def _mask_ranges(
    x: np.ndarray, starts: np.ndarray, widths: np.ndarray, *, axis: int, value: float
) -> np.ndarray:
    """A copy of ``x`` (batch, bands, frames) with ``[start, start + width)`` along ``axis`` set to ``value``.

    ``axis`` 1 masks bands, 2 masks frames; ``starts`` and ``widths`` have shape (batch,).
    """
    out = np.array(_check_batch(x), copy=True)
    i = np.arange(out.shape[axis])
    m = (i[None, :] >= np.asarray(starts)[:, None]) & (i[None, :] < (np.asarray(starts) + widths)[:, None])
    out[np.broadcast_to(np.expand_dims(m, 3 - axis), out.shape)] = value
    return out


def time_mask(x: np.ndarray, starts: np.ndarray, widths: np.ndarray, *, value: float = 0.0) -> np.ndarray:
    """Set frames ``[start, start + width)`` of each example to ``value``.

    Parameters
    ----------
    x : np.ndarray, shape (batch, bands, frames)
    starts, widths : np.ndarray of int, shape (batch,)

    Returns
    -------
    np.ndarray, same shape
    """
    return _mask_ranges(x, starts, widths, axis=2, value=value)


def freq_mask(x: np.ndarray, starts: np.ndarray, widths: np.ndarray, *, value: float = 0.0) -> np.ndarray:
    """Set bands ``[start, start + width)`` of each example to ``value``: :func:`time_mask` across bands."""
    return _mask_ranges(x, starts, widths, axis=1, value=value)


def _random_spans(
    rng: np.random.Generator, n: int, size: int, max_fraction: float
) -> tuple[np.ndarray, np.ndarray]:
    max_w = int(np.floor(max_fraction * size))
    widths = rng.integers(0, max_w + 1, size=n) if max_w > 0 else np.zeros(n, dtype=np.int64)
    starts = rng.integers(0, np.maximum(size - widths, 0) + 1)
    return starts, widths


def spec_augment(
    x: np.ndarray,
    rng: np.random.Generator,
    *,
    time_masks: int = 2,
    time_max: float = 0.1,
    freq_masks: int = 2,
    freq_max: float = 0.15,
    value: float = 0.0,
) -> np.ndarray:
    """SpecAugment masks (Park et al. 2019, no time warping): random time and frequency bands -> ``value``.

    Each example gets ``time_masks`` time masks of width uniform in ``[0, time_max * frames]`` and
    ``freq_masks`` frequency masks of width uniform in ``[0, freq_max * bands]``, at uniform positions.

    Returns
    -------
    np.ndarray, same shape as ``x``
    """
    out = _check_batch(x)
    n, bands, frames = out.shape
    for _ in range(time_masks):
        out = time_mask(out, *_random_spans(rng, n, frames, time_max), value=value)
    for _ in range(freq_masks):
        out = freq_mask(out, *_random_spans(rng, n, bands, freq_max), value=value)
    return out


def random_gain(
    x: np.ndarray, gains_db: np.ndarray, *, scale: str = "db", n_mels: int = N_MELS
) -> np.ndarray:
    """Change the level of each example by ``gains_db`` (the features of the louder or quieter sound).

    Parameters
    ----------
    x : np.ndarray, shape (batch, bands, frames)
    gains_db : np.ndarray, shape (batch,)
    scale : {"db", "mfcc", "log1p"}
    n_mels : int
        Mel bands behind the cepstrum (``"mfcc"``).

    Returns
    -------
    np.ndarray, float32, same shape
    """
    x = _check_batch(x)
    g = np.asarray(gains_db, dtype=np.float64)
    if scale == "db":
        out = x + g[:, None, None]
    elif scale == "mfcc":
        out = np.array(x, dtype=np.float64, copy=True)
        out[:, 0, :] += g[:, None] * np.sqrt(n_mels)
    elif scale == "log1p":
        out = from_power(to_power(x, scale=scale) * 10.0 ** (g[:, None, None] / 10.0), scale=scale)
    else:
        raise ConfigError(f"unknown feature scale {scale!r}; valid: {', '.join(SCALES)}")
    return np.asarray(out, dtype=np.float32)


def add_noise(
    x: np.ndarray,
    snr_db: np.ndarray,
    rng: np.random.Generator,
    *,
    scale: str = "db",
    n_mels: int = N_MELS,
    spread: float = 4.0,
) -> np.ndarray:
    """Add white noise to each example at the signal-to-noise ratio ``snr_db`` (per example).

    The noise power of each cell is ``mean_power / 10**(snr/10)`` times a Gamma(``spread``, 1/``spread``)
    variate (mean 1; larger ``spread`` is smoother), added to the power the features describe.

    Returns
    -------
    np.ndarray, float32, same shape as ``x``
    """
    x = _check_batch(x)
    p = to_power(x, scale=scale, n_mels=n_mels)
    level = p.mean(axis=(1, 2)) / 10.0 ** (np.asarray(snr_db, dtype=np.float64) / 10.0)
    noise = rng.gamma(spread, 1.0 / spread, size=p.shape) * level[:, None, None]
    return from_power(p + noise, scale=scale, n_bands=x.shape[1]).astype(np.float32)


def window_across(first: np.ndarray, second: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """The ``frames``-long window starting ``offset`` frames into ``first`` and running on into ``second``.

    Parameters
    ----------
    first, second : np.ndarray, shape (batch, bands, frames)
        Consecutive segments of the same track.
    offsets : np.ndarray of int, shape (batch,)
        In ``[0, frames]``; 0 gives ``first``, ``frames`` gives ``second``.

    Returns
    -------
    np.ndarray, same shape
    """
    first, second = _check_batch(first), _check_batch(second)
    frames = first.shape[2]
    both = np.concatenate([first, second], axis=2)
    idx = np.clip(np.asarray(offsets), 0, frames)[:, None] + np.arange(frames)[None, :]
    return np.take_along_axis(both, np.broadcast_to(idx[:, None, :], first.shape), axis=2)


def crop_resize(x: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Take frames ``[start, start + length)`` of each example and stretch them back to ``frames`` frames.

    Linear interpolation in time; ``length == frames`` (and ``start == 0``) returns the example unchanged.

    Returns
    -------
    np.ndarray, float32, same shape as ``x``
    """
    x = _check_batch(x)
    n, _, frames = x.shape
    out = np.empty(x.shape, dtype=np.float32)
    for i in range(n):
        s, ln = int(starts[i]), int(lengths[i])
        pos = s + np.linspace(0.0, ln - 1.0, frames) if frames > 1 else np.array([float(s)])
        lo = np.clip(np.floor(pos).astype(np.int64), 0, frames - 1)
        hi = np.minimum(lo + 1, frames - 1)
        w = (pos - lo)[None, :]
        out[i] = x[i][:, lo] * (1.0 - w) + x[i][:, hi] * w
    return out


def mixup(
    x: np.ndarray, y: np.ndarray, rng: np.random.Generator, *, alpha: float = 0.3
) -> tuple[np.ndarray, np.ndarray]:
    """Mixup (Zhang et al. 2018): convex combinations of example pairs and of their targets.

    Parameters
    ----------
    x : np.ndarray, shape (batch, ...)
    y : np.ndarray, float, shape (batch, n_classes)
        Target distributions (one-hot for plain labels).
    alpha : float
        Beta(alpha, alpha) parameter of the mixing weight, drawn per example.

    Returns
    -------
    x_mixed : np.ndarray, float32, same shape as ``x``
    y_mixed : np.ndarray, float32, same shape as ``y``, rows still sum to 1
    """
    n = len(x)
    lam = rng.beta(alpha, alpha, size=n) if alpha > 0 else np.ones(n)
    perm = rng.permutation(n)
    lx = lam.reshape((n,) + (1,) * (np.ndim(x) - 1))
    x_m = lx * x + (1.0 - lx) * x[perm]
    y_m = lam[:, None] * y + (1.0 - lam[:, None]) * y[perm]
    return x_m.astype(np.float32), y_m.astype(np.float32)


# ------------------------------------------------------------------------------------------- augmenter
@dataclass(frozen=True)
class AugmentConfig:
    """Strengths and probabilities of the augmentations (each applied per example with its ``*_p``)."""

    reverse_p: float = 0.5
    crop_p: float = 1.0
    crop_min_fraction: float = 0.8
    gain_p: float = 0.5
    gain_db: float = 6.0
    noise_p: float = 0.5
    snr_db: tuple[float, float] = (10.0, 30.0)
    time_masks: int = 2
    time_mask_max: float = 0.1
    freq_masks: int = 2
    freq_mask_max: float = 0.15
    mixup_alpha: float = 0.3
    n_mels: int = N_MELS

    def __post_init__(self) -> None:
        for name in ("reverse_p", "crop_p", "gain_p", "noise_p", "time_mask_max", "freq_mask_max"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ConfigError(f"augment option {name} must be in [0, 1], got {v}")
        if not 0.0 < self.crop_min_fraction <= 1.0:
            raise ConfigError(
                f"augment option crop_min_fraction must be in (0, 1], got {self.crop_min_fraction}"
            )
        if len(self.snr_db) != 2 or self.snr_db[0] > self.snr_db[1]:
            raise ConfigError(
                f"augment option snr_db must be (low, high) with low <= high, got {self.snr_db}"
            )
        if self.gain_db < 0 or self.mixup_alpha < 0 or self.time_masks < 0 or self.freq_masks < 0:
            raise ConfigError("augment options gain_db, mixup_alpha, time_masks, freq_masks must be >= 0")

    @classmethod
    def from_options(cls, options: dict[str, Any] | None) -> AugmentConfig:
        """Build from a dict of overrides (an estimator's ``augment_options``), refusing unknown keys."""
        options = dict(options or {})
        valid = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - valid)
        if unknown:
            raise ConfigError(f"unknown augment option(s) {unknown}; valid: {sorted(valid)}")
        if "snr_db" in options:
            v = options["snr_db"]
            options["snr_db"] = (float(v), float(v)) if np.isscalar(v) else tuple(float(s) for s in v)
        return cls(**options)


class Augmenter:
    """The switchable augmentations of one training run.

    Parameters
    ----------
    names : str or sequence of str
        Which augmentations are on (see :func:`parse_augment`).
    config : AugmentConfig
    scale : {"db", "mfcc", "log1p"}
        Scale of the raw features (for gain and noise).
    """

    def __init__(
        self, names: str | Sequence[str] | None, config: AugmentConfig | None = None, *, scale: str = "db"
    ):
        if scale not in SCALES:
            raise ConfigError(f"unknown feature scale {scale!r}; valid: {', '.join(SCALES)}")
        self.names = parse_augment(names)
        self.config = config or AugmentConfig()
        self.scale = scale

    def __bool__(self) -> bool:
        return bool(self.names)

    def _chosen(self, rng: np.random.Generator, n: int, p: float) -> np.ndarray:
        return rng.random(n) < p

    def crop(
        self,
        x: np.ndarray,
        rng: np.random.Generator,
        *,
        prev: np.ndarray | None = None,
        next_: np.ndarray | None = None,
        has_prev: np.ndarray | None = None,
        has_next: np.ndarray | None = None,
    ) -> np.ndarray:
        """Random crop within the track (see the module docstring); ``prev``/``next_`` are the neighbours.

        Parameters
        ----------
        x : np.ndarray, shape (batch, bands, frames)
        prev, next_ : np.ndarray, shape (batch, bands, frames), optional
            The previous and next segment of each example's track (any values where ``has_*`` is False).
        has_prev, has_next : np.ndarray of bool, shape (batch,), optional
        """
        x = _check_batch(x)
        n, _, frames = x.shape
        out = np.array(x, dtype=np.float32, copy=True)
        chosen = self._chosen(rng, n, self.config.crop_p)
        hp = np.zeros(n, bool) if has_prev is None or prev is None else np.asarray(has_prev, bool)
        hn = np.zeros(n, bool) if has_next is None or next_ is None else np.asarray(has_next, bool)
        use_next = hn & (~hp | (rng.random(n) < 0.5))
        use_prev = hp & ~use_next
        offsets = rng.integers(1, frames, size=n) if frames > 1 else np.zeros(n, np.int64)
        sel = chosen & use_next
        if sel.any():
            out[sel] = window_across(x[sel], next_[sel], offsets[sel])
        sel = chosen & use_prev
        if sel.any():
            out[sel] = window_across(prev[sel], x[sel], frames - offsets[sel])
        sel = chosen & ~hp & ~hn
        if sel.any():
            lo = max(1, int(np.ceil(self.config.crop_min_fraction * frames)))
            lengths = rng.integers(lo, frames + 1, size=int(sel.sum()))
            starts = rng.integers(0, frames - lengths + 1)
            out[sel] = crop_resize(x[sel], starts, lengths)
        return out

    def before_standardise(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Reverse, gain and noise on raw features (the caller crops: it knows the neighbours)."""
        x = np.asarray(x, dtype=np.float32)
        n = len(x)
        cfg = self.config
        if "reverse" in self.names:
            sel = self._chosen(rng, n, cfg.reverse_p)
            if sel.any():
                x = x.copy()
                x[sel] = time_reverse(x[sel])
        if "gain" in self.names:
            sel = self._chosen(rng, n, cfg.gain_p)
            if sel.any():
                x = x.copy()
                g = rng.uniform(-cfg.gain_db, cfg.gain_db, size=int(sel.sum()))
                x[sel] = random_gain(x[sel], g, scale=self.scale, n_mels=cfg.n_mels)
        if "noise" in self.names:
            sel = self._chosen(rng, n, cfg.noise_p)
            if sel.any():
                x = x.copy()
                snr = rng.uniform(cfg.snr_db[0], cfg.snr_db[1], size=int(sel.sum()))
                x[sel] = add_noise(x[sel], snr, rng, scale=self.scale, n_mels=cfg.n_mels)
        return x

    def after_standardise(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """SpecAugment masks on standardised features (a masked cell becomes the band's training mean)."""
        if "specaugment" not in self.names:
            return x
        cfg = self.config
        return spec_augment(
            x,
            rng,
            time_masks=cfg.time_masks,
            time_max=cfg.time_mask_max,
            freq_masks=cfg.freq_masks,
            freq_max=cfg.freq_mask_max,
        ).astype(np.float32, copy=False)

    def mix(self, x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Mixup when it is on; otherwise ``(x, y)`` unchanged."""
        if "mixup" not in self.names or len(x) < 2:
            return x, y
        return mixup(x, y, rng, alpha=self.config.mixup_alpha)

    def __repr__(self) -> str:
        return f"Augmenter({','.join(self.names) or 'none'}, scale={self.scale!r})"
