"""Inverse of a monotonic rational-quadratic spline with linear tails (the SDP's ConvFlow)."""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

MIN_BIN_WIDTH = 1e-3
MIN_BIN_HEIGHT = 1e-3
MIN_DERIVATIVE = 1e-3
SEARCH_EPS = 1e-6
# Pads the derivative logits so that min_derivative + softplus(pad) == 1 at both bounds,
# which joins the spline to the identity tails without a kink.
_TAIL_DERIVATIVE_LOGIT = math.log(math.exp(1 - MIN_DERIVATIVE) - 1)


def inverse_rq_spline(
    y: torch.Tensor,
    widths_logits: torch.Tensor,
    heights_logits: torch.Tensor,
    derivative_logits: torch.Tensor,
    tail_bound: float,
) -> torch.Tensor:
    """Invert the spline at ``y`` [...]; logits have shape [..., K], [..., K], [..., K-1].

    Inside [-tail_bound, tail_bound] the spline's K bins apply; outside, the identity. Computed
    branch-free (every element takes the spline path on a clamped input, then ``where``) so the
    op traces to a static ONNX graph.
    """
    num_bins = widths_logits.shape[-1]
    inside = (y >= -tail_bound) & (y <= tail_bound)
    y_in = y.clamp(-tail_bound, tail_bound)

    cumwidths, widths = _knots(widths_logits, num_bins, MIN_BIN_WIDTH, tail_bound)
    cumheights, heights = _knots(heights_logits, num_bins, MIN_BIN_HEIGHT, tail_bound)
    padded = F.pad(derivative_logits, (1, 1), value=_TAIL_DERIVATIVE_LOGIT)
    derivatives = MIN_DERIVATIVE + F.softplus(padded)

    search_edges = torch.cat([cumheights[..., :-1], cumheights[..., -1:] + SEARCH_EPS], dim=-1)
    bin_idx = (y_in.unsqueeze(-1) >= search_edges).sum(dim=-1, keepdim=True) - 1

    def pick(t: torch.Tensor) -> torch.Tensor:
        return t.gather(-1, bin_idx).squeeze(-1)

    x_k, w_k = pick(cumwidths), pick(widths)
    y_k, h_k = pick(cumheights), pick(heights)
    s_k = pick(heights / widths)
    d_k, d_k1 = pick(derivatives), pick(derivatives[..., 1:])

    dy = y_in - y_k
    curvature = d_k + d_k1 - 2 * s_k
    a = dy * curvature + h_k * (s_k - d_k)
    b = h_k * d_k - dy * curvature
    c = -s_k * dy
    theta = (2 * c) / (-b - torch.sqrt(b.pow(2) - 4 * a * c))
    return torch.where(inside, theta * w_k + x_k, y)


def _knots(
    logits: torch.Tensor, num_bins: int, min_size: float, bound: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Bin edges [..., K+1] spanning [-bound, bound] exactly, and bin sizes [..., K]."""
    sizes = min_size + (1 - min_size * num_bins) * F.softmax(logits, dim=-1)
    inner = (2 * bound) * torch.cumsum(sizes, dim=-1)[..., :-1] - bound
    lo = torch.full_like(inner[..., :1], -bound)
    hi = torch.full_like(inner[..., :1], bound)
    edges = torch.cat([lo, inner, hi], dim=-1)
    return edges, edges[..., 1:] - edges[..., :-1]
