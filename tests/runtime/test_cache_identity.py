"""One cache, many sources: a speaker cached for one source is never served for another.

Two prefixes of one bucket hold different speakers of the same name (their style vectors
differ); they are loaded into one cache one after the other, then from the cache alone, and
concurrently.
"""

import json
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from hayakoe import TTS
from hayakoe_core.errors import ConfigError, HayakoeError
from hayakoe_core.fetching import target_cache
from hayakoe_core.registry import get_registry
from tests.runtime.conftest import fetched
from tests.support.repo import alter_speaker, make_repo, publish

ROUNDS = 4  # concurrent rounds; before the fix most rounds loaded the wrong speaker


@pytest.fixture
def two_sources(s3_proxy, s3_bucket, tmp_path):
    """``{url: style vectors}`` for s3://bucket/base and s3://bucket/alt (through the proxy)."""
    base = make_repo(tmp_path / "base", manifest=True)
    alt = make_repo(tmp_path / "alt", manifest=True)
    alt_vectors = alter_speaker(alt)
    urls = {f"s3://{s3_bucket}/base": base, f"s3://{s3_bucket}/alt": alt}
    for url, repo in urls.items():
        publish(repo, url)
    return {
        f"s3://{s3_bucket}/base": np.load(base / "onnx/speakers/tiny/style_vectors.npy"),
        f"s3://{s3_bucket}/alt": alt_vectors,
    }


def loaded(url: str, cache: Path, **kw) -> np.ndarray:
    """The style vectors of the speaker the runtime's fetcher serves for ``url``."""
    return np.load(fetched(url, cache, **kw) / "style_vectors.npy")


def loaded_by_tts(url: str, cache: Path, **kw) -> np.ndarray:
    tts = TTS(cache_dir=cache, **kw).load("tiny", source=url).prepare()
    return np.load(tts.speakers["tiny"].folder / "style_vectors.npy")


def test_each_source_has_its_own_folder(s3_env, monkeypatch, tmp_path):
    registry = get_registry()
    urls = ["s3://voices/base", "s3://voices/alt", "s3://voices"]
    folders = {target_cache(tmp_path, registry.parse_url(u)) for u in urls}
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:1")
    folders.add(target_cache(tmp_path, registry.parse_url("s3://voices/base")))
    folders |= {target_cache(tmp_path, registry.parse_url(u)) for u in ("hf://a/b", "hf://a/b@dev")}
    assert len(folders) == 6


def test_sequential_loads_then_offline_serve_each_its_own(two_sources, s3_proxy, tmp_path):
    cache = tmp_path / "cache"
    for url, vectors in two_sources.items():
        TTS(cache_dir=cache).load("tiny", source=url).pre_download()  # speaker and BERT
        np.testing.assert_array_equal(loaded(url, cache), vectors)
    for url, vectors in two_sources.items():  # what users saw: the other source's speaker
        np.testing.assert_array_equal(loaded_by_tts(url, cache, offline=True), vectors)
    s3_proxy.stop()  # the endpoint is down: each source falls back to its own cached copy
    for url, vectors in two_sources.items():
        np.testing.assert_array_equal(loaded(url, cache), vectors)


def test_concurrent_loads_never_mix_sources(two_sources, tmp_path):
    cache = tmp_path / "cache"
    wrong: list[str] = []
    errors: list[BaseException] = []

    def load(url: str, expected: np.ndarray) -> None:
        try:
            if not np.array_equal(loaded(url, cache), expected):
                wrong.append(url)
        except BaseException as exc:
            errors.append(exc)

    for _ in range(ROUNDS):
        threads = [threading.Thread(target=load, args=item) for item in two_sources.items()]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not any(t.is_alive() for t in threads)
    assert errors == [] and wrong == []
    for url, vectors in two_sources.items():  # and what they left behind is right too
        np.testing.assert_array_equal(loaded(url, cache, offline=True), vectors)


def test_a_manifest_naming_another_speaker_is_refused_before_download(s3_env, s3_bucket, tmp_path, s3_calls):
    repo = make_repo(tmp_path / "repo", manifest=True)
    manifest = repo / "onnx/speakers/tiny/manifest.json"
    doc = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**doc, "speaker": "someone-else"}))
    url = f"s3://{s3_bucket}/voices"
    publish(repo, url)
    s3_calls.clear()
    with pytest.raises(ConfigError, match="names speaker 'someone-else', not 'tiny'"):
        TTS(cache_dir=tmp_path / "cache").load("tiny", source=url).prepare()
    assert [op for op, key in s3_calls if op == "GetObject"] == ["GetObject"]  # the manifest only


def test_a_cached_manifest_naming_another_speaker_is_never_served(two_sources, tmp_path):
    cache = tmp_path / "cache"
    url = next(iter(two_sources))
    folder = fetched(url, cache)
    manifest = Path(folder) / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"speaker": "tiny"', '"speaker": "other"'))
    with pytest.raises(ConfigError, match="names speaker 'other', not 'tiny'"):
        TTS(cache_dir=cache, offline=True).load("tiny", source=url).prepare()
    # online, the remote manifest differs from the cached one: the folder is fetched again
    np.testing.assert_array_equal(loaded(url, cache), two_sources[url])


def test_a_cache_folder_recorded_for_another_source_is_never_served(two_sources, tmp_path):
    """Each state file names the source it was recorded for: a folder that holds another source's
    (copied, or left by an older layout) counts as nothing cached."""
    cache = tmp_path / "cache"
    (first, _), (second, vectors) = two_sources.items()
    fetched(first, cache)
    registry = get_registry()
    own = target_cache(cache, registry.parse_url(second))
    shutil.copytree(target_cache(cache, registry.parse_url(first)), own)
    with pytest.raises(HayakoeError, match="is not in the cache"):
        fetched(second, cache, offline=True)
    np.testing.assert_array_equal(loaded(second, cache), vectors)
