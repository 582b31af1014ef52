"""Shared access to the tiny speaker and its PyTorch golden cases."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hayakoe_core.synthesis import SynthesisInputs

MODEL_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "model"
TINY = MODEL_FIXTURES / "tiny"
GOLDEN_CASES = sorted((TINY / "golden").glob("*.npz"))
CASE_IDS = [p.stem for p in GOLDEN_CASES]


def scalar(value: np.ndarray) -> float:
    """A golden scalar, whether stored with shape () or [1]."""
    return float(np.asarray(value).reshape(-1)[0])


def golden_inputs(case: np.lib.npyio.NpzFile) -> SynthesisInputs:
    """The case's model inputs, batch axis dropped."""
    return SynthesisInputs(
        x=case["x"][0],
        tone=case["tone"][0],
        language=case["language"][0],
        bert=case["bert"][0],
        style_vec=case["style_vec"][0],
        sid=int(case["sid"][0]),
        noise_scale=scalar(case["noise_scale"]),
        length_scale=scalar(case["length_scale"]),
        noise_scale_w=scalar(case["noise_scale_w"]),
        sdp_ratio=scalar(case["sdp_ratio"]),
    )
