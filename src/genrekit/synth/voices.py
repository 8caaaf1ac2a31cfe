"""Sound sources and effects: wavetables, formants, envelopes, tones, strings, filters, drive, reverb.

Band-limited wavetables, decaying and plucked tones, a block-vectorised Karplus-Strong string: pure
functions of (pitch, length, sr, rng).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy import signal

from genrekit.synth.theory import Voice

_N_TAB = 2048


class _Timbre:
    """Harmonic amplitudes of a periodic tone; gives band-limited wavetables per fundamental."""

    def __init__(self, amps: Sequence[float] | np.ndarray) -> None:
        self.amps = np.asarray(amps, dtype=float)
        self._tables: dict[int, np.ndarray] = {}

    def table(self, f0: float, sr: int) -> np.ndarray:
        k = int(max(1, min(len(self.amps), 0.45 * sr / max(f0, 1.0))))
        tab = self._tables.get(k)
        if tab is None:
            tab = self._tables[k] = wavetable(self.amps[:k])
        return tab


def wavetable(amps: np.ndarray | Sequence[float]) -> np.ndarray:
    """Return one period (2048 samples, float32, peak 1) of ``sum_k amps[k-1] * sin(k * phase)``."""
    amps = np.asarray(amps, dtype=float)[: _N_TAB // 2 - 1]
    spec = np.zeros(_N_TAB // 2 + 1, dtype=np.complex128)
    spec[1 : len(amps) + 1] = -0.5j * _N_TAB * amps
    tab = np.fft.irfft(spec, n=_N_TAB)
    return (tab / (np.max(np.abs(tab)) + 1e-12)).astype(np.float32)


def harmonic_amps(n: int, slope: float, *, odd_only: bool = False, even_gain: float = 1.0) -> np.ndarray:
    """Return ``k ** -slope`` for k = 1..n (optionally odd harmonics only or even ones scaled), (n,)."""
    k = np.arange(1, n + 1, dtype=float)
    a = k**-slope
    if odd_only:
        a[1::2] = 0.0
    else:
        a[1::2] *= even_gain
    return a


_VOWELS: dict[str, tuple[tuple[float, float, float], ...]] = {
    # (centre Hz, bandwidth Hz, gain) per formant
    "a": ((800, 110, 1.0), (1150, 120, 0.5), (2900, 200, 0.25)),
    "e": ((450, 80, 1.0), (1900, 150, 0.45), (2600, 200, 0.3)),
    "i": ((300, 70, 1.0), (2300, 150, 0.35), (3000, 250, 0.3)),
    "o": ((450, 80, 1.0), (800, 100, 0.6), (2800, 200, 0.15)),
    "u": ((325, 60, 1.0), (700, 90, 0.3), (2500, 200, 0.1)),
    "sax": ((500, 200, 1.0), (1500, 400, 0.7), (2800, 600, 0.35)),
    "trumpet": ((1200, 400, 1.0), (2300, 500, 0.7), (3600, 700, 0.4)),
    "fiddle": ((450, 150, 0.7), (2500, 600, 1.0), (3500, 800, 0.5)),
}


def formant_amps(f0: float, sr: int, vowel: str, *, slope: float = 1.0, floor: float = 0.03) -> np.ndarray:
    """Harmonic amplitudes of a buzz at ``f0`` shaped by the resonances of ``vowel``, shape (k,)."""
    k = np.arange(1, int(max(1, 0.45 * sr / f0)) + 1, dtype=float)
    f = k * f0
    env = np.full_like(f, floor)
    for fc, bw, g in _VOWELS[vowel]:
        env += g / (1.0 + ((f - fc) / bw) ** 2)
    return env * k**-slope


def adsr(n: int, gate: int, sr: int, a: float, d: float, s: float, r: float) -> np.ndarray:
    """Attack-decay-sustain-release envelope of ``n`` samples whose key is held for ``gate`` samples.

    Linear attack over ``a`` s, exponential decay (time constant ``d``) to the sustain level ``s``, and an
    exponential release that falls about 43 dB in ``r`` s. Returns float32, shape (n,).
    """
    a, d, r = max(a, 1e-4), max(d, 1e-4), max(r, 1e-4)
    t = np.arange(n, dtype=np.float32) / np.float32(sr)
    g = min(gate, n)
    env = np.empty(n, dtype=np.float32)
    th = t[:g]
    env[:g] = np.minimum(th / a, 1.0) * (s + (1.0 - s) * np.exp(-np.maximum(th - a, 0.0) / d))
    level = float(env[g - 1]) if g > 0 else 0.0
    env[g:] = level * np.exp(-(t[g:] - (g / sr)) * (5.0 / r))
    return env


class _Ramps:
    """Per-voice cache of functions of time (phase terms, envelopes), grown on demand and sliced."""

    def __init__(self, sr: int) -> None:
        self.sr = sr
        self._c: dict[Any, np.ndarray] = {}

    def get(self, key: Any, n: int, fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        arr = self._c.get(key)
        if arr is None or len(arr) < n:
            m = max(n, self.sr, 2 * len(arr) if arr is not None else 0)
            arr = self._c[key] = fn(np.arange(m) / self.sr)
        return arr[:n]


def _gate_env(ramps: _Ramps, n: int, gate: int, held: np.ndarray, r: float) -> np.ndarray:
    """Envelope: ``held`` (the held-key shape) until ``gate``, then an exponential release over ``r`` s."""
    g = min(gate, n)
    rel = ramps.get(("release", r), n - g, lambda t: np.exp(-t * (5.0 / r)).astype(np.float32))
    level = held[g - 1] if g > 0 else 0.0
    return np.concatenate([held[:g], level * rel])


def osc_voice(sr: int, timbre: _Timbre | Callable[[float], np.ndarray], *, a: float = 0.005, d: float = 0.2,
              s: float = 0.7, r: float = 0.1, vib_hz: float = 0.0, vib_cents: float = 0.0,
              detune_cents: Sequence[float] = (0.0,), bend_st: float = 0.0, bend_s: float = 0.06,
              trem_hz: float = 0.0, trem_depth: float = 0.0) -> Voice:
    """Return a sustained wavetable voice ``voice(f0_hz, gate_samples) -> (gate + release,)`` float32.

    ``timbre`` is a :class:`_Timbre` or a function ``f0 -> harmonic amplitudes``. Vibrato, a slide up
    into the note (``bend_st`` semitones, time constant ``bend_s``), tremolo and detuned ensemble copies
    are computed in closed form.
    """
    rel = int(r * sr)
    vib = 2.0 ** (vib_cents / 1200.0) - 1.0 if vib_hz else 0.0
    bend = 1.0 - 2.0 ** (-bend_st / 12.0)
    a_, d_ = max(a, 1e-4), max(d, 1e-4)
    ramps = _Ramps(sr)

    def voice(f0: float, gate: int) -> np.ndarray:
        n = gate + rel
        t = ramps.get("t", n, lambda t: t)
        phase = t.copy()
        if vib:
            w = 2 * np.pi * vib_hz
            phase += vib * ramps.get("vib", n, lambda t: (1.0 - np.cos(w * t)) / w)
        if bend:
            phase -= bend * ramps.get("bend", n, lambda t: bend_s * (1.0 - np.exp(-t / bend_s)))
        tab = timbre.table(f0, sr) if isinstance(timbre, _Timbre) else wavetable(timbre(f0))
        out = np.zeros(n, dtype=np.float32)
        for j, det in enumerate(detune_cents):
            f = f0 * 2.0 ** (det / 1200.0)
            idx = ((phase * f + 0.371 * j) * _N_TAB).astype(np.int64)
            out += tab[idx & (_N_TAB - 1)]
        held = ramps.get("held", n, lambda t: (np.minimum(t / a_, 1.0) * (s + (1.0 - s) * np.exp(
            -np.maximum(t - a_, 0.0) / d_))).astype(np.float32))
        env = _gate_env(ramps, n, gate, held, r)
        if trem_depth:
            env = env * ramps.get("trem", n, lambda t: (1.0 - trem_depth * (0.5 + 0.5 * np.sin(
                2 * np.pi * trem_hz * t))).astype(np.float32))
        return out * (env / len(detune_cents))

    return voice


def decay_voice(sr: int, bright: _Timbre, body: _Timbre, *, tau_bright: float, tau_body: float,
                r: float = 0.08, a: float = 0.002, pitch_track: float = 0.3, trem_hz: float = 0.0,
                trem_depth: float = 0.0, detune_cents: float = 0.0) -> Voice:
    """Return a struck/plucked voice: a bright layer decaying fast over a mellow body decaying slowly.

    Covers piano, electric piano, vibraphone, plucked and synth basses. Lower notes ring longer
    (``tau_body * (220 / f0) ** pitch_track``); releasing the key damps the note within ``r`` seconds.
    """
    rel = int(r * sr)
    ramps = _Ramps(sr)

    def voice(f0: float, gate: int) -> np.ndarray:
        n = gate + rel
        t = ramps.get("t", n, lambda t: t)
        tb = tau_body * (220.0 / f0) ** pitch_track
        idx = (t * (f0 * _N_TAB)).astype(np.int64) & (_N_TAB - 1)
        e_bright = ramps.get(("exp", tau_bright), n, lambda t: np.exp(-t / tau_bright).astype(np.float32))
        x = bright.table(f0, sr)[idx] * e_bright
        e_body = ramps.get(("exp", tb), n, lambda t: np.exp(-t / tb).astype(np.float32))
        x += body.table(f0, sr)[idx] * e_body
        if detune_cents:
            f1 = f0 * 2.0 ** (detune_cents / 1200.0)
            x += 0.7 * body.table(f1, sr)[(t * (f1 * _N_TAB) + 700).astype(np.int64) & (_N_TAB - 1)] * e_body
        held = ramps.get("held", n, lambda t: np.minimum(t / a, 1.0).astype(np.float32))
        env = _gate_env(ramps, n, gate, held, r)
        if trem_depth:
            env = env * ramps.get("trem", n, lambda t: (1.0 - trem_depth * (0.5 + 0.5 * np.sin(
                2 * np.pi * trem_hz * t))).astype(np.float32))
        return x * env

    return voice


def karplus_strong(f0: float, n: int, sr: int, rng: np.random.Generator, *, decay_s: float = 1.0,
                   brightness: float = 0.7, pick: float = 0.15) -> np.ndarray:
    """Plucked string by Karplus-Strong, vectorised one period at a time; returns (n,) float32.

    ``y[i] = x[i] + g/2 (y[i-L] + y[i-L-1])`` with the loop gain ``g`` set so that the fundamental
    decays by 1/e in ``decay_s``. The excitation is a noise burst low-passed by ``brightness`` (1 = raw
    noise, twangy) with a comb notch for the pick position.
    """
    L = max(2, int(round(sr / f0 - 0.5)))
    exc = rng.uniform(-1.0, 1.0, L)
    b = float(np.clip(brightness, 0.05, 1.0))
    exc = signal.lfilter([b], [1.0, -(1.0 - b)], exc)
    p = max(1, int(pick * L))
    exc = exc - np.roll(exc, p)
    g2 = 0.5 * math.exp(-L / (sr * decay_s))
    nb = -(-n // L) + 1
    buf = np.zeros(nb * L + 1)
    buf[1 : L + 1] = exc
    for k in range(1, nb):
        s = 1 + k * L
        buf[s : s + L] = g2 * (buf[s - L : s] + buf[s - L - 1 : s - 1])
    y = buf[1 : n + 1]
    return (y / (np.max(np.abs(y)) + 1e-12)).astype(np.float32)


def pluck_voice(sr: int, rng: np.random.Generator, *, decay_s: float, brightness: float, r: float = 0.04,
                pick: float = 0.15) -> Voice:
    """Return a Karplus-Strong guitar voice; the string is damped ``r`` seconds after the gate closes."""
    rel = int(r * sr)
    strings: dict[float, np.ndarray] = {}

    def voice(f0: float, gate: int) -> np.ndarray:
        n = gate + rel
        s = strings.get(f0)
        if s is None or len(s) < n:
            s = strings[f0] = karplus_strong(f0, max(n, int(0.5 * sr)), sr, rng, decay_s=decay_s,
                                             brightness=brightness, pick=pick)
        t = np.arange(n, dtype=np.float32) / sr
        damp = np.where(t < gate / sr, 1.0, np.exp(-(t - gate / sr) * (5.0 / r))).astype(np.float32)
        return s[:n] * damp

    return voice


def sub_voice(sr: int, *, tau: float, glide: float = 1.0, drive: float = 1.0, r: float = 0.06) -> Voice:
    """Return an 808-style sub bass: a sine that drops ``glide`` octaves into the note, soft-clipped."""
    rel = int(r * sr)

    def voice(f0: float, gate: int) -> np.ndarray:
        n = gate + rel
        t = np.arange(n) / sr
        tg = 0.025
        cyc = f0 * t + f0 * (2.0**glide - 1.0) * tg * (1.0 - np.exp(-t / tg))
        y = np.sin(2 * np.pi * cyc) * np.exp(-t / tau)
        if drive > 1:
            y = np.tanh(drive * y) / math.tanh(drive)
        env = np.minimum(t / 0.002, 1.0) * np.where(t < gate / sr, 1.0, np.exp(-(t - gate / sr) * (5.0 / r)))
        return (y * env).astype(np.float32)

    return voice


_SOS_CACHE: dict[tuple[Any, ...], np.ndarray] = {}


def _sos(order: int, freq: float | tuple[float, float], btype: str, sr: int) -> np.ndarray:
    key = (order, freq, btype, sr)
    sos = _SOS_CACHE.get(key)
    if sos is None:
        nyq = sr / 2.0
        if isinstance(freq, tuple):
            lo = min(max(freq[0], 10.0), 0.9 * nyq)
            wn: float | list[float] = [lo, min(max(freq[1], lo * 1.05), 0.95 * nyq)]
        else:
            wn = min(max(freq, 10.0), 0.95 * nyq)
        sos = _SOS_CACHE[key] = signal.butter(order, wn, btype=btype, fs=sr, output="sos")
    return sos


def filt(x: np.ndarray, sr: int, freq: float | tuple[float, float], btype: str, order: int = 2) -> np.ndarray:
    """Butterworth filter ``x`` (``btype`` low/high/band), returning float32 of the same shape."""
    return signal.sosfilt(_sos(order, freq, btype, sr), x).astype(np.float32)


def drive(x: np.ndarray, amount: float) -> np.ndarray:
    """Soft-clip distortion: ``tanh(amount * x / peak)`` scaled back to the input peak."""
    pk = float(np.max(np.abs(x)))
    if pk == 0.0 or amount <= 0.0:
        return x
    return (np.tanh(amount * x / pk) * (pk / math.tanh(amount))).astype(np.float32)


def reverb(
    x: np.ndarray, sr: int, rt60: float, rng: np.random.Generator, *, damp_hz: float = 5000.0
) -> np.ndarray:
    """Return the wet signal of a decaying-noise impulse response (RT60 ``rt60`` s), same length as ``x``.

    The tail is computed at half the sample rate (it is damped above ``damp_hz`` anyway), which makes the
    convolution four times cheaper.
    """
    n = len(x)
    h = (x[: n - n % 2 : 2] + x[1 : n - n % 2 : 2]) * 0.5 if n >= 2 else x
    sr2 = sr / 2.0
    n_ir = int(min(rt60, 1.5) * sr2)
    t = np.arange(n_ir) / sr2
    ir = rng.standard_normal(n_ir) * np.exp(-6.9 * t / rt60)
    ir = signal.sosfilt(signal.butter(1, min(damp_hz, 0.45 * sr2), fs=sr2, output="sos"), ir)
    ir[: int(0.012 * sr2)] = 0.0  # pre-delay
    ir /= np.sqrt(np.sum(ir**2)) + 1e-12
    wet = signal.fftconvolve(h, ir.astype(np.float32))[: len(h)]
    out = np.zeros(n, dtype=np.float32)
    out[: 2 * len(wet) : 2] = wet
    out[1 : 2 * len(wet) : 2] = 0.5 * (wet + np.append(wet[1:], 0.0))
    return out


def slow_gain(
    n: int, sr: int, depth_db: float, rng: np.random.Generator, *, period_s: float = 4.0
) -> np.ndarray:
    """A smooth random gain curve (shape (n,), float32) spanning about ``depth_db`` dB."""
    k = int(n / sr / period_s) + 3
    pts = rng.uniform(-0.5, 0.5, k) * depth_db
    m = n // 256 + 1  # control rate: one value per 256 samples (steps of < 0.1 dB)
    x = np.linspace(0, k - 1, m)
    i = np.minimum(x.astype(np.int64), k - 2)
    w = x - i
    w = w * w * (3 - 2 * w)  # smoothstep
    g = 10.0 ** ((pts[i] * (1 - w) + pts[i + 1] * w) / 20.0)
    return np.repeat(g.astype(np.float32), 256)[:n]
