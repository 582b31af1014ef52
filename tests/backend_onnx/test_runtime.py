"""OnnxSpeaker: upstream's tiny graphs reproduce their goldens; bad folders fail clearly."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from hayakoe_backend_onnx.runtime import OnnxSpeaker
from hayakoe_core.conformance.model import read_case
from hayakoe_core.errors import ConfigError
from hayakoe_core.synthesis import SpeakerModel

REPO = Path(__file__).resolve().parents[2]
ONNX_DIR = REPO / "tests" / "fixtures" / "model" / "tiny" / "onnx"
CASES = sorted((ONNX_DIR / "golden").glob("case*.npz"))


@pytest.fixture(scope="module")
def speaker() -> OnnxSpeaker:
    return OnnxSpeaker.load(ONNX_DIR)


def test_is_a_speaker_model(speaker: OnnxSpeaker) -> None:
    assert isinstance(speaker, SpeakerModel)
    assert speaker.config.data.style2id["Happy"] == 1
    assert not speaker.has_durations  # upstream's exporter gives the synthesizer one output


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_upstream_graphs_reproduce_goldens(speaker: OnnxSpeaker, case: Path) -> None:
    inputs, golden = read_case(case)
    result = speaker.synthesize(inputs)
    assert result.audio.dtype == np.float32
    assert result.audio.shape == (golden["audio"].size,)
    np.testing.assert_allclose(result.audio, golden["audio"].reshape(-1), rtol=0, atol=1e-5)
    assert result.durations.shape == (0,)
    np.testing.assert_array_equal(speaker.predict_durations(inputs), golden["durations"][0])
    # and upstream's PyTorch result, which the ONNX goldens carry for convenience
    np.testing.assert_allclose(result.audio, golden["torch_audio"].reshape(-1), rtol=0, atol=1e-5)
    traced = speaker.trace(inputs)
    assert set(traced) == {"audio", "durations"}
    np.testing.assert_array_equal(traced["audio"], result.audio)
    np.testing.assert_array_equal(traced["durations"], golden["durations"].reshape(-1))


def test_cpu_path_never_imports_torch() -> None:
    script = (
        "import sys\n"
        "from hayakoe_backend_onnx.runtime import OnnxSpeaker\n"
        "from hayakoe_core.conformance.model import read_case\n"
        f"speaker = OnnxSpeaker.load({str(ONNX_DIR)!r})\n"
        f"inputs, _ = read_case(__import__('pathlib').Path({str(CASES[0])!r}))\n"
        "assert speaker.synthesize(inputs).audio.size\n"
        "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=REPO
    ).stdout
    assert out.strip() == "[]"


def _copy_speaker(tmp_path: Path, skip: str = "") -> Path:
    dest = tmp_path / "speaker"
    dest.mkdir()
    for name in ("config.json", "style_vectors.npy", "synthesizer.onnx", "duration_predictor.onnx"):
        if name != skip:
            shutil.copy(ONNX_DIR / name, dest / name)
    return dest


@pytest.mark.parametrize("missing", ["config.json", "synthesizer.onnx"])
def test_missing_required_file_is_a_config_error(tmp_path: Path, missing: str) -> None:
    folder = _copy_speaker(tmp_path, skip=missing)
    with pytest.raises(ConfigError, match=missing.replace(".", r"\.")):
        OnnxSpeaker.load(folder)


@pytest.mark.parametrize("corrupt", ["synthesizer.onnx", "duration_predictor.onnx"])
def test_corrupt_graph_is_a_config_error_naming_it(tmp_path: Path, corrupt: str) -> None:
    folder = _copy_speaker(tmp_path)
    (folder / corrupt).write_bytes(b"not a protobuf at all")
    with pytest.raises(ConfigError, match=corrupt.replace(".", r"\.")) as err:
        OnnxSpeaker.load(folder)
    assert "\n" not in str(err.value)


def test_without_duration_predictor_there_are_no_durations(tmp_path: Path) -> None:
    speaker = OnnxSpeaker.load(_copy_speaker(tmp_path, skip="duration_predictor.onnx"))
    inputs, golden = read_case(CASES[0])
    assert not speaker.has_durations
    assert speaker.predict_durations(inputs) is None
    assert set(speaker.trace(inputs)) == {"audio"}
    result = speaker.synthesize(inputs)
    assert result.durations.shape == (0,)
    np.testing.assert_allclose(result.audio, golden["audio"].reshape(-1), rtol=0, atol=1e-5)


def _toy_graph(path: Path, inputs: list[str], outputs: list[str]) -> None:
    """A graph on x [1, T] and sdp_ratio [1]: audio = x * sdp_ratio, durations = x + 1.

    Only the inputs named in ``inputs`` are declared (a toy stand-in for a synthesizer graph
    with a second ``durations`` output, which upstream's exporter never emits).
    """
    declared = {
        "x": helper.make_tensor_value_info("x", TensorProto.INT64, [1, "T"]),
        "sdp_ratio": helper.make_tensor_value_info("sdp_ratio", TensorProto.FLOAT, [1]),
        "speed": helper.make_tensor_value_info("speed", TensorProto.FLOAT, [1]),
    }
    nodes = [
        helper.make_node("Cast", ["x"], ["xf"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["xf", "sdp_ratio"], ["audio"]),
        helper.make_node("Add", ["xf", "one"], ["durations"]),
    ]
    one = helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0])
    results = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, "T"]) for n in outputs]
    graph = helper.make_graph(nodes, "toy", [declared[n] for n in inputs], results, [one])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))


def _toy_speaker(tmp_path: Path, inputs: list[str], outputs: list[str]) -> Path:
    folder = tmp_path / "toy"
    folder.mkdir()
    shutil.copy(ONNX_DIR / "config.json", folder / "config.json")
    _toy_graph(folder / "synthesizer.onnx", inputs, outputs)
    return folder


def test_second_synthesizer_output_supplies_durations(tmp_path: Path) -> None:
    speaker = OnnxSpeaker.load(_toy_speaker(tmp_path, ["x", "sdp_ratio"], ["audio", "durations"]))
    inputs, _ = read_case(ONNX_DIR / "golden" / "case3_T23_sdp.npz")
    assert inputs.sdp_ratio == 0.5
    result = speaker.synthesize(inputs)
    np.testing.assert_array_equal(result.audio, inputs.x.astype(np.float32) * np.float32(0.5))
    np.testing.assert_array_equal(result.durations, inputs.x.astype(np.float32) + 1)
    assert speaker.has_durations
    assert speaker.predict_durations(inputs) is None


def test_graph_with_unknown_input_is_refused(tmp_path: Path) -> None:
    folder = _toy_speaker(tmp_path, ["x", "sdp_ratio", "speed"], ["audio"])
    with pytest.raises(ConfigError, match=r"synthesizer\.onnx.*'speed'"):
        OnnxSpeaker.load(folder)


def test_graph_without_audio_output_is_refused(tmp_path: Path) -> None:
    folder = _toy_speaker(tmp_path, ["x", "sdp_ratio"], ["durations"])
    with pytest.raises(ConfigError, match=r"synthesizer\.onnx.*'audio'"):
        OnnxSpeaker.load(folder)


def test_duration_predictor_opens_lazily_when_synthesizer_has_durations(tmp_path: Path) -> None:
    folder = _toy_speaker(tmp_path, ["x", "sdp_ratio"], ["audio", "durations"])
    (folder / "duration_predictor.onnx").write_bytes(b"corrupt")
    speaker = OnnxSpeaker.load(folder)  # not needed for synthesis, so not opened yet
    inputs, _ = read_case(CASES[0])
    np.testing.assert_array_equal(speaker.synthesize(inputs).durations, inputs.x + 1)
    with pytest.raises(ConfigError, match=r"duration_predictor\.onnx"):
        speaker.predict_durations(inputs)
