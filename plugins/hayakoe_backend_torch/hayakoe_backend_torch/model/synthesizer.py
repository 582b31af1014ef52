"""The JP-Extra generator (inference only) assembled from a :class:`SpeakerConfig`."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from hayakoe_backend_torch.model.decoder import Generator
from hayakoe_backend_torch.model.duration import DurationPredictor, StochasticDurationPredictor
from hayakoe_backend_torch.model.flow import CouplingFlow
from hayakoe_backend_torch.model.layers import sequence_mask
from hayakoe_backend_torch.model.text_encoder import TextEncoder, TextEncoding
from hayakoe_core.speaker_config import SpeakerConfig


@dataclass(frozen=True)
class DurationResult:
    """Everything up to the durations (B = 1 shapes in brackets)."""

    g: torch.Tensor  # [1, gin, 1] speaker conditioning
    text: TextEncoding
    logw_dp: torch.Tensor  # [1, 1, T]
    logw_sdp: torch.Tensor  # [1, 1, T]
    logw: torch.Tensor  # [1, 1, T]
    w: torch.Tensor  # [1, 1, T]
    w_ceil: torch.Tensor  # [1, 1, T] frames per phone


@dataclass(frozen=True)
class InferResult:
    """A whole synthesis pass: durations plus alignment, latents and audio."""

    durations: DurationResult
    y_lengths: torch.Tensor  # [1] int64
    y_mask: torch.Tensor  # [1, 1, T_y]
    attn: torch.Tensor  # [1, 1, T_y, T]
    m_p_expanded: torch.Tensor  # [1, C, T_y]
    logs_p_expanded: torch.Tensor  # [1, C, T_y]
    z_p: torch.Tensor  # [1, C, T_y]
    z: torch.Tensor  # [1, C, T_y]
    audio: torch.Tensor  # [1, 1, T_y * samples_per_frame]


class JPExtraSynthesizer(nn.Module):
    """Style-Bert-VITS2 JP-Extra generator. Submodule and parameter names equal upstream's
    state-dict keys (minus the training-only ``enc_q``), so checkpoints load directly.

    Scalar controls (``noise_scale``, ``length_scale``, ``noise_scale_w``, ``sdp_ratio``) are
    float32 tensors of shape [1]; randomness comes from ``torch.randn_like`` scaled by the noise
    scales, so zero noise scales give deterministic output.
    """

    def __init__(self, config: SpeakerConfig) -> None:
        super().__init__()
        m = config.model
        self.enc_p = TextEncoder(
            m.inter_channels,
            m.hidden_channels,
            m.filter_channels,
            m.n_heads,
            m.n_layers,
            m.kernel_size,
            m.gin_channels,
        )
        self.dec = Generator(
            m.inter_channels,
            m.resblock,
            m.resblock_kernel_sizes,
            m.resblock_dilation_sizes,
            m.upsample_rates,
            m.upsample_initial_channel,
            m.upsample_kernel_sizes,
            m.gin_channels,
        )
        self.flow = CouplingFlow(
            m.inter_channels, m.hidden_channels, m.filter_channels, m.n_heads, m.gin_channels
        )
        self.sdp = StochasticDurationPredictor(m.hidden_channels, m.gin_channels)
        self.dp = DurationPredictor(m.hidden_channels, m.gin_channels)
        self.emb_g = nn.Embedding(config.data.n_speakers, m.gin_channels)

    def predict_durations(
        self,
        x: torch.Tensor,
        x_lengths: torch.Tensor,
        sid: torch.Tensor,
        tone: torch.Tensor,
        language: torch.Tensor,
        bert: torch.Tensor,
        style_vec: torch.Tensor,
        length_scale: torch.Tensor,
        noise_scale_w: torch.Tensor,
        sdp_ratio: torch.Tensor,
    ) -> DurationResult:
        """Text encoder and both duration predictors mixed by ``sdp_ratio``; frames per phone
        are ``ceil(exp(logw) * x_mask * length_scale)``."""
        g = self.emb_g(sid).unsqueeze(-1)
        text = self.enc_p(x, x_lengths, tone, language, bert, style_vec, g)
        logw_sdp = self.sdp(text.x, text.x_mask, g, noise_scale_w)
        logw_dp = self.dp(text.x, text.x_mask, g)
        logw = logw_sdp * sdp_ratio + logw_dp * (1 - sdp_ratio)
        w = torch.exp(logw) * text.x_mask * length_scale
        return DurationResult(g, text, logw_dp, logw_sdp, logw, w, torch.ceil(w))

    def infer(
        self,
        x: torch.Tensor,
        x_lengths: torch.Tensor,
        sid: torch.Tensor,
        tone: torch.Tensor,
        language: torch.Tensor,
        bert: torch.Tensor,
        style_vec: torch.Tensor,
        noise_scale: torch.Tensor,
        length_scale: torch.Tensor,
        noise_scale_w: torch.Tensor,
        sdp_ratio: torch.Tensor,
        decode: bool = True,
    ) -> InferResult:
        """Full synthesis for B = 1 (inputs as in :meth:`predict_durations`). ``decode=False``
        stops before the decoder (``audio`` is then empty): ``dec(z * y_mask, durations.g)`` on
        any run of frames, with context, decodes them later."""
        dur = self.predict_durations(
            x,
            x_lengths,
            sid,
            tone,
            language,
            bert,
            style_vec,
            length_scale,
            noise_scale_w,
            sdp_ratio,
        )
        text = dur.text
        y_lengths = torch.clamp_min(torch.sum(dur.w_ceil, [1, 2]), 1).long()
        y_mask = sequence_mask(y_lengths, y_lengths.max()).unsqueeze(1).to(text.x_mask.dtype)
        attn = hard_alignment(dur.w_ceil, text.x_mask, y_mask)
        frames = attn.squeeze(1)
        m_p = torch.matmul(frames, text.m_p.transpose(1, 2)).transpose(1, 2)
        logs_p = torch.matmul(frames, text.logs_p.transpose(1, 2)).transpose(1, 2)
        z_p = m_p + torch.randn_like(m_p) * torch.exp(logs_p) * noise_scale
        z = self.flow(z_p, y_mask, dur.g)
        audio = self.dec(z * y_mask, dur.g) if decode else z.new_zeros(1, 1, 0)
        return InferResult(dur, y_lengths, y_mask, attn, m_p, logs_p, z_p, z, audio)


def hard_alignment(w_ceil: torch.Tensor, x_mask: torch.Tensor, y_mask: torch.Tensor) -> torch.Tensor:
    """Monotonic path [B, 1, T_y, T]: frame f belongs to phone t when
    ``cumsum(w_ceil)[t-1] <= f < cumsum(w_ceil)[t]``, restricted to valid phones and frames."""
    ends = torch.cumsum(w_ceil, dim=-1)  # [B, 1, T]
    starts = ends - w_ceil
    frames = torch.arange(y_mask.shape[2], device=w_ceil.device, dtype=w_ceil.dtype)
    frames = frames.view(1, 1, -1, 1)
    path = (frames >= starts.unsqueeze(2)) & (frames < ends.unsqueeze(2))
    return path.to(x_mask.dtype) * x_mask.unsqueeze(2) * y_mask.unsqueeze(-1)
