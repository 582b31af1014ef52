"""Each fault test gets its own cache root (so the publish ledger in it is the test's own) that
shares one ONNX export folder, so the tiny export is made once per session."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def shared_exports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("exports")


@pytest.fixture(autouse=True)
def isolated(shared_exports: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "exports").symlink_to(shared_exports, target_is_directory=True)
    monkeypatch.setenv("HAYAKOE_CACHE", str(cache))
    monkeypatch.delenv("HAYAKOE_BERT_SOURCE", raising=False)
    return cache
