"""Upload order, stale-file removal, progress and failure behaviour (real S3 server)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from hayakoe_core.progress import Bar, NullProgress
from hayakoe_core.testing import write_tree
from hayakoe_core.types import Target
from tests.dest_s3.helpers import RecordingProgress, call

_MIB = 1 << 20


def _keys(s3_admin: Any, target: Target) -> dict[str, bytes]:
    """Every object under the target, by path relative to it, with its bytes."""
    listed = s3_admin.list_objects_v2(Bucket=target.location, Prefix=target.prefix + "/")
    return {
        obj["Key"][len(target.prefix) + 1 :]: s3_admin.get_object(
            Bucket=target.location, Key=obj["Key"]
        )["Body"].read()
        for obj in listed.get("Contents", [])
    }


def _upload(target: Target, staged: Path, progress: Any = None) -> None:
    call(target, "upload", local_dir=staged, prefix="", progress=progress or NullProgress())


def test_upload_replaces_stale_files_and_keeps_the_rest(
    target: Target, s3_admin: Any, tmp_path: Path, s3_calls: list[tuple[str, str | None]]
) -> None:
    first = {
        "onnx/speakers/a/old.bin": b"old",
        "onnx/speakers/a/keep.bin": b"v1",
        "onnx/speakers/a/manifest.json": b"m1",
        "onnx/speakers/b/x.bin": b"b",
        "onnx/bert/model.onnx": b"bert",
    }
    _upload(target, write_tree(tmp_path / "v1", first))
    second = {
        "onnx/speakers/a/keep.bin": b"v2",
        "onnx/speakers/a/new.bin": b"new",
        "onnx/speakers/a/manifest.json": b"m2",
        "README.md": b"readme",
    }
    s3_calls.clear()
    _upload(target, write_tree(tmp_path / "v2", second))
    expected = {**first, **second}
    del expected["onnx/speakers/a/old.bin"]
    assert _keys(s3_admin, target) == expected

    # Order: the speaker's files, then its manifest, then stale removal, then loose files.
    writes = [(op, key) for op, key in s3_calls if op in ("PutObject", "DeleteObjects")]
    assert writes[-3:] == [
        ("PutObject", target.join("onnx/speakers/a/manifest.json")),
        ("DeleteObjects", None),
        ("PutObject", target.join("README.md")),
    ]
    assert sorted(writes[:-3]) == [
        ("PutObject", target.join("onnx/speakers/a/keep.bin")),
        ("PutObject", target.join("onnx/speakers/a/new.bin")),
    ]


def test_large_file_goes_multipart_with_byte_progress(
    target: Target, s3_admin: Any, tmp_path: Path, s3_calls: list[tuple[str, str | None]]
) -> None:
    big = bytes(range(256)) * (9 * _MIB // 256)  # above the 8 MiB multipart threshold
    files = {"pytorch/speakers/a/model.safetensors": big, "pytorch/speakers/a/config.json": b"{}"}
    progress = RecordingProgress()
    _upload(target, write_tree(tmp_path / "staged", files), progress)
    assert ("CompleteMultipartUpload", target.join("pytorch/speakers/a/model.safetensors")) in s3_calls
    assert _keys(s3_admin, target) == files
    size = len(big) + 2
    assert [(b["total"], b["done"], b["unit"]) for b in progress.bars] == [(size, size, "bytes")]

    fetched = RecordingProgress()
    folder = call(
        target, "fetch", prefix="pytorch/speakers/a", cache_dir=tmp_path / "cache", progress=fetched
    )
    assert (folder / "model.safetensors").read_bytes() == big
    assert [(b["total"], b["done"]) for b in fetched.bars] == [(size, size)]


class _FailingProgress:
    """A Progress whose bar raises once more than ``limit`` bytes were reported, as a dropped
    connection would in the middle of a multipart upload."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.done = 0
        self._lock = threading.Lock()

    @contextmanager
    def bar(self, description: str, total: int | None, unit: str = "bytes") -> Iterator[Bar]:
        progress = self

        class _Bar:
            def advance(self, amount: int) -> None:
                with progress._lock:
                    progress.done += amount
                    if progress.done > progress.limit:
                        raise ConnectionResetError("simulated network failure")

        yield _Bar()


def test_failed_upload_leaves_no_new_manifest_and_no_open_multipart(
    target: Target, s3_admin: Any, tmp_path: Path
) -> None:
    old = {"onnx/speakers/a/model.onnx": b"old model", "onnx/speakers/a/manifest.json": b"old"}
    _upload(target, write_tree(tmp_path / "v1", old))
    new = {
        "onnx/speakers/a/model.onnx": b"\x07" * (17 * _MIB),
        "onnx/speakers/a/manifest.json": b"new",
    }
    with pytest.raises(ConnectionResetError):
        _upload(target, write_tree(tmp_path / "v2", new), _FailingProgress(limit=9 * _MIB))
    assert _keys(s3_admin, target) == old  # the aborted multipart upload replaced nothing
    assert s3_admin.list_multipart_uploads(Bucket=target.location).get("Uploads", []) == []


def test_upload_prefix_is_relative_to_the_target(
    target: Target, s3_admin: Any, tmp_path: Path
) -> None:
    root = {"onnx/speakers/a/x.bin": b"1", "README.md": b"r"}
    _upload(target, write_tree(tmp_path / "root", root))
    staged = write_tree(tmp_path / "sub", {"onnx/speakers/a/y.bin": b"2"})
    call(target, "upload", local_dir=staged, prefix="mirror", progress=NullProgress())
    assert _keys(s3_admin, target) == {**root, "mirror/onnx/speakers/a/y.bin": b"2"}
