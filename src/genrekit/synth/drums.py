"""Drum voices (swept sines and filtered noise), kits, groove patterns and the swing warp of the beat grid."""

from __future__ import annotations

import math
import tomllib
from importlib import resources

import numpy as np

from genrekit.errors import ConfigError
from genrekit.synth.voices import filt


def _t(n: int, sr: int) -> np.ndarray:
    return np.arange(n, dtype=np.float32) / np.float32(sr)


def kick(sr: int, rng: np.random.Generator, *, f_hi: float = 150.0, f_lo: float = 50.0, sweep_s: float = 0.03,
         decay_s: float = 0.25, click: float = 0.3, amount: float = 1.0) -> np.ndarray:
    """A kick drum: a sine swept down from ``f_hi`` to ``f_lo`` with a beater click, shape (k,) float32."""
    n = int(decay_s * 5 * sr)
    t = _t(n, sr)
    f = f_lo + (f_hi - f_lo) * np.exp(-t / sweep_s)
    y = np.sin(2 * np.pi * np.cumsum(f) / sr) * np.exp(-t / decay_s)
    if click:
        y += click * filt(rng.standard_normal(n), sr, 1500.0, "high", 1) * np.exp(-t / 0.004)
    if amount > 1:
        y = np.tanh(amount * y) / math.tanh(amount)
    return y.astype(np.float32)


def snare(sr: int, rng: np.random.Generator, *, tone_hz: float = 190.0, decay_s: float = 0.15,
          noise: float = 0.7, low_hz: float = 1500.0) -> np.ndarray:
    """A snare: two damped drum modes plus band-passed noise (the wires), shape (k,) float32."""
    n = int(decay_s * 5 * sr)
    t = _t(n, sr)
    body = (np.sin(2 * np.pi * tone_hz * t) + 0.5 * np.sin(2 * np.pi * 1.6 * tone_hz * t)) * np.exp(-t / 0.05)
    wires = filt(rng.standard_normal(n), sr, (low_hz, 4.0 * low_hz), "band", 1) * np.exp(-t / decay_s)
    return ((1 - noise) * body + noise * 1.5 * wires).astype(np.float32)


def clap(sr: int, rng: np.random.Generator, *, decay_s: float = 0.12) -> np.ndarray:
    """A hand clap: three quick noise bursts and a tail, band-passed around 1-2.5 kHz, shape (k,)."""
    n = int((decay_s * 5 + 0.03) * sr)
    t = _t(n, sr)
    env = np.exp(-t / decay_s)
    for dt in (0.0, 0.011, 0.022):
        env += np.where(t >= dt, np.exp(-(t - dt) / 0.005), 0.0)
    return (filt(rng.standard_normal(n), sr, (900.0, 2600.0), "band", 1) * env).astype(np.float32)


_METAL_RATIOS = np.array([1.0, 1.342, 1.2312, 1.6532, 1.9523, 2.1523])


def hat(sr: int, rng: np.random.Generator, *, decay_s: float = 0.05, base_hz: float = 3300.0,
        hp_hz: float = 6500.0) -> np.ndarray:
    """A hi-hat / cymbal: inharmonic square partials plus noise, high-passed; shape (k,) float32."""
    n = int(decay_s * 5 * sr) + 16
    t = _t(n, sr)
    metal = np.sign(np.sin(2 * np.pi * base_hz / 8 * _METAL_RATIOS[:, None] * t[None, :])).sum(axis=0)
    y = 0.5 * metal / 6 + rng.standard_normal(n)
    y = filt(filt(y, sr, hp_hz, "high", 2), sr, 1.6 * hp_hz, "low", 1)
    return (y * np.exp(-t / decay_s) * np.minimum(t / 0.0015, 1)).astype(np.float32)


def ride(sr: int, rng: np.random.Generator, *, decay_s: float = 1.0, bell: float = 0.3) -> np.ndarray:
    """A ride cymbal: dense inharmonic partials, a bell tone and a long noise wash, shape (k,) float32."""
    n = int(min(decay_s * 3, 3.0) * sr)
    t = np.arange(n, dtype=np.float32) / np.float32(sr)
    freqs = np.array([2210.0, 3132.0, 3843.0, 4370.0, 5012.0, 2720.0], dtype=np.float32)
    part = np.sin(2 * np.pi * freqs[:, None] * t[None, :]).sum(axis=0) / 6
    wash = filt(rng.standard_normal(n), sr, (3000.0, 8000.0), "band", 1)
    b = np.sin(2 * np.pi * 780 * t) + 0.6 * np.sin(2 * np.pi * 1860 * t)
    y = (0.4 * part + wash) * np.exp(-t / decay_s) * (1 + 3 * np.exp(-t / 0.01))
    y += bell * b * np.exp(-t / 0.35)
    return (y * 0.5).astype(np.float32)


def crash(sr: int, rng: np.random.Generator, *, decay_s: float = 1.2) -> np.ndarray:
    """A crash cymbal: bright noise with a long decay, shape (k,) float32."""
    n = int(min(decay_s * 3, 3.0) * sr)
    t = _t(n, sr)
    y = filt(rng.standard_normal(n), sr, (2500.0, 9000.0), "band", 1) * np.exp(-t / decay_s)
    return (y * np.minimum(t / 0.003, 1.0)).astype(np.float32)


def rim(sr: int, rng: np.random.Generator, *, tone_hz: float = 1700.0) -> np.ndarray:
    """A rim shot / cross-stick: a short woody click, shape (k,) float32."""
    n = int(0.08 * sr)
    t = _t(n, sr)
    y = np.sin(2 * np.pi * tone_hz * t) * np.exp(-t / 0.012)
    y += 0.8 * np.sin(2 * np.pi * 0.47 * tone_hz * t) * np.exp(-t / 0.02)
    y += 0.5 * filt(rng.standard_normal(n), sr, (2000.0, 6000.0), "band", 1) * np.exp(-t / 0.004)
    return y.astype(np.float32)


def tom(sr: int, rng: np.random.Generator, *, f_hz: float = 110.0) -> np.ndarray:
    """A tom: a sine falling from 1.4x to its pitch, shape (k,) float32."""
    return kick(sr, rng, f_hi=1.4 * f_hz, f_lo=f_hz, sweep_s=0.05, decay_s=0.22, click=0.15)


def brush(sr: int, rng: np.random.Generator, *, dur_s: float = 0.3) -> np.ndarray:
    """A brush swish on a snare: band-passed noise with a slow rise and fall, shape (k,) float32."""
    n = int(dur_s * sr)
    t = _t(n, sr)
    env = np.sin(np.pi * t / dur_s) ** 2
    return (filt(rng.standard_normal(n), sr, (1500.0, 5000.0), "band", 1) * env).astype(np.float32)


def _kit(kind: str, sr: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Build the drum voices of a kit, with small random variations of tuning and decay.

    Each kit is spelled out as a table of voice calls on purpose: the kits share the calls' shape, not
    their tunings, and the order of the random draws is part of every seed's known answer.
    """
    u = rng.uniform
    if kind == "none":
        return {}
    k: dict[str, np.ndarray] = {
        "hat": hat(sr, rng, decay_s=u(0.03, 0.06)),
        "ohat": hat(sr, rng, decay_s=u(0.18, 0.3)),
        "crash": crash(sr, rng, decay_s=u(0.9, 1.5)),
        "ride": ride(sr, rng, decay_s=u(0.8, 1.4), bell=u(0.1, 0.4)),
        "tom_hi": tom(sr, rng, f_hz=u(180, 220)),
        "tom_mid": tom(sr, rng, f_hz=u(130, 160)),
        "tom_lo": tom(sr, rng, f_hz=u(85, 110)),
        "rim": rim(sr, rng, tone_hz=u(1400, 2000)),
    }
    if kind in ("acoustic", "rock", "country"):
        k["kick"] = kick(sr, rng, f_hi=u(120, 160), f_lo=u(45, 60), decay_s=u(0.2, 0.32), click=u(0.1, 0.3))
        k["snare"] = snare(sr, rng, tone_hz=u(170, 220), decay_s=u(0.12, 0.2), noise=u(0.5, 0.75))
    elif kind == "jazz":
        k["kick"] = kick(sr, rng, f_hi=u(110, 130), f_lo=u(60, 75), decay_s=u(0.25, 0.4), click=0.05)
        k["snare"] = snare(sr, rng, tone_hz=u(220, 280), decay_s=u(0.1, 0.16), noise=u(0.4, 0.6))
        k["hat"] = hat(sr, rng, decay_s=u(0.04, 0.07), hp_hz=4500.0)
    elif kind == "brushes":
        k["kick"] = kick(sr, rng, f_hi=u(100, 120), f_lo=u(55, 70), decay_s=u(0.25, 0.35), click=0.0)
        k["snare"] = brush(sr, rng, dur_s=u(0.05, 0.08))
        k["swish"] = brush(sr, rng, dur_s=u(0.25, 0.4))
        k["hat"] = hat(sr, rng, decay_s=u(0.04, 0.07), hp_hz=4500.0)
    elif kind == "metal":
        k["kick"] = kick(sr, rng, f_hi=u(160, 200), f_lo=u(50, 60), decay_s=u(0.1, 0.15), click=u(0.6, 1.0))
        k["snare"] = snare(sr, rng, tone_hz=u(200, 260), decay_s=u(0.15, 0.22), noise=u(0.6, 0.8),
                           low_hz=2000.0)
        k["china"] = crash(sr, rng, decay_s=u(0.5, 0.8))
    elif kind == "disco":
        k["kick"] = kick(sr, rng, f_hi=u(130, 170), f_lo=u(48, 58), decay_s=u(0.16, 0.24), click=u(0.2, 0.4))
        k["snare"] = snare(sr, rng, tone_hz=u(180, 220), decay_s=u(0.12, 0.18))
        k["clap"] = clap(sr, rng, decay_s=u(0.08, 0.14))
    elif kind == "pop":
        k["kick"] = kick(sr, rng, f_hi=u(140, 180), f_lo=u(45, 55), decay_s=u(0.18, 0.3), click=u(0.3, 0.5),
                         amount=u(1.5, 3.0))
        k["snare"] = snare(sr, rng, tone_hz=u(180, 230), decay_s=u(0.14, 0.22), low_hz=2500.0)
        k["clap"] = clap(sr, rng, decay_s=u(0.1, 0.16))
        k["shaker"] = hat(sr, rng, decay_s=u(0.02, 0.035), hp_hz=7000.0)
    elif kind == "boombap":
        k["kick"] = filt(kick(sr, rng, f_hi=u(110, 140), f_lo=u(45, 55), decay_s=u(0.22, 0.35), click=0.5,
                              amount=u(2, 4)), sr, 3000.0, "low")
        k["snare"] = filt(snare(sr, rng, tone_hz=u(170, 210), decay_s=u(0.14, 0.22), noise=0.65,
                                low_hz=1200.0), sr, 6000.0, "low")
        k["hat"] = hat(sr, rng, decay_s=u(0.025, 0.045), hp_hz=5000.0)
    elif kind == "808":
        k["kick"] = kick(sr, rng, f_hi=u(90, 120), f_lo=u(42, 50), sweep_s=0.05, decay_s=u(0.35, 0.6),
                         click=0.1, amount=u(1.5, 3))
        k["snare"] = clap(sr, rng, decay_s=u(0.12, 0.2))
        k["hat"] = hat(sr, rng, decay_s=u(0.015, 0.03), hp_hz=7500.0)
    elif kind == "reggae":
        k["kick"] = kick(sr, rng, f_hi=u(100, 130), f_lo=u(45, 55), decay_s=u(0.25, 0.4), click=0.1)
        k["snare"] = snare(sr, rng, tone_hz=u(300, 400), decay_s=u(0.08, 0.12), noise=u(0.3, 0.5))
    else:  # pragma: no cover - guarded by the drawers
        raise ConfigError(f"unknown drum kit {kind!r}")
    return k


_VEL = {".": 0.0, "g": 0.28, "o": 0.55, "x": 0.8, "X": 1.0}


#: Every drum voice a kit may hold (see :func:`_kit`); a groove names only these.
_VOICES = ("kick", "snare", "hat", "ohat", "ride", "crash", "china", "rim", "clap", "shaker", "swish",
           "tom_hi", "tom_mid", "tom_lo")


_GROOVES_FILE = "grooves.toml"


def _parse_grooves(text: str) -> tuple[dict[str, dict[str, str]], frozenset[str]]:
    """Parse and check the groove library, the text of ``grooves.toml`` (a drum-machine grid).

    Returns
    -------
    grooves : dict of str to dict of str to str
        Groove -> drum voice -> step pattern, in the file's order (the order the voices are played in).
    phrase_crash : frozenset of str
        The grooves that crash on the first downbeat and after every fill.

    Raises
    ------
    ConfigError
        When a groove names an unknown voice, a pattern is empty, too long or has a character other
        than the velocity marks, ``phrase_crash`` is not a boolean, or the text is not TOML.
    """
    try:
        tables = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{_GROOVES_FILE} is not valid TOML: {exc}") from None
    grooves: dict[str, dict[str, str]] = {}
    crash: set[str] = set()
    for name, table in tables.items():
        if not isinstance(table, dict):
            raise ConfigError(f"{_GROOVES_FILE}: {name} = {table!r} stands outside a [groove] table")
        voices: dict[str, str] = {}
        for key, val in table.items():
            if key == "phrase_crash" and isinstance(val, bool):
                if val:
                    crash.add(name)
            elif key in _VOICES and isinstance(val, str) and 0 < len(val) <= 64 and set(val) <= _VEL.keys():
                voices[key] = val
            else:
                raise ConfigError(
                    f"{_GROOVES_FILE}: [{name}] {key} = {val!r}: a groove holds drum voices "
                    f"({', '.join(_VOICES)}) with patterns of 1-64 steps in {''.join(_VEL)!r}, "
                    f"and phrase_crash = true or false"
                )
        grooves[name] = voices
    return grooves, frozenset(crash)


#: Drum grooves: voice -> pattern, one character per sixteenth (the pattern loops), and the grooves
#: that crash on each phrase's downbeat; the grid itself is ``grooves.toml`` next to this module.
GROOVES, _CRASH_GROOVES = _parse_grooves(
    resources.files(__package__).joinpath(_GROOVES_FILE).read_text(encoding="utf-8")
)


def pattern_beats(
    pattern: str, total_beats: float, *, steps_per_beat: int = 4
) -> tuple[np.ndarray, np.ndarray]:
    """Loop a step pattern over ``[0, total_beats)``; return onset beats (k,) and velocities (k,)."""
    v = np.array([_VEL[ch] for ch in pattern])
    on = np.flatnonzero(v)
    period = len(pattern) / steps_per_beat
    reps = int(math.ceil(total_beats / period))
    beats = (np.arange(reps)[:, None] * period + on[None, :] / steps_per_beat).ravel()
    vels = np.tile(v[on], reps)
    keep = beats < total_beats
    return beats[keep], vels[keep]


def swing_warp(beats: np.ndarray, swing: float, unit: int) -> np.ndarray:
    """Move the off-beat of each swung pair (eighths if ``unit`` is 8, sixteenths if 16) to ``swing``.

    Positions are warped piecewise-linearly inside each pair, so a straight sixteenth grid maps onto the
    swung one and on-beats never move.
    """
    if abs(swing - 0.5) < 1e-9:
        return np.asarray(beats, dtype=float)
    pair = 1.0 if unit == 8 else 0.5
    q, f = np.divmod(np.asarray(beats, dtype=float) / pair, 1.0)
    f = np.where(f < 0.5, f * (swing / 0.5), swing + (f - 0.5) * ((1.0 - swing) / 0.5))
    return (q + f) * pair


def place(buf: np.ndarray, kernel: np.ndarray, starts: np.ndarray, gains: np.ndarray) -> None:
    """Add ``gain * kernel`` at each start sample into ``buf`` (in place), clipping at both ends."""
    n, m = len(buf), len(kernel)
    for s, g in zip(starts.tolist(), gains.tolist(), strict=True):
        if s >= n or s + m <= 0 or g == 0.0:
            continue
        a, b = max(s, 0), min(s + m, n)
        buf[a:b] += g * kernel[a - s : b - s]
