"""Music theory for the synthesizer: note names, scales, chords, voicings and each style's progressions."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from genrekit.errors import ConfigError

Voice = Callable[[float, int], np.ndarray]


NOTE_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


_MAJOR_STEPS = (0, 2, 4, 5, 7, 9, 11)


def _degree(token: str) -> int:
    """Semitones above the root of one scale degree: ``"b3"`` -> 3, ``"9"`` -> 14, ``"#11"`` -> 18."""
    flats, sharps = token.count("b"), token.count("#")
    number = token.lstrip("b#")
    if not number.isdigit() or int(number) < 1 or len(token) != flats + sharps + len(number):
        raise ConfigError(f"scale degree {token!r} must be a number >= 1 with any b or # before it")
    octave, step = divmod(int(number) - 1, 7)
    return 12 * octave + _MAJOR_STEPS[step] - flats + sharps


def _formulas(table: dict[str, str]) -> dict[str, tuple[int, ...]]:
    """Turn degree formulas (``"1 b3 5 b7"``) into semitones above the root (``(0, 3, 7, 10)``).

    Degrees count steps of the major scale from the root (1) and go on past the octave as compound
    intervals: 8 is the octave, 9 the 2nd, 10 the 3rd, 11 the 4th, 12 the 5th, 13 the 6th, 15 two
    octaves; ``b`` lowers a degree by a semitone, ``#`` raises it.
    """
    return {name: tuple(_degree(t) for t in formula.split()) for name, formula in table.items()}


# The tables below are written in degree formulas, the way chord and scale spellings are taught
# ("m7b5" = 1 b3 b5 b7), and read as semitones above the root.


SCALES: dict[str, tuple[int, ...]] = _formulas({
    "major": "1 2 3 4 5 6 7",
    "minor": "1 2 b3 4 5 b6 b7",
    "harmonic_minor": "1 2 b3 4 5 b6 7",
    "dorian": "1 2 b3 4 5 6 b7",
    "mixolydian": "1 2 3 4 5 6 b7",
    "phrygian": "1 b2 b3 4 5 b6 b7",
    "blues": "1 b3 4 b5 5 b7",
    "major_pentatonic": "1 2 3 5 6",
    "minor_pentatonic": "1 b3 4 5 b7",
})


CHORDS: dict[str, tuple[int, ...]] = _formulas({
    "maj": "1 3 5",
    "min": "1 b3 5",
    "5": "1 5 8",
    "sus4": "1 4 5",
    "add9": "1 3 5 9",
    "7": "1 3 5 b7",
    "9": "1 3 5 b7 9",
    "13": "1 3 5 b7 9 13",
    "7b9": "1 3 5 b7 b9",
    "maj7": "1 3 5 7",
    "maj9": "1 3 5 7 9",
    "m7": "1 b3 5 b7",
    "m9": "1 b3 5 b7 9",
    "m7b5": "1 b3 b5 b7",
})


#: Rootless jazz voicings (3rd and 7th with 9th/13th colour) above the chord root; "6" is the 13th voiced
#: below the 7th, "12" the 5th an octave up.
ROOTLESS: dict[str, tuple[int, ...]] = _formulas({
    "m7": "b3 5 b7 9",
    "m9": "b3 5 b7 9",
    "7": "3 6 b7 9",
    "9": "3 b7 9 13",
    "13": "3 b7 9 13",
    "7b9": "3 b7 b9 12",
    "maj7": "3 5 7 9",
    "maj9": "3 5 7 9",
    "m7b5": "b3 b5 b7 8",
})


#: Guitar chord shapes (E-shape barre chords), as intervals above a root on the low strings.
GUITAR_SHAPES: dict[str, tuple[int, ...]] = _formulas({
    "maj": "1 5 8 10 12 15",
    "min": "1 5 8 b10 12 15",
    "7": "1 5 b7 10 12 15",
    "5": "1 5 8",
})


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
