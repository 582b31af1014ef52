"""The S3 destination passes the destination conformance suite against a real local S3 server."""

import pytest

from hayakoe_core.testing import DestinationConformance


class TestBucketRoot(DestinationConformance):
    @pytest.fixture
    def destination_url(self, s3_env: object, s3_bucket: str) -> str:
        return f"s3://{s3_bucket}"


class TestBucketPrefix(DestinationConformance):
    @pytest.fixture
    def destination_url(self, s3_env: object, s3_bucket: str) -> str:
        return f"s3://{s3_bucket}/team/voices"
