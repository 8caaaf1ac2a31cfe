"""Progress of a batch run: counts, rates and the estimated time left, on a terminal or as callbacks."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


# ========================================================================================================
# progress
# ========================================================================================================
@dataclass(frozen=True)
class BatchProgress:
    """A progress snapshot: files done in this run out of ``total`` to do, errors so far, speed, ETA."""

    done: int
    total: int
    errors: int
    elapsed_s: float

    @property
    def files_per_s(self) -> float:
        return self.done / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        rate = self.files_per_s
        return (self.total - self.done) / rate if rate > 0 else None

    def text(self) -> str:
        eta = self.eta_s
        eta_txt = "?" if eta is None else _hms(eta)
        return (
            f"{self.done}/{self.total} files, {self.files_per_s:.2f} files/s, ETA {eta_txt}, "
            f"{self.errors} error(s)"
        )


def _hms(s: float) -> str:
    s = int(round(s))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


class _Progress:
    """Rich progress bar, periodic log lines, a user callback, or nothing."""

    def __init__(self, mode: bool | str | Callable[[BatchProgress], None], total: int, label: str) -> None:
        self.total, self.done, self.errors = total, 0, 0
        self.t0 = time.perf_counter()
        self.callback = mode if callable(mode) else None
        if mode == "auto":
            mode = "rich" if sys.stderr.isatty() else "log"
        self.mode = "rich" if mode is True else ("off" if mode is False else mode)
        self._last_log = 0.0
        self._bar: Any = None
        if self.mode == "rich":
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self._bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn(
                    "{task.fields[rate]} files/s  ETA {task.fields[eta]}  [red]{task.fields[errors]} errors"
                ),
                console=Console(stderr=True),
                transient=False,
            )
            self._task = self._bar.add_task(label, total=total, rate="0.00", eta="?", errors=0)
            self._bar.start()
        elif self.mode == "log":
            print(f"{label}: {total} files to do", file=sys.stderr, flush=True)

    def snapshot(self) -> BatchProgress:
        return BatchProgress(self.done, self.total, self.errors, time.perf_counter() - self.t0)

    def advance(self, files: int, errors: int) -> None:
        self.done += files
        self.errors += errors
        snap = self.snapshot()
        if self.callback is not None:
            self.callback(snap)
        elif self._bar is not None:
            eta = snap.eta_s
            self._bar.update(
                self._task,
                completed=self.done,
                rate=f"{snap.files_per_s:.2f}",
                eta="?" if eta is None else _hms(eta),
                errors=self.errors,
            )
        elif self.mode == "log" and (time.perf_counter() - self._last_log > 30 or self.done >= self.total):
            self._last_log = time.perf_counter()
            print(snap.text(), file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


def _note(progress: Any, msg: str) -> None:
    if progress is False or callable(progress):
        return
    print(msg, file=sys.stderr, flush=True)
