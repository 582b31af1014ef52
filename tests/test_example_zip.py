"""The example third-party plugin (examples/hayakoe_dest_zip), installed only via its entry point.

CI installs it like any third-party package; core has no knowledge of it.
"""

import subprocess
import sys
from pathlib import Path

import pytest

from hayakoe_core.registry import get_registry
from hayakoe_core.testing import DestinationConformance


class TestZipDestination(DestinationConformance):
    @pytest.fixture
    def destination_url(self, tmp_path: Path) -> str:
        return f"zip://{tmp_path}/voices.zip"


def test_found_through_its_entry_point():
    record = next(r for r in get_registry().records if r.name == "zip")
    assert record.distribution == "hayakoe-dest-zip"
    assert record.error is None


def test_cli_lists_speakers_in_a_zip(tmp_path):
    store = get_registry().open(f"zip://{tmp_path}/v.zip")
    staged = tmp_path / "staged" / "onnx" / "speakers" / "tsukuyomi"
    staged.mkdir(parents=True)
    (staged / "config.json").write_text("{}")
    store.upload(tmp_path / "staged")
    out = subprocess.run(
        [sys.executable, "-m", "hayakoe", "list", store.url], capture_output=True, text=True, check=True
    ).stdout
    assert "tsukuyomi" in out and "onnx" in out
