"""The tiny speaker every built-in backend's conformance test prepares, and its goldens."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.repo import CHECKPOINT, TINY, TINY_ONNX


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


class UpstreamOnnxGraphs:
    """The graphs upstream's own exporter made (tests/fixtures/model/tiny/onnx) with their goldens."""

    @pytest.fixture(scope="class")
    @classmethod
    def ready_speakers(cls) -> list[Path]:
        return [TINY_ONNX]
