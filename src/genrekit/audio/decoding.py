"""Decoding whole sources: the header (:func:`info`) and the samples (:func:`load`).

soundfile decodes what it can; the containers it cannot read go through ffmpeg when it is installed.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

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
    _seek_point,
    _slack_frames,
    source_name,
)
from genrekit.audio.samples import check_samples, resample, to_mono
from genrekit.config import FFMPEG_EXTENSIONS, MAX_DURATION_S, SAMPLE_RATE
from genrekit.errors import AudioError, ConfigError, UnsupportedFormatError


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


def info(source: Source) -> AudioInfo:
    """Read an audio file's header without decoding it.

    Raises
    ------
    AudioError
        Missing, empty, not audio, or out-of-range sample rate / channel count.
    """
    name = source_name(source)
    handle, ext, head = _as_binary(source, name)
    try:
        with _native_quiet(head), sf.SoundFile(handle) as f:
            out = AudioInfo(name, f.samplerate, f.channels, f.frames, f.format, f.subtype)
    except (sf.LibsndfileError, RuntimeError) as exc:
        if ext in FFMPEG_EXTENSIONS:
            y, sr, ch = _ffmpeg_decode(handle, name)
            out = AudioInfo(name, sr, ch, len(y), ext.lstrip(".").upper(), "ffmpeg")
        else:
            raise _decode_error(exc, name, head) from None
    _check_header(out.sr, out.channels, out.frames, name)
    return out


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
    if sr is not None:
        _check_rate(sr)
    handle, ext, head = _as_binary(source, name)
    try:
        with _native_quiet(head):
            frames, native_sr = _read_soundfile(handle, name, offset_s, duration_s, max_duration_s)
    except (sf.LibsndfileError, RuntimeError) as exc:
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
            raise _decode_error(exc, name, head) from None
    check_samples(frames, name)
    y = to_mono(frames) if mono else np.ascontiguousarray(frames.T, dtype=np.float32)
    out_sr = native_sr if sr is None else sr
    if out_sr != native_sr:
        y = resample(y if mono else y.T, native_sr, out_sr)
        y = y if mono else np.ascontiguousarray(y.T)
    return y.astype(np.float32, copy=False), int(out_sr)


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
        # seek to the window where seeks are exact; an Ogg decodes forward to it (its seeks land elsewhere)
        frames = FrameReader(f, name, exact_seek=f.format in EXACT_SEEK_FORMATS).read(start, start + n)
    return frames, native_sr


#: Containers whose seeks soundfile (libsndfile 1.2) lands sample-exactly: measured against whole decodes.
#: Ogg (Vorbis, Opus) is not among them: a seek after a short read, or into the last page, lands
#: elsewhere, so Ogg windows are reached by decoding forward (still without resampling or features).
EXACT_SEEK_FORMATS = frozenset({"WAV", "WAVEX", "RF64", "W64", "AIFF", "AU", "CAF", "FLAC", "MP3"})
#: Frames decoded per read while skipping forward (bounds the memory of a skip).
_SKIP_BLOCK = 1 << 16


class FrameReader:
    """Reads native frame ranges of an open file in increasing order: the one seek-and-read rule.

    By seeking where seeks are exact (an mp3 from a prerolled point, see :func:`_seek_point`), else by
    decoding forward (discarding, block by block) to each range. A read that decodes fewer frames than
    asked for (beyond an mp3's estimate slack) is refused as truncation. Used by :func:`load` for its
    window and by :func:`genrekit.audio.load_windows` for each of its windows.
    """

    def __init__(self, f: sf.SoundFile, name: str, *, exact_seek: bool) -> None:
        self.f, self.name, self.exact_seek, self.pos = f, name, exact_seek, 0

    def read(self, start: int, end: int) -> np.ndarray:
        """Frames ``[start, end)`` as ``(n, channels)`` float32; a short read is refused as truncation."""
        if self.exact_seek and start != self.pos:
            to = _seek_point(self.f.format, start)  # an mp3 from a prerolled point
            try:
                self.f.seek(to)
            except (sf.LibsndfileError, RuntimeError) as exc:  # a cut-off flac cannot seek into the gap
                raise AudioError(
                    f"corrupt or truncated audio data (cannot seek to {to / self.f.samplerate:.3f} s: {exc})",
                    source=self.name,
                ) from None
            self.pos = to
        if start < self.pos:  # decoding forward only: start again from the beginning
            self.f.seek(0)
            self.pos = 0
        if self.exact_seek:
            # one read from the seek on: libsndfile 1.2's mp3 decoder gives wrong samples after a read
            # that stopped inside an MPEG frame, so a window is never read in two parts
            first = self.pos
            return self._frames(end - first)[start - first :]
        while self.pos < start:
            self._frames(min(_SKIP_BLOCK, start - self.pos))
        return self._frames(end - start)

    def _frames(self, n: int) -> np.ndarray:
        f = self.f
        try:
            frames = f.read(n, dtype="float32", always_2d=True)
        except sf.LibsndfileError as exc:
            msg = str(exc).strip()
            raise AudioError(f"corrupt or truncated audio data ({msg})", source=self.name) from None
        except RuntimeError as exc:  # some decoders (mpg123) raise plain RuntimeError on bad frames
            raise AudioError(f"corrupt or truncated audio data ({exc})", source=self.name) from None
        if n and not len(frames):
            raise AudioError("contains no decodable audio samples (corrupt or truncated)", source=self.name)
        if n - len(frames) > _slack_frames(f.format):
            sr = f.samplerate
            raise AudioError(
                f"truncated: decoded {len(frames) / sr:.2f} s of {n / sr:.2f} s (the header declares {n} "
                f"frames from {self.pos / sr:.3f} s, {len(frames)} could be decoded)",
                source=self.name,
            )
        self.pos += n
        return frames
