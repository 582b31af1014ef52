"""The tiny speaker every built-in backend's conformance test prepares, its goldens, the tiny BERT,
and the ready folders upstream made (its ONNX graphs; its checkpoints in both weight-norm key styles)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.repo import CHECKPOINT, LEGACY_CHECKPOINT, TINY, TINY_BERT, TINY_ONNX


class TinySpeaker:
    """Fixtures of :class:`hayakoe_core.testing.BackendConformance` for the tiny fixture model:
    its checkpoint is prepared, and the result must reproduce upstream's PyTorch goldens."""

    @pytest.fixture(scope="class")
    @classmethod
    def speaker_source(cls) -> tuple[Path, Path]:
        return TINY, CHECKPOINT

    @pytest.fixture(scope="class")
    @classmethod
    def prepared_goldens(cls) -> Path:
        return TINY / "golden"

    @pytest.fixture(scope="class")
    @classmethod
    def bert_root(cls) -> Path:
        return TINY_BERT


class UpstreamOnnxGraphs:
    """The graphs upstream's own exporter made (tests/fixtures/model/tiny/onnx) with their goldens."""

    @pytest.fixture(scope="class")
    @classmethod
    def ready_speakers(cls) -> list[Path]:
        return [TINY_ONNX]


class UpstreamCheckpoints:
    """Upstream's tiny speaker folder as published (pytorch layout) and the same weights saved with
    old-style weight-norm key names; both must reproduce upstream's PyTorch goldens."""

    @pytest.fixture(scope="class")
    @classmethod
    def ready_speakers(cls, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
        legacy = tmp_path_factory.mktemp("legacy-weightnorm")
        for name in ("config.json", "style_vectors.npy"):
            shutil.copy2(TINY / name, legacy / name)
        shutil.copy2(LEGACY_CHECKPOINT, legacy / LEGACY_CHECKPOINT.name)
        shutil.copytree(TINY / "golden", legacy / "golden")
        return [TINY, legacy]
