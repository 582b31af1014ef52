"""Choosing the OpenVINO backend: TTS(backend=), `hayakoe say --backend`, the CPU default, no torch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hayakoe_core.registry import reset_registry
from tests.support.repo import make_repo

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def fresh_registry(monkeypatch):
    reset_registry()
    yield monkeypatch
    reset_registry()


@pytest.mark.parametrize(
    ("disabled", "expected"),
    [("", "onnx"), ("openvino", "onnx"), ("onnx", "openvino"), ("onnx,openvino", "onnx")],
    ids=["both", "cpu-only", "openvino-only", "none"],
)
def test_cpu_default_prefers_onnx_then_openvino(fresh_registry, disabled: str, expected: str) -> None:
    from hayakoe_core.tts import TTS

    fresh_registry.setenv("HAYAKOE_DISABLE_PLUGINS", disabled)
    assert TTS(device="cpu").backend == expected
    assert TTS(device="cpu", backend="openvino").backend == "openvino"


def test_say_with_openvino_backend(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "voices")
    out = tmp_path / "out.wav"
    code = (
        "import sys\nfrom hayakoe_core.cli import main\n"
        "try:\n    main()\nexcept SystemExit as e:\n    code = e.code\n"
        "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH')\nsys.exit(code)\n"
    )
    args = ["テスト音声です。", "--source", str(repo), "--speaker", "tiny", "-o", str(out)]
    env = {**os.environ, "HAYAKOE_CACHE": str(tmp_path / "cache")}
    result = subprocess.run(
        [sys.executable, "-c", code, "say", *args, "--backend", "openvino"],
        capture_output=True, text=True, cwd=REPO, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "(openvino backend, cpu)" in result.stdout
    assert result.stdout.strip().endswith("NO-TORCH")
    assert out.stat().st_size > 44
    assert list((tmp_path / "cache" / "derived" / "openvino" / "compiled").glob("*/*/*.blob"))


def test_say_names_the_installed_backends_for_an_unknown_one(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "hayakoe", "say", "x", "--source", str(tmp_path), "--speaker", "a",
         "--backend", "tpu"],
        capture_output=True, text=True, cwd=REPO,
    )  # fmt: skip
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "unknown backend 'tpu'" in result.stderr and "openvino" in result.stderr
