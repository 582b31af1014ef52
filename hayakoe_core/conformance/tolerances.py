"""The one tolerance table every model conformance check uses (torch and ONNX alike).

From the golden README: integers, masks, ``w_ceil``, ``attn``, ``y_lengths`` and durations must be
exactly equal; ``w`` (up to ~54 frames) within a relative 1e-5; ``audio`` within 1e-5 absolute;
every other float within 1e-4 absolute. Upstream itself moves floats by up to ~4e-6 between
thread counts and never moves the exact ones, so these bounds catch real errors, not noise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

EXACT_NAMES = frozenset(
    {
        "x_mask",
        "y_mask",
        "w_ceil",
        "attn",
        "y_lengths",
        "durations",
        "durations_infer",
        "durations_predict",
    }
)
RELATIVE = {"w": 1e-5}
ABSOLUTE = {"audio": 1e-5}
DEFAULT_ATOL = 1e-4


@dataclass(frozen=True)
class Tolerance:
    """How close ``actual`` must be to ``golden``, elementwise, after the shapes agree.

    ``exact``: equal; ``rtol``: |actual - golden| <= value * |golden|; ``atol``:
    |actual - golden| <= value. NaN anywhere never passes.
    """

    kind: Literal["exact", "rtol", "atol"]
    value: float = 0.0

    def accepts(self, golden: np.ndarray, actual: np.ndarray) -> bool:
        """Whether ``actual`` matches ``golden`` (same shape, within this tolerance)."""
        if golden.shape != actual.shape:
            return False
        if self.kind == "exact":
            return bool(np.array_equal(golden, actual))
        want = golden.astype(np.float64)
        diff = np.abs(actual.astype(np.float64) - want)
        bound = self.value * np.abs(want) if self.kind == "rtol" else self.value
        return bool(np.all(diff <= bound))

    def __str__(self) -> str:
        return "exact" if self.kind == "exact" else f"{self.kind}={self.value:g}"


def tolerance_for(name: str, golden: np.ndarray) -> Tolerance:
    """The tolerance for the golden tensor ``name`` (integer and bool dtypes are always exact)."""
    if name in EXACT_NAMES or not np.issubdtype(golden.dtype, np.floating):
        return Tolerance("exact")
    if name in RELATIVE:
        return Tolerance("rtol", RELATIVE[name])
    return Tolerance("atol", ABSOLUTE.get(name, DEFAULT_ATOL))
