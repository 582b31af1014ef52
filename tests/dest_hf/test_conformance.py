"""The HF destination passes the destination conformance suite against the test Hub."""

import pytest

from hayakoe_core.testing import DestinationConformance
from tests.support.hubserver import HubServer


class TestHfRepo(DestinationConformance):
    @pytest.fixture
    def destination_url(self, hub: HubServer, hub_repo: str) -> str:
        return f"hf://{hub_repo}"


class TestHfBranch(DestinationConformance):
    """A repo that does not exist yet, addressed at a branch the upload creates."""

    @pytest.fixture
    def destination_url(self, hub: HubServer, hub_repo: str) -> str:
        return f"hf://{hub_repo}@dev"
