"""The one path from audio to a :class:`Prediction`, shared by the API, CLI, service and batch runs."""

from __future__ import annotations

import dataclasses
import functools
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from genrekit.audio import (
    Source,
    center_crop,
    check_crop,
    header_duration,
    load_crop,
    load_windows,
    resample,
    rewind,
    source_name,
)
from genrekit.bundle import Bundle, load_bundle
from genrekit.config import FFMPEG_EXTENSIONS, MAX_DURATION_S, genrekit_version
from genrekit.errors import AudioError, ConfigError, GenreKitError, ModelError
from genrekit.explain import Explanation, explain_track, segment_contributions
from genrekit.features.base import Extractor, check_finite_features
from genrekit.features.registry import extractor_from_dict, get_extractor
from genrekit.files import to_jsonable
from genrekit.models.aggregate import AGGREGATIONS, aggregate_track
from genrekit.models.calibrated import UNSURE, TemperatureScaled, check_min_confidence, decide
from genrekit.models.tagger import taxonomy_model

# the result types and the signal checks live in their own modules; imported from here as before
from genrekit.prediction import Prediction, SegmentPrediction
from genrekit.signal_checks import MIN_RMS_DBFS, NOISE_FLATNESS, check_signal, spectral_flatness

__all__ = [
    "MAX_SEGMENTS",
    "MIN_RMS_DBFS",
    "NOISE_FLATNESS",
    "Classifier",
    "Prediction",
    "SampledAudio",
    "SegmentPrediction",
    "check_signal",
    "classifier_from_bundle",
    "extract_each",
    "load_model",
    "select_segments",
    "spectral_flatness",
]


def _sorted_probs(classes: list[str], p: np.ndarray) -> dict[str, float]:
    order = np.argsort(-p, kind="stable")
    return {classes[i]: round(float(p[i]), 6) for i in order}


#: Segments a track is analysed at by default (``full=False``): 12 musicnn patches (36 s of a longer song;
#: a 30 s clip has 10). Measured on 48 four-minute tracks of real music (docs/benchmarks.md): the answer
#: equals the full analysis's on 97.9 % of them (95.8 % with 10), at 1.20x the cost of a 30 s clip.
MAX_SEGMENTS = 12


def select_segments(n: int, k: int | None) -> np.ndarray:
    """Indices of at most ``k`` of ``n`` segments spread evenly over the whole track.

    The track is cut into ``k`` equal strata and the segment at the centre of each is taken, so the
    choice reaches from near the start to near the end (not just the middle) and is deterministic.
    All ``n`` when ``k`` is None or ``n <= k``.

    Returns
    -------
    np.ndarray, int64, shape (min(n, k),)
        Increasing indices.
    """
    if k is None or n <= k:
        return np.arange(n, dtype=np.int64)
    return np.floor((np.arange(k) + 0.5) * n / k).astype(np.int64)


def extract_each(
    extractor: Extractor, signals: list[np.ndarray], keeps: list[np.ndarray | None] | None = None
) -> list[np.ndarray | Exception]:
    """Finite features of each signal (at the extractor's rate), or the error that signal raised.

    Several signals share one ``extract_many`` call (musicnn runs one forward pass over all their
    patches); when it fails, each signal is done alone, so one bad signal stays alone. ``keeps[i]``:
    the rows wanted of signal ``i`` (None: all), computed alone when the extractor can
    (``extract_selected``). Non-finite features and librosa's refusal of degenerate audio are AudioError.

    Returns
    -------
    list of (np.ndarray, float32, shape (n_segments_i, dim)) or Exception
    """
    keeps = list(keeps) if keeps is not None else [None] * len(signals)
    if not signals:
        return []
    try:
        if all(k is None for k in keeps):
            many = extractor.extract_many(signals, extractor.sr)
        else:
            many = extractor.extract_many(signals, extractor.sr, indices=keeps)
        if len(many) == len(signals):
            return [_try(check_finite_features, f) for f in many]
    except Exception:  # noqa: BLE001 - each signal alone below (which says what failed)
        pass
    return [_try(_extract_one, extractor, y, k) for y, k in zip(signals, keeps, strict=True)]


def _is_librosa_refusal(exc: BaseException) -> bool:
    """Whether ``exc`` is librosa's ``ParameterError`` (its refusal of degenerate audio).

    Looked up among the loaded modules, so prediction never imports librosa to name it: an extractor that
    raised it has loaded librosa already.
    """
    mod = sys.modules.get("librosa.util.exceptions")
    return mod is not None and isinstance(exc, mod.ParameterError)


def _extract_one(extractor: Extractor, y: np.ndarray, keep: np.ndarray | None) -> np.ndarray:
    try:
        if keep is None:
            feats = extractor(y, extractor.sr)
        elif hasattr(extractor, "extract_selected"):
            feats = extractor.extract_selected(y, extractor.sr, keep)
        else:
            feats = extractor(y, extractor.sr)[keep]
    except Exception as exc:
        if not _is_librosa_refusal(exc):
            raise
        raise AudioError(f"cannot compute features ({exc})") from None
    return check_finite_features(feats)


@dataclasses.dataclass(frozen=True, eq=False)
class SampledAudio:
    """The decoded windows of a long file's sampled segments, at the classifier's rate.

    :meth:`Classifier.decode` gives it for a long file; :meth:`Classifier.predict_batch` classifies it
    in place of the whole signal. ``len()`` is the number of samples decoded (what a batch's memory
    bound counts).

    Attributes
    ----------
    pieces : list of np.ndarray, float32, shape (end_i - start_i,)
        The samples of each window.
    spans : np.ndarray, int64, shape (k, 2)
        ``[start, end)`` of each window in the whole decode (the extractor's ``window_spans``).
    n_samples : int
        Length of the whole decode at the classifier's rate.
    keep : np.ndarray, int64, shape (k,)
        The sampled segments (:func:`select_segments`).
    duration_s : float
        The file's length from its header.
    noise : str or None
        :func:`check_signal`'s answer on the windows laid end to end (they passed its checks).
    """

    pieces: list[np.ndarray]
    spans: np.ndarray
    n_samples: int
    keep: np.ndarray
    duration_s: float
    noise: str | None

    def __len__(self) -> int:
        return sum(len(p) for p in self.pieces)


class Classifier:
    """A feature extractor, a trained model and an aggregation: audio in, :class:`Prediction` out.

    Parameters
    ----------
    extractor : Extractor
        Turns ``(y, sr)`` into ``(n_segments, dim)`` features.
    model : estimator
        ``predict_proba`` and ``classes_`` (scikit-learn contract).
    aggregation : {"mean_log", "mean_prob", "vote"}
    name : str
        Model identifier reported in predictions.
    bundle : Bundle or None
        The bundle this classifier came from, when it did.
    min_confidence : float or None
        Answer ``"unsure"`` (probabilities still given) when the top probability is below this.
    noise_flatness : float or None
        Answer ``"unsure"`` (with ``unsure_reason``) to broadband noise: audio whose median spectral
        flatness is at least this (:func:`check_signal`). None for a model trained to name noise.
    max_segments : int or None
        Analyse at most this many segments per track, spread evenly over its whole length (see
        :func:`select_segments`), so a long song costs about as much as a 30 s clip; ``None`` analyses
        every segment. A call's ``full=True`` analyses every segment too.
    """

    def __init__(
        self,
        extractor: Extractor,
        model: Any,
        *,
        aggregation: str = "mean_log",
        name: str = "model",
        bundle: Bundle | None = None,
        min_confidence: float | None = None,
        noise_flatness: float | None = NOISE_FLATNESS,
        max_segments: int | None = MAX_SEGMENTS,
    ) -> None:
        check_min_confidence(min_confidence)
        if max_segments is not None and (isinstance(max_segments, bool) or int(max_segments) < 1):
            raise ConfigError(
                f"max_segments must be a positive number of segments or None, got {max_segments!r}"
            )
        if aggregation not in AGGREGATIONS:
            raise ConfigError(f"unknown aggregation {aggregation!r}; valid: {', '.join(AGGREGATIONS)}")
        self.extractor = extractor
        self.model = model
        self.aggregation = aggregation
        self.name = name
        self.bundle = bundle
        self.min_confidence = min_confidence
        self.noise_flatness = noise_flatness
        self.max_segments = None if max_segments is None else int(max_segments)
        self.classes_ = [str(c) for c in model.classes_]

    @property
    def sr(self) -> int:
        return self.extractor.sr

    def check_signal(self, y: np.ndarray, sr: int, source: str | None = None) -> str | None:
        """:func:`check_signal` with this classifier's extractor (also used by batch runs)."""
        return check_signal(y, sr, self.extractor, source, noise_flatness=self.noise_flatness)

    @property
    def labels(self) -> list[str]:
        """The genres this classifier answers with, in the model's column order."""
        return list(self.classes_)

    def __repr__(self) -> str:
        shown = ", ".join(self.classes_[:6]) + (", ..." if len(self.classes_) > 6 else "")
        return (
            f"Classifier({self.name!r}: {len(self.classes_)} labels [{shown}], features "
            f"{self.extractor.name!r} at {self.sr} Hz, aggregation {self.aggregation!r})"
        )

    def segment_proba(self, y: np.ndarray, sr: int, *, full: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Per-segment probabilities and times.

        ``full=False``: only the segments :func:`select_segments` picks (at most ``max_segments``,
        spread over the whole signal); the extractor computes only those when it can
        (``extract_selected``), else all of them and the rows are picked.

        Returns
        -------
        proba : np.ndarray, shape (n_segments, n_classes)
        times : np.ndarray, shape (n_segments, 2)
            Start and end in seconds of each analysed segment.
        """
        out = self._segments_many([y], sr, full=full)[0]
        if isinstance(out, Exception):
            raise out
        return out[0], out[1]

    def _segments_many(
        self, items: list[np.ndarray | SampledAudio], sr: int, *, full: bool
    ) -> list[tuple[np.ndarray, np.ndarray, int] | Exception]:
        """Segment probabilities, times and the number of segments of each item; its error in its place.

        An item is a signal at ``sr`` or a :class:`SampledAudio` (its windows give the rows of its sampled
        segments: ``extract_windows``). The signals share one ``extract_many`` call (an extractor that
        batches, like musicnn, runs one forward pass over the patches of all of them) and all items one
        ``predict_proba`` call over all their segments; when a shared call fails, each item is done
        alone, so one bad item stays alone.
        """
        ext = self.extractor
        out: list[Any] = [None] * len(items)
        analysed: list[tuple[int, np.ndarray, np.ndarray | None]] = []  # item, segment times, rows kept
        feats: list[Any] = []  # None: a signal's, from the shared extract_many call below
        ys, keeps = [], []
        for i, y in enumerate(items):
            if isinstance(y, SampledAudio):
                analysed.append((i, ext.segment_times(y.n_samples, ext.sr), y.keep))
                feats.append(_try(_window_features, ext, y))
                continue
            if not np.all(np.isfinite(y)):
                out[i] = AudioError("contains non-finite samples (NaN or infinity)")
                continue
            y = resample(np.asarray(y, dtype=np.float32), sr, ext.sr)  # once: times match features
            t = ext.segment_times(len(y), ext.sr)
            keep = None if full else select_segments(len(t), self.max_segments)
            keep = None if keep is None or len(keep) == len(t) else keep
            analysed.append((i, t, keep))
            feats.append(None)
            ys.append(y)
            keeps.append(keep)
        extracted = iter(extract_each(ext, ys, keeps))
        feats = [next(extracted) if f is None else f for f in feats]
        feats = [f if isinstance(f, Exception) else _try(_some_segments, f) for f in feats]
        ok = [j for j, f in enumerate(feats) if not isinstance(f, Exception)]
        probas = self._proba_many([feats[j] for j in ok])
        for j, f in enumerate(feats):
            if isinstance(f, Exception):
                out[analysed[j][0]] = f
        for j, p in zip(ok, probas, strict=True):
            i, t, keep = analysed[j]
            out[i] = p if isinstance(p, Exception) else (p, t if keep is None else t[keep], len(t))
        return out

    def _proba_many(self, feats: list[np.ndarray]) -> list[np.ndarray | Exception]:
        """Segment probabilities of each feature block, checked finite: one ``predict_proba`` call for all."""
        if len(feats) > 1:
            try:
                p = np.asarray(self.model.predict_proba(np.concatenate(feats)), dtype=np.float64)
                splits = np.cumsum([len(f) for f in feats])
                if len(p) == splits[-1]:
                    return [_try(_checked_proba, q) for q in np.split(p, splits[:-1])]
            except Exception:  # noqa: BLE001 - each block alone below
                pass
        return [_try(lambda f: _checked_proba(self.model.predict_proba(f)), f) for f in feats]

    def explain(self, y: np.ndarray, sr: int) -> Explanation:
        """Explain the prediction for decoded audio ``y`` at ``sr`` (see :mod:`genrekit.explain`)."""
        proba, times = self.segment_proba(y, sr)
        return explain_track(proba, times, self.classes_, method=self.aggregation)

    def predict_audio(
        self,
        y: np.ndarray,
        sr: int,
        *,
        crop_s: float | None = None,
        source: str | None = None,
        min_confidence: float | None = None,
        explain: bool = False,
        time_offset_s: float = 0.0,
        full: bool = False,
    ) -> Prediction:
        """Classify decoded audio ``y`` (n_samples,) at ``sr``.

        ``full=False`` (the default) analyses at most the classifier's ``max_segments`` segments spread
        over the whole track; ``full=True`` every segment. The timeline lists the analysed segments
        (they span the track), and ``extra["analysed"]`` says how many of how many when it sampled.

        ``time_offset_s``: where ``y`` starts in its source (a window was read); segment times, in the
        timeline and in the explanation, are given in the source's time. ``min_confidence`` overrides the
        classifier's own threshold for this call. ``explain=True`` adds ``extra["explanation"]``:
        :meth:`genrekit.explain.Explanation.to_dict` (the runner-up genre, each segment's support and
        margin, the segments that argue most for and against the answer).
        """
        t0 = time.perf_counter()
        check_crop(crop_s)
        duration_s = len(y) / sr
        offset_s = float(time_offset_s)
        if crop_s is not None:
            cropped = center_crop(y, sr, duration_s=crop_s)
            offset_s += (len(y) - len(cropped)) // 2 / sr
            y = cropped
        return self._predict_one(t0, y, sr, source, offset_s, duration_s, min_confidence, explain, full)

    def _predict_one(
        self,
        t0: float,
        audio: np.ndarray | SampledAudio,
        sr: int,
        source: str | None,
        offset_s: float,
        duration_s: float,
        min_confidence: float | None,
        explain: bool,
        full: bool,
    ) -> Prediction:
        """:meth:`predict_batch` of one item: its prediction (timed from ``t0``), or its error raised."""
        out = self.predict_batch(
            [audio],
            sr,
            sources=[source],
            offsets_s=[offset_s],
            durations_s=[duration_s],
            min_confidence=min_confidence,
            explain=explain,
            full=full,
        )[0]
        if isinstance(out, Exception):
            raise out
        return dataclasses.replace(out, elapsed_ms=round((time.perf_counter() - t0) * 1000, 1))

    def predict_batch(
        self,
        signals: list[np.ndarray | SampledAudio],
        sr: int,
        *,
        sources: list[str | None] | None = None,
        offsets_s: list[float] | None = None,
        durations_s: list[float] | None = None,
        min_confidence: float | None = None,
        explain: bool = False,
        full: bool = False,
    ) -> list[Prediction | Exception]:
        """Classify several decoded signals together; a failing one yields its error in its place.

        The batched form of :meth:`predict_audio` (which is this with one signal) and the end of
        :meth:`predict` (which is this with what :meth:`decode` read), used by batch runs and the
        service's batch endpoint: the same checks, segment choice, probabilities, aggregation and
        decision, with the features of all signals in one ``extract_many`` call and the segments of all
        items in one ``predict_proba`` call. The caller bounds how much audio one call holds
        (``len(item)``: the samples decoded).

        Parameters
        ----------
        signals : list of (np.ndarray, float32, shape (n_samples_i,)) or SampledAudio
            Decoded mono audio at ``sr`` (already cropped, when a crop was asked for), or the sampled
            windows of a long file (:meth:`decode`; at this classifier's rate, already checked).
        sr : int
        sources : list of str or None
            Names for the predictions and the errors.
        offsets_s : list of float
            Where each signal starts in its source (segment times are given in the source's time).
        durations_s : list of float
            Each source's duration to report (default: the signal's; a SampledAudio's header length).
        min_confidence, explain, full
            As :meth:`predict_audio`.

        Returns
        -------
        list of Prediction or Exception
            In the order of ``signals``; a library error (or, for a bug, any exception) for a signal that
            could not be classified, named after its source.
        """
        t0 = time.perf_counter()
        n = len(signals)
        sources = list(sources) if sources is not None else [None] * n
        offsets = list(offsets_s) if offsets_s is not None else [0.0] * n
        durations = (
            list(durations_s)
            if durations_s is not None
            else [y.duration_s if isinstance(y, SampledAudio) else len(y) / sr for y in signals]
        )
        out: list[Any] = [None] * n
        noise: dict[int, str | None] = {}
        for i, y in enumerate(signals):
            if isinstance(y, SampledAudio):  # checked when its windows were read
                noise[i] = y.noise
                continue
            try:
                noise[i] = self.check_signal(y, sr)
            except GenreKitError as exc:
                out[i] = _named(exc, sources[i])
        live = [i for i in range(n) if out[i] is None]
        analysed = self._segments_many([signals[i] for i in live], sr, full=full)
        total = sum(len(signals[i]) for i in live) or 1
        elapsed_ms = (time.perf_counter() - t0) * 1000
        for i, res in zip(live, analysed, strict=True):
            if isinstance(res, Exception):
                out[i] = _named(res, sources[i])
                continue
            pred = self._prediction(
                *res,
                noise=noise[i],
                min_confidence=min_confidence,
                explain=explain,
                offset_s=float(offsets[i]),
            )
            out[i] = dataclasses.replace(
                pred,
                duration_s=round(float(durations[i]), 3),
                source=sources[i],
                elapsed_ms=round(elapsed_ms * len(signals[i]) / total, 1),
            )
        return out

    def _prediction(
        self,
        proba: np.ndarray,
        times: np.ndarray,
        n_all: int,
        *,
        noise: str | None,
        min_confidence: float | None,
        explain: bool,
        offset_s: float,
    ) -> Prediction:
        """The track's :class:`Prediction` from its segment probabilities: aggregate, decide, timeline."""
        track = aggregate_track(proba, method=self.aggregation)
        top = int(np.argmax(track))
        contrib = segment_contributions(proba, method=self.aggregation)[:, top]
        segs = [
            SegmentPrediction(
                start_s=round(float(s) + offset_s, 3),
                end_s=round(float(e) + offset_s, 3),
                genre=self.classes_[int(np.argmax(p))],
                probabilities=_sorted_probs(self.classes_, p),
                contribution=round(float(c), 6),
            )
            for (s, e), p, c in zip(times, proba, contrib, strict=True)
        ]
        probs = _sorted_probs(self.classes_, track)
        threshold = self.min_confidence if min_confidence is None else min_confidence
        genre, _ = decide(probs, threshold)
        extra: dict[str, Any] = {}
        if noise is not None:
            genre, extra["unsure_reason"] = UNSURE, noise
        if n_all > len(proba):
            extra["analysed"] = {"segments": len(proba), "of": n_all}
        if explain:
            times = np.asarray(times, dtype=np.float64) + offset_s
            extra["explanation"] = explain_track(
                proba, times, self.classes_, method=self.aggregation
            ).to_dict()
        return Prediction(
            genre=genre,
            unsure=genre == UNSURE,
            probabilities=probs,
            segments=segs,
            model=self.name,
            extra=extra,
        )

    def _load_sampled(self, source: Source, max_duration_s: float | None) -> SampledAudio | None:
        """The windows of a long file's sampled segments, decoded by seeking; None: not here.

        Applies when the extractor computes segments from windows (``window_spans``/``extract_windows``),
        the header gives the length (a container only ffmpeg decodes has none that can be seeked), and
        the track has more segments than ``max_segments``; classified, it gives the answer of
        :meth:`predict_audio` on the whole decode (same segments, features equal to float32 rounding), at
        the cost of the windows. The signal checks (:func:`check_signal`: silence, DC, RMS floor, noise)
        run on the analysed windows laid end to end, the audio actually classified; when they refuse it,
        None is returned so that the whole file is decoded and checked as before (a refusal is about the
        whole audio, never about a sample of it). Truncation and decoding errors are raised as
        :func:`genrekit.audio.load` raises them (the file's end is always decoded).
        """
        ex = self.extractor
        if self.max_segments is None or not hasattr(ex, "window_spans"):
            return None
        if hasattr(source, "read") and not (hasattr(source, "seekable") and source.seekable()):
            return None
        name = source_name(source)
        if Path(name).suffix.lower() in FFMPEG_EXTENSIONS:  # its header is a whole ffmpeg decode
            return None
        length = header_duration(source)
        if length is None:
            return None
        sr = self.sr
        n = int(round(length * sr))  # what load() of the whole file gives (soxr rounds the same way)
        n_segments = len(ex.segment_times(n, sr))
        keep = select_segments(n_segments, self.max_segments)
        if len(keep) == n_segments:
            return None
        spans = ex.window_spans(n, sr, keep)
        pieces = load_windows(source, spans, sr=sr, max_duration_s=max_duration_s)
        try:
            noise = self.check_signal(np.concatenate(pieces), sr, name)
        except AudioError:
            rewind(source)
            return None
        return SampledAudio(pieces, spans, n, keep, length, noise)

    def decode(
        self,
        source: Source,
        *,
        crop_s: float | None = None,
        offset_s: float = 0.0,
        window_s: float | None = None,
        max_duration_s: float | None = MAX_DURATION_S,
        full: bool = False,
    ) -> tuple[np.ndarray | SampledAudio, float, float]:
        """Read ``source`` as :meth:`predict` reads it, for :meth:`predict_batch` (batch runs, the service).

        A long file (no window asked for, ``full=False``, an extractor that computes segments from
        windows) gives only the windows of its sampled segments (:class:`SampledAudio`); anything else
        the samples :func:`genrekit.audio.load_crop` decodes (see :meth:`predict` for the keywords).

        Returns
        -------
        audio : np.ndarray, float32, shape (n_samples,), at this classifier's rate; or SampledAudio
        start_s : float
            Where the samples start in the source (0 for SampledAudio: its times are the source's).
        total_s : float
            The source's duration (from ``offset_s`` on; of the window read, when ``window_s`` is given).
        """
        if crop_s is None and window_s is None and offset_s == 0 and not full:  # only the sampled windows
            sampled = self._load_sampled(source, max_duration_s)
            if sampled is not None:
                return sampled, 0.0, sampled.duration_s
        return load_crop(
            source, crop_s, sr=self.sr, offset_s=offset_s, duration_s=window_s, max_duration_s=max_duration_s
        )

    def predict(
        self,
        source: Source,
        *,
        crop_s: float | None = None,
        offset_s: float = 0.0,
        window_s: float | None = None,
        min_confidence: float | None = None,
        explain: bool = False,
        max_duration_s: float | None = MAX_DURATION_S,
        sr: int | None = None,
        full: bool = False,
        duration_s: float | None = None,
    ) -> Prediction:
        """Load ``source`` (path, bytes or file object) and classify it.

        ``full``: see :meth:`predict_audio`. By default (no window asked for, ``full=False``) a track
        longer than ``max_segments`` segments is classified from the windows of its sampled segments
        only, decoded by seeking (:func:`genrekit.audio.load_windows`), when the extractor supports it
        (musicnn): a 4-minute song then costs about as much as a 30 s clip, with the same answer as the
        whole decode (see ``_load_sampled`` for how the signal checks apply). The reading is
        :meth:`decode`, the rest :meth:`predict_batch`: batch runs and the service's batch endpoint read
        and classify files the same way.
        When ``crop_s`` is given only a window of that length around the middle is decoded, so the
        time is constant whatever the track's length. ``offset_s`` and ``window_s``: decode only the
        window of ``window_s`` seconds (None: to the end) starting ``offset_s`` seconds in (``crop_s`` then
        applies inside it); the prediction's ``duration_s`` is still the whole track's length.
        ``duration_s`` is the old name of ``window_s`` (deprecated, removed in the next release).
        ``explain``: see :meth:`predict_audio`.
        ``max_duration_s``: longer audio (the window read, when there is one) is an AudioError.
        Decoded samples (a numpy array, mono) need their rate: ``predict(y, sr=22050)`` is
        :meth:`predict_audio` ``(y, sr)``.
        """
        if isinstance(source, np.ndarray):
            if sr is None:
                raise ConfigError(
                    "a numpy array of samples needs its sample rate: use predict(y, sr=...) or "
                    "predict_audio(y, sr)"
                )
            return self.predict_audio(
                _mono(source), int(sr), crop_s=crop_s, min_confidence=min_confidence, explain=explain
            )
        if duration_s is not None:
            window_s = _renamed_window(duration_s, window_s)
        t0 = time.perf_counter()
        audio, start_s, total = self.decode(
            source,
            crop_s=crop_s,
            offset_s=offset_s,
            window_s=window_s,
            max_duration_s=max_duration_s,
            full=full,
        )
        name = source_name(source)
        return self._predict_one(t0, audio, self.sr, name, start_s, total, min_confidence, explain, full)

    def predict_many(
        self, sources: list[Source], *, crop_s: float | None = None
    ) -> list[Prediction | GenreKitError]:
        """Classify several sources; a failing one yields its error in place, the rest go on."""
        out: list[Prediction | GenreKitError] = []
        for s in sources:
            try:
                out.append(self.predict(s, crop_s=crop_s))
            except GenreKitError as exc:
                out.append(exc)
        return out

    def describe(self) -> dict[str, Any]:
        """Labels, features and training facts (the service's ``/v1/model``)."""
        d: dict[str, Any] = {
            "name": self.name,
            "labels": self.classes_,
            "extractor": self.extractor.to_dict(),
            "aggregation": self.aggregation,
            "genrekit_version": genrekit_version(),
        }
        if self.bundle is not None:
            d.update(
                kind=self.bundle.kind,
                metrics=self.bundle.metrics,
                data=self.bundle.data,
                created=self.bundle.created,
            )
        return to_jsonable(d)


def _mono(y: np.ndarray) -> np.ndarray:
    """Samples as float32 mono: (n,) kept, (n, channels) or (channels, n) averaged (the shorter axis)."""
    a = np.asarray(y, dtype=np.float32)
    if a.ndim == 2:
        a = a.mean(axis=int(np.argmin(a.shape)))
    if a.ndim != 1:
        raise ConfigError(f"samples must have shape (n,) or (n, channels); got {np.shape(y)}")
    return a


def _renamed_window(duration_s: float, window_s: float | None) -> float:
    """``Classifier.predict``'s old ``duration_s`` keyword: warned about, and taken as ``window_s``."""
    if window_s is not None:
        raise ConfigError("give window_s only: duration_s is its deprecated old name")
    warnings.warn(
        "Classifier.predict(duration_s=...) is deprecated, use window_s=... (the decoded window's length; "
        "Prediction.duration_s is the track's); duration_s will be removed in the next release",
        DeprecationWarning,
        stacklevel=3,
    )
    return duration_s


def _try(f: Any, *args: Any) -> Any:
    """``f(*args)``, or the exception it raised (one item's failure stays with that item)."""
    try:
        return f(*args)
    except Exception as exc:  # noqa: BLE001 - returned in the item's place
        return exc


def _window_features(extractor: Extractor, sampled: SampledAudio) -> np.ndarray:
    """Finite features of the sampled segments, from their windows only (``extract_windows``)."""
    return check_finite_features(
        extractor.extract_windows(sampled.pieces, sampled.spans, sampled.n_samples, sampled.keep)
    )


def _some_segments(feats: np.ndarray) -> np.ndarray:
    if len(feats) == 0:
        raise ModelError("the audio gave no segments to classify (too short?)")
    return feats


def _checked_proba(proba: Any) -> np.ndarray:
    p = np.asarray(proba, dtype=np.float64)
    if not np.all(np.isfinite(p)):
        raise ModelError("the model gave non-finite probabilities for this audio")
    return p


def _named(exc: Exception, source: str | None) -> Exception:
    """``exc`` naming ``source``, when it is a library error that names no input yet."""
    if source is None or not isinstance(exc, GenreKitError) or exc.source is not None:
        return exc
    return type(exc)(exc.message, source=source)


def classifier_from_bundle(bundle: Bundle, *, name: str = "") -> Classifier:
    """Build the classifier a bundle describes (its extractor rebuilt from the stored config)."""
    if bundle.extractor is None:
        raise ModelError(
            f"bundle {name or bundle.kind!r} is a tabular model with no audio feature extractor; use "
            "tabular prediction on feature rows instead"
        )
    extractor = extractor_from_dict(bundle.extractor)
    if bundle.feature_names is not None and list(bundle.feature_names) != list(extractor.names):
        raise ModelError(
            f"bundle {name!r}: its feature columns do not match the {extractor.name!r} extractor's output"
        )
    model = bundle.model
    temperature = bundle.extra.get("temperature")
    if temperature is not None:  # calibrated on the validation side at training time
        model = TemperatureScaled(model, temperature=float(temperature))
    return Classifier(
        extractor, model, aggregation=bundle.aggregation, name=name or bundle.kind, bundle=bundle
    )


def load_model(path: str | Path | None = None) -> Classifier:
    """Load a pretrained model by name, or a bundle directory/zip.

    ``None`` is the default pretrained model, ``"gtzan"`` (a head trained on real GTZAN clips, shipped
    in the package); the other names (``"musicnn"``, the 13-genre tag taxonomy, and its single-network
    variants) are listed by :func:`genrekit.pretrained.list_models` / ``genrekit models``. Nothing is
    downloaded.

    Raises
    ------
    ConfigError
        A name that is neither a pretrained model nor an existing path (the message lists the names).
    ModelError
        A missing, foreign, tampered or incompatible bundle.
    """
    from genrekit import pretrained

    name = pretrained.DEFAULT_MODEL if path is None else str(path)
    if name in pretrained.names():
        return _load_pretrained(name)
    p = Path(path)
    if not p.exists() and not p.suffix and len(p.parts) == 1:  # a bare word: a mistyped model name
        raise pretrained.unknown_model(name)
    bundle = load_bundle(p)
    return classifier_from_bundle(bundle, name=p.name)


@functools.lru_cache(maxsize=4)
def _load_pretrained(name: str) -> Classifier:
    """The pretrained classifier ``name`` (cached: the networks and the head load once per process)."""
    from genrekit import pretrained

    info = pretrained.get(name)
    if info.kind == "taxonomy":  # musicnn tags mapped through the fixed taxonomy
        extractor = get_extractor("musicnn", output="tags")
        return Classifier(extractor, taxonomy_model(name), aggregation="mean_prob", name=name)
    assert info.path is not None
    return classifier_from_bundle(load_bundle(info.path), name=name)
