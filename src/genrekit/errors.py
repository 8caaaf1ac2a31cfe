"""One exception hierarchy for the whole library.

Every message names the input (file, column, model, option) and the rule it broke, so that the CLI can
print it as one line and the service can return it as a 4xx JSON body.
"""

from __future__ import annotations

from pathlib import Path


class GenreKitError(Exception):
    """Base class of every error genrekit raises on purpose."""

    exit_code: int = 1

    def __init__(self, message: str, *, source: str | Path | None = None) -> None:
        self.source = str(source) if source is not None else None
        self.message = message
        super().__init__(f"{self.source}: {message}" if self.source else message)


class AudioError(GenreKitError):
    """Audio that cannot be read or used: missing, empty, corrupt, not audio, out of range."""

    exit_code = 3


class UnsupportedFormatError(AudioError):
    """A container or codec that neither soundfile nor an installed ffmpeg can decode."""


class DatasetError(GenreKitError):
    """A dataset, manifest, split file or table that cannot be used as given."""

    exit_code = 4


class ModelError(GenreKitError):
    """A model or bundle that cannot be trained, loaded or used (foreign, tampered, incompatible)."""

    exit_code = 5


class ConfigError(GenreKitError):
    """A parameter or name that is not valid; the message lists the valid choices when there are some."""

    exit_code = 2


def unknown_name(kind: str, name: str, valid: list[str] | tuple[str, ...]) -> ConfigError:
    """Build the error for an unknown registry name, listing the valid ones.

    Parameters
    ----------
    kind : str
        What was looked up, e.g. ``"model"`` or ``"feature extractor"``.
    name : str
        The name that was given.
    valid : sequence of str
        The names that exist.
    """
    return ConfigError(f"unknown {kind} {name!r}; valid {kind}s: {', '.join(sorted(valid))}")
