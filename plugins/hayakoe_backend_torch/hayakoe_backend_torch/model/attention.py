"""Relative-position transformer stack used by the text encoder and the flow's coupling layers."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from hayakoe_backend_torch.model.layers import ChannelLayerNorm

REL_WINDOW = 4
MASKED_SCORE = -1e4


class RelativeSelfAttention(nn.Module):
    """Multi-head self-attention with learned relative-position terms for offsets |j-i| <= 4.

    One key table and one value table of shape [1, 9, d_head] are shared by all heads. Scores
    are ``q.k / sqrt(d) + (q / sqrt(d)).E_k[j-i]``; outputs gain ``sum_j p_ij E_v[j-i]``.
    Every shape is derived from the input, so exported graphs accept any length.
    """

    def __init__(self, channels: int, n_heads: int) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.head_channels = channels // n_heads
        table = torch.randn(1, 2 * REL_WINDOW + 1, self.head_channels) * self.head_channels**-0.5
        self.emb_rel_k = nn.Parameter(table)
        self.emb_rel_v = nn.Parameter(table.clone())
        self.conv_q = nn.Conv1d(channels, channels, 1)
        self.conv_k = nn.Conv1d(channels, channels, 1)
        self.conv_v = nn.Conv1d(channels, channels, 1)
        self.conv_o = nn.Conv1d(channels, channels, 1)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor) -> torch.Tensor:
        """``x``: [B, C, T]; ``attn_mask``: [B, 1, T, T] (1 = may attend). Returns [B, C, T]."""
        b, c, t = x.shape
        q, k, v = (self._heads(conv(x), t) for conv in (self.conv_q, self.conv_k, self.conv_v))
        q = q / math.sqrt(self.head_channels)
        offsets = _relative_offsets(t, x.device)

        scores = torch.matmul(q, k.transpose(-2, -1))
        rel_logits = torch.matmul(q, self.emb_rel_k.unsqueeze(0).transpose(-2, -1))
        scores = scores + _band_to_square(rel_logits, offsets)
        scores = scores.masked_fill(attn_mask == 0, MASKED_SCORE)
        p_attn = F.softmax(scores, dim=-1)

        out = torch.matmul(p_attn, v)
        out = out + torch.matmul(_square_to_band(p_attn), self.emb_rel_v.unsqueeze(0))
        out = out.transpose(2, 3).reshape(b, c, t)
        return self.conv_o(out)

    def _heads(self, x: torch.Tensor, t: int) -> torch.Tensor:
        """[B, C, T] -> [B, heads, T, d_head]."""
        return x.view(x.shape[0], self.n_heads, self.head_channels, t).transpose(2, 3)


def _relative_offsets(t: int, device: torch.device) -> torch.Tensor:
    """[T, T] int64: ``j - i + window`` (band column of pair (i, j)), or ``2*window+1`` outside
    the window, which indexes an all-zero column."""
    pos = torch.arange(t, device=device)
    rel = pos.unsqueeze(0) - pos.unsqueeze(1) + REL_WINDOW
    outside = torch.full_like(rel, 2 * REL_WINDOW + 1)
    return torch.where((rel >= 0) & (rel <= 2 * REL_WINDOW), rel, outside)


def _band_to_square(band: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """[B, H, T, 9] per-offset values -> [B, H, T, T] with zeros outside the window."""
    padded = F.pad(band, (0, 1))
    index = offsets.expand(band.shape[0], band.shape[1], -1, -1)
    return torch.gather(padded, -1, index)


def _square_to_band(square: torch.Tensor) -> torch.Tensor:
    """[B, H, T, T] -> [B, H, T, 9]: column ``r`` of row ``i`` is ``square[i, i + r - window]``
    (0 where that falls outside the sequence)."""
    padded = F.pad(square, (REL_WINDOW, REL_WINDOW))
    pos = torch.arange(square.shape[2], device=square.device)
    cols = pos.unsqueeze(1) + torch.arange(2 * REL_WINDOW + 1, device=square.device)
    index = cols.expand(square.shape[0], square.shape[1], -1, -1)
    return torch.gather(padded, -1, index)


class FeedForward(nn.Module):
    """conv(k) -> ReLU -> conv(k), "same" padding ((k-1)//2 left, k//2 right), input masked
    before each conv and output masked."""

    def __init__(self, channels: int, filter_channels: int, kernel_size: int) -> None:
        super().__init__()
        self.padding = ((kernel_size - 1) // 2, kernel_size // 2)
        self.conv_1 = nn.Conv1d(channels, filter_channels, kernel_size)
        self.conv_2 = nn.Conv1d(filter_channels, channels, kernel_size)

    def forward(self, x: torch.Tensor, x_mask: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.conv_1(F.pad(x * x_mask, self.padding)))
        x = self.conv_2(F.pad(x * x_mask, self.padding))
        return x * x_mask


class TransformerStack(nn.Module):
    """Post-norm transformer blocks; the speaker embedding is added before block 2.

    ``forward(x [B, C, T], x_mask [B, 1, T], g [B, gin, 1]) -> [B, C, T]`` (masked).
    """

    COND_LAYER = 2

    def __init__(
        self,
        hidden_channels: int,
        filter_channels: int,
        n_heads: int,
        n_layers: int,
        kernel_size: int,
        gin_channels: int,
    ) -> None:
        super().__init__()
        self.spk_emb_linear = nn.Linear(gin_channels, hidden_channels)
        self.attn_layers = nn.ModuleList(
            RelativeSelfAttention(hidden_channels, n_heads) for _ in range(n_layers)
        )
        self.norm_layers_1 = nn.ModuleList(ChannelLayerNorm(hidden_channels) for _ in range(n_layers))
        self.ffn_layers = nn.ModuleList(
            FeedForward(hidden_channels, filter_channels, kernel_size) for _ in range(n_layers)
        )
        self.norm_layers_2 = nn.ModuleList(ChannelLayerNorm(hidden_channels) for _ in range(n_layers))

    def forward(self, x: torch.Tensor, x_mask: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        attn_mask = x_mask.unsqueeze(2) * x_mask.unsqueeze(-1)
        x = x * x_mask
        blocks = zip(self.attn_layers, self.norm_layers_1, self.ffn_layers, self.norm_layers_2, strict=True)
        for i, (attn, norm_1, ffn, norm_2) in enumerate(blocks):
            if i == self.COND_LAYER:
                x = (x + self.spk_emb_linear(g.transpose(1, 2)).transpose(1, 2)) * x_mask
            x = norm_1(x + attn(x, attn_mask))
            x = norm_2(x + ffn(x, x_mask))
        return x * x_mask
