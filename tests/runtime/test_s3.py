"""TTS from a real S3 server (SeaweedFS on loopback): both backends, cache, errors, pre_download."""

import os
import socket
import subprocess
import sys

import pytest

from hayakoe import TTS
from hayakoe_core.errors import HayakoeError, NotFoundError
from tests.support.repo import make_repo, publish

QUIET = {"noise": 0.0, "noise_w": 0.0}



@pytest.fixture
def source(s3_env, s3_bucket, tmp_path):
    url = f"s3://{s3_bucket}/voices"
    publish(make_repo(tmp_path / "repo", manifest=True), url)
    return url


def dead_endpoint() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_load_and_generate(source, tmp_path, backend):
    tts = TTS("cpu", backend=backend, cache_dir=tmp_path / "cache").load("tiny", source=source)
    audio = tts.prepare().speakers["tiny"].generate("テスト音声です。", **QUIET)
    assert audio.sr == 44100 and len(audio.data) > 0


def test_warm_prepare_asks_one_manifest_request_and_downloads_nothing(source, tmp_path, s3_calls):
    cache = tmp_path / "cache"
    TTS("cpu", cache_dir=cache).load("tiny", source=source).prepare()
    s3_calls.clear()
    TTS("cpu", cache_dir=cache).load("tiny", source=source).prepare()
    speaker_calls = [c for c in s3_calls if c[1] and "/speakers/" in c[1]]
    assert speaker_calls == [("GetObject", "voices/onnx/speakers/tiny/manifest.json")]
    downloads = [c for c in s3_calls if c[0] == "GetObject" and not c[1].endswith("manifest.json")]
    assert downloads == []


def test_prepare_in_a_new_process_with_the_server_down(source, s3_proxy, tmp_path):
    cache = tmp_path / "cache"
    TTS("cpu", cache_dir=cache).load("tiny", source=source).prepare()
    s3_proxy.stop()  # the endpoint the cache was filled from now refuses connections
    code = (
        "from hayakoe import TTS\n"
        f"t = TTS('cpu', cache_dir={str(cache)!r}).load('tiny', source={source!r}).prepare()\n"
        "print(t.speakers['tiny'].generate('はい。').sr)\n"
    )
    env = {**os.environ, "AWS_MAX_ATTEMPTS": "1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "44100"


def test_offline_asks_nothing_and_needs_the_cache(source, tmp_path, s3_calls):
    with pytest.raises(NotFoundError, match=r"offline: .* is not in the cache"):
        TTS("cpu", cache_dir=tmp_path / "cache", offline=True).load("tiny", source=source).prepare()
    assert s3_calls == []


def test_server_down_and_nothing_cached_is_a_clear_error(source, tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", dead_endpoint())
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    with pytest.raises(HayakoeError, match="AWS_ENDPOINT_URL_S3"):
        TTS("cpu", cache_dir=tmp_path / "cache").load("tiny", source=source).prepare()


def test_bad_credentials_name_the_variable(source, tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    with pytest.raises(HayakoeError, match="AWS_SECRET_ACCESS_KEY") as info:
        TTS("cpu", cache_dir=tmp_path / "cache").load("tiny", source=source).prepare()
    assert "not-the-secret" not in str(info.value)


def test_legacy_upstream_repo_without_manifests(s3_env, s3_bucket, tmp_path):
    url = f"s3://{s3_bucket}/legacy"
    publish(make_repo(tmp_path / "repo", manifest=False), url)
    speaker = TTS("cpu", cache_dir=tmp_path / "cache").load("tiny", source=url).prepare().speakers["tiny"]
    assert speaker.generate("はい。", **QUIET).sr == 44100


def test_pre_download_needs_no_model_runtime(source, tmp_path):
    cache = tmp_path / "cache"
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('onnxruntime', 'torch'):\n"
        "            raise ImportError('blocked: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from hayakoe import TTS\n"
        f"TTS('cpu', cache_dir={str(cache)!r}).load('tiny', source={source!r}).pre_download()\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    tts = TTS("cpu", cache_dir=cache, offline=True).load("tiny", source=source).prepare()
    assert tts.speakers["tiny"].generate("はい。", **QUIET).sr == 44100
