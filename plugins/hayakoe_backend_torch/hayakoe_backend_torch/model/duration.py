"""Duration predictors: the deterministic DP and the stochastic SDP (inference direction)."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from hayakoe_backend_torch.model.layers import ChannelLayerNorm, Flip, same_padding
from hayakoe_backend_torch.model.spline import inverse_rq_spline

DP_FILTER_CHANNELS = 256
KERNEL_SIZE = 3
SDP_FLOWS = 4
DDS_LAYERS = 3
SPLINE_BINS = 10
SPLINE_TAIL_BOUND = 5.0


class DurationPredictor(nn.Module):
    """Deterministic log-duration predictor: ``forward(x, x_mask, g) -> logw [B, 1, T]``."""

    def __init__(self, in_channels: int, gin_channels: int) -> None:
        super().__init__()
        pad = same_padding(KERNEL_SIZE)
        self.conv_1 = nn.Conv1d(in_channels, DP_FILTER_CHANNELS, KERNEL_SIZE, padding=pad)
        self.norm_1 = ChannelLayerNorm(DP_FILTER_CHANNELS)
        self.conv_2 = nn.Conv1d(DP_FILTER_CHANNELS, DP_FILTER_CHANNELS, KERNEL_SIZE, padding=pad)
        self.norm_2 = ChannelLayerNorm(DP_FILTER_CHANNELS)
        self.proj = nn.Conv1d(DP_FILTER_CHANNELS, 1, 1)
        self.cond = nn.Conv1d(gin_channels, in_channels, 1)

    def forward(self, x: torch.Tensor, x_mask: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        x = x + self.cond(g)
        x = self.norm_1(torch.relu(self.conv_1(x * x_mask)))
        x = self.norm_2(torch.relu(self.conv_2(x * x_mask)))
        return self.proj(x * x_mask) * x_mask


class DDSConv(nn.Module):
    """Dilated depthwise-separable conv stack (layer i: dilation k**i) with residuals."""

    def __init__(self, channels: int, kernel_size: int, n_layers: int) -> None:
        super().__init__()
        dilations = [kernel_size**i for i in range(n_layers)]
        self.convs_sep = nn.ModuleList(
            nn.Conv1d(
                channels,
                channels,
                kernel_size,
                groups=channels,
                dilation=d,
                padding=same_padding(kernel_size, d),
            )
            for d in dilations
        )
        self.convs_1x1 = nn.ModuleList(nn.Conv1d(channels, channels, 1) for _ in dilations)
        self.norms_1 = nn.ModuleList(ChannelLayerNorm(channels) for _ in dilations)
        self.norms_2 = nn.ModuleList(ChannelLayerNorm(channels) for _ in dilations)

    def forward(self, x: torch.Tensor, x_mask: torch.Tensor, g: torch.Tensor | None = None) -> torch.Tensor:
        if g is not None:
            x = x + g
        layers = zip(self.convs_sep, self.norms_1, self.convs_1x1, self.norms_2, strict=True)
        for sep, norm_1, pointwise, norm_2 in layers:
            y = F.gelu(norm_1(sep(x * x_mask)))
            y = F.gelu(norm_2(pointwise(y)))
            x = x + y
        return x * x_mask


class ElementwiseAffine(nn.Module):
    """Per-channel affine flow step. Inference-only: ``forward`` applies the inverse,
    ``(x - m) * exp(-logs)``, masked."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.m = nn.Parameter(torch.zeros(channels, 1))
        self.logs = nn.Parameter(torch.zeros(channels, 1))

    def forward(self, x: torch.Tensor, x_mask: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        return (x - self.m) * torch.exp(-self.logs) * x_mask


class ConvFlow(nn.Module):
    """Spline coupling on 2 channels: channel 0 (plus ``g``) predicts the spline of channel 1.
    Inference-only: ``forward`` applies the inverse transform."""

    def __init__(self, filter_channels: int) -> None:
        super().__init__()
        self.filter_channels = filter_channels
        self.pre = nn.Conv1d(1, filter_channels, 1)
        self.convs = DDSConv(filter_channels, KERNEL_SIZE, DDS_LAYERS)
        self.proj = nn.Conv1d(filter_channels, 3 * SPLINE_BINS - 1, 1)

    def forward(self, x: torch.Tensor, x_mask: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        x0, x1 = torch.split(x, [1, 1], dim=1)
        h = self.proj(self.convs(self.pre(x0), x_mask, g=g)) * x_mask
        b, c, t = x0.shape
        h = h.reshape(b, c, -1, t).permute(0, 1, 3, 2)
        scale = math.sqrt(self.filter_channels)
        x1 = inverse_rq_spline(
            x1,
            h[..., :SPLINE_BINS] / scale,
            h[..., SPLINE_BINS : 2 * SPLINE_BINS] / scale,
            h[..., 2 * SPLINE_BINS :],
            SPLINE_TAIL_BOUND,
        )
        return torch.cat([x0, x1], dim=1) * x_mask


def _flow_stack(filter_channels: int) -> nn.ModuleList:
    """[ElementwiseAffine, (ConvFlow, Flip) x 4]: the list layout upstream checkpoints index."""
    flows: list[nn.Module] = [ElementwiseAffine(2)]
    for _ in range(SDP_FLOWS):
        flows += [ConvFlow(filter_channels), Flip()]
    return nn.ModuleList(flows)


class StochasticDurationPredictor(nn.Module):
    """Flow-based log-duration sampler, run in reverse from Gaussian noise.

    The posterior branch (``post_*``) is training-only; it exists so checkpoints load.
    Its filter width is ``in_channels`` (upstream ignores the nominal filter size).
    """

    def __init__(self, in_channels: int, gin_channels: int) -> None:
        super().__init__()
        filter_channels = in_channels
        self.flows = _flow_stack(filter_channels)
        self.post_pre = nn.Conv1d(1, filter_channels, 1)
        self.post_proj = nn.Conv1d(filter_channels, filter_channels, 1)
        self.post_convs = DDSConv(filter_channels, KERNEL_SIZE, DDS_LAYERS)
        self.post_flows = _flow_stack(filter_channels)
        self.pre = nn.Conv1d(in_channels, filter_channels, 1)
        self.proj = nn.Conv1d(filter_channels, filter_channels, 1)
        self.convs = DDSConv(filter_channels, KERNEL_SIZE, DDS_LAYERS)
        self.cond = nn.Conv1d(gin_channels, filter_channels, 1)

    def forward(
        self, x: torch.Tensor, x_mask: torch.Tensor, g: torch.Tensor, noise_scale: torch.Tensor
    ) -> torch.Tensor:
        """Sample log durations [B, 1, T] from N(0, 1) * ``noise_scale`` noise.

        The reverse pass applies flows 8, 7, ..., 2 then 0; ConvFlow 1 is skipped at
        inference, as upstream does.
        """
        h = self.convs(self.pre(x) + self.cond(g), x_mask)
        h = self.proj(h) * x_mask
        z = torch.randn_like(x_mask.expand(-1, 2, -1)) * noise_scale
        reverse_order = [*reversed(self.flows[2:]), self.flows[0]]
        for flow in reverse_order:
            z = flow(z, x_mask, h)
        return z[:, :1]
