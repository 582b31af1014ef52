"""TTS from the project's Hub-compatible test server through the real huggingface_hub client."""

import os
import subprocess
import sys

import numpy as np
import pytest

from hayakoe import TTS
from hayakoe_core.errors import HayakoeError
from hayakoe_core.manifest import build_manifest, write_manifest
from tests.support.hub_fixtures import WRITE_TOKEN
from tests.support.repo import make_repo, publish

QUIET = {"noise": 0.0, "noise_w": 0.0}



@pytest.fixture
def source(hub, hub_repo, tmp_path):
    publish(make_repo(tmp_path / "repo", manifest=True), f"hf://{hub_repo}")
    return f"hf://{hub_repo}"


@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_load_and_generate(source, tmp_path, backend):
    tts = TTS("cpu", backend=backend, cache_dir=tmp_path / "cache").load("tiny", source=source)
    assert tts.prepare().speakers["tiny"].generate("テスト音声です。", **QUIET).sr == 44100


def test_only_the_speakers_prefix_is_downloaded(source, hub, tmp_path):
    hub.clear_log()
    TTS("cpu", cache_dir=tmp_path / "cache").load("tiny", source=source).prepare()
    downloads = [p for m, p in hub.requests if m == "GET" and "/resolve/" in p]
    assert downloads and not any("/pytorch/" in p for p in downloads)


def test_warm_prepare_asks_one_manifest_request_and_downloads_nothing(source, hub, tmp_path):
    cache = tmp_path / "cache"
    TTS("cpu", cache_dir=cache).load("tiny", source=source).prepare()
    hub.clear_log()
    TTS("cpu", cache_dir=cache).load("tiny", source=source).prepare()
    speaker = [(m, p) for m, p in hub.requests if "/speakers/" in p]
    assert len(speaker) == 1 and speaker[0][1].endswith("/onnx/speakers/tiny/manifest.json")
    downloads = [p for m, p in hub.requests if m == "GET" and "/resolve/" in p]
    assert all(p.endswith("manifest.json") for p in downloads)


def test_revision_is_honoured(hub, hub_repo, tmp_path):
    repo = make_repo(tmp_path / "repo", manifest=True)
    publish(repo, f"hf://{hub_repo}")
    folder = repo / "onnx/speakers/tiny"
    np.save(folder / "style_vectors.npy", np.load(folder / "style_vectors.npy")[::-1].copy())
    write_manifest(folder, build_manifest(folder, "tiny", "onnx", "0" * 64))
    publish(repo, f"hf://{hub_repo}@dev")
    main = TTS("cpu", cache_dir=tmp_path / "c").load("tiny", source=f"hf://{hub_repo}").prepare()
    dev = TTS("cpu", cache_dir=tmp_path / "c").load("tiny", source=f"hf://{hub_repo}@dev").prepare()
    vectors = [np.load(t.speakers["tiny"].folder / "style_vectors.npy") for t in (main, dev)]
    np.testing.assert_array_equal(vectors[0][::-1], vectors[1])


def test_private_repo_needs_a_token(source, tmp_path, monkeypatch):
    monkeypatch.delenv("HF_TOKEN")
    with pytest.raises(HayakoeError, match="HF_TOKEN"):
        TTS("cpu", cache_dir=tmp_path / "a").load("tiny", source=source).prepare()
    tts = TTS("cpu", cache_dir=tmp_path / "b", hf_token=WRITE_TOKEN).load("tiny", source=source)
    assert tts.prepare().speakers["tiny"].generate("はい。", **QUIET).sr == 44100
    assert WRITE_TOKEN not in repr(tts) + repr(tts._sources)


def test_wrong_token_is_clear(source, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_not_a_real_token")
    with pytest.raises(HayakoeError, match="HF_TOKEN") as info:
        TTS("cpu", cache_dir=tmp_path / "a").load("tiny", source=source).prepare()
    assert "hf_not_a_real_token" not in str(info.value)


def run_child(cache, source, **env):
    code = (
        "from hayakoe import TTS\n"
        f"t = TTS('cpu', cache_dir={str(cache)!r}).load('tiny', source={source!r}).prepare()\n"
        "print(t.speakers['tiny'].generate('はい。').sr)\n"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=300)


def test_new_process_with_the_hub_down_uses_the_cache(source, hub_proxy, tmp_path):
    cache = tmp_path / "cache"
    TTS("cpu", cache_dir=cache).load("tiny", source=source).prepare()
    hub_proxy.stop()  # the endpoint the cache was filled from now refuses connections
    out = run_child(cache, source, HF_ENDPOINT=hub_proxy.url)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "44100"


def test_hf_hub_offline_loads_from_cache_only(source, tmp_path):
    cache = tmp_path / "cache"
    TTS("cpu", cache_dir=cache).load("tiny", source=source).prepare()
    assert run_child(cache, source, HF_HUB_OFFLINE="1").returncode == 0
    empty = run_child(tmp_path / "empty", source, HF_HUB_OFFLINE="1")
    assert empty.returncode != 0 and "offline" in empty.stderr
