"""Text encoder: phone/tone/language embeddings + BERT and style projections -> transformer."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from hayakoe_backend_torch.model.attention import TransformerStack
from hayakoe_backend_torch.model.layers import sequence_mask

N_SYMBOLS = 112
N_TONES = 12
N_LANGUAGES = 3
BERT_CHANNELS = 1024
STYLE_CHANNELS = 256


@dataclass(frozen=True)
class TextEncoding:
    """Text encoder outputs: ``x`` [B, H, T] (stack output), prior ``m_p``/``logs_p``
    [B, C, T], ``x_mask`` [B, 1, T]."""

    x: torch.Tensor
    m_p: torch.Tensor
    logs_p: torch.Tensor
    x_mask: torch.Tensor


class TextEncoder(nn.Module):
    """Maps phones and their features to per-phone hidden states and prior statistics."""

    def __init__(
        self,
        out_channels: int,
        hidden_channels: int,
        filter_channels: int,
        n_heads: int,
        n_layers: int,
        kernel_size: int,
        gin_channels: int,
    ) -> None:
        super().__init__()
        self.out_channels = out_channels
        self.scale = math.sqrt(hidden_channels)
        self.emb = nn.Embedding(N_SYMBOLS, hidden_channels)
        self.tone_emb = nn.Embedding(N_TONES, hidden_channels)
        self.language_emb = nn.Embedding(N_LANGUAGES, hidden_channels)
        self.bert_proj = nn.Conv1d(BERT_CHANNELS, hidden_channels, 1)
        self.style_proj = nn.Linear(STYLE_CHANNELS, hidden_channels)
        self.encoder = TransformerStack(
            hidden_channels, filter_channels, n_heads, n_layers, kernel_size, gin_channels
        )
        self.proj = nn.Conv1d(hidden_channels, out_channels * 2, 1)

    def forward(
        self,
        x: torch.Tensor,
        x_lengths: torch.Tensor,
        tone: torch.Tensor,
        language: torch.Tensor,
        bert: torch.Tensor,
        style_vec: torch.Tensor,
        g: torch.Tensor,
    ) -> TextEncoding:
        """``x``/``tone``/``language``: int64 [B, T]; ``bert``: [B, 1024, T]; ``style_vec``:
        [B, 256]; ``g``: [B, gin, 1]."""
        h = (
            self.emb(x)
            + self.tone_emb(tone)
            + self.language_emb(language)
            + self.bert_proj(bert).transpose(1, 2)
            + self.style_proj(style_vec.unsqueeze(1))
        ) * self.scale
        h = h.transpose(1, 2)
        x_mask = sequence_mask(x_lengths, h.shape[2]).unsqueeze(1).to(h.dtype)
        h = self.encoder(h * x_mask, x_mask, g)
        m_p, logs_p = torch.split(self.proj(h) * x_mask, self.out_channels, dim=1)
        return TextEncoding(x=h, m_p=m_p, logs_p=logs_p, x_mask=x_mask)
