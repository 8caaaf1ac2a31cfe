"""Torch genre classifiers with the scikit-learn interface: ``dnn``, ``cnn`` and ``musicnn-finetune``.

All three take segment features as ``X`` of shape ``(n_segments, bands * frames)`` float32 (each row a
flattened ``(bands, frames)`` matrix, as the ``logmel``, ``mfcc`` and ``musicnn-mel`` extractors produce;
``frame_shape`` gives the shape back) and follow the scikit-learn contract (``fit`` returns ``self``,
``predict_proba`` rows sum to 1, ``classes_`` sorted labels), so ``train``, ``compare``, ``evaluate`` and
``classify`` use them like the classical pipelines; segment probabilities are aggregated to tracks the
same way.

Networks
--------
``dnn`` (:class:`DNNClassifier`)
    Dense ReLU layers on the flattened, per-band standardised matrix (MFCC segments by default), dropout
    after each, L2 regularisation through ``weight_decay``.
``cnn`` (:class:`CNNClassifier`)
    Blocks of ``3x3 conv -> batch-norm -> ReLU -> 2x2 max-pool`` (16-32-64-64 channels), global average
    and max pooling, dropout, one linear layer; on log-mel or MFCC segments.
``musicnn-finetune`` (:class:`MusicnnFinetuneClassifier`)
    The pretrained musicnn (``MSD_musicnn``) up to its 200-unit penultimate layer, plus a new head.

The trainer (shared)
--------------------
- validation split from the training rows, grouped by track (``groups``) and stratified by label;
- Adam with an L2 penalty for ``dnn`` (``weight_decay * w`` added to the gradient, i.e.
  ``weight_decay / 2 * ||w||^2`` added to the loss), AdamW (decoupled weight decay) for the networks with
  batch-norm; class-weighted (``"balanced"``) soft-target cross-entropy (soft because of mixup);
  gradient-norm clipping at 5;
- a learning-rate schedule (``"plateau"``: halve after ``patience // 2`` epochs without improvement,
  ``"cosine"``, or ``"none"``); early stopping after ``patience`` epochs without a lower validation loss,
  restoring the weights of the best epoch (``best_epoch_``, 1-based);
- augmentations (:mod:`genrekit.models.augment`) on training batches only;
- deterministic for a given ``random_state`` and ``n_threads``: the torch RNG is forked and seeded (the
  global torch RNG state is left as it was), numpy uses its own ``Generator``; the thread count is set
  for ``fit`` only and restored afterwards;
- ``history_``: per-epoch ``loss``, ``acc`` (training, on augmented batches), ``val_loss``, ``val_acc``,
  ``lr`` (the format of :func:`genrekit.report.plot_history`); ``epoch_times_s_`` per epoch;
- a rich progress bar (epoch, loss, validation accuracy) when ``verbose`` and stderr is a terminal.

Bundles hold the weights as safetensors and the architecture in ``bundle.json``
(:meth:`bundle_state` / :meth:`from_bundle_state`); loading rebuilds the network from that config.

Layout
------
``nets`` (the torch modules) and ``trainer`` (the shared fit/predict loop, ``_TorchClassifier``) below
one module per estimator: ``dnn``, ``cnn``, ``finetune``. This module re-exports the public names.
"""

from __future__ import annotations

from genrekit.models.neural.cnn import CNNClassifier
from genrekit.models.neural.dnn import DNNClassifier
from genrekit.models.neural.finetune import MusicnnFinetuneClassifier
from genrekit.models.neural.nets import ConvNet, DenseNet, MusicnnFinetuneNet, auto_input_pool, conv_pools
from genrekit.models.neural.trainer import LR_SCHEDULES, grouped_validation_split, track_neighbours

__all__ = [
    "CNNClassifier",
    "auto_input_pool",
    "conv_pools",
    "ConvNet",
    "DNNClassifier",
    "DenseNet",
    "LR_SCHEDULES",
    "MusicnnFinetuneClassifier",
    "MusicnnFinetuneNet",
    "grouped_validation_split",
    "track_neighbours",
]
