"""A damaged cache is repaired once, automatically: truncated, deleted, or a byte flipped with the
size and modification time put back (only ctime tells). Through S3 (a plain file per object) and
the Hub (a link to a shared blob, which must not simply be linked again)."""

import os
from pathlib import Path

import numpy as np
import pytest

from hayakoe import TTS
from hayakoe_core import manifest
from hayakoe_core.manifest import IntegrityError
from tests.runtime.conftest import fetched

FILE = "style_vectors.npy"


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-7])


def delete(path: Path) -> None:
    path.unlink()


def flip_keeping_size_and_time(path: Path) -> None:
    real = path.resolve()
    before = real.stat()
    data = bytearray(real.read_bytes())
    data[-1] ^= 0xFF
    with real.open("r+b") as f:  # in place: same inode, same size
        f.write(data)
    os.utime(real, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = real.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)


DAMAGE = [truncate, delete, flip_keeping_size_and_time]


@pytest.mark.parametrize("damage", DAMAGE)
def test_s3_cache_is_repaired_fetching_only_the_bad_file(s3_source, repo, tmp_path, s3_calls, damage):
    cache = tmp_path / "cache"
    folder = fetched(s3_source, cache)
    damage(folder / FILE)
    s3_calls.clear()
    folder = fetched(s3_source, cache)
    assert (folder / FILE).read_bytes() == (repo / "onnx/speakers/tiny" / FILE).read_bytes()
    downloads = [  # the publish state object (.hayakoe/) is read around every download
        key
        for op, key in s3_calls
        if op == "GetObject" and not key.endswith("manifest.json") and "/.hayakoe/" not in key
    ]
    assert downloads == [f"voices/onnx/speakers/tiny/{FILE}"]


@pytest.mark.parametrize("damage", DAMAGE)
def test_hub_cache_is_repaired_blob_included(hf_source, repo, tmp_path, damage):
    cache = tmp_path / "cache"
    folder = fetched(hf_source, cache)
    damage(folder / FILE)
    folder = fetched(hf_source, cache)
    assert (folder / FILE).read_bytes() == (repo / "onnx/speakers/tiny" / FILE).read_bytes()


def test_offline_damage_is_reported_not_served(s3_source, tmp_path):
    cache = tmp_path / "cache"
    folder = fetched(s3_source, cache)
    flip_keeping_size_and_time(folder / FILE)
    with pytest.raises(IntegrityError, match=rf"cached {FILE} does not match .*\(offline\)"):
        fetched(s3_source, cache, offline=True)
    np.load(fetched(s3_source, cache) / FILE)  # online again: repaired


def test_tts_repairs_a_flipped_byte_instead_of_serving_it(s3_source, repo, tmp_path):
    cache = tmp_path / "cache"
    TTS("cpu", cache_dir=cache).load("tiny", source=s3_source).pre_download()
    folder = fetched(s3_source, cache)
    flip_keeping_size_and_time(folder / FILE)
    speaker = TTS("cpu", cache_dir=cache).load("tiny", source=s3_source).prepare().speakers["tiny"]
    assert (speaker.folder / FILE).read_bytes() == (repo / "onnx/speakers/tiny" / FILE).read_bytes()


def test_a_warm_load_hashes_nothing_it_hashed_before(s3_source, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    fetched(s3_source, cache)
    hashed: list[Path] = []
    original = manifest.sha256_file
    monkeypatch.setattr(manifest, "sha256_file", lambda p: hashed.append(p) or original(p))
    fetched(s3_source, cache)
    assert hashed == []
