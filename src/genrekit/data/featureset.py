"""Feature sets: the segment features of labelled tracks, with their labels and split groups.

What extraction (:func:`genrekit.training.extract_features`) and tables
(:meth:`genrekit.data.tables.TabularData.feature_set`) hand to model fitting and evaluation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from genrekit.data.tracks import group_key


@dataclass
class FeatureSet:
    """Segment features of a labelled dataset.

    Attributes
    ----------
    X : np.ndarray, float32, shape (n_segments, dim)
    y : np.ndarray of str, shape (n_segments,)
        Label of each segment's track.
    groups : np.ndarray of str, shape (n_segments,)
        Track id of each segment (the grouping unit of every split).
    artists : np.ndarray of object, shape (n_segments,)
        Artist of each segment's track, or None.
    names : list of str
        Feature column names.
    failures : list of (str, str)
        Files that could not be read, with the reason; they are left out of X.
    """

    X: np.ndarray
    y: np.ndarray
    groups: np.ndarray
    artists: np.ndarray
    names: list[str]
    failures: list[tuple[str, str]] = field(default_factory=list)
    frame_shape: tuple[int, int] | None = None

    @property
    def track_ids(self) -> np.ndarray:
        _, idx = np.unique(self.groups, return_index=True)
        return self.groups[np.sort(idx)]

    def select_tracks(self, track_ids: Sequence[str]) -> FeatureSet:
        """The rows whose track id is in ``track_ids``."""
        mask = np.isin(self.groups.astype(object), np.asarray(list(track_ids), dtype=object))
        return FeatureSet(
            self.X[mask],
            self.y[mask],
            self.groups[mask],
            self.artists[mask],
            self.names,
            frame_shape=self.frame_shape,
        )

    def split_groups(self) -> np.ndarray:
        """Grouping for cross-validation, as the dataset's splits group.

        Artists (compared case- and whitespace-insensitively) when any track has one, each track
        without one in its own group; else track ids.
        """
        artists = [str(a).strip() if a is not None and a == a else "" for a in self.artists]
        if not any(artists):
            return self.groups
        return np.asarray(
            [group_key(str(g), a) for a, g in zip(artists, self.groups, strict=True)], dtype=str
        )
