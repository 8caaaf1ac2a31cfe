"""The shared torch trainer behind each neural estimator: scikit-learn interface, early stopping, bundles."""

from __future__ import annotations

import contextlib
import logging
import math
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from sklearn.base import BaseEstimator, ClassifierMixin
from torch import nn

from genrekit.errors import ConfigError, ModelError
from genrekit.files import to_jsonable
from genrekit.models.augment import SCALES, AugmentConfig, Augmenter
from genrekit.models.estimator import estimator

log = logging.getLogger(__name__)


LR_SCHEDULES: tuple[str, ...] = ("plateau", "cosine", "none")


_PREDICT_BATCH = 256


_MIN_DELTA = 1e-4


_CLIP_NORM = 5.0


# ----------------------------------------------------------------------------------- data utilities
def grouped_validation_split(
    y: np.ndarray, groups: np.ndarray, val_size: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Split rows into training and validation by group (track), stratified by each group's label.

    Each class with at least two groups gives ``round(val_size * n_groups)`` of them to validation, at
    least one and never all; classes with one group stay in training.

    Parameters
    ----------
    y : np.ndarray of int, shape (n,)
        Label index of each row.
    groups : np.ndarray, shape (n,)
        Track id of each row.
    val_size : float
        Fraction of each class's groups for validation; 0 disables validation.

    Returns
    -------
    train_idx, val_idx : np.ndarray of int
        Row indices, sorted.
    """
    if not 0.0 <= val_size < 1.0:
        raise ConfigError(f"val_size must be in [0, 1), got {val_size}")
    n = len(y)
    if val_size == 0:
        return np.arange(n), np.zeros(0, dtype=np.int64)
    ug, first, inv = np.unique(groups, return_index=True, return_inverse=True)
    g_label = np.asarray(y)[first]
    val_g = np.zeros(len(ug), dtype=bool)
    for c in np.unique(g_label):
        members = np.flatnonzero(g_label == c)
        if len(members) < 2:
            continue
        k = min(max(int(round(val_size * len(members))), 1), len(members) - 1)
        val_g[rng.permutation(members)[:k]] = True
    is_val = val_g[inv.reshape(-1)]
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)


def track_neighbours(groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of the previous and next row of the same track (``-1`` when there is none).

    Rows of a track are taken to be its consecutive segments in time order, as
    :func:`genrekit.training.extract_features` produces them.

    Returns
    -------
    prev, next : np.ndarray of int64, shape (n,)
    """
    groups = np.asarray(groups)
    n = len(groups)
    prev = np.full(n, -1, dtype=np.int64)
    nxt = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return prev, nxt
    _, codes = np.unique(groups, return_inverse=True)
    order = np.argsort(codes.reshape(-1), kind="stable")
    same = codes.reshape(-1)[order][1:] == codes.reshape(-1)[order][:-1]
    nxt[order[:-1][same]] = order[1:][same]
    prev[order[1:][same]] = order[:-1][same]
    return prev, nxt


def _class_weights(y: np.ndarray, n_classes: int, mode: str | None) -> np.ndarray:
    if mode is None:
        return np.ones(n_classes)
    if mode != "balanced":
        raise ConfigError(f"class_weight must be 'balanced' or None, got {mode!r}")
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    w = np.where(counts > 0, len(y) / (n_classes * np.maximum(counts, 1)), 0.0)
    return w


def _soft_ce(logits: torch.Tensor, targets: torch.Tensor, class_w: torch.Tensor) -> torch.Tensor:
    """Class-weighted cross-entropy with target distributions (equals torch's weighted CE for one-hot)."""
    per = -(targets * F.log_softmax(logits, dim=1)).sum(dim=1)
    w = targets @ class_w
    return (w * per).sum() / w.sum().clamp_min(1e-12)


def _resolve_threads(n_threads: int | None) -> int:
    """``n_threads``, else ``GENREKIT_TORCH_THREADS``, else every core."""
    value: Any = n_threads
    source = "n_threads"
    if value is None and os.environ.get("GENREKIT_TORCH_THREADS"):
        value, source = os.environ["GENREKIT_TORCH_THREADS"], "GENREKIT_TORCH_THREADS"
    if value is None:
        return int(os.cpu_count() or 1)
    try:
        n = int(value)
    except (TypeError, ValueError):
        n = 0
    if n < 1:
        raise ConfigError(f"{source} must be a positive integer, got {value!r}")
    return n


@contextlib.contextmanager
def _torch_context(n_threads: int | None, seed: int) -> Iterator[None]:
    """Thread count and a forked, seeded torch RNG for one ``fit``; both restored afterwards.

    ``torch.use_deterministic_algorithms`` is not switched on: it imports ``torch._inductor`` (several
    seconds), and the CPU kernels these networks use (linear, conv2d, batch-norm, pooling) are
    deterministic for a fixed thread count; ``tests/test_neural.py`` checks bit-identical refits.
    """
    prev_threads = torch.get_num_threads()
    n = _resolve_threads(n_threads)
    try:
        if n != prev_threads:
            torch.set_num_threads(n)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            yield
    finally:
        if torch.get_num_threads() != prev_threads:
            torch.set_num_threads(prev_threads)


class _Progress:
    """A rich progress bar over epochs, or nothing (not verbose, or stderr is not a terminal)."""

    def __init__(self, enabled: bool, total: int, title: str) -> None:
        self.bar = None
        if enabled and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[status]}"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=False,
            )
            self.task = self.bar.add_task(title, total=total, status="")
            self.bar.start()

    def update(self, status: str, *, total: int | None = None) -> None:
        if self.bar is not None:
            self.bar.update(self.task, advance=1, status=status, total=total)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


@dataclass
class _Best:
    """Best monitored loss so far, its (1-based, global) epoch and a copy of the weights then."""

    loss: float = math.inf
    epoch: int = 0
    state: dict[str, torch.Tensor] | None = None


def _set_bn_momentum(net: nn.Module, batches_per_epoch: int) -> None:
    """Let batch-norm running statistics average over about one epoch: momentum ``1 / batches`` in [0.1, 0.5].

    With PyTorch's default 0.1 and a small training set (2-3 batches per epoch) the statistics used in
    evaluation lag the weights by several epochs, and early validation (hence early stopping) sees a
    network that predicts one class. Large training sets keep the default.
    """
    momentum = float(min(0.5, max(0.1, 1.0 / max(1, batches_per_epoch))))
    for m in net.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.momentum = momentum


def _state_copy(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _batched_numpy(
    fn: Callable[[torch.Tensor], torch.Tensor], x: np.ndarray, batch: int, width: int
) -> np.ndarray:
    """``fn`` over the rows of ``x`` in batches of ``batch``, without gradients: shape (len(x), width)."""
    outs = []
    with torch.inference_mode():
        for s in range(0, len(x), batch):
            outs.append(fn(torch.from_numpy(np.ascontiguousarray(x[s : s + batch]))))
    return torch.cat(outs).numpy() if outs else np.zeros((0, width), dtype=np.float32)


def _frozen(net: nn.Module) -> nn.Module:
    """``net`` in evaluation mode with no parameter requiring gradients (a fitted, shared network)."""
    for p in net.parameters():
        p.requires_grad_(False)
    return net.eval()


def _tuple(v: Any) -> Any:
    return tuple(int(i) for i in v) if isinstance(v, (list, tuple)) else v


@dataclass(frozen=True, eq=False)
class _FitData:
    """What ``fit`` hands to ``_fit_impl``: the checked rows and everything derived from them.

    ``X`` float32 (n, bands * frames); ``y_idx`` label index per row; ``groups`` track id per row;
    ``tr`` / ``va`` the training / validation row indices; the batch ``augmenter``; the numpy ``rng``.
    """

    X: np.ndarray
    y_idx: np.ndarray
    groups: np.ndarray
    tr: np.ndarray
    va: np.ndarray
    augmenter: Augmenter
    rng: np.random.Generator


# --------------------------------------------------------------------------------------- base class
#: The estimators are :func:`~genrekit.models.estimator.estimator` dataclasses, so the training parameters
#: below are written once; each estimator adds its own parameters and re-declares the defaults it changes.


@estimator
class _TorchClassifier(ClassifierMixin, BaseEstimator):
    """Shared trainer, prediction and bundle logic; subclasses build the network.

    The training parameters (documented in :class:`~genrekit.models.neural.dnn.DNNClassifier`) are
    declared here with the ``dnn`` defaults.
    """

    epochs: int = 30
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-3
    dropout: float = 0.3
    patience: int | None = 5
    lr_schedule: str = "plateau"
    augment: str | tuple[str, ...] = ""
    augment_options: dict[str, Any] | None = None
    input_scale: str = "db"
    class_weight: str | None = "balanced"
    val_size: float = 0.15
    frame_shape: tuple[int, int] | None = None
    random_state: int | None = 0
    n_threads: int | None = None
    verbose: bool = True

    search_grid: ClassVar[dict[str, list[Any]]] = {}
    #: Parameters stored as tuples (JSON gives lists back).
    _tuple_params: ClassVar[tuple[str, ...]] = ("frame_shape",)
    _needs_matrix: ClassVar[bool] = True
    _standardise: ClassVar[bool] = True
    #: AdamW (decoupled weight decay) when True, Adam with an L2 penalty in the gradient when False.
    _decoupled_weight_decay: ClassVar[bool] = True

    # ---- validation ---------------------------------------------------------------------------------
    def _check_X(self, X: Any) -> np.ndarray:
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2:
            raise ModelError(
                f"{type(self).__name__} expects X of shape (n_segments, dim), got shape {X.shape}"
            )
        if not np.isfinite(X).all():
            raise ModelError("X holds NaN or infinite values")
        return X

    def _resolve_shape(self, dim: int) -> tuple[int, int]:
        shape = self.frame_shape
        if shape is None:
            if self._needs_matrix:
                raise ModelError(
                    f"{type(self).__name__} needs frame_shape=(bands, frames) to read its {dim}-value "
                    "rows as matrices: train it on 'logmel', 'mfcc' or 'musicnn-mel' features "
                    "(not summary features)"
                )
            return (dim, 1)
        shape = _tuple(shape)
        if len(shape) != 2 or min(shape) < 1 or shape[0] * shape[1] != dim:
            raise ModelError(
                f"frame_shape {shape} does not match rows of {dim} values (bands * frames = dim)"
            )
        return shape

    def _check_common_params(self) -> None:
        if self.lr_schedule not in LR_SCHEDULES:
            raise ConfigError(f"unknown lr_schedule {self.lr_schedule!r}; valid: {', '.join(LR_SCHEDULES)}")
        if self.input_scale not in SCALES:
            raise ConfigError(f"unknown input_scale {self.input_scale!r}; valid: {', '.join(SCALES)}")
        if int(self.epochs) < 1 or int(self.batch_size) < 2:
            raise ConfigError(
                f"epochs must be >= 1 and batch_size >= 2, got {self.epochs}, {self.batch_size}"
            )
        if not 0.0 <= float(self.dropout) < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}")

    # ---- to be provided by subclasses -------------------------------------------------------------
    def _architecture(self, shape: tuple[int, int], n_classes: int) -> dict[str, Any]:
        raise NotImplementedError

    def _build(self, arch: dict[str, Any]) -> nn.Module:
        raise NotImplementedError

    # ---- fit ----------------------------------------------------------------------------------------
    def fit(self, X: Any, y: Any, *, groups: Any = None, split_groups: Any = None) -> _TorchClassifier:
        """Train on segment features.

        Parameters
        ----------
        X : array-like, float32, shape (n_segments, bands * frames)
        y : array-like of str, shape (n_segments,)
        groups : array-like, shape (n_segments,), optional
            Track id of each row: the validation split keeps tracks whole, and the crop augmentation
            moves into the neighbouring segments of the track. None: every row is its own track.
        split_groups : array-like, shape (n_segments,), optional
            Coarser groups for the early-stopping holdout (artists, as every other split groups when
            they are known): no group on both sides. None: ``groups``.

        Returns
        -------
        self
        """
        self._check_common_params()
        X = self._check_X(X)
        y = np.asarray(y).astype(str)
        if len(y) != len(X):
            raise ModelError(f"X has {len(X)} rows but y has {len(y)} labels")
        classes, y_idx = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ModelError(f"training data has a single class ({classes.tolist()}); need at least two")
        groups = np.arange(len(X)).astype(str) if groups is None else np.asarray(groups).astype(str)
        if len(groups) != len(X):
            raise ModelError(f"groups has {len(groups)} entries for {len(X)} rows")
        shape = self._resolve_shape(X.shape[1])
        seed = 0 if self.random_state is None else int(self.random_state)
        rng = np.random.default_rng(seed)
        augmenter = Augmenter(
            self.augment, AugmentConfig.from_options(self.augment_options), scale=self.input_scale
        )
        holdout = groups if split_groups is None else np.asarray(split_groups).astype(str)
        if len(holdout) != len(X):
            raise ModelError(f"split_groups has {len(holdout)} entries for {len(X)} rows")
        tr, va = grouped_validation_split(y_idx, holdout, float(self.val_size), rng)
        self.classes_ = classes
        self.frame_shape_ = shape
        self.arch_ = self._architecture(shape, len(classes))
        self.val_groups_ = sorted(set(groups[va].tolist()))
        self.history_ = {"loss": [], "acc": [], "val_loss": [], "val_acc": [], "lr": []}
        self.epoch_times_s_: list[float] = []
        with _torch_context(self.n_threads, seed):
            self._fit_impl(_FitData(X, y_idx.reshape(-1), groups, tr, va, augmenter, rng))
        self.n_params_ = int(sum(p.numel() for p in self.net_.parameters()))
        return self

    def _standardiser(self, X: np.ndarray, rows: np.ndarray, shape: tuple[int, int]) -> None:
        b, f = shape
        if not self._standardise:
            self.norm_mean_ = np.zeros(b, dtype=np.float32)
            self.norm_std_ = np.ones(b, dtype=np.float32)
            return
        total, total_sq = np.zeros(b), np.zeros(b)
        for s in range(0, len(rows), 512):  # in chunks: a float64 copy of all rows could be GBs
            m = X[rows[s : s + 512]].reshape(-1, b, f).astype(np.float64)
            total += m.sum(axis=(0, 2))
            total_sq += (m**2).sum(axis=(0, 2))
        n = max(1, len(rows) * f)
        mean = total / n
        var = np.maximum(total_sq / n - mean**2, 0.0)
        self.norm_mean_ = mean.astype(np.float32)
        self.norm_std_ = np.sqrt(var + 1e-8).clip(1e-3).astype(np.float32)

    def _normalise(self, x: np.ndarray) -> np.ndarray:
        return (x - self.norm_mean_[None, :, None]) / self.norm_std_[None, :, None]

    def _batch_maker(
        self, data: _FitData, augmenter: Augmenter
    ) -> Callable[[np.ndarray, np.random.Generator], tuple[np.ndarray, np.ndarray]]:
        """``make(idx, rng) -> (inputs (B, bands, frames), soft targets (B, n_classes))``, augmented."""
        X, y_idx = data.X, data.y_idx
        b, f = self.frame_shape_
        prev, nxt = track_neighbours(data.groups)
        eye = np.eye(len(self.classes_), dtype=np.float32)
        crop = "crop" in augmenter.names

        def make(idx: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
            x = X[idx].reshape(len(idx), b, f)
            if crop:
                p, n = prev[idx], nxt[idx]
                x = augmenter.crop(
                    x,
                    rng,
                    prev=X[np.maximum(p, 0)].reshape(len(idx), b, f),
                    next_=X[np.maximum(n, 0)].reshape(len(idx), b, f),
                    has_prev=p >= 0,
                    has_next=n >= 0,
                )
            x = augmenter.before_standardise(x, rng)
            x = augmenter.after_standardise(self._normalise(x).astype(np.float32), rng)
            return augmenter.mix(x, eye[y_idx[idx]], rng)

        return make

    def _fit_impl(self, data: _FitData) -> None:
        self._standardiser(data.X, data.tr, self.frame_shape_)
        self.net_ = self._build(self.arch_)
        make = self._batch_maker(data, data.augmenter)
        b, f = self.frame_shape_
        va = data.va
        x_val = self._normalise(data.X[va].reshape(len(va), b, f)).astype(np.float32) if len(va) else None
        all_lr = {"params": list(self.net_.parameters()), "lr": float(self.lr)}
        best = self._train_stage(
            self.net_, [all_lr], data, make, x_val, int(self.epochs), _Best(), type(self).__name__
        )
        if best.state is not None:
            self.net_.load_state_dict(best.state)
        self.best_epoch_ = best.epoch
        self.net_.eval()

    def _train_stage(
        self,
        net: nn.Module,
        param_groups: list[dict[str, Any]],
        data: _FitData,
        make_batch: Callable[[np.ndarray, np.random.Generator], tuple[np.ndarray, np.ndarray]],
        x_val: np.ndarray | None,
        epochs: int,
        best: _Best,
        title: str,
    ) -> _Best:
        """Run up to ``epochs`` epochs with early stopping; return the best epoch seen (weights copied).

        Batches are ``make_batch(rows, data.rng)`` of the training rows ``data.tr``; ``x_val`` holds the
        network inputs of the validation rows ``data.va`` (None: no validation). The monitored quantity is
        the validation loss, or the training loss when there is no validation split. ``best`` carries the
        best of an earlier stage, so a stage that never beats it keeps ``best.state`` of that stage (the
        caller decides what to restore).
        """
        train_rows, rng, y_val = data.tr, data.rng, data.y_idx[data.va]
        class_w = _class_weights(data.y_idx[data.tr], len(self.classes_), self.class_weight)
        opt_cls = torch.optim.AdamW if self._decoupled_weight_decay else torch.optim.Adam
        opt = opt_cls(param_groups, weight_decay=float(self.weight_decay))
        sched: Any = None
        patience = int(self.patience) if self.patience else 0
        if self.lr_schedule == "plateau":
            sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
                opt, mode="min", factor=0.5, patience=max(1, patience // 2)
            )
        elif self.lr_schedule == "cosine":
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
        cw = torch.as_tensor(class_w, dtype=torch.float32)
        bs = int(self.batch_size)
        _set_bn_momentum(net, math.ceil(len(train_rows) / bs))
        stale = 0
        progress = _Progress(bool(self.verbose), epochs, title)
        try:
            for _ in range(epochs):
                t0 = time.perf_counter()
                net.train()
                perm = train_rows[rng.permutation(len(train_rows))]
                tot_loss = tot_w = 0.0
                correct = seen = 0
                for start in range(0, len(perm), bs):
                    idx = perm[start : start + bs]
                    if len(idx) < 2:  # batch-norm cannot train on a single example
                        continue
                    xb, tb = make_batch(idx, rng)
                    xt, tt = torch.from_numpy(np.ascontiguousarray(xb)), torch.from_numpy(tb)
                    logits = net(xt)
                    loss = _soft_ce(logits, tt, cw)
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    nn.utils.clip_grad_norm_(net.parameters(), _CLIP_NORM)
                    opt.step()
                    w = float((tt @ cw).sum())
                    tot_loss += float(loss.detach()) * w
                    tot_w += w
                    correct += int((logits.detach().argmax(1) == tt.argmax(1)).sum())
                    seen += len(idx)
                train_loss = tot_loss / max(tot_w, 1e-12)
                self.history_["loss"].append(train_loss)
                self.history_["acc"].append(correct / max(seen, 1))
                self.history_["lr"].append(float(opt.param_groups[-1]["lr"]))
                monitored = train_loss
                status = f"loss {train_loss:.3f}"
                if x_val is not None and len(x_val):
                    val_loss, val_acc = self._evaluate(net, x_val, y_val, cw)
                    self.history_["val_loss"].append(val_loss)
                    self.history_["val_acc"].append(val_acc)
                    monitored = val_loss
                    status += f"  val_loss {val_loss:.3f}  val_acc {val_acc:.3f}"
                epoch = len(self.history_["loss"])
                self.epoch_times_s_.append(time.perf_counter() - t0)
                log.debug("%s epoch %d: %s", title, epoch, status)
                progress.update(f"epoch {epoch}  {status}")
                if monitored < best.loss - _MIN_DELTA:
                    best = _Best(monitored, epoch, _state_copy(net))
                    stale = 0
                else:
                    stale += 1
                if isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau):
                    sched.step(monitored)
                elif sched is not None:
                    sched.step()
                if patience and stale >= patience:
                    break
        finally:
            progress.close()
        return best

    def _forward_numpy(self, net: nn.Module, x: np.ndarray) -> np.ndarray:
        """Logits of standardised inputs, in batches, without gradients."""
        return _batched_numpy(net, x, _PREDICT_BATCH, len(self.classes_))

    def _evaluate(
        self, net: nn.Module, x: np.ndarray, y: np.ndarray, cw: torch.Tensor
    ) -> tuple[float, float]:
        net.eval()
        logits = torch.from_numpy(self._forward_numpy(net, x))
        targets = F.one_hot(torch.from_numpy(np.asarray(y, dtype=np.int64)), len(self.classes_)).float()
        loss = float(_soft_ce(logits, targets, cw))
        acc = float((logits.argmax(1).numpy() == y).mean())
        return loss, acc

    # ---- predict ------------------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "net_"):
            raise ModelError(f"this {type(self).__name__} is not fitted yet; call fit first")

    def _inputs(self, X: Any) -> np.ndarray:
        X = self._check_X(X)
        b, f = self.frame_shape_
        if X.shape[1] != b * f:
            raise ModelError(f"X rows have {X.shape[1]} values; the model was trained on {b}x{f} = {b * f}")
        x = X.reshape(len(X), b, f)
        return self._normalise(x).astype(np.float32) if self._standardise else x

    def decision_function(self, X: Any) -> np.ndarray:
        """Logits, shape (n_segments, n_classes)."""
        self._check_fitted()
        self.net_.eval()
        return self._forward_numpy(self.net_, self._inputs(X))

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities per segment.

        Parameters
        ----------
        X : array-like, float32, shape (n_segments, bands * frames)

        Returns
        -------
        np.ndarray, float64, shape (n_segments, n_classes)
            Rows sum to 1, columns in ``classes_`` order.
        """
        logits = torch.from_numpy(self.decision_function(X)).double()
        return torch.softmax(logits, dim=1).numpy()

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of each segment, shape (n_segments,)."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    # ---- bundles ------------------------------------------------------------------------------------
    def _extra_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return {}, {f"net.{k}": v.detach().numpy() for k, v in self.net_.state_dict().items()}

    def bundle_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """The JSON-ready config (class, parameters, classes, architecture, training curves) and the tensors.

        Returns
        -------
        config : dict
        tensors : dict of str to np.ndarray
            ``net.*`` (the network's state dict), ``norm.mean`` / ``norm.std`` (per-band standardisation).
        """
        self._check_fitted()
        extra, tensors = self._extra_state()
        tensors["norm.mean"] = np.asarray(self.norm_mean_, dtype=np.float32)
        tensors["norm.std"] = np.asarray(self.norm_std_, dtype=np.float32)
        config = {
            "estimator": type(self).__name__,
            "params": to_jsonable(self.get_params()),
            "classes": [str(c) for c in self.classes_],
            "frame_shape": list(self.frame_shape_),
            "architecture": to_jsonable(self.arch_),
            "best_epoch": int(self.best_epoch_),
            "history": to_jsonable(self.history_),
            "epoch_times_s": to_jsonable(self.epoch_times_s_),
            "n_params": int(self.n_params_),
            **extra,
        }
        return config, {k: np.ascontiguousarray(v) for k, v in tensors.items()}

    @classmethod
    def from_bundle_state(cls, config: dict[str, Any], tensors: dict[str, np.ndarray]) -> _TorchClassifier:
        """Rebuild a fitted estimator from :meth:`bundle_state` output (no pickle: config + tensors).

        Raises
        ------
        ModelError
            The config is for another class, has unknown parameters, or the tensors do not fit the
            architecture.
        """
        if config.get("estimator") != cls.__name__:
            raise ModelError(f"bundle holds a {config.get('estimator')!r} model, not a {cls.__name__}")
        params = dict(config.get("params", {}))
        for k in cls._tuple_params:
            if params.get(k) is not None:
                params[k] = _tuple(params[k])
        if isinstance(params.get("augment"), list):
            params["augment"] = tuple(params["augment"])
        try:
            est = cls(**params)
        except TypeError as exc:
            raise ModelError(f"bundle parameters do not fit {cls.__name__}: {exc}") from None
        try:
            est.classes_ = np.asarray(config["classes"], dtype=str)
            est.frame_shape_ = _tuple(config["frame_shape"])
            est.arch_ = dict(config["architecture"])
            est.best_epoch_ = int(config.get("best_epoch", 0))
            est.history_ = {k: list(v) for k, v in config.get("history", {}).items()}
            est.epoch_times_s_ = list(config.get("epoch_times_s", []))
            est.norm_mean_ = np.asarray(tensors["norm.mean"], dtype=np.float32)
            est.norm_std_ = np.asarray(tensors["norm.std"], dtype=np.float32)
        except KeyError as exc:
            raise ModelError(f"bundle model config lacks {exc}") from None
        est._restore_net(config, tensors)
        est.n_params_ = int(sum(p.numel() for p in est.net_.parameters()))
        return est

    def _restore_net(self, config: dict[str, Any], tensors: dict[str, np.ndarray]) -> None:
        self.net_ = self._build(self.arch_)
        _load_state(self.net_, tensors, "net.")
        self.net_.eval()


def _load_state(module: nn.Module, tensors: dict[str, np.ndarray], prefix: str) -> None:
    state = {
        k[len(prefix) :]: torch.from_numpy(np.array(v, copy=True))
        for k, v in tensors.items()
        if k.startswith(prefix)
    }
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0:3]
        raise ModelError(
            f"bundle weights do not fit the architecture in bundle.json: {' '.join(first)}"
        ) from None
