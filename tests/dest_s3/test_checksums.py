"""What integrity checks the uploads carry in each checksum mode (real S3 server).

``when_required`` (the default, for R2): no default CRC32 and no aws-chunked trailer anywhere; a
file sent in one request still carries its sha256 for the store to check. ``when_supported``
(boto3's default): the parts of a multipart upload carry CRC32s as well.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from hayakoe_core.errors import HayakoeError
from hayakoe_core.progress import NullProgress
from hayakoe_core.testing import write_tree
from hayakoe_core.types import Target, new_staging_id
from hayakoe_dest_s3 import transfer
from tests.dest_s3.helpers import call, watching

SMALL = b"small file\n" * 100
BIG = bytes(range(256)) * (9 * (1 << 20) // 256)  # above the 8 MiB multipart threshold


@contextmanager
def request_headers() -> Iterator[list[tuple[str, dict[str, str]]]]:
    """The operation and HTTP headers of every request the plugin's client sends in the block."""
    sent: list[tuple[str, dict[str, str]]] = []

    def record(request: Any, event_name: str, **kwargs: Any) -> None:
        headers = {
            k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()
        }
        sent.append((event_name.rsplit(".", 1)[-1], headers))

    with watching("before-send.s3", record):
        yield sent


def test_upload_checksums(target: Target, tmp_path: Path, checksum_mode: str) -> None:
    files = {"onnx/speakers/a/config.json": SMALL, "onnx/speakers/a/x.onnx": BIG}
    tree = write_tree(tmp_path / "tree", files)
    with request_headers() as sent:
        call(target, "stage", local_dir=tree, staging_id=new_staging_id(), progress=NullProgress())
    puts = [h for op, h in sent if op == "PutObject" and h.get("content-length") == str(len(SMALL))]
    (small,) = puts
    assert small["x-amz-checksum-sha256"] == base64.b64encode(hashlib.sha256(SMALL).digest()).decode()
    parts = [h for op, h in sent if op == "UploadPart"]
    assert len(parts) == 2
    uploads = [h for op, h in sent if op in ("PutObject", "UploadPart", "CopyObject", "UploadPartCopy")]
    if checksum_mode == "default":
        assert not any("x-amz-checksum-crc32" in h for h in uploads)
        assert not any("x-amz-checksum-sha256" in h for h in parts)
        assert not any("aws-chunked" in h.get("content-encoding", "") for h in uploads)
    else:
        assert all("x-amz-checksum-crc32" in h for h in parts)


def test_the_store_refuses_bytes_that_do_not_match(
    target: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file that changes between hashing and sending (or is corrupted on the way) is refused."""
    path = tmp_path / "config.json"
    path.write_bytes(SMALL)
    real_upload = transfer.upload

    def corrupted(client: Any, bucket: str, key: str, file: Path, sha256: str, bar: Any) -> None:
        file.write_bytes(SMALL.replace(b"small", b"SMALL"))
        real_upload(client, bucket, key, file, sha256, bar)

    monkeypatch.setattr(transfer, "upload", corrupted)
    tree = write_tree(tmp_path / "tree", {"onnx/speakers/a/config.json": SMALL})
    with pytest.raises(HayakoeError, match="BadDigest"):
        call(target, "stage", local_dir=tree, staging_id=new_staging_id(), progress=NullProgress())
