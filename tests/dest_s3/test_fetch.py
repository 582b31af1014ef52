"""Fetch mirrors one prefix into the cache and downloads only what changed (real S3 server)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hayakoe_core.errors import UnsafePathError
from hayakoe_core.progress import NullProgress
from hayakoe_core.testing import read_tree
from hayakoe_core.types import Target
from hayakoe_dest_s3.hidden import STATE
from hayakoe_dest_s3.remote import RemoteFile, remote_files
from tests.dest_s3.helpers import RecordingProgress, call

SPEAKER = {
    "config.json": b"{}",
    "model.onnx": b"\x01" * 3000,
    "style_vectors.npy": b"\x03" * 20,
    "sub/extra.bin": b"\x02" * 10,
}


@pytest.fixture
def populated(target: Target, s3_admin: Any) -> Target:
    """Speaker onnx/a, a sibling whose name extends it (onnx/ab), pytorch/a and a README."""
    files = {f"onnx/speakers/a/{rel}": data for rel, data in SPEAKER.items()}
    files |= {"onnx/speakers/ab/x.bin": b"ab", "pytorch/speakers/a/x.bin": b"pt", "README.md": b"r"}
    for rel, data in files.items():
        s3_admin.put_object(Bucket=target.location, Key=target.join(rel), Body=data)
    return target


def _fetch(target: Target, cache: Path, progress: Any = None) -> Path:
    folder = call(
        target,
        "fetch",
        prefix="onnx/speakers/a",
        cache_dir=cache,
        progress=progress or NullProgress(),
    )
    assert isinstance(folder, Path)
    return folder


def test_fetches_only_the_prefix(populated: Target, tmp_path: Path) -> None:
    progress = RecordingProgress()
    folder = _fetch(populated, tmp_path, progress)
    assert folder == tmp_path / "onnx/speakers/a"
    assert read_tree(folder) == SPEAKER
    others = [p for p in read_tree(tmp_path) if not p.startswith("onnx/speakers/a/")]
    assert others == []
    total = sum(len(data) for data in SPEAKER.values())
    assert progress.bars == [{**progress.bars[0], "total": total, "done": total, "unit": "bytes"}]


def test_second_fetch_downloads_nothing(
    populated: Target, tmp_path: Path, s3_calls: list[tuple[str, str | None]]
) -> None:
    folder = _fetch(populated, tmp_path)
    before = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in folder.rglob("*")}
    s3_calls.clear()
    progress = RecordingProgress()
    assert _fetch(populated, tmp_path, progress) == folder
    assert [op for op, _key in s3_calls] == ["ListObjectsV2"]
    assert {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in folder.rglob("*")} == before
    assert progress.bars[0]["total"] == progress.bars[0]["done"] == 0


def test_changed_files_are_downloaded_again(
    populated: Target, tmp_path: Path, s3_admin: Any, s3_calls: list[tuple[str, str | None]]
) -> None:
    """A file changed remotely, one deleted remotely, one edited locally; one left untouched."""
    folder = _fetch(populated, tmp_path)
    bucket = populated.location
    s3_admin.put_object(Bucket=bucket, Key=populated.join("onnx/speakers/a/config.json"), Body=b"[]")
    s3_admin.delete_object(Bucket=bucket, Key=populated.join("onnx/speakers/a/sub/extra.bin"))
    (folder / "model.onnx").write_bytes(b"edited locally")
    s3_calls.clear()
    _fetch(populated, tmp_path)
    got = sorted(key for op, key in s3_calls if op == "GetObject" and key != populated.join(STATE))
    assert got == [populated.join("onnx/speakers/a", name) for name in ("config.json", "model.onnx")]
    expected = {**SPEAKER, "config.json": b"[]"}
    del expected["sub/extra.bin"]
    assert read_tree(folder) == expected


def test_listing_keys_are_checked_before_use() -> None:
    def listing(*keys: str) -> list[dict[str, object]]:
        return [{"Key": key, "Size": 1, "ETag": '"e"'} for key in keys]

    folder = "repo/onnx/speakers/a"
    got = remote_files(listing(f"{folder}/x", f"{folder}/d/", "repo/elsewhere", f"{folder}/./y"), folder)
    assert got == [
        RemoteFile(f"{folder}/x", "x", 1, '"e"'),
        RemoteFile(f"{folder}/./y", "y", 1, '"e"'),
    ]
    for hostile in ("../../../x", "b/../../x", "/etc/passwd", "..\\..\\x"):
        with pytest.raises(UnsafePathError):
            remote_files(listing(f"{folder}/{hostile}"), folder)
