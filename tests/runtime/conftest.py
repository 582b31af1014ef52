"""Speaker sources shared by the runtime tests: the tiny repo (with manifests) published to the
S3 test server and to the Hub test server. A test that also asks for ``s3_proxy`` / ``hub_proxy``
loads it through the fault proxy."""

from pathlib import Path

import pytest

from hayakoe_core.fetching import Fetcher
from hayakoe_core.paths import speaker_prefix
from hayakoe_core.registry import get_registry
from tests.support.repo import make_repo, publish

# The proxy fixture in front of each store, by the name of its source fixture.
PROXIES = {"s3_source": "s3_proxy", "hf_source": "hub_proxy"}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", manifest=True)


@pytest.fixture
def s3_source(s3_env, s3_bucket: str, repo: Path) -> str:
    url = f"s3://{s3_bucket}/voices"
    publish(repo, url)
    return url


@pytest.fixture
def hf_source(hub, hub_repo: str, repo: Path) -> str:
    publish(repo, f"hf://{hub_repo}")
    return f"hf://{hub_repo}"


def fetched(source: str, cache: Path, *, offline: bool = False, name: str = "tiny") -> Path:
    """The folder the runtime's fetcher serves for ``name``'s ONNX files from ``source``: what
    ``TTS.prepare()`` loads, without loading models (the checks under test live in the fetcher)."""
    registry = get_registry()
    fetcher = Fetcher(cache, offline=offline, backends=registry.backends())
    return fetcher.fetch(registry.open(source), speaker_prefix("onnx", name)).path
