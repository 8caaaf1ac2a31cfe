"""Music theory for the synthesizer: note names, scales, chords, voicings and each style's progressions."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

Voice = Callable[[float, int], np.ndarray]


# The tables below are declarative data (one scale, chord, voicing or progression a line): they look
# alike only in shape, each row is a different fact of music theory, so they stay spelled out.
NOTE_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


SCALES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "harmonic_minor": (0, 2, 3, 5, 7, 8, 11),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
    "blues": (0, 3, 5, 6, 7, 10),
    "major_pentatonic": (0, 2, 4, 7, 9),
    "minor_pentatonic": (0, 3, 5, 7, 10),
}


CHORDS: dict[str, tuple[int, ...]] = {
    "maj": (0, 4, 7),
    "min": (0, 3, 7),
    "5": (0, 7, 12),
    "sus4": (0, 5, 7),
    "add9": (0, 4, 7, 14),
    "7": (0, 4, 7, 10),
    "9": (0, 4, 7, 10, 14),
    "13": (0, 4, 7, 10, 14, 21),
    "7b9": (0, 4, 7, 10, 13),
    "maj7": (0, 4, 7, 11),
    "maj9": (0, 4, 7, 11, 14),
    "m7": (0, 3, 7, 10),
    "m9": (0, 3, 7, 10, 14),
    "m7b5": (0, 3, 6, 10),
}


#: Rootless jazz voicings (3rd and 7th with 9th/13th colour), as intervals above the chord root.
ROOTLESS: dict[str, tuple[int, ...]] = {
    "m7": (3, 7, 10, 14),
    "m9": (3, 7, 10, 14),
    "7": (4, 9, 10, 14),
    "9": (4, 10, 14, 21),
    "13": (4, 10, 14, 21),
    "7b9": (4, 10, 13, 19),
    "maj7": (4, 7, 11, 14),
    "maj9": (4, 7, 11, 14),
    "m7b5": (3, 6, 10, 12),
}


#: Guitar chord shapes (E-shape barre chords), as intervals above a root on the low strings.
GUITAR_SHAPES: dict[str, tuple[int, ...]] = {
    "maj": (0, 7, 12, 16, 19, 24),
    "min": (0, 7, 12, 15, 19, 24),
    "7": (0, 7, 10, 16, 19, 24),
    "5": (0, 7, 12),
}


Progression = tuple[tuple[int, str], ...]


_BLUES_12: Progression = tuple((o, "7") for o in (0, 0, 0, 0, 5, 5, 0, 0, 7, 5, 0, 7))


_BLUES_QUICK: Progression = tuple((o, "7") for o in (0, 5, 0, 0, 5, 5, 0, 0, 7, 5, 0, 7))


#: Per genre and mode, the progressions a clip draws from: (semitones above the tonic, chord quality).
PROGRESSIONS: dict[str, dict[str, tuple[Progression, ...]]] = {
    "blues": {"blues": (_BLUES_12, _BLUES_QUICK)},
    "classical": {
        "major": (
            ((0, "maj"), (5, "maj"), (7, "7"), (0, "maj")),
            ((0, "maj"), (9, "min"), (2, "min"), (7, "7")),
            ((0, "maj"), (7, "maj"), (9, "min"), (4, "min"), (5, "maj"), (0, "maj"), (5, "maj"), (7, "7")),
        ),
        "harmonic_minor": (
            ((0, "min"), (5, "min"), (7, "7"), (0, "min")),
            ((0, "min"), (8, "maj"), (5, "min"), (7, "7")),
            ((0, "min"), (10, "maj"), (8, "maj"), (7, "7")),
        ),
    },
    "country": {
        "major": (
            ((0, "maj"), (0, "maj"), (5, "maj"), (0, "maj"), (7, "maj"), (7, "maj"), (0, "maj"), (0, "maj")),
            ((0, "maj"), (5, "maj"), (7, "maj"), (0, "maj")),
            ((0, "maj"), (0, "maj"), (7, "7"), (7, "7")),
            ((0, "maj"), (9, "min"), (5, "maj"), (7, "maj")),
        ),
        "mixolydian": (((0, "maj"), (10, "maj"), (5, "maj"), (0, "maj")),),
    },
    "disco": {
        "minor": (((0, "m7"), (5, "m7")), ((0, "m9"), (8, "maj7"), (10, "7"), (0, "m9"))),
        "dorian": (((0, "m7"), (5, "9")), ((0, "m9"), (2, "m7"))),
        "major": (((0, "maj7"), (2, "m7")), ((5, "maj7"), (7, "7"), (4, "m7"), (9, "m7"))),
    },
    "hiphop": {
        "minor": (
            ((0, "m9"), (5, "m7")),
            ((0, "m7"), (8, "maj7"), (3, "maj7"), (10, "7")),
            ((0, "m9"), (0, "m9"), (8, "maj7"), (7, "7b9")),
            ((0, "m7"), (10, "m7"), (8, "maj7"), (7, "m7")),
        ),
        "dorian": (((0, "m9"), (5, "9")), ((0, "m7"), (2, "m7"), (3, "maj7"), (5, "9"))),
    },
    "jazz": {
        "major": (
            ((2, "m7"), (7, "7"), (0, "maj7"), (0, "maj7")),
            ((0, "maj7"), (9, "7"), (2, "m7"), (7, "7")),
            ((2, "m9"), (7, "13"), (0, "maj9"), (9, "7b9")),
            ((0, "maj7"), (4, "m7"), (9, "7"), (2, "m7"), (7, "13")),
        ),
        "minor": (
            ((2, "m7b5"), (7, "7b9"), (0, "m9"), (0, "m9")),
            ((0, "m7"), (5, "m7"), (10, "7"), (3, "maj7"), (8, "maj7"), (2, "m7b5"), (7, "7b9"), (0, "m7")),
        ),
    },
    "metal": {
        "minor": (
            ((0, "5"), (8, "5"), (10, "5"), (0, "5")),
            ((0, "5"), (3, "5"), (6, "5"), (5, "5")),
            ((0, "5"), (0, "5"), (10, "5"), (8, "5")),
        ),
        "phrygian": (((0, "5"), (0, "5"), (1, "5"), (0, "5")), ((0, "5"), (1, "5"), (3, "5"), (1, "5"))),
    },
    "pop": {
        "major": (
            ((0, "maj"), (7, "maj"), (9, "min"), (5, "maj")),
            ((9, "min"), (5, "maj"), (0, "maj"), (7, "maj")),
            ((0, "maj"), (9, "min"), (5, "maj"), (7, "maj")),
            ((0, "add9"), (5, "maj7"), (9, "min"), (7, "sus4")),
        ),
        "minor": (
            ((0, "min"), (8, "maj"), (3, "maj"), (10, "maj")),
            ((0, "min"), (5, "min"), (8, "maj"), (7, "maj")),
        ),
    },
    "reggae": {
        "minor": (
            ((0, "min"), (5, "min")),
            ((0, "min"), (10, "maj")),
            ((0, "min"), (8, "maj"), (10, "maj"), (0, "min")),
        ),
        "major": (((0, "maj"), (5, "maj")), ((0, "maj"), (5, "maj"), (7, "maj"), (5, "maj"))),
    },
    "rock": {
        "major": (((0, "5"), (5, "5"), (7, "5"), (5, "5")), ((9, "5"), (5, "5"), (0, "5"), (7, "5"))),
        "mixolydian": (((0, "5"), (10, "5"), (5, "5"), (0, "5")), ((0, "5"), (10, "5"), (0, "5"), (5, "5"))),
        "minor": (((0, "5"), (8, "5"), (10, "5"), (0, "5")), ((0, "5"), (3, "5"), (5, "5"), (3, "5"))),
    },
}


def midi_to_hz(midi: float | np.ndarray) -> float | np.ndarray:
    """Return the frequency in Hz of a MIDI note number (A4 = 69 = 440 Hz)."""
    return 440.0 * 2.0 ** ((np.asarray(midi, dtype=float) - 69.0) / 12.0)


def close_voicing(root: int, intervals: Sequence[int], center: int) -> tuple[int, ...]:
    """Place each chord tone in the octave ``[center - 6, center + 6)`` and return the sorted MIDI notes.

    Parameters
    ----------
    root : int
        Chord root (any octave).
    intervals : sequence of int
        Chord intervals in semitones above the root.
    center : int
        MIDI note the voicing is centred on.
    """
    lo = center - 6
    return tuple(sorted({lo + (root + iv - lo) % 12 for iv in intervals}))


def guitar_voicing(root: int, quality: str, *, low: int = 40) -> tuple[int, ...]:
    """Return a six-string-like barre voicing whose root lies in ``[low, low + 12)``."""
    base = low + (root - low) % 12
    shape = GUITAR_SHAPES.get(quality)
    if shape is None:
        shape = tuple(sorted({0, 12} | {iv + 12 for iv in CHORDS[quality] if iv}))
    return tuple(base + iv for iv in shape)


def scale_notes(tonic_pc: int, scale: str, lo: int, hi: int) -> np.ndarray:
    """Return the MIDI notes of ``scale`` on ``tonic_pc`` within ``[lo, hi]``, ascending, shape (k,)."""
    pcs = set(SCALES[scale])
    return np.array([m for m in range(lo, hi + 1) if (m - tonic_pc) % 12 in pcs], dtype=np.int64)
