"""``upload``: a stage and a promote in one — order, stale-file removal, progress, failures
(real S3 server)."""

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
from tests.dest_s3.helpers import RecordingProgress, call, objects, plugin_requests

_MIB = 1 << 20


def _upload(target: Target, staged: Path, progress: Any = None) -> None:
    call(target, "upload", local_dir=staged, prefix="", progress=progress or NullProgress())


def _live_writes(calls: list[tuple[str, dict[str, Any]]], target: Target) -> list[tuple[str, str]]:
    """The writes to live keys, in order, as (operation, path relative to the target)."""
    writes = []
    for op, params in calls:
        keys = [params["Key"]] if op in ("CopyObject", "PutObject", "CompleteMultipartUpload") else []
        if op == "DeleteObjects":
            keys = [o["Key"] for o in params["Delete"]["Objects"]]
        for key in keys:
            rel = key[len(target.prefix) + 1 :]
            if not rel.startswith(".hayakoe/"):
                writes.append((op, rel))
    return writes


def test_upload_replaces_stale_files_and_keeps_the_rest(
    target: Target, s3_admin: Any, tmp_path: Path
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
    with plugin_requests() as calls:
        _upload(target, write_tree(tmp_path / "v2", second))
    expected = {**first, **second}
    del expected["onnx/speakers/a/old.bin"]
    assert objects(s3_admin, target) == expected
    assert [rel for rel in objects(s3_admin, target, hidden=True) if rel.startswith(".hayakoe/")] == [
        ".hayakoe/state.json"
    ], "the staging area is gone"

    # Live writes, all copies inside the store: the speaker's files, then its manifest, then
    # stale removal, then loose files.
    writes = _live_writes(calls, target)
    assert writes[-3:] == [
        ("CopyObject", "onnx/speakers/a/manifest.json"),
        ("DeleteObjects", "onnx/speakers/a/old.bin"),
        ("CopyObject", "README.md"),
    ]
    assert sorted(writes[:-3]) == [
        ("CopyObject", "onnx/speakers/a/keep.bin"),
        ("CopyObject", "onnx/speakers/a/new.bin"),
    ]


def test_large_file_goes_multipart_with_byte_progress(
    target: Target, s3_admin: Any, tmp_path: Path
) -> None:
    big = bytes(range(256)) * (9 * _MIB // 256)  # above the 8 MiB multipart threshold
    files = {"pytorch/speakers/a/model.safetensors": big, "pytorch/speakers/a/config.json": b"{}"}
    progress = RecordingProgress()
    with plugin_requests() as calls:
        _upload(target, write_tree(tmp_path / "staged", files), progress)
    (completed,) = [params["Key"] for op, params in calls if op == "CompleteMultipartUpload"]
    assert completed.startswith(target.join(".hayakoe/staging/"))
    assert completed.endswith("/pytorch/speakers/a/model.safetensors")
    assert objects(s3_admin, target) == files
    size = len(big) + 2
    assert progress.done("upload") == size, "bytes sent, on the upload bar"
    assert progress.done("promote") == size, "bytes copied inside the store, on the promote bar"
    assert all(b["unit"] == "bytes" and b["done"] == b["total"] for b in progress.bars)

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
    assert objects(s3_admin, target) == old  # the aborted multipart upload replaced nothing
    assert s3_admin.list_multipart_uploads(Bucket=target.location).get("Uploads", []) == []
    hidden = objects(s3_admin, target, hidden=True)
    assert not [rel for rel in hidden if rel.startswith(".hayakoe/staging/")], "staging removed"


def test_upload_prefix_is_relative_to_the_target(
    target: Target, s3_admin: Any, tmp_path: Path
) -> None:
    root = {"onnx/speakers/a/x.bin": b"1", "README.md": b"r"}
    _upload(target, write_tree(tmp_path / "root", root))
    staged = write_tree(tmp_path / "sub", {"onnx/speakers/a/y.bin": b"2"})
    call(target, "upload", local_dir=staged, prefix="mirror", progress=NullProgress())
    assert objects(s3_admin, target) == {**root, "mirror/onnx/speakers/a/y.bin": b"2"}
