"""How the S3 client reads the environment (no requests are made)."""

from __future__ import annotations

import pytest

from hayakoe_core.errors import HayakoeError
from hayakoe_core.registry import get_registry
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


def test_checksums_only_where_required_by_default() -> None:
    config = make_client().meta.config
    assert config.request_checksum_calculation == "when_required"  # what R2 needs
    assert config.response_checksum_validation == "when_required"


def test_checksum_mode_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REQUEST_CHECKSUM_CALCULATION", "WHEN_SUPPORTED")
    assert make_client().meta.config.request_checksum_calculation == "when_supported"
    monkeypatch.setenv("AWS_REQUEST_CHECKSUM_CALCULATION", "always")
    with pytest.raises(HayakoeError, match="AWS_REQUEST_CHECKSUM_CALCULATION must be"):
        make_client()


def test_settings_make_the_url() -> None:
    info = get_registry().open("s3://bucket").info
    assert info.url_from({"HAYAKOE_S3_BUCKET": "voices", "HAYAKOE_S3_PREFIX": "team/jp"}) == (
        "s3://voices/team/jp"
    )
    assert info.url_from({"HAYAKOE_S3_BUCKET": "voices"}) == "s3://voices"
    assert info.url_from({"HAYAKOE_S3_PREFIX": "x"}) is None  # the bucket is required
    secrets = {s.env for s in info.settings if s.secret}
    assert secrets == {"AWS_SECRET_ACCESS_KEY"}
    assert {"AWS_ACCESS_KEY_ID", "AWS_REGION", "AWS_ENDPOINT_URL_S3"} <= {s.env for s in info.settings}
