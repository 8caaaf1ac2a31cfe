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

Layout
------
``theory`` (notes, scales, chords, progressions) <- ``voices`` (sound sources, effects) <- ``styles``
(per-genre parameter tables) and ``drums`` (kits, grooves, swing) <- ``arrange`` (parts and mix) <-
``render`` (clips and the corpus). This module re-exports the public names.
"""

from __future__ import annotations

from genrekit.synth import arrange, drums, styles, theory, voices
from genrekit.synth.render import chord_loop, clip_seed, corpus_params, render, write_corpus
from genrekit.synth.styles import GENRES, N_BANDS, TEMPO_RANGES, StyleParams, draw_band, draw_params

__all__ = [
    "GENRES",
    "N_BANDS",
    "TEMPO_RANGES",
    "StyleParams",
    "arrange",
    "chord_loop",
    "clip_seed",
    "corpus_params",
    "draw_band",
    "draw_params",
    "drums",
    "render",
    "styles",
    "theory",
    "voices",
    "write_corpus",
]
