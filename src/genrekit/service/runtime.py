"""The served model and the runtime around it: limits, loading, the inference pool and its queue."""

from __future__ import annotations

import asyncio
import functools
import io
import math
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, BinaryIO, TypeVar

import numpy as np
from fastapi import Depends, Request

from genrekit.audio import info as audio_info
from genrekit.audio import sniff_container
from genrekit.bundle import Bundle, load_bundle
from genrekit.config import FFMPEG_EXTENSIONS, SERVICE_LIMITS_ENV, ServiceLimits, genrekit_version
from genrekit.errors import AudioError, ConfigError, GenreKitError
from genrekit.files import to_jsonable
from genrekit.predict import Classifier, Prediction, SampledAudio, classifier_from_bundle, load_model
from genrekit.pretrained import names as pretrained_names
from genrekit.service.errors import ServiceError, log

T = TypeVar("T")


DEFAULT_HOST = "127.0.0.1"


DEFAULT_PORT = 9698


#: Defaults of :class:`genrekit.config.ServiceLimits`, the one declaration of the limits.
DEFAULT_MAX_UPLOAD_MB = ServiceLimits.max_upload_mb
DEFAULT_MAX_IN_FLIGHT = ServiceLimits.max_in_flight
DEFAULT_MAX_QUEUE = ServiceLimits.max_queue
DEFAULT_MAX_DURATION_S = ServiceLimits.max_duration_s


MAX_BATCH_FILES = 16


MAX_FEATURE_ROWS = 10_000


#: Environment read by :func:`create_app_from_env` (the gunicorn / ``--workers N`` path): the model, and
#: the limits (:data:`genrekit.config.SERVICE_LIMITS_ENV`).
ENV_MODEL = "GENREKIT_MODEL"
ENV_MAX_UPLOAD_MB = SERVICE_LIMITS_ENV["max_upload_mb"]
ENV_MAX_IN_FLIGHT = SERVICE_LIMITS_ENV["max_in_flight"]
ENV_MAX_QUEUE = SERVICE_LIMITS_ENV["max_queue"]
ENV_MAX_DURATION_S = SERVICE_LIMITS_ENV["max_duration_s"]


#: Model names :func:`genrekit.predict.load_model` resolves without a bundle on disk.
PRETRAINED_NAMES = pretrained_names()


STATIC_DIR = Path(__file__).parent / "static"


# --------------------------------------------------------------------------------------------- the model
@dataclass
class ServedModel:
    """What the service serves: an audio :class:`Classifier`, or a tabular bundle (feature rows in)."""

    name: str
    classifier: Classifier | None = None
    bundle: Bundle | None = None

    @property
    def input(self) -> str:
        return "audio" if self.classifier is not None else "features"

    @property
    def labels(self) -> list[str]:
        if self.classifier is not None:
            return list(self.classifier.classes_)
        assert self.bundle is not None
        return [str(x) for x in self.bundle.labels]

    def describe(self) -> dict[str, Any]:
        """The ``/v1/model`` answer (without the service limits)."""
        if self.classifier is not None:
            d = self.classifier.describe()
            ext = self.classifier.extractor
            d.update(
                input="audio",
                sample_rate=ext.sr,
                segment_s=getattr(ext.config, "segment_s", None),
            )
            d.setdefault("metrics", {})
            return to_jsonable(d)
        b = self.bundle
        assert b is not None
        return to_jsonable(
            {
                "name": self.name,
                "input": "features",
                "labels": self.labels,
                "feature_names": list(b.feature_names or []),
                "kind": b.kind,
                "metrics": b.metrics,
                "data": b.data,
                "created": b.created,
                "bundle_genrekit_version": b.genrekit_version,
                "genrekit_version": genrekit_version(),
            }
        )


ModelRef = str | Path | Classifier | Bundle | ServedModel | None


def load_served_model(model: ModelRef) -> ServedModel:
    """Resolve what ``create_app`` was given into a :class:`ServedModel`.

    Parameters
    ----------
    model : path, name, Classifier, Bundle, ServedModel or None
        ``None`` (the default, ``gtzan``) or a pretrained name (:func:`genrekit.pretrained.names`) for the
        out-of-the-box tagger; a bundle directory or zip (audio or tabular); or a ready object.

    Raises
    ------
    ModelError
        A missing, foreign, tampered or incompatible bundle.
    """
    if isinstance(model, ServedModel):
        return model
    if isinstance(model, Classifier):
        return ServedModel(model.name, classifier=model)
    if isinstance(model, Bundle):
        if model.extractor is None:
            return ServedModel(model.kind, bundle=model)
        clf = classifier_from_bundle(model)
        return ServedModel(clf.name, classifier=clf)
    if model is None or str(model) in PRETRAINED_NAMES:
        clf = load_model(None if model is None else str(model))
        return ServedModel(clf.name, classifier=clf)
    path = Path(model)
    bundle = load_bundle(path)
    name = path.stem if path.suffix == ".zip" else path.name
    if bundle.extractor is None:
        return ServedModel(name, bundle=bundle)
    return ServedModel(name, classifier=classifier_from_bundle(bundle, name=name))


# ------------------------------------------------------------------------------------------ runtime
@dataclass
class Runtime:
    """Per-worker state: the model, the bounded thread pool and the queue counter."""

    model_ref: ModelRef
    max_upload_bytes: int
    max_in_flight: int
    max_queue: int
    max_duration_s: float | None = DEFAULT_MAX_DURATION_S
    warmup: bool = True
    served: ServedModel | None = None
    load_error: str | None = None
    executor: ThreadPoolExecutor | None = None
    semaphore: asyncio.Semaphore | None = None
    started: bool = False
    load_task: asyncio.Task | None = None
    waiting: int = 0
    in_flight: int = 0
    started_at: float = field(default_factory=time.time)

    async def load(self) -> None:
        loop = asyncio.get_running_loop()
        assert self.executor is not None
        served = await loop.run_in_executor(self.executor, load_served_model, self.model_ref)
        if self.warmup:
            await loop.run_in_executor(self.executor, warm_up, served)
        self.served = served
        log.info("model %r loaded (%s input, %d labels)", self.served.name, self.served.input,
                 len(self.served.labels))

    async def load_in_background(self) -> None:
        try:
            await self.load()
        except GenreKitError as exc:
            self.load_error = str(exc)
            log.error("model failed to load: %s", exc)
        except Exception as exc:  # noqa: BLE001 - reported on /ready instead of killing the worker
            self.load_error = f"{type(exc).__name__}: {exc}"
            log.exception("model failed to load")

    async def start(self, *, background: bool) -> None:
        """Create the pool and load the model (now, or in a background task)."""
        self.started = True
        self.executor = ThreadPoolExecutor(self.max_in_flight, thread_name_prefix="genrekit-infer")
        self.semaphore = asyncio.Semaphore(self.max_in_flight)
        if background:
            self.load_task = asyncio.create_task(self.load_in_background())
        else:
            await self.load()

    def stop(self) -> None:
        if self.load_task is not None and not self.load_task.done():
            self.load_task.cancel()
        if self.executor is not None:
            self.executor.shutdown(wait=False, cancel_futures=True)

    def upload_reader(self, crop_s: float | None) -> UploadReader:
        """How this server reads a request's uploads: its ``crop_s`` window under ``max_duration_s``."""
        return UploadReader(crop_s=crop_s, max_duration_s=self.max_duration_s)

    async def model_for(self, wanted: str) -> ServedModel:
        """The loaded model for an endpoint taking ``wanted`` input; see :meth:`require`.

        When the ASGI server ran no lifespan (e.g. ``uvicorn --lifespan off``), the first request
        starts the runtime and loads the model.
        """
        if not self.started:
            try:
                await self.start(background=False)
            except GenreKitError as exc:
                self.load_error = str(exc)
        return self.require(wanted)

    def require(self, wanted: str) -> ServedModel:
        """The loaded model if it takes ``wanted`` input ("audio" or "features"), else a 503/422."""
        if self.served is None:
            why = f"model failed to load: {self.load_error}" if self.load_error else "model is still loading"
            raise ServiceError(503, why, type_="NotReady", headers={"Retry-After": "5"})
        if self.served.input != wanted:
            if wanted == "audio":
                msg = (f"model {self.served.name!r} takes feature rows, not audio; POST them as JSON to "
                       "/v1/predict/features")
            else:
                msg = f"model {self.served.name!r} takes audio, not feature rows; POST a file to /v1/classify"
            raise ServiceError(422, msg, type_="WrongInput")
        return self.served

    def admit(self) -> None:
        """Refuse a new request (503) when every slot is busy and ``max_queue`` requests wait already."""
        assert self.semaphore is not None
        if self.semaphore.locked() and self.waiting >= self.max_queue:
            raise ServiceError(
                503,
                f"the server is busy ({self.waiting} requests waiting); retry shortly",
                type_="Busy",
                headers={"Retry-After": "1"},
            )

    async def _execute(self, call: Callable[[], T]) -> T:
        """Run ``call`` in the pool; the caller holds a slot, released here."""
        assert self.semaphore is not None and self.executor is not None
        self.in_flight += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self.executor, call)
        finally:
            self.in_flight -= 1
            self.semaphore.release()

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn`` in the inference pool, at most ``max_in_flight`` at once; 503 when the queue is full."""
        (out,) = await self.run_all([functools.partial(fn, *args, **kwargs)])
        if isinstance(out, BaseException):
            raise out
        return out

    async def run_all(self, calls: Sequence[Callable[[], T]]) -> list[T | BaseException]:
        """Run the calls of one request (a batch) in the pool, sharing the ``max_in_flight`` slots.

        The request is admitted, or refused with 503, once, and counts as one waiting request while any
        of its calls waits for a slot. Each call's exception is returned in its place, so one failing
        file does not lose the others.
        """
        assert self.semaphore is not None
        self.admit()
        pending = len(calls)
        if pending:
            self.waiting += 1

        async def one(call: Callable[[], T]) -> T:
            nonlocal pending
            try:
                await self.semaphore.acquire()  # type: ignore[union-attr]
            finally:
                pending -= 1
                if pending == 0:
                    self.waiting -= 1
            return await self._execute(call)

        return await asyncio.gather(*(one(c) for c in calls), return_exceptions=True)


def get_runtime(request: Request) -> Runtime:
    """The app's :class:`Runtime` (``app.state.runtime``, set by ``create_app``): the routes' dependency."""
    return request.app.state.runtime


#: A route parameter typed ``rt: RuntimeDep`` receives the app's runtime.
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def warm_up(served: ServedModel) -> None:
    """Classify a few seconds of quiet noise once, before serving.

    First-call costs (numba JIT compiling in librosa, torch kernel selection) are then paid at
    start-up rather than by the first client.
    """
    clf = served.classifier
    if clf is None:
        return
    seg = getattr(clf.extractor.config, "segment_s", None) or 3.0
    n = int(round(max(2 * seg, 3.0) * clf.sr))
    y = (1e-3 * np.random.default_rng(0).standard_normal(n)).astype(np.float32)
    t0 = time.perf_counter()
    try:
        clf.predict_audio(y, clf.sr)
    except Exception as exc:  # noqa: BLE001 - a warm-up failure only costs the first request its speed
        log.warning("warm-up prediction failed (%s: %s); serving anyway", type(exc).__name__, exc)
        return
    log.info("warm-up prediction took %.0f ms", (time.perf_counter() - t0) * 1000)


# ---------------------------------------------------------------------------------------- upload input
def upload_name(filename: str | None) -> str:
    """A printable name for an uploaded file: its base name, or ``upload``."""
    name = Path((filename or "").replace("\\", "/")).name.strip()
    return name[:200] or "upload"


def as_source(data: bytes, filename: str | None) -> io.BytesIO:
    """Wrap uploaded bytes as a named file object for :func:`genrekit.audio.load`.

    The name carries the client's file name, so errors name it; when the bytes are a container only
    ffmpeg reads, the extension is set from the bytes, so the library takes the ffmpeg route (or says
    the container is unsupported) whatever the client called the file.
    """
    name = upload_name(filename)
    sniffed = sniff_container(data[:16])
    if sniffed is not None and Path(name).suffix.lower() not in FFMPEG_EXTENSIONS:
        name = f"{name}{sniffed}"
    bio = io.BytesIO(data)
    bio.name = name
    return bio


@dataclass(frozen=True)
class UploadReader:
    """How uploads are read: the request's ``crop_s`` window under the server's ``max_duration_s``.

    The header is read first: with ``crop_s`` only that window around the middle is decoded (at most
    ``max_duration_s`` of it), and without it audio longer than ``max_duration_s`` is refused before its
    samples are decoded (a 50 MB mp3 can hold an hour of music, over a gigabyte of float32 samples).
    The methods run in the inference pool.

    Attributes
    ----------
    crop_s : float or None
        Seconds to classify around the middle of each upload (the request's ``crop_s``); None: all.
    max_duration_s : float or None
        The server's limit on the decoded length; None: the library's own limit.
    """

    crop_s: float | None = None
    max_duration_s: float | None = None

    def source(self, data: bytes | BinaryIO, filename: str | None) -> tuple[io.BytesIO, dict[str, Any]]:
        """One upload as a named source, with the window and limit to read it under.

        ``data`` is the upload's bytes or its spooled file (read here, in the pool: a large upload is on
        disk, and reading it here keeps that I/O off the event loop and out of extra threads).

        Returns
        -------
        source : io.BytesIO
        read : dict
            ``crop_s`` and, where the server's limit is what bounds the decoding, ``max_duration_s``: the
            keywords of :meth:`Classifier.predict` and :meth:`Classifier.decode`.

        Raises
        ------
        AudioError
            Longer than ``max_duration_s`` without ``crop_s`` (from the header).
        """
        crop_s, max_duration_s = self.crop_s, self.max_duration_s
        if not isinstance(data, bytes | bytearray):
            data.seek(0)
            data = data.read()
        src = as_source(data, filename)
        if Path(src.name).suffix.lower() in FFMPEG_EXTENSIONS:
            # no header to read the length from: ffmpeg decodes from the start and stops just past the
            # limit (an over-long file is refused having decoded max_duration_s + 1 s, not all of it)
            if crop_s is None and max_duration_s is not None:
                return src, {"crop_s": None, "max_duration_s": max_duration_s}
            return src, {"crop_s": crop_s}
        if crop_s is None and max_duration_s is not None:
            total_s = audio_info(src).duration_s
            src.seek(0)
            if total_s > max_duration_s:
                raise AudioError(
                    f"audio is {total_s:.1f} s long, over this server's limit of {max_duration_s:g} s; add "
                    f"crop_s (e.g. crop_s=60) to classify a window around its middle",
                    source=src.name,
                )
        window = crop_s if max_duration_s is None or crop_s is None else min(crop_s, max_duration_s)
        return src, {"crop_s": window}  # crop_s, at most the server's limit, read as a window

    def decode(
        self, data: bytes | BinaryIO, filename: str | None, clf: Classifier
    ) -> tuple[np.ndarray | SampledAudio, float, float, str]:
        """Decode one upload as ``clf.predict`` reads it (:meth:`Classifier.decode`).

        Returns
        -------
        audio : np.ndarray, float32, shape (n_samples,), at the model's rate; or SampledAudio
            A long upload gives only the windows of its sampled segments.
        start_s, total_s : float
            Where ``audio`` starts in the upload, and the upload's duration.
        name : str
        """
        src, read = self.source(data, filename)
        audio, start_s, total_s = clf.decode(src, **read)
        return audio, start_s, total_s, src.name


def classify_bytes(
    clf: Classifier,
    data: bytes | BinaryIO,
    filename: str | None,
    reader: UploadReader,
    *,
    min_confidence: float | None = None,
    explain: bool = False,
) -> Prediction:
    """Decode and classify one upload (runs in the inference pool) as ``reader`` reads it.

    Raises
    ------
    AudioError
        Not audio, corrupt, or longer than ``max_duration_s`` without ``crop_s``.
    """
    src, read = reader.source(data, filename)
    return clf.predict(src, min_confidence=min_confidence, explain=explain, **read)


#: Seconds of decoded audio a batch request classifies at once (one batched feature call per group).
GROUP_AUDIO_S = 600.0


def classify_uploads(
    clf: Classifier,
    uploads: Sequence[tuple[bytes | BinaryIO, str | None]],
    reader: UploadReader,
    *,
    min_confidence: float | None = None,
    explain: bool = False,
) -> list[Prediction | BaseException]:
    """Decode and classify several uploads (runs in the pool): one answer or one error per upload.

    Uploads are decoded one by one (as ``reader`` reads them) and classified in groups of at most
    ``GROUP_AUDIO_S`` seconds of decoded audio with :meth:`Classifier.predict_batch` (the predict path,
    features batched): a long upload is read as :meth:`Classifier.predict` reads it, its sampled
    windows only.
    """
    out: list[Any] = [None] * len(uploads)
    group: list[tuple[int, np.ndarray | SampledAudio, float, float, str]] = []

    def flush() -> None:
        preds = clf.predict_batch(
            [g[1] for g in group],
            clf.sr,
            sources=[g[4] for g in group],
            offsets_s=[g[2] for g in group],
            durations_s=[g[3] for g in group],
            min_confidence=min_confidence,
            explain=explain,
        )
        for g, pred in zip(group, preds, strict=True):
            out[g[0]] = pred
        group.clear()

    budget = GROUP_AUDIO_S * clf.sr
    for i, (data, filename) in enumerate(uploads):
        try:
            y, start_s, total_s, name = reader.decode(data, filename, clf)
        except Exception as exc:  # noqa: BLE001 - one bad upload is one error entry
            out[i] = exc
            continue
        if group and sum(len(g[1]) for g in group) + len(y) > budget:
            flush()
        group.append((i, y, start_s, total_s, name))
    if group:
        flush()
    return out


def check_rows(rows: list[dict[str, Any]]) -> None:
    """Refuse empty, oversized or non-finite feature rows with a 422 naming the row and column."""
    if not rows:
        raise ServiceError(422, "no feature rows given; send at least one", type_="ValidationError")
    if len(rows) > MAX_FEATURE_ROWS:
        raise ServiceError(
            422, f"{len(rows)} rows in one request; the limit is {MAX_FEATURE_ROWS}", type_="ValidationError"
        )
    for i, row in enumerate(rows):
        if not row:
            raise ServiceError(422, f"row {i} is empty", type_="ValidationError")
        for k, v in row.items():
            if isinstance(v, bool):  # JSON true/false: pydantic would take them as 1.0/0.0
                raise ServiceError(
                    422,
                    f"row {i}, feature {k!r}: {str(v).lower()} is not a number (send 1 or 0 if you mean it)",
                    type_="ValidationError",
                )
            if isinstance(v, float) and not math.isfinite(v):
                raise ServiceError(422, f"row {i}, feature {k!r}: {v} is not a finite number",
                                   type_="ValidationError")


def predict_feature_rows(
    bundle: Bundle | None, rows: list[dict[str, Any]], top_k: int
) -> list[dict[str, Any]]:
    """Run ``genrekit.tabular.predict_rows`` (in the pool); bad values in the rows become ConfigError."""
    from genrekit.tabular import predict_rows

    assert bundle is not None
    try:
        return to_jsonable(predict_rows(bundle, rows, top_k=top_k))
    except GenreKitError:
        raise
    except (ValueError, TypeError, KeyError) as exc:  # sklearn's input checks on the values sent
        raise ConfigError(f"the feature rows cannot be used by this model: {exc}") from None
