"""musicnn input patches as features (``"musicnn-mel"``), for fine-tuning musicnn (``musicnn-finetune``).

Each row is one musicnn input patch: the log-compressed 96-band mel spectrogram at 16 kHz of
:mod:`genrekit.features.musicnn.preprocess` (``log10(1 + 10000 * mel_power)``, FFT 512, hop 256), cut
into patches of 187 frames (about 3 s, what the pretrained models were trained on), **bands first** like
every genrekit matrix: ``frame_shape == (96, 187)`` and the row is the ``(96, 187)`` matrix flattened in C
order (the network transposes it back to musicnn's ``(time, 96)``). Patches follow the library's
segment rule (:func:`genrekit.features.musicnn.preprocess.patch_bounds`): full patches every
``hop_s``, a clip shorter than one patch and a tail of at least half a patch are padded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from genrekit.errors import ConfigError
from genrekit.features.base import Extractor
from genrekit.features.musicnn.preprocess import (
    FFT_HOP,
    N_MELS,
    PATCH_FRAMES,
    SR,
    mel_patches,
    n_frames,
    patch_bounds,
)

__all__ = ["MusicnnMelConfig", "MusicnnMelExtractor"]

#: Length of one 187-frame patch in seconds (2.992 s).
PATCH_S = PATCH_FRAMES * FFT_HOP / SR


@dataclass(frozen=True)
class MusicnnMelConfig:
    """Configuration of :class:`MusicnnMelExtractor`.

    Attributes
    ----------
    sr : int
        Must be 16000 (the musicnn models' rate).
    segment_s : float
        Patch length in seconds, rounded to whole frames of 256 samples (default 187 frames).
    hop_s : float or None
        Distance between patch starts (None: no overlap), rounded to whole frames.
    pad : {"repeat", "zero", "drop"}
        How a clip shorter than one patch, and a tail of at least half a patch, are filled.
    """

    sr: int = SR
    segment_s: float = PATCH_S
    hop_s: float | None = None
    pad: str = "repeat"

    def __post_init__(self) -> None:
        if self.sr != SR:
            raise ConfigError(
                f"musicnn-mel features are computed at {SR} Hz (the musicnn rate); got sr={self.sr}"
            )
        if self.segment_s is None or not self.segment_s > 0:
            raise ConfigError(f"segment_s must be > 0 for musicnn-mel patches, got {self.segment_s}")
        if self.hop_s is not None and not self.hop_s > 0:
            raise ConfigError(f"hop_s must be > 0 or None, got {self.hop_s}")
        if self.pad not in ("repeat", "zero", "drop"):
            raise ConfigError(f"pad must be one of 'repeat', 'zero', 'drop', got {self.pad!r}")


class MusicnnMelExtractor(Extractor):
    """musicnn log-mel patches, one flattened ``(96, patch_frames)`` matrix per row (``"musicnn-mel"``)."""

    name = "musicnn-mel"
    config_cls = MusicnnMelConfig

    @property
    def patch_frames(self) -> int:
        return max(1, int(round(self.config.segment_s * SR / FFT_HOP)))

    @property
    def hop_frames(self) -> int | None:
        hop = self.config.hop_s
        return None if hop is None else max(1, int(round(hop * SR / FFT_HOP)))

    @property
    def min_duration_s(self) -> float:
        """One whole patch, as for the musicnn extractors (the networks' training input length)."""
        return self.patch_frames * FFT_HOP / SR

    @property
    def frame_shape(self) -> tuple[int, int]:
        return (N_MELS, self.patch_frames)

    @property
    def names(self) -> list[str]:
        t = self.patch_frames
        width = max(3, len(str(t - 1)))
        return [f"mel{b:02d}_t{i:0{width}d}" for b in range(N_MELS) for i in range(t)]

    def _extract(self, y: np.ndarray) -> np.ndarray:
        """Patches of ``y`` (16 kHz) as rows.

        Returns
        -------
        np.ndarray, float32, shape (n_patches, 96 * patch_frames)
        """
        p = mel_patches(y, patch_frames=self.patch_frames, hop_frames=self.hop_frames, pad=self.config.pad)
        return np.ascontiguousarray(p.transpose(0, 2, 1)).reshape(len(p), -1)

    def segment_times(self, n_samples: int, sr: int) -> np.ndarray:
        """Start and end (s) of each patch's real frames, clipped to the signal's duration.

        Returns
        -------
        np.ndarray, float64, shape (n_patches, 2)
        """
        n16 = int(round(n_samples * SR / sr))
        bounds = patch_bounds(
            n_frames(n16), patch_frames=self.patch_frames, hop_frames=self.hop_frames, pad=self.config.pad
        )
        times = bounds.astype(np.float64) * FFT_HOP / SR
        return np.minimum(times, n_samples / sr)
