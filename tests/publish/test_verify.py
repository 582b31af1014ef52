"""Verification in a clean process: a good speaker passes and leaves a wav; a speaker that
loads but cannot speak (NaN weights that pass validation, silence) fails with the reason."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
import soundfile
from onnx import numpy_helper

from hayakoe_core.publish.validate import validate_source
from hayakoe_core.publish.verify import VERIFY_TEXT, verify_speaker, wav_name
from hayakoe_core.publish.verify_child import check_audio
from tests.publish.speakers import save_tensors, tiny_tensors
from tests.support.repo import CHECKPOINT, TINY_BERT, make_repo


@pytest.fixture
def user_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The user's own cache: verification must neither read nor fill it."""
    cache = tmp_path / "user-cache"
    monkeypatch.setenv("HAYAKOE_CACHE", str(cache))
    return cache


def test_a_good_onnx_speaker_passes_and_its_wav_is_saved(tmp_path: Path, user_cache: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    verify_dir = tmp_path / "verify"

    result = verify_speaker(str(repo), "tiny", backend="onnx", device="cpu", verify_dir=verify_dir)

    assert result.ok, result.reason
    assert result.wav == verify_dir / "tiny_cpu.wav"
    data, sr = soundfile.read(result.wav)
    assert (sr, result.sample_rate) == (44100, 44100)
    assert result.duration == pytest.approx(len(data) / sr)
    assert np.abs(data).max() > 0.01
    assert not user_cache.exists()


def test_the_torch_files_verify_on_the_cpu_under_their_own_name(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    result = verify_speaker(str(repo), "tiny", backend="torch", device="cpu", verify_dir=tmp_path / "v")
    assert result.ok, result.reason
    assert result.wav == tmp_path / "v" / "tiny_torch-cpu.wav"


def test_wav_names() -> None:
    assert wav_name("a", "onnx", "cpu") == "a_cpu.wav"
    assert wav_name("a", "torch", "cuda:1") == "a_cuda.wav"
    assert wav_name("a", "torch", "cpu") == "a_torch-cpu.wav"


def test_a_checkpoint_with_nan_weights_passes_validation_and_fails_verification(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    speaker = repo / "pytorch" / "speakers" / "tiny"
    tensors = tiny_tensors()
    tensors["dec.conv_post.weight"] = np.full_like(tensors["dec.conv_post.weight"], np.nan)
    save_tensors(speaker / CHECKPOINT.name, tensors)
    validate_source(speaker, speaker / CHECKPOINT.name, ("torch", "onnx"))

    result = verify_speaker(str(repo), "tiny", backend="torch", device="cpu", verify_dir=tmp_path / "v")

    assert not result.ok
    assert result.reason.startswith("the audio holds ") and "NaN or infinite samples" in result.reason
    assert result.wav is None
    assert not (tmp_path / "v").exists()


def test_a_silent_speaker_fails(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    graph_path = repo / "onnx" / "speakers" / "tiny" / "synthesizer.onnx"
    graph = onnx.load(graph_path)
    (weight,) = (i for i in graph.graph.initializer if i.name == "net_g.dec.conv_post.weight")
    weight.CopyFrom(numpy_helper.from_array(np.zeros_like(numpy_helper.to_array(weight)), weight.name))
    onnx.save(graph, graph_path)

    result = verify_speaker(str(repo), "tiny", backend="onnx", device="cpu", verify_dir=tmp_path / "v")

    assert not result.ok
    assert result.reason.startswith("the audio is silent (peak 0.0e+00")


def test_the_bert_source_is_passed_through(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = make_repo(tmp_path / "repo", bert=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the default BERT source is a hub: not here
    monkeypatch.delenv("HAYAKOE_BERT_SOURCE", raising=False)

    without = verify_speaker(str(repo), "tiny", backend="onnx", device="cpu", verify_dir=tmp_path / "v")
    bert = shutil.copytree(TINY_BERT, tmp_path / "bert-only")
    with_bert = verify_speaker(
        str(repo), "tiny", backend="onnx", device="cpu", verify_dir=tmp_path / "v", bert_source=str(bert)
    )

    assert not without.ok and "lemondouble/hayakoe" in without.reason
    assert with_bert.ok, with_bert.reason


def test_a_failure_names_the_problem_without_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The speaker's name is the secret here, so the child's own message would carry it."""
    repo = make_repo(tmp_path / "repo")
    monkeypatch.setenv("HAYAKOE_TEST_TOKEN", "hidden-name-123")
    result = verify_speaker(
        str(repo), "hidden-name-123", backend="onnx", device="cpu", verify_dir=tmp_path / "v",
        secrets=["tiny"],
    )  # fmt: skip
    assert not result.ok
    assert "hidden-name-123" not in result.reason
    assert "tiny" not in result.reason
    assert "speaker '***' is not at" in result.reason
    assert "\n" not in result.reason


def test_a_verification_that_hangs_is_stopped(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    result = verify_speaker(str(repo), "tiny", backend="onnx", device="cpu", timeout=0.2)
    assert not result.ok
    assert result.reason == "verification timed out after 0.2 s"


@pytest.mark.parametrize(
    ("samples", "needle"),
    [
        (np.zeros(0, np.float32), "no audio"),
        (np.array([0.5, np.inf] * 200, np.float32), "200 NaN or infinite samples of 400"),
        (np.full(4000, 1e-4, np.float32), "silent"),
        (np.full(16 * 5, 0.5, np.float32), "5 frames"),
        (np.full(16 * 2000, 0.5, np.float32), "2000 frames"),
    ],
    ids=["empty", "inf", "quiet", "short", "long"],
)
def test_audio_checks(samples: np.ndarray, needle: str) -> None:
    reason = check_audio(samples, 44100, hop_length=16)
    assert reason is not None and needle in reason


def test_audio_check_passes_speech_like_audio() -> None:
    rng = np.random.default_rng(0)
    assert check_audio((rng.standard_normal(16 * 100) * 0.2).astype(np.float32), 44100, 16) is None
    assert VERIFY_TEXT == "テスト音声です。"
