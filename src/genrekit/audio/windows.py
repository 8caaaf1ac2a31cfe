"""Decoding parts of a source: seeking to windows, and the one crop-window rule.

:func:`load_windows` decodes only some windows of a file; :func:`load_crop` decodes a track, or only the
middle of it (:func:`header_duration` says how long it is without decoding it).
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

import numpy as np
import soundfile as sf

from genrekit.audio.containers import (
    Source,
    _as_binary,
    _check_header,
    _check_max,
    _check_rate,
    _decode_error,
    _native_quiet,
    rewind,
    source_name,
)
from genrekit.audio.decoding import EXACT_SEEK_FORMATS, FrameReader, info, load
from genrekit.audio.samples import center_crop, check_crop, check_samples, resample, to_mono
from genrekit.config import FFMPEG_EXTENSIONS, MAX_DURATION_S, SAMPLE_RATE
from genrekit.errors import AudioError, ConfigError, GenreKitError, UnsupportedFormatError

#: Native-rate audio decoded on each side of a window and resampled with it, then cut off: the resampler's
#: filter rings at a cut, and this keeps that ringing out of the window (soxr HQ settles within ~5 ms).
WINDOW_CONTEXT_S = 0.05
#: Frames decoded at the end of a file whose windows stop before it, to refuse a truncated file as
#: :func:`load` of the whole file would.
_TAIL_CHECK_FRAMES = 4 * 1152


def window_grid(sr_in: int, sr_out: int) -> int:
    """Output samples between instants that fall on a whole sample at both rates (``sr_out / gcd``).

    A window starting on this grid, resampled on its own, has its samples at the same instants as
    the whole signal resampled (160 samples for 44.1 kHz -> 16 kHz, 1 when ``sr_out`` divides ``sr_in``).
    """
    return sr_out // math.gcd(sr_in, sr_out)


def load_windows(
    source: Source,
    windows: Sequence[tuple[int, int]] | np.ndarray,
    *,
    sr: int = SAMPLE_RATE,
    max_duration_s: float | None = MAX_DURATION_S,
) -> list[np.ndarray]:
    """Decode only some windows of a file: seek to each, decode it, mix to mono and resample it.

    The cost is that of the windows, not of the whole file (wav, flac, ogg, aiff, au and mp3 seek
    sample-exactly through soundfile). A piece holds the samples :func:`load` of the whole file would
    give at those positions: each window is decoded from an instant on :func:`window_grid` before it with
    at least ``WINDOW_CONTEXT_S`` of context on both sides (the resampler's edge ringing falls there and
    is cut off), so the difference is at float32 rounding level (none without resampling).

    Parameters
    ----------
    source : path, bytes or binary file object
        A format soundfile decodes (containers only ffmpeg decodes are refused: read them with :func:`load`).
    windows : array-like of int, shape (k, 2)
        ``[start, end)`` in samples at ``sr`` of the whole file's decode; ``0 <= start < end``. An end past
        the audio's end is cut to it.
    sr : int
        Output sample rate in Hz (of ``windows`` and of the pieces).
    max_duration_s : float or None
        Refuse a file longer than this (its header's length), as :func:`load` would; ``None`` for no limit.

    Returns
    -------
    list of np.ndarray, float32, shape (end_i - start_i,) each (cut at the audio's end)

    Raises
    ------
    AudioError
        As :func:`load` (missing, empty, corrupt, truncated, non-finite, out of range); a window starting
        past the audio's end. The file's end is decoded too, so a file shorter than its header says is
        refused even when no window reaches it.
    UnsupportedFormatError
        A container that only ffmpeg decodes.
    """
    name = source_name(source)
    _check_rate(sr)
    spans = np.asarray(windows, dtype=np.int64).reshape(-1, 2)
    if len(spans) and (np.any(spans[:, 0] < 0) or np.any(spans[:, 1] <= spans[:, 0])):
        raise ConfigError("windows must be [start, end) sample pairs with 0 <= start < end")
    handle, ext, head = _as_binary(source, name)
    try:
        with _native_quiet(head), sf.SoundFile(handle) as f:
            _check_header(f.samplerate, f.channels, f.frames, name)
            _check_max(f.frames / f.samplerate, max_duration_s, name)
            return _read_windows(f, spans, sr, name)
    except (sf.LibsndfileError, RuntimeError) as exc:
        if ext in FFMPEG_EXTENSIONS:
            raise UnsupportedFormatError(
                "this container is decoded by ffmpeg, which cannot seek to windows here; use load()",
                source=name,
            ) from None
        raise _decode_error(exc, name, head) from None


def _read_windows(f: sf.SoundFile, spans: np.ndarray, sr: int, name: str) -> list[np.ndarray]:
    """The pieces of :func:`load_windows` from the open file ``f`` (header already checked)."""
    native_sr, total = f.samplerate, f.frames
    n_out = int(round(total * sr / native_sr))
    step = native_sr // math.gcd(native_sr, sr)  # native frames of one window_grid step
    context = 0 if native_sr == sr else -(-int(math.ceil(WINDOW_CONTEXT_S * native_sr)) // step) * step
    ranges = []  # native [lo, hi) decoded for each window: from a grid instant, with context
    for start, end in spans:
        if start >= n_out:
            raise AudioError(
                f"window at {start / sr:.3f} s is past the end of the audio ({n_out / sr:.3f} s)", source=name
            )
        lo = max(0, int(start) // window_grid(native_sr, sr) * step - context)
        hi = min(total, -(-min(int(end), n_out) * native_sr // sr) + context)
        ranges.append((lo, hi))
    reader = FrameReader(f, name, exact_seek=f.format in EXACT_SEEK_FORMATS)
    pieces: list[np.ndarray] = [np.zeros(0, np.float32)] * len(spans)
    for lo, hi, members in _merged(ranges):  # overlapping windows are decoded once
        frames = reader.read(lo, hi)
        check_samples(frames, name)
        for i in members:
            a, b = ranges[i]
            pieces[i] = _window_piece(frames[a - lo : b - lo], a, spans[i], sr, native_sr, n_out)
    if reader.pos < total:  # the end, as a whole-file decode would have read it (truncation)
        reader.read(max(reader.pos, total - _TAIL_CHECK_FRAMES) if reader.exact_seek else total, total)
    return pieces


def _merged(ranges: list[tuple[int, int]]) -> list[tuple[int, int, list[int]]]:
    """Overlapping ``[lo, hi)`` ranges joined, in increasing order, with the indices of their members."""
    out: list[tuple[int, int, list[int]]] = []
    for i in sorted(range(len(ranges)), key=lambda j: ranges[j]):
        lo, hi = ranges[i]
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi), [*out[-1][2], i])
        else:
            out.append((lo, hi, [i]))
    return out


def _window_piece(
    frames: np.ndarray, lo: int, span: np.ndarray, sr: int, native_sr: int, n_out: int
) -> np.ndarray:
    """Samples ``span`` (at ``sr``) from native ``frames`` that start at native frame ``lo``."""
    start, end = int(span[0]), min(int(span[1]), n_out)
    y = resample(to_mono(frames), native_sr, sr)
    first = lo * sr // native_sr  # lo is a grid instant: the whole decode's index of y[0]
    piece = y[start - first : end - first]
    if len(piece) < end - start:  # an mp3's estimated length or rounding at the end: a sample or a few
        piece = np.pad(piece, (0, end - start - len(piece)), mode="edge")
    return np.ascontiguousarray(piece, dtype=np.float32)


def header_duration(source: Source) -> float | None:
    """Duration in seconds from the source's header, or None when it has no header that can be read.

    Paths, bytes and file objects (rewound after).
    """
    src = io.BytesIO(bytes(source)) if isinstance(source, bytes | bytearray | memoryview) else source
    try:
        return info(src).duration_s
    except GenreKitError:
        return None
    finally:
        rewind(src)


def load_crop(
    source: Source,
    crop_s: float | None,
    *,
    sr: int,
    offset_s: float = 0.0,
    duration_s: float | None = None,
    max_duration_s: float | None = MAX_DURATION_S,
) -> tuple[np.ndarray, float, float]:
    """Decode ``source``, or only the ``crop_s`` seconds around its middle: the one crop-window rule.

    With ``crop_s`` (and no explicit ``duration_s``) the length is read once from the header and only
    the window ``[offset_s + (total - crop_s) / 2, + crop_s)`` is decoded, so the cost does not grow
    with the track. A source whose header gives no length, or a window ``offset_s, duration_s`` asked
    for, is decoded and then cut with :func:`center_crop` (the same middle, in samples).

    Returns
    -------
    y : np.ndarray, float32, shape (n_samples,)
        Mono samples at ``sr``.
    start_s : float
        Where ``y`` starts in the source, in seconds.
    total_s : float
        The length of the source from ``offset_s`` on (of the window read, when ``duration_s`` is given).

    Raises
    ------
    ConfigError
        ``crop_s`` not above 0.
    AudioError
        As :func:`load`; ``max_duration_s`` applies to what is decoded.
    """
    check_crop(crop_s)
    if crop_s is not None and duration_s is None:
        length = header_duration(source)
        if length is not None and length - offset_s > crop_s:  # decode only the window
            total = length - offset_s
            start = offset_s + (total - crop_s) / 2
            y, _ = load(source, sr=sr, offset_s=start, duration_s=crop_s, max_duration_s=max_duration_s)
            return y, start, total
    y, _ = load(source, sr=sr, offset_s=offset_s, duration_s=duration_s, max_duration_s=max_duration_s)
    total = len(y) / sr
    if crop_s is None:
        return y, offset_s, total
    cropped = center_crop(y, sr, duration_s=crop_s)
    return cropped, offset_s + (len(y) - len(cropped)) // 2 / sr, total
