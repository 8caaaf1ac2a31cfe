"""``cnn``: a small 2-D convolutional network on log-mel or MFCC segments."""

from __future__ import annotations

from typing import Any, ClassVar

from torch import nn

from genrekit.errors import ConfigError
from genrekit.models.neural.nets import ConvNet, auto_input_pool, conv_pools
from genrekit.models.neural.trainer import _TorchClassifier, _tuple


# ------------------------------------------------------------------------------------------------ cnn
class CNNClassifier(_TorchClassifier):
    """2-D convolutional network over log-mel or MFCC segments (``cnn``).

    Parameters
    ----------
    channels : tuple of int
        Output channels of each conv block (``3x3 conv -> batch-norm -> ReLU -> 2x2 max-pool``).
    input_pool : (int, int) or None
        Average-pooling (bands, frames) of the standardised input before the first block; None picks
        :func:`auto_input_pool` (2x2 for a 128 x 130 log-mel, none for MFCCs).
    epochs, batch_size, lr, weight_decay, dropout, patience, lr_schedule, augment, augment_options,
    input_scale, class_weight, val_size, frame_shape, random_state, n_threads, verbose
        As for :class:`DNNClassifier`, except that ``weight_decay`` is AdamW's decoupled weight decay;
        ``frame_shape`` is required (set from the extractor by ``train``).
    """

    search_grid: ClassVar[dict[str, list[Any]]] = {"lr": [1e-3, 3e-3], "dropout": [0.2, 0.4]}
    _tuple_params: ClassVar[tuple[str, ...]] = ("frame_shape", "channels", "input_pool")

    def __init__(
        self,
        *,
        channels: tuple[int, ...] = (16, 32, 64, 64),
        input_pool: tuple[int, int] | None = None,
        epochs: int = 40,
        batch_size: int = 64,
        lr: float = 3e-3,
        weight_decay: float = 1e-4,
        dropout: float = 0.3,
        patience: int | None = 6,
        lr_schedule: str = "plateau",
        augment: str | tuple[str, ...] = "",
        augment_options: dict[str, Any] | None = None,
        input_scale: str = "db",
        class_weight: str | None = "balanced",
        val_size: float = 0.15,
        frame_shape: tuple[int, int] | None = None,
        random_state: int | None = 0,
        n_threads: int | None = None,
        verbose: bool = True,
    ) -> None:
        self.channels = channels
        self.input_pool = input_pool
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.dropout = dropout
        self.patience = patience
        self.lr_schedule = lr_schedule
        self.augment = augment
        self.augment_options = augment_options
        self.input_scale = input_scale
        self.class_weight = class_weight
        self.val_size = val_size
        self.frame_shape = frame_shape
        self.random_state = random_state
        self.n_threads = n_threads
        self.verbose = verbose

    def _architecture(self, shape: tuple[int, int], n_classes: int) -> dict[str, Any]:
        channels = [int(c) for c in self.channels]
        if not channels or any(c < 1 for c in channels):
            raise ConfigError(f"channels must be a non-empty tuple of positive ints, got {self.channels}")
        ip = auto_input_pool(*shape) if self.input_pool is None else _tuple(self.input_pool)
        if len(ip) != 2 or min(ip) < 1 or ip[0] > shape[0] or ip[1] > shape[1]:
            raise ConfigError(f"input_pool must be two ints in [1, (bands, frames) = {shape}], got {ip}")
        return {
            "type": "conv2d",
            "bands": int(shape[0]),
            "frames": int(shape[1]),
            "input_pool": list(ip),
            "channels": channels,
            "pools": [list(p) for p in conv_pools(shape[0] // ip[0], shape[1] // ip[1], len(channels))],
            "pooling": "avg+max",
            "n_classes": int(n_classes),
            "dropout": float(self.dropout),
        }

    def _build(self, arch: dict[str, Any]) -> nn.Module:
        return ConvNet(
            tuple(arch["channels"]),
            [tuple(p) for p in arch["pools"]],
            int(arch["n_classes"]),
            float(arch["dropout"]),
            tuple(arch.get("input_pool", (1, 1))),
        )
