"""S3 and S3-compatible storage: ``s3://bucket`` or ``s3://bucket/prefix``.

The endpoint comes from ``AWS_ENDPOINT_URL_S3`` (empty or unset = AWS), credentials from boto3's
standard chain, the region from ``AWS_REGION`` (passed to the client: botocore itself reads only
``AWS_DEFAULT_REGION``).
"""

from __future__ import annotations

import re

from hayakoe_core.errors import UrlError
from hayakoe_core.hookspecs import hookimpl
from hayakoe_core.paths import safe_relpath
from hayakoe_core.types import DestinationInfo, Target

NAME = "s3"
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


@hookimpl
def hayakoe_destination() -> DestinationInfo:
    return DestinationInfo(
        name=NAME,
        schemes=("s3",),
        description="S3 or S3-compatible storage (s3://bucket/prefix; AWS_ENDPOINT_URL_S3)",
        extra="s3",
    )


@hookimpl
def hayakoe_parse_url(url: str) -> Target | None:
    if not url.startswith("s3://"):
        return None
    bucket, _, prefix = url[len("s3://") :].partition("/")
    if not _BUCKET_RE.match(bucket) or ".." in bucket:
        raise UrlError(
            f"{url!r}: {bucket!r} is not a valid bucket name (3-63 lowercase letters, digits, dots, hyphens)"
        )
    prefix = safe_relpath(prefix, allow_empty=True)
    shown = f"s3://{bucket}" + (f"/{prefix}" if prefix else "")
    return Target(plugin=NAME, scheme="s3", url=shown, location=bucket, prefix=prefix)
