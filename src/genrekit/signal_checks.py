"""The checks audio passes before it is classified: silence, DC, too short, too quiet; broadband noise.

:func:`check_signal` refuses audio a genre would be a guess for and says when the answer must be
``unsure`` (noise); :func:`spectral_flatness` is its noise measure. :mod:`genrekit.predict` re-exports
both, with the thresholds.
"""

from __future__ import annotations

import numpy as np

from genrekit.audio import SILENCE_PEAK, check_audible, check_samples
from genrekit.errors import AudioError
from genrekit.features.base import Extractor

__all__ = ["MIN_RMS_DBFS", "NOISE_FLATNESS", "check_signal", "spectral_flatness"]

#: Audio whose RMS (DC removed) is below this, in dBFS, is refused as nearly silent: 60 dB under music's
#: usual -20 dBFS; a genre of a dither floor or of hum would be a guess.
MIN_RMS_DBFS = -80.0
#: Median spectral flatness (0..1, below 0.8 x Nyquist) from which a signal is broadband noise, answered
#: ``unsure``. White noise measures 0.56, pink noise 0.20; the noisiest of 321 GTZAN clips (metal) 0.23.
NOISE_FLATNESS = 0.4
#: Frames (of 1024 samples) the flatness is measured on, spread over the signal: bounded work.
_FLATNESS_FRAMES = 256


def spectral_flatness(y: np.ndarray) -> float:
    """Median over frames of the spectral flatness (geometric / arithmetic mean of the power spectrum).

    Measured on at most ``_FLATNESS_FRAMES`` Hann-windowed frames of 1024 samples spread evenly over
    ``y`` (n_samples,), on the bins below 0.8 x Nyquist (resamplers and codecs empty the top of the
    band). 0 for a pure tone, about 0.56 for white noise.
    """
    n_fft = 1024
    if len(y) < n_fft:
        y = np.pad(y, (0, n_fft - len(y)))
    starts = np.unique(np.linspace(0, len(y) - n_fft, min(_FLATNESS_FRAMES, 1 + (len(y) - n_fft) // 512)))
    frames = np.stack([y[int(s) : int(s) + n_fft] for s in starts]).astype(np.float64) * np.hanning(n_fft)
    power = np.abs(np.fft.rfft(frames, axis=1)[:, 1 : int(0.8 * (n_fft // 2))]) ** 2 + 1e-20
    flat = np.exp(np.mean(np.log(power), axis=1)) / np.mean(power, axis=1)
    return float(np.median(flat))


def check_signal(
    y: np.ndarray,
    sr: int,
    extractor: Extractor,
    source: str | None = None,
    *,
    noise_flatness: float | None = NOISE_FLATNESS,
) -> str | None:
    """Refuse audio a genre would be a guess for; return why the answer must be ``unsure``, or None.

    Parameters
    ----------
    y : np.ndarray, float32, shape (n_samples,)
        The audio that will be classified (after any crop).
    sr : int
    extractor : Extractor
        Its ``min_duration_s`` is the shortest audio taken.
    source : str or None
        Name for the errors.
    noise_flatness : float or None
        Median spectral flatness from which the signal counts as broadband noise; None: never.

    Returns
    -------
    str or None
        A reason when the signal is broadband noise (median spectral flatness >= ``noise_flatness``).

    Raises
    ------
    AudioError
        Silent, shorter than the extractor's minimum, constant (DC), or RMS below ``MIN_RMS_DBFS``.
    """
    check_samples(y, source)
    check_audible(y, source)
    seconds, minimum = len(y) / sr, extractor.min_duration_s
    if seconds < minimum:
        raise AudioError(
            f"too short: {seconds:.3g} s of audio ({len(y)} samples at {sr} Hz); the model's "
            f"{extractor.name} features need at least {minimum:.2f} s",
            source=source,
        )
    edge = int(0.01 * sr) if len(y) > 40 * sr // 100 else 0  # a resampler rings at a step's two ends
    inner = np.asarray(y[edge : len(y) - edge], dtype=np.float64)
    dc = float(np.mean(inner))
    ac = inner - dc
    if float(np.max(np.abs(ac))) < SILENCE_PEAK + 1e-5 * abs(dc):  # flat to -100 dB of its level
        raise AudioError("is a constant (DC) signal: there is no music to classify", source=source)
    rms_db = 10 * np.log10(float(np.mean(ac * ac)) + 1e-30)
    if rms_db < MIN_RMS_DBFS:
        raise AudioError(
            f"is nearly silent: RMS {rms_db:.1f} dBFS (DC removed), below the floor of {MIN_RMS_DBFS:g} dBFS",
            source=source,
        )
    if noise_flatness is None:
        return None
    flat = spectral_flatness(ac)
    if flat >= noise_flatness:
        return f"noise-like signal (spectral flatness {flat:.2f} >= {noise_flatness:g}): not music"
    return None
