"""Style parameters: what each genre-like style draws (tempo, key, kit, instruments, mix), by seed and band.

The per-genre ``_draw_*`` functions are the style tables of the synthesizer: each spells out its
genre's ranges in one place. A style draws its own fields (key, tempo, groove, instruments: the logic
differs by genre) and ends with :func:`_mix_fields`, which draws the fields every style shares (timbre,
recording, dynamics, bus levels) from the ranges it is given. The order of the draws is part of every
seed's known answer: adding or moving a draw changes every clip after it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from genrekit.config import GTZAN_GENRES
from genrekit.errors import ConfigError, unknown_name
from genrekit.synth.theory import NOTE_NAMES, PROGRESSIONS, Progression

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


#: A range ``(lo, hi)`` to draw uniformly from, or a constant (no draw).
_Range = tuple[float, float] | float


def _mix_fields(d: _Draw, *, tone: _Range, distortion: _Range, brightness: _Range,
                lofi_hz: tuple[float, float, float] | float, noise_db: _Range, reverb: _Range,
                reverb_s: _Range, compression: _Range, humanize_ms: _Range, dynamics_db: _Range,
                drums: _Range, bass: _Range, harm: _Range, lead: _Range) -> dict[str, Any]:
    """Draw the timbre, recording, dynamics and bus-level fields every style ends with.

    Each argument is a ``(lo, hi)`` range or a constant, which draws nothing (classical has no
    distortion, no compression and no drums). ``lofi_hz`` is ``(prob, lo, hi)``: band-limited with
    probability ``prob``. The band-shared fields (tone ... compression, see ``_BAND_FIELDS``) draw with
    :meth:`_Draw.uniform`, the per-clip ones (noise floor, humanising, dynamics, levels) with
    :meth:`_Draw.level`. The draws happen in the order of the parameters, after the style's own
    fields: that order is part of every seed's known answer, so never reorder them.
    """

    def shared(name: str, r: _Range) -> float:
        return float(r) if isinstance(r, (int, float)) else d.uniform(name, *r)

    def level(r: _Range) -> float:
        return float(r) if isinstance(r, (int, float)) else d.level(*r)

    return {
        "tone": shared("tone", tone),
        "distortion": shared("distortion", distortion),
        "brightness": shared("brightness", brightness),
        "lofi_hz": float(lofi_hz) if isinstance(lofi_hz, (int, float)) else d.maybe("lofi_hz", *lofi_hz),
        "noise_db": level(noise_db),
        "reverb": shared("reverb", reverb),
        "reverb_s": shared("reverb_s", reverb_s),
        "compression": shared("compression", compression),
        "humanize_ms": level(humanize_ms),
        "dynamics_db": level(dynamics_db),
        "levels_db": (("drums", level(drums)), ("bass", level(bass)), ("harm", level(harm)),
                      ("lead", level(lead))),
    }


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
    } | _mix_fields(d, tone=(0.3, 0.7), distortion=(0.8, 3.5), brightness=(-0.6, 0.2),
                    lofi_hz=(0.5, 3500, 7500), noise_db=(-60, -30), reverb=(0.1, 0.3), reverb_s=(0.8, 1.6),
                    compression=(1.0, 2.0), humanize_ms=(5, 9), dynamics_db=(2, 4),
                    drums=(-6, -2), bass=(-4, 0), harm=(-3, 1), lead=(-4, 0))


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
    } | _mix_fields(d, tone=(0.15, 0.55), distortion=0.0, brightness=(-0.5, 0.0),
                    lofi_hz=(0.3, 3000, 7000), noise_db=(-65, -38), reverb=(0.35, 0.6), reverb_s=(1.6, 2.8),
                    compression=1.0, humanize_ms=(8, 18), dynamics_db=(8, 18),
                    drums=0.0, bass=(-6, -1), harm=(-2, 1), lead=(-4, 0))


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
    } | _mix_fields(d, tone=(0.5, 0.9), distortion=(0.0, 0.4), brightness=(-0.3, 0.35),
                    lofi_hz=(0.15, 4000, 8000), noise_db=(-65, -38), reverb=(0.1, 0.3), reverb_s=(0.8, 1.6),
                    compression=(1.0, 2.2), humanize_ms=(3, 7), dynamics_db=(2, 4),
                    drums=(-7, -3), bass=(-4, 0), harm=(-2, 2), lead=(-4, 0))


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
    } | _mix_fields(d, tone=(0.5, 0.9), distortion=0.0, brightness=(0.0, 0.6),
                    lofi_hz=(0.15, 5000, 9000), noise_db=(-65, -40), reverb=(0.15, 0.35), reverb_s=(0.8, 1.5),
                    compression=(1.5, 3.0), humanize_ms=(1, 3), dynamics_db=(1, 3),
                    drums=(-1, 3), bass=(-3, 1), harm=(-4, 0), lead=(-5, -1))


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
    } | _mix_fields(d, tone=(0.2, 0.6), distortion=(0.0, 2.0), brightness=(-0.2, 0.5),
                    lofi_hz=(0.3, 5000, 9000), noise_db=(-50, -30), reverb=(0.05, 0.2), reverb_s=(0.6, 1.2),
                    compression=(2.0, 4.0), humanize_ms=(1, 6), dynamics_db=(1, 2),
                    drums=(0, 4), bass=(-2, 2), harm=(-6, -2), lead=(-3, 1))


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
    } | _mix_fields(d, tone=(0.2, 0.6), distortion=0.0, brightness=(-0.6, 0.1),
                    lofi_hz=(0.35, 3500, 8000), noise_db=(-60, -32), reverb=(0.15, 0.35), reverb_s=(0.8, 1.8),
                    compression=(1.0, 1.3), humanize_ms=(5, 10), dynamics_db=(3, 6),
                    drums=(-8, -4), bass=(-3, 1), harm=(-3, 1), lead=(-3, 1))


def _draw_metal(d: _Draw) -> dict[str, Any]:
    f = _key_fields(d, "metal", ("minor", "phrygian"), tonics=(4, 2, 1, 0, 11))
    return f | {
        "tempo_bpm": d.uniform("tempo_bpm", *TEMPO_RANGES["metal"]),
        "form_offset": int(d.rng.integers(len(f["progression"]))), "swing": 0.5, "swing_unit": 16,
        "drum_kit": "metal", "groove": str(d.rng.choice(["double_kick", "gallop", "thrash"])),
        "fill_every": int(d.rng.choice([4, 8])), "bass": "chug", "harmony": ("dist_guitars",),
        "lead": d.choice("lead", ("none", "tremolo", "none")),
    } | _mix_fields(d, tone=(0.5, 0.9), distortion=(12.0, 40.0), brightness=(-0.1, 0.4),
                    lofi_hz=(0.1, 5000, 9000), noise_db=(-70, -45), reverb=(0.08, 0.25), reverb_s=(0.8, 1.6),
                    compression=(2.5, 5.0), humanize_ms=(0.5, 3), dynamics_db=(1, 2),
                    drums=(-2, 2), bass=(-6, -2), harm=(-1, 3), lead=(-5, -1))


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
    } | _mix_fields(d, tone=(0.6, 1.0), distortion=0.0, brightness=(0.4, 1.0),
                    lofi_hz=0.0, noise_db=(-75, -50), reverb=(0.15, 0.35), reverb_s=(1.0, 2.0),
                    compression=(2.5, 5.0), humanize_ms=(0, 2), dynamics_db=(1, 2),
                    drums=(-2, 2), bass=(-4, 0), harm=(-3, 1), lead=(-1, 3))


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
    } | _mix_fields(d, tone=(0.4, 0.8), distortion=0.0, brightness=(-0.6, 0.1),
                    lofi_hz=(0.25, 4000, 8000), noise_db=(-62, -38), reverb=(0.15, 0.35), reverb_s=(0.8, 1.8),
                    compression=(1.3, 2.5), humanize_ms=(3, 6), dynamics_db=(1, 3),
                    drums=(-3, 1), bass=(0, 4), harm=(-4, 0), lead=(-5, -1))


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
    } | _mix_fields(d, tone=(0.4, 0.8), distortion=(2.5, 7.0), brightness=(-0.2, 0.4),
                    lofi_hz=(0.15, 4500, 8500), noise_db=(-70, -42), reverb=(0.1, 0.3), reverb_s=(0.8, 1.8),
                    compression=(1.5, 3.5), humanize_ms=(3, 6), dynamics_db=(1, 3),
                    drums=(-2, 2), bass=(-4, 0), harm=(-1, 3), lead=(-4, 0))


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
