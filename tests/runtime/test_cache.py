"""The cache through a destination that downloads (the example zip:// plugin): freshness,
integrity, offline use."""

import zipfile

import numpy as np
import pytest

from hayakoe import TTS
from hayakoe_core.manifest import IntegrityError, build_manifest, write_manifest
from tests.support.repo import make_repo, publish

QUIET = {"noise": 0.0, "noise_w": 0.0}



@pytest.fixture
def source(tmp_path):
    url = f"zip://{tmp_path}/voices.zip"
    publish(make_repo(tmp_path / "repo", manifest=True), url)
    return url


def load(source, cache, **kw):
    return TTS("cpu", cache_dir=cache, **kw).load("tiny", source=source).prepare()


def test_loads_from_cache_and_offline(source, tmp_path):
    cache = tmp_path / "cache"
    first = load(source, cache).speakers["tiny"].generate("はい。", **QUIET)
    assert (cache / "zip").is_dir()
    (tmp_path / "voices.zip").unlink()
    offline = load(source, cache, offline=True).speakers["tiny"].generate("はい。", **QUIET)
    np.testing.assert_array_equal(first.data, offline.data)


def test_hf_hub_offline_concerns_only_hf_sources(source, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert load(source, tmp_path / "empty").speakers["tiny"].sample_rate == 44100


def test_offline_reads_stores_that_need_no_network(tmp_path):
    repo = make_repo(tmp_path / "repo", manifest=True)
    speaker = load(str(repo), tmp_path / "empty", offline=True).speakers["tiny"]
    assert speaker.generate("はい。", **QUIET).sr == 44100


def test_changed_speaker_is_fetched_again(source, tmp_path):
    cache = tmp_path / "cache"
    load(source, cache)
    folder = tmp_path / "repo/onnx/speakers/tiny"
    styles = folder / "style_vectors.npy"
    np.save(styles, np.load(styles)[::-1].copy())
    write_manifest(folder, build_manifest(folder, "tiny", "onnx", "0" * 64))
    publish(tmp_path / "repo", source)
    speaker = load(source, cache).speakers["tiny"]
    np.testing.assert_array_equal(np.load(speaker.folder / "style_vectors.npy"), np.load(styles))


def test_corrupt_download_is_refused_and_not_kept(source, tmp_path):
    archive = tmp_path / "voices.zip"
    with zipfile.ZipFile(archive) as zf:
        entries = {i.filename: zf.read(i) for i in zf.infolist()}
    key = "onnx/speakers/tiny/style_vectors.npy"
    data = bytearray(entries[key])
    data[-1] ^= 0xFF
    entries[key] = bytes(data)
    with zipfile.ZipFile(archive, "w") as zf:
        for name, blob in entries.items():
            zf.writestr(name, blob)
    with pytest.raises(IntegrityError, match=r"style_vectors\.npy does not match its sha256"):
        load(source, tmp_path / "cache")
    assert not list((tmp_path / "cache").rglob("style_vectors.npy"))
