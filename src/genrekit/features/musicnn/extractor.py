"""Pretrained musicnn embeddings and tag probabilities as feature extractors.

One output row per log-mel patch of 187 frames (about 3 s at 16 kHz). Registered names:
``"musicnn-msd"`` (:class:`MusicnnMSDExtractor`, the Million Song Dataset model), ``"musicnn-mtt"``
(:class:`MusicnnMTTExtractor`, MagnaTagATune) and ``"musicnn"`` (:class:`MusicnnBothExtractor`, MSD
columns then MTT columns).

Columns, per model (prefix ``msd`` or ``mtt``), in this order:

- ``output="embedding"`` (default): ``{p}_emb_000`` ... ``{p}_emb_199``, the 200-d "penultimate" layer
  (after its batch-norm, as ``features['penultimate']`` of the original extractor);
- ``output="tags"``: ``{p}_tag_<slug>`` for the 50 tags of :mod:`genrekit.features.musicnn.labels`, in
  the models' output order, the sigmoid probabilities (the original "taggram");
- ``output="both"``: embedding columns then tag columns;
- ``pooled_midend=True`` appends ``{p}_midmean_000..752`` and ``{p}_midmax_000..752``, the mean and max
  over time of the 753-channel mid-end (``mean_pool`` / ``max_pool`` of the original).

The environment variable ``GENREKIT_TORCH_THREADS`` sets torch's thread count (else torch's default).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from genrekit.audio import resample
from genrekit.errors import ConfigError
from genrekit.features.base import Extractor
from genrekit.features.musicnn.labels import MIDEND_CHANNELS, PENULTIMATE_DIM, tag_slug, tags_for
from genrekit.features.musicnn.preprocess import (
    FFT_HOP,
    N_MELS,
    PATCH_FRAMES,
    SR,
    frames_span,
    logmel,
    logmel_window,
    n_frames,
    patch_bounds,
    patches_from_logmel,
)

__all__ = [
    "MusicnnBothExtractor",
    "MusicnnConfig",
    "MusicnnExtractor",
    "MusicnnMSDExtractor",
    "MusicnnMTTExtractor",
]

OUTPUTS = ("embedding", "tags", "both")
PATCH_S = PATCH_FRAMES * FFT_HOP / SR  # 2.992 s


@dataclass(frozen=True)
class MusicnnConfig:
    """Configuration of the musicnn extractors.

    Attributes
    ----------
    sr : int
        Must be 16000, the models' rate (audio at other rates is resampled by ``__call__``).
    segment_s : float
        Patch length; the default is one 187-frame patch (187 * 256 / 16000 s), the training length.
        It is rounded to whole frames of 256 samples.
    hop_s : float or None
        Distance between patch starts (rounded to frames); None for ``segment_s`` (no overlap).
    pad : {"repeat", "zero", "drop"}
        Filling of a clip shorter than one patch (and of a tail of at least half a patch).
    output : {"embedding", "tags", "both"}
    pooled_midend : bool
        Also emit mean and max over time of the 753-channel mid-end.
    batch_size : int
        Patches per forward pass (bounds memory: about 12 MB per patch).
    """

    sr: int = SR
    segment_s: float = PATCH_S
    hop_s: float | None = None
    pad: str = "repeat"
    output: str = "embedding"
    pooled_midend: bool = False
    batch_size: int = 16

    def __post_init__(self) -> None:
        if self.sr != SR:
            raise ConfigError(f"musicnn runs at sr={SR}, got sr={self.sr}")
        if self.segment_s is None or self.segment_s <= 0:
            raise ConfigError(
                f"musicnn segment_s must be a positive patch length in seconds, got {self.segment_s}"
            )
        if self.hop_s is not None and self.hop_s <= 0:
            raise ConfigError(f"hop_s must be > 0 or None, got {self.hop_s}")
        if self.pad not in ("repeat", "zero", "drop"):
            raise ConfigError(f"pad must be one of 'repeat', 'zero', 'drop', got {self.pad!r}")
        if self.output not in OUTPUTS:
            raise ConfigError(f"output must be one of {', '.join(map(repr, OUTPUTS))}, got {self.output!r}")
        if self.batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {self.batch_size}")

    @property
    def patch_frames(self) -> int:
        return max(1, int(round(self.segment_s * self.sr / FFT_HOP)))

    @property
    def hop_frames(self) -> int:
        return self.patch_frames if self.hop_s is None else max(1, int(round(self.hop_s * self.sr / FFT_HOP)))


class MusicnnExtractor(Extractor):
    """Base of the musicnn extractors; subclasses set ``models``: ``(prefix, checkpoint name)`` pairs."""

    config_cls: ClassVar[type] = MusicnnConfig
    models: ClassVar[tuple[tuple[str, str], ...]]

    @property
    def tags(self) -> dict[str, tuple[str, ...]]:
        """Column prefix -> the 50 tag names of that model, in output order."""
        return {prefix: tags_for(model) for prefix, model in self.models}

    @property
    def names(self) -> list[str]:
        cfg = self.config
        out: list[str] = []
        for prefix, model in self.models:
            if cfg.output in ("embedding", "both"):
                out += [f"{prefix}_emb_{i:03d}" for i in range(PENULTIMATE_DIM)]
            if cfg.output in ("tags", "both"):
                out += [f"{prefix}_tag_{tag_slug(t)}" for t in tags_for(model)]
            if cfg.pooled_midend:
                out += [f"{prefix}_midmean_{i:03d}" for i in range(MIDEND_CHANNELS)]
                out += [f"{prefix}_midmax_{i:03d}" for i in range(MIDEND_CHANNELS)]
        return out

    @property
    def min_duration_s(self) -> float:
        """One whole patch (2.992 s for the default 187 frames), the networks' training input length.

        A shorter clip would be repeated or zero-padded to fill the patch.
        """
        return self.config.patch_frames * FFT_HOP / SR

    # ---- computing ----------------------------------------------------------------------------------
    def patches(self, y: np.ndarray) -> np.ndarray:
        """Log-mel patches of ``y`` (at 16 kHz), ``(n_patches, patch_frames, 96)`` float32."""
        cfg = self.config
        return patches_from_logmel(
            logmel(y), patch_frames=cfg.patch_frames, hop_frames=cfg.hop_frames, pad=cfg.pad
        )

    def _features(self, patches: np.ndarray) -> np.ndarray:
        """Rows of features for a stack of patches: one forward pass (per ``batch_size``) per model."""
        # imported here, not with the module: torch's import (~1 s) waits for the first forward pass, so
        # loading a bundle (and refusing a bad file) does not pay it
        from genrekit.features.musicnn import network

        cfg = self.config
        network.configure_threads()
        blocks: list[np.ndarray] = []
        for _, model in self.models:
            res = network.run(
                network.load_musicnn(model), patches, midend=cfg.pooled_midend, batch_size=cfg.batch_size
            )
            if cfg.output in ("embedding", "both"):
                blocks.append(res["penultimate"])
            if cfg.output in ("tags", "both"):
                blocks.append(res["taggram"])
            if cfg.pooled_midend:
                blocks += [res["mean_pool"], res["max_pool"]]
        return np.concatenate(blocks, axis=1).astype(np.float32, copy=False)

    def _extract(self, y: np.ndarray) -> np.ndarray:
        return self._features(self.patches(y))

    def extract_selected(self, y: np.ndarray, sr: int, indices: np.ndarray) -> np.ndarray:
        """The rows ``indices`` of ``self(y, sr)``, the log-mel and the networks computed for those only.

        This is how a long song is classified from a bounded number of patches
        (``Classifier(max_segments=...)``).

        Returns
        -------
        np.ndarray, float32, shape (len(indices), dim)
        """
        y = resample(np.asarray(y, dtype=np.float32), sr, self.sr)
        spans = self.window_spans(len(y), self.sr, indices)
        return self.extract_windows([y[a:b] for a, b in spans], spans, len(y), indices)

    def window_spans(self, n_samples: int, sr: int, indices: np.ndarray) -> np.ndarray:
        """The samples each of the rows ``indices`` is computed from, for a signal of ``n_samples`` at ``sr``.

        Decoding only these windows of a file (:func:`genrekit.audio.load_windows`) and passing them to
        :meth:`extract_windows` gives the rows of the whole file's features.

        Returns
        -------
        np.ndarray, int64, shape (len(indices), 2)
            ``[start, end)`` in samples at ``sr`` (which must be the extractor's 16 kHz).
        """
        if sr != self.sr:
            raise ConfigError(f"musicnn windows are counted at sr={self.sr}, got sr={sr}")
        bounds = self._patch_bounds(n_samples)[np.asarray(indices, dtype=np.int64)]
        return np.array([frames_span(a, b - a, n_samples) for a, b in bounds], dtype=np.int64).reshape(-1, 2)

    def extract_windows(
        self, pieces: list[np.ndarray], spans: np.ndarray, n_samples: int, indices: np.ndarray
    ) -> np.ndarray:
        """The rows ``indices`` of the features of a 16 kHz signal of ``n_samples``, from its windows only.

        Parameters
        ----------
        pieces : list of np.ndarray, float32, shape (end_i - start_i,)
            The samples of each window of :meth:`window_spans` ``(n_samples, 16000, indices)``.
        spans : np.ndarray, int64, shape (len(indices), 2)
        n_samples : int
        indices : np.ndarray, shape (k,)

        Returns
        -------
        np.ndarray, float32, shape (k, dim)
        """
        cfg = self.config
        bounds = self._patch_bounds(n_samples)[np.asarray(indices, dtype=np.int64)]
        patches = np.zeros((len(bounds), cfg.patch_frames, N_MELS), dtype=np.float32)
        for i, (piece, (start, _), (a, b)) in enumerate(zip(pieces, spans, bounds, strict=True)):
            spec = logmel_window(piece, start=int(start), n_samples=n_samples, first=int(a), count=int(b - a))
            patches[i] = patches_from_logmel(
                spec, patch_frames=cfg.patch_frames, hop_frames=cfg.hop_frames, pad=cfg.pad
            )[0]
        return self._features(patches)

    def _patch_bounds(self, n_samples: int) -> np.ndarray:
        """Frames ``[a, b)`` of each patch of a 16 kHz signal of ``n_samples``: ``(n_patches, 2)``."""
        cfg = self.config
        return patch_bounds(
            n_frames(n_samples), patch_frames=cfg.patch_frames, hop_frames=cfg.hop_frames, pad=cfg.pad
        )

    def extract_many(
        self, signals: list[np.ndarray], sr: int, *, indices: list[np.ndarray | None] | None = None
    ) -> list[np.ndarray]:
        """Features of several signals with the patches of all of them in one batched forward pass.

        ``indices``: for each signal, the patches wanted (None: all), as :meth:`extract_selected`.

        Returns
        -------
        list of np.ndarray, float32, shape (n_patches_i, dim)
        """
        stacks = [self.patches(resample(np.asarray(y, dtype=np.float32), sr, self.sr)) for y in signals]
        if indices is not None:
            stacks = [
                s if k is None else s[np.asarray(k, dtype=np.int64)]
                for s, k in zip(stacks, indices, strict=True)
            ]
        if not stacks:
            return []
        feats = self._features(np.concatenate(stacks, axis=0))
        splits = np.cumsum([len(s) for s in stacks])[:-1]
        return [np.ascontiguousarray(part) for part in np.split(feats, splits)]

    def segment_times(self, n_samples: int, sr: int) -> np.ndarray:
        """Start and end time in seconds of each patch (row) for ``n_samples`` of audio at ``sr``.

        A patch of frames ``[a, b)`` spans ``[a * 256, min(b * 256, n)) / 16000`` s (``n`` samples at 16 kHz;
        frames are centred on multiples of 256 samples).

        Returns
        -------
        np.ndarray, float64, shape (n_patches, 2)
        """
        cfg = self.config
        n = int(round(n_samples * self.sr / sr))
        frames = 0 if n <= 0 else 1 + n // FFT_HOP
        b = patch_bounds(frames, patch_frames=cfg.patch_frames, hop_frames=cfg.hop_frames, pad=cfg.pad)
        t = b.astype(np.float64) * FFT_HOP
        t[:, 1] = np.minimum(t[:, 1], n)
        return t / self.sr


class MusicnnMSDExtractor(MusicnnExtractor):
    """musicnn trained on the Million Song Dataset (tags: genres, eras, moods)."""

    name: ClassVar[str] = "musicnn-msd"
    models: ClassVar[tuple[tuple[str, str], ...]] = (("msd", "MSD_musicnn"),)


class MusicnnMTTExtractor(MusicnnExtractor):
    """musicnn trained on MagnaTagATune (tags: instruments, voice, genres, moods)."""

    name: ClassVar[str] = "musicnn-mtt"
    models: ClassVar[tuple[tuple[str, str], ...]] = (("mtt", "MTT_musicnn"),)


class MusicnnBothExtractor(MusicnnExtractor):
    """Both musicnn models: the MSD columns, then the MTT columns."""

    name: ClassVar[str] = "musicnn"
    models: ClassVar[tuple[tuple[str, str], ...]] = (("msd", "MSD_musicnn"), ("mtt", "MTT_musicnn"))
