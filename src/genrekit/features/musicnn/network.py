"""The musicnn and VGG taggers of Pons & Serra (ISC licence) in PyTorch, loaded from the TF-1 checkpoints.

Architecture, transcribed from ``musicnn/models.py`` of ``musicnn==0.1.0`` (inputs are log-mel patches
``(batch, time, 96)``; "conv -> ReLU -> BN" is the original's order: ``conv2d(activation=relu)`` then
``batch_normalization``; every BN has epsilon 1e-3):

- input batch-norm with ONE channel (the mel patch is ``(B, T, 96, 1)`` in TF, normalised on the last axis);
- timbral front end: zero-pad 3 frames at both ends of time, "valid" convs of 7x38 and 7x67 (time x freq),
  204 filters each, ReLU, BN, max over all remaining frequency positions -> 2 x (B, 204, T);
- temporal front end: TF "same" convs of 128x1, 64x1, 32x1 (time), 51 filters each, ReLU, BN, max over
  the 96 bands -> 3 x (B, 51, T); the five maps concatenated -> (B, 561, T);
- mid end: three width-7 1-D convs (zero-pad 3), 64 filters, ReLU, BN; residual sums on the 2nd and 3rd;
  dense concatenation of [front end, cnn1, cnn1+cnn2, cnn1+cnn2+cnn3] -> (B, 753, T);
- back end: max and mean over time, interleaved per channel (TF flattens ``(B, 753, 2)``):
  ``[max_0, mean_0, max_1, mean_1, ...]`` -> 1506; BN; dropout (identity at inference); dense 200 + ReLU;
  BN = **penultimate** (``bn_dense``, what the original extractor returns as ``features['penultimate']``);
  dropout; dense 50 = logits; sigmoid = taggram.

Speed-ups that keep the result exact (up to float32 summation order):

- every front-end block ends with "ReLU, BN, max over frequency". ReLU is monotone and BN is ``a*x + b``
  per channel, so ``max_f BN(ReLU(z)) = BN(ReLU(max_f z))`` where ``a >= 0`` and ``BN(ReLU(min_f z))``
  where ``a < 0`` (most channels here: 170 of 204 in the first timbral block of MSD_musicnn); the
  kernels of the negative channels are negated (``min z = -max(-z)``), the conv outputs are max-reduced
  first and the element-wise work runs on ``(B, T, C)`` maps only;
- the one-input-channel front-end convolutions (81 % + 15 % of the 1.4 GMAC per patch) run as single
  large matrix products against Toeplitz-expanded kernels (:func:`conv_max_over_freq`): 1.25-1.6x
  faster per block than oneDNN's ``conv2d``, 1.3x for the whole forward pass (single-thread CPU time).
"""

from __future__ import annotations

import functools
import os
import re
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from genrekit.errors import ConfigError, ModelError, unknown_name
from genrekit.features.musicnn import kernels
from genrekit.features.musicnn.checkpoint import read_checkpoint
from genrekit.features.musicnn.kernels import DEFAULT_KERNEL, dtype_of
from genrekit.features.musicnn.labels import MIDEND_CHANNELS, PENULTIMATE_DIM

__all__ = [
    "BN_EPS",
    "MIDEND_CHANNELS",
    "PENULTIMATE_DIM",
    "MODELS",
    "MusicnnNet",
    "VGGNet",
    "build_model",
    "conv_max_over_freq",
    "configure_threads",
    "kernel_info",
    "load_musicnn",
    "load_state_from_checkpoint",
    "run",
    "weights_dir",
]

BN_EPS = 1e-3
#: model name -> architecture; the names of the weight folders inside the musicnn wheel.
MODELS: dict[str, str] = {
    "MSD_musicnn": "musicnn",
    "MTT_musicnn": "musicnn",
    "MSD_vgg": "vgg",
    "MTT_vgg": "vgg",
}
N_TAGS = 50
N_MELS = 96
PATCH_FRAMES = 187
#: patches per musicnn forward pass at inference: the intermediate maps of 2 patches stay in the caches;
#: 10 at once was 1.3x slower per patch (one thread, AVX-512 Xeon; docs/benchmarks.md)
MICRO_BATCH = 2
INSTALL_HINT = "pip install --no-deps musicnn==0.1.0"
_OPTIMIZER_SLOT = re.compile(r"(/Adam(_\d+)?$)|(^beta[12]_power$)")


def _bn(n: int) -> nn.BatchNorm1d:
    return nn.BatchNorm1d(n, eps=BN_EPS)


def _bn_affine(bn: nn.modules.batchnorm._BatchNorm) -> tuple[torch.Tensor, torch.Tensor]:
    """Inference BN as ``x * scale + shift`` (same formula as TF's non-fused inference BN)."""
    scale = bn.weight * torch.rsqrt(bn.running_var + bn.eps)
    return scale, bn.bias - bn.running_mean * scale


def _apply_bn(x: torch.Tensor, bn: nn.modules.batchnorm._BatchNorm) -> torch.Tensor:
    """BN over dim 1 of ``x``: the module itself when training, else the affine form."""
    if bn.training:
        return bn(x)
    scale, shift = _bn_affine(bn)
    shape = [1] * x.dim()
    shape[1] = -1
    return x * scale.view(shape) + shift.view(shape)


def _toeplitz_freq(w: torch.Tensor, block: int) -> torch.Tensor:
    """Weights ``(C, kt, kf)`` as a GEMM matrix ``(kt * (block + kf - 1), block * C)``.

    Row ``(dt, j)`` and column ``(l, c)`` hold ``w[c, dt, j - l]``: one product of an input window of
    ``kt`` frames by ``block + kf - 1`` bands gives ``block`` neighbouring frequency outputs at once.
    """
    n_out, kt, kf = w.shape
    wide = block + kf - 1
    big = w.new_zeros((kt, wide, block, n_out))
    taps = w.permute(1, 2, 0)  # (kt, kf, C)
    for lag in range(block):
        big[:, lag : lag + kf, lag] = taps
    return big.reshape(kt * wide, block * n_out)


def _toeplitz_time(w: torch.Tensor, block: int) -> torch.Tensor:
    """Weights ``(C, kt, 1)`` as ``(block + kt - 1, block * C)``: ``block`` consecutive time outputs."""
    n_out, kt, _ = w.shape
    big = w.new_zeros((block + kt - 1, block, n_out))
    taps = w[:, :, 0].T  # (kt, C)
    for lag in range(block):
        big[lag : lag + kt, lag] = taps
    return big.reshape(block + kt - 1, block * n_out)


def conv_max_over_freq(
    x: torch.Tensor, w: torch.Tensor, pad_time: tuple[int, int], *, block: int | None = None
) -> torch.Tensor:
    """``max_f conv2d(x, w)`` (no bias) for a one-channel input, as one large matrix product.

    Parameters
    ----------
    x : torch.Tensor, shape (B, T_in, F)
        Input frames (time, frequency).
    w : torch.Tensor, shape (C, kt, kf)
        Cross-correlation kernels ("valid" in frequency).
    pad_time : (int, int)
        Zero padding of the time axis before and after; output length ``T_in + sum(pad_time) - kt + 1``.
    block : int, optional
        Outputs per matrix row: neighbouring frequencies for ``kf > 1`` (default 4), neighbouring frames
        for ``kf == 1`` (default 16).

    Returns
    -------
    torch.Tensor, shape (B, T, C)

    Notes
    -----
    Direct convolution with a single input channel makes small, inefficient matrix products (one
    ``kt * kf`` window per output). Here a Toeplitz matrix of the kernels turns ``block`` adjacent
    outputs into one row, at the cost of ``(block + k - 1) / k`` times the multiply-adds of the blocked
    axis: 1.08x for the 7x38 kernels with 4 bands, 1.12x for 128x1 with 16 frames. The sums are the
    convolution's, in another order (float32 rounding differences only).
    """
    _, kt, kf = w.shape
    block = block or (4 if kf > 1 else 16)
    big = _toeplitz_freq(w, block) if kf > 1 else _toeplitz_time(w, block)
    return _toeplitz_max(x, big, (kt, kf), pad_time, block)


def _toeplitz_max(
    x: torch.Tensor, big: torch.Tensor, kernel: tuple[int, int], pad_time: tuple[int, int], block: int
) -> torch.Tensor:
    """:func:`conv_max_over_freq` with the Toeplitz matrix ``big`` already built (any float dtype)."""
    n_batch, t_in, n_freq = x.shape
    kt, kf = kernel
    before, after = pad_time
    t_out = t_in + before + after - kt + 1
    if kf > 1:
        f_out = n_freq - kf + 1
        n_blocks = -(-f_out // block)
        wide = block + kf - 1
        xp = F.pad(x, (0, n_blocks * block + kf - 1 - n_freq, before, after))
        windows = xp.unfold(1, kt, 1).unfold(2, wide, block)  # (B, T, n_blocks, kt, wide)
        out = windows.reshape(-1, kt * wide) @ big
        return out.view(n_batch, t_out, n_blocks * block, -1)[:, :, :f_out].amax(dim=2)
    n_blocks = -(-t_out // block)
    wide = block + kt - 1
    xp = F.pad(x.transpose(1, 2), (before, n_blocks * block - t_out + after))  # (B, F, time)
    windows = xp.unfold(2, wide, block)  # (B, F, n_blocks, wide)
    out = windows.reshape(-1, wide) @ big
    return out.view(n_batch, n_freq, n_blocks * block, -1).amax(dim=1)[:, :t_out]


class PooledConvBlock(nn.Module):
    """``conv2d -> ReLU -> BN -> max over frequency`` on ``(B, 1, T, F)``, output ``(B, C, T)``.

    ``pad_time`` is ``(before, after)`` zero padding of the time axis applied before a "valid" conv
    (symmetric, or TensorFlow's "same" for an even kernel: one more after).

    At inference the convolution + max runs with one of the kernels of
    :mod:`genrekit.features.musicnn.kernels` (``kernels``: precision -> kernel name, set by
    :func:`~genrekit.features.musicnn.kernels.select`; the Toeplitz GEMM when unset). The weights in the
    form each kernel needs are prepared once and reused until a parameter changes.
    """

    def __init__(self, out_channels: int, kernel: tuple[int, int], pad_time: tuple[int, int]) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, out_channels, kernel)
        self.bn = nn.BatchNorm2d(out_channels, eps=BN_EPS)
        self.pad_time = pad_time
        self.kernels: dict[str, str] = {}
        self._prepared: dict[tuple[str, torch.dtype], torch.Tensor] = {}
        self._stamp: tuple[int, ...] = ()

    def forward(self, x: torch.Tensor, precision: str = "float32") -> torch.Tensor:
        if self.training:  # the plain order, for fine-tuning
            z = self.bn(F.relu(self.conv(F.pad(x, (0, 0, *self.pad_time)))))
            return z.amax(dim=3)
        return self.pooled(x, self.kernels.get(precision, DEFAULT_KERNEL), precision)

    def pooled(
        self, x: torch.Tensor, kernel: str = DEFAULT_KERNEL, precision: str = "float32"
    ) -> torch.Tensor:
        """Inference output ``(B, C, T)`` computed with ``kernel`` (a name of ``kernels.CANDIDATES``)."""
        # max_f(a * relu(z + b) + c) = a * relu(s * max_f(s * z) + b) + c with s = sign(a): for a < 0 the
        # max of the BN output comes from min_f z = -max_f(-z). Negating the weights of those channels
        # gives -z exactly, so one max-reduction serves every channel and the element-wise work runs on
        # (B, T, C) instead of (B, C, T, F').
        scale, shift, sign = self._weights("affine", torch.float32)
        pooled = self._conv_max(x[:, 0], kernel, dtype_of(precision)).float() * sign  # (B, T, C)
        pooled = F.relu(pooled + self.conv.bias)
        return (pooled * scale + shift).transpose(1, 2)

    def _conv_max(self, x: torch.Tensor, kernel: str, dtype: torch.dtype) -> torch.Tensor:
        """``max_f conv2d`` of ``x`` (B, T, F) with the sign-flipped kernels: (B, T, C)."""
        kt, kf = self.conv.kernel_size
        if kernel.startswith("gemm"):
            block = int(kernel[4:] or (4 if kf > 1 else 16))
            big = self._weights(f"toeplitz{block}", dtype)
            return _toeplitz_max(x.to(dtype), big, (kt, kf), self.pad_time, block)
        if kernel not in ("onednn", "onednn_cl"):
            raise ConfigError(f"unknown musicnn front-end kernel {kernel!r}")
        w = self._weights(kernel, dtype)
        xp = F.pad(x.to(dtype).unsqueeze(1), (0, 0, *self.pad_time))
        if kernel == "onednn_cl":
            xp = xp.contiguous(memory_format=torch.channels_last)
        return F.conv2d(xp, w).amax(dim=3).transpose(1, 2)

    def _weights(self, form: str, dtype: torch.dtype) -> Any:
        """The weights in ``form``, cached while no parameter changes (recomputed when grads are needed)."""
        params = (self.conv.weight, self.conv.bias, *self.bn.parameters(), *self.bn.buffers())
        stamp = tuple(v for p in params for v in (p.data_ptr(), p._version))
        use_cache = not (torch.is_grad_enabled() and any(p.requires_grad for p in params))
        if use_cache and stamp != self._stamp:
            self._prepared.clear()
            self._stamp = stamp
        key = (form, dtype)
        if use_cache and key in self._prepared:
            return self._prepared[key]
        # built outside inference mode: ordinary tensors (copyable, usable by any later caller)
        with torch.inference_mode(False), torch.set_grad_enabled(not use_cache):
            scale, shift = _bn_affine(self.bn)
            sign = torch.where(scale < 0, -1.0, 1.0).to(scale.dtype)
            if form == "affine":
                value: Any = (scale, shift, sign)
            else:
                w = self.conv.weight[:, 0] * sign.view(-1, 1, 1)  # (C, kt, kf)
                if form.startswith("toeplitz"):
                    block = int(form[8:])
                    w = _toeplitz_freq(w, block) if w.shape[2] > 1 else _toeplitz_time(w, block)
                else:
                    w = w.unsqueeze(1)
                    if form == "onednn_cl":
                        w = w.contiguous(memory_format=torch.channels_last)
                value = w.to(dtype) if dtype != w.dtype else w
        if use_cache:
            self._prepared[key] = value
        return value

    def train(self, mode: bool = True) -> PooledConvBlock:
        self._prepared.clear()
        self._stamp = ()
        return super().train(mode)


def _same_pad(k: int) -> tuple[int, int]:
    """TensorFlow "same" padding for stride 1: the odd extra element goes after."""
    return (k - 1) // 2, k - 1 - (k - 1) // 2


class MusicnnNet(nn.Module):
    """musicnn (``MSD_musicnn`` / ``MTT_musicnn``): 787,159 parameters for 50 tags.

    ``forward(x)`` takes log-mel patches ``(B, T, 96)`` float32 (T = 187 for the pretrained models, but
    any T >= 1 works: the network is convolutional with global pooling) and returns a dict of tensors:
    ``"logits"`` (B, 50), ``"taggram"`` (B, 50) sigmoid probabilities, ``"penultimate"`` (B, 200), and
    with ``midend=True`` also ``"mean_pool"`` and ``"max_pool"`` (B, 753) over time of the mid-end.
    """

    def __init__(
        self,
        n_classes: int = N_TAGS,
        n_mels: int = N_MELS,
        num_filt_midend: int = 64,
        num_units_backend: int = 200,
    ) -> None:
        super().__init__()
        self.n_mels = n_mels
        self.bn_input = nn.BatchNorm2d(1, eps=BN_EPS)
        n_timbral, n_temporal = int(1.6 * 128), int(1.6 * 32)
        self.timbral = nn.ModuleList(
            [PooledConvBlock(n_timbral, (7, int(f * n_mels)), (3, 3)) for f in (0.4, 0.7)]
        )
        self.temporal = nn.ModuleList(
            [PooledConvBlock(n_temporal, (k, 1), _same_pad(k)) for k in (128, 64, 32)]
        )
        n_front = 2 * n_timbral + 3 * n_temporal
        self.midend = nn.ModuleList(
            [
                nn.Conv1d(n_front if i == 0 else num_filt_midend, num_filt_midend, 7, padding=3)
                for i in range(3)
            ]
        )
        self.bn_midend = nn.ModuleList([_bn(num_filt_midend) for _ in range(3)])
        self.n_midend = n_front + 3 * num_filt_midend
        self.bn_pool = _bn(2 * self.n_midend)
        self.dense = nn.Linear(2 * self.n_midend, num_units_backend)
        self.bn_dense = _bn(num_units_backend)
        self.dense_out = nn.Linear(num_units_backend, n_classes)
        self.dropout = nn.Dropout(0.5)

    def forward(
        self, x: torch.Tensor, *, midend: bool = False, precision: str = "float32"
    ) -> dict[str, torch.Tensor]:
        if x.dim() != 3 or x.shape[2] != self.n_mels:
            raise ModelError(
                f"musicnn expects log-mel patches of shape (batch, time, {self.n_mels}), got {tuple(x.shape)}"
            )
        x = _apply_bn(x.unsqueeze(1), self.bn_input)  # (B, 1, T, 96)
        blocks = (*self.timbral, *self.temporal)
        front = torch.cat([blk(x, precision) for blk in blocks], dim=1)  # (B, 561, T)
        maps = [front]
        h = None
        for conv, bn in zip(self.midend, self.bn_midend, strict=True):
            # float32 at every precision: 4 % of the work, but in bfloat16 it added 40 % to the tag error
            y = _apply_bn(F.relu(conv(maps[-1])), bn)
            h = y if h is None else y + h
            maps.append(h)
        feats = torch.cat(maps, dim=1)  # (B, 753, T)
        max_pool = feats.amax(dim=2)
        mean_pool = feats.mean(dim=2)
        pooled = torch.stack([max_pool, mean_pool], dim=2).flatten(1)  # (B, 1506) interleaved
        pooled = self.dropout(_apply_bn(pooled, self.bn_pool))
        penultimate = _apply_bn(F.relu(self.dense(pooled)), self.bn_dense)
        logits = self.dense_out(self.dropout(penultimate))
        out = {"logits": logits, "taggram": torch.sigmoid(logits), "penultimate": penultimate}
        if midend:
            out["mean_pool"] = mean_pool
            out["max_pool"] = max_pool
        return out

    # TF variable name -> (torch module path, kind)
    def tf_names(self) -> dict[str, tuple[str, str]]:
        m: dict[str, tuple[str, str]] = {"batch_normalization": ("bn_input", "bn")}
        convs = ["timbral.0", "timbral.1", "temporal.0", "temporal.1", "temporal.2"]
        for i, path in enumerate(convs):
            m["conv2d" if i == 0 else f"conv2d_{i}"] = (f"{path}.conv", "conv2d")
            m[f"batch_normalization_{i + 1}"] = (f"{path}.bn", "bn")
        for i in range(3):
            m[f"conv2d_{5 + i}"] = (f"midend.{i}", "conv1d")
            m[f"batch_normalization_{6 + i}"] = (f"bn_midend.{i}", "bn")
        m["batch_normalization_9"] = ("bn_pool", "bn")
        m["dense"] = ("dense", "dense")
        m["batch_normalization_10"] = ("bn_dense", "bn")
        m["dense_1"] = ("dense_out", "dense")
        return m


class VGGNet(nn.Module):
    """The VGG-like baseline (``MSD_vgg`` / ``MTT_vgg``): five 3x3 conv blocks of 128 filters, 187x96 input.

    ``forward(x)`` takes ``(B, 187, 96)`` and returns ``"logits"``, ``"taggram"`` (B, 50) and ``"pool5"``
    (B, 256), the flattened last pooling in TF's (time, freq, channel) order.
    """

    _POOLS = (((4, 1), (2, 2)), ((2, 2), (2, 2)), ((2, 2), (2, 2)), ((2, 2), (2, 2)), ((4, 4), (4, 4)))

    def __init__(self, n_classes: int = N_TAGS, num_filters: int = 128) -> None:
        super().__init__()
        self.bn_input = nn.BatchNorm2d(1, eps=BN_EPS)
        self.convs = nn.ModuleList(
            [nn.Conv2d(1 if i == 0 else num_filters, num_filters, 3, padding=1) for i in range(5)]
        )
        self.bns = nn.ModuleList([nn.BatchNorm2d(num_filters, eps=BN_EPS) for _ in range(5)])
        self.dense = nn.Linear(2 * num_filters, n_classes)  # pool5 is (2, 1, 128) for 187 x 96 input

    def forward(self, x: torch.Tensor, *, midend: bool = False) -> dict[str, torch.Tensor]:
        if x.dim() != 3 or x.shape[1:] != (PATCH_FRAMES, N_MELS):
            raise ModelError(
                f"the VGG taggers expect patches of shape (batch, 187, 96), got {tuple(x.shape)}"
            )
        h = _apply_bn(x.unsqueeze(1), self.bn_input)
        for conv, bn, (size, stride) in zip(self.convs, self.bns, self._POOLS, strict=True):
            h = F.max_pool2d(_apply_bn(F.relu(conv(h)), bn), size, stride)
        pool5 = h.permute(0, 2, 3, 1).flatten(1)  # TF NHWC flatten order
        logits = self.dense(pool5)
        return {"logits": logits, "taggram": torch.sigmoid(logits), "pool5": pool5}

    def tf_names(self) -> dict[str, tuple[str, str]]:
        m: dict[str, tuple[str, str]] = {
            "batch_normalization": ("bn_input", "bn"),
            "dense": ("dense", "dense"),
        }
        for i in range(5):
            m[f"{i + 1}CNN"] = (f"convs.{i}", "conv2d")
            m[f"batch_normalization_{i + 1}"] = (f"bns.{i}", "bn")
        return m


def build_model(name: str) -> MusicnnNet | VGGNet:
    """An untrained network of the architecture of ``name`` (one of :data:`MODELS`)."""
    if name not in MODELS:
        raise unknown_name("musicnn model", name, list(MODELS))
    return MusicnnNet() if MODELS[name] == "musicnn" else VGGNet()


def _convert(kind: str, leaf: str, value: np.ndarray) -> tuple[str, np.ndarray] | None:
    """TF variable leaf (``kernel``, ``gamma``, ...) -> (torch attribute, array in torch layout)."""
    if kind == "bn":
        attr = {
            "gamma": "weight",
            "beta": "bias",
            "moving_mean": "running_mean",
            "moving_variance": "running_var",
        }
        return (attr[leaf], value) if leaf in attr else None
    if leaf == "bias":
        return "bias", value
    if leaf != "kernel":
        return None
    if kind == "conv2d":  # (kh, kw, in, out) -> (out, in, kh, kw)
        return "weight", value.transpose(3, 2, 0, 1)
    if kind == "conv1d":  # conv2d over (time, channels-as-width, 1): (7, C, 1, out) -> (out, C, 7)
        return "weight", value[:, :, 0, :].transpose(2, 1, 0)
    if kind == "dense":  # (in, out) -> (out, in)
        return "weight", value.T
    return None


def load_state_from_checkpoint(
    model: MusicnnNet | VGGNet, tensors: dict[str, np.ndarray], *, source: str | None = None
) -> None:
    """Copy TF checkpoint variables into ``model``, every one accounted for.

    Optimizer slots (``*/Adam``, ``*/Adam_1``, ``beta1_power``, ``beta2_power``) are ignored.

    Raises
    ------
    ModelError
        A variable that maps to no parameter, a parameter or buffer left unfilled, or a shape mismatch.
    """
    mapping = model.tf_names()
    state = model.state_dict()
    filled: set[str] = set()
    unused: list[str] = []
    for tf_name, value in tensors.items():
        if _OPTIMIZER_SLOT.search(tf_name):
            continue
        scope, _, leaf = tf_name.rpartition("/")
        conv = _convert(mapping[scope][1], leaf, value) if scope in mapping else None
        if conv is None:
            unused.append(tf_name)
            continue
        key = f"{mapping[scope][0]}.{conv[0]}"
        if key not in state or tuple(state[key].shape) != conv[1].shape:
            have = tuple(state[key].shape) if key in state else None
            raise ModelError(
                f"checkpoint variable {tf_name!r} {tuple(value.shape)} does not fit parameter {key!r} {have}",
                source=source,
            )
        state[key] = torch.from_numpy(np.ascontiguousarray(conv[1], dtype=np.float32))
        filled.add(key)
    missing = sorted(k for k in state if k not in filled and not k.endswith("num_batches_tracked"))
    if unused or missing:
        raise ModelError(
            f"checkpoint does not match the {type(model).__name__} architecture: "
            f"unused variables {sorted(unused)}, unfilled parameters {missing}",
            source=source,
        )
    model.load_state_dict(state)


def weights_dir(name: str) -> Path:
    """Folder of the ``name`` checkpoint inside the installed musicnn package (imports no TensorFlow).

    Raises
    ------
    ModelError
        The musicnn package is not installed, or has no such checkpoint.
    """
    if name not in MODELS:
        raise unknown_name("musicnn model", name, list(MODELS))
    try:
        base = resources.files("musicnn")
    except ModuleNotFoundError:
        raise ModelError(
            "the pretrained musicnn weights need the musicnn package (weights only, no TensorFlow): "
            + INSTALL_HINT
        ) from None
    folder = Path(str(base)) / name
    if not (folder / ".index").is_file():
        raise ModelError(
            f"no {name} checkpoint in the musicnn package at {folder}; reinstall: {INSTALL_HINT}"
        )
    return folder


def configure_threads() -> None:
    """Apply ``GENREKIT_TORCH_THREADS`` (a positive integer) to torch; leave torch's default when unset."""
    value = os.environ.get("GENREKIT_TORCH_THREADS")
    if not value:
        return
    try:
        n = int(value)
        if n < 1:
            raise ValueError
    except ValueError:
        raise ConfigError(f"GENREKIT_TORCH_THREADS must be a positive integer, got {value!r}") from None
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)


@functools.cache
def load_musicnn(name: str = "MSD_musicnn") -> MusicnnNet | VGGNet:
    """The pretrained network ``name`` in eval mode, loaded once per process.

    The front-end kernels for the ``GENREKIT_MUSICNN_PRECISION`` setting are chosen here
    (:func:`genrekit.features.musicnn.kernels.select`: forced, cached for this machine, or timed once).

    Parameters
    ----------
    name : {"MSD_musicnn", "MTT_musicnn", "MSD_vgg", "MTT_vgg"}

    Raises
    ------
    ConfigError
        Unknown name (the message lists the valid ones).
    ModelError
        The musicnn package is missing, or its checkpoint is corrupt or does not fit the architecture.
    """
    configure_threads()
    folder = weights_dir(name)
    tensors = read_checkpoint(folder, select=lambda n: not _OPTIMIZER_SLOT.search(n))
    model = build_model(name)
    load_state_from_checkpoint(model, tensors, source=str(folder))
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    kernels.select(model, kernels.precision_setting())
    return model


def kernel_info(precision: str | None = None) -> dict[str, Any]:
    """The front-end kernels and the precision musicnn runs with here (see :func:`kernels.kernel_info`)."""
    return kernels.kernel_info(precision)


def run(
    model: nn.Module,
    patches: np.ndarray,
    *,
    midend: bool = False,
    batch_size: int = 16,
    precision: str | None = None,
) -> dict[str, np.ndarray]:
    """Run ``model`` on log-mel patches under ``torch.inference_mode``.

    Parameters
    ----------
    model : MusicnnNet or VGGNet
    patches : np.ndarray, float32, shape (n_patches, n_frames, 96)
    midend : bool
        Also return ``"mean_pool"`` and ``"max_pool"`` (musicnn only).
    batch_size : int
        Patches per forward pass (bounds peak memory: about 12 MB per patch); musicnn at inference runs
        at most :data:`MICRO_BATCH` at a time, which is faster.
    precision : {"float32", "bfloat16"}, optional
        Arithmetic of the musicnn front and mid end (None: ``GENREKIT_MUSICNN_PRECISION``, default
        float32, exact); the VGG nets always run in float32. The front-end kernels for a precision are
        chosen at its first use (:func:`genrekit.features.musicnn.kernels.select`).

    Returns
    -------
    dict of str to np.ndarray, float32
        ``"taggram"`` (n, 50), ``"logits"`` (n, 50), ``"penultimate"`` (n, 200) for musicnn, ... ; zero rows
        when ``n_patches`` is 0.
    """
    x = np.asarray(patches, dtype=np.float32)
    if x.ndim != 3:
        raise ModelError(f"patches must be (n_patches, n_frames, n_mels), got shape {x.shape}")
    parts: dict[str, list[np.ndarray]] = {}
    kwargs: dict[str, Any] = {"midend": midend}
    prec = kernels.check_precision(precision)
    if isinstance(model, MusicnnNet):
        kwargs["precision"] = prec
        if not model.training and any(prec not in b.kernels for b in (*model.timbral, *model.temporal)):
            kernels.select(model, prec)
    with torch.inference_mode():
        if len(x) == 0:
            probe = model(torch.zeros((1, *x.shape[1:])), **kwargs)
            return {k: np.zeros((0, *v.shape[1:]), dtype=np.float32) for k, v in probe.items()}
        if isinstance(model, MusicnnNet) and not model.training:
            batch_size = min(batch_size, MICRO_BATCH)
        for start in range(0, len(x), batch_size):
            out = model(torch.from_numpy(np.ascontiguousarray(x[start : start + batch_size])), **kwargs)
            for k, v in out.items():
                parts.setdefault(k, []).append(v.numpy())
    return {k: np.concatenate(v, axis=0) for k, v in parts.items()}
