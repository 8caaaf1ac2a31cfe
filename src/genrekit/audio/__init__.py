"""Audio in: decode files, bytes or file objects to float32 mono at a chosen rate, and cut segments.

Everything inside genrekit works on ``np.ndarray`` float32 of shape ``(n_samples,)``, finite, with its
``sr`` next to it. :func:`load` is the one way in (:func:`load_crop` when only the middle of a track is
wanted); :func:`segments` and :func:`center_crop` are pure.

The package is split by job, imports running one way (each module imports only those listed before it):
``containers`` (sources, format sniffing, truncation and header checks), ``samples`` (resampling, mono,
sample checks, segments, the middle crop), ``decoding`` (:func:`info`, :func:`load`), ``windows``
(:func:`load_windows`, :func:`load_crop`) and ``digests``. The public names are re-exported here.
"""

from __future__ import annotations

from genrekit.audio.containers import Source, rewind, sniff, sniff_container, source_name
from genrekit.audio.decoding import AudioInfo, info, load
from genrekit.audio.digests import array_digest, file_digest
from genrekit.audio.samples import (
    MAX_SAMPLE_ABS,
    MIN_TAIL_FRACTION,
    SILENCE_PEAK,
    center_crop,
    check_audible,
    check_crop,
    check_samples,
    resample,
    segment_bounds,
    segments,
    to_mono,
)
from genrekit.audio.windows import WINDOW_CONTEXT_S, header_duration, load_crop, load_windows, window_grid

__all__ = [
    "MAX_SAMPLE_ABS",
    "MIN_TAIL_FRACTION",
    "SILENCE_PEAK",
    "WINDOW_CONTEXT_S",
    "AudioInfo",
    "Source",
    "array_digest",
    "center_crop",
    "check_crop",
    "check_audible",
    "check_samples",
    "file_digest",
    "header_duration",
    "info",
    "load",
    "load_crop",
    "load_windows",
    "resample",
    "segment_bounds",
    "segments",
    "sniff",
    "rewind",
    "sniff_container",
    "source_name",
    "to_mono",
    "window_grid",
]
