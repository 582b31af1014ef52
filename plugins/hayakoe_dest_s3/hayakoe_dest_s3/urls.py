"""The ``s3://bucket/prefix`` URL grammar: parsing, and the canonical URL of a bucket and prefix."""

from __future__ import annotations

import re

from hayakoe_core.errors import UrlError
from hayakoe_core.paths import safe_relpath
from hayakoe_core.types import Target
from hayakoe_dest_s3.client import endpoint_shown

NAME = "s3"
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def parse(url: str) -> Target | None:
    """The target ``url`` names, ``None`` if it is not an ``s3://`` URL, :class:`UrlError` if
    it is one with a bad bucket name or an unsafe prefix."""
    if not url.startswith("s3://"):
        return None
    bucket, _, prefix = url[len("s3://") :].partition("/")
    if not _BUCKET_RE.match(bucket) or ".." in bucket:
        raise UrlError(
            f"{url!r}: {bucket!r} is not a valid bucket name (3-63 lowercase letters, digits, dots, hyphens)"
        )
    return target_for(bucket, safe_relpath(prefix, allow_empty=True))


def target_for(bucket: str, prefix: str) -> Target:
    """The target for ``prefix`` (already checked safe) in ``bucket``, with its canonical URL and
    the endpoint the environment names now (part of the source's identity)."""
    url = f"s3://{bucket}" + (f"/{prefix}" if prefix else "")
    return Target(
        plugin=NAME, scheme="s3", url=url, location=bucket, prefix=prefix, endpoint=endpoint_shown()
    )
