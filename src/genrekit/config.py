"""Constants and frozen configuration dataclasses: the one source of truth for audio parameters."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from genrekit.errors import ConfigError


def genrekit_version() -> str:
    """The installed genrekit version (``"0+unknown"`` when running from a source tree without install)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("genrekit")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
        return "0+unknown"

#: Sample rate of the hand-crafted and spectrogram features (the GTZAN/Kaggle convention).
SAMPLE_RATE = 22050
#: Sample rate of the musicnn models.
MUSICNN_SAMPLE_RATE = 16000
#: Default segment length and hop for segment-level features and predictions.
SEGMENT_S = 3.0
N_FFT = 2048
HOP_LENGTH = 512
N_MELS = 128
N_MFCC = 20
#: Longest audio `load` accepts unless told otherwise (one hour).
MAX_DURATION_S = 3600.0
#: The most genres (or tags) a ``top_k`` may ask for: the HTTP API's bound, and the CLI's ``--top-k``.
MAX_TOP_K = 50
#: Accepted input sample rates and channel counts.
MIN_SAMPLE_RATE = 1000
MAX_SAMPLE_RATE = 384000
MAX_CHANNELS = 64
#: soxr quality used for every resampling in the library.
RESAMPLE_QUALITY = "HQ"

#: The ten GTZAN genres, in the dataset's order.
GTZAN_GENRES: tuple[str, ...] = (
    "blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock",
)

#: File extensions recognised as audio, decoded by soundfile (libsndfile) directly.
SOUNDFILE_EXTENSIONS: tuple[str, ...] = (
    ".wav", ".wave", ".au", ".snd", ".aiff", ".aif", ".aifc", ".flac", ".ogg", ".oga", ".opus", ".mp3",
)
#: Extensions decoded through ffmpeg when it is installed.
FFMPEG_EXTENSIONS: tuple[str, ...] = (".m4a", ".aac", ".mp4", ".wma", ".webm", ".mka")
AUDIO_EXTENSIONS: tuple[str, ...] = SOUNDFILE_EXTENSIONS + FFMPEG_EXTENSIONS


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """Return a JSON-ready dict of a frozen dataclass config (tuples become lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(cfg).items()}


def config_from_dict(cls: type, d: dict[str, Any]) -> Any:
    """Rebuild a frozen dataclass config from a dict, refusing unknown keys.

    Raises
    ------
    ConfigError
        When ``d`` holds a key that ``cls`` does not have.
    """
    names = {f.name: f for f in fields(cls)}
    unknown = sorted(set(d) - set(names))
    if unknown:
        raise ConfigError(f"{cls.__name__} has no option(s) {unknown}; valid: {sorted(names)}")
    kwargs = {}
    for k, v in d.items():
        kwargs[k] = tuple(v) if isinstance(v, list) else v
    return cls(**kwargs)


@dataclass(frozen=True)
class SegmentConfig:
    """How a track is cut into segments for features and predictions."""

    segment_s: float = SEGMENT_S
    hop_s: float | None = None  # None: equal to segment_s (no overlap)
    pad: str = "repeat"  # "repeat" | "zero" | "drop"

    def __post_init__(self) -> None:
        if self.segment_s <= 0:
            raise ConfigError(f"segment_s must be > 0, got {self.segment_s}")
        if self.hop_s is not None and self.hop_s <= 0:
            raise ConfigError(f"hop_s must be > 0, got {self.hop_s}")
        if self.pad not in ("repeat", "zero", "drop"):
            raise ConfigError(f"pad must be one of 'repeat', 'zero', 'drop', got {self.pad!r}")
