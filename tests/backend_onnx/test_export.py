"""ONNX export of the tiny speaker: upstream's graph interface, golden audio, any length."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from hayakoe_backend_onnx.export import EXPORTER_VERSION, export_onnx

TINY = Path(__file__).resolve().parents[1] / "fixtures" / "model" / "tiny"
ONNX_GOLDEN = sorted((TINY / "onnx" / "golden").glob("*.npz"))
SYNTH_INPUTS = [
    "x",
    "x_lengths",
    "sid",
    "tone",
    "language",
    "bert",
    "style_vec",
    "noise_scale",
    "length_scale",
    "noise_scale_w",
    "sdp_ratio",
]
DP_INPUTS = [n for n in SYNTH_INPUTS if n != "noise_scale"]


def _session(path: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _feeds(session: ort.InferenceSession, source: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {i.name: source[i.name] for i in session.get_inputs()}


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    """A default export into a folder holding a stale data file from an earlier export."""
    out = tmp_path_factory.mktemp("onnx")
    (out / "synthesizer.onnx.data").write_bytes(b"stale")
    messages: list[str] = []
    files = export_onnx(TINY, out, progress=messages.append)
    assert messages, "progress was never reported"
    return out, files


@pytest.fixture(scope="module")
def sessions(exported: tuple[Path, list[Path]]) -> tuple[ort.InferenceSession, ...]:
    out, _ = exported
    return _session(out / "synthesizer.onnx"), _session(out / "duration_predictor.onnx")


def test_default_export_writes_two_self_contained_graphs(exported: tuple[Path, list[Path]]) -> None:
    out, files = exported
    assert files == [out / "synthesizer.onnx", out / "duration_predictor.onnx"]
    # nothing half-written or stale is left beside the graphs
    assert sorted(p.name for p in out.iterdir()) == ["duration_predictor.onnx", "synthesizer.onnx"]
    assert isinstance(EXPORTER_VERSION, str) and EXPORTER_VERSION


def test_graph_interface_matches_upstream(exported: tuple[Path, list[Path]]) -> None:
    out, _ = exported
    for name, inputs, outputs in [
        ("synthesizer.onnx", SYNTH_INPUTS, ["audio", "durations"]),
        ("duration_predictor.onnx", DP_INPUTS, ["durations"]),
    ]:
        model = onnx.load(str(out / name))
        assert [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")] == [17]
        assert [i.name for i in model.graph.input] == inputs
        assert [o.name for o in model.graph.output] == outputs
        dims = {v.name: v.type.tensor_type for v in [*model.graph.input, *model.graph.output]}
        for tensor in ["x", "tone", "language"]:
            assert dims[tensor].shape.dim[1].dim_param == "phone_len"
            assert dims[tensor].elem_type == onnx.TensorProto.INT64
        assert dims["bert"].shape.dim[2].dim_param == "phone_len"
        assert dims["durations"].shape.dim[1].dim_param == "phone_len"
        for tensor in inputs[7:]:
            assert dims[tensor].elem_type == onnx.TensorProto.FLOAT
            assert [d.dim_value for d in dims[tensor].shape.dim] == [1]
        if "audio" in dims:
            assert dims["audio"].shape.dim[2].dim_param == "audio_len"


@pytest.mark.parametrize("path", ONNX_GOLDEN, ids=[p.stem for p in ONNX_GOLDEN])
def test_graphs_reproduce_goldens(sessions: tuple[ort.InferenceSession, ...], path: Path) -> None:
    synthesizer, duration_predictor = sessions
    case = dict(np.load(path))
    audio, durations = synthesizer.run(["audio", "durations"], _feeds(synthesizer, case))
    (predicted,) = duration_predictor.run(["durations"], _feeds(duration_predictor, case))
    assert audio.shape == case["audio"].shape
    np.testing.assert_allclose(audio, case["audio"], rtol=0, atol=1e-5)
    np.testing.assert_array_equal(predicted, case["durations"])
    np.testing.assert_array_equal(durations, predicted)


@pytest.mark.parametrize("t", [1, 3, 200])
def test_graphs_run_at_any_length(sessions: tuple[ort.InferenceSession, ...], t: int) -> None:
    synthesizer, duration_predictor = sessions
    rng = np.random.default_rng(t)
    feeds = {
        "x": rng.integers(0, 112, (1, t)),
        "x_lengths": np.array([t]),
        "sid": np.array([0]),
        "tone": rng.integers(0, 12, (1, t)),
        "language": rng.integers(0, 3, (1, t)),
        "bert": rng.standard_normal((1, 1024, t)).astype(np.float32),
        "style_vec": rng.standard_normal((1, 256)).astype(np.float32),
        "noise_scale": np.array([0.0], np.float32),
        "length_scale": np.array([1.0], np.float32),
        "noise_scale_w": np.array([0.0], np.float32),
        "sdp_ratio": np.array([0.5], np.float32),
    }
    audio, durations = synthesizer.run(["audio", "durations"], _feeds(synthesizer, feeds))
    (predicted,) = duration_predictor.run(["durations"], _feeds(duration_predictor, feeds))
    assert durations.shape == (1, t)
    np.testing.assert_array_equal(durations, predicted)
    assert audio.shape == (1, 1, max(int(durations.sum()), 1) * 16)
    assert np.isfinite(audio).all()


def test_forced_external_data_export_loads(tmp_path: Path) -> None:
    files = export_onnx(TINY, tmp_path, external_data=True)
    assert files == [
        tmp_path / "synthesizer.onnx.data",
        tmp_path / "synthesizer.onnx",
        tmp_path / "duration_predictor.onnx",
    ]
    graph = onnx.load(str(tmp_path / "synthesizer.onnx"), load_external_data=False)
    assert any(t.data_location == onnx.TensorProto.EXTERNAL for t in graph.graph.initializer)
    case = dict(np.load(ONNX_GOLDEN[0]))
    synthesizer = _session(tmp_path / "synthesizer.onnx")
    (audio,) = synthesizer.run(["audio"], _feeds(synthesizer, case))
    np.testing.assert_allclose(audio, case["audio"], rtol=0, atol=1e-5)
