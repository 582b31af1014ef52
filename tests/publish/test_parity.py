"""Parity: ONNX graphs and the checkpoint agree on fixed inputs, or the publish stops."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from hayakoe_core.publish.parity import CASES, ParityError, check_parity, parity_inputs
from hayakoe_core.publish.source import choose_checkpoint, open_folder
from hayakoe_core.speaker_config import SpeakerConfig
from tests.publish.speakers import save_tensors, speaker_folder, tiny_tensors
from tests.support.repo import CHECKPOINT, TINY


def _retrained(folder: Path, name: str, key: str, change) -> Path:
    """A checkpoint beside the tiny one that differs in one tensor, as another step would."""
    tensors = tiny_tensors()
    tensors[key] = change(tensors[key]).astype(np.float32)
    return save_tensors(folder / name, tensors)


def test_the_inputs_are_fixed_and_noise_free() -> None:
    config = SpeakerConfig.from_file(TINY / "config.json")
    vectors = np.load(TINY / "style_vectors.npy")
    first, again = parity_inputs(config, vectors), parity_inputs(config, vectors)
    assert [case.x.size for case in first] == [length for length, _ in CASES]
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a.x, b.x)
        np.testing.assert_array_equal(a.bert, b.bert)
        assert (a.noise_scale, a.noise_scale_w) == (0.0, 0.0)
        assert a.x[::2].tolist() == [0] * len(a.x[::2])  # blanks between phones


def test_upstream_graphs_of_the_chosen_checkpoint_pass(tmp_path: Path) -> None:
    source = open_folder(speaker_folder(tmp_path / "s", graphs=True))
    report = check_parity(source.folder, choose_checkpoint(source).path, source.onnx_graphs)
    assert report.cases == len(CASES)
    assert report.max_audio_diff <= 1e-5
    assert report.tolerance == "atol=1e-05"


def test_top_level_graphs_of_another_checkpoint_are_caught(tmp_path: Path) -> None:
    folder = speaker_folder(tmp_path / "s", graphs=True)  # graphs exported from tiny_e1_s10
    _retrained(folder, "tiny_e2_s20.safetensors", "dec.conv_post.weight", lambda w: w * 1.01)
    source = open_folder(folder)
    chosen = choose_checkpoint(source, "tiny_e2_s20")

    with pytest.raises(ParityError) as err:
        check_parity(source.folder, chosen.path, source.onnx_graphs)

    message = str(err.value)
    assert re.search(r"tiny_e2_s20\.safetensors disagree on case 1: audio differs by up to [0-9.e-]+ "
                     r"\(tolerance atol=1e-05\)$", message), message
    assert "\n" not in message


def test_a_duration_predictor_of_another_checkpoint_is_caught(tmp_path: Path) -> None:
    """The synthesizer is right but duration_predictor.onnx holds another checkpoint's
    duration predictor (its output bias moved): only running that graph shows it."""
    folder = speaker_folder(tmp_path / "s", graphs=True)
    graph = onnx.load(folder / "duration_predictor.onnx")
    (bias,) = (i for i in graph.graph.initializer if i.name == "net_g.dp.proj.bias")
    bias.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(bias) + 1.0, bias.name))
    onnx.save(graph, folder / "duration_predictor.onnx")

    with pytest.raises(ParityError, match=r"duration_predictor\.onnx durations differ at \d+ of 9 phones"):
        check_parity(folder, folder / CHECKPOINT.name, open_folder(folder).onnx_graphs)


def test_without_a_duration_predictor_there_is_no_parity(tmp_path: Path) -> None:
    folder = speaker_folder(tmp_path / "s", graphs=True)
    with pytest.raises(ParityError, match=r"no duration_predictor\.onnx"):
        check_parity(folder, folder / CHECKPOINT.name, [folder / "synthesizer.onnx"])
