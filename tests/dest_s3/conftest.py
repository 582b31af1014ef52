"""Fixtures for the S3 destination tests: a target in a fresh bucket."""

from __future__ import annotations

import pytest

from hayakoe_core.registry import get_registry
from hayakoe_core.types import Target


@pytest.fixture
def target(s3_env: object, s3_bucket: str) -> Target:
    """``s3://<fresh bucket>/repo`` with the environment pointing at the test server."""
    return get_registry().parse_url(f"s3://{s3_bucket}/repo")
