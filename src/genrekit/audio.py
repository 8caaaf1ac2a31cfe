"""Audio in: decode files, bytes or file objects to float32 mono at a chosen rate, and cut segments.

Everything inside genrekit works on ``np.ndarray`` float32 of shape ``(n_samples,)``, finite, with its
``sr`` next to it. :func:`load` is the one way in; :func:`segments` and :func:`center_crop` are pure.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soundfile as sf
import soxr

from genrekit.config import (
    FFMPEG_EXTENSIONS,
    MAX_CHANNELS,
    MAX_DURATION_S,
    MAX_SAMPLE_RATE,
    MIN_SAMPLE_RATE,
    RESAMPLE_QUALITY,
    SAMPLE_RATE,
)
from genrekit.errors import AudioError, ConfigError, UnsupportedFormatError

Source = str | os.PathLike | bytes | bytearray | BinaryIO

#: Tail segments shorter than this fraction of a segment are dropped (a 30.01 s clip gives 10 x 3 s).
MIN_TAIL_FRACTION = 0.5


@dataclass(frozen=True)
class AudioInfo:
    """What a file's header says, read without decoding the samples."""

    path: str
    sr: int
    channels: int
    frames: int
    format: str
    subtype: str

    @property
    def duration_s(self) -> float:
        return self.frames / self.sr if self.sr else 0.0


def source_name(source: Source) -> str:
    """Return a printable name for an audio source: its path, a file object's name, or ``<bytes>``."""
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return "<bytes>"
    return str(getattr(source, "name", "<file object>"))


def _as_binary(source: Source, name: str) -> tuple[BinaryIO | str, str | None]:
    """Open/check a source for soundfile; return it with its lower-case extension (None when unknown)."""
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.exists():
            raise AudioError("file not found", source=name)
        if path.is_dir():
            raise AudioError("is a directory, not an audio file", source=name)
        size = path.stat().st_size
        if size == 0:
            raise AudioError("empty file (0 bytes)", source=name)
        with open(path, "rb") as f:
            _raise_if_truncated(f.read(1 << 16), size, name)
        return str(path), path.suffix.lower()
    if isinstance(source, (bytes, bytearray, memoryview)):
        if len(source) == 0:
            raise AudioError("empty input (0 bytes)", source=name)
        _raise_if_truncated(bytes(source[: 1 << 16]), len(source), name)
        return io.BytesIO(bytes(source)), None
    if hasattr(source, "read"):
        data = source.read()
        if not data:
            raise AudioError("empty input (0 bytes)", source=name)
        _raise_if_truncated(data[: 1 << 16], len(data), name)
        ext = Path(name).suffix.lower() or None
        return io.BytesIO(data), ext
    raise AudioError(f"cannot read audio from a {type(source).__name__}", source=name)


def _wav_truncation(head: bytes, total_bytes: int) -> tuple[int, int] | None:
    """For a RIFF/WAVE header, return ``(declared, present)`` data bytes when the data chunk is cut short."""
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    pos = 12
    while pos + 8 <= len(head):
        cid, size = head[pos : pos + 4], int.from_bytes(head[pos + 4 : pos + 8], "little")
        if cid == b"data":
            if size in (0, 0xFFFFFFFF):  # streamed wav: length unknown, nothing to compare
                return None
            present = total_bytes - (pos + 8)
            return (size, present) if present < size else None
        pos += 8 + size + (size & 1)
    return None


def _aiff_truncation(head: bytes, total_bytes: int) -> tuple[int, int] | None:
    """For an AIFF/AIFC header, ``(declared, present)`` sound-data bytes when the SSND chunk is cut short."""
    if len(head) < 12 or head[:4] != b"FORM" or head[8:12] not in (b"AIFF", b"AIFC"):
        return None
    pos = 12
    while pos + 8 <= len(head):
        cid, size = head[pos : pos + 4], int.from_bytes(head[pos + 4 : pos + 8], "big")
        if cid == b"SSND":
            present = total_bytes - (pos + 8)
            return (size, present) if 0 < size and present < size else None
        pos += 8 + size + (size & 1)
    return None


def _au_truncation(head: bytes, total_bytes: int) -> tuple[int, int] | None:
    """For a Sun/NeXT .au header, ``(declared, present)`` data bytes when the data is cut short."""
    if len(head) < 24 or head[:4] != b".snd":
        return None
    offset, size = int.from_bytes(head[4:8], "big"), int.from_bytes(head[8:12], "big")
    if size in (0, 0xFFFFFFFF):  # length unknown (streamed)
        return None
    present = total_bytes - offset
    return (size, present) if present < size else None


def _raise_if_truncated(head: bytes, total_bytes: int, name: str) -> None:
    for kind, check in (("wav", _wav_truncation), ("aiff", _aiff_truncation), ("au", _au_truncation)):
        cut = check(head, total_bytes)
        if cut is not None:
            raise AudioError(
                f"truncated {kind}: the header declares {cut[0]} bytes of audio data but only {cut[1]} are "
                "present",
                source=name,
            )


def _check_header(sr: int, channels: int, frames: int, name: str) -> None:
    if not MIN_SAMPLE_RATE <= sr <= MAX_SAMPLE_RATE:
        raise AudioError(
            f"sample rate {sr} Hz is out of range [{MIN_SAMPLE_RATE}, {MAX_SAMPLE_RATE}]", source=name
        )
    if not 1 <= channels <= MAX_CHANNELS:
        raise AudioError(f"{channels} channels is out of range [1, {MAX_CHANNELS}]", source=name)
    if frames <= 0:
        raise AudioError("contains no audio samples (zero length)", source=name)


def info(source: Source) -> AudioInfo:
    """Read an audio file's header without decoding it.

    Raises
    ------
    AudioError
        Missing, empty, not audio, or out-of-range sample rate / channel count.
    """
    name = source_name(source)
    handle, ext = _as_binary(source, name)
    try:
        with sf.SoundFile(handle) as f:
            out = AudioInfo(name, f.samplerate, f.channels, f.frames, f.format, f.subtype)
    except sf.LibsndfileError as exc:
        if ext in FFMPEG_EXTENSIONS:
            y, sr, ch = _ffmpeg_decode(handle, name)
            out = AudioInfo(name, sr, ch, len(y), ext.lstrip(".").upper(), "ffmpeg")
        else:
            raise _decode_error(exc, name) from None
    _check_header(out.sr, out.channels, out.frames, name)
    return out


def _decode_error(exc: Exception, name: str) -> AudioError:
    msg = str(exc)
    low = msg.lower()
    if "format not recognised" in low or "unknown format" in low or "not recognised" in low:
        return AudioError("not an audio file, or a format soundfile cannot decode", source=name)
    if "not a regular file" in low:  # libsndfile's words for a stream it gave up on (a cut-off mp3)
        return AudioError("corrupt or truncated audio data (its stream cannot be opened)", source=name)
    if "unspecified internal error" in low or "malformed" in low or "invalid" in low:
        return AudioError(f"corrupt or truncated audio data ({msg.strip()})", source=name)
    return AudioError(f"cannot decode audio: {msg.strip()}", source=name)


def _ffmpeg_decode(
    handle: BinaryIO | str, name: str, *, limit_s: float | None = None
) -> tuple[np.ndarray, int, int]:
    """Decode any container ffmpeg knows to float32 frames; returns ``(frames (n, ch), sr, ch)``.

    ``limit_s``: decode at most this many seconds from the start (bounds the memory of a long file).
    """
    exe = shutil.which("ffmpeg")
    if exe is None:
        raise UnsupportedFormatError(
            "this container (m4a/aac/mp4/...) needs ffmpeg, which is not installed; install it "
            "(e.g. `apt-get install ffmpeg`) or convert the file to wav/flac/ogg/mp3",
            source=name,
        )
    data = Path(handle).read_bytes() if isinstance(handle, str) else handle.read()
    limit = ["-t", f"{limit_s:.3f}"] if limit_s is not None else []
    probe = subprocess.run(
        [exe, "-v", "error", "-i", "pipe:0", *limit, "-f", "wav", "-acodec", "pcm_f32le", "pipe:1"],
        input=data,
        capture_output=True,
        check=False,
    )
    if probe.returncode != 0 or not probe.stdout:
        err = probe.stderr.decode(errors="replace").strip().splitlines()
        raise AudioError(f"ffmpeg could not decode it: {err[-1] if err else 'no output'}", source=name)
    frames, sr = sf.read(io.BytesIO(probe.stdout), dtype="float32", always_2d=True)
    return frames, int(sr), frames.shape[1]


def resample(y: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Resample with soxr at the library's one fixed quality.

    Parameters
    ----------
    y : np.ndarray, shape (n_samples,) or (n_samples, channels)
    sr_in, sr_out : int
        Input and output sample rates in Hz.

    Returns
    -------
    np.ndarray, float32, shape (round(n_samples * sr_out / sr_in),) or with channels
    """
    if sr_in == sr_out:
        return np.asarray(y, dtype=np.float32)
    out = soxr.resample(np.asarray(y, dtype=np.float32), sr_in, sr_out, quality=RESAMPLE_QUALITY)
    return np.asarray(out, dtype=np.float32)


def to_mono(frames: np.ndarray) -> np.ndarray:
    """Mix ``(n_samples, channels)`` frames down to ``(n_samples,)`` by averaging the channels.

    Channels are added one strided column at a time, which is several times faster than a
    ``mean(axis=1)`` reduction over the short channel axis.
    """
    if frames.ndim == 1:
        return frames.astype(np.float32, copy=False)
    y = frames[:, 0].astype(np.float32, copy=True)
    for c in range(1, frames.shape[1]):
        y += frames[:, c]
    if frames.shape[1] > 1:
        y *= np.float32(1.0 / frames.shape[1])
    return y


def load(
    source: Source,
    *,
    sr: int | None = SAMPLE_RATE,
    mono: bool = True,
    offset_s: float = 0.0,
    duration_s: float | None = None,
    max_duration_s: float | None = MAX_DURATION_S,
) -> tuple[np.ndarray, int]:
    """Decode audio to float32 samples, mixed to mono and resampled.

    Parameters
    ----------
    source : path, bytes or binary file object
        wav, au/snd, aiff, flac, ogg/vorbis, opus and mp3 through soundfile; m4a/aac and other
        containers through ffmpeg when it is installed.
    sr : int or None
        Output sample rate in Hz; ``None`` keeps the file's own rate.
    mono : bool
        Average the channels (``True``) or keep them as shape ``(channels, n_samples)``.
    offset_s, duration_s : float
        Read only this window; only those frames are decoded (where the format can seek).
    max_duration_s : float or None
        Refuse audio (or a window) longer than this; ``None`` for no limit.

    Returns
    -------
    y : np.ndarray, float32, shape (n_samples,) (or (channels, n_samples) when ``mono=False``)
    sr : int
        The sample rate of ``y``.

    Raises
    ------
    AudioError
        Missing, empty, corrupt, truncated or non-audio input; non-finite samples; sample rate or channel
        count out of range; a window outside the audio; audio longer than ``max_duration_s``.
    UnsupportedFormatError
        A container that needs ffmpeg when ffmpeg is not installed.
    """
    name = source_name(source)
    if offset_s < 0:
        raise ConfigError(f"offset_s must be >= 0, got {offset_s}")
    if duration_s is not None and duration_s <= 0:
        raise ConfigError(f"duration_s must be > 0, got {duration_s}")
    if sr is not None and not MIN_SAMPLE_RATE <= sr <= MAX_SAMPLE_RATE:
        raise ConfigError(f"sr must be in [{MIN_SAMPLE_RATE}, {MAX_SAMPLE_RATE}], got {sr}")
    handle, ext = _as_binary(source, name)
    try:
        frames, native_sr = _read_soundfile(handle, name, offset_s, duration_s, max_duration_s)
    except sf.LibsndfileError as exc:
        if ext in FFMPEG_EXTENSIONS:
            if not isinstance(handle, str):
                handle.seek(0)
            # ffmpeg cannot tell the length first: decode only up to the window's end, or to just past
            # max_duration_s (so an over-long file is refused without decoding all of it)
            limit = (
                offset_s + duration_s
                if duration_s is not None
                else (offset_s + max_duration_s + 1.0 if max_duration_s is not None else None)
            )
            frames, native_sr, ch = _ffmpeg_decode(handle, name, limit_s=limit)
            _check_header(native_sr, ch, len(frames), name)
            start = int(round(offset_s * native_sr))
            stop = None if duration_s is None else start + int(round(duration_s * native_sr))
            if start >= len(frames):
                raise AudioError(
                    f"offset {offset_s:.3f} s is past the end ({len(frames) / native_sr:.3f} s)", source=name
                ) from None
            frames = frames[start:stop]
            seconds = len(frames) / native_sr
            cut = duration_s is None and max_duration_s is not None and seconds > max_duration_s
            _check_max(seconds, max_duration_s, name, at_least=cut)
        else:
            raise _decode_error(exc, name) from None
    if not np.all(np.isfinite(frames)):
        raise AudioError("contains non-finite samples (NaN or infinity)", source=name)
    y = to_mono(frames) if mono else np.ascontiguousarray(frames.T, dtype=np.float32)
    out_sr = native_sr if sr is None else sr
    if out_sr != native_sr:
        y = resample(y if mono else y.T, native_sr, out_sr)
        y = y if mono else np.ascontiguousarray(y.T)
    return y.astype(np.float32, copy=False), int(out_sr)


#: Peak below which audio counts as silent (-120 dBFS): nothing to classify.
SILENCE_PEAK = 1e-6


def check_audible(y: np.ndarray, name: str | None = None) -> None:
    """Refuse audio with nothing in it.

    Every sample below -120 dBFS: digital silence, or channels that cancelled out in the mono mix. A
    genre of silence would be a confident-looking guess.

    Raises
    ------
    AudioError
    """
    if y.size == 0 or float(np.max(np.abs(y))) < SILENCE_PEAK:
        raise AudioError(
            "is silent (every sample below -120 dBFS): there is no music to classify", source=name
        )


def _check_max(seconds: float, max_duration_s: float | None, name: str, *, at_least: bool = False) -> None:
    if max_duration_s is not None and seconds > max_duration_s:
        length = "longer than" if at_least else f"{seconds:.1f} s long, over"
        raise AudioError(
            f"audio is {length} the limit of {max_duration_s:.1f} s; read a window with "
            "duration_s or raise max_duration_s",
            source=name,
        )


def _read_soundfile(
    handle: BinaryIO | str,
    name: str,
    offset_s: float,
    duration_s: float | None,
    max_duration_s: float | None,
) -> tuple[np.ndarray, int]:
    with sf.SoundFile(handle) as f:
        native_sr, channels, total = f.samplerate, f.channels, f.frames
        _check_header(native_sr, channels, total, name)
        start = int(round(offset_s * native_sr))
        if start >= total:
            raise AudioError(
                f"offset {offset_s:.3f} s is past the end of the audio ({total / native_sr:.3f} s)",
                source=name,
            )
        n = total - start if duration_s is None else min(int(round(duration_s * native_sr)), total - start)
        _check_max(n / native_sr, max_duration_s, name)
        if start:
            f.seek(start)
        try:
            frames = f.read(n, dtype="float32", always_2d=True)
        except sf.LibsndfileError as exc:
            raise AudioError(f"corrupt or truncated audio data ({str(exc).strip()})", source=name) from None
        except RuntimeError as exc:  # some decoders (mpg123) raise plain RuntimeError on bad frames
            raise AudioError(f"corrupt or truncated audio data ({exc})", source=name) from None
    if len(frames) == 0:
        raise AudioError("contains no decodable audio samples (corrupt or truncated)", source=name)
    if len(frames) < 0.9 * n and n - len(frames) > native_sr // 10:
        raise AudioError(
            f"truncated: the header promises {n} frames from {offset_s:.3f} s but only {len(frames)} "
            "could be decoded",
            source=name,
        )
    return frames, native_sr


def segment_bounds(
    n_samples: int, sr: int, *, segment_s: float, hop_s: float | None = None, pad: str = "repeat"
) -> np.ndarray:
    """Start and end sample of every segment :func:`segments` returns.

    Full segments are taken every ``hop_s`` from the start. When the audio after the last full segment
    is at least ``MIN_TAIL_FRACTION`` of a segment (or the whole signal is shorter than one segment), one
    more segment starts a hop later and is padded; with ``pad="drop"`` partial segments are never kept.

    Returns
    -------
    np.ndarray, int64, shape (n_segments, 2)
        ``[start, end)`` in samples of the real (unpadded) audio each segment covers.
    """
    if pad not in ("repeat", "zero", "drop"):
        raise ConfigError(f"pad must be one of 'repeat', 'zero', 'drop', got {pad!r}")
    if segment_s <= 0 or (hop_s is not None and hop_s <= 0):
        raise ConfigError(f"segment_s and hop_s must be > 0, got {segment_s}, {hop_s}")
    seg = max(1, int(round(segment_s * sr)))
    hop = seg if hop_s is None else max(1, int(round(hop_s * sr)))
    if n_samples <= 0:
        return np.zeros((0, 2), dtype=np.int64)
    starts = list(range(0, n_samples - seg + 1, hop)) if n_samples >= seg else []
    bounds = [(s, s + seg) for s in starts]
    if pad != "drop":
        next_start = starts[-1] + hop if starts else 0
        uncovered = n_samples - (starts[-1] + seg if starts else 0)
        if next_start < n_samples and (not starts or uncovered >= MIN_TAIL_FRACTION * seg):
            bounds.append((next_start, n_samples))
    return np.asarray(bounds, dtype=np.int64).reshape(-1, 2)


def segments(
    y: np.ndarray, sr: int, *, segment_s: float, hop_s: float | None = None, pad: str = "repeat"
) -> np.ndarray:
    """Cut a signal into equal-length segments.

    Parameters
    ----------
    y : np.ndarray, shape (n_samples,)
    sr : int
    segment_s : float
        Segment length in seconds.
    hop_s : float or None
        Distance between segment starts; ``None`` for ``segment_s`` (no overlap).
    pad : {"repeat", "zero", "drop"}
        How a partial segment is filled: by repeating its own audio, with zeros, or not kept at all.

    Returns
    -------
    np.ndarray, float32, shape (n_segments, round(segment_s * sr))
        See :func:`segment_bounds` for which segments exist.
    """
    y = np.asarray(y, dtype=np.float32)
    seg = max(1, int(round(segment_s * sr)))
    bounds = segment_bounds(len(y), sr, segment_s=segment_s, hop_s=hop_s, pad=pad)
    out = np.zeros((len(bounds), seg), dtype=np.float32)
    for i, (s, e) in enumerate(bounds):
        part = y[s:e]
        if len(part) == seg:
            out[i] = part
        elif pad == "repeat":
            out[i] = np.resize(part, seg)  # np.resize repeats the array cyclically
        else:
            out[i, : len(part)] = part
    return out


def center_crop(y: np.ndarray, sr: int, *, duration_s: float) -> np.ndarray:
    """Return the ``duration_s`` window around the middle of ``y`` (``y`` itself when shorter).

    Returns
    -------
    np.ndarray, shape (min(n_samples, round(duration_s * sr)),)
    """
    if duration_s <= 0:
        raise ConfigError(f"duration_s must be > 0, got {duration_s}")
    n = int(round(duration_s * sr))
    if len(y) <= n:
        return y
    start = (len(y) - n) // 2
    return y[start : start + n]


def file_digest(path: str | os.PathLike, *, chunk_size: int = 1 << 20) -> str:
    """BLAKE2b-128 hex digest of a file's bytes, for caches and resumable batches."""
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            h.update(chunk)
    return h.hexdigest()


def array_digest(y: np.ndarray) -> str:
    """BLAKE2b-128 hex digest of an array's dtype, shape and bytes."""
    h = hashlib.blake2b(digest_size=16)
    h.update(str(y.dtype).encode() + str(y.shape).encode())
    h.update(np.ascontiguousarray(y).tobytes())
    return h.hexdigest()
