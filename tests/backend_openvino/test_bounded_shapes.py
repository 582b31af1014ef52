"""The cut decoder runs only on DECODER_LENGTHS, and gives the audio the whole graph gives."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest

from hayakoe_backend_onnx.runtime import OnnxSpeaker
from hayakoe_backend_openvino.runtime import DECODER_LENGTHS, OpenVinoSpeaker
from hayakoe_core.conformance.model import read_case

TINY = Path(__file__).resolve().parents[1] / "fixtures" / "model" / "tiny"


class _RecordingRequest:
    """The real infer request, noting the latent length of every call."""

    def __init__(self, request) -> None:
        self.request, self.lengths = request, []

    def infer(self, feeds):
        self.lengths.append(feeds["z"].shape[2])
        return self.request.infer(feeds)


@pytest.fixture(scope="module")
def speakers(tmp_path_factory):
    cut = OpenVinoSpeaker.load(TINY / "onnx", model_cache=tmp_path_factory.mktemp("ov-cache"))
    assert cut._decoder is not None, "the tiny synthesizer should be cut"
    cut._decoder.request = _RecordingRequest(cut._decoder.request)
    return cut, OnnxSpeaker.load(TINY / "onnx")


@pytest.mark.parametrize("length_scale", [0.6, 1.0, 1.7, 4.0, 12.0])
def test_decoder_runs_only_fixed_lengths_and_matches_the_whole_graph(speakers, length_scale: float) -> None:
    cut, whole = speakers
    inputs, _ = read_case(TINY / "golden" / "case2_T61.npz")
    inputs = dataclasses.replace(inputs, length_scale=length_scale)
    ours, reference = cut.synthesize(inputs), whole.synthesize(inputs)
    np.testing.assert_allclose(ours.audio, reference.audio, rtol=0, atol=1e-5)
    np.testing.assert_array_equal(ours.durations, reference.durations)
    assert set(cut._decoder.request.lengths) <= set(DECODER_LENGTHS)


def test_a_latent_longer_than_the_largest_length_is_decoded_in_windows(speakers) -> None:
    cut, _ = speakers
    inputs, _ = read_case(TINY / "golden" / "case2_T61.npz")
    latent = cut.encode(dataclasses.replace(inputs, length_scale=12.0))
    assert latent is not None and latent.frames > DECODER_LENGTHS[-1]
    cut._decoder.request.lengths.clear()
    audio = cut.decode(latent, 0, latent.frames)
    assert audio.size == latent.frames * cut.config.samples_per_frame
    assert len(cut._decoder.request.lengths) > 1
    assert set(cut._decoder.request.lengths) <= set(DECODER_LENGTHS)


def test_short_inputs_run_whole_on_onnxruntime(speakers) -> None:
    cut, whole = speakers
    inputs, _ = read_case(TINY / "golden" / "case4_T3.npz")
    assert cut.encode(inputs) is None
    expected = whole.synthesize(inputs).audio
    np.testing.assert_allclose(cut.synthesize(inputs).audio, expected, rtol=0, atol=1e-5)


def test_an_unreadable_synthesizer_with_a_cache_is_a_config_error(tmp_path: Path) -> None:
    from hayakoe_core.errors import ConfigError

    folder = tmp_path / "speaker"
    shutil.copytree(TINY / "onnx", folder)
    (folder / "synthesizer.onnx").write_bytes(b"not a graph")
    with pytest.raises(ConfigError, match=r"synthesizer\.onnx"):
        OpenVinoSpeaker.load(folder, model_cache=tmp_path / "cache")
