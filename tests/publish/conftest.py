"""Fixtures the publish tests share."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache root per test module, so the tiny export is made once per module."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture
def isolated(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The module's cache as ``HAYAKOE_CACHE``, and no BERT source from outside."""
    monkeypatch.setenv("HAYAKOE_CACHE", str(cache))
    monkeypatch.delenv("HAYAKOE_BERT_SOURCE", raising=False)


@pytest.fixture(params=["local", "s3", "hf"])
def destination(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty destination URL of each kind: a local folder, an S3 prefix (SeaweedFS, with the
    environment a user would set), a Hub repo (the project's Hub test server)."""
    if request.param == "local":
        return str(tmp_path / "voices")
    if request.param == "s3":
        request.getfixturevalue("s3_env")
        return f"s3://{request.getfixturevalue('s3_bucket')}/team/voices"
    request.getfixturevalue("hub")
    return f"hf://{request.getfixturevalue('hub_repo')}"
