"""Multipart uploads opened at live keys ahead of a promote, and the staging area's record of them.

A pre-copy (:mod:`hayakoe_dest_s3.precopy`) copies staged files into multipart uploads at their
live keys; readers see nothing of an upload until it is completed, which is what a promote then
does instead of copying. The staging area records them in ``.precopy.json``, written three times:

1. ``keys``: the live keys about to get an upload, before any is opened;
2. ``uploads``: each upload's id and the staged object's ETag it copies, before any byte is copied;
3. each upload's parts, with ``complete`` true, once every part is copied.

:func:`abort` (discard and cleanup) aborts every upload the record names and, for a pre-copy cut
short between steps 1 and 2, every upload at a recorded key begun after the record was written;
such an upload of another publisher of the same files is then copied by its promote instead, as
an aborted upload always is. :func:`completed` gives a promote the uploads of a complete record
only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hayakoe_dest_s3.hidden import PRECOPY
from hayakoe_dest_s3.remote import abort_upload, incomplete_uploads

_FORMAT = "hayakoe-s3-precopy"
#: What CompleteMultipartUpload answers for an upload that is gone (completed or aborted) or
#: whose parts are not the ones recorded: the promote copies that file instead.
_UNUSABLE = ("NoSuchUpload", "InvalidPart", "InvalidPartOrder", "EntityTooSmall")


@dataclass(frozen=True)
class Upload:
    """One multipart upload at the live key of the staged file ``relpath``: the staged object's
    ETag it copies, and its parts as (part number, ETag) once copied."""

    relpath: str
    key: str
    upload_id: str
    source_etag: str
    parts: tuple[tuple[int, str], ...] = ()


def write(
    client: Any, bucket: str, folder: str, keys: list[str], uploads: list[Upload], *, complete: bool
) -> None:
    """Write the record of the staging area at ``folder`` (see the module docstring)."""
    doc = {
        "format": _FORMAT,
        "version": 1,
        "complete": complete,
        "keys": keys,
        "uploads": {
            u.relpath: {
                "key": u.key, "upload_id": u.upload_id, "source_etag": u.source_etag,
                "parts": [list(part) for part in u.parts],
            }
            for u in uploads
        },
    }  # fmt: skip
    body = json.dumps(doc, indent=1, sort_keys=True).encode()
    client.put_object(Bucket=bucket, Key=f"{folder}/{PRECOPY}", Body=body, ContentType="application/json")


def _read(client: Any, bucket: str, folder: str) -> tuple[dict[str, Any], datetime] | None:
    """The record and when it was last written (by the store's clock); ``None`` if there is none."""
    try:
        response = client.get_object(Bucket=bucket, Key=f"{folder}/{PRECOPY}")
    except client.exceptions.NoSuchKey:
        return None
    doc = json.loads(response["Body"].read())
    return (doc, response["LastModified"]) if doc.get("format") == _FORMAT else None


def _uploads(doc: dict[str, Any]) -> list[Upload]:
    return [
        Upload(rel, e["key"], e["upload_id"], e["source_etag"], tuple((n, etag) for n, etag in e["parts"]))
        for rel, e in doc["uploads"].items()
    ]


def completed(client: Any, bucket: str, folder: str) -> dict[str, Upload]:
    """The uploads, by staged path, of a pre-copy that finished; ``{}`` for none or a partial one."""
    record = _read(client, bucket, folder)
    if record is None or not record[0].get("complete"):
        return {}
    return {u.relpath: u for u in _uploads(record[0]) if u.parts}


def complete(client: Any, bucket: str, upload: Upload) -> bool:
    """Complete ``upload``, making its object live (no bytes move); ``False`` when the store no
    longer has it (completed by a promote that died, aborted) or refuses its parts."""
    parts = [{"PartNumber": n, "ETag": etag} for n, etag in upload.parts]
    try:
        client.complete_multipart_upload(
            Bucket=bucket, Key=upload.key, UploadId=upload.upload_id, MultipartUpload={"Parts": parts}
        )
    except client.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in _UNUSABLE:
            return False
        raise
    return True


def abort(client: Any, bucket: str, folder: str, prefix: str) -> None:
    """Abort what the record of the staging area at ``folder`` names (see the module docstring);
    ``prefix`` is the target's key prefix, under which every recorded key lies."""
    record = _read(client, bucket, folder)
    if record is None:
        return
    doc, written = record
    ids = {u.upload_id for u in _uploads(doc)}
    keys = set(doc["keys"])
    for upload in incomplete_uploads(client, bucket, f"{prefix}/" if prefix else ""):
        if upload["UploadId"] in ids or (upload["Key"] in keys and upload["Initiated"] >= written):
            abort_upload(client, bucket, upload["Key"], upload["UploadId"])
