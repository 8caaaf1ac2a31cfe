"""``musicnn-finetune``: the pretrained MSD_musicnn up to its penultimate layer, plus a new head."""

from __future__ import annotations

import copy
import time
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from genrekit.errors import ConfigError, ModelError
from genrekit.models.augment import Augmenter
from genrekit.models.neural.nets import MusicnnFinetuneNet, _head
from genrekit.models.neural.trainer import _Best, _class_weights, _load_state, _TorchClassifier


# ----------------------------------------------------------------------------------- musicnn finetune
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

    def __init__(
        self,
        *,
        backbone: str = "MSD_musicnn",
        head_units: tuple[int, ...] = (),
        unfreeze_epochs: int = 0,
        backbone_lr_scale: float = 0.1,
        augment_views: int = 2,
        epochs: int = 150,
        batch_size: int = 64,
        lr: float = 3e-3,
        weight_decay: float = 1e-4,
        dropout: float = 0.5,
        patience: int | None = 10,
        lr_schedule: str = "plateau",
        augment: str | tuple[str, ...] = "",
        augment_options: dict[str, Any] | None = None,
        input_scale: str = "log1p",
        class_weight: str | None = "balanced",
        val_size: float = 0.15,
        frame_shape: tuple[int, int] | None = None,
        random_state: int | None = 0,
        n_threads: int | None = None,
        verbose: bool = True,
    ) -> None:
        self.backbone = backbone
        self.head_units = head_units
        self.unfreeze_epochs = unfreeze_epochs
        self.backbone_lr_scale = backbone_lr_scale
        self.augment_views = augment_views
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
        outs = []
        with torch.inference_mode():
            for s in range(0, len(x), self._EMBED_BATCH):
                outs.append(net.embed(torch.from_numpy(np.ascontiguousarray(x[s : s + self._EMBED_BATCH]))))
        return torch.cat(outs).numpy() if outs else np.zeros((0, self._EMBED_DIM), dtype=np.float32)

    def _fit_impl(
        self,
        X: np.ndarray,
        y_idx: np.ndarray,
        groups: np.ndarray,
        tr: np.ndarray,
        va: np.ndarray,
        augmenter: Augmenter,
        rng: np.random.Generator,
    ) -> None:
        n_classes = len(self.classes_)
        b, f = self.frame_shape_
        self._standardiser(X, tr, self.frame_shape_)  # identity: musicnn normalises its own input
        net = self._build(self.arch_)
        net.eval()
        make_patches = self._batch_maker(X, y_idx, groups, augmenter, n_classes)
        no_mix = Augmenter(
            [a for a in augmenter.names if a != "mixup"], augmenter.config, scale=augmenter.scale
        )
        make_clean = self._batch_maker(X, y_idx, groups, no_mix, n_classes)
        # ---- stage 1: frozen backbone, features computed once (plus augmented views)
        t0 = time.perf_counter()
        clean = self._embed(net, X[tr].reshape(len(tr), b, f))
        views = [clean]
        if no_mix:
            for _ in range(max(0, int(self.augment_views))):
                parts = [
                    self._embed(net, make_clean(tr[s : s + 256], rng)[0]) for s in range(0, len(tr), 256)
                ]
                views.append(np.concatenate(parts))
        emb = np.stack(views)  # (n_views, n_train, 200)
        emb_val = self._embed(net, X[va].reshape(len(va), b, f)) if len(va) else None
        self.embed_time_s_ = time.perf_counter() - t0
        pos = np.full(len(X), -1, dtype=np.int64)
        pos[tr] = np.arange(len(tr))
        eye = np.eye(n_classes, dtype=np.float32)

        def make_emb(idx: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
            v = rng.integers(0, len(emb), size=len(idx))
            return augmenter.mix(emb[v, pos[idx]], eye[y_idx[idx]], rng)

        class_w = _class_weights(y_idx[tr], n_classes, self.class_weight)
        best = self._train_stage(
            net=net.head,
            param_groups=[{"params": list(net.head.parameters()), "lr": float(self.lr)}],
            epochs=int(self.epochs),
            train_rows=tr,
            y_idx=y_idx,
            make_batch=make_emb,
            x_val=emb_val,
            y_val=y_idx[va],
            class_w=class_w,
            rng=rng,
            best=_Best(),
            title="musicnn-finetune head",
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
            best2 = self._train_stage(
                net=full,
                param_groups=[
                    {
                        "params": list(full.backbone.parameters()),
                        "lr": float(self.lr) * float(self.backbone_lr_scale),
                    },
                    {"params": list(full.head.parameters()), "lr": float(self.lr)},
                ],
                epochs=int(self.unfreeze_epochs),
                train_rows=tr,
                y_idx=y_idx,
                make_batch=make_patches,
                x_val=x_val,
                y_val=y_idx[va],
                class_w=class_w,
                rng=rng,
                best=_Best(best.loss, best.epoch, None),
                title="musicnn-finetune (unfrozen)",
            )
            if best2.state is not None:  # stage 2 improved on stage 1
                full.load_state_dict(best2.state)
                net = full
                self.best_epoch_ = best2.epoch
                self.backbone_trained_ = True
        for p in net.parameters():
            p.requires_grad_(False)
        net.eval()
        self.net_ = net

    def _inputs(self, X: Any) -> np.ndarray:
        X = self._check_X(X)
        b, f = self.frame_shape_
        if X.shape[1] != b * f:
            raise ModelError(f"X rows have {X.shape[1]} values; the model was trained on {b}x{f} = {b * f}")
        return X.reshape(len(X), b, f)

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
        for p in net.parameters():
            p.requires_grad_(False)
        net.eval()
        self.net_ = net
