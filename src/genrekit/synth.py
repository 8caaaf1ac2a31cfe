"""Procedural genre-like audio: ten styles named like GTZAN, deterministic by seed and fast.

This is the project's embedded default data set: the demo and the end-to-end train/evaluate tests use
it instead of real recordings. Each style is built from the cues that separate real genres: tempo
range, groove and swing, drum kit and pattern, bass line, harmony and voicing, instrument timbre,
distortion, dynamics, mix and recording quality. Every cue also varies *within* a style (key, tempo,
instrumentation, mix levels, EQ tilt, noise floor, lo-fi band-limiting), so a classifier has to combine
several cues rather than key on one.

How a clip is made
------------------
``render(genre, seed=s)`` draws a :class:`StyleParams` with ``draw_params(genre, np.random.default_rng(s))``
(so a test can recover the tempo, key, swing, ... a clip was rendered with) and renders it with an
independent generator derived from the same seed. The arrangement is laid out on a beat grid: a pattern
string per drum voice (one character per sixteenth note: ``X`` accent, ``x`` normal, ``o`` soft, ``g``
ghost, ``.`` rest), chord slots from a progression, bass/comping/lead parts built from the slots. Beats
are mapped to seconds through a swing warp (the off-beat of each swung pair moves to ``swing`` of the
pair) and a small humanising jitter. The clip starts on a downbeat: a one-bar pre-roll is rendered and
cut off so that notes ring into the start as they do in an excerpt.

Sound sources are small pure helpers: wavetable oscillators built by inverse FFT from harmonic
amplitudes (band-limited per note), two-layer decaying tones (piano, electric piano, plucked bass),
formant-shaped tones (voice, saxophone, fiddle), a block-vectorised Karplus-Strong string, and drum
voices made of swept sines and filtered noise. Notes are rendered once per (pitch, length) and added at
each onset; no per-sample Python loop runs anywhere.

Corpus
------
:func:`write_corpus` writes the GTZAN layout ``out_dir/<genre>/<genre>.00000.wav`` plus
``manifest.csv`` (``path,label,artist,track_id``). Clip ``i`` of genre ``g`` uses a seed derived from
``(seed, g, i)`` and belongs to band ``i % N_BANDS`` of that genre; a band is a template of shared
parameters (key, tempo centre, kit, instruments, timbre, distortion, mix colour), so artist-grouped
splits are meaningful. Adding genres or clips never changes existing clips.
"""

from __future__ import annotations

import csv
import math
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from scipy import signal

from genrekit.config import GTZAN_GENRES, SAMPLE_RATE
from genrekit.errors import ConfigError, unknown_name

__all__ = [
    "GENRES",
    "N_BANDS",
    "TEMPO_RANGES",
    "StyleParams",
    "clip_seed",
    "corpus_params",
    "draw_band",
    "draw_params",
    "render",
    "write_corpus",
]

#: The ten styles, named and ordered like GTZAN.
GENRES: tuple[str, ...] = GTZAN_GENRES
#: Synthetic bands ("artists") per genre in :func:`write_corpus`; clip ``i`` belongs to band ``i % N_BANDS``.
N_BANDS = 4
#: Tempo range (BPM) each style draws from.
TEMPO_RANGES: dict[str, tuple[float, float]] = {
    "blues": (72.0, 124.0),
    "classical": (60.0, 130.0),
    "country": (90.0, 135.0),
    "disco": (115.0, 130.0),
    "hiphop": (80.0, 100.0),
    "jazz": (96.0, 190.0),
    "metal": (150.0, 200.0),
    "pop": (96.0, 128.0),
    "reggae": (70.0, 90.0),
    "rock": (100.0, 150.0),
}
_PEAK = 10.0 ** (-1.0 / 20.0)  # -1 dBFS
_MIN_SR, _MAX_SR = 8000, 192000
_MAX_DURATION_S = 600.0

Voice = Callable[[float, int], np.ndarray]

# --------------------------------------------------------------------------------------------- music theory

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


# --------------------------------------------------------------------------------------------- parameters


@dataclass(frozen=True)
class StyleParams:
    """Everything :func:`render` needs for one clip: what it drew, as known answers for tests.

    Attributes
    ----------
    genre, band : str
        Style name and synthetic band name (``""`` when the clip was drawn without a band).
    tempo_bpm : float
        Tempo in quarter notes per minute; the drums (if any) play exactly on this grid.
    meter : int
        Beats per bar (4, or 3 for some classical clips).
    tonic_pc, mode, key : int, str, str
        Tonic pitch class (0 = C), mode/scale name, and ``"<note> <mode>"``.
    progression : tuple of (int, str)
        Chord roots (semitones above the tonic) and qualities, one per chord slot, looped.
    chords_per_bar, form_offset : int
        Harmonic rhythm, and the slot of the progression the clip starts at.
    swing : float
        Where the off-beat of each swung pair falls, as a fraction of the pair (0.5 = straight, 2/3 =
        triplet shuffle).
    swing_unit : int
        8 for swung eighth notes, 16 for swung sixteenths.
    drum_kit, groove : str
        Kit (``"none"`` for no drums) and pattern set.
    fill_every : int
        A drum fill on the last beat of every ``fill_every``-th bar (0 = none).
    bass, harmony, lead : str, tuple of str, str
        Bass style, harmony instruments, lead instrument (``"none"`` for none).
    tone : float
        Timbre brightness of the instruments in 0..1.
    distortion : float
        Drive of the guitar bus (0 = clean; metal 12-40).
    brightness : float
        Master EQ tilt: gain of an added high-pass (>2 kHz) copy, -0.8 (dark) .. 1 (bright).
    lofi_hz : float
        Master low-pass corner of an old or cheap recording (0 = full band).
    noise_db : float
        Noise floor relative to the mix RMS, in dB.
    reverb, reverb_s : float
        Reverb send level and decay time (RT60, seconds).
    compression : float
        Master soft-clip drive (1 = none); higher is louder and lower in crest factor.
    humanize_ms : float
        Standard deviation of the onset timing jitter.
    dynamics_db : float
        Depth of the slow level changes over the clip.
    levels_db : tuple of (str, float)
        Level of each bus group: drums, bass, harm, lead.
    """

    genre: str
    band: str
    tempo_bpm: float
    meter: int
    tonic_pc: int
    mode: str
    key: str
    progression: Progression
    chords_per_bar: int
    form_offset: int
    swing: float
    swing_unit: int
    drum_kit: str
    groove: str
    fill_every: int
    bass: str
    harmony: tuple[str, ...]
    lead: str
    tone: float
    distortion: float
    brightness: float
    lofi_hz: float
    noise_db: float
    reverb: float
    reverb_s: float
    compression: float
    humanize_ms: float
    dynamics_db: float
    levels_db: tuple[tuple[str, float], ...]

    def level_db(self, group: str) -> float:
        """Return the level of a bus group (``drums``, ``bass``, ``harm``, ``lead``), 0 if absent."""
        return dict(self.levels_db).get(group, 0.0)


#: Fields a band (artist) shares between its clips; numeric ones are jittered a little per clip.
_BAND_FIELDS: dict[str, float] = {
    "tempo_bpm": 0.04,  # relative jitter
    "tonic_pc": 0.0,
    "mode": 0.0,
    "swing": 0.015,  # absolute jitter
    "drum_kit": 0.0,
    "bass": 0.0,
    "harmony": 0.0,
    "lead": 0.0,
    "tone": 0.05,
    "distortion": 0.1,  # relative
    "brightness": 0.1,
    "lofi_hz": 0.05,  # relative
    "reverb": 0.03,
    "reverb_s": 0.1,
    "compression": 0.1,  # relative
}
_RELATIVE_JITTER = {"tempo_bpm", "distortion", "lofi_hz", "compression"}


class _Draw:
    """Random choices for one clip, overridden by a band template's values for the band's fields.

    The generator is consumed identically with and without a band, so the fields a band does not share
    are the same either way.
    """

    def __init__(self, rng: np.random.Generator, band: StyleParams | None) -> None:
        self.rng = rng
        self.band = band

    def _band(self, name: str) -> Any:
        if self.band is None or name not in _BAND_FIELDS:
            return None
        return getattr(self.band, name)

    def choice(self, name: str, options: Sequence[Any], p: Sequence[float] | None = None) -> Any:
        i = int(self.rng.choice(len(options), p=p))
        b = self._band(name)
        if b is not None and b in options:
            return b
        return options[i]

    def uniform(self, name: str, lo: float, hi: float) -> float:
        v = float(self.rng.uniform(lo, hi))
        j = float(self.rng.uniform(-1.0, 1.0))
        b = self._band(name)
        if b is None:
            return v
        if name in _RELATIVE_JITTER:
            v = b * (1.0 + _BAND_FIELDS[name] * j)
        else:
            v = b + _BAND_FIELDS[name] * j
        return float(np.clip(v, lo, hi))

    def maybe(self, name: str, prob: float, lo: float, hi: float) -> float:
        """Return 0 with probability ``1 - prob``, else a uniform draw (a band keeps its on/off choice)."""
        on = bool(self.rng.random() < prob)
        v = self.uniform(name, lo, hi)
        b = self._band(name)
        if b is not None:
            return 0.0 if b == 0 else v
        return v if on else 0.0

    def level(self, lo: float, hi: float) -> float:
        return float(self.rng.uniform(lo, hi))


def _key_fields(d: _Draw, genre: str, modes: Sequence[str], p: Sequence[float] | None = None,
                tonics: Sequence[int] = tuple(range(12))) -> dict[str, Any]:
    mode = d.choice("mode", tuple(modes), p)
    tonic = int(d.choice("tonic_pc", tuple(tonics)))
    prog = PROGRESSIONS[genre][mode]
    return {"mode": mode, "tonic_pc": tonic, "progression": prog[int(d.rng.integers(len(prog)))]}


def _draw_blues(d: _Draw) -> dict[str, Any]:
    f = _key_fields(d, "blues", ("blues",), tonics=(4, 9, 7, 2, 0, 5, 10))
    return f | {
        "tempo_bpm": d.uniform("tempo_bpm", *TEMPO_RANGES["blues"]),
        "form_offset": int(d.rng.integers(12)),
        "swing": d.uniform("swing", 0.62, 0.70), "swing_unit": 8,
        "drum_kit": d.choice("drum_kit", ("acoustic", "jazz")),
        "groove": str(d.rng.choice(["shuffle", "shuffle_ride"])), "fill_every": 4,
        "bass": d.choice("bass", ("boogie", "walking", "shuffle_root")),
        "harmony": d.choice("harmony", (("shuffle_guitar",), ("piano",), ("shuffle_guitar", "piano"),
                                        ("organ", "shuffle_guitar"))),
        "lead": d.choice("lead", ("lead_guitar", "harmonica", "none")),
        "tone": d.uniform("tone", 0.3, 0.7), "distortion": d.uniform("distortion", 0.8, 3.5),
        "brightness": d.uniform("brightness", -0.6, 0.2), "lofi_hz": d.maybe("lofi_hz", 0.5, 3500, 7500),
        "noise_db": d.level(-60, -30), "reverb": d.uniform("reverb", 0.1, 0.3),
        "reverb_s": d.uniform("reverb_s", 0.8, 1.6), "compression": d.uniform("compression", 1.0, 2.0),
        "humanize_ms": d.level(5, 9), "dynamics_db": d.level(2, 4),
        "levels_db": (("drums", d.level(-6, -2)), ("bass", d.level(-4, 0)), ("harm", d.level(-3, 1)),
                      ("lead", d.level(-4, 0))),
    }


def _draw_classical(d: _Draw) -> dict[str, Any]:
    f = _key_fields(d, "classical", ("major", "harmonic_minor"))
    harmony = d.choice("harmony", (("strings",), ("piano",), ("strings", "harp"), ("strings", "horns"),
                                   ("piano", "strings")))
    leads = ("piano_rh",) if harmony == ("piano",) else ("violin", "flute", "oboe", "clarinet", "none")
    return f | {
        "tempo_bpm": d.uniform("tempo_bpm", *TEMPO_RANGES["classical"]),
        "meter": int(d.rng.choice([3, 4], p=[0.35, 0.65])), "chords_per_bar": int(d.rng.choice([1, 2])),
        "form_offset": int(d.rng.integers(len(f["progression"]))), "swing": 0.5, "swing_unit": 8,
        "drum_kit": "none", "groove": "none", "fill_every": 0,
        "bass": "piano_lh" if harmony[0] == "piano" else d.choice("bass", ("cello", "contrabass")),
        "harmony": harmony, "lead": d.choice("lead", leads),
        "tone": d.uniform("tone", 0.15, 0.55), "distortion": 0.0,
        "brightness": d.uniform("brightness", -0.5, 0.0), "lofi_hz": d.maybe("lofi_hz", 0.3, 3000, 7000),
        "noise_db": d.level(-65, -38), "reverb": d.uniform("reverb", 0.35, 0.6),
        "reverb_s": d.uniform("reverb_s", 1.6, 2.8), "compression": 1.0,
        "humanize_ms": d.level(8, 18), "dynamics_db": d.level(8, 18),
        "levels_db": (("drums", 0.0), ("bass", d.level(-6, -1)), ("harm", d.level(-2, 1)),
                      ("lead", d.level(-4, 0))),
    }


def _draw_country(d: _Draw) -> dict[str, Any]:
    f = _key_fields(d, "country", ("major", "mixolydian"), p=(0.8, 0.2), tonics=(7, 2, 9, 4, 0, 5))
    return f | {
        "tempo_bpm": d.uniform("tempo_bpm", *TEMPO_RANGES["country"]),
        "form_offset": int(d.rng.integers(len(f["progression"]))),
        "swing": d.uniform("swing", 0.5, 0.57), "swing_unit": 8,
        "drum_kit": d.choice("drum_kit", ("country", "acoustic")),
        "groove": str(d.rng.choice(["boom_chick", "train", "two_step"])),
        "fill_every": int(d.rng.choice([4, 8])), "bass": "boom_chick",
        "harmony": d.choice("harmony", (("acoustic_guitar",), ("acoustic_guitar", "piano"),
                                        ("acoustic_guitar", "steel_pad"))),
        "lead": d.choice("lead", ("twang_guitar", "fiddle", "steel", "none")),
        "tone": d.uniform("tone", 0.5, 0.9), "distortion": d.uniform("distortion", 0.0, 0.4),
        "brightness": d.uniform("brightness", -0.3, 0.35), "lofi_hz": d.maybe("lofi_hz", 0.15, 4000, 8000),
        "noise_db": d.level(-65, -38), "reverb": d.uniform("reverb", 0.1, 0.3),
        "reverb_s": d.uniform("reverb_s", 0.8, 1.6), "compression": d.uniform("compression", 1.0, 2.2),
        "humanize_ms": d.level(3, 7), "dynamics_db": d.level(2, 4),
        "levels_db": (("drums", d.level(-7, -3)), ("bass", d.level(-4, 0)), ("harm", d.level(-2, 2)),
                      ("lead", d.level(-4, 0))),
    }


def _draw_disco(d: _Draw) -> dict[str, Any]:
    f = _key_fields(d, "disco", ("minor", "dorian", "major"))
    return f | {
        "tempo_bpm": d.uniform("tempo_bpm", *TEMPO_RANGES["disco"]),
        "chords_per_bar": int(d.rng.choice([1, 2], p=[0.7, 0.3])),
        "form_offset": int(d.rng.integers(len(f["progression"]))), "swing": 0.5, "swing_unit": 16,
        "drum_kit": "disco", "groove": str(d.rng.choice(["disco", "disco16"])), "fill_every": 8,
        "bass": d.choice("bass", ("octave", "octave_synco")),
        "harmony": d.choice("harmony", (("strings", "funk_guitar"), ("epiano", "funk_guitar"),
                                        ("strings", "brass"), ("strings", "funk_guitar", "brass"))),
        "lead": d.choice("lead", ("none", "vocal", "strings_line")),
        "tone": d.uniform("tone", 0.5, 0.9), "distortion": 0.0,
        "brightness": d.uniform("brightness", 0.0, 0.6), "lofi_hz": d.maybe("lofi_hz", 0.15, 5000, 9000),
        "noise_db": d.level(-65, -40), "reverb": d.uniform("reverb", 0.15, 0.35),
        "reverb_s": d.uniform("reverb_s", 0.8, 1.5), "compression": d.uniform("compression", 1.5, 3.0),
        "humanize_ms": d.level(1, 3), "dynamics_db": d.level(1, 3),
        "levels_db": (("drums", d.level(-1, 3)), ("bass", d.level(-3, 1)), ("harm", d.level(-4, 0)),
                      ("lead", d.level(-5, -1))),
    }


def _draw_hiphop(d: _Draw) -> dict[str, Any]:
    f = _key_fields(d, "hiphop", ("minor", "dorian"), p=(0.75, 0.25))
    kit = d.choice("drum_kit", ("boombap", "808"))
    grooves = ["boombap1", "boombap2", "boombap3"] if kit == "boombap" else ["808a", "808b"]
    return f | {
        "tempo_bpm": d.uniform("tempo_bpm", *TEMPO_RANGES["hiphop"]),
        "form_offset": int(d.rng.integers(len(f["progression"]))),
        "swing": d.uniform("swing", 0.5, 0.62), "swing_unit": 16,
        "drum_kit": kit, "groove": str(d.rng.choice(grooves)), "fill_every": 0,
        "bass": "808" if kit == "808" else d.choice("bass", ("sub", "upright_loop")),
        "harmony": d.choice("harmony", (("epiano_loop",), ("piano_loop",), ("strings_loop",))),
        "lead": d.choice("lead", ("rap", "rap", "rap", "none")),
        "tone": d.uniform("tone", 0.2, 0.6), "distortion": d.uniform("distortion", 0.0, 2.0),
        "brightness": d.uniform("brightness", -0.2, 0.5), "lofi_hz": d.maybe("lofi_hz", 0.3, 5000, 9000),
        "noise_db": d.level(-50, -30), "reverb": d.uniform("reverb", 0.05, 0.2),
        "reverb_s": d.uniform("reverb_s", 0.6, 1.2), "compression": d.uniform("compression", 2.0, 4.0),
        "humanize_ms": d.level(1, 6), "dynamics_db": d.level(1, 2),
        "levels_db": (("drums", d.level(0, 4)), ("bass", d.level(-2, 2)), ("harm", d.level(-6, -2)),
                      ("lead", d.level(-3, 1))),
    }


def _draw_jazz(d: _Draw) -> dict[str, Any]:
    f = _key_fields(d, "jazz", ("major", "minor"), p=(0.7, 0.3), tonics=(0, 5, 10, 3, 8, 7, 2))
    kit = d.choice("drum_kit", ("jazz", "brushes"), p=(0.7, 0.3))
    tempo = d.uniform("tempo_bpm", *TEMPO_RANGES["jazz"])
    return f | {
        "tempo_bpm": tempo, "chords_per_bar": int(d.rng.choice([1, 2], p=[0.6, 0.4])),
        "form_offset": int(d.rng.integers(len(f["progression"]))),
        # faster tunes swing straighter, as players do
        "swing": d.uniform("swing", 0.68 - 0.08 * (tempo - 96) / 94, 0.70 - 0.06 * (tempo - 96) / 94),
        "swing_unit": 8, "drum_kit": kit, "groove": "swing_ride" if kit == "jazz" else "brushes",
        "fill_every": int(d.rng.choice([0, 8])), "bass": "walking",
        "harmony": d.choice("harmony", (("piano",), ("epiano",), ("guitar_comp",), ("vibes",))),
        "lead": d.choice("lead", ("sax", "trumpet", "none", "vibes_lead")),
        "tone": d.uniform("tone", 0.2, 0.6), "distortion": 0.0,
        "brightness": d.uniform("brightness", -0.6, 0.1), "lofi_hz": d.maybe("lofi_hz", 0.35, 3500, 8000),
        "noise_db": d.level(-60, -32), "reverb": d.uniform("reverb", 0.15, 0.35),
        "reverb_s": d.uniform("reverb_s", 0.8, 1.8), "compression": d.uniform("compression", 1.0, 1.3),
        "humanize_ms": d.level(5, 10), "dynamics_db": d.level(3, 6),
        "levels_db": (("drums", d.level(-8, -4)), ("bass", d.level(-3, 1)), ("harm", d.level(-3, 1)),
                      ("lead", d.level(-3, 1))),
    }


def _draw_metal(d: _Draw) -> dict[str, Any]:
    f = _key_fields(d, "metal", ("minor", "phrygian"), tonics=(4, 2, 1, 0, 11))
    return f | {
        "tempo_bpm": d.uniform("tempo_bpm", *TEMPO_RANGES["metal"]),
        "form_offset": int(d.rng.integers(len(f["progression"]))), "swing": 0.5, "swing_unit": 16,
        "drum_kit": "metal", "groove": str(d.rng.choice(["double_kick", "gallop", "thrash"])),
        "fill_every": int(d.rng.choice([4, 8])), "bass": "chug", "harmony": ("dist_guitars",),
        "lead": d.choice("lead", ("none", "tremolo", "none")),
        "tone": d.uniform("tone", 0.5, 0.9), "distortion": d.uniform("distortion", 12.0, 40.0),
        "brightness": d.uniform("brightness", -0.1, 0.4), "lofi_hz": d.maybe("lofi_hz", 0.1, 5000, 9000),
        "noise_db": d.level(-70, -45), "reverb": d.uniform("reverb", 0.08, 0.25),
        "reverb_s": d.uniform("reverb_s", 0.8, 1.6), "compression": d.uniform("compression", 2.5, 5.0),
        "humanize_ms": d.level(0.5, 3), "dynamics_db": d.level(1, 2),
        "levels_db": (("drums", d.level(-2, 2)), ("bass", d.level(-6, -2)), ("harm", d.level(-1, 3)),
                      ("lead", d.level(-5, -1))),
    }


def _draw_pop(d: _Draw) -> dict[str, Any]:
    f = _key_fields(d, "pop", ("major", "minor"), p=(0.7, 0.3))
    return f | {
        "tempo_bpm": d.uniform("tempo_bpm", *TEMPO_RANGES["pop"]),
        "form_offset": int(d.rng.integers(len(f["progression"]))), "swing": 0.5, "swing_unit": 16,
        "drum_kit": "pop", "groove": str(d.rng.choice(["pop1", "pop2", "pop4"])), "fill_every": 8,
        "bass": d.choice("bass", ("synth8", "root8")),
        "harmony": d.choice("harmony", (("synth_chords",), ("synth_chords", "piano"), ("synth_chords", "pad"),
                                        ("pluck_chords", "pad"))),
        "lead": d.choice("lead", ("vocal", "vocal", "vocal", "synth_lead")),
        "tone": d.uniform("tone", 0.6, 1.0), "distortion": 0.0,
        "brightness": d.uniform("brightness", 0.4, 1.0), "lofi_hz": 0.0,
        "noise_db": d.level(-75, -50), "reverb": d.uniform("reverb", 0.15, 0.35),
        "reverb_s": d.uniform("reverb_s", 1.0, 2.0), "compression": d.uniform("compression", 2.5, 5.0),
        "humanize_ms": d.level(0, 2), "dynamics_db": d.level(1, 2),
        "levels_db": (("drums", d.level(-2, 2)), ("bass", d.level(-4, 0)), ("harm", d.level(-3, 1)),
                      ("lead", d.level(-1, 3))),
    }


def _draw_reggae(d: _Draw) -> dict[str, Any]:
    f = _key_fields(d, "reggae", ("minor", "major"), p=(0.6, 0.4))
    return f | {
        "tempo_bpm": d.uniform("tempo_bpm", *TEMPO_RANGES["reggae"]),
        "form_offset": int(d.rng.integers(len(f["progression"]))),
        "swing": d.uniform("swing", 0.5, 0.6), "swing_unit": int(d.rng.choice([8, 16])),
        "drum_kit": "reggae", "groove": str(d.rng.choice(["one_drop", "rockers", "steppers"])),
        "fill_every": int(d.rng.choice([4, 8])), "bass": "dub",
        "harmony": d.choice("harmony", (("skank_guitar", "organ_bubble"), ("skank_guitar",),
                                        ("skank_piano", "organ_bubble"))),
        "lead": d.choice("lead", ("none", "melodica", "horns")),
        "tone": d.uniform("tone", 0.4, 0.8), "distortion": 0.0,
        "brightness": d.uniform("brightness", -0.6, 0.1), "lofi_hz": d.maybe("lofi_hz", 0.25, 4000, 8000),
        "noise_db": d.level(-62, -38), "reverb": d.uniform("reverb", 0.15, 0.35),
        "reverb_s": d.uniform("reverb_s", 0.8, 1.8), "compression": d.uniform("compression", 1.3, 2.5),
        "humanize_ms": d.level(3, 6), "dynamics_db": d.level(1, 3),
        "levels_db": (("drums", d.level(-3, 1)), ("bass", d.level(0, 4)), ("harm", d.level(-4, 0)),
                      ("lead", d.level(-5, -1))),
    }


def _draw_rock(d: _Draw) -> dict[str, Any]:
    f = _key_fields(d, "rock", ("major", "mixolydian", "minor"), tonics=(4, 9, 2, 7, 0, 5))
    return f | {
        "tempo_bpm": d.uniform("tempo_bpm", *TEMPO_RANGES["rock"]),
        "chords_per_bar": int(d.rng.choice([1, 2], p=[0.7, 0.3])),
        "form_offset": int(d.rng.integers(len(f["progression"]))), "swing": 0.5, "swing_unit": 8,
        "drum_kit": "rock", "groove": str(d.rng.choice(["rock1", "rock2", "rock_ride"])), "fill_every": 4,
        "bass": "root8",
        "harmony": d.choice("harmony", (("rock_guitar",), ("rock_guitar", "clean_guitar"),
                                        ("rock_guitar", "organ"))),
        "lead": d.choice("lead", ("none", "lead_guitar")),
        "tone": d.uniform("tone", 0.4, 0.8), "distortion": d.uniform("distortion", 2.5, 7.0),
        "brightness": d.uniform("brightness", -0.2, 0.4), "lofi_hz": d.maybe("lofi_hz", 0.15, 4500, 8500),
        "noise_db": d.level(-70, -42), "reverb": d.uniform("reverb", 0.1, 0.3),
        "reverb_s": d.uniform("reverb_s", 0.8, 1.8), "compression": d.uniform("compression", 1.5, 3.5),
        "humanize_ms": d.level(3, 6), "dynamics_db": d.level(1, 3),
        "levels_db": (("drums", d.level(-2, 2)), ("bass", d.level(-4, 0)), ("harm", d.level(-1, 3)),
                      ("lead", d.level(-4, 0))),
    }


_DRAWERS: dict[str, Callable[[_Draw], dict[str, Any]]] = {
    "blues": _draw_blues, "classical": _draw_classical, "country": _draw_country, "disco": _draw_disco,
    "hiphop": _draw_hiphop, "jazz": _draw_jazz, "metal": _draw_metal, "pop": _draw_pop,
    "reggae": _draw_reggae, "rock": _draw_rock,
}


def _check_genre(genre: str) -> None:
    if genre not in GENRES:
        raise unknown_name("genre", genre, GENRES)


def draw_params(genre: str, rng: np.random.Generator, *, band: StyleParams | None = None) -> StyleParams:
    """Draw the parameters of one clip of ``genre``.

    ``render(genre, seed=s)`` renders exactly ``draw_params(genre, np.random.default_rng(s))``.

    Parameters
    ----------
    genre : str
        One of :data:`GENRES`.
    rng : numpy.random.Generator
        Source of the random choices.
    band : StyleParams, optional
        A band template from :func:`draw_band`: the clip takes the band's key, kit, instruments, timbre,
        distortion and mix colour, and a tempo/swing close to the band's.

    Raises
    ------
    ConfigError
        When ``genre`` is unknown, or ``band`` belongs to another genre.
    """
    _check_genre(genre)
    if band is not None and band.genre != genre:
        raise ConfigError(f"band {band.band!r} plays {band.genre!r}, not {genre!r}")
    f = _DRAWERS[genre](_Draw(rng, band))
    f.setdefault("meter", 4)
    f.setdefault("chords_per_bar", 1)
    f["key"] = f"{NOTE_NAMES[f['tonic_pc']]} {f['mode']}"
    return StyleParams(genre=genre, band=band.band if band is not None else "", **f)


def draw_band(genre: str, rng: np.random.Generator, name: str) -> StyleParams:
    """Draw a band template: a :class:`StyleParams` whose shared fields its clips inherit."""
    return replace(draw_params(genre, rng), band=name)


# --------------------------------------------------------------------------------------------- sound sources

_N_TAB = 2048


class _Timbre:
    """Harmonic amplitudes of a periodic tone; gives band-limited wavetables per fundamental."""

    def __init__(self, amps: Sequence[float] | np.ndarray) -> None:
        self.amps = np.asarray(amps, dtype=float)
        self._tables: dict[int, np.ndarray] = {}

    def table(self, f0: float, sr: int) -> np.ndarray:
        k = int(max(1, min(len(self.amps), 0.45 * sr / max(f0, 1.0))))
        tab = self._tables.get(k)
        if tab is None:
            tab = self._tables[k] = wavetable(self.amps[:k])
        return tab


def wavetable(amps: np.ndarray | Sequence[float]) -> np.ndarray:
    """Return one period (2048 samples, float32, peak 1) of ``sum_k amps[k-1] * sin(k * phase)``."""
    amps = np.asarray(amps, dtype=float)[: _N_TAB // 2 - 1]
    spec = np.zeros(_N_TAB // 2 + 1, dtype=np.complex128)
    spec[1 : len(amps) + 1] = -0.5j * _N_TAB * amps
    tab = np.fft.irfft(spec, n=_N_TAB)
    return (tab / (np.max(np.abs(tab)) + 1e-12)).astype(np.float32)


def harmonic_amps(n: int, slope: float, *, odd_only: bool = False, even_gain: float = 1.0) -> np.ndarray:
    """Return ``k ** -slope`` for k = 1..n (optionally odd harmonics only or even ones scaled), (n,)."""
    k = np.arange(1, n + 1, dtype=float)
    a = k**-slope
    if odd_only:
        a[1::2] = 0.0
    else:
        a[1::2] *= even_gain
    return a


_VOWELS: dict[str, tuple[tuple[float, float, float], ...]] = {
    # (centre Hz, bandwidth Hz, gain) per formant
    "a": ((800, 110, 1.0), (1150, 120, 0.5), (2900, 200, 0.25)),
    "e": ((450, 80, 1.0), (1900, 150, 0.45), (2600, 200, 0.3)),
    "i": ((300, 70, 1.0), (2300, 150, 0.35), (3000, 250, 0.3)),
    "o": ((450, 80, 1.0), (800, 100, 0.6), (2800, 200, 0.15)),
    "u": ((325, 60, 1.0), (700, 90, 0.3), (2500, 200, 0.1)),
    "sax": ((500, 200, 1.0), (1500, 400, 0.7), (2800, 600, 0.35)),
    "trumpet": ((1200, 400, 1.0), (2300, 500, 0.7), (3600, 700, 0.4)),
    "fiddle": ((450, 150, 0.7), (2500, 600, 1.0), (3500, 800, 0.5)),
}


def formant_amps(f0: float, sr: int, vowel: str, *, slope: float = 1.0, floor: float = 0.03) -> np.ndarray:
    """Harmonic amplitudes of a buzz at ``f0`` shaped by the resonances of ``vowel``, shape (k,)."""
    k = np.arange(1, int(max(1, 0.45 * sr / f0)) + 1, dtype=float)
    f = k * f0
    env = np.full_like(f, floor)
    for fc, bw, g in _VOWELS[vowel]:
        env += g / (1.0 + ((f - fc) / bw) ** 2)
    return env * k**-slope


def adsr(n: int, gate: int, sr: int, a: float, d: float, s: float, r: float) -> np.ndarray:
    """Attack-decay-sustain-release envelope of ``n`` samples whose key is held for ``gate`` samples.

    Linear attack over ``a`` s, exponential decay (time constant ``d``) to the sustain level ``s``, and an
    exponential release that falls about 43 dB in ``r`` s. Returns float32, shape (n,).
    """
    a, d, r = max(a, 1e-4), max(d, 1e-4), max(r, 1e-4)
    t = np.arange(n, dtype=np.float32) / np.float32(sr)
    g = min(gate, n)
    env = np.empty(n, dtype=np.float32)
    th = t[:g]
    env[:g] = np.minimum(th / a, 1.0) * (s + (1.0 - s) * np.exp(-np.maximum(th - a, 0.0) / d))
    level = float(env[g - 1]) if g > 0 else 0.0
    env[g:] = level * np.exp(-(t[g:] - (g / sr)) * (5.0 / r))
    return env


class _Ramps:
    """Per-voice cache of functions of time (phase terms, envelopes), grown on demand and sliced."""

    def __init__(self, sr: int) -> None:
        self.sr = sr
        self._c: dict[Any, np.ndarray] = {}

    def get(self, key: Any, n: int, fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        arr = self._c.get(key)
        if arr is None or len(arr) < n:
            m = max(n, self.sr, 2 * len(arr) if arr is not None else 0)
            arr = self._c[key] = fn(np.arange(m) / self.sr)
        return arr[:n]


def _gate_env(ramps: _Ramps, n: int, gate: int, held: np.ndarray, r: float) -> np.ndarray:
    """Envelope: ``held`` (the held-key shape) until ``gate``, then an exponential release over ``r`` s."""
    g = min(gate, n)
    rel = ramps.get(("release", r), n - g, lambda t: np.exp(-t * (5.0 / r)).astype(np.float32))
    level = held[g - 1] if g > 0 else 0.0
    return np.concatenate([held[:g], level * rel])


def osc_voice(sr: int, timbre: _Timbre | Callable[[float], np.ndarray], *, a: float = 0.005, d: float = 0.2,
              s: float = 0.7, r: float = 0.1, vib_hz: float = 0.0, vib_cents: float = 0.0,
              detune_cents: Sequence[float] = (0.0,), bend_st: float = 0.0, bend_s: float = 0.06,
              trem_hz: float = 0.0, trem_depth: float = 0.0) -> Voice:
    """Return a sustained wavetable voice ``voice(f0_hz, gate_samples) -> (gate + release,)`` float32.

    ``timbre`` is a :class:`_Timbre` or a function ``f0 -> harmonic amplitudes``. Vibrato, a slide up
    into the note (``bend_st`` semitones, time constant ``bend_s``), tremolo and detuned ensemble copies
    are computed in closed form.
    """
    rel = int(r * sr)
    vib = 2.0 ** (vib_cents / 1200.0) - 1.0 if vib_hz else 0.0
    bend = 1.0 - 2.0 ** (-bend_st / 12.0)
    a_, d_ = max(a, 1e-4), max(d, 1e-4)
    ramps = _Ramps(sr)

    def voice(f0: float, gate: int) -> np.ndarray:
        n = gate + rel
        t = ramps.get("t", n, lambda t: t)
        phase = t.copy()
        if vib:
            w = 2 * np.pi * vib_hz
            phase += vib * ramps.get("vib", n, lambda t: (1.0 - np.cos(w * t)) / w)
        if bend:
            phase -= bend * ramps.get("bend", n, lambda t: bend_s * (1.0 - np.exp(-t / bend_s)))
        tab = timbre.table(f0, sr) if isinstance(timbre, _Timbre) else wavetable(timbre(f0))
        out = np.zeros(n, dtype=np.float32)
        for j, det in enumerate(detune_cents):
            f = f0 * 2.0 ** (det / 1200.0)
            idx = ((phase * f + 0.371 * j) * _N_TAB).astype(np.int64)
            out += tab[idx & (_N_TAB - 1)]
        held = ramps.get("held", n, lambda t: (np.minimum(t / a_, 1.0) * (s + (1.0 - s) * np.exp(
            -np.maximum(t - a_, 0.0) / d_))).astype(np.float32))
        env = _gate_env(ramps, n, gate, held, r)
        if trem_depth:
            env = env * ramps.get("trem", n, lambda t: (1.0 - trem_depth * (0.5 + 0.5 * np.sin(
                2 * np.pi * trem_hz * t))).astype(np.float32))
        return out * (env / len(detune_cents))

    return voice


def decay_voice(sr: int, bright: _Timbre, body: _Timbre, *, tau_bright: float, tau_body: float,
                r: float = 0.08, a: float = 0.002, pitch_track: float = 0.3, trem_hz: float = 0.0,
                trem_depth: float = 0.0, detune_cents: float = 0.0) -> Voice:
    """Return a struck/plucked voice: a bright layer decaying fast over a mellow body decaying slowly.

    Covers piano, electric piano, vibraphone, plucked and synth basses. Lower notes ring longer
    (``tau_body * (220 / f0) ** pitch_track``); releasing the key damps the note within ``r`` seconds.
    """
    rel = int(r * sr)
    ramps = _Ramps(sr)

    def voice(f0: float, gate: int) -> np.ndarray:
        n = gate + rel
        t = ramps.get("t", n, lambda t: t)
        tb = tau_body * (220.0 / f0) ** pitch_track
        idx = (t * (f0 * _N_TAB)).astype(np.int64) & (_N_TAB - 1)
        e_bright = ramps.get(("exp", tau_bright), n, lambda t: np.exp(-t / tau_bright).astype(np.float32))
        x = bright.table(f0, sr)[idx] * e_bright
        e_body = ramps.get(("exp", tb), n, lambda t: np.exp(-t / tb).astype(np.float32))
        x += body.table(f0, sr)[idx] * e_body
        if detune_cents:
            f1 = f0 * 2.0 ** (detune_cents / 1200.0)
            x += 0.7 * body.table(f1, sr)[(t * (f1 * _N_TAB) + 700).astype(np.int64) & (_N_TAB - 1)] * e_body
        held = ramps.get("held", n, lambda t: np.minimum(t / a, 1.0).astype(np.float32))
        env = _gate_env(ramps, n, gate, held, r)
        if trem_depth:
            env = env * ramps.get("trem", n, lambda t: (1.0 - trem_depth * (0.5 + 0.5 * np.sin(
                2 * np.pi * trem_hz * t))).astype(np.float32))
        return x * env

    return voice


def karplus_strong(f0: float, n: int, sr: int, rng: np.random.Generator, *, decay_s: float = 1.0,
                   brightness: float = 0.7, pick: float = 0.15) -> np.ndarray:
    """Plucked string by Karplus-Strong, vectorised one period at a time; returns (n,) float32.

    ``y[i] = x[i] + g/2 (y[i-L] + y[i-L-1])`` with the loop gain ``g`` set so that the fundamental
    decays by 1/e in ``decay_s``. The excitation is a noise burst low-passed by ``brightness`` (1 = raw
    noise, twangy) with a comb notch for the pick position.
    """
    L = max(2, int(round(sr / f0 - 0.5)))
    exc = rng.uniform(-1.0, 1.0, L)
    b = float(np.clip(brightness, 0.05, 1.0))
    exc = signal.lfilter([b], [1.0, -(1.0 - b)], exc)
    p = max(1, int(pick * L))
    exc = exc - np.roll(exc, p)
    g2 = 0.5 * math.exp(-L / (sr * decay_s))
    nb = -(-n // L) + 1
    buf = np.zeros(nb * L + 1)
    buf[1 : L + 1] = exc
    for k in range(1, nb):
        s = 1 + k * L
        buf[s : s + L] = g2 * (buf[s - L : s] + buf[s - L - 1 : s - 1])
    y = buf[1 : n + 1]
    return (y / (np.max(np.abs(y)) + 1e-12)).astype(np.float32)


def pluck_voice(sr: int, rng: np.random.Generator, *, decay_s: float, brightness: float, r: float = 0.04,
                pick: float = 0.15) -> Voice:
    """Return a Karplus-Strong guitar voice; the string is damped ``r`` seconds after the gate closes."""
    rel = int(r * sr)
    strings: dict[float, np.ndarray] = {}

    def voice(f0: float, gate: int) -> np.ndarray:
        n = gate + rel
        s = strings.get(f0)
        if s is None or len(s) < n:
            s = strings[f0] = karplus_strong(f0, max(n, int(0.5 * sr)), sr, rng, decay_s=decay_s,
                                             brightness=brightness, pick=pick)
        t = np.arange(n, dtype=np.float32) / sr
        damp = np.where(t < gate / sr, 1.0, np.exp(-(t - gate / sr) * (5.0 / r))).astype(np.float32)
        return s[:n] * damp

    return voice


def sub_voice(sr: int, *, tau: float, glide: float = 1.0, drive: float = 1.0, r: float = 0.06) -> Voice:
    """Return an 808-style sub bass: a sine that drops ``glide`` octaves into the note, soft-clipped."""
    rel = int(r * sr)

    def voice(f0: float, gate: int) -> np.ndarray:
        n = gate + rel
        t = np.arange(n) / sr
        tg = 0.025
        cyc = f0 * t + f0 * (2.0**glide - 1.0) * tg * (1.0 - np.exp(-t / tg))
        y = np.sin(2 * np.pi * cyc) * np.exp(-t / tau)
        if drive > 1:
            y = np.tanh(drive * y) / math.tanh(drive)
        env = np.minimum(t / 0.002, 1.0) * np.where(t < gate / sr, 1.0, np.exp(-(t - gate / sr) * (5.0 / r)))
        return (y * env).astype(np.float32)

    return voice


# ------------------------------------------------------------------------------------------ filters, effects


_SOS_CACHE: dict[tuple[Any, ...], np.ndarray] = {}


def _sos(order: int, freq: float | tuple[float, float], btype: str, sr: int) -> np.ndarray:
    key = (order, freq, btype, sr)
    sos = _SOS_CACHE.get(key)
    if sos is None:
        nyq = sr / 2.0
        if isinstance(freq, tuple):
            lo = min(max(freq[0], 10.0), 0.9 * nyq)
            wn: float | list[float] = [lo, min(max(freq[1], lo * 1.05), 0.95 * nyq)]
        else:
            wn = min(max(freq, 10.0), 0.95 * nyq)
        sos = _SOS_CACHE[key] = signal.butter(order, wn, btype=btype, fs=sr, output="sos")
    return sos


def filt(x: np.ndarray, sr: int, freq: float | tuple[float, float], btype: str, order: int = 2) -> np.ndarray:
    """Butterworth filter ``x`` (``btype`` low/high/band), returning float32 of the same shape."""
    return signal.sosfilt(_sos(order, freq, btype, sr), x).astype(np.float32)


def drive(x: np.ndarray, amount: float) -> np.ndarray:
    """Soft-clip distortion: ``tanh(amount * x / peak)`` scaled back to the input peak."""
    pk = float(np.max(np.abs(x)))
    if pk == 0.0 or amount <= 0.0:
        return x
    return (np.tanh(amount * x / pk) * (pk / math.tanh(amount))).astype(np.float32)


def reverb(
    x: np.ndarray, sr: int, rt60: float, rng: np.random.Generator, *, damp_hz: float = 5000.0
) -> np.ndarray:
    """Return the wet signal of a decaying-noise impulse response (RT60 ``rt60`` s), same length as ``x``.

    The tail is computed at half the sample rate (it is damped above ``damp_hz`` anyway), which makes the
    convolution four times cheaper.
    """
    n = len(x)
    h = (x[: n - n % 2 : 2] + x[1 : n - n % 2 : 2]) * 0.5 if n >= 2 else x
    sr2 = sr / 2.0
    n_ir = int(min(rt60, 1.5) * sr2)
    t = np.arange(n_ir) / sr2
    ir = rng.standard_normal(n_ir) * np.exp(-6.9 * t / rt60)
    ir = signal.sosfilt(signal.butter(1, min(damp_hz, 0.45 * sr2), fs=sr2, output="sos"), ir)
    ir[: int(0.012 * sr2)] = 0.0  # pre-delay
    ir /= np.sqrt(np.sum(ir**2)) + 1e-12
    wet = signal.fftconvolve(h, ir.astype(np.float32))[: len(h)]
    out = np.zeros(n, dtype=np.float32)
    out[: 2 * len(wet) : 2] = wet
    out[1 : 2 * len(wet) : 2] = 0.5 * (wet + np.append(wet[1:], 0.0))
    return out


def slow_gain(
    n: int, sr: int, depth_db: float, rng: np.random.Generator, *, period_s: float = 4.0
) -> np.ndarray:
    """A smooth random gain curve (shape (n,), float32) spanning about ``depth_db`` dB."""
    k = int(n / sr / period_s) + 3
    pts = rng.uniform(-0.5, 0.5, k) * depth_db
    m = n // 256 + 1  # control rate: one value per 256 samples (steps of < 0.1 dB)
    x = np.linspace(0, k - 1, m)
    i = np.minimum(x.astype(np.int64), k - 2)
    w = x - i
    w = w * w * (3 - 2 * w)  # smoothstep
    g = 10.0 ** ((pts[i] * (1 - w) + pts[i + 1] * w) / 20.0)
    return np.repeat(g.astype(np.float32), 256)[:n]


# --------------------------------------------------------------------------------------------- drum voices


def _t(n: int, sr: int) -> np.ndarray:
    return np.arange(n, dtype=np.float32) / np.float32(sr)


def kick(sr: int, rng: np.random.Generator, *, f_hi: float = 150.0, f_lo: float = 50.0, sweep_s: float = 0.03,
         decay_s: float = 0.25, click: float = 0.3, amount: float = 1.0) -> np.ndarray:
    """A kick drum: a sine swept down from ``f_hi`` to ``f_lo`` with a beater click, shape (k,) float32."""
    n = int(decay_s * 5 * sr)
    t = _t(n, sr)
    f = f_lo + (f_hi - f_lo) * np.exp(-t / sweep_s)
    y = np.sin(2 * np.pi * np.cumsum(f) / sr) * np.exp(-t / decay_s)
    if click:
        y += click * filt(rng.standard_normal(n), sr, 1500.0, "high", 1) * np.exp(-t / 0.004)
    if amount > 1:
        y = np.tanh(amount * y) / math.tanh(amount)
    return y.astype(np.float32)


def snare(sr: int, rng: np.random.Generator, *, tone_hz: float = 190.0, decay_s: float = 0.15,
          noise: float = 0.7, low_hz: float = 1500.0) -> np.ndarray:
    """A snare: two damped drum modes plus band-passed noise (the wires), shape (k,) float32."""
    n = int(decay_s * 5 * sr)
    t = _t(n, sr)
    body = (np.sin(2 * np.pi * tone_hz * t) + 0.5 * np.sin(2 * np.pi * 1.6 * tone_hz * t)) * np.exp(-t / 0.05)
    wires = filt(rng.standard_normal(n), sr, (low_hz, 4.0 * low_hz), "band", 1) * np.exp(-t / decay_s)
    return ((1 - noise) * body + noise * 1.5 * wires).astype(np.float32)


def clap(sr: int, rng: np.random.Generator, *, decay_s: float = 0.12) -> np.ndarray:
    """A hand clap: three quick noise bursts and a tail, band-passed around 1-2.5 kHz, shape (k,)."""
    n = int((decay_s * 5 + 0.03) * sr)
    t = _t(n, sr)
    env = np.exp(-t / decay_s)
    for dt in (0.0, 0.011, 0.022):
        env += np.where(t >= dt, np.exp(-(t - dt) / 0.005), 0.0)
    return (filt(rng.standard_normal(n), sr, (900.0, 2600.0), "band", 1) * env).astype(np.float32)


_METAL_RATIOS = np.array([1.0, 1.342, 1.2312, 1.6532, 1.9523, 2.1523])


def hat(sr: int, rng: np.random.Generator, *, decay_s: float = 0.05, base_hz: float = 3300.0,
        hp_hz: float = 6500.0) -> np.ndarray:
    """A hi-hat / cymbal: inharmonic square partials plus noise, high-passed; shape (k,) float32."""
    n = int(decay_s * 5 * sr) + 16
    t = _t(n, sr)
    metal = np.sign(np.sin(2 * np.pi * base_hz / 8 * _METAL_RATIOS[:, None] * t[None, :])).sum(axis=0)
    y = 0.5 * metal / 6 + rng.standard_normal(n)
    y = filt(filt(y, sr, hp_hz, "high", 2), sr, 1.6 * hp_hz, "low", 1)
    return (y * np.exp(-t / decay_s) * np.minimum(t / 0.0015, 1)).astype(np.float32)


def ride(sr: int, rng: np.random.Generator, *, decay_s: float = 1.0, bell: float = 0.3) -> np.ndarray:
    """A ride cymbal: dense inharmonic partials, a bell tone and a long noise wash, shape (k,) float32."""
    n = int(min(decay_s * 3, 3.0) * sr)
    t = np.arange(n, dtype=np.float32) / np.float32(sr)
    freqs = np.array([2210.0, 3132.0, 3843.0, 4370.0, 5012.0, 2720.0], dtype=np.float32)
    part = np.sin(2 * np.pi * freqs[:, None] * t[None, :]).sum(axis=0) / 6
    wash = filt(rng.standard_normal(n), sr, (3000.0, 8000.0), "band", 1)
    b = np.sin(2 * np.pi * 780 * t) + 0.6 * np.sin(2 * np.pi * 1860 * t)
    y = (0.4 * part + wash) * np.exp(-t / decay_s) * (1 + 3 * np.exp(-t / 0.01))
    y += bell * b * np.exp(-t / 0.35)
    return (y * 0.5).astype(np.float32)


def crash(sr: int, rng: np.random.Generator, *, decay_s: float = 1.2) -> np.ndarray:
    """A crash cymbal: bright noise with a long decay, shape (k,) float32."""
    n = int(min(decay_s * 3, 3.0) * sr)
    t = _t(n, sr)
    y = filt(rng.standard_normal(n), sr, (2500.0, 9000.0), "band", 1) * np.exp(-t / decay_s)
    return (y * np.minimum(t / 0.003, 1.0)).astype(np.float32)


def rim(sr: int, rng: np.random.Generator, *, tone_hz: float = 1700.0) -> np.ndarray:
    """A rim shot / cross-stick: a short woody click, shape (k,) float32."""
    n = int(0.08 * sr)
    t = _t(n, sr)
    y = np.sin(2 * np.pi * tone_hz * t) * np.exp(-t / 0.012)
    y += 0.8 * np.sin(2 * np.pi * 0.47 * tone_hz * t) * np.exp(-t / 0.02)
    y += 0.5 * filt(rng.standard_normal(n), sr, (2000.0, 6000.0), "band", 1) * np.exp(-t / 0.004)
    return y.astype(np.float32)


def tom(sr: int, rng: np.random.Generator, *, f_hz: float = 110.0) -> np.ndarray:
    """A tom: a sine falling from 1.4x to its pitch, shape (k,) float32."""
    return kick(sr, rng, f_hi=1.4 * f_hz, f_lo=f_hz, sweep_s=0.05, decay_s=0.22, click=0.15)


def brush(sr: int, rng: np.random.Generator, *, dur_s: float = 0.3) -> np.ndarray:
    """A brush swish on a snare: band-passed noise with a slow rise and fall, shape (k,) float32."""
    n = int(dur_s * sr)
    t = _t(n, sr)
    env = np.sin(np.pi * t / dur_s) ** 2
    return (filt(rng.standard_normal(n), sr, (1500.0, 5000.0), "band", 1) * env).astype(np.float32)


def _kit(kind: str, sr: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Build the drum voices of a kit, with small random variations of tuning and decay."""
    u = rng.uniform
    if kind == "none":
        return {}
    k: dict[str, np.ndarray] = {
        "hat": hat(sr, rng, decay_s=u(0.03, 0.06)),
        "ohat": hat(sr, rng, decay_s=u(0.18, 0.3)),
        "crash": crash(sr, rng, decay_s=u(0.9, 1.5)),
        "ride": ride(sr, rng, decay_s=u(0.8, 1.4), bell=u(0.1, 0.4)),
        "tom_hi": tom(sr, rng, f_hz=u(180, 220)),
        "tom_mid": tom(sr, rng, f_hz=u(130, 160)),
        "tom_lo": tom(sr, rng, f_hz=u(85, 110)),
        "rim": rim(sr, rng, tone_hz=u(1400, 2000)),
    }
    if kind in ("acoustic", "rock", "country"):
        k["kick"] = kick(sr, rng, f_hi=u(120, 160), f_lo=u(45, 60), decay_s=u(0.2, 0.32), click=u(0.1, 0.3))
        k["snare"] = snare(sr, rng, tone_hz=u(170, 220), decay_s=u(0.12, 0.2), noise=u(0.5, 0.75))
    elif kind == "jazz":
        k["kick"] = kick(sr, rng, f_hi=u(110, 130), f_lo=u(60, 75), decay_s=u(0.25, 0.4), click=0.05)
        k["snare"] = snare(sr, rng, tone_hz=u(220, 280), decay_s=u(0.1, 0.16), noise=u(0.4, 0.6))
        k["hat"] = hat(sr, rng, decay_s=u(0.04, 0.07), hp_hz=4500.0)
    elif kind == "brushes":
        k["kick"] = kick(sr, rng, f_hi=u(100, 120), f_lo=u(55, 70), decay_s=u(0.25, 0.35), click=0.0)
        k["snare"] = brush(sr, rng, dur_s=u(0.05, 0.08))
        k["swish"] = brush(sr, rng, dur_s=u(0.25, 0.4))
        k["hat"] = hat(sr, rng, decay_s=u(0.04, 0.07), hp_hz=4500.0)
    elif kind == "metal":
        k["kick"] = kick(sr, rng, f_hi=u(160, 200), f_lo=u(50, 60), decay_s=u(0.1, 0.15), click=u(0.6, 1.0))
        k["snare"] = snare(sr, rng, tone_hz=u(200, 260), decay_s=u(0.15, 0.22), noise=u(0.6, 0.8),
                           low_hz=2000.0)
        k["china"] = crash(sr, rng, decay_s=u(0.5, 0.8))
    elif kind == "disco":
        k["kick"] = kick(sr, rng, f_hi=u(130, 170), f_lo=u(48, 58), decay_s=u(0.16, 0.24), click=u(0.2, 0.4))
        k["snare"] = snare(sr, rng, tone_hz=u(180, 220), decay_s=u(0.12, 0.18))
        k["clap"] = clap(sr, rng, decay_s=u(0.08, 0.14))
    elif kind == "pop":
        k["kick"] = kick(sr, rng, f_hi=u(140, 180), f_lo=u(45, 55), decay_s=u(0.18, 0.3), click=u(0.3, 0.5),
                         amount=u(1.5, 3.0))
        k["snare"] = snare(sr, rng, tone_hz=u(180, 230), decay_s=u(0.14, 0.22), low_hz=2500.0)
        k["clap"] = clap(sr, rng, decay_s=u(0.1, 0.16))
        k["shaker"] = hat(sr, rng, decay_s=u(0.02, 0.035), hp_hz=7000.0)
    elif kind == "boombap":
        k["kick"] = filt(kick(sr, rng, f_hi=u(110, 140), f_lo=u(45, 55), decay_s=u(0.22, 0.35), click=0.5,
                              amount=u(2, 4)), sr, 3000.0, "low")
        k["snare"] = filt(snare(sr, rng, tone_hz=u(170, 210), decay_s=u(0.14, 0.22), noise=0.65,
                                low_hz=1200.0), sr, 6000.0, "low")
        k["hat"] = hat(sr, rng, decay_s=u(0.025, 0.045), hp_hz=5000.0)
    elif kind == "808":
        k["kick"] = kick(sr, rng, f_hi=u(90, 120), f_lo=u(42, 50), sweep_s=0.05, decay_s=u(0.35, 0.6),
                         click=0.1, amount=u(1.5, 3))
        k["snare"] = clap(sr, rng, decay_s=u(0.12, 0.2))
        k["hat"] = hat(sr, rng, decay_s=u(0.015, 0.03), hp_hz=7500.0)
    elif kind == "reggae":
        k["kick"] = kick(sr, rng, f_hi=u(100, 130), f_lo=u(45, 55), decay_s=u(0.25, 0.4), click=0.1)
        k["snare"] = snare(sr, rng, tone_hz=u(300, 400), decay_s=u(0.08, 0.12), noise=u(0.3, 0.5))
    else:  # pragma: no cover - guarded by the drawers
        raise ConfigError(f"unknown drum kit {kind!r}")
    return k


# --------------------------------------------------------------------------------------------- patterns

_VEL = {".": 0.0, "g": 0.28, "o": 0.55, "x": 0.8, "X": 1.0}

#: Drum grooves: voice -> pattern, one character per sixteenth (the pattern loops).
GROOVES: dict[str, dict[str, str]] = {
    "shuffle": {"kick": "x.......x.......", "snare": "....X.......X...", "hat": "x.o.x.o.x.o.x.o."},
    "shuffle_ride": {"kick": "x.......x.......", "snare": "....X.......X...", "ride": "x.o.x.o.x.o.x.o.",
                     "hat": "....o.......o..."},
    "boom_chick": {"kick": "X.......X.......", "snare": "....x.......x...", "hat": "o.g.o.g.o.g.o.g."},
    "train": {"kick": "x.......x.......", "snare": "o.g.X.g.o.g.X.g."},
    "two_step": {"kick": "X...o...X...o...", "snare": "....x.......x...", "hat": "..o...o...o...o."},
    "disco": {"kick": "X...X...X...X...", "clap": "....x.......x...", "ohat": "..x...x...x...x.",
              "hat": "x..gx..gx..gx..g"},
    "disco16": {"kick": "X...X...X...X...", "snare": "....x.......x...", "clap": "....o.......o...",
                "ohat": "..x...x...x...x.", "hat": "xg.gxg.gxg.gxg.g"},
    "boombap1": {"kick": "X.........x.....", "snare": "....X.......X...", "hat": "x.o.x.o.x.o.x.o."},
    "boombap2": {"kick": "X......x..x.....", "snare": "....X.......X..g", "hat": "x.o.x.o.x.o.x.o."},
    "boombap3": {"kick": "X..x......x.....", "snare": "....X.......X...", "hat": "xgogxgogxgogxgog"},
    "808a": {"kick": "X.....x...x.....", "snare": "....X.......X...", "hat": "xgogxgogxgogxgog"},
    "808b": {"kick": "X......x.x......", "snare": "....X.......X...", "hat": "x.o.x.o.x.o.xgog"},
    "swing_ride": {"ride": "x...x.o.x...x.o.", "hat": "....x.......x...", "kick": "g...g...g...g..."},
    "brushes": {"swish": "x...x...x...x...", "snare": "o...x.g.o...x.g.", "hat": "....o.......o..."},
    "double_kick": {"kick": "XoooXoooXoooXooo", "snare": "....o.......o...", "china": "X...X...X...X..."},
    "gallop": {"kick": "X.ooX.ooX.ooX.oo", "snare": "....o.......o...", "china": "X...X...X...X..."},
    "thrash": {"kick": "X...X...X...X...", "snare": "..X...X...X...X.", "ride": "X.x.X.x.X.x.X.x."},
    "pop1": {"kick": "X.......X.......", "clap": "....X.......X...", "hat": "x.o.x.o.x.o.x.o."},
    "pop2": {"kick": "X.....x.X.......", "snare": "....X.......X...", "hat": "x.o.x.o.x.o.x.o.",
             "shaker": "gogogogogogogogo"},
    "pop4": {"kick": "X...X...X...X...", "clap": "....X.......X...", "ohat": "..x...x...x...x.",
             "hat": "x...x...x...x..."},
    "one_drop": {"kick": "........X.......", "rim": "........X.......", "hat": "x.o.x.o.x.o.x.o."},
    "rockers": {"kick": "X.......x.......", "rim": "........X.......", "hat": "x.o.x.o.x.o.x.o."},
    "steppers": {"kick": "x...x...x...x...", "rim": "........X.......", "hat": "x.o.x.o.x.o.x.o."},
    "rock1": {"kick": "X.......x.x.....", "snare": "....X.......X...", "hat": "x.o.x.o.x.o.x.o."},
    "rock2": {"kick": "X.x.....x.x.....", "snare": "....X.......X...", "hat": "x.o.x.o.x.o.x.o."},
    "rock_ride": {"kick": "X.......x.x.....", "snare": "....X.......X...", "ride": "x.o.x.o.x.o.x.o."},
}
#: Crash on the downbeat of each phrase, for these grooves.
_CRASH_GROOVES = {"rock1", "rock2", "rock_ride", "double_kick", "gallop", "thrash", "pop1", "pop2", "pop4",
                  "disco", "disco16", "shuffle", "shuffle_ride", "boom_chick", "two_step", "steppers"}


def pattern_beats(
    pattern: str, total_beats: float, *, steps_per_beat: int = 4
) -> tuple[np.ndarray, np.ndarray]:
    """Loop a step pattern over ``[0, total_beats)``; return onset beats (k,) and velocities (k,)."""
    v = np.array([_VEL[ch] for ch in pattern])
    on = np.flatnonzero(v)
    period = len(pattern) / steps_per_beat
    reps = int(math.ceil(total_beats / period))
    beats = (np.arange(reps)[:, None] * period + on[None, :] / steps_per_beat).ravel()
    vels = np.tile(v[on], reps)
    keep = beats < total_beats
    return beats[keep], vels[keep]


def swing_warp(beats: np.ndarray, swing: float, unit: int) -> np.ndarray:
    """Move the off-beat of each swung pair (eighths if ``unit`` is 8, sixteenths if 16) to ``swing``.

    Positions are warped piecewise-linearly inside each pair, so a straight sixteenth grid maps onto the
    swung one and on-beats never move.
    """
    if abs(swing - 0.5) < 1e-9:
        return np.asarray(beats, dtype=float)
    pair = 1.0 if unit == 8 else 0.5
    q, f = np.divmod(np.asarray(beats, dtype=float) / pair, 1.0)
    f = np.where(f < 0.5, f * (swing / 0.5), swing + (f - 0.5) * ((1.0 - swing) / 0.5))
    return (q + f) * pair


def place(buf: np.ndarray, kernel: np.ndarray, starts: np.ndarray, gains: np.ndarray) -> None:
    """Add ``gain * kernel`` at each start sample into ``buf`` (in place), clipping at both ends."""
    n, m = len(buf), len(kernel)
    for s, g in zip(starts.tolist(), gains.tolist(), strict=True):
        if s >= n or s + m <= 0 or g == 0.0:
            continue
        a, b = max(s, 0), min(s + m, n)
        buf[a:b] += g * kernel[a - s : b - s]


# --------------------------------------------------------------------------------------------- arrangement


@dataclass(frozen=True)
class _Slot:
    start: float  # beats
    dur: float
    root: int  # MIDI, bass register
    quality: str


class _Ctx:
    """One clip being rendered: timing, chord slots, buses and the random generator."""

    def __init__(self, p: StyleParams, sr: int, n_out: int, rng: np.random.Generator) -> None:
        self.p, self.sr, self.rng = p, sr, rng
        self.beat_s = 60.0 / p.tempo_bpm
        self.bar_s = p.meter * self.beat_s
        self.pre_n = int(round(self.bar_s * sr))
        self.n = self.pre_n + n_out
        self.n_bars = int(math.ceil(self.n / sr / self.bar_s)) + 1
        self.total_beats = float(self.n_bars * p.meter)
        self.buses: dict[str, np.ndarray] = {}
        self.meta: dict[str, tuple[str, float, float, Callable[[np.ndarray], np.ndarray] | None]] = {}
        bass_floor = 24 if p.genre == "metal" else 28
        per = p.chords_per_bar
        slot_beats = p.meter / per
        prog = p.progression
        self.slots = []
        for i in range(self.n_bars * per):
            off, quality = prog[(i + p.form_offset) % len(prog)]
            root = bass_floor + (p.tonic_pc + off - bass_floor) % 12
            self.slots.append(_Slot(i * slot_beats, slot_beats, root, quality))
        self._slot_starts = np.array([s.start for s in self.slots])
        fe = p.fill_every
        self.fill_bars = [b for b in range(1, self.n_bars) if fe and b % fe == 0]

    # -- timing
    def samples(self, beats: np.ndarray, *, jitter: bool = True) -> np.ndarray:
        sec = swing_warp(beats, self.p.swing, self.p.swing_unit) * self.beat_s
        if jitter and self.p.humanize_ms > 0:
            sec = sec + self.rng.normal(0.0, self.p.humanize_ms / 1000.0, np.shape(sec))
        return np.round(np.asarray(sec) * self.sr).astype(np.int64)

    def slot_at(self, beat: float) -> _Slot:
        return self.slots[int(np.searchsorted(self._slot_starts, beat + 1e-9, side="right")) - 1]

    def slot_index(self, beats: np.ndarray) -> np.ndarray:
        return np.searchsorted(self._slot_starts, np.asarray(beats) + 1e-9, side="right") - 1

    # -- buses
    def bus(self, name: str, group: str | None = None, *, offset_db: float = 0.0, send: float = 0.5,
            fx: Callable[[np.ndarray], np.ndarray] | None = None) -> np.ndarray:
        if name not in self.buses:
            self.buses[name] = np.zeros(self.n, dtype=np.float32)
            self.meta[name] = (group or name, offset_db, send, fx)
        return self.buses[name]

    # -- drums
    def drums(self, kit: dict[str, np.ndarray], groove: str, *, gains: dict[str, float] | None = None
              ) -> None:
        p, rng = self.p, self.rng
        buf = self.bus("drums", send=0.25)
        gains = gains or {}
        meter = p.meter
        fill_set = np.array(self.fill_bars, dtype=float)
        for voice, pat in GROOVES[groove].items():
            if voice not in kit:
                continue
            beats, vels = pattern_beats(pat, self.total_beats)
            if len(fill_set) and voice != "crash":
                bar = np.floor(beats / meter)
                in_fill = np.isin(bar, fill_set) & (beats - bar * meter >= meter - 1)
                beats, vels = beats[~in_fill], vels[~in_fill]
            vels = vels * gains.get(voice, 1.0) * (1.0 + rng.normal(0, 0.07, len(vels)))
            place(buf, kit[voice], self.samples(beats), vels)
        if len(fill_set) and "tom_hi" in kit:
            for b in self.fill_bars:
                start = b * meter + meter - 1
                steps = start + np.arange(4) / 4
                if rng.random() < 0.5:
                    voices = ["tom_hi", "tom_hi", "tom_mid", "tom_lo"]
                    vel = np.array([0.7, 0.6, 0.8, 0.9])
                else:
                    voices = ["snare"] * 4
                    vel = np.array([0.35, 0.5, 0.7, 0.9])
                starts = self.samples(steps)
                for v, s, g in zip(voices, starts, vel, strict=True):
                    if v in kit:
                        place(buf, kit[v], np.array([s]), np.array([g]))
        crash_k = kit.get("crash")
        if crash_k is not None and groove in _CRASH_GROOVES:
            bars = sorted({1} | {b + 1 for b in self.fill_bars})
            beats = np.array([b * meter for b in bars], dtype=float)
            place(buf, crash_k, self.samples(beats), np.full(len(beats), 0.6))

    # -- pitched notes
    def play(self, bus: np.ndarray, voice: Voice, beats: np.ndarray, durs: np.ndarray, midis: np.ndarray,
             vels: np.ndarray, *, offsets_s: np.ndarray | None = None, jitter: bool = True) -> None:
        """Render notes (onset beat, duration in beats, MIDI pitch, velocity) into ``bus``."""
        beats = np.asarray(beats, dtype=float)
        if len(beats) == 0:
            return
        s0 = self.samples(beats, jitter=False)
        gates = np.maximum(self.samples(beats + np.asarray(durs), jitter=False) - s0, int(0.01 * self.sr))
        starts = self.samples(beats, jitter=jitter)
        if offsets_s is not None:
            starts = starts + np.round(np.asarray(offsets_s) * self.sr).astype(np.int64)
        cache: dict[tuple[float, int], np.ndarray] = {}
        n = len(bus)
        for s, g, m, v in zip(starts.tolist(), gates.tolist(), np.asarray(midis).tolist(),
                              np.asarray(vels).tolist(), strict=True):
            if s >= n or v == 0.0:
                continue
            key = (m, g)
            note = cache.get(key)
            if note is None:
                note = cache[key] = voice(float(midi_to_hz(m)), g)
            a, b = max(s, 0), min(s + len(note), n)
            if b > a:
                bus[a:b] += v * note[a - s : b - s]

    def comp(self, bus: np.ndarray, voice: Voice, pattern: str | Sequence[str] | None, *, dur: float,
             center: int, rootless: bool = False, guitar: bool = False, strum_s: float = 0.0,
             vel: float = 0.8, top: int = 0, low: int = 40) -> None:
        """Play the chord of each slot on a step pattern (or once per slot, held, if ``pattern`` is None).

        ``pattern`` may be a list of one-bar patterns, one drawn per bar.
        """
        rng = self.rng
        if pattern is None:
            beats = np.array([s.start for s in self.slots])
            vels = np.full(len(beats), vel)
            durs = np.array([s.dur * dur for s in self.slots])
        else:
            if isinstance(pattern, str):
                beats, vels = pattern_beats(pattern, self.total_beats)
            else:
                bar_len = self.p.meter
                picks = rng.integers(len(pattern), size=self.n_bars)
                parts = [pattern_beats(pattern[int(k)], bar_len) for k in picks]
                beats = np.concatenate([b + i * bar_len for i, (b, _) in enumerate(parts)])
                vels = np.concatenate([v for _, v in parts])
            vels = vels * vel
            durs = np.full(len(beats), dur)
        vels = vels * (1.0 + rng.normal(0, 0.08, len(vels)))
        idx = self.slot_index(beats)
        nb, nd, nm, nv, no = [], [], [], [], []
        voicings: dict[int, tuple[int, ...]] = {}
        for b, d, v, i in zip(beats.tolist(), durs.tolist(), vels.tolist(), idx.tolist(), strict=True):
            if i not in voicings:
                sl = self.slots[i]
                if guitar:
                    notes = guitar_voicing(sl.root, sl.quality, low=low)
                else:
                    ivs = ROOTLESS.get(sl.quality, CHORDS[sl.quality]) if rootless else CHORDS[sl.quality]
                    notes = close_voicing(sl.root, ivs, center)
                voicings[i] = notes[-top:] if top else notes
            notes = voicings[i]
            down = rng.random() < 0.6
            for j, m in enumerate(notes if down else notes[::-1]):
                nb.append(b)
                nd.append(d)
                nm.append(m)
                nv.append(v / math.sqrt(len(notes)))
                no.append(j * strum_s)
        self.play(bus, voice, np.array(nb), np.array(nd), np.array(nm), np.array(nv), offsets_s=np.array(no))

    # -- lines
    def phrases(self, *, grid: float, lens: Sequence[float], probs: Sequence[float], density: float,
                phrase_beats: Sequence[float], rest_beats: Sequence[float], start: float = 0.0
                ) -> tuple[np.ndarray, np.ndarray]:
        """Phrased rhythm: notes of the given lengths on ``grid``, grouped in phrases separated by rests."""
        rng = self.rng
        beats: list[float] = []
        durs: list[float] = []
        pos = start
        while pos < self.total_beats:
            end = min(pos + float(rng.choice(phrase_beats)), self.total_beats)
            t = pos
            while t < end - 1e-9:
                ln = float(rng.choice(lens, p=probs))
                if rng.random() < density:
                    beats.append(round(t / grid) * grid)
                    durs.append(min(ln, end - t))
                t += ln
            pos = end + float(rng.choice(rest_beats))
        return np.array(beats), np.array(durs)

    def melody(self, beats: np.ndarray, lo: int, hi: int, scale: str, *, chord_pull: float = 0.7,
               leap: float = 0.15) -> np.ndarray:
        """Pitches for onsets: chord tones on strong beats, scale steps in between, within [lo, hi]."""
        rng = self.rng
        allowed = scale_notes(self.p.tonic_pc, scale, lo, hi)
        i = len(allowed) // 2
        out = np.empty(len(beats), dtype=np.int64)
        for j, b in enumerate(beats.tolist()):
            sl = self.slot_at(b)
            strong = abs(b * 2 - round(b * 2)) < 1e-6 and abs(b - round(b)) < 1e-6
            if strong and rng.random() < chord_pull:
                tones = {(sl.root + iv) % 12 for iv in CHORDS[sl.quality]}
                near = range(max(0, i - 3), min(len(allowed), i + 4))
                cands = [k for k in near if allowed[k] % 12 in tones]
                if cands:
                    i = min(cands, key=lambda k: (abs(k - i), rng.random()))
            else:
                steps = [-3, 3] if rng.random() < leap else [-2, -1, -1, 1, 1, 2]
                step = int(rng.choice(steps))
                i = int(np.clip(i + step, 0, len(allowed) - 1))
                if i in (0, len(allowed) - 1):
                    i = len(allowed) // 2 + int(rng.integers(-2, 3))
            out[j] = allowed[i]
        return out


# ---- instrument voices


_PLUCKED = ("acoustic_guitar", "skank_guitar", "funk_guitar", "clean_guitar", "guitar_comp", "twang_guitar")


def _instrument(name: str, c: _Ctx) -> Voice:
    """Build the voice of an instrument for this clip (its timbre depends on ``tone``)."""
    sr, tone, rng = c.sr, c.p.tone, c.rng
    u = rng.uniform
    name = {"skank_piano": "piano", "organ_bubble": "organ", "vibes_lead": "vibes", "horns_lead": "brass",
            "piano_rh": "piano"}.get(name, name)
    if name == "piano":
        return decay_voice(sr, _Timbre(harmonic_amps(24, 1.4 - 0.5 * tone)),
                           _Timbre([1, 0.45, 0.2, 0.12, 0.05]), tau_bright=0.12 + 0.1 * tone,
                           tau_body=u(0.9, 1.5), r=0.15, detune_cents=u(0, 3))
    if name == "epiano":
        return decay_voice(sr, _Timbre([0.2, 0.1, 0, 0, 0, 0, 0.5 * tone + 0.1, 0.3]),
                           _Timbre([1, 0.12, 0.04]), tau_bright=0.05, tau_body=u(1.0, 1.8), r=0.1,
                           trem_hz=u(3.5, 5.5), trem_depth=u(0.0, 0.35))
    if name == "vibes":
        return decay_voice(sr, _Timbre([0.3, 0, 0, 0.4]), _Timbre([1, 0, 0, 0.08]), tau_bright=0.08,
                           tau_body=u(1.0, 1.6), r=0.3, pitch_track=0.1, trem_hz=u(4, 6), trem_depth=0.4)
    if name == "organ":
        return osc_voice(sr, _Timbre([1, 0.9, 0.5, 0.7, 0, 0.4, 0, 0.3 * tone + 0.1]), a=0.008, d=0.3, s=0.9,
                         r=0.05, vib_hz=6.5, vib_cents=u(5, 12))
    if name in ("strings", "strings_line"):
        return osc_voice(sr, _Timbre(harmonic_amps(14, 1.5 - 0.4 * tone)), a=u(0.12, 0.35), d=0.5, s=0.85,
                         r=u(0.3, 0.6), vib_hz=u(5.0, 6.0), vib_cents=u(6, 14), detune_cents=(-7.0, 0.0, 6.0))
    if name == "horns":
        return osc_voice(sr, _Timbre(harmonic_amps(8, 2.0)), a=0.12, d=0.4, s=0.8, r=0.3, vib_hz=5,
                         vib_cents=5)
    if name == "pad":
        return osc_voice(sr, _Timbre(harmonic_amps(30, 1.2 - 0.3 * tone)), a=u(0.2, 0.5), d=0.5, s=0.8, r=0.5,
                         detune_cents=(-10.0, 0.0, 9.0))
    if name in ("synth_chords", "synth_lead"):
        return osc_voice(sr, _Timbre(harmonic_amps(40, 1.15 - 0.35 * tone)), a=0.004, d=u(0.1, 0.25),
                         s=u(0.35, 0.6), r=0.06, detune_cents=(-12.0, 0.0, 11.0),
                         vib_hz=5.5 if name == "synth_lead" else 0.0, vib_cents=10.0)
    if name == "pluck_chords":
        return decay_voice(sr, _Timbre(harmonic_amps(40, 0.9)), _Timbre(harmonic_amps(6, 2.0)),
                           tau_bright=0.08, tau_body=0.4, r=0.05)
    if name == "brass":
        return osc_voice(sr, lambda f0: formant_amps(f0, sr, "trumpet", slope=0.6), a=0.02, d=0.15, s=0.7,
                         r=0.08, vib_hz=5.0, vib_cents=6.0, detune_cents=(-6.0, 5.0))
    if name in _PLUCKED:
        bright = {"acoustic_guitar": 0.6, "skank_guitar": 0.8, "funk_guitar": 0.9, "clean_guitar": 0.5,
                  "guitar_comp": 0.3, "twang_guitar": 0.95}[name]
        decay = {"acoustic_guitar": 1.5, "skank_guitar": 0.6, "funk_guitar": 0.4, "clean_guitar": 1.2,
                 "guitar_comp": 1.0, "twang_guitar": 0.9}[name]
        return pluck_voice(sr, rng, decay_s=decay, brightness=min(1.0, bright * (0.7 + 0.5 * tone)),
                           pick=0.08 if name == "twang_guitar" else 0.18)
    if name in ("rock_guitar", "shuffle_guitar", "lead_guitar", "dist_guitars", "tremolo"):
        return osc_voice(sr, _Timbre(harmonic_amps(20, 1.0, even_gain=0.8)), a=0.003, d=0.3, s=0.7, r=0.05,
                         detune_cents=(0.0, 9.0) if name == "dist_guitars" else (0.0,),
                         bend_st=1.0 if name == "lead_guitar" else 0.0, bend_s=0.07,
                         vib_hz=5.5 if name == "lead_guitar" else 0.0, vib_cents=20.0)
    if name == "harmonica":
        return osc_voice(sr, _Timbre([1, 0.7, 0.9, 0.5, 0.6, 0.3, 0.3, 0.2, 0.15]), a=0.03, d=0.2, s=0.8,
                         r=0.06, vib_hz=5.5, vib_cents=15, bend_st=1.0, bend_s=0.05, trem_hz=6.0,
                         trem_depth=0.3)
    if name in ("violin", "fiddle"):
        return osc_voice(sr, lambda f0: formant_amps(f0, sr, "fiddle", slope=0.7), a=0.06, d=0.3, s=0.85,
                         r=0.15, vib_hz=u(5.5, 6.5), vib_cents=u(15, 30),
                         bend_st=0.5 if name == "fiddle" else 0.0)
    if name in ("steel", "steel_pad"):
        return osc_voice(sr, _Timbre([1, 0.45, 0.25, 0.12, 0.06]), a=0.01, d=0.8, s=0.6, r=0.3, vib_hz=4.5,
                         vib_cents=12, bend_st=1.5, bend_s=0.12)
    if name == "flute":
        return osc_voice(sr, _Timbre([1, 0.25, 0.08, 0.03]), a=0.06, d=0.3, s=0.9, r=0.12, vib_hz=5.0,
                         vib_cents=15)
    if name == "oboe":
        return osc_voice(sr, _Timbre([0.5, 1, 0.9, 0.6, 0.5, 0.3, 0.2, 0.1]), a=0.04, d=0.3, s=0.9, r=0.1,
                         vib_hz=5.5, vib_cents=12)
    if name in ("clarinet", "melodica"):
        return osc_voice(sr, _Timbre(harmonic_amps(9, 1.2, odd_only=True) + 0.02), a=0.03, d=0.3, s=0.9,
                         r=0.08, vib_hz=5.0, vib_cents=6)
    if name in ("sax", "trumpet"):
        return osc_voice(sr, lambda f0, v=name: formant_amps(f0, sr, v, slope=0.5 + 0.3 * (1 - tone)), a=0.03,
                         d=0.2, s=0.8, r=0.06, vib_hz=5.0, vib_cents=12.0, bend_st=0.4, bend_s=0.04)
    if name == "harp":
        return decay_voice(sr, _Timbre([1, 0.5, 0.3, 0.15]), _Timbre([1, 0.2, 0.05]), tau_bright=0.1,
                           tau_body=0.9, r=0.5, pitch_track=0.4)
    raise ConfigError(f"unknown instrument {name!r}")  # pragma: no cover - guarded by the drawers


def _bass_voice(c: _Ctx, kind: str) -> Voice:
    sr, tone = c.sr, c.p.tone
    if kind == "upright":
        return decay_voice(sr, _Timbre([0.6, 0.5, 0.3, 0.1]), _Timbre([1, 0.35, 0.12, 0.04]), tau_bright=0.05,
                           tau_body=0.7, r=0.08, a=0.008, pitch_track=0.0)
    if kind == "synth":
        return decay_voice(sr, _Timbre(harmonic_amps(16, 1.0)), _Timbre(harmonic_amps(5, 1.8)),
                           tau_bright=0.06 + 0.06 * tone, tau_body=0.8, r=0.04, pitch_track=0.0)
    if kind == "sub":
        return decay_voice(sr, _Timbre([0.5, 0.4, 0.2]), _Timbre([1, 0.15, 0.03]), tau_bright=0.04,
                           tau_body=1.2, r=0.06, pitch_track=0.0)
    if kind == "808":
        return sub_voice(sr, tau=c.rng.uniform(0.5, 1.2), glide=c.rng.uniform(0.0, 0.6),
                         drive=1.0 + c.p.distortion)
    if kind == "cello":
        return osc_voice(sr, _Timbre(harmonic_amps(12, 1.6)), a=0.15, d=0.5, s=0.85, r=0.4, vib_hz=5.0,
                         vib_cents=8, detune_cents=(-5.0, 5.0))
    # electric bass (fingered)
    return decay_voice(sr, _Timbre([0.5, 0.6, 0.5, 0.3, 0.2, 0.1]), _Timbre([1, 0.45, 0.15, 0.05]),
                       tau_bright=0.08, tau_body=0.9, r=0.05, pitch_track=0.0)


def _bass(c: _Ctx) -> None:
    """Render the bass line of the clip's bass style into the ``bass`` bus."""
    p, rng = c.p, c.rng
    style = p.bass
    bus = c.bus("bass", send=0.05)
    tb = c.total_beats
    starts = np.array([s.start for s in c.slots])
    roots = np.array([s.root for s in c.slots])
    if style == "walking" and p.genre == "jazz":
        _walking_bass(c, bus)
    elif style in ("boogie", "walking", "shuffle_root"):
        pat, step = {"boogie": ([0, 4, 7, 9, 10, 9, 7, 4], 0.5), "walking": ([0, 4, 7, 9], 1.0),
                     "shuffle_root": ([0, 0, 12, 12, 7, 7, 12, 12], 0.5)}[style]
        beats = np.arange(0, tb, step)
        i = c.slot_index(beats)
        offs = np.array(pat)[((beats - starts[i]) / step).round().astype(int) % len(pat)]
        c.play(bus, _bass_voice(c, "electric"), beats, np.full(len(beats), step * 0.9), roots[i] + offs,
               np.where(beats % 1 == 0, 0.85, 0.7))
    elif style in ("root8", "synth8", "chug"):
        step = 0.25 if style == "chug" and p.groove == "double_kick" else 0.5
        beats = np.arange(0, tb, step)
        i = c.slot_index(beats)
        m = roots[i] + (12 if style == "chug" else 0)
        last = (beats % p.meter) >= p.meter - step - 1e-9
        m = np.where(last & (rng.random(len(m)) < 0.5), m + 12, m)
        kind = "synth" if style == "synth8" else "electric"
        c.play(bus, _bass_voice(c, kind), beats, np.full(len(beats), step * 0.85), m,
               np.where(beats % 1 == 0, 0.9, 0.75))
        if style == "chug":
            c.meta["bass"] = ("bass", 0.0, 0.0, lambda x: filt(drive(x, 3.0), c.sr, 2500.0, "low"))
    elif style in ("octave", "octave_synco"):
        beats = np.arange(0, tb, 0.5)
        i = c.slot_index(beats)
        up = ((beats * 2).astype(int) % 2) == 1
        m = roots[i] + 12 * up
        if style == "octave_synco":
            extra = beats[~up] + 0.25
            beats = np.concatenate([beats, extra[rng.random(len(extra)) < 0.4]])
            i = c.slot_index(beats)
            m = np.concatenate([m, roots[i[len(m):]] + 12])
        voice = _bass_voice(c, "electric" if p.tone < 0.7 else "synth")
        c.play(bus, voice, beats, np.full(len(beats), 0.35), m, np.full(len(beats), 0.85))
    elif style in ("808", "sub", "upright_loop"):
        kb, _ = pattern_beats(GROOVES[p.groove]["kick"], tb)
        durs = np.diff(np.append(kb, tb))
        i = c.slot_index(kb)
        kind = {"808": "808", "sub": "sub", "upright_loop": "upright"}[style]
        octave = 12 if kind == "upright" else 0
        c.play(bus, _bass_voice(c, kind), kb, np.minimum(durs, 2.0) * 0.95, roots[i] + octave,
               np.full(len(kb), 0.9))
    elif style == "boom_chick":
        beats = np.arange(0, tb, 2.0)
        i = c.slot_index(beats)
        alt = ((beats / 2).astype(int) % 2) == 1
        m = np.where(alt, roots[i] - 5, roots[i])
        m = np.where(m < 28, m + 12, m)
        c.play(bus, _bass_voice(c, "electric"), beats, np.full(len(beats), 0.9), m, np.full(len(beats), 0.85))
    elif style == "dub":
        # a one-bar riff on the eighth grid, transposed to each chord, repeated
        on = rng.random(8) < 0.6
        on[0] = p.groove != "one_drop" or rng.random() < 0.3
        on[4] = True
        ivs = rng.choice([0, 0, 3 if "min" in p.mode else 4, 7, 10, 12, 5], size=8)
        lens = np.where(rng.random(8) < 0.5, 0.45, 0.9)
        bar_b = np.flatnonzero(on) * 0.5
        beats = (np.arange(c.n_bars)[:, None] * p.meter + bar_b[None, :]).ravel()
        iv = np.tile(ivs[on], c.n_bars)
        ln = np.tile(lens[on], c.n_bars)
        i = c.slot_index(beats)
        c.play(bus, _bass_voice(c, "sub"), beats, ln, roots[i] + iv, np.full(len(beats), 0.9))
    elif style in ("cello", "contrabass", "piano_lh"):
        if style == "piano_lh":
            _alberti(c, c.bus("harm", "harm", send=0.6), _instrument("piano", c))
            return
        beats = starts
        m = roots + (12 if style == "cello" else 0)
        c.play(bus, _bass_voice(c, "cello"), beats, np.array([s.dur for s in c.slots]) * 0.98, m,
               np.full(len(beats), 0.8))
        c.meta["bass"] = ("bass", 0.0, 0.5, None)


def _walking_bass(c: _Ctx, bus: np.ndarray) -> None:
    """Quarter-note walking bass: root on the downbeat, chord tones, chromatic approach to the next root."""
    rng = c.rng
    beats = np.arange(0, c.total_beats, 1.0)
    m = np.empty(len(beats), dtype=np.int64)
    prev = c.slots[0].root + 12
    for j, b in enumerate(beats.tolist()):
        sl = c.slot_at(b)
        nxt = c.slot_at(b + 1.0)
        root = 28 + (sl.root - 28) % 12 + 12 * (prev > sl.root + 12 + 6)
        if abs(b - sl.start) < 1e-9:
            note = root
        elif nxt is not sl:
            target = 28 + (nxt.root - 28) % 12 + 12 * (prev > nxt.root + 12 + 6)
            note = target + int(rng.choice([-1, 1, -2, 2]))
        else:
            tones = [root + iv for iv in CHORDS[sl.quality][:4]] + [root + 12]
            note = min(tones, key=lambda x: (abs(x - prev) if x != prev else 99) + rng.random() * 4)
        m[j] = note
        prev = note
    vels = np.where(beats % 2 == 0, 0.85, 0.75)
    c.play(bus, _bass_voice(c, "upright"), beats, np.full(len(beats), 0.92), m, vels)


def _alberti(c: _Ctx, bus: np.ndarray, voice: Voice) -> None:
    """Classical left hand: Alberti bass (root-fifth-third-fifth) or a broken chord, in eighths."""
    rng = c.rng
    beats = np.arange(0, c.total_beats, 0.5)
    i = c.slot_index(beats)
    kind = rng.integers(2)
    figure = np.array([0, 2, 1, 2]) if kind == 0 else np.array([0, 1, 2, 3])
    pos = ((beats - np.array([c.slots[k].start for k in i])) * 2).round().astype(int) % 4
    m = np.empty(len(beats), dtype=np.int64)
    for j, (k, f) in enumerate(zip(i.tolist(), figure[pos].tolist(), strict=True)):
        sl = c.slots[k]
        chord = [sl.root + 12 + iv for iv in CHORDS[sl.quality][:3]] + [sl.root + 24]
        m[j] = chord[f] if kind == 1 else [chord[0], chord[2], chord[1]][f]
    c.play(bus, voice, beats, np.full(len(beats), 0.5), m, np.where(pos == 0, 0.7, 0.5))


# ---- per-genre arrangements: drums are common, harmony and lead are built here


def _lead(c: _Ctx, name: str, *, lo: int, hi: int, scale: str, rhythm: str) -> None:
    """Render a melodic lead (``rhythm``: sustained, licks, bebop, chicken, tremolo, vocal) into a bus."""
    if name == "none":
        return
    rhythms = {
        "sustained": dict(grid=0.5, lens=(0.5, 1.0, 2.0, 3.0), probs=(0.2, 0.4, 0.3, 0.1), density=0.9,
                          phrase_beats=(6.0, 8.0), rest_beats=(1.0, 2.0)),
        "licks": dict(grid=0.5, lens=(0.5, 1.0, 1.5), probs=(0.6, 0.3, 0.1), density=0.85,
                      phrase_beats=(2.0, 3.0, 4.0), rest_beats=(1.0, 2.0, 3.0)),
        "bebop": dict(grid=0.5, lens=(0.5, 1.0), probs=(0.85, 0.15), density=0.95,
                      phrase_beats=(4.0, 6.0, 8.0), rest_beats=(1.0, 1.5, 2.0)),
        "chicken": dict(grid=0.25, lens=(0.25, 0.5), probs=(0.5, 0.5), density=0.8,
                        phrase_beats=(2.0, 4.0), rest_beats=(1.0, 2.0)),
        "tremolo": dict(grid=0.25, lens=(0.25,), probs=(1.0,), density=1.0, phrase_beats=(4.0, 8.0),
                        rest_beats=(2.0, 4.0)),
        "vocal": dict(grid=0.5, lens=(0.5, 1.0, 1.5, 2.0), probs=(0.4, 0.3, 0.15, 0.15), density=0.9,
                      phrase_beats=(6.0, 7.0), rest_beats=(1.0, 2.0)),
    }
    beats, durs = c.phrases(**rhythms[rhythm], start=float(c.rng.choice([0.0, 0.5, 1.0])))
    if rhythm == "tremolo":
        m = np.repeat(c.melody(beats[::4], lo, hi, scale, chord_pull=0.8), 4)[: len(beats)]
    else:
        m = c.melody(beats, lo, hi, scale)
    vels = np.clip(0.8 + c.rng.normal(0, 0.08, len(beats)), 0.3, 1.0)
    if name == "vocal":
        _sing(c, beats, durs, m, vels)
        return
    bus_name, fx = "lead", None
    if name in ("lead_guitar", "tremolo"):
        amount = max(2.0, c.p.distortion * (1.5 if name == "lead_guitar" else 1.0))
        bus_name = "leadgtr"
        fx = lambda x: filt(drive(x, amount), c.sr, 4500.0, "low")  # noqa: E731
    bus = c.bus(bus_name, "lead", send=0.6, fx=fx)
    c.play(bus, _instrument(name, c), beats, durs * 0.95, m, vels)


def _sing(c: _Ctx, beats: np.ndarray, durs: np.ndarray, midis: np.ndarray, vels: np.ndarray) -> None:
    """A sung line: each note a formant-shaped buzz on a vowel drawn from a, e, i, o, u."""
    bus = c.bus("vox", "lead", send=0.7)
    vowels = c.rng.choice(list("aeiou"), size=len(beats))
    sr = c.sr
    for v in sorted(set(vowels.tolist())):
        sel = vowels == v
        voice = osc_voice(sr, lambda f0, v=v: formant_amps(f0, sr, v, slope=1.0), a=0.04, d=0.2, s=0.85,
                          r=0.1, vib_hz=5.5, vib_cents=25.0, bend_st=0.5, bend_s=0.05)
        c.play(bus, voice, beats[sel], durs[sel] * 0.95, midis[sel], vels[sel])


def _rap(c: _Ctx) -> None:
    """Rhythmic speech: short formant syllables on the sixteenth grid with a falling pitch per phrase."""
    rng, sr = c.rng, c.sr
    beats, durs = c.phrases(grid=0.25, lens=(0.25, 0.5), probs=(0.55, 0.45), density=0.8,
                            phrase_beats=(4.0, 6.0, 8.0), rest_beats=(0.5, 1.0))
    base = float(rng.uniform(43, 50))  # MIDI ~ 98-147 Hz
    phase = (beats % 4.0) / 4.0
    midis = np.round(base + 2.0 - 3.0 * phase + rng.normal(0, 1.0, len(beats))).astype(int)
    vowels = rng.choice(list("aeiou"), size=len(beats))
    vels = np.clip(0.8 + 0.2 * (beats % 1 == 0) + rng.normal(0, 0.1, len(beats)), 0.3, 1.1)
    bus = c.bus("vox", "lead", send=0.15)
    for v in sorted(set(vowels.tolist())):
        sel = vowels == v
        voice = osc_voice(sr, lambda f0, v=v: formant_amps(f0, sr, v, slope=0.9), a=0.01, d=0.08, s=0.5,
                          r=0.04, bend_st=-1.0, bend_s=0.08)
        c.play(bus, voice, beats[sel], np.minimum(durs[sel], 0.5) * 0.6, midis[sel], vels[sel])
    # consonants: short noise bursts before some syllables
    cons = beats[rng.random(len(beats)) < 0.5]
    n = int(0.03 * sr)
    burst = filt(rng.standard_normal(n), sr, 3500.0, "high") * np.hanning(n).astype(np.float32)
    place(bus, burst * 0.15, c.samples(cons) - n // 2, np.full(len(cons), 1.0))


def _arrange(c: _Ctx) -> None:
    """Lay out every part of the clip's style into buses."""
    p, rng, sr = c.p, c.rng, c.sr
    g = p.genre
    kit = _kit(p.drum_kit, sr, rng)
    if kit:
        gains = {"hat": 0.2, "ohat": 0.2, "ride": 0.22, "crash": 0.3, "china": 0.4, "shaker": 0.12}
        if g == "jazz":
            gains |= {"kick": 0.35, "hat": 0.3, "ride": 0.15}
        if g in ("hiphop", "pop"):
            gains |= {"hat": 0.35, "shaker": 0.2}
        if g in ("country", "reggae") or p.drum_kit == "brushes":
            gains |= {"snare": 0.6, "swish": 0.35}
        c.drums(kit, p.groove, gains=gains)
        if g == "jazz" and p.drum_kit == "jazz":  # snare comping on swung off-beats
            b = np.arange(0.5, c.total_beats, 1.0)
            b = b[rng.random(len(b)) < 0.22]
            place(c.bus("drums"), kit["snare"], c.samples(b), rng.uniform(0.15, 0.4, len(b)))
    _bass(c)
    harm = c.bus("harm", "harm", send=0.6)
    gtr_fx = None
    if p.distortion > 0:
        amount = p.distortion
        cab = 5500.0 - 1500.0 * min(amount / 40.0, 1.0)

        def gtr_fx(x: np.ndarray) -> np.ndarray:
            return filt(drive(filt(x, sr, 120.0 if amount > 10 else 80.0, "high"), amount), sr, cab, "low", 2)

    for inst in p.harmony:
        v = _instrument(inst.removesuffix("_loop"), c)
        if inst in ("shuffle_guitar", "rock_guitar", "dist_guitars"):
            bus = c.bus("gtr", "harm", send=0.35, fx=gtr_fx)
        elif inst in ("acoustic_guitar", "funk_guitar", "skank_guitar", "clean_guitar", "guitar_comp"):
            crunch = None
            if p.distortion:
                crunch = lambda x: filt(drive(x, 1.0 + p.distortion), sr, 6000.0, "low")  # noqa: E731
            bus = c.bus("harm2", "harm", offset_db=-2.0 if len(p.harmony) > 1 else 0.0, send=0.5, fx=crunch)
        elif inst.endswith("_loop"):
            cutoff = float(rng.uniform(1800, 4500))
            bus = c.bus("loop", "harm", send=0.2, fx=lambda x, fc=cutoff: filt(filt(x, sr, fc, "low", 2),
                                                                              sr, 150.0, "high", 1))
        else:
            bus = harm
        _harmony_part(c, inst, v, bus, rng)
    # lead
    lead = p.lead
    if lead == "rap":
        _rap(c)
    elif lead != "none":
        scale = {"blues": "blues", "country": "major_pentatonic", "metal": "minor" if p.mode == "minor" else
                 "phrygian", "reggae": "minor_pentatonic" if p.mode == "minor" else "major_pentatonic",
                 "hiphop": "minor_pentatonic"}.get(g, p.mode)
        rhythm = {"blues": "licks", "classical": "sustained", "jazz": "bebop", "metal": "tremolo",
                  "rock": "licks", "disco": "sustained",
                  "country": "chicken" if lead == "twang_guitar" else "licks"}.get(g, "vocal")
        if lead == "vocal":
            rhythm = "vocal"
        lo, hi = {"vocal": (57, 74), "tremolo": (64, 79), "violin": (67, 88), "flute": (72, 91),
                  "harmonica": (60, 84), "strings_line": (72, 88), "piano_rh": (67, 86), "sax": (55, 77),
                  "trumpet": (60, 82), "vibes_lead": (65, 86), "melodica": (64, 81)}.get(lead, (60, 81))
        lead = {"vibes_lead": "vibes", "horns": "brass", "piano_rh": "piano"}.get(lead, lead)
        _lead(c, lead, lo=lo, hi=hi, scale=scale, rhythm=rhythm)


def _harmony_part(c: _Ctx, inst: str, v: Voice, bus: np.ndarray, rng: np.random.Generator) -> None:
    """Play one harmony instrument in its genre's role (comping pattern, voicing, register)."""
    g = c.p.genre
    if inst == "shuffle_guitar":
        # swung-eighth dyads: root+5th, root+6th, root+b7th, root+6th
        beats = np.arange(0, c.total_beats, 0.5)
        i = c.slot_index(beats)
        upper = np.array([7, 7, 9, 9, 10, 10, 9, 9])[((beats % 4) * 2).astype(int) % 8]
        roots = np.array([40 + (c.slots[k].root - 40) % 12 for k in i])
        bb = np.concatenate([beats, beats])
        mm = np.concatenate([roots, roots + upper])
        c.play(bus, v, bb, np.full(len(bb), 0.45), mm, np.full(len(bb), 0.7))
    elif inst in ("rock_guitar", "dist_guitars"):
        if g == "metal":
            kick = GROOVES[c.p.groove]["kick"]
            chug = "".join("x" if ch != "." else "." for ch in kick)
            beats, vels = pattern_beats(chug, c.total_beats)
            acc = beats % 1 == 0
            durs = np.where(acc, 0.9, 0.2)
            i = c.slot_index(beats)
            nb, nd, nm, nv = [], [], [], []
            for b, d, a, k in zip(beats.tolist(), durs.tolist(), acc.tolist(), i.tolist(), strict=True):
                for m in guitar_voicing(c.slots[k].root, "5", low=35 if a else 33)[: 3 if a else 2]:
                    nb.append(b)
                    nd.append(d)
                    nm.append(m)
                    nv.append(1.0 if a else 0.4)
            c.play(bus, v, np.array(nb), np.array(nd), np.array(nm), np.array(nv))
        else:
            pat = str(rng.choice(["x.x.x.x.x.x.x.x.", "x.......x.......", "X.x.X.x.X.x.X.x."]))
            c.comp(bus, v, pat, dur=0.45 if pat.count("x") > 4 else 1.9, center=0, guitar=True,
                   strum_s=0.006, low=40)
    elif inst == "piano":
        if g == "jazz":
            c.comp(bus, v, ["x.....x.........", "......x.....x...", "..x.......x.....", "x.........x.....",
                            "....x.x........."], dur=0.9, center=62, rootless=True, strum_s=0.004)
        elif g == "blues":
            c.comp(bus, v, "..x...x...x...x.", dur=0.4, center=62, strum_s=0.003)
        elif g == "classical":
            if c.p.bass != "piano_lh":  # otherwise the left hand already carries the harmony
                c.comp(bus, v, None, dur=1.0, center=64, strum_s=0.02)
        elif g == "country":
            c.comp(bus, v, "....x.......x...", dur=0.6, center=64)
        else:  # pop
            c.comp(bus, v, "x...x...x...x...", dur=0.9, center=64)
    elif inst == "epiano":
        if g == "jazz":
            c.comp(bus, v, ["x.....x.........", "......x.....x...", "..x.......x.....", "x.........x....."],
                   dur=1.2, center=62, rootless=True, strum_s=0.003)
        else:
            c.comp(bus, v, ["x.....x...x.....", "..x...x.....x..."], dur=0.6, center=64)
    elif inst == "vibes":
        c.comp(bus, v, ["x.....x.........", "......x.....x...", "x.........x....."], dur=1.0, center=67,
               rootless=True)
    elif inst == "guitar_comp":
        c.comp(bus, v, "x...x...x...x...", dur=0.7, center=58, rootless=True, strum_s=0.008)  # Freddie Green
    elif inst == "organ":
        if g == "reggae":
            c.comp(bus, v, "..xx..xx..xx..xx", dur=0.2, center=60)
        else:
            c.comp(bus, v, None, dur=0.98, center=62)
    elif inst == "organ_bubble":
        c.comp(bus, v, "..xo..xo..xo..xo", dur=0.2, center=60)
    elif inst in ("strings", "horns"):
        if g == "disco" and rng.random() < 0.5:
            c.comp(bus, v, "x.x.....x.x.....", dur=0.4, center=72)
        else:
            c.comp(bus, v, None, dur=1.0, center=55 if inst == "horns" else 67)
    elif inst == "harp":
        beats = np.arange(0, c.total_beats, 0.25)
        i = c.slot_index(beats)
        pos = ((beats - np.array([c.slots[k].start for k in i])) * 4).round().astype(int)
        m = np.array([c.slots[k].root + 24 + (CHORDS[c.slots[k].quality][q % 3] + 12 * ((q // 3) % 2))
                      for k, q in zip(i.tolist(), pos.tolist(), strict=True)])
        c.play(bus, v, beats, np.full(len(beats), 0.5), m, np.full(len(beats), 0.5))
    elif inst == "pad":
        c.comp(bus, v, None, dur=1.0, center=60)
    elif inst in ("synth_chords", "pluck_chords"):
        c.comp(bus, v, "x.x.x.x.x.x.x.x." if rng.random() < 0.7 else "x.xx.xx.x.xx.xx.", dur=0.4, center=66)
    elif inst == "brass":
        c.comp(bus, v, ["......x.......x.", "..........x.x...", "x.........x....."], dur=0.35, center=67)
    elif inst == "acoustic_guitar":
        pat = str(rng.choice(["o...x...o...x...", "x...x.x...x.x.x.", "x.x.x.xxx.x.x.xx"]))
        c.comp(bus, v, pat, dur=0.45, center=0, guitar=True, strum_s=0.012)
    elif inst == "steel_pad":
        c.comp(bus, v, None, dur=0.95, center=67)
    elif inst == "funk_guitar":
        c.comp(bus, v, ["x.gxg.xgx.gxg.xg", "gxg.xgx.gxg.xgx."], dur=0.12, center=67, strum_s=0.003)
    elif inst == "skank_guitar":
        pat = "..x...x...x...x." if rng.random() < 0.75 else "..xx..xx..xx..xx"
        c.comp(bus, v, pat, dur=0.2, center=67, strum_s=0.004)
    elif inst == "skank_piano":
        c.comp(bus, v, "..x...x...x...x.", dur=0.25, center=64)
    elif inst == "clean_guitar":
        beats = np.arange(0, c.total_beats, 0.5)
        i = c.slot_index(beats)
        q = (beats * 2).astype(int)
        order = [0, 2, 3, 4, 3, 2]
        m = np.empty(len(beats), dtype=np.int64)
        for n_, (k, j) in enumerate(zip(i.tolist(), q.tolist(), strict=True)):
            sl = c.slots[k]
            m[n_] = guitar_voicing(sl.root, "maj" if sl.quality == "5" else sl.quality, low=45)[order[j % 6]]
        c.play(bus, v, beats, np.full(len(beats), 0.9), m, np.full(len(beats), 0.6))
    elif inst in ("epiano_loop", "piano_loop", "strings_loop"):
        if inst == "strings_loop":
            c.comp(bus, v, None, dur=1.0, center=64)
        else:
            c.comp(bus, v, ["x.......x.......", "x.....x.........", "x.........x....."], dur=1.5, center=62,
                   rootless=True)
        if c.rng.random() < 0.7:  # vinyl crackle rides with the sample
            n = c.n
            cr = (c.rng.random(n) < 0.0008).astype(np.float32) * c.rng.uniform(-1, 1, n).astype(np.float32)
            bus += filt(cr, c.sr, 2000.0, "high", 1) * 0.3
    else:  # pragma: no cover - guarded by the drawers
        raise ConfigError(f"unknown harmony instrument {inst!r}")


def _mix(c: _Ctx) -> np.ndarray:
    """Mix the buses (levels, effects, reverb send) and master them (tilt, lo-fi, compression, noise)."""
    p, sr, rng = c.p, c.sr, c.rng
    out = np.zeros(c.n, dtype=np.float32)
    send = np.zeros(c.n, dtype=np.float32)
    for name, x in c.buses.items():
        group, offset_db, send_amt, fx = c.meta[name]
        if fx is not None:
            x = fx(x)
        rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))
        if rms == 0.0:
            continue
        y = x * (10.0 ** ((p.level_db(group) + offset_db) / 20.0) / rms)
        out += y
        if send_amt:
            send += send_amt * y
    if p.reverb > 0:
        out += p.reverb * reverb(send, sr, p.reverb_s, rng, damp_hz=3000.0 + 3000.0 * p.tone)
    if p.brightness:
        out += p.brightness * filt(out, sr, 2000.0, "high", 1)
    if p.lofi_hz:
        out = filt(filt(out, sr, p.lofi_hz, "low", 4), sr, 120.0, "high", 1)
    if p.dynamics_db:
        out *= slow_gain(c.n, sr, p.dynamics_db, rng, period_s=3.0 if p.dynamics_db > 6 else 5.0)
    pk = float(np.max(np.abs(out))) or 1.0
    if p.compression > 1.0:
        out = drive(out / pk, p.compression)
    rms = float(np.sqrt(np.mean(out.astype(np.float64) ** 2))) or 1.0
    loop = min(c.n, 2 * sr)  # a 2 s loop of noise, tiled: indistinguishable from fresh noise, cheaper
    hiss = rng.standard_normal(loop).astype(np.float32)
    hiss = 0.3 * hiss + filt(hiss, sr, 1000.0, "low", 1)  # tilted towards the lows, like tape/room noise
    hiss *= rms * 10.0 ** (p.noise_db / 20.0) / float(np.sqrt(np.mean(hiss**2)))
    return out + np.resize(hiss, c.n)


# --------------------------------------------------------------------------------------------- public API


def _check_render_args(duration_s: float, sr: int, seed: int) -> int:
    if not (isinstance(sr, (int, np.integer)) and _MIN_SR <= sr <= _MAX_SR):
        raise ConfigError(f"sr must be an integer in [{_MIN_SR}, {_MAX_SR}] Hz, got {sr!r}")
    if not (math.isfinite(duration_s) and 0.0 < duration_s <= _MAX_DURATION_S):
        raise ConfigError(f"duration_s must be in (0, {_MAX_DURATION_S}] seconds, got {duration_s!r}")
    n = int(round(duration_s * sr))
    if n < 1:
        raise ConfigError(f"duration_s={duration_s} at sr={sr} gives no samples")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    return n


def render(genre: str, *, duration_s: float = 10.0, sr: int = SAMPLE_RATE, seed: int = 0,
           params: StyleParams | None = None) -> np.ndarray:
    """Render a clip of ``genre``.

    Parameters
    ----------
    genre : str
        One of :data:`GENRES`.
    duration_s : float
        Length in seconds; the result has exactly ``round(duration_s * sr)`` samples.
    sr : int
        Sample rate in Hz.
    seed : int
        Non-negative seed. The parameters are ``draw_params(genre, np.random.default_rng(seed))``; the
        rendering (noise, humanising) uses an independent generator derived from the same seed.
    params : StyleParams, optional
        Render these parameters instead of drawing them (e.g. a band's clip from :func:`corpus_params`).

    Returns
    -------
    numpy.ndarray
        float32, shape ``(round(duration_s * sr),)``, finite, peak at -1 dBFS.

    Raises
    ------
    ConfigError
        For an unknown genre (the message lists the valid ones), params of another genre, or a
        duration, sample rate or seed out of range.
    """
    _check_genre(genre)
    n = _check_render_args(duration_s, sr, seed)
    if params is None:
        params = draw_params(genre, np.random.default_rng(seed))
    elif params.genre != genre:
        raise ConfigError(f"params are for genre {params.genre!r}, not {genre!r}")
    rng = np.random.default_rng([int(seed), 0x5EED])
    c = _Ctx(params, int(sr), n, rng)
    _arrange(c)
    y = _mix(c)[c.pre_n : c.pre_n + n]
    pk = float(np.max(np.abs(y)))
    y = y * (_PEAK / pk) if pk > 0 else y
    return np.nan_to_num(y, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)


def clip_seed(seed: int, genre: str, index: int) -> int:
    """Seed of clip ``index`` of ``genre`` in a corpus built with ``seed`` (stable across genre lists)."""
    ss = np.random.SeedSequence([int(seed), zlib.crc32(genre.encode()), int(index)])
    return int(ss.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


def _band_name(genre: str, k: int) -> str:
    return f"{genre}-band-{k}"


def corpus_params(genre: str, index: int, *, seed: int = 0) -> StyleParams:
    """The parameters :func:`write_corpus` renders clip ``index`` of ``genre`` with (band included)."""
    _check_genre(genre)
    k = index % N_BANDS
    band_rng = np.random.default_rng([int(seed), zlib.crc32(genre.encode()), 0xBA2D, k])
    band = draw_band(genre, band_rng, _band_name(genre, k))
    return draw_params(genre, np.random.default_rng(clip_seed(seed, genre, index)), band=band)


def _write_one(path: str, genre: str, index: int, seed: int, duration_s: float, sr: int) -> str:
    import soundfile as sf

    p = corpus_params(genre, index, seed=seed)
    y = render(genre, duration_s=duration_s, sr=sr, seed=clip_seed(seed, genre, index), params=p)
    sf.write(path, y, sr, subtype="PCM_16")
    return path


def write_corpus(out_dir: str | Path, *, per_genre: int = 10, duration_s: float = 10.0, seed: int = 0,
                 sr: int = SAMPLE_RATE, genres: Sequence[str] | None = None, workers: int = 1) -> list[Path]:
    """Write a synthetic corpus in the GTZAN layout and a ``manifest.csv``.

    Files are ``out_dir/<genre>/<genre>.00000.wav`` (16-bit PCM). ``manifest.csv`` has columns
    ``path`` (relative to ``out_dir``, forward slashes), ``label``, ``artist`` (``<genre>-band-<k>``, the
    synthetic band, ``k = index % N_BANDS``) and ``track_id`` (``<genre>.00000``).

    Parameters
    ----------
    out_dir : str or Path
        Created if missing; existing files of the same names are overwritten.
    per_genre : int
        Clips per genre (>= 1).
    duration_s, sr : float, int
        Clip length and sample rate.
    seed : int
        Corpus seed; clip ``i`` of genre ``g`` uses ``clip_seed(seed, g, i)``, so adding genres or clips
        leaves existing clips unchanged.
    genres : sequence of str, optional
        Subset of :data:`GENRES` (default all), in any order; duplicates are ignored.
    workers : int
        Parallel processes via joblib when not 1 (joblib's convention: -1 = all cores); the files do not
        depend on it.

    Returns
    -------
    list of Path
        The written wav files, sorted.

    Raises
    ------
    ConfigError
        For an unknown genre or a bad ``per_genre``/``workers``/duration/sample rate/seed.
    """
    if isinstance(genres, str):
        genres = [genres]
    gs = list(dict.fromkeys(GENRES if genres is None else genres))
    if not gs:
        raise ConfigError("genres must name at least one genre")
    for g in gs:
        _check_genre(g)
    if not isinstance(per_genre, (int, np.integer)) or per_genre < 1:
        raise ConfigError(f"per_genre must be an integer >= 1, got {per_genre!r}")
    if not isinstance(workers, (int, np.integer)) or isinstance(workers, bool) or workers == 0:
        raise ConfigError(f"workers must be a non-zero integer (1 = serial, -1 = all cores), got {workers!r}")
    _check_render_args(duration_s, sr, seed)
    root = Path(out_dir)
    jobs = []
    rows = []
    for g in gs:
        (root / g).mkdir(parents=True, exist_ok=True)
        for i in range(per_genre):
            track = f"{g}.{i:05d}"
            jobs.append((str(root / g / f"{track}.wav"), g, i))
            rows.append({"path": f"{g}/{track}.wav", "label": g, "artist": _band_name(g, i % N_BANDS),
                         "track_id": track})
    if workers != 1:
        from joblib import Parallel, delayed

        Parallel(n_jobs=workers)(delayed(_write_one)(pth, g, i, seed, duration_s, sr) for pth, g, i in jobs)
    else:
        for pth, g, i in jobs:
            _write_one(pth, g, i, seed, duration_s, sr)
    rows.sort(key=lambda r: r["path"])
    with open(root / "manifest.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=["path", "label", "artist", "track_id"])
        w.writeheader()
        w.writerows(rows)
    return sorted(Path(pth) for pth, _, _ in jobs)
