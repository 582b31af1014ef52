"""Fixtures for the S3 destination tests: a target in a fresh bucket, a request recorder."""

from __future__ import annotations

import pytest
from botocore.client import BaseClient

from hayakoe_core.registry import get_registry
from hayakoe_core.types import Target


@pytest.fixture
def target(s3_env: object, s3_bucket: str) -> Target:
    """``s3://<fresh bucket>/repo`` with the environment pointing at the test server."""
    return get_registry().parse_url(f"s3://{s3_bucket}/repo")


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
