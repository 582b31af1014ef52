"""Normalising flow between the prior and the decoder latent: transformer couplings + flips."""

from __future__ import annotations

import torch
from torch import nn

from hayakoe_backend_torch.model.attention import TransformerStack
from hayakoe_backend_torch.model.layers import Flip

N_COUPLINGS = 4
COUPLING_LAYERS = 6
COUPLING_KERNEL = 5


class TransformerCoupling(nn.Module):
    """Mean-only affine coupling whose shift comes from a transformer over the first half.

    Inference-only: ``forward`` applies the inverse, ``x1 <- (x1 - m(x0)) * mask``.
    """

    def __init__(
        self,
        channels: int,
        hidden_channels: int,
        filter_channels: int,
        n_heads: int,
        gin_channels: int,
    ) -> None:
        super().__init__()
        self.half_channels = channels // 2
        self.pre = nn.Conv1d(self.half_channels, hidden_channels, 1)
        self.enc = TransformerStack(
            hidden_channels,
            filter_channels,
            n_heads,
            COUPLING_LAYERS,
            COUPLING_KERNEL,
            gin_channels,
        )
        self.post = nn.Conv1d(hidden_channels, self.half_channels, 1)

    def forward(self, x: torch.Tensor, x_mask: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        x0, x1 = torch.split(x, [self.half_channels] * 2, dim=1)
        h = self.enc(self.pre(x0) * x_mask, x_mask, g)
        m = self.post(h) * x_mask
        return torch.cat([x0, (x1 - m) * x_mask], dim=1)


class CouplingFlow(nn.Module):
    """Four (coupling, flip) pairs; ``forward`` maps prior samples z_p to the latent z."""

    def __init__(
        self,
        channels: int,
        hidden_channels: int,
        filter_channels: int,
        n_heads: int,
        gin_channels: int,
    ) -> None:
        super().__init__()
        steps: list[nn.Module] = []
        for _ in range(N_COUPLINGS):
            steps.append(
                TransformerCoupling(channels, hidden_channels, filter_channels, n_heads, gin_channels)
            )
            steps.append(Flip())
        self.flows = nn.ModuleList(steps)

    def forward(self, z_p: torch.Tensor, y_mask: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """Runs the steps last to first (flows.7 ... flows.0)."""
        z = z_p
        for step in reversed(self.flows):
            z = step(z, y_mask, g)
        return z
