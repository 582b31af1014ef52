"""Small building blocks shared by the synthesizer's parts."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.parametrizations import weight_norm

LRELU_SLOPE = 0.1


class ChannelLayerNorm(nn.Module):
    """LayerNorm over the channel axis of a channels-first tensor [B, C, T] (eps 1e-5).

    Parameters are named ``gamma``/``beta`` as in upstream checkpoints.
    """

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.channels = channels
        self.eps = eps
        self.gamma = nn.Parameter(torch.ones(channels))
        self.beta = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.transpose(1, -1)
        x = F.layer_norm(x, (self.channels,), self.gamma, self.beta, self.eps)
        return x.transpose(1, -1)


class Flip(nn.Module):
    """Flow step that reverses the channel order (its own inverse). It holds no parameters but
    takes a slot in the flow lists that checkpoints index. Extra arguments (mask, conditioning)
    are accepted so every flow step is called alike."""

    def forward(self, x: torch.Tensor, *_: torch.Tensor) -> torch.Tensor:
        return torch.flip(x, [1])


def sequence_mask(lengths: torch.Tensor, max_length: torch.Tensor | int) -> torch.Tensor:
    """Boolean [B, max_length]: position ``i`` of row ``b`` is True when ``i < lengths[b]``.

    ``max_length`` may be a traced size, so the mask stays dynamic in exported graphs.
    """
    positions = torch.arange(max_length, dtype=lengths.dtype, device=lengths.device)
    return positions.unsqueeze(0) < lengths.unsqueeze(1)


def weight_normed(module: nn.Module) -> nn.Module:
    """Wraps ``module.weight`` in torch's weight-norm parametrization over axis 0.

    The state dict then holds ``parametrizations.weight.original0`` (g, [dim0, 1, 1]) and
    ``parametrizations.weight.original1`` (v), the names upstream checkpoints use.
    """
    return weight_norm(module, name="weight", dim=0)


def same_padding(kernel_size: int, dilation: int = 1) -> int:
    """Symmetric padding that keeps a stride-1 convolution's length (odd kernels)."""
    return (kernel_size * dilation - dilation) // 2
