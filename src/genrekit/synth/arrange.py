"""The arrangement: chord slots on the beat grid, drums, bass, comping, lead and voice parts, and the mix."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from genrekit.errors import ConfigError
from genrekit.synth.drums import (
    _CRASH_GROOVES,
    GROOVES,
    _kit,
    pattern_beats,
    place,
    swing_warp,
)
from genrekit.synth.styles import StyleParams
from genrekit.synth.theory import (
    CHORDS,
    ROOTLESS,
    Voice,
    close_voicing,
    guitar_voicing,
    midi_to_hz,
    scale_notes,
)
from genrekit.synth.voices import (
    _Timbre,
    decay_voice,
    drive,
    filt,
    formant_amps,
    harmonic_amps,
    osc_voice,
    pluck_voice,
    reverb,
    slow_gain,
    sub_voice,
)


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


def _shuffle_dyads(c: _Ctx, v: Voice, bus: np.ndarray) -> None:
    """Swung-eighth dyads of the blues shuffle: root+5th, root+6th, root+b7th, root+6th."""
    beats = np.arange(0, c.total_beats, 0.5)
    i = c.slot_index(beats)
    upper = np.array([7, 7, 9, 9, 10, 10, 9, 9])[((beats % 4) * 2).astype(int) % 8]
    roots = np.array([40 + (c.slots[k].root - 40) % 12 for k in i])
    bb = np.concatenate([beats, beats])
    mm = np.concatenate([roots, roots + upper])
    c.play(bus, v, bb, np.full(len(bb), 0.45), mm, np.full(len(bb), 0.7))


def _metal_chugs(c: _Ctx, v: Voice, bus: np.ndarray) -> None:
    """Palm-muted power chords on the kick pattern: accents ring, the rest are short chugs."""
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


def _harp_arpeggio(c: _Ctx, v: Voice, bus: np.ndarray) -> None:
    """Sixteenth-note arpeggios two octaves above each chord root."""
    beats = np.arange(0, c.total_beats, 0.25)
    i = c.slot_index(beats)
    pos = ((beats - np.array([c.slots[k].start for k in i])) * 4).round().astype(int)
    m = np.array([c.slots[k].root + 24 + (CHORDS[c.slots[k].quality][q % 3] + 12 * ((q // 3) % 2))
                  for k, q in zip(i.tolist(), pos.tolist(), strict=True)])
    c.play(bus, v, beats, np.full(len(beats), 0.5), m, np.full(len(beats), 0.5))


def _clean_arpeggio(c: _Ctx, v: Voice, bus: np.ndarray) -> None:
    """Eighth-note arpeggios of the chord's guitar voicing."""
    beats = np.arange(0, c.total_beats, 0.5)
    i = c.slot_index(beats)
    q = (beats * 2).astype(int)
    order = [0, 2, 3, 4, 3, 2]
    m = np.empty(len(beats), dtype=np.int64)
    for n_, (k, j) in enumerate(zip(i.tolist(), q.tolist(), strict=True)):
        sl = c.slots[k]
        m[n_] = guitar_voicing(sl.root, "maj" if sl.quality == "5" else sl.quality, low=45)[order[j % 6]]
    c.play(bus, v, beats, np.full(len(beats), 0.9), m, np.full(len(beats), 0.6))


def _sampled_loop(c: _Ctx, inst: str, v: Voice, bus: np.ndarray) -> None:
    """A hip-hop sample loop (chords or strings), with vinyl crackle most of the time."""
    if inst == "strings_loop":
        c.comp(bus, v, None, dur=1.0, center=64)
    else:
        c.comp(bus, v, ["x.......x.......", "x.....x.........", "x.........x....."], dur=1.5, center=62,
               rootless=True)
    if c.rng.random() < 0.7:  # vinyl crackle rides with the sample
        n = c.n
        cr = (c.rng.random(n) < 0.0008).astype(np.float32) * c.rng.uniform(-1, 1, n).astype(np.float32)
        bus += filt(cr, c.sr, 2000.0, "high", 1) * 0.3


def _harmony_part(c: _Ctx, inst: str, v: Voice, bus: np.ndarray, rng: np.random.Generator) -> None:
    """Play one harmony instrument in its genre's role (comping pattern, voicing, register)."""
    g = c.p.genre
    if inst == "shuffle_guitar":
        _shuffle_dyads(c, v, bus)
    elif inst in ("rock_guitar", "dist_guitars"):
        if g == "metal":
            _metal_chugs(c, v, bus)
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
        _harp_arpeggio(c, v, bus)
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
        _clean_arpeggio(c, v, bus)
    elif inst in ("epiano_loop", "piano_loop", "strings_loop"):
        _sampled_loop(c, inst, v, bus)
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
