"""TTS from a local folder: both backends on CPU, legacy upstream layout, errors."""

import subprocess
import sys

import numpy as np
import pytest
import soundfile

from hayakoe import TTS
from hayakoe_core.errors import HayakoeError, NotFoundError, PluginError, UnreachableError
from hayakoe_core.registry import Registry
from tests.support.repo import make_repo

QUIET = {"noise": 0.0, "noise_w": 0.0}


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    return make_repo(tmp_path_factory.mktemp("repo"), ("tiny", "other"), manifest=True)


@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_generate_and_save(repo, tmp_path, backend):
    tts = TTS("cpu", backend=backend, cache_dir=tmp_path / "cache").load("tiny", source=str(repo))
    speaker = tts.prepare().speakers["tiny"]
    audio = speaker.generate("テスト音声です。", **QUIET)
    assert audio.data.dtype == np.int16 and audio.data.ndim == 1
    assert audio.sr == 44100
    assert np.abs(audio.data).max() == 32767  # peak-normalised, as upstream
    assert audio.duration == pytest.approx(len(audio.data) / 44100)
    out = audio.save(tmp_path / "out.wav")
    info = soundfile.info(str(out))
    assert (info.samplerate, info.subtype, info.frames) == (44100, "PCM_16", len(audio.data))


def test_backends_agree_on_the_same_speaker(repo, tmp_path):
    """The torch files and upstream's ONNX graphs of one checkpoint give the same audio."""
    text = "今日はいい天気ですね。"
    onnx = TTS("cpu", cache_dir=tmp_path).load("tiny", source=str(repo)).prepare()
    torch = TTS("cpu", backend="torch", cache_dir=tmp_path).load("tiny", source=str(repo)).prepare()
    a = onnx.speakers["tiny"].generate(text, **QUIET)
    b = torch.speakers["tiny"].generate(text, **QUIET)
    assert len(a.data) == len(b.data)
    np.testing.assert_allclose(a.as_float32(), b.as_float32(), atol=1e-4)


def test_long_text_is_one_waveform_with_pauses(repo, tmp_path):
    tts = TTS("cpu", cache_dir=tmp_path).load("tiny", source=str(repo)).prepare()
    speaker = tts.speakers["tiny"]
    first = speaker.generate("こんにちは。", **QUIET)
    both = speaker.generate("こんにちは。さようなら。", **QUIET)
    second = speaker.generate("さようなら。", **QUIET)
    assert len(both.data) >= len(first.data) + len(second.data)


def test_user_dictionary_changes_the_reading(repo, tmp_path):
    tts = TTS("cpu", cache_dir=tmp_path).load("tiny", source=str(repo)).prepare()
    before = tts.speakers["tiny"].generate("東京", **QUIET)
    tts.add_word(surface="東京", reading="ヒガシキョウ", accent=0)
    after = tts.speakers["tiny"].generate("東京", **QUIET)
    assert len(after.data) != len(before.data)


def test_styles(repo, tmp_path):
    speaker = TTS("cpu", cache_dir=tmp_path).load("tiny", source=str(repo)).prepare().speakers["tiny"]
    assert speaker.styles == ["Neutral", "Happy", "Sad", "Angry"]
    happy = speaker.generate("はい。", style="Happy", **QUIET)
    neutral = speaker.generate("はい。", **QUIET)
    assert not np.array_equal(happy.data, neutral.data)
    with pytest.raises(HayakoeError, match="unknown style 'Joy'; this speaker has: Neutral"):
        speaker.generate("はい。", style="Joy")


def test_missing_speaker_lists_what_is_there(repo, tmp_path):
    tts = TTS("cpu", cache_dir=tmp_path).load("nobody", source=str(repo))
    with pytest.raises(NotFoundError, match=r"speaker 'nobody' .*onnx/: other, tiny"):
        tts.prepare()


def test_unsafe_speaker_names_are_refused(repo):
    for bad in ("../tiny", "a/b", "..", "a\\b"):
        with pytest.raises(HayakoeError, match="refusing"):
            TTS("cpu").load(bad, source=str(repo))


def test_cuda_without_cuda_is_clear(repo, tmp_path):
    tts = TTS("cuda", cache_dir=tmp_path).load("tiny", source=str(repo))
    with pytest.raises(HayakoeError, match="no CUDA device"):
        tts.prepare()


def test_onnx_backend_refuses_cuda(repo, tmp_path):
    with pytest.raises(HayakoeError, match="runs on cpu"):
        TTS("cuda", backend="onnx", cache_dir=tmp_path).load("tiny", source=str(repo)).prepare()


def test_missing_backend_names_this_projects_plugin(repo, tmp_path):
    code = (
        "from hayakoe import TTS\n"
        f"TTS('cpu', cache_dir={str(tmp_path)!r}).load('tiny', source={str(repo)!r}).prepare()\n"
    )
    env = {"HAYAKOE_DISABLE_PLUGINS": "onnx,openvino", "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert result.returncode != 0
    assert "-m pip install -e " in result.stderr and "/plugins/hayakoe_backend_onnx" in result.stderr


def test_cpu_path_never_imports_torch(repo, tmp_path):
    code = (
        "import sys\nfrom hayakoe import TTS\n"
        f"t = TTS('cpu', cache_dir={str(tmp_path)!r}).load('tiny', source={str(repo)!r}).prepare()\n"
        "t.speakers['tiny'].generate('こんにちは。')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'transformers')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_unknown_device():
    with pytest.raises(HayakoeError, match="unknown device 'tpu'"):
        TTS("tpu")


def test_explicit_bert_source_must_exist(repo, tmp_path):
    tts = TTS("cpu", cache_dir=tmp_path, bert_source=str(tmp_path / "nothing"))
    with pytest.raises(NotFoundError):
        tts.load("tiny", source=str(repo)).prepare()


def test_loads_without_the_plugin_of_the_default_bert_source(repo, tmp_path, monkeypatch):
    """hayakoe[cpu] alone (no HF plugin) loads a local speaker whose folder holds the BERT."""
    monkeypatch.setenv("HAYAKOE_DISABLE_PLUGINS", "hf,s3,torch")
    registry = Registry()
    registry.load_entry_points()
    monkeypatch.setattr("hayakoe_core.tts.get_registry", lambda: registry)
    tts = TTS("cpu", cache_dir=tmp_path).load("tiny", source=str(repo)).prepare()
    assert tts.speakers["tiny"].generate("はい。", **QUIET).sr == 44100


def test_missing_plugin_for_source_is_clear(monkeypatch):
    monkeypatch.setenv("HAYAKOE_DISABLE_PLUGINS", "s3")
    registry = Registry()
    registry.load_entry_points()
    monkeypatch.setattr("hayakoe_core.tts.get_registry", lambda: registry)
    with pytest.raises(PluginError, match=r"pip install -e \S*/plugins/hayakoe_dest_s3$"):
        TTS("cpu").load("tiny", source="s3://bucket/voices")


def test_prepare_keeps_optimised_graphs_for_the_next_load(repo, tmp_path):
    TTS("cpu", cache_dir=tmp_path).load("tiny", source=str(repo)).prepare()
    derived = tmp_path / "derived"
    # the synthesizer is cut into an encoder and a decoder once, and both are kept optimised
    assert list(derived.glob("onnx/ort-optimized/split-*/encoder.onnx"))
    assert list(derived.glob("onnx/ort-optimized/encoder-*.onnx"))
    assert list(derived.glob("onnx/ort-optimized/decoder-*.onnx"))
    assert list(derived.glob("bert/bert_q8-*.onnx"))
    again = TTS("cpu", cache_dir=tmp_path).load("tiny", source=str(repo)).prepare()
    assert again.speakers["tiny"].generate("はい。", **QUIET).sr == 44100


def test_offline_without_a_bert_says_where_the_bert_was_sought(tmp_path):
    repo = make_repo(tmp_path / "repo", manifest=True, bert=False)
    with pytest.raises(NotFoundError) as info:
        TTS("cpu", cache_dir=tmp_path / "cache", offline=True).load("tiny", source=str(repo)).prepare()
    message = str(info.value)
    assert "shared BERT was being fetched from hf://lemondouble/hayakoe" in message
    assert "bert_source=" in message and "HAYAKOE_BERT_SOURCE" in message
    out = subprocess.run(
        [sys.executable, "-m", "hayakoe", "say", "はい。", "--source", str(repo), "--speaker", "tiny",
         "--offline", "--cache-dir", str(tmp_path / "cache"), "-o", str(tmp_path / "o.wav")],
        capture_output=True, text=True,
    )
    assert out.returncode == 1 and "--bert-source" in out.stderr and len(out.stderr.splitlines()) == 1


def test_an_unreachable_hub_without_a_bert_says_where_the_bert_was_sought(tmp_path, monkeypatch):
    """Online, with the Hub down (nothing listens on the port): the same explanation, quickly."""
    from huggingface_hub import constants

    repo = make_repo(tmp_path / "repo", manifest=True, bert=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # read once, at first import
    with pytest.raises(UnreachableError) as info:
        TTS("cpu", cache_dir=tmp_path / "cache").load("tiny", source=str(repo)).prepare()
    message = str(info.value)
    assert "shared BERT was being fetched from hf://lemondouble/hayakoe" in message
    assert "bert_source=" in message and "cannot reach the Hub at http://127.0.0.1:9" in message
