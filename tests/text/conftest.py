"""Shared fixtures for the text frontend tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hayakoe_core.text.frontend import TextFrontend

TEXT_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "text"
GOLDEN = TEXT_FIXTURES / "g2p_golden.json"
DEVIATIONS = TEXT_FIXTURES / "expected_deviations.json"


@pytest.fixture(scope="session")
def frontend() -> TextFrontend:
    """One frontend without a user dictionary, shared by the whole session."""
    return TextFrontend()


@pytest.fixture(scope="session")
def golden_cases() -> list[dict[str, Any]]:
    """The 40 golden cases."""
    return json.loads(GOLDEN.read_text("utf-8"))["cases"]
