"""``musicnn-finetune``: the pretrained MSD_musicnn up to its penultimate layer, plus a new head."""

from __future__ import annotations

import copy
import time
from typing import Any, ClassVar

import numpy as np
from torch import nn

from genrekit.errors import ConfigError, ModelError
from genrekit.models.augment import Augmenter
from genrekit.models.estimator import estimator
from genrekit.models.neural.nets import MusicnnFinetuneNet, _head
from genrekit.models.neural.trainer import (
    _batched_numpy,
    _Best,
    _FitData,
    _frozen,
    _load_state,
    _TorchClassifier,
)


# ----------------------------------------------------------------------------------- musicnn finetune
@estimator
class MusicnnFinetuneClassifier(_TorchClassifier):
    """The pretrained musicnn with a new head for the user's genres (``musicnn-finetune``).

    Input: ``musicnn-mel`` rows (96 x 187 log-compressed mel patches at 16 kHz, bands first). The backbone
    is musicnn up to its penultimate layer (200 units after batch-norm, the representation the ``musicnn``
    feature extractors expose and the one trained to separate its mostly genre-like tags); the head is
    ``dropout -> [Linear -> ReLU -> dropout] * len(head_units) -> Linear``.

    Stage 1 trains the head only. The backbone is frozen, so its features are computed once per patch
    (and, when augmentations are on, for ``augment_views`` augmented copies of every training patch, one
    of which is drawn per example and epoch); mixup then acts on those features. Stage 2
    (``unfreeze_epochs > 0``) trains the whole network end to end at ``lr * backbone_lr_scale`` for the
    backbone and ``lr`` for the head, with the augmentations on the patches; it costs about 3 forward
    passes of musicnn per patch and epoch, so keep it short on a CPU. If stage 2 never lowers the
    validation loss, the stage-1 model (pretrained backbone) is kept.

    Parameters
    ----------
    backbone : {"MSD_musicnn", "MTT_musicnn"}
        Pretrained weights (read from the installed ``musicnn`` package).
    head_units : tuple of int
        Hidden layers of the head (empty: one linear layer).
    unfreeze_epochs : int
        Epochs of stage 2.
    backbone_lr_scale : float
        Backbone learning rate relative to ``lr`` in stage 2.
    augment_views : int
        Augmented copies per training patch in stage 1 (only when augmentations are on).
    epochs, batch_size, lr, weight_decay, dropout, patience, lr_schedule, augment, augment_options,
    input_scale, class_weight, val_size, frame_shape, random_state, n_threads, verbose
        As for :class:`CNNClassifier`; ``epochs`` is for stage 1 (cheap: the head alone, on cached backbone
        features), ``input_scale`` is ``"log1p"`` (musicnn's compression), ``frame_shape`` defaults to
        ``(96, dim // 96)``.
    """

    search_grid: ClassVar[dict[str, list[Any]]] = {"dropout": [0.3, 0.5], "lr": [3e-3, 1e-2]}
    _tuple_params: ClassVar[tuple[str, ...]] = ("frame_shape", "head_units")
    _standardise: ClassVar[bool] = False

    backbone: str = "MSD_musicnn"
    head_units: tuple[int, ...] = ()
    unfreeze_epochs: int = 0
    backbone_lr_scale: float = 0.1
    augment_views: int = 2
    input_scale: str = "log1p"  # musicnn-mel patches are log-compressed, not dB
    # training defaults that differ from the shared ones (dnn's)
    epochs: int = 150
    lr: float = 3e-3
    weight_decay: float = 1e-4
    dropout: float = 0.5
    patience: int | None = 10

    _BACKBONES: ClassVar[tuple[str, ...]] = ("MSD_musicnn", "MTT_musicnn")
    _EMBED_DIM: ClassVar[int] = 200
    _EMBED_BATCH: ClassVar[int] = 32

    def _resolve_shape(self, dim: int) -> tuple[int, int]:
        if self.frame_shape is None:
            if dim % 96:
                raise ModelError(
                    f"musicnn-finetune needs 'musicnn-mel' features (96 mel bands x frames per row); "
                    "got rows "
                    f"of {dim} values"
                )
            return (96, dim // 96)
        shape = super()._resolve_shape(dim)
        if shape[0] != 96:
            raise ModelError(
                f"musicnn-finetune needs 96 mel bands (musicnn-mel features), got frame_shape {shape}"
            )
        return shape

    def _architecture(self, shape: tuple[int, int], n_classes: int) -> dict[str, Any]:
        if self.backbone not in self._BACKBONES:
            raise ConfigError(
                f"unknown musicnn backbone {self.backbone!r}; valid: {', '.join(self._BACKBONES)}"
            )
        return {
            "type": "musicnn-finetune",
            "backbone": self.backbone,
            "embedding": "penultimate",
            "embed_dim": self._EMBED_DIM,
            "head_units": [int(h) for h in self.head_units],
            "n_classes": int(n_classes),
            "dropout": float(self.dropout),
        }

    def _pretrained(self) -> nn.Module:
        from genrekit.features.musicnn.network import load_musicnn

        return load_musicnn(self.arch_["backbone"])

    def _build(self, arch: dict[str, Any], *, trainable_backbone: bool = False) -> MusicnnFinetuneNet:
        backbone = self._pretrained()
        if trainable_backbone:  # the cached pretrained module is shared: fine-tune a private copy
            backbone = copy.deepcopy(backbone)
            for p in backbone.parameters():
                p.requires_grad_(True)
        head = _head(
            int(arch["embed_dim"]), tuple(arch["head_units"]), int(arch["n_classes"]), float(arch["dropout"])
        )
        return MusicnnFinetuneNet(backbone, head)

    def _embed(self, net: MusicnnFinetuneNet, x: np.ndarray) -> np.ndarray:
        return _batched_numpy(net.embed, x, self._EMBED_BATCH, self._EMBED_DIM)

    def _fit_impl(self, data: _FitData) -> None:
        X, tr, va, augmenter = data.X, data.tr, data.va, data.augmenter
        b, f = self.frame_shape_
        self._standardiser(X, tr, self.frame_shape_)  # identity: musicnn normalises its own input
        net = self._build(self.arch_)
        net.eval()
        make_patches = self._batch_maker(data, augmenter)
        no_mix = Augmenter(
            [a for a in augmenter.names if a != "mixup"], augmenter.config, scale=augmenter.scale
        )
        make_clean = self._batch_maker(data, no_mix)
        # ---- stage 1: frozen backbone, features computed once (plus augmented views)
        t0 = time.perf_counter()
        clean = self._embed(net, X[tr].reshape(len(tr), b, f))
        views = [clean]
        if no_mix:
            for _ in range(max(0, int(self.augment_views))):
                batches = (make_clean(tr[s : s + 256], data.rng)[0] for s in range(0, len(tr), 256))
                parts = [self._embed(net, x) for x in batches]
                views.append(np.concatenate(parts))
        emb = np.stack(views)  # (n_views, n_train, 200)
        emb_val = self._embed(net, X[va].reshape(len(va), b, f)) if len(va) else None
        self.embed_time_s_ = time.perf_counter() - t0
        pos = np.full(len(X), -1, dtype=np.int64)
        pos[tr] = np.arange(len(tr))
        eye = np.eye(len(self.classes_), dtype=np.float32)

        def make_emb(idx: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
            v = rng.integers(0, len(emb), size=len(idx))
            return augmenter.mix(emb[v, pos[idx]], eye[data.y_idx[idx]], rng)

        head_lr = {"params": list(net.head.parameters()), "lr": float(self.lr)}
        best = self._train_stage(
            net.head, [head_lr], data, make_emb, emb_val, int(self.epochs), _Best(), "musicnn-finetune head"
        )
        if best.state is not None:
            net.head.load_state_dict(best.state)
        self.best_epoch_ = best.epoch
        self.stage1_epochs_ = len(self.history_["loss"])
        self.backbone_trained_ = False
        # ---- stage 2: unfreeze the backbone at a lower learning rate
        if int(self.unfreeze_epochs) > 0:
            full = self._build(self.arch_, trainable_backbone=True)
            full.head.load_state_dict(net.head.state_dict())
            x_val = X[va].reshape(len(va), b, f) if len(va) else None
            backbone_lr = {
                "params": list(full.backbone.parameters()),
                "lr": float(self.lr) * float(self.backbone_lr_scale),
            }
            head_lr = {"params": list(full.head.parameters()), "lr": float(self.lr)}
            stage1 = _Best(best.loss, best.epoch, None)  # stage 2 must beat stage 1 to be kept
            epochs, title = int(self.unfreeze_epochs), "musicnn-finetune (unfrozen)"
            groups = [backbone_lr, head_lr]
            best2 = self._train_stage(full, groups, data, make_patches, x_val, epochs, stage1, title)
            if best2.state is not None:  # stage 2 improved on stage 1
                full.load_state_dict(best2.state)
                net = full
                self.best_epoch_ = best2.epoch
                self.backbone_trained_ = True
        self.net_ = _frozen(net)

    def _extra_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        tensors = {f"head.{k}": v.detach().numpy() for k, v in self.net_.head.state_dict().items()}
        if self.backbone_trained_:
            tensors.update(
                {f"backbone.{k}": v.detach().numpy() for k, v in self.net_.backbone.state_dict().items()}
            )
            how = f"{self.arch_['backbone']} pretrained, then fine-tuned (weights in model.safetensors)"
        else:
            how = f"{self.arch_['backbone']} pretrained (rebuilt from the musicnn package)"
        return {"backbone": how, "backbone_trained": bool(self.backbone_trained_)}, tensors

    def _restore_net(self, config: dict[str, Any], tensors: dict[str, np.ndarray]) -> None:
        self.backbone_trained_ = bool(config.get("backbone_trained", False))
        net = self._build(self.arch_, trainable_backbone=self.backbone_trained_)
        _load_state(net.head, tensors, "head.")
        if self.backbone_trained_:
            _load_state(net.backbone, tensors, "backbone.")
        self.net_ = _frozen(net)
