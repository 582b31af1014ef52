"""The local destination passes the destination conformance suite."""

from pathlib import Path

import pytest

from hayakoe_core.testing import DestinationConformance


class TestLocalFolder(DestinationConformance):
    @pytest.fixture
    def destination_url(self, tmp_path: Path) -> str:
        return str(tmp_path / "repo")


class TestFileUrl(DestinationConformance):
    @pytest.fixture
    def destination_url(self, tmp_path: Path) -> str:
        return (tmp_path / "repo with space").as_uri()
