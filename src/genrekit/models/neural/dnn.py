"""``dnn``: dense ReLU layers on flattened, per-band standardised segment matrices (MFCC by default)."""

from __future__ import annotations

from typing import Any, ClassVar

from torch import nn

from genrekit.errors import ConfigError
from genrekit.models.estimator import estimator
from genrekit.models.neural.nets import DenseNet
from genrekit.models.neural.trainer import _TorchClassifier


# ------------------------------------------------------------------------------------------------ dnn
@estimator
class DNNClassifier(_TorchClassifier):
    """Dense network on flattened segment matrices (``dnn``): MFCC segments in the classic recipe.

    Parameters
    ----------
    hidden_units : tuple of int
        Width of each hidden layer.
    epochs, batch_size, lr, weight_decay, dropout, patience
        Training: at most ``epochs`` passes of Adam with learning rate ``lr`` and L2 regularisation
        ``weight_decay`` (added to the gradient as ``weight_decay * w``), dropout after every hidden layer,
        early stopping after ``patience`` epochs without a lower validation loss (0 or None: never stop
        early; the best epoch is restored either way).
    lr_schedule : {"plateau", "cosine", "none"}
    augment : str or tuple of str
        Augmentations for training batches, e.g. ``"reverse,specaugment,mixup,gain,noise,crop"``; ``""``
        for none (see :mod:`genrekit.models.augment`).
    augment_options : dict, optional
        Overrides of :class:`~genrekit.models.augment.AugmentConfig` (``{"snr_db": [5, 20]}``, ...).
    input_scale : {"db", "mfcc", "log1p"}
        Scale of the features, for the gain and noise augmentations (``"mfcc"`` for MFCC segments).
    class_weight : {"balanced", None}
    val_size : float
        Fraction of training tracks (per class) held out for early stopping; 0 for none.
    frame_shape : (bands, frames) or None
        Shape of each row's matrix; None treats rows as plain vectors (any features).
    random_state : int
    n_threads : int or None
        Torch threads during ``fit`` (None: ``GENREKIT_TORCH_THREADS`` when set, else all cores);
        restored afterwards.
    verbose : bool
        Progress bar on a terminal.
    """

    search_grid: ClassVar[dict[str, list[Any]]] = {"dropout": [0.3, 0.5], "weight_decay": [1e-4, 1e-3]}
    _tuple_params: ClassVar[tuple[str, ...]] = ("frame_shape", "hidden_units")
    _needs_matrix: ClassVar[bool] = False
    _decoupled_weight_decay: ClassVar[bool] = False

    hidden_units: tuple[int, ...] = (512, 256, 64)

    def _architecture(self, shape: tuple[int, int], n_classes: int) -> dict[str, Any]:
        hidden = [int(h) for h in self.hidden_units]
        if any(h < 1 for h in hidden):
            raise ConfigError(f"hidden_units must be positive, got {self.hidden_units}")
        return {
            "type": "dense",
            "in_dim": int(shape[0] * shape[1]),
            "hidden": hidden,
            "n_classes": int(n_classes),
            "dropout": float(self.dropout),
        }

    def _build(self, arch: dict[str, Any]) -> nn.Module:
        return DenseNet(
            int(arch["in_dim"]), tuple(arch["hidden"]), int(arch["n_classes"]), float(arch["dropout"])
        )
