"""HiFi-GAN decoder: latent frames [B, C, T_y] -> waveform [B, 1, T_y * prod(upsample_rates)]."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils import parametrize

from hayakoe_backend_torch.model.layers import LRELU_SLOPE, same_padding, weight_normed

PRE_POST_KERNEL = 7


class ResBlock1(nn.Module):
    """Per dilation d: x += c2(lrelu(c1_d(lrelu(x)))), c1 dilated by d, c2 undilated."""

    def __init__(self, channels: int, kernel_size: int, dilations: Sequence[int]) -> None:
        super().__init__()
        self.convs1 = nn.ModuleList(_conv(channels, kernel_size, d) for d in dilations)
        self.convs2 = nn.ModuleList(_conv(channels, kernel_size, 1) for _ in dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for c1, c2 in zip(self.convs1, self.convs2, strict=True):
            xt = c2(F.leaky_relu(c1(F.leaky_relu(x, LRELU_SLOPE)), LRELU_SLOPE))
            x = x + xt
        return x


class ResBlock2(nn.Module):
    """Per dilation d of the first two: x += c_d(lrelu(x))."""

    def __init__(self, channels: int, kernel_size: int, dilations: Sequence[int]) -> None:
        super().__init__()
        self.convs = nn.ModuleList(_conv(channels, kernel_size, d) for d in dilations[:2])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv in self.convs:
            x = x + conv(F.leaky_relu(x, LRELU_SLOPE))
        return x


RESBLOCKS: dict[str, type[nn.Module]] = {"1": ResBlock1, "2": ResBlock2}


def _conv(channels: int, kernel_size: int, dilation: int) -> nn.Module:
    return weight_normed(
        nn.Conv1d(
            channels,
            channels,
            kernel_size,
            dilation=dilation,
            padding=same_padding(kernel_size, dilation),
        )
    )


class Generator(nn.Module):
    """conv_pre + cond(g), then per stage: lrelu -> ConvTranspose -> mean of the stage's
    resblocks; finally lrelu (slope 0.01) -> conv_post -> tanh."""

    def __init__(
        self,
        in_channels: int,
        resblock: str,
        resblock_kernel_sizes: Sequence[int],
        resblock_dilation_sizes: Sequence[Sequence[int]],
        upsample_rates: Sequence[int],
        upsample_initial_channel: int,
        upsample_kernel_sizes: Sequence[int],
        gin_channels: int,
    ) -> None:
        super().__init__()
        block = RESBLOCKS[resblock]
        self.num_kernels = len(resblock_kernel_sizes)
        self.conv_pre = nn.Conv1d(
            in_channels, upsample_initial_channel, PRE_POST_KERNEL, padding=PRE_POST_KERNEL // 2
        )
        channels = [upsample_initial_channel // 2**i for i in range(len(upsample_rates) + 1)]
        self.ups = nn.ModuleList(
            weight_normed(nn.ConvTranspose1d(c_in, c_out, k, u, padding=(k - u) // 2))
            for c_in, c_out, u, k in zip(
                channels[:-1], channels[1:], upsample_rates, upsample_kernel_sizes, strict=True
            )
        )
        self.resblocks = nn.ModuleList(
            block(ch, k, d)
            for ch in channels[1:]
            for k, d in zip(resblock_kernel_sizes, resblock_dilation_sizes, strict=True)
        )
        self.conv_post = nn.Conv1d(channels[-1], 1, PRE_POST_KERNEL, padding=PRE_POST_KERNEL // 2, bias=False)
        self.cond = nn.Conv1d(gin_channels, upsample_initial_channel, 1)

    def forward(self, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        x = self.conv_pre(x) + self.cond(g)
        for i, up in enumerate(self.ups):
            x = up(F.leaky_relu(x, LRELU_SLOPE))
            stage = self.resblocks[i * self.num_kernels : (i + 1) * self.num_kernels]
            total = stage[0](x)
            for block in stage[1:]:
                total = total + block(x)
            x = total / self.num_kernels
        return torch.tanh(self.conv_post(F.leaky_relu(x)))

    def bake_weight_norm(self) -> None:
        """Replace every weight-norm parametrization with its plain effective weight
        (g * v / ||v||), e.g. before ONNX export. Irreversible."""
        for module in self.modules():
            if parametrize.is_parametrized(module, "weight"):
                parametrize.remove_parametrizations(module, "weight", leave_parametrized=True)
