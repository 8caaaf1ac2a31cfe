"""Audio in: decode files, bytes or file objects to float32 mono at a chosen rate, and cut segments.

Everything inside genrekit works on ``np.ndarray`` float32 of shape ``(n_samples,)``, finite, with its
``sr`` next to it. :func:`load` is the one way in (:func:`load_crop` when only the middle of a track is
wanted); :func:`segments` and :func:`center_crop` are pure.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import logging
import math
import os
import re
import shutil
import stat
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

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
from genrekit.errors import AudioError, ConfigError, GenreKitError, UnsupportedFormatError

Source = str | os.PathLike | bytes | bytearray | BinaryIO
log = logging.getLogger(__name__)

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


class _Bytes(io.BytesIO):
    """BytesIO for libsndfile's virtual I/O: a seek before the start stays where it is.

    A corrupt header can make libsndfile seek to a negative offset; BytesIO raises ValueError there,
    which soundfile's C callback cannot pass on (it is printed to stderr as an ignored exception).
    """

    def seek(self, offset: int, whence: int = 0) -> int:
        try:
            return super().seek(offset, whence)
        except ValueError:
            if self.closed:
                raise
            return self.tell()


def _path_size(path: Path, name: str) -> int:
    """Size in bytes of a regular file at ``path``; an AudioError naming what it is otherwise.

    Only ``stat`` is called: a FIFO, device or socket is never opened (opening a FIFO blocks until a
    writer appears).
    """
    try:
        st = path.stat()
    except FileNotFoundError:
        if path.is_symlink():
            raise AudioError("is a broken symbolic link (its target does not exist)", source=name) from None
        raise AudioError("file not found", source=name) from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise AudioError("is a symbolic link loop (it never resolves to a file)", source=name) from None
        raise AudioError(f"cannot read: {exc.strerror or exc}", source=name) from None
    if stat.S_ISDIR(st.st_mode):
        raise AudioError("is a directory, not an audio file", source=name)
    if not stat.S_ISREG(st.st_mode):
        kind = next((k for test, k in _SPECIAL_FILES if test(st.st_mode)), "special file")
        raise AudioError(
            f"is not a regular file (a {kind}); audio is read from regular files only", source=name
        )
    if st.st_size == 0:
        raise AudioError("empty file (0 bytes)", source=name)
    return int(st.st_size)


_SPECIAL_FILES = (
    (stat.S_ISFIFO, "FIFO"),
    (stat.S_ISCHR, "character device"),
    (stat.S_ISBLK, "block device"),
    (stat.S_ISSOCK, "socket"),
)
#: Bytes read from each end of a file for the header checks (container lengths, ogg's last page).
_PROBE_BYTES = 1 << 16


def _as_binary(source: Source, name: str) -> tuple[BinaryIO | str, str | None, bytes]:
    """Open/check a source for soundfile.

    Returns the handle for soundfile, the lower-case extension (None when unknown) and the first bytes
    (for :func:`sniff`). Refuses empty, non-regular, unreadable and truncated sources.
    """
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        size = _path_size(path, name)
        try:
            with open(path, "rb") as f:
                head = f.read(_PROBE_BYTES)
                f.seek(max(0, size - _PROBE_BYTES))
                tail = f.read(_PROBE_BYTES)
        except OSError as exc:
            raise AudioError(f"cannot read: {exc.strerror or exc}", source=name) from None
        _raise_if_truncated(head, tail, size, name)
        return str(path), path.suffix.lower(), head
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        ext = None
    elif hasattr(source, "read"):
        data = source.read()
        if not isinstance(data, bytes | bytearray):
            raise AudioError("file object did not give bytes (open it in binary mode)", source=name)
        ext = Path(name).suffix.lower() or None
    else:
        raise AudioError(f"cannot read audio from a {type(source).__name__}", source=name)
    if len(data) == 0:
        raise AudioError("empty input (0 bytes)", source=name)
    _raise_if_truncated(data[:_PROBE_BYTES], data[-_PROBE_BYTES:], len(data), name)
    return _Bytes(bytes(data)), ext, bytes(data[:_PROBE_BYTES])


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


def _ogg_truncation(head: bytes, tail: bytes) -> str | None:
    """For an Ogg stream, why its end is missing (last page cut short, or no end-of-stream page); else None.

    ``tail`` holds the file's last bytes (at least one whole page, 65,307 bytes at most, when complete).
    """
    if head[:4] != b"OggS":
        return None
    idx = tail.rfind(b"OggS")
    while idx >= 0 and (len(tail) - idx < 27 or tail[idx + 4] != 0):  # version byte 0: a page header
        if len(tail) - idx < 27:
            return "its last page is cut off"
        idx = tail.rfind(b"OggS", 0, idx)
    if idx < 0:
        return "no complete page at its end"
    n_segs = tail[idx + 26]
    table = tail[idx + 27 : idx + 27 + n_segs]
    if len(table) < n_segs or idx + 27 + n_segs + sum(table) > len(tail):
        return "its last page is cut off"
    if not tail[idx + 5] & 0x04:
        return "it ends without the end-of-stream page"
    return None


def _mp3_truncation(head: bytes, total_bytes: int) -> tuple[int, int] | None:
    """For an mp3 whose Xing/Info (LAME) or VBRI tag declares its stream bytes, ``(declared, present)``.

    Given only when the whole file is smaller than the declared stream (so an ID3 tag counted or not in
    the declared bytes never makes a whole file look cut).
    """
    pos = 0
    if head[:3] == b"ID3" and len(head) >= 10:  # ID3v2 tag: syncsafe size, optional footer
        pos = 10 + sum((b & 0x7F) << (7 * (3 - i)) for i, b in enumerate(head[6:10]))
        pos += 10 if head[5] & 0x10 else 0
    if pos + 4 > len(head) or head[pos] != 0xFF or (head[pos + 1] & 0xE0) != 0xE0:
        return None
    version, layer = (head[pos + 1] >> 3) & 3, (head[pos + 1] >> 1) & 3
    if layer != 1 or version == 1:  # layer III only; version 1 is reserved
        return None
    mono = head[pos + 3] >> 6 == 3
    side = (17 if mono else 32) if version == 3 else (9 if mono else 17)
    x = pos + 4 + side
    declared = None
    if head[x : x + 4] in (b"Xing", b"Info") and len(head) >= x + 16:
        flags = int.from_bytes(head[x + 4 : x + 8], "big")
        q = x + 8 + (4 if flags & 1 else 0)
        if flags & 2:
            declared = int.from_bytes(head[q : q + 4], "big")
    elif head[pos + 36 : pos + 40] == b"VBRI" and len(head) >= pos + 50:
        declared = int.from_bytes(head[pos + 46 : pos + 50], "big")
    if not declared or total_bytes >= declared:
        return None
    return declared, total_bytes


def _raise_if_truncated(head: bytes, tail: bytes, total_bytes: int, name: str) -> None:
    """Refuse a file shorter than its container says.

    wav/aiff/au data sizes, mp3 Xing/VBRI stream bytes, the Ogg end-of-stream page. (The decoded length
    is compared with the header's frame count in ``_read_soundfile``.)
    """
    for kind, check in (
        ("wav", _wav_truncation),
        ("aiff", _aiff_truncation),
        ("au", _au_truncation),
        ("mp3", _mp3_truncation),
    ):
        cut = check(head, total_bytes)
        if cut is not None:
            raise AudioError(
                f"truncated {kind}: the header declares {cut[0]} bytes of audio data but only {cut[1]} are "
                "present",
                source=name,
            )
    why = _ogg_truncation(head, tail)
    if why is not None:
        raise AudioError(f"truncated ogg: {why}, so the end of the audio is missing", source=name)


#: Magic bytes of the containers genrekit decodes: ``(offset, bytes, kind)``.
_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (0, b"RIFF", "wav"),
    (0, b"RIFX", "wav"),
    (0, b"RF64", "wav"),
    (0, b"BW64", "wav"),
    (0, b"riff", "w64"),
    (0, b"FORM", "aiff"),
    (0, b".snd", "au"),
    (0, b"dns.", "au"),
    (0, b"fLaC", "flac"),
    (0, b"OggS", "ogg"),
    (0, b"ID3", "mp3"),
    (0, b"caff", "caf"),
    (0, b"Creative Voice File", "voc"),
    (4, b"ftyp", "mp4"),
    (0, b"\x1a\x45\xdf\xa3", "webm"),
    (0, b"\x30\x26\xb2\x75", "asf"),
)


def sniff(head: bytes) -> str | None:
    """The container kind the first bytes announce (``"wav"``, ``"mp3"``, ``"ogg"``, ...), or None."""
    for offset, magic, kind in _MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return kind
    if len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0:  # an MPEG audio frame sync
        return "mp3" if (head[1] >> 1) & 3 else "aac"
    return None


_stderr_lock = threading.Lock()
_stderr_users = 0
_stderr_saved: int | None = None
_stderr_capture: Any = None


@contextlib.contextmanager
def _quiet_native_stderr() -> Iterator[None]:
    """Keep libmpg123's own warnings (printed by C code to file descriptor 2) off the user's terminal.

    While any thread is inside, fd 2 goes to a temporary file; when the last one leaves, fd 2 is restored,
    lines from mpg123 are logged at debug level and any other line (Python's own stderr output of that
    moment) is written to the real stderr. Re-entrant across threads: no decode waits for another.
    """
    global _stderr_users, _stderr_saved, _stderr_capture
    with _stderr_lock:
        if _stderr_users == 0:
            try:
                capture = tempfile.TemporaryFile()
                saved = os.dup(2)
                os.dup2(capture.fileno(), 2)
            except OSError:  # no fd 2 (a daemon) or no temp space: leave stderr alone
                capture = None
            if capture is None:
                active = False
            else:
                _stderr_saved, _stderr_capture, active = saved, capture, True
        else:
            active = True
        if active:
            _stderr_users += 1
    try:
        yield
    finally:
        if active:
            _release_stderr()


def _release_stderr() -> None:
    global _stderr_users, _stderr_saved, _stderr_capture
    with _stderr_lock:
        _stderr_users -= 1
        if _stderr_users or _stderr_saved is None:
            return
        os.dup2(_stderr_saved, 2)
        os.close(_stderr_saved)
        _stderr_capture.seek(0)
        text = _stderr_capture.read(1 << 16).decode(errors="replace")
        _stderr_capture.close()
        _stderr_saved = _stderr_capture = None
    other = []
    for line in text.splitlines():
        if _MPG123_LINE.match(line):
            log.debug("libmpg123: %s", line)
        else:
            other.append(line)
    if other:
        os.write(2, ("\n".join(other) + "\n").encode())


_MPG123_LINE = re.compile(r"^(Warning|Note|Error|\[[^\]]*(libmpg123|mpg123)[^\]]*\])\b|^\[.*\.c:\d+\]")


def _native_quiet(head: bytes) -> contextlib.AbstractContextManager[None]:
    """:func:`_quiet_native_stderr` for mp3 input (mpg123 prints to stderr), a no-op for the rest."""
    return _quiet_native_stderr() if sniff(head) == "mp3" else contextlib.nullcontext()


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


def _decode_error(exc: Exception, name: str, head: bytes = b"") -> AudioError:
    """Build the AudioError for a decoder's refusal.

    "not an audio file" when no known header starts the bytes (libsndfile would otherwise name the last
    format it tried, e.g. VOC).
    """
    if sniff(head) is None:
        return AudioError("not an audio file (no known audio header)", source=name)
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
    if not MIN_SAMPLE_RATE <= sr <= MAX_SAMPLE_RATE:
        raise ConfigError(f"sr must be in [{MIN_SAMPLE_RATE}, {MAX_SAMPLE_RATE}], got {sr}")
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


#: Containers whose seeks soundfile (libsndfile 1.2) lands sample-exactly: measured against whole decodes.
#: Ogg (Vorbis, Opus) is not among them: a seek after a short read, or into the last page, lands
#: elsewhere, so Ogg windows are reached by decoding forward (still without resampling or features).
_EXACT_SEEK_FORMATS = frozenset({"WAV", "WAVEX", "RF64", "W64", "AIFF", "AU", "CAF", "FLAC", "MP3"})
#: Native frames an mp3 is decoded from before a window (16 MPEG frames, 0.42 s at 44.1 kHz): after a
#: seek, mpg123's output equals the continuous decode's from 4-8 frames on (measured on 450 seeks).
_MPEG_PREROLL_FRAMES = 16 * 1152
#: Frames decoded per read while skipping forward (bounds the memory of a skip).
_SKIP_BLOCK = 1 << 16


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
    reader = _FrameReader(f, name, exact_seek=f.format in _EXACT_SEEK_FORMATS)
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


class _FrameReader:
    """Reads native frame ranges of an open file in increasing order.

    By seeking where seeks are exact, else by decoding forward (discarding, block by block) to each range.
    """

    def __init__(self, f: sf.SoundFile, name: str, *, exact_seek: bool) -> None:
        self.f, self.name, self.exact_seek, self.pos = f, name, exact_seek, 0

    def read(self, start: int, end: int) -> np.ndarray:
        """Frames ``[start, end)`` as ``(n, channels)`` float32; a short read is refused as truncation."""
        if self.exact_seek and start != self.pos:
            # mpg123 lands a seek on the right sample, but its first frames after a seek differ from the
            # continuous decode (bit reservoir, overlap-add): an mp3 is decoded from a prerolled point
            to = max(0, start - _MPEG_PREROLL_FRAMES) if self.f.format == _MPEG_FORMAT else start
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
        short = n - len(frames)
        if short > (_MPEG_SLACK_FRAMES if f.format == _MPEG_FORMAT else 0) or (n and not len(frames)):
            raise AudioError(
                f"truncated: decoded {len(frames)} of the {n} frames the header declares from "
                f"{self.pos / f.samplerate:.3f} s",
                source=self.name,
            )
        self.pos += n
        return frames


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
            f"audio is {length} the limit of {max_duration_s:.1f} s; classify a window of it (the CLI's "
            "--crop-s, the service's crop_s) or raise the limit",
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
        native_sr, channels, total, fmt = f.samplerate, f.channels, f.frames, f.format
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
    if n - len(frames) > (_MPEG_SLACK_FRAMES if fmt == _MPEG_FORMAT else 0):
        raise AudioError(
            f"truncated: decoded {len(frames) / native_sr:.2f} s of {n / native_sr:.2f} s (the header "
            f"declares {n} frames from {offset_s:.3f} s, {len(frames)} could be decoded)",
            source=name,
        )
    return frames, native_sr


#: soundfile's name of the mp3 container (``SoundFile.format``).
_MPEG_FORMAT = "MP3"
#: Frames an mp3 may decode short of its header's count without being truncated (two MPEG frames: the
#: count of a stream without a LAME gapless tag is an estimate).
_MPEG_SLACK_FRAMES = 2 * 1152

#: Largest sample magnitude taken (+80 dB over full scale). Float files may go a little over 1.0; far
#: beyond it the powers of the features overflow float32.
MAX_SAMPLE_ABS = 1e4


def check_samples(frames: np.ndarray, name: str | None = None) -> None:
    """Refuse non-finite samples and samples far beyond full scale (without numpy warnings)."""
    if not np.all(np.isfinite(frames)):
        raise AudioError("contains non-finite samples (NaN or infinity)", source=name)
    peak = float(np.max(np.abs(frames))) if frames.size else 0.0
    if peak > MAX_SAMPLE_ABS:
        raise AudioError(
            f"samples reach {peak:.3g}, far beyond full scale (1.0); the limit is {MAX_SAMPLE_ABS:g} "
            "(+80 dBFS): rescale the file",
            source=name,
        )


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
        if hasattr(src, "seek"):
            try:
                src.seek(0)
            except (OSError, ValueError):
                pass


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
    if crop_s is not None and not crop_s > 0:
        raise ConfigError(f"crop_s must be > 0 seconds, got {crop_s}")
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
