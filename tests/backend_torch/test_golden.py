"""TorchSpeaker reproduces every tensor of upstream's PyTorch goldens for the tiny speaker."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from hayakoe_backend_torch.runtime import TorchSpeaker
from hayakoe_core.synthesis import SpeakerModel
from tests.backend_torch.goldens import CASE_IDS, GOLDEN_CASES, TINY, golden_inputs

INPUT_NAMES = {
    "x",
    "x_lengths",
    "sid",
    "tone",
    "language",
    "bert",
    "style_vec",
    "style_name",
    "style_weight",
    "noise_scale",
    "noise_scale_w",
    "sdp_ratio",
    "length_scale",
}
EXACT = {
    "x_mask",
    "y_mask",
    "w_ceil",
    "y_lengths",
    "attn",
    "durations_infer",
    "durations_predict",
}


@pytest.fixture(scope="module")
def speaker() -> TorchSpeaker:
    return TorchSpeaker.load(TINY)


@pytest.mark.parametrize("path", GOLDEN_CASES, ids=CASE_IDS)
def test_trace_matches_golden(speaker: TorchSpeaker, path: Path) -> None:
    case = np.load(path)
    traced = speaker.trace(golden_inputs(case))
    golden_names = set(case.files) - INPUT_NAMES
    assert golden_names <= traced.keys()
    for name in sorted(golden_names):
        got, want = traced[name], case[name]
        assert got.shape == want.shape, name
        assert got.dtype == want.dtype, name
        if name in EXACT:
            np.testing.assert_array_equal(got, want, err_msg=name)
        elif name == "w":
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=0, err_msg=name)
        elif name == "audio":
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-5, err_msg=name)
        else:
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-4, err_msg=name)
    np.testing.assert_array_equal(traced["durations"], case["durations_infer"])


@pytest.mark.parametrize("path", GOLDEN_CASES[:2], ids=CASE_IDS[:2])
def test_synthesize_and_predict_durations_agree_with_trace(speaker: TorchSpeaker, path: Path) -> None:
    case = np.load(path)
    inputs = golden_inputs(case)
    result = speaker.synthesize(inputs)
    assert result.audio.dtype == np.float32 and result.audio.ndim == 1
    np.testing.assert_allclose(result.audio, case["audio"][0, 0], rtol=0, atol=1e-5)
    np.testing.assert_array_equal(result.durations, case["durations_infer"])
    np.testing.assert_array_equal(speaker.predict_durations(inputs), case["durations_predict"])


def test_is_a_speaker_model(speaker: TorchSpeaker) -> None:
    assert isinstance(speaker, SpeakerModel)
    assert speaker.config.data.spk2id == {"tiny": 0}


def test_noise_changes_output_but_zero_noise_is_deterministic(speaker: TorchSpeaker) -> None:
    inputs = golden_inputs(np.load(GOLDEN_CASES[0]))
    first, second = speaker.synthesize(inputs), speaker.synthesize(inputs)
    np.testing.assert_array_equal(first.audio, second.audio)
    noisy = replace(inputs, noise_scale=0.667, noise_scale_w=0.8, sdp_ratio=1.0)
    a, b = speaker.synthesize(noisy), speaker.synthesize(noisy)
    assert a.audio.shape != b.audio.shape or not np.array_equal(a.audio, b.audio)
