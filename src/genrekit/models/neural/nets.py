"""The torch networks: dense (``dnn``), convolutional (``cnn``) and the pretrained musicnn with a new head."""

from __future__ import annotations

import torch
from torch import nn


# ------------------------------------------------------------------------------------------ networks
class DenseNet(nn.Module):
    """Fully connected network: ``[Linear -> ReLU -> Dropout] * len(hidden) -> Linear``.

    ``forward`` takes standardised matrices ``(B, bands, frames)`` (or vectors ``(B, dim)``) and returns
    logits ``(B, n_classes)``.
    """

    def __init__(self, in_dim: int, hidden: tuple[int, ...], n_classes: int, dropout: float) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        d = in_dim
        for h in hidden:
            layers += [nn.Linear(d, h), nn.ReLU(), nn.Dropout(dropout)]
            d = h
        layers.append(nn.Linear(d, n_classes))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x.flatten(1))


def auto_input_pool(bands: int, frames: int) -> tuple[int, int]:
    """Average-pooling of the input before the first conv: 2 along an axis of at least 64, else 1.

    A 128-band x 130-frame log-mel becomes 64 x 65 (a 6x cheaper network on CPU); a 20-row MFCC matrix
    keeps its coefficients apart (pooling cepstral coefficients would mix unrelated quantities).
    """
    return (2 if bands >= 64 else 1, 2 if frames >= 64 else 1)


def conv_pools(bands: int, frames: int, n_blocks: int) -> list[tuple[int, int]]:
    """Max-pool size of each conv block: 2 along an axis while it is at least 2 long, else 1."""
    pools = []
    h, w = bands, frames
    for _ in range(n_blocks):
        p = (2 if h >= 2 else 1, 2 if w >= 2 else 1)
        pools.append(p)
        h, w = h // p[0], w // p[1]
    return pools


class ConvNet(nn.Module):
    """2-D CNN: ``[conv 3x3 -> BN -> ReLU -> max-pool] * len(channels)``, global avg+max pool, linear.

    An optional average-pooling of the input (``input_pool``) comes first.

    ``forward`` takes standardised matrices ``(B, bands, frames)`` and returns logits ``(B, n_classes)``.
    """

    def __init__(
        self,
        channels: tuple[int, ...],
        pools: list[tuple[int, int]],
        n_classes: int,
        dropout: float,
        input_pool: tuple[int, int] = (1, 1),
    ) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        if tuple(input_pool) != (1, 1):
            blocks.append(nn.AvgPool2d(tuple(input_pool)))
        c_in = 1
        for c, pool in zip(channels, pools, strict=True):
            blocks += [nn.Conv2d(c_in, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU()]
            if tuple(pool) != (1, 1):
                blocks.append(nn.MaxPool2d(tuple(pool)))
            c_in = c
        self.features = nn.Sequential(*blocks)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(2 * c_in, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x.unsqueeze(1))
        h = torch.cat([h.mean(dim=(2, 3)), h.amax(dim=(2, 3))], dim=1)
        return self.fc(self.dropout(h))


def _head(in_dim: int, hidden: tuple[int, ...], n_classes: int, dropout: float) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Dropout(dropout)]
    d = in_dim
    for h in hidden:
        layers += [nn.Linear(d, h), nn.ReLU(), nn.Dropout(dropout)]
        d = h
    layers.append(nn.Linear(d, n_classes))
    return nn.Sequential(*layers)


class MusicnnFinetuneNet(nn.Module):
    """musicnn backbone (to the penultimate layer) plus a new head.

    ``forward`` takes musicnn log-mel patches as ``(B, 96, frames)`` (bands first, like every genrekit
    matrix) and returns logits. The backbone always runs in eval mode (frozen batch-norm statistics and
    no dropout), also while its weights are fine-tuned: with a few hundred patches, re-estimating its
    batch-norm statistics would only add noise.
    """

    def __init__(self, backbone: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head

    def train(self, mode: bool = True) -> MusicnnFinetuneNet:
        super().train(mode)
        self.backbone.eval()
        return self

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate musicnn features ``(B, 200)`` of patches ``(B, 96, frames)``."""
        return self.backbone(x.transpose(1, 2))["penultimate"]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(x))
