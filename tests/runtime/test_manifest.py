"""Manifest v1: writer, reader, forward compatibility, verification."""

import json
import os

import pytest

from hayakoe_core.errors import ConfigError, UnsafePathError
from hayakoe_core.manifest import BertRef, IntegrityError, Manifest, build_manifest, write_manifest


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "w.bin").write_bytes(b"\x00" * 100)
    return tmp_path


def test_round_trip(folder):
    bert = BertRef("hf://lemondouble/hayakoe", "main", "ab" * 32)
    manifest = build_manifest(folder, "tiny", "onnx", "cd" * 32, bert)
    write_manifest(folder, manifest)
    doc = json.loads((folder / "manifest.json").read_text())
    assert doc["format"] == "hayakoe-speaker" and doc["version"] == 1
    assert set(doc["files"]) == {"config.json", "sub/w.bin"}
    assert doc["files"]["sub/w.bin"]["size"] == 100
    assert doc["tool"].startswith("hayakoe ")
    again = Manifest.read(folder)
    assert again == manifest
    again.verify(folder)


def test_rebuilding_skips_the_manifest_itself(folder):
    write_manifest(folder, build_manifest(folder, "tiny", "onnx", "0" * 64))
    assert "manifest.json" not in build_manifest(folder, "tiny", "onnx", "0" * 64).files


def test_unknown_keys_are_ignored(folder):
    doc = json.loads(build_manifest(folder, "tiny", "torch", "0" * 64).to_json())
    doc["future_field"] = {"x": 1}
    doc["files"]["config.json"]["mode"] = 420
    assert Manifest.parse(json.dumps(doc)).backend == "torch"


def test_higher_version_is_refused_with_a_clear_message(folder):
    doc = json.loads(build_manifest(folder, "tiny", "onnx", "0" * 64).to_json())
    doc["version"] = 2
    with pytest.raises(ConfigError, match=r"version 2 is newer .* upgrade hayakoe"):
        Manifest.parse(json.dumps(doc))


@pytest.mark.parametrize(
    "text", ["not json", "[]", '{"format": "other", "version": 1}', '{"format": "hayakoe-speaker"}']
)
def test_invalid_manifests(text):
    with pytest.raises(ConfigError, match="not a valid speaker manifest"):
        Manifest.parse(text)


def test_unsafe_paths_in_a_manifest_are_refused(folder):
    doc = json.loads(build_manifest(folder, "tiny", "onnx", "0" * 64).to_json())
    doc["files"]["../../etc/passwd"] = {"size": 1, "sha256": "0" * 64}
    with pytest.raises(UnsafePathError):
        Manifest.parse(json.dumps(doc))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda f: (f / "sub/w.bin").write_bytes(b"\x01" * 100), "sub/w.bin does not match its sha256"),
        (lambda f: (f / "sub/w.bin").write_bytes(b"\x00" * 99), "sub/w.bin has 99 bytes"),
        (lambda f: (f / "config.json").unlink(), "config.json is missing"),
    ],
)
def test_verify_names_the_bad_file_and_removes_it(folder, damage, message):
    manifest = build_manifest(folder, "tiny", "onnx", "0" * 64)
    damage(folder)
    with pytest.raises(IntegrityError, match=message):
        manifest.verify(folder)
    assert not (folder / "sub/w.bin").exists() or "config" in message


def test_a_settled_file_is_hashed_once_per_stamp(tmp_path, monkeypatch):
    import hashlib

    from hayakoe_core import manifest

    path = tmp_path / "w.bin"
    path.write_bytes(b"\x01" * 1000)
    monkeypatch.setattr(manifest, "_SETTLED_NS", 0)  # as if written long ago
    reads = []
    real = hashlib.sha256
    monkeypatch.setattr(hashlib, "sha256", lambda *a: reads.append(1) or real(*a))
    first = manifest.sha256_file(path)
    assert manifest.sha256_file(path) == first == real(b"\x01" * 1000).hexdigest()
    assert len(reads) == 1
    os.link(path, tmp_path / "again.bin")  # a new link changes the inode's ctime: hashed anew
    assert manifest.sha256_file(tmp_path / "again.bin") == first
    assert len(reads) == 2


def test_a_file_changed_moments_ago_is_not_remembered(tmp_path, monkeypatch):
    """Timestamps can be coarser than the time between a write and the hashing (FAT: 2 s), so a
    rewrite right after could keep the stamp: such a file is read on every call."""
    import hashlib

    from hayakoe_core.manifest import sha256_file

    path = tmp_path / "w.bin"
    path.write_bytes(b"\x01" * 1000)
    reads = []
    real = hashlib.sha256
    monkeypatch.setattr(hashlib, "sha256", lambda *a: reads.append(1) or real(*a))
    assert sha256_file(path) == sha256_file(path)
    assert len(reads) == 2
