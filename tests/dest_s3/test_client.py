"""How the S3 client reads the environment (no requests are made)."""

from __future__ import annotations

import pytest

from hayakoe_dest_s3.client import make_client

pytestmark = pytest.mark.usefixtures("aws_isolated")


def test_aws_region_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-central-1")  # botocore alone would ignore it
    client = make_client()
    assert client.meta.region_name == "eu-central-1"
    assert client.meta.endpoint_url == "https://s3.eu-central-1.amazonaws.com"


def test_endpoint_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9000")
    assert make_client().meta.endpoint_url == "http://127.0.0.1:9000"


def test_empty_endpoint_means_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "")
    assert make_client().meta.endpoint_url.endswith(".amazonaws.com")


def test_clients_are_shared_per_aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9000")
    first = make_client()
    assert make_client() is first
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "another")
    assert make_client() is not first
