"""``cnn``: a small 2-D convolutional network on log-mel or MFCC segments."""

from __future__ import annotations

from typing import Any, ClassVar

from torch import nn

from genrekit.errors import ConfigError
from genrekit.models.estimator import estimator
from genrekit.models.neural.nets import ConvNet, auto_input_pool, conv_pools
from genrekit.models.neural.trainer import _TorchClassifier, _tuple


# ------------------------------------------------------------------------------------------------ cnn
@estimator
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

    channels: tuple[int, ...] = (16, 32, 64, 64)
    input_pool: tuple[int, int] | None = None
    # training defaults that differ from the shared ones (dnn's)
    epochs: int = 40
    lr: float = 3e-3
    weight_decay: float = 1e-4
    patience: int | None = 6

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
