"""Audio sources and containers: open, sniff and check a source before decoding it.

A path, bytes or a file object is opened safely (special files refused, size known), its format sniffed
from the first bytes, a file shorter than its container says refused, a header checked against the
limits, and native decoders kept quiet on stderr.
"""

from __future__ import annotations

import contextlib
import errno
import io
import logging
import os
import re
import stat
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from genrekit.config import (
    MAX_CHANNELS,
    MAX_SAMPLE_RATE,
    MIN_SAMPLE_RATE,
)
from genrekit.errors import AudioError, ConfigError

Source = str | os.PathLike | bytes | bytearray | BinaryIO
log = logging.getLogger(__name__)


def rewind(source: Any) -> None:
    """Seek a file object back to its start (after a read that is not the one kept); others are left."""
    if hasattr(source, "seek"):
        try:
            source.seek(0)
        except (OSError, ValueError):
            pass


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


#: mpg123's own lines: "Warning: ...", or a "[src/libmpg123/layer3.c:INT123_do_layer3():1774] error: ..."
#: (after a seek into a stream whose bit reservoir is then missing; load_windows seeks).
_MPG123_LINE = re.compile(r"^(Warning|Note|Error)\b|^\[[^\]]*(libmpg123|mpg123)[^\]]*\]|^\[.*\.c:\d+\]")


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


def _check_max(seconds: float, max_duration_s: float | None, name: str, *, at_least: bool = False) -> None:
    if max_duration_s is not None and seconds > max_duration_s:
        length = "longer than" if at_least else f"{seconds:.1f} s long, over"
        raise AudioError(
            f"audio is {length} the limit of {max_duration_s:.1f} s; classify a window of it (the CLI's "
            "--crop-s, the service's crop_s) or raise the limit",
            source=name,
        )


#: soundfile's name of the mp3 container (``SoundFile.format``).
_MPEG_FORMAT = "MP3"
#: Native frames an mp3 is decoded from before a seek target (16 MPEG frames, 0.42 s at 44.1 kHz): after
#: a seek, mpg123's output equals the continuous decode's from 4-8 frames on (measured on 450 seeks).
_MPEG_PREROLL_FRAMES = 16 * 1152


def _seek_point(fmt: str, start: int) -> int:
    """The frame to seek to so that frames from ``start`` on come out as the whole decode gives them.

    ``start`` itself, except for an mp3: mpg123 lands on the right sample, but its first frames after a
    seek differ from the continuous decode (bit reservoir, overlap-add), so it decodes from a prerolled
    point and the caller drops the frames before ``start``.
    """
    return max(0, start - _MPEG_PREROLL_FRAMES) if fmt == _MPEG_FORMAT else start


#: Frames an mp3 may decode short of its header's count without being truncated (two MPEG frames: the
#: count of a stream without a LAME gapless tag is an estimate).
_MPEG_SLACK_FRAMES = 2 * 1152


def _slack_frames(fmt: str) -> int:
    """Frames a container of soundfile format ``fmt`` may decode short of its header's count."""
    return _MPEG_SLACK_FRAMES if fmt == _MPEG_FORMAT else 0


def _check_rate(sr: int) -> None:
    """Refuse an output sample rate outside the library's range (a ConfigError naming ``sr``)."""
    if not MIN_SAMPLE_RATE <= sr <= MAX_SAMPLE_RATE:
        raise ConfigError(f"sr must be in [{MIN_SAMPLE_RATE}, {MAX_SAMPLE_RATE}], got {sr}")


#: Magic numbers of containers soundfile cannot read; uploads in them are routed to
#: ffmpeg (the service answers 415 when it is missing).
_CONTAINER_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (4, b"ftyp", ".m4a"),  # MP4 / M4A / AAC in ISO-BMFF
    (0, b"\x30\x26\xb2\x75\x8e\x66\xcf\x11", ".wma"),  # ASF (WMA/WMV)
    (0, b"\x1a\x45\xdf\xa3", ".webm"),  # EBML (WebM / Matroska)
)


def sniff_container(head: bytes) -> str | None:
    """Extension of a container that only ffmpeg decodes, recognised by its first bytes; else None."""
    for offset, magic, ext in _CONTAINER_MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return ext
    if len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xF6) == 0xF0:  # ADTS AAC (layer bits 00)
        return ".aac"
    return None
