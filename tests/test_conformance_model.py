"""The model conformance runner: ``python -m hayakoe_core.conformance model DIR --backend …``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result

from hayakoe_core.conformance.__main__ import main
from hayakoe_core.conformance.model import compare_case, read_case

TINY = Path(__file__).resolve().parent / "fixtures" / "model" / "tiny"
ONNX_DIR = TINY / "onnx"


def _run(*args: str | Path) -> Result:
    return CliRunner().invoke(main, ["model", *map(str, args)])


def _rows(output: str) -> list[list[str]]:
    """The per-tensor lines (``case tensor max_abs tolerance verdict``), summary excluded."""
    return [line.split() for line in output.splitlines() if line.startswith("case")]


def test_onnx_fixture_passes() -> None:
    result = _run(ONNX_DIR, "--backend", "onnx")
    assert result.exit_code == 0, result.output
    rows = _rows(result.output)
    assert {(r[0], r[1]) for r in rows} == {
        (case.stem, tensor)
        for case in (ONNX_DIR / "golden").glob("case*.npz")
        for tensor in ("audio", "durations")
    }
    assert all(r[4] == "PASS" for r in rows)
    assert {r[3] for r in rows if r[1] == "audio"} == {"atol=1e-05"}
    assert {r[3] for r in rows if r[1] == "durations"} == {"exact"}


def _corrupted_copy(tmp_path: Path, case: str, tensor: str, index: int, delta: float) -> Path:
    """tiny/onnx with golden/ holding case0 intact and ``case`` with one value moved by delta."""
    folder = tmp_path / "speaker"
    shutil.copytree(ONNX_DIR, folder, ignore=shutil.ignore_patterns("golden"))
    (folder / "golden").mkdir()
    shutil.copy(ONNX_DIR / "golden" / "case0_T7.npz", folder / "golden")
    with np.load(ONNX_DIR / "golden" / f"{case}.npz") as npz:
        arrays = {name: npz[name].copy() for name in npz.files}
    arrays[tensor].reshape(-1)[index] += delta
    np.savez(folder / "golden" / f"{case}.npz", **arrays)
    return folder


@pytest.mark.parametrize(
    ("tensor", "delta", "max_abs"),
    [("audio", 1e-3, "1.000e-03"), ("durations", 1.0, "1.000e+00")],
)
def test_corrupted_golden_fails(tmp_path: Path, tensor: str, delta: float, max_abs: str) -> None:
    folder = _corrupted_copy(tmp_path, "case1_T23", tensor, index=5, delta=delta)
    result = _run(folder, "--backend", "onnx")
    assert result.exit_code == 1, result.output
    verdicts = {(r[0], r[1]): r for r in _rows(result.output)}
    assert verdicts[("case1_T23", tensor)][2:] == [
        max_abs,
        "atol=1e-05" if tensor == "audio" else "exact",
        "FAIL",
    ]
    others = [r for key, r in verdicts.items() if key != ("case1_T23", tensor)]
    assert len(others) == 3
    assert all(r[4] == "PASS" for r in others)


def test_audio_within_tolerance_still_passes(tmp_path: Path) -> None:
    folder = _corrupted_copy(tmp_path, "case1_T23", "audio", index=5, delta=5e-6)
    assert _run(folder, "--backend", "onnx").exit_code == 0


def test_json_report(tmp_path: Path) -> None:
    folder = _corrupted_copy(tmp_path, "case4_T3", "audio", index=0, delta=0.5)
    result = _run(folder, "--backend", "onnx", "--json")
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["backend"] == "onnx"
    assert report["speaker_dir"] == str(folder)
    assert report["passed"] is False
    assert [c["case"] for c in report["cases"]] == ["case0_T7", "case4_T3"]
    assert [c["passed"] for c in report["cases"]] == [True, False]
    audio = next(t for t in report["cases"][1]["tensors"] if t["tensor"] == "audio")
    assert audio == {
        "tensor": "audio",
        "passed": False,
        "max_abs": pytest.approx(0.5),
        "tolerance": {"kind": "atol", "value": 1e-5},
        "golden_shape": [144],
        "actual_shape": [144],
        "note": None,
    }


@pytest.mark.parametrize(
    ("make_dir", "message"),
    [
        (lambda tmp: tmp / "nope", "no such speaker folder"),
        (lambda tmp: tmp, "no golden case*.npz"),
    ],
    ids=["missing-dir", "missing-golden"],
)
def test_unusable_dir_is_one_line_exit_2(tmp_path: Path, make_dir, message: str) -> None:
    result = _run(make_dir(tmp_path), "--backend", "onnx")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: ") and message in result.stderr


def test_unknown_backend_is_one_line_exit_2() -> None:
    result = _run(ONNX_DIR, "--backend", "no-such-backend")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and "no-such-backend" in result.stderr
    assert result.stderr.count("\n") == 1


def test_pytorch_golden_format_is_read() -> None:
    inputs, golden = read_case(TINY / "golden" / "case3_T23_sdp.npz")
    assert golden["sdp_ratio"].shape == ()
    assert (inputs.sdp_ratio, inputs.length_scale, inputs.sid) == (0.5, pytest.approx(1.3), 0)
    assert inputs.x.shape == (23,) and inputs.bert.shape == (1024, 23)
    assert inputs.style_vec.shape == (256,)
    np.testing.assert_array_equal(golden["durations"], golden["durations_predict"])


def test_compare_case_flags_shape_mismatch_and_missing_audio() -> None:
    golden = {"audio": np.zeros((1, 1, 4), np.float32), "w": np.ones((1, 1, 2), np.float32)}
    checks = compare_case("c", golden, {"w": np.ones((1, 2), np.float32)})
    by_name = {c.name: c for c in checks}
    assert not by_name["audio"].passed and by_name["audio"].note == "not returned by the backend"
    assert not by_name["w"].passed and by_name["w"].max_abs is None
    assert by_name["w"].line() == "c w - rtol=1e-05 FAIL (shape [1, 2] != golden [1, 1, 2])"
    flat = compare_case("c", golden, {"audio": np.zeros(4, np.float32)})
    assert [c.passed for c in flat] == [True]


def test_torch_backend_reproduces_pytorch_goldens() -> None:
    result = _run(TINY, "--backend", "torch")
    assert result.exit_code == 0, result.output
    rows = _rows(result.output)
    cases = {case.stem for case in (TINY / "golden").glob("case*.npz")}
    assert {r[0] for r in rows if r[1] == "audio"} == cases
    assert all(r[4] == "PASS" for r in rows)


def _write_goldens(speaker_dir: Path, cases: int) -> None:
    """Golden cases for ``speaker_dir`` made by the torch backend, one per speaker id."""
    from hayakoe_backend_torch.runtime import TorchSpeaker

    speaker = TorchSpeaker.load(speaker_dir)
    rng = np.random.default_rng(7)
    (speaker_dir / "golden").mkdir()
    for case in range(cases):
        t = 2 * (5 + 4 * case) + 1
        feeds = {
            "x": rng.integers(0, 112, (1, t)), "x_lengths": np.array([t]),
            "sid": np.array([case % speaker.config.data.n_speakers]),
            "tone": rng.integers(0, 12, (1, t)), "language": rng.integers(0, 3, (1, t)),
            "bert": rng.standard_normal((1, 1024, t)).astype(np.float32),
            "style_vec": rng.standard_normal((1, 256)).astype(np.float32),
            "noise_scale": np.float32(0), "noise_scale_w": np.float32(0),
            "length_scale": np.float32(1), "sdp_ratio": np.float32(0.3),
        }  # fmt: skip
        path = speaker_dir / "golden" / f"case{case}.npz"
        np.savez(path, **feeds)
        inputs, _ = read_case(path)
        np.savez(path, **feeds, **speaker.trace(inputs))


@pytest.mark.parametrize("variant", ["two_speakers_deeper", "other_upsampling"])
def test_runner_works_unchanged_on_other_configs(tmp_path: Path, variant: str) -> None:
    from hayakoe_backend_onnx.export import export_onnx
    from tests.support.variants import VARIANTS, variant_dir

    torch_dir = variant_dir(tmp_path / "torch", VARIANTS[variant])
    shutil.copy(TINY / "style_vectors.npy", torch_dir)
    _write_goldens(torch_dir, cases=2)
    result = _run(torch_dir, "--backend", "torch")
    assert result.exit_code == 0, result.output
    assert len(_rows(result.output)) > 2 * 20

    onnx_dir = tmp_path / "onnx"
    export_onnx(torch_dir, onnx_dir)
    for name in ("config.json", "style_vectors.npy", "golden"):
        (shutil.copytree if name == "golden" else shutil.copy)(torch_dir / name, onnx_dir / name)
    result = _run(onnx_dir, "--backend", "onnx")
    assert result.exit_code == 0, result.output
    assert {(r[1], r[4]) for r in _rows(result.output)} == {("audio", "PASS"), ("durations", "PASS")}
