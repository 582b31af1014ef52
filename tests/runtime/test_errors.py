"""Bad input and hostile conditions end in one clear line, through the API and the CLI, with
nothing half-written left behind."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hayakoe import TTS
from hayakoe_core.errors import CacheError, ConfigError, HayakoeError, SourceNotFoundError, UrlError
from tests.support.mounts import read_only, small_disk
from tests.support.repo import make_repo, publish


def cli(*args: str, cwd: Path | None = None, **env: str) -> str:
    """Run ``hayakoe *args``; assert it failed with one line and no traceback; return that line."""
    out = subprocess.run(
        [sys.executable, "-m", "hayakoe", *args],
        capture_output=True, text=True, cwd=cwd, env={**os.environ, **env}, timeout=300,
    )
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 1, out.stderr
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    return lines[0]


def say(source: str, cache: Path, *more: str, speaker: str = "tiny", **env: str) -> str:
    return cli("say", "はい。", "--source", source, "--speaker", speaker, "--cache-dir", str(cache),
               "-o", str(cache.parent / "out.wav"), *more, **env)


def prepare(source: str, cache: Path, name: str = "tiny") -> TTS:
    return TTS("cpu", cache_dir=cache).load(name, source=source).prepare()


# --- sources and names --------------------------------------------------------------------------


def test_s3_endpoint_without_scheme(monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "127.0.0.1:9000")
    with pytest.raises(UrlError, match=r"AWS_ENDPOINT_URL_S3=.* http://127\.0\.0\.1:9000"):
        TTS("cpu", cache_dir=tmp_path).load("tiny", source="s3://voices")
    assert "AWS_ENDPOINT_URL_S3" in say("s3://voices", tmp_path / "cache")


def test_a_300_character_speaker_name(tmp_path):
    name = "a" * 300
    with pytest.raises(HayakoeError, match="300 characters"):
        TTS("cpu", cache_dir=tmp_path).load(name, source=str(tmp_path))
    line = say(str(tmp_path), tmp_path / "cache", speaker=name)
    assert "300 characters" in line and name not in line


@pytest.fixture
def legacy_repo(tmp_path):
    return make_repo(tmp_path / "repo", manifest=False)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('{"pad": "' + " " * (2 << 20) + '"}', "too large for a speaker config.json"),
    ],
    ids=["deeply-nested", "huge"],
)
def test_hostile_config_json(legacy_repo, tmp_path, content, message):
    (legacy_repo / "onnx/speakers/tiny/config.json").write_text(content)
    with pytest.raises(ConfigError, match=message):
        prepare(str(legacy_repo), tmp_path / "cache")
    assert message in say(str(legacy_repo), tmp_path / "cache")


def test_missing_revision_is_reported_as_such(hub, hub_repo, tmp_path):
    publish(make_repo(tmp_path / "repo", manifest=True), f"hf://{hub_repo}")
    source = f"hf://{hub_repo}@nobranch"
    with pytest.raises(SourceNotFoundError, match="revision 'nobranch' not found"):
        prepare(source, tmp_path / "cache")
    assert "revision 'nobranch' not found" in say(source, tmp_path / "cache")


# --- manifests refused before anything is downloaded ---------------------------------------------


def _tamper(doc: dict, how: str) -> dict:
    if how == "invalid":
        return {**doc, "files": "everything"}
    if how == "newer":
        return {**doc, "version": 2}
    if how == "unsafe":
        return {**doc, "files": {**doc["files"], "../../../escape.bin": {"size": 1, "sha256": "0" * 64}}}
    files = {k: v for k, v in doc["files"].items() if k != "synthesizer.onnx"}
    return {**doc, "files": files}


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ("invalid", "not a valid speaker manifest"),
        ("newer", "version 2 is newer"),
        ("unsafe", "refusing unsafe remote path"),
        ("incomplete", "lists no synthesizer.onnx, which the onnx backend needs"),
    ],
)
def test_bad_manifests_are_refused_before_download(s3_env, s3_bucket, tmp_path, s3_calls, how, message):
    repo = make_repo(tmp_path / "repo", manifest=True)
    manifest = repo / "onnx/speakers/tiny/manifest.json"
    manifest.write_text(json.dumps(_tamper(json.loads(manifest.read_text()), how)))
    url = f"s3://{s3_bucket}/voices"
    publish(repo, url)
    s3_calls.clear()
    with pytest.raises(HayakoeError, match=message):
        prepare(url, tmp_path / "cache")
    assert [key for op, key in s3_calls if op == "GetObject"] == ["voices/onnx/speakers/tiny/manifest.json"]
    assert not any(p.is_file() and p.name != "lock" for p in (tmp_path / "cache").rglob("*"))
    assert message in say(url, tmp_path / "cache")


# --- the cache's disk --------------------------------------------------------------------------


def leftovers(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.endswith((".tmp", ".partial", ".incomplete"))]


@pytest.mark.parametrize("store", ["s3_source", "hf_source"])
def test_disk_full_while_fetching(request, store, tmp_path):
    source = request.getfixturevalue(store)
    with small_disk(tmp_path / "disk", "300k") as disk:
        with pytest.raises(CacheError, match="no space left on the disk holding the cache"):
            prepare(source, disk / "cache")
        assert leftovers(disk) == []
        assert "no space left" in say(source, disk / "cache2")
        assert leftovers(disk) == []


def test_disk_full_for_the_onnx_graph_cache_still_loads(tmp_path):
    repo = make_repo(tmp_path / "repo", manifest=True)  # read in place: only derived files are cached
    with small_disk(tmp_path / "disk", "64k") as disk:
        tts = prepare(str(repo), disk / "cache")
        assert tts.speakers["tiny"].generate("はい。").sr == 44100
        assert leftovers(disk) == []
        out = subprocess.run(
            [sys.executable, "-m", "hayakoe", "say", "はい。", "--source", str(repo), "--speaker", "tiny",
             "--cache-dir", str(disk / "cache2"), "-o", str(tmp_path / "out.wav")],
            capture_output=True, text=True, timeout=300,
        )
        assert out.returncode == 0 and out.stderr == "", out.stderr
        assert leftovers(disk) == []


def test_read_only_cache(s3_source, tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    with read_only(cache):
        with pytest.raises(CacheError, match="is not writable"):
            prepare(s3_source, cache)
        assert "is not writable" in say(s3_source, cache)


@pytest.mark.parametrize("store", ["s3_source", "hf_source"])
def test_warm_read_only_cache_loads_online_without_writing(request, store, tmp_path):
    source = request.getfixturevalue(store)
    cache = tmp_path / "cache"
    first = prepare(source, cache).speakers["tiny"].generate("はい。", noise=0.0, noise_w=0.0)
    before = {p: p.stat().st_mtime_ns for p in cache.rglob("*")}
    with read_only(cache):
        again = prepare(source, cache).speakers["tiny"].generate("はい。", noise=0.0, noise_w=0.0)
    np.testing.assert_array_equal(first.data, again.data)
    assert {p: p.stat().st_mtime_ns for p in cache.rglob("*")} == before


# --- the output file of `hayakoe say` (checked before any work) --------------------------------


@pytest.mark.parametrize(
    ("out", "message"),
    [
        ("out.mp3", "writes 16-bit WAV"),
        ("a-file/out.wav", "is a file, not a folder"),
        (".", "is a folder"),
    ],
)
def test_bad_output_is_refused_before_loading(tmp_path, out, message):
    (tmp_path / "a-file").write_text("x")
    line = cli("say", "はい。", "--source", "/no/such/source", "--speaker", "tiny", "-o", out, cwd=tmp_path)
    assert message in line


@pytest.mark.parametrize("speed", ["0", "-1", "nan", "inf"])
def test_bad_speed_is_refused_before_loading(tmp_path, speed):
    line = cli("say", "はい。", "--source", "/no/such/source", "--speaker", "tiny", "--speed", speed,
               "-o", str(tmp_path / "out.wav"))
    assert f"speed must be a finite number above 0 (1.0 normal, 2.0 twice as slow), got {speed}" in line
    assert not (tmp_path / "out.wav").exists()


@pytest.mark.parametrize("text", ["", "  \n\u3000"])
def test_empty_text_is_refused_before_loading(tmp_path, text):
    """The API gives an empty result for text with nothing to read (test_generate.py); the command
    line, whose job is a file to play, refuses to write an empty one."""
    out = tmp_path / "out.wav"
    line = cli("say", text, "--source", "/no/such/source", "--speaker", "tiny", "-o", str(out))
    assert "TEXT is empty: give the text to read, e.g. hayakoe say 'こんにちは。'" in line
    assert not (tmp_path / "out.wav").exists()


def test_unwritable_output_folder(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    with read_only(folder):
        line = cli("say", "はい。", "--source", "/no/such/source", "--speaker", "tiny",
                   "-o", str(folder / "out.wav"))
    assert "cannot write in" in line

