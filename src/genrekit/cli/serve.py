"""The `genrekit serve` command."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Annotated, Any

import typer

from genrekit.cli import app, console, handle_errors
from genrekit.cli.groups import OptionGroup, option_groups
from genrekit.cli.options import ModelRefOpt
from genrekit.config import ServiceLimits
from genrekit.errors import GenreKitError, ModelError, unknown_name

LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")


_LIMITS = ServiceLimits()


@dataclass(frozen=True)
class LimitOptions(OptionGroup):
    """What each worker accepts: the options of :class:`genrekit.config.ServiceLimits`, its defaults."""

    max_upload_mb: Annotated[
        float, typer.Option(min=0.001, help="Largest request body accepted, in MB (bigger: 413).")
    ] = _LIMITS.max_upload_mb
    max_in_flight: Annotated[
        int, typer.Option(min=1, help="Files decoded/classified at once per worker.")
    ] = _LIMITS.max_in_flight
    max_queue: Annotated[
        int, typer.Option(min=0, help="Requests allowed to wait for a slot per worker (more: 503).")
    ] = _LIMITS.max_queue
    max_duration_s: Annotated[
        float, typer.Option(min=1.0, help="Longest audio classified whole, in s (longer: 400 unless crop_s).")
    ] = _LIMITS.max_duration_s

    def limits(self) -> ServiceLimits:
        """The checked limits, for ``create_app`` (one worker) or the workers' environment.

        With several workers they reach ``create_app_from_env`` in each worker process through
        :meth:`ServiceLimits.environ`.
        """
        return ServiceLimits(**asdict(self))


@app.command()
@handle_errors
@option_groups
def serve(
    model: ModelRefOpt = None,
    host: Annotated[str, typer.Option(help="Interface to listen on (0.0.0.0: every one).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="TCP port.")] = 9698,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes, each loading the model once.")] = 1,
    limit_options: LimitOptions = LimitOptions(),
    log_level: Annotated[str, typer.Option(help="critical, error, warning, info, debug.")] = "info",
) -> None:
    """Serve a model over HTTP: JSON API (OpenAPI at /docs) and a web page at /.

    Each worker loads the model once at start-up (without --model: the default pretrained model, gtzan).
    """
    import uvicorn

    from genrekit.service.app import ENV_MODEL, create_app, load_served_model
    from genrekit.service.server import uvicorn_options

    if log_level not in LOG_LEVELS:
        raise unknown_name("log level", log_level, LOG_LEVELS)
    # fail here, with a one-line message (exit 5), before binding the port and so before /ready answers
    served = check_served_model(load_served_model, model)
    console.print(
        f"serving {served.name!r} ({served.input} input, {len(served.labels)} genres) on "
        f"http://{host}:{port}  (API docs: /docs)",
        highlight=False,
        soft_wrap=True,
    )
    # a request head must arrive whole within a deadline: half-header connections are closed
    common = dict(
        host=host, port=port, log_level=log_level, timeout_graceful_shutdown=10, **uvicorn_options()
    )
    limits = limit_options.limits()
    if workers == 1:
        application = create_app(served, **asdict(limits))
        with _graceful_exit():
            uvicorn.run(application, **common)
        return
    del served  # each worker loads its own copy from the environment
    os.environ[ENV_MODEL] = model or ""
    os.environ.update(limits.environ())
    with _graceful_exit():
        uvicorn.run("genrekit.service.app:create_app_from_env", factory=True, workers=workers, **common)


def check_served_model(load: Callable[[Any], Any], model: str | None) -> Any:
    """Load the model to serve and run it once on a synthetic input; any failure is one ModelError line.

    A bundle that loads but cannot predict (features the model does not take, a network that fails)
    would otherwise answer ``/ready`` and then 500 on every request.
    """
    import numpy as np

    try:
        served = load(model)
        clf = served.classifier
        if clf is not None:  # a few seconds of tones and noise at the model's rate, through the model
            seg = getattr(clf.extractor.config, "segment_s", None) or 3.0
            n = int(round(max(2 * seg, 3.0) * clf.sr))
            t = np.arange(n) / clf.sr
            rng = np.random.default_rng(0)
            y = (0.2 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(n)).astype(np.float32)
            proba, _ = clf.segment_proba(y, clf.sr)  # the predict path, probabilities checked
        else:
            bundle = served.bundle
            proba = bundle.model.predict_proba(np.zeros((1, len(bundle.feature_names or [])), np.float32))
        proba = np.asarray(proba, dtype=np.float64)
        if proba.ndim != 2 or proba.shape[1] != len(served.labels) or not np.isfinite(proba).all():
            raise ModelError(f"gives probabilities of shape {proba.shape} (or not finite) on a test input")
    except GenreKitError as exc:
        if isinstance(exc, ModelError) and exc.source is None and model is not None:
            raise ModelError(f"cannot serve {model}: {exc.message}") from None
        raise
    except Exception as exc:  # noqa: BLE001 - whatever a model fails with, the server must not start
        raise ModelError(
            f"cannot serve {model or 'musicnn'}: the model fails on a test input ({type(exc).__name__}: "
            f"{' '.join(str(exc).split())[:160]})"
        ) from None
    return served


@contextlib.contextmanager
def _graceful_exit() -> Iterator[None]:
    """Exit 0 after uvicorn's graceful shutdown on SIGINT/SIGTERM.

    uvicorn shuts down on these signals, then raises the signal again for the handler that was in place
    before it started; a no-op handler there makes the command end normally instead of dying by the
    signal (exit status 143) once the server has stopped cleanly.
    """
    previous = {sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
