"""Writing objects: uploads that carry their sha256, and server-side copies.

Every object the plugin writes records the sha256 of its bytes as user metadata
(``x-amz-meta-sha256``), so a later publish can tell, from a HEAD request, that a file it is about
to send is already there. Server-side copies keep that metadata.

Integrity on the wire, whatever the client's checksum mode (:mod:`hayakoe_dest_s3.client`): a
file sent in one request carries its sha256 as ``x-amz-checksum-sha256``, a header every store
that speaks the checksum API accepts (R2 included), and the store refuses the object if the bytes
differ (``BadDigest``). The parts of a multipart upload carry the client's default part checksum
in ``when_supported`` mode and none in ``when_required`` mode, where the transport guards them
(TLS, or the signed payload hash over plain HTTP) and every loader checks the file against its
speaker manifest.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hayakoe_core.progress import Bar
from hayakoe_dest_s3.client import PART_WORKERS, transfer_config

SHA256_META = "sha256"
#: Objects at least this big are copied in parts (UploadPartCopy), this big each, in parallel.
COPY_PART_BYTES = 64 << 20


def stored_sha256(head: Mapping[str, Any]) -> str | None:
    """The sha256 a HEAD or GET response's metadata records, ``None`` if it records none."""
    value = head.get("Metadata", {}).get(SHA256_META)
    return value.lower() if isinstance(value, str) and len(value) == 64 else None


def upload(client: Any, bucket: str, key: str, path: Path, sha256: str, bar: Bar) -> None:
    """Send the file ``path`` to ``key``, recording ``sha256``; bytes sent go to ``bar``."""
    config = transfer_config()
    extra: dict[str, Any] = {"Metadata": {SHA256_META: sha256}}
    if path.stat().st_size < config.multipart_threshold:
        extra["ChecksumSHA256"] = base64.b64encode(bytes.fromhex(sha256)).decode("ascii")
    client.upload_file(str(path), bucket, key, ExtraArgs=extra, Config=config, Callback=bar.advance)


def copy(client: Any, bucket: str, source: str, key: str, bar: Bar) -> None:
    """Copy the object ``source`` to ``key`` inside the store (nothing passes through this
    machine), metadata included; big objects in parts. Bytes copied go to ``bar``."""
    from boto3.s3.transfer import TransferConfig

    config = TransferConfig(
        multipart_threshold=COPY_PART_BYTES,
        multipart_chunksize=COPY_PART_BYTES,
        max_concurrency=PART_WORKERS,
    )
    client.copy({"Bucket": bucket, "Key": source}, bucket, key, Config=config, Callback=bar.advance)
