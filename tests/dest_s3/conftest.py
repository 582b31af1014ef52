"""Fixtures for the S3 destination tests: a target in a fresh bucket, and both checksum modes.

Every test that talks to the server runs twice: with the client's default checksum mode
(``when_required``, what R2 needs) and with boto3's own default (``when_supported``, set through
``AWS_REQUEST_CHECKSUM_CALCULATION``).
"""

from __future__ import annotations

import pytest

from hayakoe_core.registry import get_registry
from hayakoe_core.types import Target

CHECKSUM_MODES = ("default", "when_supported")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "s3_env" in metafunc.fixturenames:
        metafunc.parametrize("checksum_mode", CHECKSUM_MODES, indirect=True)


@pytest.fixture(autouse=True)
def checksum_mode(request: pytest.FixtureRequest) -> str | None:
    """The client's checksum mode for this test (``None`` for tests that make no requests)."""
    mode = getattr(request, "param", None)
    if mode == "when_supported":
        request.getfixturevalue("aws_isolated")  # first, or it would remove the variable again
        request.getfixturevalue("monkeypatch").setenv("AWS_REQUEST_CHECKSUM_CALCULATION", mode)
    return mode


@pytest.fixture
def target(s3_env: object, s3_bucket: str) -> Target:
    """``s3://<fresh bucket>/repo`` with the environment pointing at the test server."""
    return get_registry().parse_url(f"s3://{s3_bucket}/repo")
