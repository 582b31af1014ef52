"""Listing and deleting the objects under one folder of a bucket, and the multipart uploads
begun there.

A "folder" is a ``/``-separated key prefix without the trailing slash; ``""`` is the whole bucket.
Keys read back are untrusted: :func:`remote_files` checks each with ``safe_relpath``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from hayakoe_core.errors import HayakoeError
from hayakoe_core.layout import relpath_under

_DELETE_BATCH = 1000  # the most keys one DeleteObjects request accepts


@dataclass(frozen=True)
class RemoteFile:
    """One object under a folder: its key, its path relative to the folder, its size and ETag."""

    key: str
    relpath: str
    size: int
    etag: str


def list_objects(client: Any, bucket: str, folder: str) -> Iterator[Mapping[str, Any]]:
    """Every object (ListObjectsV2 ``Contents`` entry) whose key lies under ``folder``."""
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=f"{folder}/" if folder else ""):
        yield from page.get("Contents", [])


def list_folders(client: Any, bucket: str, folder: str) -> list[str]:
    """The names of the folders directly under ``folder`` (each holds at least one object)."""
    paginator = client.get_paginator("list_objects_v2")
    prefix = f"{folder}/" if folder else ""
    names = []
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
        names += [p["Prefix"][len(prefix) :].rstrip("/") for p in page.get("CommonPrefixes", [])]
    return names


def remote_files(objects: Iterable[Mapping[str, Any]], folder: str) -> list[RemoteFile]:
    """The files of a listing, with paths relative to ``folder``, each checked safe.

    A key such as ``onnx/speakers/a/../../../x`` raises
    :class:`~hayakoe_core.errors.UnsafePathError` before the caller writes anything. Folder
    markers (keys ending in ``/``) and keys outside ``folder`` are skipped.
    """
    found = []
    for obj in objects:
        key = obj["Key"]
        if key.endswith("/"):
            continue
        relpath = relpath_under(key, folder)
        if relpath is not None:
            found.append(RemoteFile(key, relpath, int(obj["Size"]), str(obj["ETag"])))
    return found


def delete_keys(client: Any, bucket: str, keys: list[str]) -> None:
    """Delete ``keys`` in batches; raise if the server refused any of them."""
    for start in range(0, len(keys), _DELETE_BATCH):
        batch = [{"Key": key} for key in keys[start : start + _DELETE_BATCH]]
        response = client.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
        if errors := response.get("Errors"):
            first = errors[0]
            raise HayakoeError(
                f"S3 refused to delete {len(errors)} object(s) in bucket {bucket!r}, e.g. "
                f"{first.get('Key')!r}: {first.get('Code')} {first.get('Message', '')}".rstrip()
            )


def incomplete_uploads(client: Any, bucket: str, prefix: str) -> Iterator[dict[str, Any]]:
    """Every multipart upload begun and neither completed nor aborted whose key starts with
    ``prefix`` (ListMultipartUploads ``Uploads`` entries: ``Key``, ``UploadId``, ``Initiated``)."""
    paginator = client.get_paginator("list_multipart_uploads")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        yield from page.get("Uploads", [])


def abort_upload(client: Any, bucket: str, key: str, upload_id: str) -> None:
    """Abort the multipart upload ``upload_id`` of ``key``; one already gone (completed or
    aborted) is fine."""
    with suppress(client.exceptions.NoSuchUpload):
        client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
