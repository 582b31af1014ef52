"""The local destination's swap: a crash at any point leaves the old or the new folder whole."""

import os
from pathlib import Path

import pytest

from hayakoe_core.progress import NullProgress
from hayakoe_core.registry import get_registry
from hayakoe_dest_local import plugin

OLD = {"config.json": b"old", "a.bin": b"A" * 1000}
NEW = {"config.json": b"new", "b.bin": b"B" * 1000}


def stage(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        path = root / "onnx/speakers/spk" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def contents(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


@pytest.fixture
def repo(tmp_path):
    registry = get_registry()
    target = registry.parse_url(str(tmp_path / "repo"))
    registry.call(target, "hayakoe_upload", local_dir=stage(tmp_path / "old", OLD), prefix="",
                  progress=NullProgress())
    return registry, target, tmp_path / "repo/onnx/speakers/spk"


def upload_new(registry, target, tmp_path):
    registry.call(target, "hayakoe_upload", local_dir=stage(tmp_path / "new", NEW), prefix="",
                  progress=NullProgress())


class Crash(Exception):
    pass


def test_crash_between_renames_restores_old(repo, tmp_path, monkeypatch):
    registry, target, folder = repo
    real_rename = os.rename
    calls = []

    def rename(src, dst):
        calls.append(src)
        if len(calls) == 2:  # old moved to trash; the staged folder never arrives
            raise Crash
        real_rename(src, dst)

    monkeypatch.setattr(plugin.os, "rename", rename)
    with pytest.raises(Crash):
        upload_new(registry, target, tmp_path)
    monkeypatch.setattr(plugin.os, "rename", real_rename)
    assert not folder.exists()
    fetched = registry.call(target, "hayakoe_fetch", prefix="onnx/speakers/spk",
                            cache_dir=tmp_path / "cache", progress=NullProgress())
    assert contents(fetched) == OLD
    assert sorted(p.name for p in folder.parent.iterdir()) == ["spk"]


def test_crash_while_copying_keeps_old_and_cleans_staging(repo, tmp_path, monkeypatch):
    registry, target, folder = repo

    def fail(*args):
        raise Crash

    monkeypatch.setattr(plugin, "_swap_in", fail)
    with pytest.raises(Crash):
        upload_new(registry, target, tmp_path)
    assert contents(folder) == OLD
    assert sorted(p.name for p in folder.parent.iterdir()) == ["spk"]


def test_upload_replaces_and_fetch_reads_in_place(repo, tmp_path):
    registry, target, folder = repo
    upload_new(registry, target, tmp_path)
    fetched = registry.call(target, "hayakoe_fetch", prefix="onnx/speakers/spk",
                            cache_dir=tmp_path / "cache", progress=NullProgress())
    assert fetched == folder
    assert contents(folder) == NEW
    assert not (tmp_path / "cache").exists()
